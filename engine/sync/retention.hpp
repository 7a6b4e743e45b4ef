// Retention decisions as pure functions: which archived messages a prune rule selects for
// deletion on the server, which expunged entries a purge removes from the archive, and whether a
// legal hold covers a folder. No network, no SQLite; tested table-driven
// (tests/unit/retention_test.cpp). The workflows (sync/prune.hpp) feed them archive rows.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/hash.hpp"

namespace mv::sync {

// Durations and sizes: mailvault/units.hpp (parse_duration, parse_size).

// One prune rule. A message is selected when every criterion given holds; at least one of
// older_than / larger_than / flags must be given (validate_rule), so a rule never means "all".
struct prune_rule {
    std::string name;                    // for the audit log; describe_rule() when empty
    std::optional<std::string> account;  // nullopt: every IMAP account
    std::vector<std::string> folders;    // patterns (config::folder_pattern_matches); empty: all
    std::optional<std::chrono::seconds> older_than;  // INTERNALDATE older than now - this
    std::vector<std::string> flags;                  // every one must be set (e.g. "\Seen")
    std::optional<std::uint64_t> larger_than;        // RFC822 size strictly greater
    std::optional<std::string> trash;  // UID MOVE this rule's messages here instead of expunging
};

// Empty when the rule is usable; else a one-line reason.
std::string validate_rule(const prune_rule& r);
// "older_than=30d flags=\Seen folders=INBOX" style; stable, used in the audit log.
std::string describe_rule(const prune_rule& r);
// True when the rule applies to this account and folder (UTF-8 name, server delimiter).
bool rule_covers_folder(const prune_rule& r, std::string_view account, std::string_view folder,
                        char delimiter);

// What the archive knows of one message of the folder's current generation.
struct archived_message {
    std::uint32_t uid = 0;
    std::string flags;  // canonical (archive::canonical_flags)
    std::optional<std::int64_t> internaldate;
    std::uint64_t size = 0;
    archive::sha256 content;
    bool expunged = false;  // already gone from the server
};

struct prune_candidate {
    archived_message msg;
    std::size_t rule = 0;  // index of the first rule that selected it
};

// Messages of one folder selected by the rules that cover it (given as indexes into `rules`),
// ascending by UID. Expunged entries and messages without an INTERNALDATE (when the rule has
// older_than) are never selected.
std::vector<prune_candidate> select_for_prune(const std::vector<prune_rule>& rules,
                                              const std::vector<std::size_t>& covering,
                                              const std::vector<archived_message>& messages,
                                              std::int64_t now);

// A legal hold as the retention logic sees it.
struct hold_scope {
    std::int64_t id = 0;
    std::int64_t account_id = 0;
    std::optional<std::int64_t> mailbox_id;  // nullopt: the whole account
    bool active = true;
};

// The first active hold covering the folder (or, with mailbox_id nullopt, any hold on the
// account at all, folder holds included); nullopt when none.
std::optional<std::int64_t> covering_hold(const std::vector<hold_scope>& holds,
                                          std::int64_t account_id,
                                          std::optional<std::int64_t> mailbox_id);

// An archive entry already expunged on the server, as purge sees it.
struct purge_entry {
    std::int64_t entry_id = 0;
    std::int64_t account_id = 0;
    std::int64_t mailbox_id = 0;
    std::optional<std::int64_t> internaldate;
    std::int64_t first_seen = 0;
    std::optional<std::int64_t> expunged_at;  // nullopt: still on the server
};

enum class purge_basis {
    internaldate,  // the message's INTERNALDATE (first_seen when the server gave none)
    first_seen,    // when the archive first stored the entry
};

struct purge_decision {
    std::vector<std::int64_t> purge;  // entry ids
    std::int64_t held = 0;            // old enough and expunged, but under a hold
    std::int64_t on_server = 0;       // old enough but still on the server
};

// Entries older than `cutoff` (epoch seconds; strictly before), expunged on the server and not
// under an active hold.
purge_decision select_for_purge(const std::vector<purge_entry>& entries,
                                const std::vector<hold_scope>& holds, std::int64_t cutoff,
                                purge_basis basis);
// The same, also keeping the entries under an active hold by query (`query_held`: entry ids,
// ascending; archive::browser::query_held_entries).
purge_decision select_for_purge(const std::vector<purge_entry>& entries,
                                const std::vector<hold_scope>& holds,
                                const std::vector<std::int64_t>& query_held, std::int64_t cutoff,
                                purge_basis basis);

// "1:3,7,9:12" for UIDs in any order.
std::string compress_uids(std::vector<std::uint32_t> uids);

}  // namespace mv::sync
