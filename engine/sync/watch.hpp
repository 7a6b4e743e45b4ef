// `mailvault watch`: keeping the archive current for months (docs/watch.md).
//
// Flow (one account_worker per account, each with its own threads, so one failing or slow
// account never stalls another):
//  * a sync thread runs the ordinary sync_account (sync/sync.hpp): a full sync at start and every
//    watch_interval, and in between a sync of only the folders an idler marked changed. The sync
//    workflow keeps its guarantees (watermarks commit with their batch: no gap, no duplicate);
//    nothing here writes the archive itself.
//  * IMAP: idler threads hold their own connection in IDLE (imap::idle_op): one on the first
//    watch folder with NOTIFY (RFC 5465: every personal folder's changes arrive on it) when the
//    server offers NOTIFY, else one per watch folder. Each change marks its folder and wakes the
//    sync thread; IDLE is re-issued before the 29-minute limit (idle_restart). A change that
//    arrives while a sync runs marks the folder again, so it is picked up by the next one.
//  * POP3: the sync thread polls every watch_interval (deletion rules as in sync).
//  * Any failure (connect, login, IDLE, a sync) is logged as one line and retried after a
//    capped, jittered exponential back-off (retry_min .. retry_max), forever. A reconnected
//    idler marks its folder changed (what arrived while it was away is synced).
//  * stop(): idlers' connections are cancelled; a sync in progress ends as after a lost
//    connection when mv::request_stop() was called (its batch commits or rolls back), else it
//    finishes; threads join.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mailvault/config.hpp"
#include "mailvault/error.hpp"
#include "sync/sync.hpp"

namespace mv::sync {

// The delay before retry number `failures` (1, 2, ...): retry_min doubled per failure, capped at
// retry_max, then scaled by `jitter` in [0.5, 1] so that many accounts failing together (the
// network came back) do not reconnect in lockstep. Pure.
std::chrono::milliseconds backoff_delay(int failures, std::chrono::milliseconds retry_min,
                                        std::chrono::milliseconds retry_max, double jitter);

// What the sync thread does next, from what is pending. Pure (tested table-driven).
struct watch_plan_input {
    std::chrono::steady_clock::time_point now, next_full, retry_at;
    bool full_requested = false;     // NOTIFY overflow, mailbox created/renamed, reload
    std::vector<std::string> dirty;  // folders an idler saw change
};
struct watch_plan {
    enum class kind { wait, full, folders } k = kind::wait;
    std::vector<std::string> folders;                 // kind::folders
    std::chrono::steady_clock::time_point wake_at{};  // kind::wait: at the latest
};
watch_plan plan_watch(const watch_plan_input& in);

struct watch_options {
    std::chrono::milliseconds idle_restart{std::chrono::minutes(25)};  // RFC 2177: < 29 min
    std::chrono::milliseconds retry_min{1000}, retry_max{std::chrono::minutes(5)};
    // Override of every account's watch_interval (tests); 0: use the account's.
    std::chrono::milliseconds interval_override{0};
    sync_options sync;  // the template of every sync (batch sizes, the open_session seam)
    // One line per event worth a log line (sync results, failures, reconnects).
    std::function<void(const std::string&)> log;
    // The first sync of every account ended (ok or failed): READY for systemd.
    std::function<void()> on_ready;
    // Called after each sync with its report (status lines, tests).
    std::function<void(const account_report&, bool full)> on_sync;
};

struct account_watch_state {
    std::string name;
    bool idling = false;         // an idler is in IDLE right now
    bool notify = false;         // NOTIFY is in use
    int failures = 0;            // consecutive failures (0: all well)
    std::string last_error;      // the last failure's message
    std::uint64_t syncs = 0;     // syncs completed
    std::int64_t last_sync = 0;  // UTC epoch of the last successful sync (0: none yet)
};

class account_worker;

class watcher {
public:
    watcher(shared_archive& ar, watch_options o);
    ~watcher();  // stop()
    watcher(const watcher&) = delete;
    watcher& operator=(const watcher&) = delete;

    // Makes exactly `accounts` run: starts the new ones, stops the removed ones and restarts
    // those whose settings changed (SIGHUP); an unchanged account keeps running undisturbed.
    // Returns the names started or restarted.
    std::vector<std::string> apply(const std::vector<config::account>& accounts);
    void stop();
    std::vector<account_watch_state> states() const;
    bool ready() const;  // every account finished its first sync

private:
    void check_ready();
    void wake_all();
    shared_archive& ar_;
    mutable std::mutex wmu_;  // guards workers_ and ready_sent_
    watch_options o_;
    std::vector<std::unique_ptr<account_worker>> workers_;
    int stop_cb_ = -1;
    bool ready_sent_ = false;
};

// The watcher's lock beside the archive (<archive>.watch.lock, mode 0600): held with flock for
// the watcher's lifetime, holding "pid start-epoch". A second watcher on the same archive is
// refused; `status` reads who holds it.
struct watcher_info {
    pid_t pid = 0;
    std::int64_t since = 0;  // UTC epoch
};
std::filesystem::path watch_lock_path(const std::filesystem::path& archive);

class watch_lock {
public:
    // Takes the lock, or returns nullptr and sets `err`: errc::archive when another watcher
    // holds it (naming its pid and start time), errc::io when the file cannot be made.
    static std::unique_ptr<watch_lock> acquire(const std::filesystem::path& archive,
                                               mv::error& err);
    ~watch_lock();
    watch_lock(const watch_lock&) = delete;
    watch_lock& operator=(const watch_lock&) = delete;

private:
    explicit watch_lock(int fd) : fd_(fd) {}
    int fd_;
};

// Who holds the lock now; nullopt when no watcher runs on this archive.
std::optional<watcher_info> running_watcher(const std::filesystem::path& archive);

}  // namespace mv::sync
