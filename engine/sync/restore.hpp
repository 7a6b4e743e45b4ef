// Writing archived messages back into an IMAP account (`mailvault restore`).
//
// Flow (one target account): connect and log in to the target -> NAMESPACE (personal prefix and
// delimiter, RFC 2342; else the delimiter from LIST) and LIST -> per archived folder of the
// source account(s), matching the patterns: the target name (sync/restore_plan.hpp
// map_folder_name; --map rules win) -> CREATE when missing -> SELECT (UIDVALIDITY,
// PERMANENTFLAGS) -> the ledger rows of that target folder (archive/ledger.hpp) and the pure plan
// -> every entry to resolve (an intent without confirmation, or a confirmation under another
// UIDVALIDITY) is looked up on the target (UID SEARCH HEADER Message-ID or by size, then
// RFC822.SIZE + INTERNALDATE, then SHA-256 of BODY.PEEK[] when ambiguous): found -> confirmed,
// absent -> appended like a new one -> every entry to append: the intent is committed
// (crash point restore.intent), the archived bytes are read (one message in memory at a time)
// and APPENDed with their flags and INTERNALDATE, then (crash point restore.appended) the
// confirmation with the APPENDUID joins a batch committed every `confirm_batch` messages and at
// the end of the folder (crash point restore.confirmed). A refused keyword is dropped (and
// reported); a message too big (APPENDLIMIT, NO [TOOBIG]/[LIMIT]) is skipped and reported; other
// NOs skip that message; a dead connection ends the account (a rerun resumes from the ledger).
// Gmail source accounts (X-GM attributes archived): their messages go by label, not through
// All Mail as a folder; see restore_options::gmail_labels and docs/restore.md, "Gmail".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mailvault/config.hpp"
#include "mailvault/error.hpp"
#include "sync/connect.hpp"
#include "sync/gmail_labels.hpp"
#include "sync/imap_sync.hpp"
#include "sync/restore_plan.hpp"

namespace mv::sync {

// Progress of one target folder, reported after every batch of APPENDs is answered.
struct restore_progress {
    std::string source_account, source_folder;  // UTF-8
    std::string target_folder;                  // UTF-8, as named on the target
    std::int64_t done = 0;                      // entries handled (appended, matched, skipped)
    std::int64_t total = 0;                     // entries of the folder to restore
    std::int64_t bytes = 0;                     // bytes appended so far in this folder
};

struct restore_options {
    std::vector<std::string> source_accounts;  // archived accounts; empty: all but the target
    std::vector<std::string> folders;          // source folder patterns; empty: every folder
    bool exclude_expunged = false;             // only entries not marked expunged on the source
    // Point in time (epoch seconds): only entries archived by then and not yet expunged then
    // (of the folder's current generation); overrides exclude_expunged.
    std::optional<std::int64_t> as_of;
    bool include_deleted = false;  // send \Deleted too
    // Messages already restored (ledger) whose archived flags changed since: set them on the
    // target (UID STORE FLAGS), the archive's flags winning. `migrate` sets it.
    bool update_flags = false;
    bool dry_run = false;  // connect, plan, report; no CREATE, APPEND or ledger write
    std::vector<folder_map_rule> maps;
    // Gmail source accounts (docs/restore.md, "Gmail"). Into a target without X-GM-EXT-1: the
    // virtual folders (\All, \Important, \Flagged: [Gmail]/All Mail, Important, Starred) are
    // not restored as folders; their messages go by their labels (sync/gmail_labels.hpp) into
    // every label folder not restored from an archived folder of the account in this run, and
    // one Gmail message (X-GM-MSGID) goes into one target folder once, whichever entry brings
    // it. Into Gmail (X-GM-EXT-1 and a \All folder): each message once into All Mail (drafts
    // into Drafts), then UID STORE +X-GM-LABELS. false (--gmail-labels=none): every archived
    // folder is restored as a plain folder.
    bool gmail_labels = true;
    label_mode gmail_mode = label_mode::every_label;  // primary_only: the first label folder only
    // Where a message without a folder label goes ('/'-separated, or "\\Archive" for the
    // target's \Archive folder); empty: "Archive".
    std::string gmail_archive_folder = "Archive";
    // After each folder: UID FETCH (UID BODY.PEEK[]) of every message the ledger confirms there
    // and compare the SHA-256 with the archived content (the target's copy, byte for byte).
    bool verify = false;
    bool verify_new_only = false;  // verify only what this run confirmed (migrate's reruns)
    // Target connections: folders are spread over them (0: the target account's
    // `connections`). Every target folder is written by one connection only. Default 1: several
    // sessions of one user writing at once meet the server's per-user locks and quota checks
    // (Dovecot let a 4th message past a 3-message quota that way); more is opt-in.
    int connections = 1;
    std::size_t confirm_batch = 100;
    // Pipelining (LITERAL+ / LITERAL- for small messages): at most this many APPENDs, and this
    // many literal bytes, in flight on one connection.
    std::size_t window_messages = 64;
    std::size_t window_bytes = 4u << 20;
    // NO [THROTTLED] / [UNAVAILABLE] / [INUSE] to an APPEND: wait (doubling from backoff_initial
    // up to backoff_max) and send it again, up to max_retries times; then it is skipped.
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{60000};
    int max_retries = 5;
    // A connection that dies mid-restore is opened again (and the folder resumed from the
    // ledger) up to this many times per account.
    int reconnects = 3;
    std::function<void(const std::string&)> log;
    std::function<void(const restore_progress&)> progress;
    // Tests: open the target session another way (default: open_imap).
    std::function<imap_session(const config::account&, const std::string& password)> open_session;
};

struct restore_skip {
    std::int64_t entry_id = 0;
    std::string reason;
};

struct restore_folder_report {
    std::string source_account, source_folder;  // UTF-8
    std::string target_folder;                  // UTF-8, as named on the target
    std::string note;                           // name translation note, if any
    bool created = false;
    std::optional<std::uint32_t> target_uidvalidity;
    std::int64_t entries = 0;        // archived entries considered
    std::int64_t appended = 0;       // APPEND answered OK
    std::int64_t already = 0;        // confirmed in the ledger: not sent again
    std::int64_t matched = 0;        // resolved: found on the target, confirmed without APPEND
    std::int64_t would_append = 0;   // dry run
    std::int64_t to_resolve = 0;     // dry run
    std::int64_t bytes = 0;          // bytes appended
    std::int64_t flags_updated = 0;  // already there, flags set to the archived ones
    std::vector<restore_skip> skipped;
    std::vector<std::string> dropped_keywords;  // "entry N: $Kw" (refused by the target)
    // verify: messages whose target copy was fetched and equals the archived bytes; problems
    // (missing on the target, other bytes); confirmed without a UID (no UIDPLUS): not checked.
    std::int64_t verified = 0;
    std::vector<std::string> verify_problems;
    std::int64_t unverifiable = 0;
    mv::error err;  // this folder failed
};

struct restore_report {
    std::string target;
    mv::error err;             // account-level (auth, TLS, network, ...)
    std::int64_t appends = 0;  // APPEND commands sent (including refused ones)
    int reconnects = 0;        // connections opened again after one died mid-restore
    std::vector<restore_folder_report> folders;
    bool anything_skipped() const;
    bool verify_failed() const;
};

// Never throws for target failures: they are in report.err. Archive failures throw.
restore_report restore_to_account(const config::account& target, shared_archive& ar,
                                  const restore_options& opts);

}  // namespace mv::sync
