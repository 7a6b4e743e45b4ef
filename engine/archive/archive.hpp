// The mailvault archive: one SQLite file holding accounts, mailboxes, deduplicated message
// contents (zstd, with trained dictionaries), per-mailbox entries, a header index with FTS5,
// sync runs and a hash-chained audit log. Format: docs/archive-format.md.
//
// Errors: database failures (locked, disk full, I/O, damaged file) throw mv::failure with
// errc::archive (errc::archive_corrupt when SQLite reports corruption); they abort the current
// batch, whose transaction rolls back. Content that fails verification is reported as a value
// (read_content returns mv::error, verify returns a report). Misuse (an entry for a content that
// was never stored, a watermark for the wrong UIDVALIDITY) throws errc::internal.
//
// Thread model: one archive object is used from one thread at a time. Other processes may read
// the same file concurrently (WAL); writers wait up to options::busy_timeout_ms.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "archive/hash.hpp"
#include "mailvault/error.hpp"
#include "mime/message_index.hpp"

namespace mv::archive {

inline constexpr std::size_t default_chunk_size = 1024 * 1024;
inline constexpr std::size_t default_part_min_size = 16 * 1024;

struct dictionary_policy {
    bool enabled = true;
    // A dictionary is trained once this many distinct messages are stored (our choice: message
    // count, not bytes; a few large attachments make a poor dictionary sample).
    std::int64_t min_messages = 1000;
    std::size_t dict_size = 110 * 1024;
    std::size_t max_samples = 4000;         // messages sampled for training
    std::size_t sample_prefix = 16 * 1024;  // bytes taken from the start of each sample
};

struct options {
    bool create = false;     // create the file if missing
    bool read_only = false;  // no migrations, no writes
    int zstd_level = 6;
    dictionary_policy dictionary;
    bool defer_index = false;  // put_content leaves indexing to index_pending()
    int busy_timeout_ms = 10000;
    std::size_t chunk_size = default_chunk_size;  // raw bytes per stored chunk, for new contents
    // Base64 runs of at least this many bytes are stored decoded, once per distinct content
    // (archive/segments.hpp, archive/prepared.hpp); 0 stores every message as it came.
    std::size_t part_min_size = default_part_min_size;
    mime::index_limits index_limits;
    std::function<std::int64_t()> clock;  // epoch seconds; default: time(nullptr)
};

enum class durability {
    normal,  // survives a crash of the process (kill -9); may lose the last commits on power loss
    full,    // fsynced before commit() returns: required before any server-side delete
};

class archive;
struct prepared_content;  // archive/prepared.hpp

// RAII write transaction (BEGIN IMMEDIATE). Rolls back in its non-throwing destructor unless
// committed. Not nestable; archive methods called inside it join it.
// Flow: construct -> archive calls -> commit(durability) (or destruction = rollback).
class transaction {
public:
    explicit transaction(archive& a);
    ~transaction();
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    void commit(durability d = durability::normal);

private:
    archive* a_;
    bool done_ = false;
};

struct account_info {
    std::string name;      // unique, from the config file
    std::string protocol;  // "imap", "pop3" or "import" (mailvault import, schema 12)
    std::string host;
    std::string username;  // never a password
};

struct mailbox_info {
    std::int64_t account_id = 0;
    std::string wire_name;  // exactly as on the wire (modified UTF-7 or UTF-8); "INBOX" for POP3
    std::string name;       // decoded UTF-8
    std::optional<std::string> delimiter;
    std::optional<std::string> special_use;
};

struct mailbox_state {
    std::int64_t id = 0;
    std::int64_t account_id = 0;
    std::string wire_name;
    std::string name;
    std::optional<std::string> delimiter;
    std::optional<std::string> special_use;
    std::optional<std::uint32_t> uidvalidity;
    std::optional<std::uint32_t> uidnext;
    std::optional<std::uint64_t> highestmodseq;
    std::optional<std::uint32_t> last_uid;
    std::int64_t generation = 1;
    std::optional<std::int64_t> last_synced;
    // What the server reported at the last completed sync of this folder (set_server_count).
    std::optional<std::int64_t> server_messages;
    std::optional<std::int64_t> server_counted_at;
};

struct watermarks {
    std::uint32_t uidvalidity = 0;
    std::optional<std::uint32_t> uidnext;
    std::optional<std::uint64_t> highestmodseq;
    std::optional<std::uint32_t> last_uid;
};

struct put_result {
    sha256 hash;
    std::int64_t content_id = 0;
    bool inserted = false;  // false: already stored (dedup)
};

struct content_info {
    std::int64_t id = 0;
    sha256 hash;
    std::uint64_t raw_size = 0;
    std::uint64_t stored_size = 0;
    std::string codec;  // "raw" or "zstd"
    std::optional<std::int64_t> dictionary_id;
    std::uint64_t chunk_size = 0;
    std::uint64_t chunk_count = 0;  // of the skeleton when the content has parts
    bool indexed = false;
    std::int64_t part_count = 0;  // decoded base64 runs stored apart (schema 10)
};

// Gmail's attributes of a message (X-GM-EXT-1), table gmail_entries (schema 8).
struct gmail_attrs {
    std::optional<std::uint64_t> msgid;  // X-GM-MSGID
    std::optional<std::uint64_t> thrid;  // X-GM-THRID
    // X-GM-LABELS in UTF-8, in the server's order, system labels with their backslash
    // ("\Inbox", "\Important", "\Starred", "\Sent", "\Draft", "\Trash", "\Spam"); empty:
    // no label (the message is only in All Mail).
    std::vector<std::string> labels;
    bool operator==(const gmail_attrs&) const = default;
};

// Labels compared as a set (Gmail's order carries no meaning): sorted, duplicates removed.
std::vector<std::string> canonical_labels(std::vector<std::string> labels);

// An entry to record: IMAP (uid set, uidl empty) or POP3 (uidl set, uid empty).
struct entry_record {
    std::int64_t mailbox_id = 0;
    std::optional<std::uint32_t> uidvalidity;  // must match the mailbox's current one (IMAP)
    std::optional<std::uint32_t> uid;
    std::optional<std::string> uidl;
    std::vector<std::string> flags;
    std::optional<std::uint64_t> modseq;
    std::optional<std::int64_t> internaldate;
    std::uint64_t size = 0;
    sha256 content;
    // Gmail attributes, written with the entry (its gmail_entries row; a label change also
    // gets a gmail_label_history row). nullopt: none recorded, an existing row is kept.
    std::optional<gmail_attrs> gmail = std::nullopt;
    // The zone of internaldate as the server sent it, minutes east of UTC (schema 9).
    std::optional<int> internaldate_tz = std::nullopt;
};

enum class upsert_result { inserted, updated, unchanged, content_conflict };

struct entry_view {
    std::int64_t id = 0;
    std::int64_t generation = 0;
    std::optional<std::uint32_t> uid;
    std::optional<std::string> uidl;
    std::string flags;  // canonical form, see canonical_flags()
    std::optional<std::uint64_t> modseq;
    std::optional<std::int64_t> internaldate;
    std::uint64_t size = 0;
    sha256 content;
    std::optional<std::int64_t> expunged_at;
    std::optional<int> internaldate_tz = std::nullopt;  // minutes east of UTC, as sent (schema 9)
};

struct located_entry {
    std::string account;
    std::string mailbox;  // decoded name
    std::optional<std::string> delimiter;
    entry_view entry;
};

struct entry_filter {
    std::optional<std::string> account;  // account name
    std::optional<std::string> mailbox;  // decoded or wire name
    bool include_expunged = true;
};

struct header_row {
    std::string parse_status;  // "ok" or "failed"
    std::string message_id, in_reply_to, references, from, to, cc, subject, date_raw;
    std::optional<std::int64_t> date_epoch;
};

struct search_hit {
    sha256 content;
    std::optional<std::int64_t> date_epoch;
    std::string from, subject;
    std::string location;  // "account/folder" of one entry holding it (empty if none)
};

struct sync_counters {
    std::int64_t messages_new = 0;
    std::int64_t messages_updated = 0;
    std::int64_t messages_expunged = 0;
    std::int64_t bytes_fetched = 0;
    std::int64_t errors = 0;
};

struct audit_report {
    std::int64_t rows = 0;
    std::vector<std::string> problems;  // empty: the chain is intact
    bool ok() const { return problems.empty(); }
};

struct mailbox_stats {
    std::string account;
    std::string mailbox;
    std::int64_t messages = 0;  // entries not expunged
    std::int64_t expunged = 0;
    std::int64_t raw_bytes = 0;     // sum of raw sizes of its entries' contents
    std::int64_t stored_bytes = 0;  // sum of stored sizes (shared contents count in each)
    std::optional<std::int64_t> server_messages;  // the server's count at the last sync
    std::optional<std::int64_t> server_counted_at;
};

struct archive_totals {
    std::int64_t contents = 0;
    std::int64_t raw_bytes = 0;
    std::int64_t stored_bytes = 0;
    std::int64_t entries = 0;
    std::int64_t dictionaries = 0;
};

struct entry_location {
    std::string account, mailbox;
    std::optional<std::uint32_t> uid;
    std::optional<std::string> uidl;
};

struct verify_problem {
    std::string what;                   // e.g. "content hash mismatch", "integrity_check: ..."
    std::optional<sha256> content;      // the damaged content, if any
    std::vector<entry_location> where;  // entries that refer to it
};

struct verify_report {
    std::int64_t contents_checked = 0;
    std::int64_t bytes_checked = 0;
    std::int64_t audit_rows = 0;
    std::vector<verify_problem> problems;
    bool ok() const { return problems.empty(); }
};

struct recompress_options {
    std::size_t batch = 200;       // contents per transaction
    bool train_if_missing = true;  // train a dictionary first if none exists yet
    bool retrain = false;          // train a new dictionary from current contents first
};

struct recompress_stats {
    std::int64_t examined = 0;
    std::int64_t rewritten = 0;
    std::int64_t bytes_before = 0;  // stored bytes of the rewritten contents, before
    std::int64_t bytes_after = 0;
};

// A legal hold (table legal_holds): while active, nothing in its scope may be deleted from the
// server (prune) or from the archive (purge).
struct legal_hold {
    std::int64_t id = 0;
    std::int64_t account_id = 0;
    std::string account;
    std::optional<std::int64_t> mailbox_id;  // nullopt: the whole account
    std::optional<std::string> mailbox;      // decoded folder name
    std::string reason;
    std::int64_t added_at = 0;
    std::optional<std::int64_t> released_at;
    bool active() const { return !released_at; }
};

struct audit_row {
    std::int64_t seq = 0;
    std::int64_t at = 0;
    std::string kind;
    std::string payload;  // JSON
    sha256 prev_hash, hash;
};

// An entry as purge sees it (any generation).
struct purge_row {
    std::int64_t entry_id = 0;
    std::int64_t account_id = 0;
    std::string account;
    std::int64_t mailbox_id = 0;
    std::string mailbox;
    std::optional<std::uint32_t> uidvalidity;
    std::optional<std::uint32_t> uid;
    std::optional<std::string> uidl;
    std::optional<std::int64_t> internaldate;
    std::int64_t first_seen = 0;
    std::optional<std::int64_t> expunged_at;
    std::uint64_t size = 0;
    sha256 content;
};

struct purge_stats {
    std::int64_t entries = 0;       // entry rows deleted
    std::int64_t contents = 0;      // contents no longer referenced, deleted with their chunks
    std::int64_t raw_bytes = 0;     // of those contents
    std::int64_t stored_bytes = 0;  // freed in the file (before VACUUM)
};

using progress_fn = std::function<void(std::int64_t done, std::int64_t total)>;
using sink_fn = std::function<void(std::string_view)>;

// Mail is private: when the archive file, its -wal/-shm or its directory can be read by users
// other than the owner, one line saying so and how to fix it (chmod); empty when all is private.
std::string exposure_warning(const std::filesystem::path& archive_path);

// Sorted, deduplicated, space-separated: the form stored in entries.flags.
std::string canonical_flags(std::vector<std::string> flags);
std::vector<std::string> split_flags(std::string_view canonical);

// Flow: construct (opens, migrates, loads dictionaries) -> [transaction -> writes -> commit]* ->
// close() or destruction.
class archive {
public:
    explicit archive(const std::filesystem::path& path, options opts = {});
    ~archive();
    archive(archive&&) noexcept;
    archive& operator=(archive&&) noexcept;
    archive(const archive&) = delete;
    archive& operator=(const archive&) = delete;
    void close() noexcept;

    static int schema_version();  // the newest migration this program knows
    int user_version() const;
    const std::filesystem::path& path() const;

    // Accounts and mailboxes.
    std::int64_t upsert_account(const account_info& a);
    std::optional<std::int64_t> find_account(std::string_view name);
    mailbox_state upsert_mailbox(const mailbox_info& m);  // keeps watermarks and generation
    std::optional<mailbox_state> mailbox(std::int64_t mailbox_id);
    std::optional<mailbox_state> find_mailbox(std::int64_t account_id, std::string_view wire_name);
    std::vector<mailbox_state> mailboxes(std::int64_t account_id);
    // Sets UIDVALIDITY (if not set yet; a different one throws: use begin_generation), UIDNEXT,
    // HIGHESTMODSEQ, last UID and last_synced. Call it in the transaction of the messages.
    void set_watermarks(std::int64_t mailbox_id, const watermarks& w);
    // UIDVALIDITY changed: bump the generation (old entries stay), record the event, clear
    // UIDNEXT / HIGHESTMODSEQ / last UID.
    mailbox_state begin_generation(std::int64_t mailbox_id, std::uint32_t new_uidvalidity);
    // Records how many messages the server reported for the folder (IMAP SELECT EXISTS, POP3
    // listing) when a sync of it completed, and when (epoch seconds). Joins the caller's
    // transaction; call it with the folder's final watermarks. Shown by `mailvault status`.
    void set_server_count(std::int64_t mailbox_id, std::int64_t messages, std::int64_t at_epoch);

    // Contents.
    put_result put_content(std::string_view raw);
    // The second half of a two-step store (archive/prepared.hpp): same result as put_content
    // of the message it was prepared from.
    put_result put_prepared(const prepared_content& p);
    bool has_content(const sha256& h);
    std::optional<content_info> content(const sha256& h);
    // Streams the exact bytes to `sink` in chunks (at most chunk_size each), re-hashing them.
    // On a mismatch the sink may already have received bytes; the error says so.
    mv::error read_content(const sha256& h, const sink_fn& sink);
    mv::error read_content(const sha256& h, std::string& out);
    std::vector<sha256> find_contents_by_prefix(std::string_view hex_prefix,
                                                std::size_t limit = 10);
    std::int64_t index_pending(std::int64_t limit = -1);  // returns how many were indexed
    std::optional<header_row> headers(const sha256& h);

    // Dictionaries.
    std::optional<std::int64_t> current_dictionary() const;
    // Trains from a sample of stored contents; returns the new dictionary id (nullopt if there
    // is too little material).
    std::optional<std::int64_t> train_dictionary();
    recompress_stats recompress(const recompress_options& o = {}, const progress_fn& p = {});

    // Entries.
    upsert_result upsert_entry(const entry_record& e);
    bool update_flags(std::int64_t mailbox_id, std::uint32_t uid, std::vector<std::string> flags,
                      std::optional<std::uint64_t> modseq);
    // Gmail attributes of the entry with this UID in the mailbox's current generation: writes
    // its gmail_entries row; a change of labels (compared as a set) also writes a
    // gmail_label_history row. msgid/thrid left unset keep the recorded ones. Returns true when
    // the labels changed (or were recorded for the first time); false when nothing changed or
    // there is no such entry.
    bool update_gmail(std::int64_t mailbox_id, std::uint32_t uid, const gmail_attrs& g,
                      std::optional<std::uint64_t> modseq);
    // What is recorded for an entry (nullopt: no Gmail attributes, not a Gmail entry).
    std::optional<gmail_attrs> gmail_of(std::int64_t entry_id);
    // Every entry (any mailbox and generation of the account) recorded with this X-GM-MSGID:
    // the copies of one Gmail message, ascending entry id.
    std::vector<std::int64_t> entries_of_gmail_message(std::int64_t account_id,
                                                       std::uint64_t msgid);
    std::int64_t mark_expunged(std::int64_t mailbox_id, std::span<const std::uint32_t> uids);
    std::int64_t mark_expunged_uidl(std::int64_t mailbox_id, std::span<const std::string> uidls);
    // Entries of one generation (default: current), ordered by uid (or uidl), streamed.
    void for_each_entry(std::int64_t mailbox_id, const std::function<void(const entry_view&)>& fn,
                        std::optional<std::int64_t> generation = std::nullopt);
    // Entries of the current generation not marked expunged (what the server should hold).
    std::int64_t live_count(std::int64_t mailbox_id);
    // Their UIDs, ascending (IMAP entries only).
    std::vector<std::uint32_t> live_uids(std::int64_t mailbox_id);
    std::vector<entry_view> list_entries(std::int64_t mailbox_id,
                                         std::optional<std::int64_t> generation = std::nullopt);
    void for_each_located_entry(const entry_filter& f,
                                const std::function<void(const located_entry&)>& fn);
    // How many entries for_each_located_entry(f, ...) would visit.
    std::int64_t count_located_entries(const entry_filter& f);
    std::optional<entry_view> find_entry(std::string_view account, std::string_view mailbox,
                                         std::uint32_t uid);
    // UIDVALIDITY recovery: contents already archived that match.
    std::vector<sha256> find_by_size_and_message_id(std::uint64_t size,
                                                    std::string_view message_id);
    std::vector<sha256> find_by_header_hash(const sha256& header_hash);

    // Sync runs.
    std::int64_t begin_sync_run(std::optional<std::int64_t> account_id);
    void finish_sync_run(std::int64_t run_id, std::string_view status, const sync_counters& c,
                         std::string_view detail = {});
    // When the account's latest sync run that finished with status "ok" ended (nullopt: none).
    std::optional<std::int64_t> last_completed_sync(std::int64_t account_id);
    // Every account in the archive (by name), with its id.
    std::vector<std::pair<std::int64_t, account_info>> accounts();

    // Audit log (append-only, hash chained).
    std::int64_t audit_append(std::string_view kind, std::string_view json_payload);
    audit_report audit_verify();

    // Legal holds. add_hold and release_hold append their audit record in the same savepoint
    // (they join the caller's transaction). release_hold throws errc::usage when the hold does not
    // exist or is already released.
    std::int64_t add_hold(std::int64_t account_id, std::optional<std::int64_t> mailbox_id,
                          std::string_view reason);
    legal_hold release_hold(std::int64_t hold_id, std::string_view reason);
    std::vector<legal_hold> holds(bool include_released = false);

    // Audit rows in order (for export).
    // Rows in order; with `after_seq`, only those newer than it (what a run wrote since its mark).
    void for_each_audit(const std::function<void(const audit_row&)>& fn,
                        std::int64_t after_seq = 0);
    // The newest row's seq (0 for an empty log): a run's mark, read without scanning the log.
    std::int64_t last_audit_seq();

    // Archive-side retention. purge_rows lists entries of every generation (optionally of one
    // account / folder); purge_entries deletes the given entries (and their flag history), then
    // every content no longer referenced by any entry, with its chunks and index rows. Call it in
    // a transaction; it does not check holds or ages (sync/retention.hpp decides).
    std::vector<purge_row> purge_rows(const entry_filter& f);
    purge_stats purge_entries(std::span<const std::int64_t> entry_ids);

    // Search and statistics.
    // The query language of archive/searcher.hpp (docs/search.md), newest first, at most one
    // hit per content (search_hit::location names one entry holding it). A bad query is
    // errc::usage.
    std::vector<search_hit> search(std::string_view query, std::size_t limit = 50);
    std::vector<mailbox_stats> stats();  // every mailbox, also those with no entries
    archive_totals totals();

    // Full check: every content decompressed and re-hashed (streaming), PRAGMA integrity_check,
    // foreign keys, audit chain.
    verify_report verify(const progress_fn& p = {});
    // From any thread: the statement this archive runs now (and any until it returns) fails
    // with SQLITE_INTERRUPT, i.e. throws; for ending a long verify when the watcher stops.
    void interrupt() noexcept;

    struct impl;

private:
    friend class transaction;
    friend class content_writer;
    friend class preparer;
    friend class ledger;    // archive/ledger.hpp (restore ledger)
    friend class searcher;  // archive/searcher.hpp (query language)
    friend class browser;   // archive/browser.hpp (read-only views for the web viewer)
    std::unique_ptr<impl> d_;
};

}  // namespace mv::archive
