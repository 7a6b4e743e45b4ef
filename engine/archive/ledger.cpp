#include "archive/ledger.hpp"

#include "archive/archive_impl.hpp"

namespace mv::archive {

const char* to_string(ledger_state s) noexcept {
    return s == ledger_state::confirmed ? "confirmed" : "intent";
}

std::vector<ledger_row> ledger::rows(std::string_view target_account,
                                     std::string_view target_folder) {
    auto& d = *a_.d_;
    auto s = d.stmt(
        "SELECT entry_id, content_sha256, state, target_uidvalidity, target_uid, updated_at FROM "
        "restore_ledger WHERE target_account = ? AND target_folder = ? ORDER BY entry_id");
    s->bind(1, target_account).bind(2, target_folder);
    std::vector<ledger_row> out;
    while (s->step()) {
        ledger_row r;
        r.entry_id = s->int64(0);
        r.content = blob_hash(s->blob(1));
        r.state = s->text(2) == "confirmed" ? ledger_state::confirmed : ledger_state::intent;
        if (auto v = s->opt_int64(3)) r.target_uidvalidity = static_cast<std::uint32_t>(*v);
        if (auto v = s->opt_int64(4)) r.target_uid = static_cast<std::uint32_t>(*v);
        r.updated_at = s->int64(5);
        out.push_back(r);
    }
    return out;
}

namespace {
std::optional<std::int64_t> widen(std::optional<std::uint32_t> v) {
    if (!v) return std::nullopt;
    return static_cast<std::int64_t>(*v);
}
}  // namespace

void ledger::record_intent(std::string_view target_account, std::string_view target_folder,
                           std::int64_t entry_id, const sha256& content,
                           std::optional<std::uint32_t> target_uidvalidity) {
    write_state(target_account, target_folder, entry_id, content, target_uidvalidity, std::nullopt,
                "intent");
}

void ledger::confirm(std::string_view target_account, std::string_view target_folder,
                     std::int64_t entry_id, const sha256& content,
                     std::optional<std::uint32_t> target_uidvalidity,
                     std::optional<std::uint32_t> target_uid) {
    write_state(target_account, target_folder, entry_id, content, target_uidvalidity, target_uid,
                "confirmed");
}

// One row per (target account, target folder, source entry): an intent has no target UID yet.
void ledger::write_state(std::string_view target_account, std::string_view target_folder,
                         std::int64_t entry_id, const sha256& content,
                         std::optional<std::uint32_t> target_uidvalidity,
                         std::optional<std::uint32_t> target_uid, std::string_view state) {
    auto& d = *a_.d_;
    d.require_writable();
    archive::impl::savepoint sp(d);
    auto s = d.stmt(
        "INSERT INTO restore_ledger (target_account, target_folder, target_uidvalidity, "
        "target_uid, entry_id, content_sha256, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (target_account, target_folder, entry_id) DO UPDATE SET "
        "target_uidvalidity = excluded.target_uidvalidity, target_uid = excluded.target_uid, "
        "content_sha256 = excluded.content_sha256, state = excluded.state, updated_at = "
        "excluded.updated_at");
    s->bind(1, target_account)
        .bind(2, target_folder)
        .bind(3, widen(target_uidvalidity))
        .bind(4, widen(target_uid))
        .bind(5, entry_id)
        .bind_blob(6, content.view())
        .bind(7, state)
        .bind(8, d.now());
    s->run();
    sp.release();
}

void ledger::forget(std::string_view target_account, std::string_view target_folder,
                    std::int64_t entry_id) {
    auto& d = *a_.d_;
    d.require_writable();
    archive::impl::savepoint sp(d);
    auto s = d.stmt(
        "DELETE FROM restore_ledger WHERE target_account = ? AND target_folder = ? AND entry_id "
        "= ?");
    s->bind(1, target_account).bind(2, target_folder).bind(3, entry_id);
    s->run();
    sp.release();
}

std::int64_t ledger::count(std::string_view target_account, ledger_state st) {
    auto& d = *a_.d_;
    auto s = d.stmt("SELECT count(*) FROM restore_ledger WHERE target_account = ? AND state = ?");
    s->bind(1, target_account).bind(2, std::string_view(to_string(st)));
    std::int64_t n = s->step() ? s->int64(0) : 0;
    s->reset();
    return n;
}

}  // namespace mv::archive
