// The sync decisions, as pure functions: they compare what the archive knows with what the server
// says and return what to do. No network, no SQLite; tested table-driven
// (tests/unit/sync_planner_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mv::sync {

// What the archive remembers of a folder (its current generation).
struct archived_folder {
    std::optional<std::uint32_t> uidvalidity;
    std::optional<std::uint32_t> uidnext;
    std::optional<std::uint64_t> highestmodseq;
    std::optional<std::uint32_t> last_uid;
    std::int64_t live_messages = 0;  // entries not marked expunged
};

// What the server says of it (STATUS / LIST-STATUS, or SELECT).
struct server_folder {
    std::optional<std::uint32_t> uidvalidity;
    std::optional<std::uint32_t> uidnext;
    std::optional<std::uint32_t> messages;
    std::optional<std::uint64_t> highestmodseq;
};

// True when one round trip proved nothing changed: same UIDVALIDITY, UIDNEXT and message count,
// and (when the server has MODSEQ) the same HIGHESTMODSEQ. Without HIGHESTMODSEQ a flag change
// cannot be seen from STATUS, so the folder is never skipped.
bool folder_unchanged(const archived_folder& a, const server_folder& s);

enum class flag_strategy {
    qresync,    // SELECT (QRESYNC ...) returns changed flags and VANISHED
    condstore,  // UID FETCH ... (CHANGEDSINCE m) for flags, UID SEARCH ALL for expunges
    listing,    // UID FETCH 1:last (UID FLAGS): full listing diffed with the archive
    none,       // first sync of the folder (or a new generation): nothing known to update
};

struct folder_plan {
    bool new_generation = false;  // UIDVALIDITY changed: start a new generation, recover bodies
    flag_strategy flags = flag_strategy::none;
    std::uint32_t fetch_from_uid = 1;  // new messages are UIDs >= this
};

struct server_caps {
    bool condstore = false;
    bool qresync = false;  // enabled
};

folder_plan plan_folder(const archived_folder& a, std::uint32_t server_uidvalidity,
                        std::optional<std::uint64_t> server_highestmodseq, bool server_nomodseq,
                        const server_caps& caps);

// The flags that are mirrored: everything but \Recent (a session flag, RFC 3501 2.3.2).
// Returned sorted and deduplicated, as the archive stores them.
std::vector<std::string> persistent_flags(std::vector<std::string> flags);

// Diff of a UID listing against the archive's live UIDs (both sorted ascending).
struct uid_diff {
    std::vector<std::uint32_t> vanished;  // archived, not on the server any more
    std::vector<std::uint32_t> unknown;   // on the server, not archived
};
uid_diff diff_uids(const std::vector<std::uint32_t>& archived,
                   const std::vector<std::uint32_t>& server);

// Groups ascending UIDs into fetch batches of at most max_count UIDs.
std::vector<std::vector<std::uint32_t>> chunk_uids(const std::vector<std::uint32_t>& uids,
                                                   std::size_t max_count);

}  // namespace mv::sync
