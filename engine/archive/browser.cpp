#include "archive/browser.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/archive_impl.hpp"

namespace mv::archive {

namespace {

constexpr std::string_view entry_select =
    "SELECT e.id, e.mailbox_id, a.name, m.name, a.protocol, e.uidvalidity, e.uid, e.uidl, "
    "e.flags, e.internaldate, e.internaldate_tz, h.date_epoch, h.from_addr, h.to_addr, "
    "h.subject, h.message_id, e.size, c.sha256, e.expunged_at FROM entries e JOIN mailboxes m ON "
    "m.id = e.mailbox_id JOIN accounts a ON a.id = m.account_id JOIN contents c ON c.id = "
    "e.content_id LEFT JOIN header_index h ON h.content_id = e.content_id ";

entry_row read_row(sql::statement& s) {
    entry_row r;
    r.entry_id = s.int64(0);
    r.mailbox_id = s.int64(1);
    r.account = s.text(2);
    r.folder = s.text(3);
    r.protocol = s.text(4);
    if (auto v = s.opt_int64(5)) r.uidvalidity = static_cast<std::uint32_t>(*v);
    if (auto v = s.opt_int64(6)) r.uid = static_cast<std::uint32_t>(*v);
    r.uidl = s.opt_text(7);
    r.flags = s.text(8);
    r.internaldate = s.opt_int64(9);
    if (auto v = s.opt_int64(10)) r.internaldate_tz = static_cast<int>(*v);
    r.date_epoch = s.opt_int64(11);
    r.from = s.text(12);
    r.to = s.text(13);
    r.subject = s.text(14);
    r.message_id = s.text(15);
    r.size = static_cast<std::uint64_t>(s.int64(16));
    r.content = blob_hash(s.blob(17));
    r.expunged_at = s.opt_int64(18);
    return r;
}

}  // namespace

std::vector<entry_row> browser::query(std::string_view tail,
                                      const std::function<void(void*)>& bind) {
    std::string sql(entry_select);
    sql += tail;
    auto s = a_.d_->stmt(sql);
    bind(&*s);
    std::vector<entry_row> out;
    while (s->step()) out.push_back(read_row(*s));
    mark_held(out);
    return out;
}

void browser::mark_held(std::vector<entry_row>& rows) {
    if (rows.empty()) return;
    std::set<std::int64_t> accounts, mailboxes;
    auto s =
        a_.d_->stmt("SELECT account_id, mailbox_id FROM legal_holds WHERE released_at IS NULL");
    while (s->step()) {
        if (s->is_null(1))
            accounts.insert(s->int64(0));
        else
            mailboxes.insert(s->int64(1));
    }
    // By query: the entry the query matched or any entry of the same content.
    auto by_query = a_.d_->stmt(
        "SELECT 1 FROM query_hold_entries e JOIN query_holds q ON q.id = e.hold_id JOIN entries h "
        "ON h.id = e.entry_id WHERE h.content_id = (SELECT content_id FROM entries WHERE id = ?) "
        "AND q.released_at IS NULL LIMIT 1");
    auto acct = a_.d_->stmt("SELECT account_id FROM mailboxes WHERE id = ?");
    for (auto& r : rows) {
        std::int64_t account_id = 0;
        if (!accounts.empty()) {
            acct->bind(1, r.mailbox_id);
            account_id = acct->step() ? acct->int64(0) : 0;
            acct->reset();
        }
        r.held = mailboxes.count(r.mailbox_id) || accounts.count(account_id);
        if (!r.held) {
            by_query->bind(1, r.entry_id);
            r.held = by_query->step();
            by_query->reset();
        }
    }
}

std::int64_t browser::add_query_hold(std::string_view query, std::string_view reason,
                                     const std::vector<std::int64_t>& entries) {
    a_.d_->require_writable();
    archive::impl::savepoint sp(*a_.d_);
    const std::int64_t t = a_.d_->now();
    {
        auto s = a_.d_->stmt(
            "INSERT INTO query_holds (query, reason, matched, added_at) VALUES (?,?,?,?)");
        s->bind(1, query)
            .bind(2, reason)
            .bind(3, static_cast<std::int64_t>(entries.size()))
            .bind(4, t);
        s->run();
    }
    const std::int64_t id = a_.d_->db.last_insert_rowid();
    auto ins =
        a_.d_->stmt("INSERT OR IGNORE INTO query_hold_entries (hold_id, entry_id) VALUES (?, ?)");
    for (auto e : entries) {
        ins->bind(1, id).bind(2, e);
        ins->run();
    }
    nlohmann::json j = {{"hold_id", "q" + std::to_string(id)},
                        {"query", std::string(query)},
                        {"matched", entries.size()},
                        {"reason", std::string(reason)},
                        {"time", t}};
    a_.audit_append("hold_add", j.dump());
    sp.release();
    return id;
}

std::vector<query_hold> browser::query_holds(bool include_released) {
    std::vector<query_hold> out;
    auto s = a_.d_->stmt(
        std::string("SELECT id, query, reason, matched, added_at, released_at FROM query_holds") +
        (include_released ? "" : " WHERE released_at IS NULL") + " ORDER BY id");
    while (s->step())
        out.push_back(
            {s->int64(0), s->text(1), s->text(2), s->int64(3), s->int64(4), s->opt_int64(5)});
    return out;
}

query_hold browser::release_query_hold(std::int64_t id, std::string_view reason) {
    a_.d_->require_writable();
    std::optional<query_hold> found;
    for (auto& h : query_holds(true))
        if (h.id == id) found = h;
    if (!found)
        throw mv::failure(
            errc::usage, "there is no hold q" + std::to_string(id) + "; see `mailvault hold list`");
    if (found->released_at)
        throw mv::failure(errc::usage, "hold q" + std::to_string(id) + " was already released");
    archive::impl::savepoint sp(*a_.d_);
    const std::int64_t t = a_.d_->now();
    {
        auto s = a_.d_->stmt("UPDATE query_holds SET released_at = ? WHERE id = ?");
        s->bind(1, t).bind(2, id);
        s->run();
    }
    nlohmann::json j = {{"hold_id", "q" + std::to_string(id)}, {"query", found->query},
                        {"matched", found->matched},           {"hold_reason", found->reason},
                        {"reason", std::string(reason)},       {"time", t}};
    a_.audit_append("hold_release", j.dump());
    sp.release();
    found->released_at = t;
    return *found;
}

std::vector<std::int64_t> browser::query_held_entries() {
    std::vector<std::int64_t> out;
    // A hold by query holds the messages it matched, wherever they are later: every entry of
    // the same content (a copy the server moved to another folder, a new UIDVALIDITY, a new
    // upload) is held with the entry the query matched.
    auto s = a_.d_->stmt(
        "SELECT x.id FROM entries x WHERE x.content_id IN (SELECT h.content_id FROM "
        "query_hold_entries e JOIN query_holds q ON q.id = e.hold_id JOIN entries h ON h.id = "
        "e.entry_id WHERE q.released_at IS NULL) ORDER BY x.id");
    while (s->step()) out.push_back(s->int64(0));
    return out;
}

std::vector<account_row> browser::accounts() {
    std::vector<account_row> out;
    for (auto& [id, info] : a_.accounts()) out.push_back({id, info, {}});
    auto s = a_.d_->stmt(
        "SELECT m.account_id, m.id, m.name, m.delimiter, m.special_use, (SELECT count(*) FROM "
        "entries e WHERE e.mailbox_id = m.id AND e.expunged_at IS NULL), (SELECT count(*) FROM "
        "entries e WHERE e.mailbox_id = m.id AND e.expunged_at IS NOT NULL) FROM mailboxes m "
        "ORDER BY m.account_id, m.name");
    while (s->step()) {
        auto it = std::find_if(out.begin(), out.end(),
                               [&](const account_row& a) { return a.id == s->int64(0); });
        if (it == out.end()) continue;
        it->folders.push_back(
            {s->int64(1), s->text(2), s->opt_text(3), s->opt_text(4), s->int64(5), s->int64(6)});
    }
    return out;
}

std::optional<folder_row> browser::folder(std::int64_t mailbox_id) {
    for (const auto& a : accounts())
        for (const auto& f : a.folders)
            if (f.mailbox_id == mailbox_id) return f;
    return std::nullopt;
}

page_of<entry_row> browser::folder_entries(std::int64_t mailbox_id, std::size_t offset,
                                           std::size_t limit) {
    page_of<entry_row> p;
    p.rows = query(
        // entries.sort_key is coalesce(Date:, INTERNALDATE), kept by triggers (schema 0013):
        // the page walks entries_by_folder_date instead of sorting the whole folder.
        "WHERE e.mailbox_id = ? ORDER BY e.sort_key DESC, e.id DESC LIMIT ? OFFSET ?",
        [&](void* st) {
            static_cast<sql::statement*>(st)
                ->bind(1, mailbox_id)
                .bind(2, static_cast<std::int64_t>(limit + 1))
                .bind(3, static_cast<std::int64_t>(offset));
        });
    if (p.rows.size() > limit) {
        p.rows.resize(limit);
        p.more = true;
    }
    auto s = a_.d_->stmt("SELECT count(*) FROM entries WHERE mailbox_id = ?");
    s->bind(1, mailbox_id);
    if (s->step()) p.total = s->int64(0);
    return p;
}

std::optional<entry_row> browser::entry(std::int64_t entry_id) {
    auto rows = query("WHERE e.id = ?",
                      [&](void* st) { static_cast<sql::statement*>(st)->bind(1, entry_id); });
    if (rows.empty()) return std::nullopt;
    return rows.front();
}

std::vector<entry_row> browser::holders(const sha256& content, std::size_t limit) {
    return query("WHERE c.sha256 = ? ORDER BY a.name, m.name, e.generation, e.uid, e.uidl LIMIT ?",
                 [&](void* st) {
                     static_cast<sql::statement*>(st)
                         ->bind_blob(1, content.view())
                         .bind(2, static_cast<std::int64_t>(limit));
                 });
}

std::optional<entry_row> browser::find_uidl(std::string_view account, std::string_view uidl) {
    auto rows =
        query("WHERE a.name = ? AND e.uidl = ? ORDER BY e.generation DESC, e.id DESC LIMIT 1",
              [&](void* st) { static_cast<sql::statement*>(st)->bind(1, account).bind(2, uidl); });
    if (rows.empty()) return std::nullopt;
    return rows.front();
}

std::vector<entry_row> browser::thread(std::int64_t entry_id, std::size_t limit) {
    auto self = entry(entry_id);
    if (!self) return {};
    // The ids of the thread: this message's, its References and In-Reply-To.
    std::set<std::string> ids;
    {
        auto s = a_.d_->stmt(
            "SELECT h.message_id, h.in_reply_to, h.refs FROM entries e JOIN header_index h ON "
            "h.content_id = e.content_id WHERE e.id = ?");
        s->bind(1, entry_id);
        if (s->step()) {
            for (int col : {0, 1}) {
                std::string v = s->text(col);
                if (!v.empty()) ids.insert(v);
            }
            std::string refs = s->text(2);
            std::size_t start = 0;
            while (start < refs.size() && ids.size() < 100) {
                auto sp = refs.find(' ', start);
                if (sp == std::string::npos) sp = refs.size();
                if (sp > start) ids.insert(refs.substr(start, sp - start));
                start = sp + 1;
            }
            s->reset();
        }
    }
    std::vector<entry_row> out;
    std::set<std::string> seen_content;
    auto add = [&](std::vector<entry_row> rows) {
        for (auto& r : rows) {
            if (out.size() >= limit) return;
            if (seen_content.insert(r.content.hex()).second) out.push_back(std::move(r));
        }
    };
    add({*self});
    for (const auto& id : ids) {
        // Ancestors and the message itself: by the Message-ID index.
        add(query("WHERE h.message_id = ? ORDER BY e.id LIMIT 8",
                  [&](void* st) { static_cast<sql::statement*>(st)->bind(1, id); }));
        // Replies: In-Reply-To or References naming it, from thread_refs (schema 0013; a LIKE
        // over every header row before: 0.64 s at 1M messages, docs/benchmarks.md).
        add(query(
            "WHERE e.content_id IN (SELECT content_id FROM thread_refs WHERE ref = ?) ORDER BY "
            "e.id LIMIT ?",
            [&](void* st) {
                static_cast<sql::statement*>(st)->bind(1, id).bind(
                    2, static_cast<std::int64_t>(limit));
            }));
        if (out.size() >= limit) break;
    }
    std::stable_sort(out.begin(), out.end(), [](const entry_row& x, const entry_row& y) {
        return x.when().value_or(0) < y.when().value_or(0);
    });
    return out;
}

page_of<audit_row> browser::audit(std::size_t offset, std::size_t limit) {
    page_of<audit_row> p;
    auto s = a_.d_->stmt(
        "SELECT seq, at, kind, payload, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT ? "
        "OFFSET ?");
    s->bind(1, static_cast<std::int64_t>(limit + 1)).bind(2, static_cast<std::int64_t>(offset));
    while (s->step()) {
        audit_row r;
        r.seq = s->int64(0);
        r.at = s->int64(1);
        r.kind = s->text(2);
        r.payload = s->text(3);
        r.prev_hash = blob_hash(s->blob(4));
        r.hash = blob_hash(s->blob(5));
        p.rows.push_back(std::move(r));
    }
    if (p.rows.size() > limit) {
        p.rows.resize(limit);
        p.more = true;
    }
    auto c = a_.d_->stmt("SELECT coalesce(max(seq), 0) FROM audit_log");
    if (c->step()) p.total = c->int64(0);
    c->reset();
    return p;
}

}  // namespace mv::archive
