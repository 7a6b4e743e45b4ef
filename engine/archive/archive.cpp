#include "archive/archive.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "archive/archive_impl.hpp"
#include "archive/codec.hpp"
#include "archive/schema_embedded.hpp"
#include "archive/sqlite.hpp"

namespace mv::archive {

namespace {

std::string be64(std::int64_t v) {
    std::string s(8, '\0');
    auto u = static_cast<std::uint64_t>(v);
    for (int i = 7; i >= 0; --i) {
        s[static_cast<size_t>(i)] = static_cast<char>(u & 0xff);
        u >>= 8;
    }
    return s;
}

sha256 audit_hash(std::string_view prev, std::int64_t seq, std::int64_t at, std::string_view kind,
                  std::string_view payload) {
    sha256_hasher h;
    h.update(prev);
    h.update(be64(seq));
    h.update(be64(at));
    h.update(kind);
    h.update(std::string_view("\0", 1));
    h.update(payload);
    return h.final();
}

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

transaction::transaction(archive& a) : a_(&a) {
    if (!a.d_) misuse("transaction on a closed archive");
    a.d_->require_writable();
    if (a.d_->db.in_transaction()) misuse("transactions do not nest");
    a.d_->db.exec("BEGIN IMMEDIATE");
    a.d_->poisoned = false;
}

transaction::~transaction() {
    if (done_ || !a_->d_) return;
    sqlite3_exec(a_->d_->db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    a_->d_->poisoned = false;
    a_->d_->after_rollback();
}

void transaction::commit(durability d) {
    if (done_) misuse("transaction committed twice");
    auto& i = *a_->d_;
    if (i.poisoned) {
        i.poisoned = false;
        done_ = true;
        sqlite3_exec(i.db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        i.after_rollback();
        throw mv::failure(errc::archive,
                          "an archive write failed inside this transaction; it was rolled back");
    }
    i.db.exec("COMMIT");
    done_ = true;
    if (d == durability::full) {
        // synchronous cannot change inside a transaction; a second, tiny commit made with
        // synchronous=FULL fsyncs the WAL, and with it every frame before it (ours included).
        i.db.exec("PRAGMA synchronous = FULL");
        try {
            i.db.exec("BEGIN IMMEDIATE");
            auto s = i.stmt(
                "INSERT INTO meta (key, value) VALUES ('last_durable_commit', ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value");
            s->bind(1, std::to_string(i.now()));
            s->run();
            i.db.exec("COMMIT");
        } catch (...) {
            sqlite3_exec(i.db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
            i.db.exec("PRAGMA synchronous = NORMAL");
            throw;
        }
        i.db.exec("PRAGMA synchronous = NORMAL");
    }
}

// ---------------------------------------------------------------------------------------------

archive::archive(const std::filesystem::path& path, options opts)
    : d_(std::make_unique<impl>(path, std::move(opts))) {
    d_->open();
}

archive::~archive() {
    close();
}
archive::archive(archive&&) noexcept = default;
archive& archive::operator=(archive&&) noexcept = default;

void archive::close() noexcept {
    if (!d_) return;
    d_->cache.clear();
    d_->db.close();
    d_.reset();
}

int archive::schema_version() {
    int v = 0;
    for (const auto& m : embedded_migrations()) v = std::max(v, m.version);
    return v;
}

int archive::user_version() const {
    return d_->version;
}
const std::filesystem::path& archive::path() const {
    return d_->path;
}

std::int64_t archive::upsert_account(const account_info& a) {
    d_->require_writable();
    if (a.protocol != "imap" && a.protocol != "pop3") misuse("protocol must be imap or pop3");
    auto s = d_->stmt(
        "INSERT INTO accounts (name, protocol, host, username, created_at) VALUES (?,?,?,?,?) "
        "ON CONFLICT(name) DO UPDATE SET protocol = excluded.protocol, host = excluded.host, "
        "username = excluded.username RETURNING id");
    s->bind(1, std::string_view(a.name))
        .bind(2, std::string_view(a.protocol))
        .bind(3, std::string_view(a.host))
        .bind(4, std::string_view(a.username))
        .bind(5, d_->now());
    if (!s->step()) misuse("upsert_account returned nothing");
    return s->int64(0);
}

std::optional<std::int64_t> archive::find_account(std::string_view name) {
    auto s = d_->stmt("SELECT id FROM accounts WHERE name = ?");
    s->bind(1, name);
    if (!s->step()) return std::nullopt;
    return s->int64(0);
}

mailbox_state archive::upsert_mailbox(const mailbox_info& m) {
    d_->require_writable();
    std::int64_t id = 0;
    {
        auto s = d_->stmt(
            "INSERT INTO mailboxes (account_id, wire_name, name, delimiter, special_use) VALUES "
            "(?,?,?,?,?) ON CONFLICT(account_id, wire_name) DO UPDATE SET name = excluded.name, "
            "delimiter = excluded.delimiter, special_use = excluded.special_use RETURNING id");
        s->bind(1, m.account_id)
            .bind(2, std::string_view(m.wire_name))
            .bind(3, std::string_view(m.name))
            .bind(4, m.delimiter)
            .bind(5, m.special_use);
        if (!s->step()) misuse("upsert_mailbox returned nothing");
        id = s->int64(0);
    }
    return d_->must_mailbox(id);
}

std::optional<mailbox_state> archive::mailbox(std::int64_t id) {
    return d_->mailbox(id);
}

std::optional<mailbox_state> archive::find_mailbox(std::int64_t account_id,
                                                   std::string_view wire_name) {
    auto s = d_->stmt("SELECT " MV_MAILBOX_COLS
                      " FROM mailboxes WHERE account_id = ? AND wire_name = ?");
    s->bind(1, account_id).bind(2, wire_name);
    if (!s->step()) return std::nullopt;
    return d_->read_mailbox(*s);
}

std::vector<mailbox_state> archive::mailboxes(std::int64_t account_id) {
    std::vector<mailbox_state> out;
    auto s = d_->db.prepare("SELECT " MV_MAILBOX_COLS
                            " FROM mailboxes WHERE account_id = ? ORDER BY name");
    s.bind(1, account_id);
    while (s.step()) out.push_back(d_->read_mailbox(s));
    return out;
}

void archive::set_watermarks(std::int64_t mailbox_id, const watermarks& w) {
    d_->require_writable();
    auto m = d_->must_mailbox(mailbox_id);
    if (m.uidvalidity && *m.uidvalidity != w.uidvalidity)
        misuse("mailbox " + m.name + ": UIDVALIDITY changed from " +
               std::to_string(*m.uidvalidity) + " to " + std::to_string(w.uidvalidity) +
               "; call begin_generation first");
    auto s = d_->stmt(
        "UPDATE mailboxes SET uidvalidity = ?, uidnext = ?, highestmodseq = ?, last_uid = ?, "
        "last_synced = ? WHERE id = ?");
    s->bind(1, static_cast<std::int64_t>(w.uidvalidity));
    if (w.uidnext)
        s->bind(2, static_cast<std::int64_t>(*w.uidnext));
    else
        s->bind_null(2);
    if (w.highestmodseq)
        s->bind(3, static_cast<std::int64_t>(*w.highestmodseq));
    else
        s->bind_null(3);
    if (w.last_uid)
        s->bind(4, static_cast<std::int64_t>(*w.last_uid));
    else
        s->bind_null(4);
    s->bind(5, d_->now()).bind(6, mailbox_id);
    s->run();
}

mailbox_state archive::begin_generation(std::int64_t mailbox_id, std::uint32_t new_uidvalidity) {
    d_->require_writable();
    auto m = d_->must_mailbox(mailbox_id);
    impl::savepoint sp(*d_);
    {
        auto s = d_->stmt(
            "INSERT INTO uidvalidity_events (mailbox_id, at, old_uidvalidity, new_uidvalidity, "
            "old_generation, new_generation) VALUES (?,?,?,?,?,?)");
        s->bind(1, mailbox_id).bind(2, d_->now());
        if (m.uidvalidity)
            s->bind(3, static_cast<std::int64_t>(*m.uidvalidity));
        else
            s->bind_null(3);
        s->bind(4, static_cast<std::int64_t>(new_uidvalidity))
            .bind(5, m.generation)
            .bind(6, m.generation + 1);
        s->run();
    }
    {
        auto s = d_->stmt(
            "UPDATE mailboxes SET uidvalidity = ?, generation = generation + 1, uidnext = NULL, "
            "highestmodseq = NULL, last_uid = NULL WHERE id = ?");
        s->bind(1, static_cast<std::int64_t>(new_uidvalidity)).bind(2, mailbox_id);
        s->run();
    }
    sp.release();
    return d_->must_mailbox(mailbox_id);
}

put_result archive::put_content(std::string_view raw) {
    return d_->put(raw);
}

bool archive::has_content(const sha256& h) {
    return d_->content_by_hash(h).has_value();
}

std::optional<content_info> archive::content(const sha256& h) {
    return d_->content_by_hash(h);
}

mv::error archive::read_content(const sha256& h, const sink_fn& sink) {
    auto c = d_->content_by_hash(h);
    if (!c) return {errc::archive, "content " + h.hex() + " is not in the archive"};
    return d_->stream(*c, sink);
}

mv::error archive::read_content(const sha256& h, std::string& out) {
    out.clear();
    auto c = d_->content_by_hash(h);
    if (!c) return {errc::archive, "content " + h.hex() + " is not in the archive"};
    out.reserve(c->raw_size);
    auto e = d_->stream(*c, [&](std::string_view p) { out += p; });
    if (e) out.clear();
    return e;
}

std::vector<sha256> archive::find_contents_by_prefix(std::string_view hex_prefix,
                                                     std::size_t limit) {
    std::vector<sha256> out;
    std::string p;
    for (char ch : hex_prefix) {
        if (!std::isxdigit(static_cast<unsigned char>(ch))) return out;
        p += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    if (p.empty() || p.size() > 64) return out;
    // hex(sha256) is upper case in SQLite. A range scan on the blob key would be faster; the
    // prefix lookup is for interactive use only.
    auto s = d_->db.prepare("SELECT sha256 FROM contents WHERE hex(sha256) LIKE ? || '%' LIMIT ?");
    s.bind(1, std::string_view(p)).bind(2, static_cast<std::int64_t>(limit));
    while (s.step()) out.push_back(blob_hash(s.blob(0)));
    return out;
}

std::int64_t archive::index_pending(std::int64_t limit) {
    d_->require_writable();
    std::vector<std::pair<std::int64_t, sha256>> todo;
    {
        auto s =
            d_->db.prepare("SELECT id, sha256 FROM contents WHERE indexed = 0 ORDER BY id LIMIT ?");
        s.bind(1, limit);
        while (s.step()) todo.emplace_back(s.int64(0), blob_hash(s.blob(1)));
    }
    std::int64_t n = 0;
    std::string raw;
    // Batches of 500 per transaction: FTS5 then merges its terms once per batch.
    // Inside a caller's transaction, everything goes into that one.
    const bool own = !d_->db.in_transaction();
    for (std::size_t i = 0; i < todo.size();) {
        std::optional<transaction> tx;
        if (own) tx.emplace(*this);
        for (std::size_t end = std::min(todo.size(), i + 500); i < end; ++i) {
            const auto& [id, h] = todo[i];
            if (read_content(h, raw)) continue;  // damaged: verify reports it
            d_->index(id, raw);
            ++n;
        }
        if (tx) tx->commit();
    }
    return n;
}

std::optional<header_row> archive::headers(const sha256& h) {
    auto s = d_->stmt(
        "SELECT h.parse_status, h.message_id, h.in_reply_to, h.refs, h.from_addr, h.to_addr, "
        "h.cc_addr, h.subject, h.date_raw, h.date_epoch FROM header_index h JOIN contents c ON "
        "c.id = h.content_id WHERE c.sha256 = ?");
    s->bind_blob(1, h.view());
    if (!s->step()) return std::nullopt;
    header_row r;
    r.parse_status = s->text(0);
    r.message_id = s->text(1);
    r.in_reply_to = s->text(2);
    r.references = s->text(3);
    r.from = s->text(4);
    r.to = s->text(5);
    r.cc = s->text(6);
    r.subject = s->text(7);
    r.date_raw = s->text(8);
    r.date_epoch = s->opt_int64(9);
    return r;
}

std::optional<std::int64_t> archive::current_dictionary() const {
    return d_->current_dict;
}

std::optional<std::int64_t> archive::train_dictionary() {
    return d_->train();
}

recompress_stats archive::recompress(const recompress_options& o, const progress_fn& progress) {
    d_->require_writable();
    recompress_stats st;
    if (o.retrain || (o.train_if_missing && !d_->current_dict)) d_->train();
    auto dict = d_->current_dict;
    std::int64_t total = 0;
    {
        auto s = d_->db.prepare("SELECT count(*) FROM contents WHERE dictionary_id IS NOT ?");
        s.bind(1, dict);
        if (s.step()) total = s.int64(0);
    }
    std::int64_t cursor = 0;
    std::size_t batch = std::max<std::size_t>(1, o.batch);
    std::string raw;
    std::vector<std::string> frames;
    while (true) {
        std::vector<std::pair<std::int64_t, sha256>> ids;
        {
            auto s = d_->db.prepare(
                "SELECT id, sha256 FROM contents WHERE id > ? AND dictionary_id IS NOT ? ORDER "
                "BY id LIMIT ?");
            s.bind(1, cursor).bind(2, dict).bind(3, static_cast<std::int64_t>(batch));
            while (s.step()) ids.emplace_back(s.int64(0), blob_hash(s.blob(1)));
        }
        if (ids.empty()) break;
        transaction tx(*this);
        for (const auto& [id, h] : ids) {
            cursor = id;
            ++st.examined;
            auto c = d_->content_by_hash(h);
            if (!c || read_content(h, raw)) continue;  // damaged contents are left for verify
            std::uint64_t stored = 0;
            if (!d_->compress_all(raw, dict, c->chunk_size, frames, stored)) continue;
            if (stored >= c->stored_size) continue;
            {
                auto del = d_->stmt("DELETE FROM chunks WHERE content_id = ?");
                del->bind(1, id);
                del->run();
            }
            d_->write_chunks(id, raw, c->chunk_size, frames);
            auto u = d_->stmt(
                "UPDATE contents SET codec = 'zstd', dictionary_id = ?, stored_size = ? WHERE id = "
                "?");
            u->bind(1, dict).bind(2, static_cast<std::int64_t>(stored)).bind(3, id);
            u->run();
            ++st.rewritten;
            st.bytes_before += static_cast<std::int64_t>(c->stored_size);
            st.bytes_after += static_cast<std::int64_t>(stored);
        }
        tx.commit();
        if (progress) progress(st.examined, total);
    }
    return st;
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

void archive::set_server_count(std::int64_t mailbox_id, std::int64_t messages,
                               std::int64_t at_epoch) {
    d_->require_writable();
    d_->must_mailbox(mailbox_id);
    if (messages < 0) misuse("negative server message count");
    auto s =
        d_->stmt("UPDATE mailboxes SET server_messages = ?, server_counted_at = ? WHERE id = ?");
    s->bind(1, messages).bind(2, at_epoch).bind(3, mailbox_id);
    s->run();
}

std::optional<std::int64_t> archive::last_completed_sync(std::int64_t account_id) {
    auto s = d_->stmt(
        "SELECT max(finished_at) FROM sync_runs WHERE account_id = ? AND status = 'ok' AND "
        "finished_at IS NOT NULL");
    s->bind(1, account_id);
    return s->step() ? s->opt_int64(0) : std::nullopt;
}

std::vector<std::pair<std::int64_t, account_info>> archive::accounts() {
    std::vector<std::pair<std::int64_t, account_info>> out;
    auto s =
        d_->db.prepare("SELECT id, name, protocol, host, username FROM accounts ORDER BY name");
    while (s.step()) out.push_back({s.int64(0), {s.text(1), s.text(2), s.text(3), s.text(4)}});
    return out;
}

std::int64_t archive::begin_sync_run(std::optional<std::int64_t> account_id) {
    d_->require_writable();
    auto s = d_->stmt("INSERT INTO sync_runs (account_id, started_at) VALUES (?, ?)");
    s->bind(1, account_id).bind(2, d_->now());
    s->run();
    return d_->db.last_insert_rowid();
}

void archive::finish_sync_run(std::int64_t run_id, std::string_view status, const sync_counters& c,
                              std::string_view detail) {
    d_->require_writable();
    auto s = d_->stmt(
        "UPDATE sync_runs SET finished_at = ?, status = ?, messages_new = ?, messages_updated = ?, "
        "messages_expunged = ?, bytes_fetched = ?, errors = ?, detail = ? WHERE id = ?");
    s->bind(1, d_->now())
        .bind(2, status)
        .bind(3, c.messages_new)
        .bind(4, c.messages_updated)
        .bind(5, c.messages_expunged)
        .bind(6, c.bytes_fetched)
        .bind(7, c.errors);
    if (detail.empty())
        s->bind_null(8);
    else
        s->bind(8, detail);
    s->bind(9, run_id);
    s->run();
}

std::int64_t archive::audit_append(std::string_view kind, std::string_view payload) {
    d_->require_writable();
    impl::savepoint sp(*d_);
    std::int64_t seq = 1;
    std::string prev(32, '\0');
    {
        auto s = d_->stmt("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
        if (s->step()) {
            seq = s->int64(0) + 1;
            prev = std::string(s->blob(1));
        }
    }
    std::int64_t at = d_->now();
    sha256 h = audit_hash(prev, seq, at, kind, payload);
    {
        auto s = d_->stmt(
            "INSERT INTO audit_log (seq, at, kind, payload, prev_hash, hash) VALUES (?,?,?,?,?,?)");
        s->bind(1, seq)
            .bind(2, at)
            .bind(3, kind)
            .bind(4, payload)
            .bind_blob(5, prev)
            .bind_blob(6, h.view());
        s->run();
    }
    {
        auto s = d_->stmt(
            "INSERT INTO meta (key, value) VALUES ('audit_head', ?) ON CONFLICT(key) DO UPDATE "
            "SET value = excluded.value");
        s->bind(1, std::to_string(seq) + ":" + h.hex());
        s->run();
    }
    sp.release();
    return seq;
}

audit_report archive::audit_verify() {
    audit_report r;
    auto s = d_->db.prepare(
        "SELECT seq, at, kind, payload, prev_hash, hash FROM audit_log ORDER BY seq");
    std::string prev(32, '\0');
    std::int64_t expected = 1;
    std::string last_head;
    while (s.step()) {
        ++r.rows;
        std::int64_t seq = s.int64(0);
        std::string where = "audit row " + std::to_string(seq);
        if (seq != expected)
            r.problems.push_back("audit rows " + std::to_string(expected) + ".." +
                                 std::to_string(seq - 1) + " are missing");
        if (s.blob(4) != std::string_view(prev))
            r.problems.push_back(
                where + ": prev_hash does not match the previous row (deleted or reordered rows)");
        sha256 h = audit_hash(s.blob(4), seq, s.int64(1), s.blob(2), s.blob(3));
        if (h.view() != s.blob(5))
            r.problems.push_back(where + ": content does not match its hash (edited)");
        prev = std::string(s.blob(5));
        expected = seq + 1;
        last_head = std::to_string(seq) + ":" + blob_hash(prev).hex();
    }
    std::string head;
    {
        auto m = d_->db.prepare("SELECT value FROM meta WHERE key = 'audit_head'");
        if (m.step()) head = m.text(0);
    }
    if (head != last_head)
        r.problems.push_back("audit head is " + (head.empty() ? std::string("absent") : head) +
                             " but the last row is " +
                             (last_head.empty() ? std::string("absent") : last_head) +
                             " (rows deleted at the end?)");
    return r;
}

// ---- legal holds ----------------------------------------------------------------------------

std::int64_t archive::add_hold(std::int64_t account_id, std::optional<std::int64_t> mailbox_id,
                               std::string_view reason) {
    d_->require_writable();
    std::string account_name, mailbox_name;
    {
        auto s = d_->stmt("SELECT name FROM accounts WHERE id = ?");
        s->bind(1, account_id);
        if (!s->step()) misuse("no account with id " + std::to_string(account_id));
        account_name = s->text(0);
    }
    if (mailbox_id) {
        auto m = d_->must_mailbox(*mailbox_id);
        if (m.account_id != account_id) misuse("mailbox of another account");
        mailbox_name = m.name;
    }
    impl::savepoint sp(*d_);
    const std::int64_t t = d_->now();
    {
        auto s = d_->stmt(
            "INSERT INTO legal_holds (account_id, mailbox_id, reason, added_at) VALUES (?,?,?,?)");
        s->bind(1, account_id).bind(2, mailbox_id).bind(3, reason).bind(4, t);
        s->run();
    }
    const std::int64_t id = d_->db.last_insert_rowid();
    nlohmann::json j = {{"hold_id", id},
                        {"account", account_name},
                        {"folder", mailbox_id ? nlohmann::json(mailbox_name) : nlohmann::json()},
                        {"reason", std::string(reason)},
                        {"time", t}};
    audit_append("hold_add", j.dump());
    sp.release();
    return id;
}

std::vector<legal_hold> archive::holds(bool include_released) {
    std::vector<legal_hold> out;
    auto s = d_->db.prepare(
        "SELECT h.id, h.account_id, a.name, h.mailbox_id, m.name, h.reason, h.added_at, "
        "h.released_at FROM legal_holds h JOIN accounts a ON a.id = h.account_id LEFT JOIN "
        "mailboxes m ON m.id = h.mailbox_id WHERE ?1 OR h.released_at IS NULL ORDER BY h.id");
    s.bind(1, static_cast<std::int64_t>(include_released));
    while (s.step()) {
        legal_hold h;
        h.id = s.int64(0);
        h.account_id = s.int64(1);
        h.account = s.text(2);
        h.mailbox_id = s.opt_int64(3);
        h.mailbox = s.opt_text(4);
        h.reason = s.text(5);
        h.added_at = s.int64(6);
        h.released_at = s.opt_int64(7);
        out.push_back(std::move(h));
    }
    return out;
}

legal_hold archive::release_hold(std::int64_t hold_id, std::string_view reason) {
    d_->require_writable();
    std::optional<legal_hold> found;
    for (auto& h : holds(true))
        if (h.id == hold_id) found = h;
    if (!found)
        throw mv::failure(errc::usage, "there is no legal hold with id " + std::to_string(hold_id) +
                                           "; see `mailvault hold list`");
    if (found->released_at)
        throw mv::failure(errc::usage,
                          "legal hold " + std::to_string(hold_id) + " was already released");
    impl::savepoint sp(*d_);
    const std::int64_t t = d_->now();
    {
        auto s = d_->stmt("UPDATE legal_holds SET released_at = ? WHERE id = ?");
        s->bind(1, t).bind(2, hold_id);
        s->run();
    }
    nlohmann::json j = {
        {"hold_id", hold_id},
        {"account", found->account},
        {"folder", found->mailbox ? nlohmann::json(*found->mailbox) : nlohmann::json()},
        {"hold_reason", found->reason},
        {"reason", std::string(reason)},
        {"time", t}};
    audit_append("hold_release", j.dump());
    sp.release();
    found->released_at = t;
    return *found;
}

void archive::for_each_audit(const std::function<void(const audit_row&)>& fn) {
    auto s = d_->db.prepare(
        "SELECT seq, at, kind, payload, prev_hash, hash FROM audit_log ORDER BY seq");
    while (s.step()) {
        audit_row r;
        r.seq = s.int64(0);
        r.at = s.int64(1);
        r.kind = s.text(2);
        r.payload = s.text(3);
        r.prev_hash = blob_hash(s.blob(4));
        r.hash = blob_hash(s.blob(5));
        fn(r);
    }
}

// ---- archive-side retention -----------------------------------------------------------------

std::vector<purge_row> archive::purge_rows(const entry_filter& f) {
    std::vector<purge_row> out;
    auto s = d_->db.prepare(
        "SELECT e.id, a.id, a.name, m.id, m.name, e.uidvalidity, e.uid, e.uidl, e.internaldate, "
        "e.first_seen, e.expunged_at, e.size, c.sha256 FROM entries e JOIN contents c ON c.id = "
        "e.content_id JOIN mailboxes m ON m.id = e.mailbox_id JOIN accounts a ON a.id = "
        "m.account_id WHERE (?1 IS NULL OR a.name = ?1) AND (?2 IS NULL OR m.name = ?2 OR "
        "m.wire_name = ?2) AND (?3 OR e.expunged_at IS NULL) ORDER BY a.name, m.name, "
        "e.generation, e.uid, e.uidl");
    s.bind(1, f.account).bind(2, f.mailbox).bind(3, static_cast<std::int64_t>(f.include_expunged));
    while (s.step()) {
        purge_row r;
        r.entry_id = s.int64(0);
        r.account_id = s.int64(1);
        r.account = s.text(2);
        r.mailbox_id = s.int64(3);
        r.mailbox = s.text(4);
        if (auto v = s.opt_int64(5)) r.uidvalidity = static_cast<std::uint32_t>(*v);
        if (auto v = s.opt_int64(6)) r.uid = static_cast<std::uint32_t>(*v);
        r.uidl = s.opt_text(7);
        r.internaldate = s.opt_int64(8);
        r.first_seen = s.int64(9);
        r.expunged_at = s.opt_int64(10);
        r.size = static_cast<std::uint64_t>(s.int64(11));
        r.content = blob_hash(s.blob(12));
        out.push_back(std::move(r));
    }
    return out;
}

purge_stats archive::purge_entries(std::span<const std::int64_t> entry_ids) {
    d_->require_writable();
    purge_stats st;
    impl::savepoint sp(*d_);
    std::set<std::int64_t> contents;
    for (auto id : entry_ids) {
        {
            auto s = d_->stmt("SELECT content_id FROM entries WHERE id = ?");
            s->bind(1, id);
            if (!s->step()) continue;
            contents.insert(s->int64(0));
        }
        for (const char* q : {"DELETE FROM flag_history WHERE entry_id = ?",
                              "DELETE FROM gmail_label_history WHERE entry_id = ?",
                              "DELETE FROM gmail_entries WHERE entry_id = ?"}) {
            auto s = d_->stmt(q);
            s->bind(1, id);
            s->run();
        }
        auto s = d_->stmt("DELETE FROM entries WHERE id = ?");
        s->bind(1, id);
        s->run();
        st.entries += d_->db.changes();
    }
    for (auto cid : contents) {
        {
            auto s = d_->stmt("SELECT count(*) FROM entries WHERE content_id = ?");
            s->bind(1, cid);
            if (s->step() && s->int64(0) > 0) continue;  // still referenced (dedup)
        }
        {
            auto s = d_->stmt("SELECT raw_size, stored_size FROM contents WHERE id = ?");
            s->bind(1, cid);
            if (!s->step()) continue;
            st.raw_bytes += s->int64(0);
            st.stored_bytes += s->int64(1);
        }
        for (const char* q :
             {"DELETE FROM chunks WHERE content_id = ?",
              "DELETE FROM header_index WHERE content_id = ?",
              "DELETE FROM message_fts WHERE rowid = ?", "DELETE FROM contents WHERE id = ?"}) {
            auto s = d_->stmt(q);
            s->bind(1, cid);
            s->run();
        }
        ++st.contents;
    }
    sp.release();
    d_->content_count = d_->scalar("SELECT coalesce(max(id), 0) FROM contents");
    return st;
}

std::vector<search_hit> archive::search(std::string_view q, std::size_t limit) {
    std::vector<search_hit> out;
    try {
        auto s = d_->db.prepare(
            "SELECT c.sha256, h.date_epoch, h.from_addr, h.subject, (SELECT a.name || '/' || "
            "m.name FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id JOIN accounts a ON "
            "a.id = m.account_id WHERE e.content_id = c.id ORDER BY e.id LIMIT 1) FROM message_fts "
            "f JOIN contents c ON c.id = f.rowid LEFT JOIN header_index h ON h.content_id = c.id "
            "WHERE message_fts MATCH ? ORDER BY f.rank LIMIT ?");
        s.bind(1, q).bind(2, static_cast<std::int64_t>(limit));
        while (s.step()) {
            search_hit h;
            h.content = blob_hash(s.blob(0));
            h.date_epoch = s.opt_int64(1);
            h.from = s.text(2);
            h.subject = s.text(3);
            h.location = s.text(4);
            out.push_back(std::move(h));
        }
    } catch (const mv::failure& f) {
        if (f.err.code == errc::archive && f.err.message.find("fts5") != std::string::npos)
            throw mv::failure(errc::usage, "bad search query: " + f.err.message);
        throw;
    }
    return out;
}

std::vector<mailbox_stats> archive::stats() {
    std::vector<mailbox_stats> out;
    auto s = d_->db.prepare(
        "SELECT a.name, m.name, coalesce(sum(e.id IS NOT NULL AND e.expunged_at IS NULL), 0), "
        "coalesce(sum(e.expunged_at IS NOT NULL), 0), coalesce(sum(c.raw_size), 0), "
        "coalesce(sum(c.stored_size), 0), m.server_messages, m.server_counted_at FROM mailboxes "
        "m JOIN accounts a ON a.id = m.account_id LEFT JOIN entries e ON e.mailbox_id = m.id "
        "LEFT JOIN contents c ON c.id = e.content_id GROUP BY m.id ORDER BY a.name, m.name");
    while (s.step())
        out.push_back({s.text(0), s.text(1), s.int64(2), s.int64(3), s.int64(4), s.int64(5),
                       s.opt_int64(6), s.opt_int64(7)});
    return out;
}

std::string exposure_warning(const std::filesystem::path& p) {
    struct stat self {};
    // No archive there (or an empty file, refused when opened): nothing exposed.
    if (::stat(p.c_str(), &self) != 0 || self.st_size == 0) return {};
    std::vector<std::string> files;
    std::string modes;
    auto check = [&](const std::filesystem::path& f, mode_t bad) {
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0 || (st.st_mode & bad) == 0) return false;
        char m[8];
        std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        modes += (modes.empty() ? "" : ", ") + f.filename().string() + " " + m;
        return true;
    };
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::path f = p;
        f += suffix;
        if (check(f, S_IRWXG | S_IRWXO)) files.push_back(f.string());
    }
    const std::filesystem::path dir = p.parent_path().empty() ? "." : p.parent_path();
    const bool dir_open = check(dir, S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH);
    if (files.empty() && !dir_open) return {};
    std::string fix;
    if (!files.empty()) fix = "`chmod 600 " + join(files) + "`";
    if (dir_open) fix += (fix.empty() ? "`" : " and `") + ("chmod 700 " + dir.string() + "`");
    return "the archive " + p.string() + " can be read by other users (" + modes +
           "); mail is private: run " + fix;
}

archive_totals archive::totals() {
    archive_totals t;
    auto s = d_->db.prepare(
        "SELECT count(*), coalesce(sum(raw_size), 0), coalesce(sum(stored_size), 0), (SELECT "
        "count(*) FROM entries), (SELECT count(*) FROM dictionaries) FROM contents");
    if (s.step()) {
        t.contents = s.int64(0);
        t.raw_bytes = s.int64(1);
        t.stored_bytes = s.int64(2);
        t.entries = s.int64(3);
        t.dictionaries = s.int64(4);
        s.reset();
    }
    return t;
}

verify_report archive::verify(const progress_fn& progress) {
    verify_report r;
    {
        auto s = d_->db.prepare("PRAGMA integrity_check");
        while (s.step()) {
            std::string line = s.text(0);
            if (line != "ok") r.problems.push_back({"integrity_check: " + line, std::nullopt, {}});
        }
    }
    {
        auto s = d_->db.prepare("PRAGMA foreign_key_check");
        while (s.step())
            r.problems.push_back(
                {"foreign key broken in table " + s.text(0) + " row " + std::to_string(s.int64(1)),
                 std::nullopt,
                 {}});
    }
    std::int64_t total = 0;
    {
        auto s = d_->db.prepare("SELECT count(*) FROM contents");
        if (s.step()) total = s.int64(0);
        s.reset();
    }
    auto s = d_->db.prepare(
        "SELECT id, sha256, raw_size, stored_size, codec, dictionary_id, chunk_size, chunk_count, "
        "indexed FROM contents ORDER BY id");
    while (s.step()) {
        content_info c;
        c.id = s.int64(0);
        c.hash = blob_hash(s.blob(1));
        c.raw_size = static_cast<std::uint64_t>(s.int64(2));
        c.stored_size = static_cast<std::uint64_t>(s.int64(3));
        c.codec = s.text(4);
        c.dictionary_id = s.opt_int64(5);
        c.chunk_size = static_cast<std::uint64_t>(s.int64(6));
        c.chunk_count = static_cast<std::uint64_t>(s.int64(7));
        if (auto e = d_->stream(c, {}))
            r.problems.push_back({e.message, c.hash, d_->locations(c.id)});
        ++r.contents_checked;
        r.bytes_checked += static_cast<std::int64_t>(c.raw_size);
        if (progress) progress(r.contents_checked, total);
    }
    auto a = audit_verify();
    r.audit_rows = a.rows;
    for (auto& p : a.problems) r.problems.push_back({std::move(p), std::nullopt, {}});
    return r;
}

}  // namespace mv::archive
