// The decisions of `mailvault prune` as pure functions: from the candidates (sync/retention.hpp),
// what re-reading their archived copies gave and what the server answered in the deleting
// session, which messages may go (and where: expunged or moved to their rule's trash folder) and
// which stay on the server, with the reason. No network, no SQLite; table-tested in
// tests/unit/prune_plan_test.cpp. The executor (sync/prune.cpp) gathers the inputs, carries the
// plan out and audits it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "archive/hash.hpp"
#include "mailvault/error.hpp"
#include "sync/retention.hpp"

namespace mv::sync {

// Re-reading one candidate's archived copy (in the deleting run, just before deleting).
struct archived_check {
    mv::error err;                // read or re-hash failed: the copy is damaged
    std::uint64_t bytes = 0;      // bytes read back
    archive::sha256 header_hash;  // of its header block (archive::header_block)
};

// What the server said about one candidate in the deleting session, from
// UID FETCH (UID FLAGS [MODSEQ] RFC822.SIZE BODY.PEEK[HEADER]).
struct server_answer {
    std::optional<std::vector<std::string>> flags;  // as sent
    std::optional<std::uint64_t> modseq;
    std::optional<std::uint64_t> rfc822_size;
    std::optional<archive::sha256> header_hash;  // of the BODY[HEADER] bytes, when sent whole
    std::string conflict;  // non-empty: two answers for this UID disagreed (on what)
};

// Merges one more FETCH answer for a UID into what is known (servers may send several FETCH
// responses for one message, e.g. an unsolicited flag update; values that disagree are kept as a
// conflict, which refuses the deletion).
void merge_answer(server_answer& into, const server_answer& more);

enum class refusal_kind {
    archive_damaged,  // the archived copy did not read back or re-hash
    size_mismatch,    // archived byte count differs from the server's RFC822.SIZE
    header_mismatch,  // archived header block differs from the server's BODY[HEADER]
    unverifiable,     // the server did not send RFC822.SIZE / BODY[HEADER] / sent conflicts
    gone,             // no longer on the server
    changed,          // flags or MODSEQ changed since the sync
};
const char* refusal_kind_name(refusal_kind k) noexcept;
// True for the kinds that mean the archive and the server disagree about a message's content
// (the run exits `verification failed`).
bool is_verification_refusal(refusal_kind k) noexcept;

struct planned_refusal {
    std::uint32_t uid = 0;
    refusal_kind kind = refusal_kind::unverifiable;
    std::string reason;  // one line, for the report and the log
};

// Where one verified candidate goes: expunged (trash empty) or UID MOVEd to `trash`.
struct planned_deletion {
    prune_candidate cand;
    std::optional<std::string> trash;
};

struct deletion_plan {
    std::vector<planned_deletion> remove;  // ascending UID
    std::vector<planned_refusal> refused;  // ascending UID
};

// Is `archived` bytes what the server means by RFC822.SIZE `server`? Measured against Dovecot
// 2.3.19 (Maildir with LF, CRLF, mixed line ends, no final newline, a lone final CR): RFC822.SIZE
// equals the BODY[] byte count exactly, so no allowance is made; a quirk of another server is
// allowed here only once measured, with the measurement named.
bool archived_size_agrees(std::uint64_t archived, std::uint64_t server) noexcept;

// The archive-side check alone (dry run): damaged copies and copies whose byte count differs
// from the size recorded at sync time are refused.
std::optional<planned_refusal> check_archived_copy(const prune_candidate& c,
                                                   const archived_check& a);

// The trash folder of one candidate: the command line's --trash for every rule, else the rule's
// own trash_folder, else none (expunge).
std::optional<std::string> trash_for(const prune_candidate& c, const std::vector<prune_rule>& rules,
                                     const std::optional<std::string>& cli_trash);

// The full decision in the deleting session. `since`: the folder's HIGHESTMODSEQ at the sync
// (nullopt without CONDSTORE). A candidate missing from `archived` or `server` is refused.
deletion_plan plan_deletions(const std::vector<prune_candidate>& cands,
                             const std::map<std::uint32_t, archived_check>& archived,
                             const std::map<std::uint32_t, server_answer>& server,
                             std::optional<std::uint64_t> since,
                             const std::vector<prune_rule>& rules,
                             const std::optional<std::string>& cli_trash);

// How the account's messages are removed, decided once from the capabilities before anything
// changes. `needs_move`: some candidate may go to a trash folder; `needs_expunge`: some may be
// expunged. err set (unsupported) when the server cannot do what is needed safely.
struct prune_methods {
    std::string expunge;  // "uid-expunge", "plain-expunge", or "" when not needed
    bool move = false;
    mv::error err;
};
prune_methods choose_methods(bool has_uidplus, bool has_move, bool needs_move, bool needs_expunge,
                             bool allow_plain_expunge);

// UIDs marked \Deleted on the server (UID SEARCH DELETED) that are not ours: a plain EXPUNGE
// would remove them too.
std::vector<std::uint32_t> foreign_deleted(const std::vector<std::uint32_t>& deleted_on_server,
                                           const std::vector<std::uint32_t>& ours);

}  // namespace mv::sync
