// The catalog: accounts, their mailboxes with watermarks (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ,
// last UID), mailbox generations (a UIDVALIDITY change starts a new one, old entries stay), the
// message counts the servers reported, and sync runs. archive::impl's mailbox lookups
// (read_mailbox, mailbox, must_mailbox), used by the other archive files, are defined here.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archive/archive.hpp"
#include "archive/archive_impl.hpp"

namespace mv::archive {

#define MV_MAILBOX_COLS                                                               \
    "id, account_id, wire_name, name, delimiter, special_use, uidvalidity, uidnext, " \
    "highestmodseq, last_uid, generation, last_synced, server_messages, server_counted_at"

mailbox_state archive::impl::read_mailbox(sql::statement& s) {
    mailbox_state m;
    m.id = s.int64(0);
    m.account_id = s.int64(1);
    m.wire_name = s.text(2);
    m.name = s.text(3);
    m.delimiter = s.opt_text(4);
    m.special_use = s.opt_text(5);
    if (auto v = s.opt_int64(6)) m.uidvalidity = static_cast<std::uint32_t>(*v);
    if (auto v = s.opt_int64(7)) m.uidnext = static_cast<std::uint32_t>(*v);
    if (auto v = s.opt_int64(8)) m.highestmodseq = static_cast<std::uint64_t>(*v);
    if (auto v = s.opt_int64(9)) m.last_uid = static_cast<std::uint32_t>(*v);
    m.generation = s.int64(10);
    m.last_synced = s.opt_int64(11);
    m.server_messages = s.opt_int64(12);
    m.server_counted_at = s.opt_int64(13);
    return m;
}

std::optional<mailbox_state> archive::impl::mailbox(std::int64_t id) {
    auto s = stmt("SELECT " MV_MAILBOX_COLS " FROM mailboxes WHERE id = ?");
    s->bind(1, id);
    if (!s->step()) return std::nullopt;
    return read_mailbox(*s);
}

mailbox_state archive::impl::must_mailbox(std::int64_t id) {
    auto m = mailbox(id);
    if (!m) misuse("no mailbox with id " + std::to_string(id));
    return *m;
}

// ---------------------------------------------------------------------------------------------

std::int64_t archive::upsert_account(const account_info& a) {
    d_->require_writable();
    // "import": an account made by `mailvault import` from files (schema 12, docs/import.md).
    if (a.protocol != "imap" && a.protocol != "pop3" && a.protocol != "import")
        misuse("protocol must be imap, pop3 or import");
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

}  // namespace mv::archive
