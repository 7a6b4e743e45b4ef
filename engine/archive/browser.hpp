// Read-only views of the archive for reading mail: the web viewer (mailvault serve) and
// mailvault show. Accounts with their folder trees and counts, a folder's entries paged newest
// first, one entry with where it is filed, every entry holding a content, a thread by
// Message-ID / References / In-Reply-To, the audit log paged, holds. Every list is bounded by
// its caller's limit: nothing here loads a whole folder or archive.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"

namespace mv::archive {

struct folder_row {
    std::int64_t mailbox_id = 0;
    std::string name;  // decoded
    std::optional<std::string> delimiter;
    std::optional<std::string> special_use;
    std::int64_t messages = 0;  // entries not expunged (every generation)
    std::int64_t expunged = 0;
};

struct account_row {
    std::int64_t id = 0;
    account_info info;
    std::vector<folder_row> folders;  // by name
};

// One entry (a message in one folder), with what the header index knows of its content.
struct entry_row {
    std::int64_t entry_id = 0;
    std::int64_t mailbox_id = 0;
    std::string account, folder;
    std::string protocol;  // of the account: "imap" or "pop3"
    std::optional<std::uint32_t> uidvalidity;
    std::optional<std::uint32_t> uid;
    std::optional<std::string> uidl;
    std::string flags;
    std::optional<std::int64_t> internaldate;
    std::optional<int> internaldate_tz;
    std::optional<std::int64_t> date_epoch;  // Date: header
    std::string from, to, subject, message_id;
    std::uint64_t size = 0;
    sha256 content;
    std::optional<std::int64_t> expunged_at;
    bool held = false;  // under an active legal hold (account or folder)
    // Newest-first key: Date: header, else INTERNALDATE.
    std::optional<std::int64_t> when() const { return date_epoch ? date_epoch : internaldate; }
};

template <class T>
struct page_of {
    std::vector<T> rows;
    bool more = false;  // another page exists after this one
    std::optional<std::int64_t> total;
};

// A hold by query (schema 0013, docs/retention.md "Holds by query"): the entries a query
// matched when the hold was added.
struct query_hold {
    std::int64_t id = 0;  // shown as "q<id>": its own numbering, apart from legal_holds
    std::string query, reason;
    std::int64_t matched = 0;  // entries held
    std::int64_t added_at = 0;
    std::optional<std::int64_t> released_at;
};

// Flow: construct over an open archive -> any queries, from the archive's thread.
class browser {
public:
    explicit browser(archive& a) : a_(a) {}

    std::vector<account_row> accounts();
    std::optional<folder_row> folder(std::int64_t mailbox_id);
    // The folder's entries of every generation, newest first (Date, else INTERNALDATE).
    page_of<entry_row> folder_entries(std::int64_t mailbox_id, std::size_t offset,
                                      std::size_t limit);
    std::optional<entry_row> entry(std::int64_t entry_id);
    // Every entry holding the content, by account, folder, UID.
    std::vector<entry_row> holders(const sha256& content, std::size_t limit = 200);
    // A POP3 (or any) entry by its UIDL in an account; the newest when several generations.
    std::optional<entry_row> find_uidl(std::string_view account, std::string_view uidl);
    // The entries of the thread the entry belongs to, oldest first: its ancestors (References,
    // In-Reply-To) and the replies to any of them, one entry per distinct content.
    std::vector<entry_row> thread(std::int64_t entry_id, std::size_t limit = 200);
    // Audit rows newest first; total set.
    page_of<audit_row> audit(std::size_t offset, std::size_t limit);
    std::vector<legal_hold> holds() { return a_.holds(true); }

    // Holds by query. Writes join the caller's transaction (one savepoint otherwise) with their
    // audit row (hold_add / hold_release with "query" and "matched"). `entries`: the entry ids
    // the query matched, as searcher::each gave them.
    std::int64_t add_query_hold(std::string_view query, std::string_view reason,
                                const std::vector<std::int64_t>& entries);
    std::vector<query_hold> query_holds(bool include_released);
    // errc::usage when there is no such hold or it was released already.
    query_hold release_query_hold(std::int64_t id, std::string_view reason);
    // Every entry under an active hold by query, ascending (prune and purge skip them).
    std::vector<std::int64_t> query_held_entries();

private:
    // Rows of the common entry SELECT followed by `tail` (WHERE ... ORDER BY ... LIMIT ...),
    // whose parameters `bind` sets.
    std::vector<entry_row> query(std::string_view tail,
                                 const std::function<void(void* statement)>& bind);
    void mark_held(std::vector<entry_row>& rows);
    archive& a_;
};

}  // namespace mv::archive
