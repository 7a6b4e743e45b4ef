// Deleting archived messages from an IMAP server by retention rules (`mailvault prune`).
//
// Flow (one account): legal holds and the rules decide which archived folders are touched (a held
// folder is skipped and reported) -> dry run: the plan from the archive (re-verifying each
// candidate's archived copy) and nothing else. Execute: connect and check capabilities first
// (no UIDPLUS: refuse, unless MOVE to a trash folder or a guarded plain EXPUNGE was asked for) ->
// per folder: sync that folder -> select candidates from the fresh archive state -> SELECT
// (read-write), check UIDVALIDITY -> re-read and re-hash every candidate's archived copy (a
// failure keeps the message on the server and says why) -> drop messages changed on the server
// since the sync (UID FETCH FLAGS/MODSEQ) -> audit record per message, committed durably ->
// UID STORE +FLAGS.SILENT (\Deleted) UNCHANGEDSINCE (MODIFIED ones are dropped, audited as
// cancelled) -> UID EXPUNGE of exactly those UIDs (or UID MOVE to the trash folder, or a plain
// EXPUNGE once UID SEARCH DELETED shows only ours) -> the entries are marked expunged in the
// archive (they stay archived) with a summary audit record.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mailvault/config.hpp"
#include "mailvault/error.hpp"
#include "sync/imap_sync.hpp"
#include "sync/retention.hpp"

namespace mv::sync {

struct prune_options {
    std::vector<prune_rule> rules;
    bool execute = false;              // false: plan only, nothing changes
    std::optional<std::string> trash;  // UID MOVE to this folder instead of expunging
    bool allow_plain_expunge = false;  // without UIDPLUS: EXPUNGE when only ours are \Deleted
    std::int64_t now = 0;              // epoch seconds for older_than; 0: the current time
    std::function<void(const std::string&)> log;
};

struct prune_refusal {
    std::uint32_t uid = 0;
    std::string reason;
};

struct prune_folder_report {
    std::string name;  // UTF-8
    std::optional<std::uint32_t> uidvalidity;
    std::vector<std::uint32_t> planned;  // selected and verified (dry run: what would go)
    std::uint64_t planned_bytes = 0;
    std::vector<std::uint32_t> deleted;  // gone from the server (expunged or moved)
    std::uint64_t deleted_bytes = 0;
    std::vector<prune_refusal> refused;   // selected but kept on the server, with the reason
    std::optional<std::int64_t> hold_id;  // skipped: under this legal hold
    std::string hold_reason;
    std::string method;  // "uid-expunge", "move", "plain-expunge" (execute only)
    mv::error err;       // this folder only
};

struct prune_report {
    std::string account;
    mv::error err;  // account-level: refused (capabilities), auth, network ...
    std::vector<prune_folder_report> folders;
};

// Never throws for account-level failures: they are in report.err.
prune_report prune_imap_account(const config::account& acct, shared_archive& ar,
                                const prune_options& opts);

}  // namespace mv::sync
