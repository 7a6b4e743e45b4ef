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
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#ifdef MV_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cli.hpp"
#include "common.hpp"
#include "log.hpp"
#include "mailvault/stop.hpp"
#include "mailvault/units.hpp"
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
