// The audit log and legal holds. The log is append-only and hash-chained: each row's hash covers
// the previous row's hash, its sequence number, time, kind and payload, and meta.audit_head
// names the last row, so edited, deleted, reordered or truncated rows are found by audit_verify.
// Adding or releasing a legal hold writes its audit row in the same savepoint.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"
#include "archive/archive_impl.hpp"
#include "archive/hash.hpp"

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

}  // namespace

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

void archive::for_each_audit(const std::function<void(const audit_row&)>& fn,
                             std::int64_t after_seq) {
    auto s = d_->db.prepare(
        "SELECT seq, at, kind, payload, prev_hash, hash FROM audit_log WHERE seq > ? ORDER BY seq");
    s.bind(1, after_seq);
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

std::int64_t archive::last_audit_seq() {
    auto s = d_->db.prepare("SELECT coalesce(max(seq), 0) FROM audit_log");
    return s.step() ? s.int64(0) : 0;
}

}  // namespace mv::archive
