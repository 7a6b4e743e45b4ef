// The restore ledger (table restore_ledger, schema/0007): which archived entry was written into
// which target folder, so that `mailvault restore` never appends a message twice and resumes
// after a crash. See docs/restore.md.
//
// Flow (one target folder): rows(account, folder) -> for each message to append:
// record_intent() in its own committed transaction -> APPEND -> confirm() (the caller batches
// confirmations in one transaction) ; an intent whose APPEND was refused is forget()-ten.
// Every method joins the caller's transaction when one is open (archive::transaction); outside
// one it is its own transaction. Database failures throw mv::failure(errc::archive).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"

namespace mv::archive {

enum class ledger_state { intent, confirmed };

struct ledger_row {
    std::int64_t entry_id = 0;
    sha256 content;
    ledger_state state = ledger_state::intent;
    std::optional<std::uint32_t> target_uidvalidity;
    std::optional<std::uint32_t> target_uid;
    std::int64_t updated_at = 0;
};

class ledger {
public:
    explicit ledger(archive& a) : a_(a) {}

    // Every row of one target folder, ordered by entry id.
    std::vector<ledger_row> rows(std::string_view target_account, std::string_view target_folder);
    // Inserts or resets the row of (account, folder, entry) to 'intent' (uid cleared).
    void record_intent(std::string_view target_account, std::string_view target_folder,
                       std::int64_t entry_id, const sha256& content,
                       std::optional<std::uint32_t> target_uidvalidity);
    // The row becomes 'confirmed' with the target's UIDVALIDITY and UID (when known). Inserts it
    // when missing (a message matched on the target that had no row).
    void confirm(std::string_view target_account, std::string_view target_folder,
                 std::int64_t entry_id, const sha256& content,
                 std::optional<std::uint32_t> target_uidvalidity,
                 std::optional<std::uint32_t> target_uid);
    // Removes the row (the APPEND was refused: nothing is on the target).
    void forget(std::string_view target_account, std::string_view target_folder,
                std::int64_t entry_id);
    // Rows per state over the whole ledger of one target account (for status and tests).
    std::int64_t count(std::string_view target_account, ledger_state s);

private:
    void write_state(std::string_view target_account, std::string_view target_folder,
                     std::int64_t entry_id, const sha256& content,
                     std::optional<std::uint32_t> target_uidvalidity,
                     std::optional<std::uint32_t> target_uid, std::string_view state);
    archive& a_;
};

const char* to_string(ledger_state s) noexcept;

}  // namespace mv::archive
