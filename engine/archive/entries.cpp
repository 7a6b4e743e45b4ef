// Entries: where a content is filed (a mailbox generation with its UID or POP3 UIDL), with its
// flags and their history, MODSEQ, INTERNALDATE, Gmail attributes (labels and their history) and
// expunge marks; listing and looking entries up, and the lookups that match a message already
// archived (UIDVALIDITY recovery). Also the stored forms of flags and labels.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"
#include "archive/archive_impl.hpp"

namespace mv::archive {

namespace {

// Gmail's 64-bit unsigned ids in SQLite's signed INTEGER (two's complement, see 0008_gmail.sql).
std::optional<std::int64_t> gm_to_db(std::optional<std::uint64_t> v) {
    if (!v) return std::nullopt;
    return static_cast<std::int64_t>(*v);
}
std::optional<std::uint64_t> gm_from_db(std::optional<std::int64_t> v) {
    if (!v) return std::nullopt;
    return static_cast<std::uint64_t>(*v);
}

// Labels as stored: a JSON array of UTF-8 strings (bytes that are not UTF-8 become U+FFFD
// rather than failing the batch; the sync decodes modified UTF-7 before this).
std::string labels_json(const std::vector<std::string>& labels) {
    return nlohmann::json(labels).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
std::vector<std::string> labels_from_json(std::string_view text) {
    std::vector<std::string> out;
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_array()) return out;
    for (const auto& v : j)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

// Writes the gmail_entries row of an entry (the caller holds a savepoint). Returns true when the
// labels changed as a set, or were recorded for the first time.
bool write_gmail(archive::impl& d, std::int64_t entry_id, const gmail_attrs& g,
                 std::optional<std::int64_t> modseq) {
    const std::string labels = labels_json(g.labels);
    std::optional<std::int64_t> old_msgid, old_thrid;
    std::optional<std::string> old_labels;
    {
        auto s = d.stmt("SELECT gm_msgid, gm_thrid, labels FROM gmail_entries WHERE entry_id = ?");
        s->bind(1, entry_id);
        if (s->step()) {
            old_msgid = s->opt_int64(0);
            old_thrid = s->opt_int64(1);
            old_labels = s->text(2);
        }
    }
    const std::int64_t t = d.now();
    if (!old_labels) {
        auto s = d.stmt(
            "INSERT INTO gmail_entries (entry_id, gm_msgid, gm_thrid, labels, modseq, updated_at) "
            "VALUES (?,?,?,?,?,?)");
        s->bind(1, entry_id)
            .bind(2, gm_to_db(g.msgid))
            .bind(3, gm_to_db(g.thrid))
            .bind(4, std::string_view(labels))
            .bind(5, modseq)
            .bind(6, t);
        s->run();
        return true;
    }
    const bool ids_same = (!g.msgid || gm_to_db(g.msgid) == old_msgid) &&
                          (!g.thrid || gm_to_db(g.thrid) == old_thrid);
    if (ids_same && labels == *old_labels) return false;
    const bool changed =
        canonical_labels(labels_from_json(*old_labels)) != canonical_labels(g.labels);
    if (changed) {
        auto h = d.stmt(
            "INSERT INTO gmail_label_history (entry_id, changed_at, old_labels, new_labels, "
            "modseq) VALUES (?,?,?,?,?)");
        h->bind(1, entry_id)
            .bind(2, t)
            .bind(3, std::string_view(*old_labels))
            .bind(4, std::string_view(labels))
            .bind(5, modseq);
        h->run();
    }
    auto u = d.stmt(
        "UPDATE gmail_entries SET gm_msgid = coalesce(?, gm_msgid), gm_thrid = coalesce(?, "
        "gm_thrid), labels = ?, modseq = coalesce(?, modseq), updated_at = ? WHERE entry_id = ?");
    u->bind(1, gm_to_db(g.msgid))
        .bind(2, gm_to_db(g.thrid))
        .bind(3, std::string_view(labels))
        .bind(4, modseq)
        .bind(5, t)
        .bind(6, entry_id);
    u->run();
    return changed;
}

}  // namespace

std::vector<std::string> canonical_labels(std::vector<std::string> labels) {
    std::sort(labels.begin(), labels.end());
    labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
    return labels;
}

std::string canonical_flags(std::vector<std::string> flags) {
    std::sort(flags.begin(), flags.end());
    flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
    flags.erase(std::remove(flags.begin(), flags.end(), std::string()), flags.end());
    return join(flags);
}

std::vector<std::string> split_flags(std::string_view c) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < c.size()) {
        size_t j = c.find(' ', i);
        if (j == std::string_view::npos) j = c.size();
        if (j > i) out.emplace_back(c.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------

#define MV_ENTRY_COLS                                                                          \
    "e.id, e.generation, e.uid, e.uidl, e.flags, e.modseq, e.internaldate, e.size, c.sha256, " \
    "e.expunged_at, e.internaldate_tz"

std::int64_t archive::impl::content_id(const sha256& h) {
    auto s = stmt("SELECT id FROM contents WHERE sha256 = ?");
    s->bind_blob(1, h.view());
    if (!s->step()) misuse("content " + h.hex() + " is not in the archive: put_content first");
    return s->int64(0);
}

entry_view archive::impl::read_entry(sql::statement& s, int base) {
    // columns: id, generation, uid, uidl, flags, modseq, internaldate, size, sha256,
    // expunged_at, internaldate_tz
    entry_view e;
    e.id = s.int64(base);
    e.generation = s.int64(base + 1);
    if (auto v = s.opt_int64(base + 2)) e.uid = static_cast<std::uint32_t>(*v);
    e.uidl = s.opt_text(base + 3);
    e.flags = s.text(base + 4);
    if (auto v = s.opt_int64(base + 5)) e.modseq = static_cast<std::uint64_t>(*v);
    e.internaldate = s.opt_int64(base + 6);
    e.size = static_cast<std::uint64_t>(s.int64(base + 7));
    e.content = blob_hash(s.blob(base + 8));
    e.expunged_at = s.opt_int64(base + 9);
    if (auto v = s.opt_int64(base + 10)) e.internaldate_tz = static_cast<int>(*v);
    return e;
}

upsert_result archive::upsert_entry(const entry_record& e) {
    d_->require_writable();
    if (e.uid.has_value() == e.uidl.has_value()) misuse("an entry has either a uid or a uidl");
    auto m = d_->must_mailbox(e.mailbox_id);
    if (e.uid) {
        if (!m.uidvalidity)
            misuse("mailbox " + m.name + " has no UIDVALIDITY: set_watermarks first");
        if (e.uidvalidity && *e.uidvalidity != *m.uidvalidity)
            misuse("entry UIDVALIDITY " + std::to_string(*e.uidvalidity) + " is not mailbox " +
                   m.name + "'s current " + std::to_string(*m.uidvalidity));
    }
    std::int64_t cid = d_->content_id(e.content);
    std::string flags = canonical_flags(e.flags);
    std::int64_t t = d_->now();

    std::optional<std::int64_t> id, old_cid;
    std::string old_flags;
    std::optional<std::int64_t> old_modseq, old_expunged;
    {
        auto s = e.uid ? d_->stmt(
                             "SELECT id, flags, modseq, content_id, expunged_at FROM entries "
                             "WHERE mailbox_id = ? AND generation = ? AND uid = ?")
                       : d_->stmt(
                             "SELECT id, flags, modseq, content_id, expunged_at FROM entries "
                             "WHERE mailbox_id = ? AND generation = ? AND uidl = ?");
        s->bind(1, e.mailbox_id).bind(2, m.generation);
        if (e.uid)
            s->bind(3, static_cast<std::int64_t>(*e.uid));
        else
            s->bind(3, std::string_view(*e.uidl));
        if (s->step()) {
            id = s->int64(0);
            old_flags = s->text(1);
            old_modseq = s->opt_int64(2);
            old_cid = s->int64(3);
            old_expunged = s->opt_int64(4);
        }
    }
    std::optional<std::int64_t> modseq;
    if (e.modseq) modseq = static_cast<std::int64_t>(*e.modseq);
    if (!id) {
        impl::savepoint sp(*d_);
        auto s = d_->stmt(
            "INSERT INTO entries (mailbox_id, generation, uidvalidity, uid, uidl, flags, modseq, "
            "internaldate, size, content_id, first_seen, last_seen, internaldate_tz) VALUES "
            "(?,?,?,?,?,?,?,?,?,?,?,?,?)");
        s->bind(1, e.mailbox_id).bind(2, m.generation);
        if (e.uid)
            s->bind(3, static_cast<std::int64_t>(*m.uidvalidity))
                .bind(4, static_cast<std::int64_t>(*e.uid))
                .bind_null(5);
        else
            s->bind_null(3).bind_null(4).bind(5, std::string_view(*e.uidl));
        s->bind(6, std::string_view(flags))
            .bind(7, modseq)
            .bind(8, e.internaldate)
            .bind(9, static_cast<std::int64_t>(e.size))
            .bind(10, cid)
            .bind(11, t)
            .bind(12, t);
        if (e.internaldate_tz)
            s->bind(13, static_cast<std::int64_t>(*e.internaldate_tz));
        else
            s->bind_null(13);
        s->run();
        if (e.gmail) write_gmail(*d_, d_->db.last_insert_rowid(), *e.gmail, modseq);
        sp.release();
        return upsert_result::inserted;
    }
    if (*old_cid != cid) return upsert_result::content_conflict;
    bool flags_changed = flags != old_flags;
    const bool entry_same = !flags_changed && modseq == old_modseq && !old_expunged;
    if (entry_same && !e.gmail) return upsert_result::unchanged;
    impl::savepoint sp(*d_);
    const bool labels_changed = e.gmail && write_gmail(*d_, *id, *e.gmail, modseq);
    if (entry_same) {
        sp.release();
        return labels_changed ? upsert_result::updated : upsert_result::unchanged;
    }
    if (flags_changed) {
        auto h = d_->stmt(
            "INSERT INTO flag_history (entry_id, changed_at, old_flags, new_flags, modseq) VALUES "
            "(?,?,?,?,?)");
        h->bind(1, *id)
            .bind(2, t)
            .bind(3, std::string_view(old_flags))
            .bind(4, std::string_view(flags))
            .bind(5, modseq);
        h->run();
    }
    auto u = d_->stmt(
        "UPDATE entries SET flags = ?, modseq = ?, last_seen = ?, expunged_at = NULL WHERE id = ?");
    u->bind(1, std::string_view(flags)).bind(2, modseq).bind(3, t).bind(4, *id);
    u->run();
    sp.release();
    return upsert_result::updated;
}

bool archive::update_flags(std::int64_t mailbox_id, std::uint32_t uid,
                           std::vector<std::string> flags_in,
                           std::optional<std::uint64_t> modseq_in) {
    d_->require_writable();
    auto m = d_->must_mailbox(mailbox_id);
    std::string flags = canonical_flags(std::move(flags_in));
    std::optional<std::int64_t> modseq;
    if (modseq_in) modseq = static_cast<std::int64_t>(*modseq_in);
    std::int64_t id = 0;
    std::string old;
    {
        auto s = d_->stmt(
            "SELECT id, flags FROM entries WHERE mailbox_id = ? AND generation = ? AND uid = ?");
        s->bind(1, mailbox_id).bind(2, m.generation).bind(3, static_cast<std::int64_t>(uid));
        if (!s->step()) return false;
        id = s->int64(0);
        old = s->text(1);
    }
    std::int64_t t = d_->now();
    impl::savepoint sp(*d_);
    bool changed = old != flags;
    if (changed) {
        auto h = d_->stmt(
            "INSERT INTO flag_history (entry_id, changed_at, old_flags, new_flags, modseq) VALUES "
            "(?,?,?,?,?)");
        h->bind(1, id)
            .bind(2, t)
            .bind(3, std::string_view(old))
            .bind(4, std::string_view(flags))
            .bind(5, modseq);
        h->run();
    }
    auto u = d_->stmt(
        "UPDATE entries SET flags = ?, modseq = coalesce(?, modseq), last_seen = ? WHERE id = ?");
    u->bind(1, std::string_view(flags)).bind(2, modseq).bind(3, t).bind(4, id);
    u->run();
    sp.release();
    return changed;
}

bool archive::update_gmail(std::int64_t mailbox_id, std::uint32_t uid, const gmail_attrs& g,
                           std::optional<std::uint64_t> modseq_in) {
    d_->require_writable();
    auto m = d_->must_mailbox(mailbox_id);
    std::optional<std::int64_t> modseq;
    if (modseq_in) modseq = static_cast<std::int64_t>(*modseq_in);
    std::int64_t id = 0;
    {
        auto s =
            d_->stmt("SELECT id FROM entries WHERE mailbox_id = ? AND generation = ? AND uid = ?");
        s->bind(1, mailbox_id).bind(2, m.generation).bind(3, static_cast<std::int64_t>(uid));
        if (!s->step()) return false;
        id = s->int64(0);
    }
    impl::savepoint sp(*d_);
    const bool changed = write_gmail(*d_, id, g, modseq);
    sp.release();
    return changed;
}

std::optional<gmail_attrs> archive::gmail_of(std::int64_t entry_id) {
    auto s = d_->stmt("SELECT gm_msgid, gm_thrid, labels FROM gmail_entries WHERE entry_id = ?");
    s->bind(1, entry_id);
    if (!s->step()) return std::nullopt;
    gmail_attrs g;
    g.msgid = gm_from_db(s->opt_int64(0));
    g.thrid = gm_from_db(s->opt_int64(1));
    g.labels = labels_from_json(s->text(2));
    return g;
}

std::vector<std::int64_t> archive::entries_of_gmail_message(std::int64_t account_id,
                                                            std::uint64_t msgid) {
    auto s = d_->stmt(
        "SELECT g.entry_id FROM gmail_entries g JOIN entries e ON e.id = g.entry_id JOIN "
        "mailboxes m ON m.id = e.mailbox_id WHERE g.gm_msgid = ? AND m.account_id = ? ORDER BY "
        "g.entry_id");
    s->bind(1, static_cast<std::int64_t>(msgid)).bind(2, account_id);
    std::vector<std::int64_t> out;
    while (s->step()) out.push_back(s->int64(0));
    return out;
}

std::int64_t archive::mark_expunged(std::int64_t mailbox_id, std::span<const std::uint32_t> uids) {
    d_->require_writable();
    auto m = d_->must_mailbox(mailbox_id);
    std::int64_t n = 0, t = d_->now();
    impl::savepoint sp(*d_);
    for (auto uid : uids) {
        auto s = d_->stmt(
            "UPDATE entries SET expunged_at = ? WHERE mailbox_id = ? AND generation = ? AND uid = "
            "? AND expunged_at IS NULL");
        s->bind(1, t)
            .bind(2, mailbox_id)
            .bind(3, m.generation)
            .bind(4, static_cast<std::int64_t>(uid));
        s->run();
        n += d_->db.changes();
    }
    sp.release();
    return n;
}

std::int64_t archive::mark_expunged_uidl(std::int64_t mailbox_id,
                                         std::span<const std::string> uidls) {
    d_->require_writable();
    auto m = d_->must_mailbox(mailbox_id);
    std::int64_t n = 0, t = d_->now();
    impl::savepoint sp(*d_);
    for (const auto& u : uidls) {
        auto s = d_->stmt(
            "UPDATE entries SET expunged_at = ? WHERE mailbox_id = ? AND generation = ? AND uidl "
            "= ? AND expunged_at IS NULL");
        s->bind(1, t).bind(2, mailbox_id).bind(3, m.generation).bind(4, std::string_view(u));
        s->run();
        n += d_->db.changes();
    }
    sp.release();
    return n;
}

void archive::for_each_entry(std::int64_t mailbox_id,
                             const std::function<void(const entry_view&)>& fn,
                             std::optional<std::int64_t> generation) {
    std::int64_t gen = generation ? *generation : d_->must_mailbox(mailbox_id).generation;
    auto s = d_->db.prepare("SELECT " MV_ENTRY_COLS
                            " FROM entries e JOIN contents c ON c.id = e.content_id WHERE "
                            "e.mailbox_id = ? AND e.generation = ? ORDER BY e.uid, e.uidl");
    s.bind(1, mailbox_id).bind(2, gen);
    while (s.step()) fn(impl::read_entry(s, 0));
}

std::int64_t archive::live_count(std::int64_t mailbox_id) {
    auto m = d_->must_mailbox(mailbox_id);
    auto s = d_->stmt(
        "SELECT count(*) FROM entries WHERE mailbox_id = ? AND generation = ? AND "
        "expunged_at IS NULL");
    s->bind(1, mailbox_id).bind(2, m.generation);
    return s->step() ? s->int64(0) : 0;
}

std::vector<std::uint32_t> archive::live_uids(std::int64_t mailbox_id) {
    auto m = d_->must_mailbox(mailbox_id);
    auto s = d_->stmt(
        "SELECT uid FROM entries WHERE mailbox_id = ? AND generation = ? AND uid IS NOT NULL "
        "AND expunged_at IS NULL ORDER BY uid");
    s->bind(1, mailbox_id).bind(2, m.generation);
    std::vector<std::uint32_t> out;
    while (s->step()) out.push_back(static_cast<std::uint32_t>(s->int64(0)));
    return out;
}

std::vector<entry_view> archive::list_entries(std::int64_t mailbox_id,
                                              std::optional<std::int64_t> generation) {
    std::vector<entry_view> out;
    for_each_entry(
        mailbox_id, [&](const entry_view& e) { out.push_back(e); }, generation);
    return out;
}

void archive::for_each_located_entry(const entry_filter& f,
                                     const std::function<void(const located_entry&)>& fn) {
    auto s = d_->db.prepare(
        "SELECT a.name, m.name, m.delimiter, " MV_ENTRY_COLS
        " FROM entries e JOIN contents c ON c.id = e.content_id JOIN mailboxes m ON m.id = "
        "e.mailbox_id JOIN accounts a ON a.id = m.account_id WHERE (?1 IS NULL OR a.name = ?1) "
        "AND (?2 IS NULL OR m.name = ?2 OR m.wire_name = ?2) AND (?3 OR e.expunged_at IS NULL) "
        "ORDER BY a.name, m.name, e.generation, e.uid, e.uidl");
    s.bind(1, f.account).bind(2, f.mailbox).bind(3, static_cast<std::int64_t>(f.include_expunged));
    while (s.step()) {
        located_entry le{s.text(0), s.text(1), s.opt_text(2), impl::read_entry(s, 3)};
        fn(le);
    }
}

std::optional<entry_view> archive::find_entry(std::string_view account, std::string_view mbox,
                                              std::uint32_t uid) {
    auto s = d_->db.prepare(
        "SELECT " MV_ENTRY_COLS
        " FROM entries e JOIN contents c ON c.id = e.content_id JOIN mailboxes m ON m.id = "
        "e.mailbox_id JOIN accounts a ON a.id = m.account_id WHERE a.name = ? AND (m.name = ?2 "
        "OR m.wire_name = ?2) AND e.uid = ? ORDER BY e.generation DESC LIMIT 1");
    s.bind(1, account).bind(2, mbox).bind(3, static_cast<std::int64_t>(uid));
    if (!s.step()) return std::nullopt;
    auto e = impl::read_entry(s, 0);
    s.reset();
    return e;
}

std::vector<sha256> archive::find_by_size_and_message_id(std::uint64_t size,
                                                         std::string_view message_id) {
    std::vector<sha256> out;
    auto s = d_->stmt(
        "SELECT c.sha256 FROM header_index h JOIN contents c ON c.id = h.content_id WHERE "
        "h.message_id = ? AND c.raw_size = ?");
    s->bind(1, message_id).bind(2, static_cast<std::int64_t>(size));
    while (s->step()) out.push_back(blob_hash(s->blob(0)));
    return out;
}

std::vector<sha256> archive::find_by_header_hash(const sha256& hh) {
    std::vector<sha256> out;
    auto s = d_->stmt(
        "SELECT sha256 FROM contents WHERE header_hash = ?1 UNION "
        "SELECT c.sha256 FROM header_index h JOIN contents c ON c.id = h.content_id WHERE "
        "h.header_hash = ?1 AND c.header_hash IS NULL");
    s->bind_blob(1, hh.view());
    while (s->step()) out.push_back(blob_hash(s->blob(0)));
    return out;
}

std::int64_t archive::count_located_entries(const entry_filter& f) {
    auto s = d_->db.prepare(
        "SELECT count(*) FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id JOIN accounts a "
        "ON a.id = m.account_id WHERE (?1 IS NULL OR a.name = ?1) AND (?2 IS NULL OR m.name = "
        "?2 OR m.wire_name = ?2) AND (?3 OR e.expunged_at IS NULL)");
    s.bind(1, f.account).bind(2, f.mailbox).bind(3, static_cast<std::int64_t>(f.include_expunged));
    std::int64_t n = s.step() ? s.int64(0) : 0;
    s.reset();
    return n;
}

}  // namespace mv::archive
