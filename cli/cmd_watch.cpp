// `mailvault watch`: stay running and archive new mail as it arrives (docs/watch.md).
//
// Flow: load the config, take the watcher's lock beside the archive (a second watcher is
// refused), open the archive, block SIGINT/SIGTERM/SIGHUP (every thread inherits the mask),
// start a sync::watcher with every account (or --account), then wait for signals on this
// thread: SIGTERM/SIGINT -> mv::request_stop() (connections cancelled, the batch in flight
// commits or rolls back as after a lost connection) -> workers join -> exit 0; SIGHUP -> the
// config is read again and accounts whose settings changed restart (a config that no longer
// loads is reported and the old one kept). Under systemd (Type=notify): READY=1 once every
// account finished its first sync, WATCHDOG=1 while the process runs, STATUS= lines.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#ifdef MV_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cli.hpp"
#include "common.hpp"
#include "log.hpp"
#include "mailvault/net.hpp"
#include "mailvault/stop.hpp"
#include "mailvault/units.hpp"
#include "report/alerts.hpp"
#include "report/report.hpp"
#include "sync/watch.hpp"

namespace mv::cli {
namespace {

void notify_systemd([[maybe_unused]] const std::string& state) {
#ifdef MV_HAVE_SYSTEMD
    sd_notify(0, state.c_str());
#endif
}

// The watchdog interval systemd asks for (WatchdogSec=), halved: pings go twice per period.
std::optional<std::chrono::milliseconds> watchdog_period() {
#ifdef MV_HAVE_SYSTEMD
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        return std::chrono::milliseconds(std::max<std::uint64_t>(usec / 2000, 1));
#endif
    return std::nullopt;
}

std::chrono::milliseconds duration_option(const po::variables_map& vm, const char* name) {
    const auto s = vm[name].as<std::string>();
    auto d = mv::parse_duration(s);
    if (!d || d->count() < 1)
        throw mv::failure(errc::usage, std::string("--") + name + ": '" + s +
                                           "' is not a duration of at least 1s; " +
                                           std::string(mv::duration_grammar()));
    return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

// Alerts ([report], docs/reports.md): every tick the main loop gathers what it observes and
// the monitor decides what to say; alerts go to the spool at once (a local, durable write) and
// a sender thread flushes the spool through the relay, so a slow or unreachable relay never
// holds up the signal handling, the watchdog or a sync. A periodic verify (verify_interval)
// runs on its own thread with its own read-only archive handle (the sync keeps writing).
class alerting {
public:
    alerting(const config::config& cfg, const std::filesystem::path& archive)
        : archive_(std::filesystem::absolute(archive)), monitor_(settings(cfg.report)) {
        set_config(cfg);
        sender_ = std::thread([this] { send_loop(); });
        verifier_ = std::thread([this] { verify_loop(); });
    }
    ~alerting() { stop(); }
    // Ends both threads: a verify in progress is interrupted (SQLite stops the statement it
    // runs), a flush in progress ends with mv::request_stop() (its connection is cancelled).
    void stop() {
        stop_flag_ = true;
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
            if (verifying_) verifying_->interrupt();
        }
        cv_.notify_all();
        if (sender_.joinable()) sender_.join();
        if (verifier_.joinable()) verifier_.join();
    }
    // At start and on SIGHUP (main thread, like tick()): new thresholds apply at once; the next
    // verify moves only when verify_interval changed (frequent reloads must not postpone it).
    void set_config(const config::config& cfg) {
        monitor_.set_settings(settings(cfg.report));
        std::lock_guard lk(mu_);
        const auto interval = cfg.report.verify_interval;
        if (!cfg_ || cfg_->report.verify_interval != interval)
            next_verify_ = interval.count() > 0 ? std::chrono::steady_clock::now() + interval
                                                : std::chrono::steady_clock::time_point::max();
        cfg_ = std::make_shared<const config::config>(cfg);
        cv_.notify_all();
    }

    // Called by the main loop every tick.
    void tick(const std::vector<sync::account_watch_state>& states,
              const std::vector<config::account>& accounts) {
        std::shared_ptr<const config::config> cfg;
        std::optional<report::observation::verify_outcome> verified;
        {
            std::lock_guard lk(mu_);
            cfg = cfg_;
            verified.swap(verified_);
        }
        if (!cfg->report.enabled) return;
        report::observation o;
        o.now = static_cast<std::int64_t>(std::time(nullptr));
        for (const auto& st : states) o.accounts.push_back({st.name, st.failures, st.last_error});
        o.disk_path = archive_.parent_path().string();
        struct statvfs sv {};
        if (::statvfs(o.disk_path.c_str(), &sv) == 0) {
            o.disk_free = static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize;
        } else if (!statvfs_warned_) {
            statvfs_warned_ = true;
            spdlog::warn("cannot read the free space of {} ({}); no disk space alert", o.disk_path,
                         std::strerror(errno));
        }
        for (const auto& c : net::seen_certificates())
            for (const auto& a : accounts)
                if (a.host == c.host && a.port == c.port) {
                    o.certificates.push_back({a.name, c.host + ":" + std::to_string(c.port),
                                              c.fingerprint, c.subject, c.not_after});
                    break;
                }
        o.verify = std::move(verified);
        bool spooled = false;
        for (const auto& a : monitor_.evaluate(o)) {
            if (a.resolved)
                spdlog::info("alert resolved: {}", a.subject);
            else
                spdlog::warn("ALERT: {}", a.subject);
            spooled = report::spool_alert(*cfg, a) || spooled;
        }
        if (spooled) {
            std::lock_guard lk(mu_);
            flush_now_ = true;
            cv_.notify_all();
        }
    }

private:
    static report::alert_settings settings(const config::report_settings& r) {
        return {r.alert_after_failures, r.alert_disk_free, r.alert_cert_expiry};
    }

    void send_loop() {
        // A failed flush is retried every 5 minutes (and with the next alert).
        std::unique_lock lk(mu_);
        bool pending = true;  // what an earlier run left in the spool goes out too
        while (!stopping_) {
            if (flush_now_ || pending) {
                flush_now_ = false;
                auto cfg = cfg_;
                lk.unlock();
                report::flush_result r;
                if (cfg->report.enabled) r = report::flush_spool(*cfg);
                if (r.pending > 0)
                    spdlog::warn(
                        "alert not sent yet ({} waiting in the spool): {}; retried in "
                        "5 minutes",
                        r.pending, r.last_error.message);
                lk.lock();
                pending = false;
                if (r.pending > 0) {
                    cv_.wait_for(lk, std::chrono::minutes(5),
                                 [this] { return stopping_ || flush_now_; });
                    pending = true;
                    continue;
                }
            }
            cv_.wait(lk, [this] { return stopping_ || flush_now_; });
        }
    }

    void verify_loop() {
        std::unique_lock lk(mu_);
        while (!stopping_) {
            cv_.wait_until(lk, next_verify_, [this] {
                return stopping_ || std::chrono::steady_clock::now() >= next_verify_;
            });
            if (stopping_) break;
            const auto interval = cfg_->report.verify_interval;
            next_verify_ = std::chrono::steady_clock::now() + interval;
            lk.unlock();
            report::observation::verify_outcome out;
            std::unique_ptr<archive::archive> ap;
            try {
                ap = open_archive(archive_, false, true);
                {
                    std::lock_guard g(mu_);
                    if (stopping_) break;
                    verifying_ = ap.get();  // stop() interrupts it
                }
                // Stopping the watcher ends a verify in progress: between contents by this
                // callback, inside a long statement (integrity_check) by interrupt(). Its
                // statements are RAII.
                struct verify_stopped {};
                archive::verify_report rep;
                try {
                    rep = ap->verify([this](std::int64_t, std::int64_t) {
                        if (stop_flag_) throw verify_stopped{};
                    });
                } catch (...) {
                    {
                        std::lock_guard g(mu_);
                        verifying_ = nullptr;
                    }
                    if (stop_flag_) break;
                    throw;
                }
                {
                    std::lock_guard g(mu_);
                    verifying_ = nullptr;
                }
                out.ok = rep.ok();
                out.summary =
                    "verified " + format_count(rep.contents_checked) + " messages (" +
                    format_size(static_cast<std::uint64_t>(rep.bytes_checked)) + "), " +
                    format_count(rep.audit_rows) + " audit rows: " +
                    (rep.ok() ? "all good" : std::to_string(rep.problems.size()) + " problem(s)");
                for (std::size_t i = 0; i < rep.problems.size() && i < 10; ++i)
                    out.problems.push_back(
                        (rep.problems[i].content ? rep.problems[i].content->hex() + ": " : "") +
                        rep.problems[i].what);
            } catch (const std::exception& e) {
                out.ran = false;
                out.ok = false;
                out.summary = std::string("verify could not run: ") + e.what();
            }
            spdlog::info("periodic verify: {}", out.summary);
            lk.lock();
            verified_ = std::move(out);
        }
    }

    const std::filesystem::path archive_;
    report::alert_monitor monitor_;  // main thread only
    std::mutex mu_;
    std::condition_variable cv_;
    std::shared_ptr<const config::config> cfg_;
    std::optional<report::observation::verify_outcome> verified_;
    std::chrono::steady_clock::time_point next_verify_;
    bool flush_now_ = false, stopping_ = false;
    archive::archive* verifying_ = nullptr;  // the verify's archive while it runs (guarded by mu_)
    bool statvfs_warned_ = false;            // main thread only
    std::atomic<bool> stop_flag_{false};     // read by the verify in progress, without mu_
    std::thread sender_, verifier_;
};

std::vector<config::account> selected_accounts(const config::config& cfg,
                                               const po::variables_map& vm) {
    std::vector<config::account> out;
    if (vm.count("account")) {
        for (const auto* a : accounts_named(cfg, vm["account"].as<std::vector<std::string>>()))
            out.push_back(*a);
    } else {
        out = cfg.accounts;
    }
    if (out.empty())
        throw mv::failure(errc::config, cfg.source.string() +
                                            ": no [[account]] configured; add one (see `man 5 "
                                            "mailvault-config`)");
    return out;
}

int run_watch(const std::vector<std::string>& args) {
    po::options_description d("mailvault watch [options]");
    add_archive_options(d);
    d.add_options()("account,a", po::value<std::vector<std::string>>(),
                    "only this account (repeatable)")(
        "interval", po::value<std::string>(),
        "full sync (POP3: poll) this often, overriding every account's watch_interval")(
        "idle-restart", po::value<std::string>()->default_value("25m"),
        "end and re-issue IDLE this often (RFC 2177 servers may drop a client after 30m; "
        "lower it behind NAT boxes that forget quiet connections)")(
        "retry-min", po::value<std::string>()->default_value("1s"),
        "first pause after a failure (doubled per failure)")(
        "retry-max", po::value<std::string>()->default_value("5m"),
        "longest pause between retries")("batch-messages", po::value<std::size_t>(),
                                         "commit after this many messages (default 500)")(
        "quiet,q", "no line per sync, only failures")("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto cfg = load_config(vm);
    apply_config_log_level(cfg.log_level);
    const auto path =
        vm.count("archive") ? std::filesystem::path(vm["archive"].as<std::string>()) : cfg.archive;
    auto accounts = selected_accounts(cfg, vm);

    sync::watch_options wo;
    wo.idle_restart = duration_option(vm, "idle-restart");
    wo.retry_min = duration_option(vm, "retry-min");
    wo.retry_max = std::max(duration_option(vm, "retry-max"), wo.retry_min);
    if (vm.count("interval")) wo.interval_override = duration_option(vm, "interval");
    const bool quiet = vm.count("quiet") > 0;
    if (vm.count("batch-messages"))
        wo.sync.batch_messages = std::max<std::size_t>(1, vm["batch-messages"].as<std::size_t>());

    mv::error lock_err;
    auto lock = sync::watch_lock::acquire(path, lock_err);
    if (!lock) throw mv::failure(lock_err);

    // Signals first: every thread started below inherits the blocked mask, so only this
    // thread's sigtimedwait sees them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    auto arch = open_archive(path, true, false, cfg.zstd_level, true);
    warn_if_exposed(path);
    sync::shared_archive shared(*arch);

    auto log_line = [&](const std::string& line) { spdlog::info("{}", line); };
    wo.log = [&](const std::string& line) {
        // Failures always; the rest unless --quiet.
        if (quiet && line.find("fail") == std::string::npos &&
            line.find("cannot") == std::string::npos && line.find("reconnect") == std::string::npos)
            return;
        log_line(line);
    };
    wo.sync.log = [&](const std::string& line) {
        if (!quiet && spdlog::should_log(spdlog::level::debug)) spdlog::debug("{}", line);
    };
    // Read by worker threads (on_ready) while a reload replaces `accounts` on this one.
    std::atomic<std::size_t> watched{accounts.size()};
    wo.on_ready = [&] {
        const auto n = watched.load();
        notify_systemd("READY=1\nSTATUS=watching " + std::to_string(n) + " account(s)");
        spdlog::info("watching {} account(s); first sync done", n);
    };
    // A full sync counts as a completed sync run for `status` (as a `mailvault sync` would);
    // the syncs between them, one per change, are not recorded (one row per new message).
    wo.on_sync = [&](const sync::account_report& r, bool full) {
        if (!full || stop_requested()) return;
        archive::sync_counters sc;
        for (const auto& f : r.folders) {
            sc.messages_new += f.new_messages;
            sc.messages_updated += f.flags_updated;
            sc.messages_expunged += f.expunged;
            sc.bytes_fetched += f.bytes_fetched;
            sc.errors += f.err ? 1 : 0;
        }
        try {
            std::lock_guard lk(shared.mu);
            auto id = shared.a.find_account(r.name);
            if (!id) return;
            archive::transaction tx(shared.a);
            const auto run = shared.a.begin_sync_run(*id);
            shared.a.finish_sync_run(run,
                                     r.err       ? "failed"
                                     : sc.errors ? "partial"
                                                 : "ok",
                                     sc, r.err.message);
            tx.commit();
        } catch (const std::exception& e) {
            spdlog::warn("could not record the sync run: {}", e.what());
        }
    };

    sync::watcher w(shared, wo);
    w.apply(accounts);
    alerting alerts(cfg, path);
    spdlog::info("mailvault watch: pid {}, archive {}", ::getpid(), path.string());

    const auto wd = watchdog_period();
    const auto tick =
        wd ? std::min(*wd, std::chrono::milliseconds(1000)) : std::chrono::milliseconds(1000);
    int stop_signal = 0;
    while (true) {
        timespec ts{static_cast<time_t>(tick.count() / 1000),
                    static_cast<long>((tick.count() % 1000) * 1000000)};
        const int sig = sigtimedwait(&set, nullptr, &ts);
        if (wd) notify_systemd("WATCHDOG=1");
        alerts.tick(w.states(), accounts);
        if (sig == SIGHUP) {
            notify_systemd("RELOADING=1");
            config::config fresh;
            if (auto e = config::try_load(cfg.source, fresh)) {
                spdlog::warn("reload: {}; keeping the running configuration", e.message);
            } else {
                try {
                    auto next = selected_accounts(fresh, vm);
                    auto started = w.apply(next);
                    watched = next.size();
                    accounts = std::move(next);
                    cfg = std::move(fresh);
                    alerts.set_config(cfg);
                    spdlog::info("reload: configuration read again; {} account(s) (re)started",
                                 started.size());
                } catch (const mv::failure& f) {
                    spdlog::warn("reload: {}; keeping the running configuration", f.err.message);
                }
            }
            notify_systemd("READY=1");
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            stop_signal = sig;
            break;
        }
    }
    notify_systemd("STOPPING=1\nSTATUS=stopping: finishing the batch in flight");
    spdlog::info("mailvault watch: {} received; finishing the batch in flight",
                 stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    // A second signal while shutting down ends the process at once (crash-safe like a kill).
    std::atomic<bool> down{false};
    std::thread second([&] {
        const timespec t{0, 200 * 1000 * 1000};
        while (!down) {
            const int s = sigtimedwait(&set, nullptr, &t);
            if (s == SIGTERM || s == SIGINT) _exit(128 + s);
        }
    });
    request_stop();
    alerts.stop();
    w.stop();
    down = true;
    second.join();
    spdlog::info("mailvault watch: stopped cleanly");
    return exit_ok;
}

MV_COMMAND("watch", "stay running: archive new mail as it arrives (IDLE/NOTIFY, POP3 polling)",
           run_watch);

}  // namespace
}  // namespace mv::cli
