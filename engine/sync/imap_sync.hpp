// Mirroring IMAP accounts into the archive.
//
// Flow (one account): resolve the password -> open `connections` authenticated sessions -> LIST
// (with STATUS when LIST-STATUS is offered, else one STATUS per folder) -> folders whose
// UIDVALIDITY/UIDNEXT/MESSAGES/HIGHESTMODSEQ match the archive are skipped -> the others go to a
// queue that the sessions drain in parallel. Per folder: EXAMINE (with QRESYNC or CONDSTORE
// parameters when possible) -> plan (sync/planner.hpp) -> flag changes and expunges ->
// new messages by pipelined UID FETCH, committed in batches together with the folder's last UID
// -> final watermarks (UIDNEXT, HIGHESTMODSEQ). A kill at any point leaves committed batches and
// watermarks that describe exactly them, so the next run resumes without gaps or duplicates.
// A UIDVALIDITY change starts a new generation and reuses archived bodies matched by header hash
// and size. What a failure costs is decided by mailvault/failure_policy.hpp: a network drop
// reconnects (with backoff) and resumes the folder; a NO/BAD on a folder's EXAMINE, UID SEARCH or
// UID FETCH skips that folder with a report; an account-level failure ends that account only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "mailvault/config.hpp"
#include "mailvault/error.hpp"
#include "sync/connect.hpp"

namespace mv::sync {

// A mutex that adds up how long its users waited for it and held it: the archive has one
// writer; held time close to the wall time means that writer is what limits a many-account
// sync (`sync --stats` prints both).
class measured_mutex {
public:
    void lock() {
        if (!m_.try_lock()) {
            const auto t0 = clock::now();
            m_.lock();
            waited_ns_.fetch_add((clock::now() - t0).count(), std::memory_order_relaxed);
            contended_.fetch_add(1, std::memory_order_relaxed);
        }
        acquired();
    }
    bool try_lock() {
        if (!m_.try_lock()) return false;
        acquired();
        return true;
    }
    void unlock() {
        held_ns_.fetch_add((clock::now() - since_).count(), std::memory_order_relaxed);
        m_.unlock();
    }
    double waited_seconds() const { return static_cast<double>(waited_ns_.load()) / 1e9; }
    double held_seconds() const { return static_cast<double>(held_ns_.load()) / 1e9; }
    std::uint64_t acquisitions() const { return acquired_.load(); }
    std::uint64_t contended() const { return contended_.load(); }

private:
    using clock = std::chrono::steady_clock;
    void acquired() {
        acquired_.fetch_add(1, std::memory_order_relaxed);
        since_ = clock::now();  // written and read only by the holder
    }
    std::mutex m_;
    clock::time_point since_{};
    std::atomic<std::int64_t> waited_ns_{0}, held_ns_{0};
    std::atomic<std::uint64_t> acquired_{0}, contended_{0};
};

// The archive, shared by every worker; each batch locks it once to store what its writer
// thread prepared without it (archive/prepared.hpp).
struct shared_archive {
    archive::archive& a;
    measured_mutex mu;
    explicit shared_archive(archive::archive& ar) : a(ar) {}
};

struct folder_report {
    std::string name;      // UTF-8
    bool skipped = false;  // unchanged since the last sync (one round trip)
    bool uidvalidity_changed = false;
    std::string strategy;  // "qresync", "condstore", "listing", "first", "new-generation"
    std::int64_t server_messages = 0;
    std::int64_t new_messages = 0;    // entries added
    std::int64_t bodies_fetched = 0;  // BODY[] downloads
    std::int64_t bytes_fetched = 0;   // raw bytes of those bodies
    std::int64_t reused_bodies = 0;   // entries recorded without download (UIDVALIDITY change)
    std::int64_t flags_updated = 0;
    std::int64_t labels_updated = 0;  // Gmail: entries whose X-GM-LABELS changed
    std::int64_t expunged = 0;        // marked expunged in the archive (never removed)
    std::int64_t would_fetch = 0;     // --dry-run: bodies that would be downloaded
    std::int64_t would_fetch_bytes = 0;
    std::int64_t deletions_refused = 0;  // archived copy failed re-verification: not deleted
    mv::error err;                       // NO on SELECT, etc.: this folder only
};

struct account_report {
    std::string name;
    std::string protocol;
    mv::error err;  // account-level failure (auth, network, TLS ...); folders may be partial
    std::vector<folder_report> folders;
    std::uint64_t commands = 0;    // IMAP commands sent (all connections)
    std::uint64_t bytes_read = 0;  // bytes received (after TLS and inflate)
    int reconnects = 0;
    std::int64_t deleted_on_server = 0;  // POP3 DELE committed by QUIT
    double seconds = 0;
};

struct progress_counters {
    std::atomic<std::int64_t> folders_done{0}, folders_total{0};
    std::atomic<std::int64_t> messages{0}, bytes{0};
    // Estimated from the folder listings when an account starts, then corrected per folder.
    std::atomic<std::int64_t> expected_messages{0}, expected_bytes{0};
    std::atomic<std::int64_t> listed_accounts{0};  // accounts whose folders are listed
};

struct sync_options {
    bool dry_run = false;
    std::vector<std::string> only_folders;  // empty: as configured
    progress_counters* progress = nullptr;
    std::size_t batch_messages = 500;  // commit after this many messages ...
    // ... or this many raw bytes. Per connection, one batch fills, one waits and one is
    // prepared and committed (with its decoded parts and frames): 2 MB keeps a 2-connection
    // sync of big mail near 64 MB and costs nothing measurable in commits (WAL, no fsync).
    std::size_t batch_bytes = 2u << 20;
    std::size_t fetch_chunk = 200;  // UIDs per UID FETCH command
    // Bodies larger than this stream into the archive as they arrive instead of being buffered
    // (bounded memory whatever the message size).
    std::uint64_t stream_threshold = 4u << 20;
    int max_reconnects = 3;
    int reconnect_backoff_ms = 200;  // doubled per reconnect of a session
    // Called with log lines (one per folder, errors); may be empty.
    std::function<void(const std::string&)> log;
    // Opens an authenticated IMAP session (empty: sync::open_imap over the network). The seam
    // through which tests run whole syncs over scripted transports.
    std::function<imap_session(const config::account&, const std::string& password)> open_session;
};

account_report sync_imap_account(const config::account& acct, shared_archive& ar,
                                 const sync_options& opts);

}  // namespace mv::sync
