// The decisions of one POP3 session, as pure functions (issue 11): from what the archive holds
// and what this session's UIDL/LIST/TOP/RETR answers said, which messages to retrieve, which to
// delete, and which deletions to refuse and why. pop3_sync.cpp only carries them out.
//
// Flow: plan_pop3_fetch(session, archived, policy, no TOP answers) -> `top` lists the known
// messages whose identity needs a TOP n 0 -> the executor sends them -> plan_pop3_fetch(..., with
// the answers) -> `fetch` -> the executor RETRs, stores each body under pop3_entry_key() and
// commits durably -> plan_pop3_delete(..., what RETR returned and what was committed and re-read)
// -> `dele` (audit, DELE, QUIT) and `refusals` (logged one per line, reported, non-zero exit).
//
// The rules ("nothing is lost"):
// * A message is deleted only when this session RETR'd it, the bytes were committed (durably)
//   under its identity, the archived copy re-read in this run hashes to what RETR returned, and
//   the RETR size agrees with its LIST size (pop3_size_agrees). A message archived in an earlier
//   session is RETR'd again before it is deleted; it is never deleted on the strength of its UIDL.
// * A UIDL listed twice in one session is never deleted (we cannot tell the two apart later).
// * Two messages of one session whose RETR returned identical bytes are deleted only if TOP n 0
//   of each shows the header of those bytes: a server answering RETR n with another message's
//   bytes looks like a mailbox holding one message twice (pop3_needs_top_confirmation).
// * A known UIDL whose TOP header hash or size disagrees with every archived copy is a reused
//   UIDL (the server lost its UIDL database): it is retrieved and archived as a new entry
//   (pop3_entry_key gives it its own key) and not deleted in this session.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "archive/hash.hpp"
#include "mailvault/config.hpp"

namespace mv::sync {

// Dovecot's LIST size, measured (tests/integration/sync_pop3_test.cpp, "LIST sizes"): the size of
// the message with every line end as CRLF, dot-unstuffed (stuffing is not counted) — i.e. exactly
// the bytes RETR delivers after unstuffing — except for a message stored without a final line end:
// RETR appends CRLF (the terminator must start a line) and LIST does not count it, so RETR is LIST
// + 2. Accepted: retr == list, or retr == list + 2 when the body ends with CRLF. Nothing else (a
// shorter body, a longer one, an "approximate" size) lets a message be deleted.
bool pop3_size_agrees(std::uint64_t list_size, std::uint64_t retr_size, bool ends_with_crlf);

// One message of this session's UIDL + LIST answers.
struct pop3_listed {
    std::uint32_t msgno = 0;
    std::uint64_t list_size = 0;
    std::string identity;  // the UIDL, or without UIDL the fallback "hdr-<hash>-<size>"
};

// One archived entry of the account's POP3 mailbox.
struct pop3_archived {
    std::string key;  // entries.uidl: the identity, or "<identity> sha256:<hex>" (pop3_entry_key)
    archive::sha256 content;
    std::uint64_t size = 0;       // bytes RETR returned when it was archived
    std::int64_t first_seen = 0;  // when it was first retrieved (entries.internaldate)
    bool live = true;             // not marked as gone from the server
};

// The identity part of an entry key ("abc sha256:..." -> "abc"). UIDLs have no spaces (RFC 1939:
// 0x21-0x7E), so a key with a space is always a second content under a reused UIDL.
std::string pop3_identity_of_key(const std::string& key);

// The key to store a body under: the key of an archived entry of that identity with the same
// content if there is one; else the identity itself if no entry uses it yet; else
// "<identity> sha256:<hex of content>" (a reused UIDL's new content, never overwriting the old).
std::string pop3_entry_key(const std::string& identity, const archive::sha256& content,
                           const std::vector<pop3_archived>& archived);

struct pop3_policy {
    config::pop3_delete del = config::pop3_delete::keep;
    std::int64_t older_than_seconds = 0;
    std::int64_t now = 0;
    bool have_uidl = true;
    bool allow_delete_without_uidl = false;
};

// Answer to TOP n 0 for a known message: the archived contents with the same header hash.
struct pop3_top_answer {
    bool ok = false;  // false: TOP failed (-ERR): identity is checked by size only
    std::set<archive::sha256> same_header;
};

enum class pop3_refusal_reason {
    duplicate_uidl,     // the identity is listed more than once in this session
    reused_uidl,        // a known identity now names different content
    size_mismatch,      // RETR size disagrees with LIST size
    duplicate_content,  // RETR of two messages returned identical bytes
    not_committed,      // the body did not arrive completely or was not committed
    reread_failed,      // the archived copy did not re-read to the RETR hash
};
const char* pop3_refusal_name(pop3_refusal_reason r) noexcept;

struct pop3_refusal {
    std::uint32_t msgno = 0;
    std::string identity;
    pop3_refusal_reason reason = pop3_refusal_reason::not_committed;
    std::string detail;  // one line, for the log
};

struct pop3_fetch_plan {
    std::vector<std::uint32_t> top;        // known messages needing TOP n 0 (first call only)
    std::vector<std::uint32_t> fetch;      // RETR in this session, ascending msgno
    std::uint64_t fetch_bytes = 0;         // their LIST sizes
    std::vector<std::uint32_t> fetch_new;  // those whose identity is not archived at all
    // Identities listed more than once, and reused identities: never deleted in this session.
    std::map<std::uint32_t, pop3_refusal> no_delete;
    // Known messages: the contents archived under their identity before this session. A RETR
    // returning anything else means the UIDL was reused.
    std::map<std::uint32_t, std::set<archive::sha256>> known_contents;
    std::vector<std::string> notes;  // loud log lines (reuse, duplicates, TOP failures)
    std::vector<std::string> gone;   // live archived keys whose identity is no longer listed
};

// `tops`: nullptr on the first call (known messages whose identity must be confirmed go to
// `top`, and are not decided yet); on the second call every msgno of the first call's `top`.
pop3_fetch_plan plan_pop3_fetch(const std::vector<pop3_listed>& listed,
                                const std::vector<pop3_archived>& archived,
                                const pop3_policy& policy,
                                const std::map<std::uint32_t, pop3_top_answer>* tops);

// What this session's RETR of one message returned and what became of it.
struct pop3_retrieved {
    archive::sha256 hash;  // of the exact bytes RETR returned (unstuffed)
    std::uint64_t size = 0;
    bool ends_with_crlf = false;
    bool committed = false;  // stored under `key` in a committed (durable) transaction
    std::string key;
    bool reread_ok = false;  // the archived copy under `key` re-read and re-hashed to `hash`
    // Only for messages pop3_needs_top_confirmation names: TOP n 0 gave the header of `hash`.
    bool top_confirms = false;
};

// Committed messages whose RETR bytes equal another message's in this session. A mailbox may
// hold the same message twice; a server answering RETR n with message m's bytes looks the same.
// Each of them is deleted only if TOP n 0 (asked separately) shows the header of those bytes.
// (A server that lies consistently in TOP and RETR about two messages of equal LIST size cannot
// be caught from the wire; everything else can.)
std::vector<std::uint32_t> pop3_needs_top_confirmation(
    const std::map<std::uint32_t, pop3_retrieved>& retrieved);

struct pop3_dele {
    std::uint32_t msgno = 0;
    std::string identity, key;
    archive::sha256 hash;
    std::uint64_t size = 0;
};

struct pop3_delete_plan {
    std::vector<pop3_dele> dele;  // ascending msgno
    std::vector<pop3_refusal> refusals;
};

// `archived` as it is after this session's commits (entries' first_seen decides older_than).
pop3_delete_plan plan_pop3_delete(const std::vector<pop3_listed>& listed,
                                  const std::vector<pop3_archived>& archived,
                                  const pop3_policy& policy, const pop3_fetch_plan& fetched,
                                  const std::map<std::uint32_t, pop3_retrieved>& retrieved);

}  // namespace mv::sync
