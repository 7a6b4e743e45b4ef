// Proving completeness against the server (`mailvault verify --against-server`): for every
// selected folder of an account, the server's list of messages (IMAP: UID and RFC822.SIZE of each,
// in a read-only EXAMINE session; POP3: UIDL and LIST) compared with the archive's live entries of
// the current generation. Nothing on the server changes.
//
// Flow (one IMAP account): connect -> LIST, keep the folders the account selects
// (config::folder_selected) -> per folder: EXAMINE -> UIDVALIDITY compared with the archive's
// (a different one is reported: nothing of the server's generation is archived yet) -> UID FETCH
// 1:* (UID RFC822.SIZE), two numbers kept per message -> the archive's live entries of the
// current generation -> compare_listing (pure) -> archived folders the account selects that the
// server no longer lists are reported with their live entries as extra -> LOGOUT.
// POP3: connect -> UIDL + LIST -> compare with the INBOX entries by UIDL -> QUIT (no DELE, ever).
// A refused command costs that folder; a dead connection or failed login ends the account
// (mailvault/failure_policy.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "archive/archive.hpp"
#include "mailvault/config.hpp"
#include "mailvault/error.hpp"

namespace mv::sync {

// One message as listed: its identity (IMAP UID as decimal, or POP3 UIDL) and size.
struct listed_message {
    std::string id;
    std::uint64_t size = 0;
};

struct size_disagreement {
    std::string id;  // UID (decimal) or UIDL
    std::uint64_t server = 0, archived = 0;
};

// The comparison of one folder. Counts are complete; the id lists hold at most `limit` entries.
struct listing_comparison {
    std::uint64_t on_server = 0;  // distinct identities the server listed
    std::uint64_t archived = 0;   // live archived entries compared with
    std::uint64_t missing = 0;    // on the server, not archived
    std::uint64_t extra = 0;      // archived live, not on the server (sync has not seen it go)
    std::uint64_t size_mismatches = 0;
    std::uint64_t duplicates = 0;          // identities the server listed more than once
    std::vector<std::string> missing_ids;  // ascending (UIDs numerically)
    std::vector<std::string> extra_ids;
    std::vector<size_disagreement> mismatches;
    std::vector<std::string> duplicate_ids;
    // Nothing on the server is unaccounted for (extra alone does not make it incomplete).
    bool complete() const { return missing == 0 && size_mismatches == 0 && duplicates == 0; }
};

// How the server's size of a message must relate to the archived byte count.
enum class size_rule {
    exact,  // IMAP RFC822.SIZE (measured: Dovecot and Cyrus report the bytes they serve)
    pop3,   // POP3 LIST: equal, or RETR = LIST + 2 for a message stored without a final line end
};

// Pure: server listing vs archive listing. `numeric`: ids are UIDs (sorted as numbers).
listing_comparison compare_listing(std::vector<listed_message> server,
                                   std::vector<listed_message> archived, bool numeric,
                                   std::size_t limit, size_rule sizes = size_rule::exact);

struct reconcile_folder {
    std::string name;  // UTF-8 ("INBOX" for POP3)
    std::optional<std::uint32_t> server_uidvalidity, archive_uidvalidity;
    bool uidvalidity_differs = false;  // the archive holds another generation of this folder
    bool on_server_listed = true;      // false: archived, but the server no longer lists it
    listing_comparison cmp;
    mv::error err;  // this folder could not be compared
};

struct reconcile_report {
    std::string account;
    std::string protocol;  // "imap" or "pop3"
    mv::error err;         // account-level: connect, login, network
    std::vector<reconcile_folder> folders;
    // Every folder compared and nothing on the server missing or disagreeing.
    bool complete() const;
    // Something on the server is missing from the archive or disagrees with it.
    bool gaps() const;
};

struct reconcile_options {
    std::size_t limit = 20;  // ids listed per category and folder
    std::function<void(const std::string&)> log;
};

// Never throws for account-level failures: they are in report.err.
reconcile_report reconcile_account(const config::account& acct, archive::archive& ar,
                                   const reconcile_options& opts);

}  // namespace mv::sync
