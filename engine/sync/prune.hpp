// Deleting archived messages from an IMAP server by retention rules (`mailvault prune`).
//
// Flow (one account): legal holds and the rules decide which archived folders are touched (a held
// folder is skipped and reported; every trash folder is never pruned) -> dry run: the plan from
// the archive (re-verifying each candidate's archived copy) and nothing else. Execute: connect
// and check capabilities first (MOVE when a trash folder applies; for expunging UIDPLUS, or a
// guarded plain EXPUNGE when asked for; else refuse) -> per folder: sync that folder -> select
// candidates from the fresh archive state -> SELECT (read-write), check UIDVALIDITY -> re-read and
// re-hash every candidate's archived copy, and in this same session UID FETCH (UID FLAGS [MODSEQ]
// RFC822.SIZE BODY.PEEK[HEADER]) -> the pure plan (sync/prune_plan.hpp) keeps on the server, with
// the reason, every message whose archived copy is damaged, whose byte count differs from the
// server's RFC822.SIZE, whose header block differs from BODY[HEADER], or that changed or vanished
// since the sync -> audit record per message, committed durably -> per destination: UID MOVE to
// the rule's trash folder, or UID STORE +FLAGS.SILENT (\Deleted) UNCHANGEDSINCE (MODIFIED ones
// are dropped, audited as cancelled) then UID EXPUNGE of exactly those UIDs (or a plain EXPUNGE
// once UID SEARCH DELETED shows only ours; else our \Deleted is removed again, and a failure to
// remove it is audited and fails the folder loudly) -> the entries are marked expunged in the
// archive (they stay archived) with a summary audit record. Each durable step and each
// destructive command is a crash point (mailvault/crashpoint.hpp).
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
#include "sync/prune_plan.hpp"
#include "sync/retention.hpp"

namespace mv::sync {

struct prune_options {
    std::vector<prune_rule> rules;
    bool execute = false;  // false: plan only, nothing changes
    // UID MOVE every rule's messages to this folder instead of expunging (the command line's
    // --trash); without it each rule's own prune_rule::trash applies to the messages it selects.
    std::optional<std::string> trash;
    bool allow_plain_expunge = false;  // without UIDPLUS: EXPUNGE when only ours are \Deleted
    std::int64_t now = 0;              // epoch seconds for older_than; 0: the current time
    std::function<void(const std::string&)> log;
    // --query (docs/retention.md): only these archive entry ids (sorted) among what the rules
    // select; nullopt: no narrowing. `query` is its text, recorded with each deletion.
    std::optional<std::vector<std::int64_t>> only_entries;
    std::string query;
};

struct prune_refusal {
    std::uint32_t uid = 0;
    std::string reason;
    std::string kind;           // refusal_kind_name() (sync/prune_plan.hpp), or "cancelled"
    bool verification = false;  // the archive and the server disagree: exit verify_failed
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
    std::string method;  // "uid-expunge", "move", "plain-expunge", or e.g. "move,uid-expunge"
                         // when rules of this folder differ (execute only)
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
