#include "sync/watch.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "mailvault/net.hpp"
#include "mailvault/stop.hpp"
#include "mailvault/units.hpp"

namespace mv::sync {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---------------------------------------------------------------- pure decisions

milliseconds backoff_delay(int failures, milliseconds retry_min, milliseconds retry_max,
                           double jitter) {
    if (failures < 1) return milliseconds(0);
    retry_min = std::max(retry_min, milliseconds(1));
    retry_max = std::max(retry_max, retry_min);
    // Doubling stops at the cap (no overflow however many failures a month brings).
    auto d = retry_min;
    for (int i = 1; i < failures && d < retry_max; ++i) d *= 2;
    d = std::min(d, retry_max);
    jitter = std::clamp(jitter, 0.5, 1.0);
    return std::max(
        milliseconds(1),
        milliseconds(static_cast<std::int64_t>(static_cast<double>(d.count()) * jitter)));
}

watch_plan plan_watch(const watch_plan_input& in) {
    watch_plan p;
    // After a failure nothing runs before the back-off ends, whatever is pending.
    if (in.now < in.retry_at) {
        p.wake_at = in.retry_at;
        return p;
    }
    if (in.full_requested || in.now >= in.next_full) {
        p.k = watch_plan::kind::full;
        return p;
    }
    if (!in.dirty.empty()) {
        p.k = watch_plan::kind::folders;
        std::set<std::string> seen;
        for (const auto& f : in.dirty)
            if (seen.insert(f).second) p.folders.push_back(f);
        return p;
    }
    p.wake_at = in.next_full;
    return p;
}

// ---------------------------------------------------------------- account worker

namespace {

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

// Everything of an account that changes what its worker does: a reload restarts the worker
// when this differs.
std::string settings_key(const config::account& a) {
    std::ostringstream o;
    o << a.name << '|' << config::to_string(a.protocol) << '|' << a.host << '|' << a.port << '|'
      << config::to_string(a.tls) << '|' << a.user << '|' << config::to_string(a.auth) << '|'
      << config::to_string(a.password.kind) << '|' << a.password.value << '|' << join(a.folders)
      << '|' << join(a.exclude) << '|' << a.connections << '|' << a.ca_file.string() << '|'
      << a.fingerprint << '|' << a.tls_insecure_skip_verify << a.allow_plaintext << '|'
      << a.timeout.count() << '|' << a.max_message_bytes << '|'
      << config::to_string(a.delete_policy) << '|' << a.delete_older_than.count() << '|'
      << a.allow_delete_without_uidl << '|' << config::to_string(a.compress) << '|'
      << a.enable_qresync << '|' << a.watch_interval.count() << '|' << join(a.watch_folders);
    return o.str();
}

double jitter01() {
    thread_local std::mt19937 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.5, 1.0)(rng);
}

std::int64_t epoch_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

class account_worker {
public:
    account_worker(config::account a, shared_archive& ar, const watch_options& o)
        : acct_(std::move(a)), key_(settings_key(acct_)), ar_(ar), o_(o) {
        state_.name = acct_.name;
    }
    ~account_worker() { stop(); }

    const std::string& name() const { return acct_.name; }
    const std::string& key() const { return key_; }

    void start(std::function<void()> first_sync_done) {
        first_done_ = std::move(first_sync_done);
        threads_.emplace_back([this] { sync_loop(); });
        if (acct_.protocol != config::protocol::imap) return;
        threads_.emplace_back([this] { spare_loop(); });
        // Idlers start once the first full sync is under way; each opens its own connection.
        for (std::size_t i = 0; i < acct_.watch_folders.size(); ++i)
            threads_.emplace_back([this, i] { idle_loop(i); });
    }

    // Wakes every thread (quick: safe from a stop callback).
    void wake_for_stop() {
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
            for (auto* c : conns_) c->cancel();
        }
        cv_.notify_all();
    }

    void stop() {
        wake_for_stop();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }

    bool first_sync_done() const {
        std::lock_guard lk(mu_);
        return first_sync_;
    }

    account_watch_state state() const {
        std::lock_guard lk(mu_);
        auto s = state_;
        s.idling = idling_ > 0;
        return s;
    }

private:
    void log(const std::string& line) const {
        if (o_.log) o_.log(account_prefix(acct_) + line);
    }

    milliseconds interval() const {
        if (o_.interval_override.count() > 0) return o_.interval_override;
        return std::chrono::duration_cast<milliseconds>(acct_.watch_interval);
    }

    // Waits until `until` or a stop; true when stopping.
    bool sleep_until(std::unique_lock<std::mutex>& lk, clock::time_point until) {
        cv_.wait_until(lk, until, [&] { return stopping_; });
        return stopping_;
    }

    void mark(const std::string& folder, bool full) {
        {
            std::lock_guard lk(mu_);
            if (full)
                full_requested_ = true;
            else if (std::find(dirty_.begin(), dirty_.end(), folder) == dirty_.end())
                dirty_.push_back(folder);
        }
        cv_.notify_all();
    }

    // ---- the sync thread

    void sync_loop() {
        std::unique_lock lk(mu_);
        auto next_full = clock::now();  // a full sync at start
        auto retry_at = clock::time_point{};
        int failures = 0;
        while (!stopping_) {
            watch_plan_input in{clock::now(), next_full, retry_at, full_requested_, dirty_};
            auto plan = plan_watch(in);
            if (plan.k == watch_plan::kind::wait) {
                cv_.wait_until(lk, plan.wake_at, [&] {
                    return stopping_ ||
                           ((full_requested_ || !dirty_.empty()) && clock::now() >= retry_at);
                });
                continue;
            }
            const bool full = plan.k == watch_plan::kind::full;
            full_requested_ = false;
            dirty_.clear();
            lk.unlock();

            sync_options so = o_.sync;
            if (!full) so.only_folders = plan.folders;
            if (acct_.protocol == config::protocol::imap)
                so.open_session = [this](const config::account& a, const std::string& pw) {
                    return take_session(a, pw);
                };
            const auto t0 = clock::now();
            account_report rep;
            try {
                rep = sync_account(acct_, ar_, so);
            } catch (const mv::failure& f) {
                rep.err = f.err;
            } catch (const std::exception& e) {
                rep.err = mv::error(errc::internal, e.what());
            }
            std::int64_t added = 0, folder_errors = 0;
            for (const auto& f : rep.folders) {
                added += f.new_messages;
                if (f.err) {
                    ++folder_errors;
                    log("folder '" + f.name + "': " + f.err.message);
                }
            }
            if (o_.on_sync) o_.on_sync(rep, full);

            lk.lock();
            const bool interrupted = stopping_ || mv::stop_requested();
            if (rep.err && !interrupted) {
                ++failures;
                const auto d = backoff_delay(failures, o_.retry_min, o_.retry_max, jitter01());
                retry_at = clock::now() + d;
                // What it was to do is still to do.
                if (full)
                    full_requested_ = true;
                else
                    for (const auto& f : plan.folders)
                        if (std::find(dirty_.begin(), dirty_.end(), f) == dirty_.end())
                            dirty_.push_back(f);
                state_.failures = failures;
                state_.last_error = rep.err.message;
                lk.unlock();
                log("sync failed (" + rep.err.message + "); retrying in " +
                    std::to_string(d.count()) + " ms (failure " + std::to_string(failures) + ")");
                lk.lock();
            } else if (!rep.err) {
                failures = 0;
                retry_at = {};
                if (full) next_full = clock::now() + interval();
                ++state_.syncs;
                state_.failures = 0;
                state_.last_sync = epoch_now();
                if (added > 0 || full || folder_errors > 0) {
                    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
                    lk.unlock();
                    log(std::string(full ? "full sync" : "sync of " + join(plan.folders)) + ": " +
                        std::to_string(added) + " new messages in " +
                        std::to_string(static_cast<int>(secs * 1000)) + " ms");
                    lk.lock();
                }
            }
            if (!first_sync_ && (full || rep.err)) {
                first_sync_ = true;
                if (first_done_) {
                    lk.unlock();
                    first_done_();
                    lk.lock();
                }
            }
        }
    }

    // ---- the spare session
    //
    // Connecting (TCP, STARTTLS or TLS, LOGIN, CAPABILITY, ENABLE) is most of what a one-folder
    // sync costs. While the sync thread waits it keeps one authenticated session ready, so the
    // sync after an event starts with LIST at once; a NOOP every spare_check keeps it alive
    // (and finds it dead), a session older than spare_max_age is replaced.
    static constexpr auto spare_check = std::chrono::seconds(60);
    static constexpr auto spare_max_age = std::chrono::minutes(10);

    imap_session open_session(const config::account& a, const std::string& pw) {
        return o_.sync.open_session ? o_.sync.open_session(a, pw) : open_imap(a, pw);
    }

    // The sync's first session: the spare when there is a good one, else a new connection.
    // A spare that waited a while is asked a NOOP first: one round trip, against a failed sync
    // and a back-off when the server dropped it meanwhile (a restart, a NAT timeout).
    imap_session take_session(const config::account& a, const std::string& pw) {
        std::optional<imap_session> s;
        bool check = false;
        {
            std::lock_guard lk(mu_);
            if (spare_) {
                s = std::move(spare_);
                spare_.reset();
                conns_.erase(std::remove(conns_.begin(), conns_.end(), s->conn.get()),
                             conns_.end());
                check = clock::now() - spare_at_ > std::chrono::seconds(5);
                cv_.notify_all();  // the spare thread opens the next one
            }
        }
        if (s && s->client && s->client->usable() && !(check && s->client->noop()))
            return std::move(*s);
        s.reset();
        return open_session(a, pw);
    }

    // Its own thread: opening a session takes a few hundred ms, which must not delay the sync
    // of the next change.
    void spare_loop() {
        std::unique_lock lk(mu_);
        while (!stopping_ && !mv::stop_requested()) {
            if (tend_spare(lk)) continue;
            const auto until = spare_ ? spare_at_ + spare_check : spare_retry_;
            cv_.wait_until(lk, until, [&] {
                return stopping_ || (!spare_ && clock::now() >= spare_retry_) ||
                       (spare_ && clock::now() >= spare_at_ + spare_check);
            });
        }
    }

    // Called with lk held; true when it did network work (lk was released meanwhile).
    bool tend_spare(std::unique_lock<std::mutex>& lk) {
        if (acct_.protocol != config::protocol::imap || stopping_ || mv::stop_requested())
            return false;
        const auto now = clock::now();
        if (spare_ && now - spare_at_ < spare_check) return false;
        if (!spare_ && now < spare_retry_) return false;
        std::optional<imap_session> s;
        if (spare_) {
            s = std::move(spare_);
            spare_.reset();
            conns_.erase(std::remove(conns_.begin(), conns_.end(), s->conn.get()), conns_.end());
        }
        lk.unlock();
        const bool old = s && now - spare_born_ > spare_max_age;
        if (s && (old || s->client->noop() || !s->client->usable())) s.reset();
        bool fresh = false;
        if (!s) {
            try {
                s = open_session(acct_, spare_password());
                fresh = true;
            } catch (const std::exception&) {
                s.reset();  // the sync will say what is wrong; no spare for a while
            }
        }
        lk.lock();
        if (!s) {
            spare_retry_ = clock::now() + spare_check;
            return true;
        }
        if (stopping_) return true;  // s closes here
        if (s->conn) conns_.push_back(s->conn.get());
        spare_ = std::move(s);
        spare_at_ = clock::now();
        if (fresh) spare_born_ = spare_at_;
        return true;
    }

    std::string spare_password() {
        if (spare_password_.empty()) spare_password_ = config::resolve_password(acct_);
        return spare_password_;
    }

    // ---- an idler thread

    // Registers the session's connection so that stop() can cancel it; false when stopping.
    bool hold(net::connection* c) {
        std::lock_guard lk(mu_);
        if (stopping_) return false;
        if (c) conns_.push_back(c);
        return true;
    }
    void release(net::connection* c) {
        std::lock_guard lk(mu_);
        conns_.erase(std::remove(conns_.begin(), conns_.end(), c), conns_.end());
    }

    void idle_loop(std::size_t index) {
        const std::string folder = acct_.watch_folders[index];
        int failures = 0;
        std::string password;
        while (true) {
            {
                std::unique_lock lk(mu_);
                if (stopping_) return;
                if (failures > 0) {
                    const auto d = backoff_delay(failures, o_.retry_min, o_.retry_max, jitter01());
                    if (sleep_until(lk, clock::now() + d)) return;
                }
                // With NOTIFY the first idler watches every folder: the others wait for its
                // verdict (a while at most: it may be failing) and stand down if it has NOTIFY.
                if (index > 0 && !notify_decided_)
                    cv_.wait_for(lk, std::chrono::seconds(10),
                                 [&] { return stopping_ || notify_decided_; });
                if (stopping_) return;
                if (index > 0 && state_.notify) {
                    if (sleep_until(lk, clock::now() + interval())) return;
                    continue;
                }
            }
            imap_session s;
            mv::error err;
            try {
                if (password.empty()) password = config::resolve_password(acct_);
                s = o_.sync.open_session ? o_.sync.open_session(acct_, password)
                                         : open_imap(acct_, password);
            } catch (const mv::failure& f) {
                err = f.err;
            } catch (const std::exception& e) {
                err = mv::error(errc::internal, e.what());
            }
            if (err) {
                ++failures;
                if (!stopping() && !mv::stop_requested())
                    log("IDLE on '" + folder + "': cannot connect (" + err.message + ")");
                continue;
            }
            if (!hold(s.conn.get())) return;
            err = idle_session(s, folder, index, failures);
            release(s.conn.get());
            if (stopping() || mv::stop_requested()) return;
            if (err) {
                ++failures;
                log("IDLE on '" + folder + "': " + err.message + "; reconnecting");
            }
        }
    }

    bool stopping() const {
        std::lock_guard lk(mu_);
        return stopping_;
    }

    // One connection's life: EXAMINE, [NOTIFY], IDLE again and again. Returns why it ended.
    mv::error idle_session(imap_session& s, const std::string& folder, std::size_t index,
                           int& failures) {
        auto& c = *s.client;
        if (!c.caps().has("IDLE")) {
            // Nothing to wait on: the periodic full sync (watch_interval) is all there is.
            log("server has no IDLE; syncing every " + std::to_string(interval().count() / 1000) +
                " s instead");
            (void)c.logout();
            std::unique_lock lk(mu_);
            sleep_until(lk, clock::now() + std::chrono::hours(24 * 365));
            return {};
        }
        char delimiter = '/';
        {
            imap::list_request lr;
            lr.pattern = folder;
            lr.special_use = false;
            lr.status = false;
            std::vector<imap::list_entry> entries;
            if (auto e = c.list(lr, entries)) return e;
            if (!entries.empty()) delimiter = entries.front().delimiter;
        }
        imap::select_request sr;
        sr.mailbox = folder;
        sr.read_only = true;
        imap::select_result res;
        if (auto e = c.select(sr, res)) {
            if (!c.usable()) return e;
            // The folder is missing or refused: say so, and try again after the interval.
            log("IDLE on '" + folder + "': " + e.message + "; trying again in " +
                std::to_string(interval().count() / 1000) + " s");
            (void)c.logout();
            std::unique_lock lk(mu_);
            sleep_until(lk, clock::now() + interval());
            return {};
        }
        bool notify = false;
        if (index == 0 && c.caps().has("NOTIFY")) {
            if (auto e = c.notify(imap::notify_set_watch)) {
                if (!c.usable()) return e;
                log("NOTIFY refused (" + e.message + "); idling on the watch folders instead");
            } else {
                notify = true;
            }
        }
        {
            std::lock_guard lk(mu_);
            if (index == 0) {
                state_.notify = notify;
                notify_decided_ = true;
            }
        }
        cv_.notify_all();
        // What arrived before this connection's EXAMINE and after the sync last looked (the
        // first full sync at start, or the one before a failure) is synced now: with NOTIFY,
        // anywhere. What arrives from here on, IDLE reports. Without this, a delivery in the
        // moment between the first sync and the first IDLE waited for watch_interval.
        mark(folder, notify);

        const auto selected_in_config = [&](const std::string& name) {
            return config::folder_selected(acct_, name, delimiter);
        };
        imap::idle_options io;
        io.restart_after = o_.idle_restart;
        auto on_event = [&](const imap::idle_event& ev) {
            using k = imap::idle_event::kind;
            failures = 0;  // the server talks to us: the connection is good
            switch (ev.k) {
                case k::overflow:
                case k::mailbox: mark({}, true); break;
                case k::status:
                    if (selected_in_config(ev.mailbox)) mark(ev.mailbox, false);
                    break;
                default: mark(folder, false); break;
            }
        };
        while (!stopping() && !mv::stop_requested()) {
            if (index > 0 && state().notify) return {};  // the NOTIFY idler covers this folder
            {
                std::lock_guard lk(mu_);
                ++idling_;
            }
            bool restarted = false;
            auto e = c.idle(io, on_event, &restarted);
            {
                std::lock_guard lk(mu_);
                --idling_;
            }
            if (e) return e;
            failures = 0;
        }
        return {};
    }

    config::account acct_;
    std::string key_;
    shared_archive& ar_;
    const watch_options& o_;
    std::function<void()> first_done_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool full_requested_ = false;
    bool notify_decided_ = false;
    std::vector<std::string> dirty_;
    std::vector<net::connection*> conns_;
    std::optional<imap_session> spare_;
    clock::time_point spare_at_{}, spare_born_{}, spare_retry_{};
    std::string spare_password_;  // sync thread only
    int idling_ = 0;
    bool first_sync_ = false;
    account_watch_state state_;
    std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------- watcher

watcher::watcher(shared_archive& ar, watch_options o) : ar_(ar), o_(std::move(o)) {
    // A stop request (SIGTERM) wakes every waiting thread at once; connections cancel
    // themselves (net::connection registers its own callback).
    stop_cb_ = mv::add_stop_callback([this] { wake_all(); });
}

watcher::~watcher() {
    stop();
}

std::vector<std::string> watcher::apply(const std::vector<config::account>& accounts) {
    std::vector<std::string> started;
    std::vector<std::unique_ptr<account_worker>> leaving;
    {
        // Workers' threads call check_ready() (which takes wmu_): no worker is joined while
        // wmu_ is held.
        std::lock_guard lk(wmu_);
        std::vector<std::unique_ptr<account_worker>> keep;
        for (auto& w : workers_) {
            auto it = std::find_if(accounts.begin(), accounts.end(),
                                   [&](const config::account& a) { return a.name == w->name(); });
            if (it != accounts.end() && settings_key(*it) == w->key()) {
                keep.push_back(std::move(w));
            } else {
                if (o_.log)
                    o_.log("account '" + w->name() + "': " +
                           (it == accounts.end() ? "removed from the configuration; stopping"
                                                 : "settings changed; restarting"));
                leaving.push_back(std::move(w));
            }
        }
        workers_ = std::move(keep);
    }
    // Removed and changed accounts stop first (their connections close before new ones open).
    for (auto& w : leaving) w->stop();
    leaving.clear();
    {
        std::lock_guard lk(wmu_);
        for (const auto& a : accounts) {
            bool running = std::any_of(workers_.begin(), workers_.end(),
                                       [&](const auto& w) { return w->name() == a.name; });
            if (running) continue;
            workers_.push_back(std::make_unique<account_worker>(a, ar_, o_));
            workers_.back()->start([this] { check_ready(); });
            started.push_back(a.name);
        }
    }
    check_ready();
    return started;
}

void watcher::check_ready() {
    {
        std::lock_guard lk(wmu_);
        if (ready_sent_ || workers_.empty()) return;
        for (const auto& w : workers_)
            if (!w->first_sync_done()) return;
        ready_sent_ = true;
    }
    if (o_.on_ready) o_.on_ready();
}

bool watcher::ready() const {
    std::lock_guard lk(wmu_);
    return std::all_of(workers_.begin(), workers_.end(),
                       [](const auto& w) { return w->first_sync_done(); });
}

void watcher::wake_all() {
    std::lock_guard lk(wmu_);
    for (auto& w : workers_) w->wake_for_stop();
}

void watcher::stop() {
    if (stop_cb_ >= 0) {
        mv::remove_stop_callback(stop_cb_);
        stop_cb_ = -1;
    }
    wake_all();
    std::vector<std::unique_ptr<account_worker>> all;
    {
        std::lock_guard lk(wmu_);
        all = std::move(workers_);
        workers_.clear();
    }
    for (auto& w : all) w->stop();
}

std::vector<account_watch_state> watcher::states() const {
    std::lock_guard lk(wmu_);
    std::vector<account_watch_state> out;
    for (const auto& w : workers_) out.push_back(w->state());
    return out;
}

// ---------------------------------------------------------------- lock file

std::filesystem::path watch_lock_path(const std::filesystem::path& archive) {
    // One name however the archive was spelled (relative, through a symlinked directory).
    std::error_code ec;
    auto canon = std::filesystem::weakly_canonical(archive, ec);
    return (ec ? archive : canon).string() + ".watch.lock";
}

std::unique_ptr<watch_lock> watch_lock::acquire(const std::filesystem::path& archive,
                                                mv::error& err) {
    const auto path = watch_lock_path(archive);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err =
            mv::error(errc::io, path.string() + ": cannot create the watcher's lock file (" +
                                    std::strerror(errno) + "); check the directory's permissions");
        return nullptr;
    }
    ::fchmod(fd, 0600);  // private whatever the umask, even if it existed
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        auto who = running_watcher(archive);
        std::string what = "another `mailvault watch` is already running on this archive";
        if (who)
            what += " (pid " + std::to_string(who->pid) + ", since " +
                    mv::format_utc(who->since, "%Y-%m-%d %H:%M:%S UTC") + ")";
        err = mv::error(errc::archive, what + "; stop it first (or use --archive for another one)");
        return nullptr;
    }
    const std::string line = std::to_string(::getpid()) + " " + std::to_string(epoch_now()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
        err = mv::error(errc::io, path.string() + ": cannot write the watcher's lock file (" +
                                      std::strerror(errno) + ")");
        ::close(fd);
        return nullptr;
    }
    return std::unique_ptr<watch_lock>(new watch_lock(fd));
}

watch_lock::~watch_lock() {
    // Emptied, not removed: removing it would let a second watcher lock a new file while a
    // third still waits on the old one.
    if (::ftruncate(fd_, 0) != 0) {
        // Nothing to do: the lock goes with the descriptor anyway; status checks the lock.
    }
    ::close(fd_);
}

std::optional<watcher_info> running_watcher(const std::filesystem::path& archive) {
    const auto path = watch_lock_path(archive);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return std::nullopt;
    std::optional<watcher_info> out;
    if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        char buf[64] = {};
        const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
        watcher_info w;
        if (n > 0) {
            long long pid = 0, since = 0;
            if (std::sscanf(buf, "%lld %lld", &pid, &since) == 2) {
                w.pid = static_cast<pid_t>(pid);
                w.since = since;
            }
        }
        out = w;
    }
    ::close(fd);  // also drops the shared lock if it was taken
    return out;
}

}  // namespace mv::sync
