// The decisions of `mailvault restore` as pure functions (no network, no archive): which
// archived entries of a folder to APPEND, which are already on the target (ledger), which must
// be resolved by looking on the target first; which flags to send; how a folder is named on the
// target; which message on the target is an earlier APPEND of ours. See docs/restore.md.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archive/hash.hpp"
#include "archive/ledger.hpp"

namespace mv::sync {

// One archived entry to restore (what the plan needs of it).
struct restore_item {
    std::int64_t entry_id = 0;
    archive::sha256 content;
    std::uint64_t size = 0;
    std::optional<std::int64_t> internaldate;
    int internaldate_tz = 0;  // the zone it was archived in, minutes east of UTC
};

enum class restore_action {
    append,        // not in the ledger: APPEND it
    already,       // confirmed in the ledger for this target folder and UIDVALIDITY
    resolve,       // an intent without confirmation, or confirmed under another UIDVALIDITY:
                   // look on the target before anything is appended
    skip_too_big,  // over the target's APPENDLIMIT: reported, not sent
};
const char* to_string(restore_action a) noexcept;

struct planned_item {
    std::size_t index = 0;  // into the items given to plan_restore_folder
    restore_action action = restore_action::append;
    std::string reason;  // for resolve and skip_too_big
};

// `ledger` holds the rows of this target folder; target_uidvalidity is the folder's current one
// (nullopt: unknown, e.g. a dry run of a folder that does not exist yet). append_limit: the
// target's APPENDLIMIT, if any. The result has one planned_item per item, in item order.
std::vector<planned_item> plan_restore_folder(std::span<const restore_item> items,
                                              std::span<const archive::ledger_row> ledger,
                                              std::optional<std::uint32_t> target_uidvalidity,
                                              std::optional<std::uint64_t> append_limit);

struct flag_plan {
    std::vector<std::string> send;     // flags for APPEND
    std::vector<std::string> refused;  // keywords the target does not accept (reported)
};
// `archived`: the entry's flags. \Recent is never sent; \Deleted only with include_deleted.
// A keyword (no leading '\') is refused when the target's PERMANENTFLAGS are known
// (permanent_known), do not contain "\*" and do not list it (case-insensitive).
flag_plan plan_flags(const std::vector<std::string>& archived,
                     const std::vector<std::string>& permanent_flags, bool permanent_known,
                     bool include_deleted);

// One --map rule: a source folder (UTF-8, '/'-separated as shown by `mailvault status`) and its
// target ('/'-separated too). A rule also maps the folder's descendants.
struct folder_map_rule {
    std::string source, target;
};
// Parses "SRC=DST"; nullopt when there is no '=' or a side is empty.
std::optional<folder_map_rule> parse_map_rule(std::string_view s);

struct target_name {
    std::string name;  // UTF-8, with the target's delimiter and namespace prefix
    std::string note;  // non-empty when a part had to be changed (reported)
};
// source_name: the archived folder's decoded name, source_delim its delimiter (0: flat).
// The name is split at source_delim, mapped by the first matching rule, prefixed with the
// target's personal namespace prefix (not for INBOX and its children) and joined with
// target_delim. A part containing target_delim gets it replaced by '_' (noted). INBOX (any case)
// stays INBOX.
target_name map_folder_name(std::string_view source_name, char source_delim,
                            std::span<const folder_map_rule> rules, std::string_view ns_prefix,
                            char target_delim);

// A folder name's levels, split at `delim` (0: flat, one level); empty levels are kept.
std::vector<std::string> split_levels(std::string_view name, char delim);

// The Message-ID header's value (unfolded, trimmed), from a message's header block.
std::optional<std::string> header_message_id(std::string_view message);

// UID SEARCH criteria that find our message on the target: HEADER Message-ID when it has one
// that can be sent as a quoted string, else by exact size (LARGER n-1 SMALLER n+1).
std::string resolve_search_criteria(const std::optional<std::string>& message_id,
                                    std::uint64_t size);

// A message on the target that may be our earlier APPEND.
struct target_candidate {
    std::uint32_t uid = 0;
    std::optional<std::uint64_t> size;
    std::optional<std::int64_t> internaldate;
    std::optional<archive::sha256> hash;  // SHA-256 of BODY.PEEK[], when fetched
};

struct match_result {
    enum class kind { found, absent, need_hash } k = kind::absent;
    std::uint32_t uid = 0;           // found
    std::vector<std::uint32_t> ask;  // need_hash: fetch BODY.PEEK[] of these, then match again
};
// Candidates whose UID is `claimed` (confirmed for another entry) are ignored. Then size must be
// equal and INTERNALDATE equal (when both are known). One left and no hashes known: found. More
// than one left: need_hash (or, with hashes, found = the first whose hash equals the content).
// A candidate whose hash is known must match it.
match_result match_on_target(const restore_item& item, std::span<const target_candidate> cands,
                             const std::set<std::uint32_t>& claimed);

// --as-of: was the entry in the folder at `as_of` (epoch seconds)? Archived by then (first_seen)
// and not yet marked expunged then.
bool present_at(std::int64_t first_seen, std::optional<std::int64_t> expunged_at,
                std::int64_t as_of);

// "2024-05-01", "2024-05-01T12:30:00Z" / "2024-05-01 12:30:00" (UTC) or "@1714566600" -> epoch
// seconds; nullopt when it is none of these.
std::optional<std::int64_t> parse_as_of(std::string_view s);

}  // namespace mv::sync
