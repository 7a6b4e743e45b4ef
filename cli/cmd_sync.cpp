// `mailvault sync`: mirror every configured account (or --account A) into the archive.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli.hpp"
#include "common.hpp"
#include "log.hpp"
#include "mailvault/stop.hpp"
#include "report_hook.hpp"
#include "sync/sync.hpp"

namespace mv::cli {
namespace {

std::string human_bytes(double b) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
        b /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

// A one-line progress display on a TTY, redrawn twice a second.
// Ctrl-C and SIGTERM during a sync: the first one stops the run (mailvault/stop.hpp): open
// connections are cancelled, the batch in flight commits or rolls back like after a lost
// connection, no new folder starts, and sync exits 130 saying what was kept. A second one ends
// the process at once (the archive is crash-safe: the next run resumes from the last commit).
// Flow: constructed before any worker thread (they inherit the blocked signals), a thread waits
// for them with sigtimedwait; destroyed after the workers joined.
class interrupt_watch {
public:
    interrupt_watch() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
        t_ = std::thread([this] {
            const timespec tick{0, 100 * 1000 * 1000};
            while (!done_) {
                const int sig = sigtimedwait(&set_, nullptr, &tick);
                if (sig <= 0) continue;
                if (stop_requested()) _exit(128 + sig);
                signal_ = sig;
                std::fprintf(stderr,
                             "\r\033[Kmailvault: interrupted; keeping what is committed (again "
                             "to quit at once)\n");
                request_stop();
            }
        });
    }
    ~interrupt_watch() {
        done_ = true;
        t_.join();
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    int signal() const { return signal_; }

private:
    sigset_t set_{}, old_{};
    std::atomic<bool> done_{false};
    std::atomic<int> signal_{0};
    std::thread t_;
};

class progress_line {
public:
    progress_line(sync::progress_counters& c, std::int64_t accounts) : c_(c), accounts_(accounts) {
        t_ = std::thread([this] { loop(); });
    }
    ~progress_line() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        t_.join();
        std::fprintf(stderr, "\r\033[K");
    }

private:
    void loop() {
        const auto t0 = std::chrono::steady_clock::now();
        std::unique_lock lk(mu_);
        while (!cv_.wait_for(lk, std::chrono::milliseconds(500), [this] { return stop_; })) {
            double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            double bytes = static_cast<double>(c_.bytes.load());
            const auto done = c_.messages.load();
            const auto expected = c_.expected_messages.load();
            // Totals only once every account listed its folders: a total that keeps growing
            // while the count runs is worse than none.
            const auto listed = c_.listed_accounts.load();
            std::string eta;
            if (listed >= accounts_ && secs > 2 && done > 0 && expected > done) {
                const double left =
                    static_cast<double>(expected - done) * secs / static_cast<double>(done);
                eta = "  ETA " + std::to_string(static_cast<long long>(left + 0.5)) + " s";
            }
            if (listed < accounts_)
                std::fprintf(stderr,
                             "\r\033[Ksync: listing folders (%lld of %lld accounts)  messages "
                             "%lld  %s  %s/s",
                             static_cast<long long>(listed), static_cast<long long>(accounts_),
                             static_cast<long long>(done), human_bytes(bytes).c_str(),
                             human_bytes(secs > 0 ? bytes / secs : 0).c_str());
            else
                std::fprintf(
                    stderr, "\r\033[Ksync: folders %lld/%lld  messages %lld/%lld  %s  %s/s%s",
                    static_cast<long long>(c_.folders_done.load()),
                    static_cast<long long>(c_.folders_total.load()), static_cast<long long>(done),
                    static_cast<long long>(std::max(expected, done)), human_bytes(bytes).c_str(),
                    human_bytes(secs > 0 ? bytes / secs : 0).c_str(), eta.c_str());
            std::fflush(stderr);
        }
    }
    sync::progress_counters& c_;
    const std::int64_t accounts_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread t_;
};

nlohmann::json to_json(const sync::account_report& r) {
    nlohmann::json folders = nlohmann::json::array();
    for (const auto& f : r.folders) {
        nlohmann::json j = {{"name", f.name},
                            {"skipped", f.skipped},
                            {"strategy", f.strategy},
                            {"uidvalidity_changed", f.uidvalidity_changed},
                            {"server_messages", f.server_messages},
                            {"new_messages", f.new_messages},
                            {"bodies_fetched", f.bodies_fetched},
                            {"bytes_fetched", f.bytes_fetched},
                            {"reused_bodies", f.reused_bodies},
                            {"flags_updated", f.flags_updated},
                            {"expunged", f.expunged},
                            {"would_fetch", f.would_fetch},
                            {"would_fetch_bytes", f.would_fetch_bytes},
                            {"deletions_refused", f.deletions_refused}};
        if (f.err) j["error"] = {{"kind", errc_name(f.err.code)}, {"message", f.err.message}};
        folders.push_back(j);
    }
    nlohmann::json j = {{"account", r.name},
                        {"protocol", r.protocol},
                        {"status", r.err ? "failed" : "ok"},
                        {"commands", r.commands},
                        {"bytes_read", r.bytes_read},
                        {"reconnects", r.reconnects},
                        {"deleted_on_server", r.deleted_on_server},
                        {"seconds", r.seconds},
                        {"folders", folders}};
    if (r.err) j["error"] = {{"kind", errc_name(r.err.code)}, {"message", r.err.message}};
    return j;
}

int run_sync(const std::vector<std::string>& args) {
    po::options_description d("mailvault sync [options]");
    add_archive_options(d);
    d.add_options()("account,a", po::value<std::vector<std::string>>(),
                    "only this account (repeatable)")(
        "folder,f", po::value<std::vector<std::string>>(),
        "only folders matching this pattern (repeatable; * and % wildcards)")(
        "dry-run,n", "say what would be fetched; change nothing")(
        "json", "print a machine-readable summary on stdout")(
        "quiet,q", "no progress display and no per-folder lines")(
        "index", "also build the search index for what this run stored")(
        "stats", "print how long the workers waited for the archive (stderr, even with -q)")(
        "batch-messages", po::value<std::size_t>(),
        "commit after this many messages (default 500)")("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto cfg = load_config(vm);
    const auto path =
        vm.count("archive") ? std::filesystem::path(vm["archive"].as<std::string>()) : cfg.archive;
    std::vector<const config::account*> accounts;
    if (vm.count("account")) {
        accounts = accounts_named(cfg, vm["account"].as<std::vector<std::string>>());
    } else {
        for (const auto& a : cfg.accounts) accounts.push_back(&a);
    }
    if (accounts.empty())
        throw mv::failure(errc::config, cfg.source.string() + ": no [[account]] configured");

    const bool dry = vm.count("dry-run") > 0;
    const bool json = vm.count("json") > 0;
    const bool quiet = vm.count("quiet") > 0;
    // A dry run never creates or changes the archive: it reads it if it exists.
    std::unique_ptr<archive::archive> arch;
    std::optional<std::filesystem::path> scratch;
    const bool first_run = !std::filesystem::exists(path);
    if (dry && first_run) {
        scratch = std::filesystem::temp_directory_path() /
                  ("mailvault-dry-run-" + std::to_string(::getpid()) + ".sqlite");
        arch = open_archive(*scratch, true, false, cfg.zstd_level, true);
    } else {
        // Indexing (MIME parse + FTS) is deferred to the end of the run: fetching stays fast.
        arch = open_archive(path, !dry, dry, cfg.zstd_level, true);
        spdlog::debug("archive {} open", path.string());
    }
    sync::shared_archive shared(*arch);

    sync::progress_counters counters;
    sync::sync_options opts;
    opts.dry_run = dry;
    opts.progress = &counters;
    if (vm.count("batch-messages"))
        opts.batch_messages = std::max<std::size_t>(1, vm["batch-messages"].as<std::size_t>());
    if (vm.count("folder")) opts.only_folders = vm["folder"].as<std::vector<std::string>>();
    const bool tty = stderr_is_tty() && !quiet && !json;
    std::optional<interrupt_watch> interrupts;
    if (!dry) interrupts.emplace();
    if (!quiet) opts.log = [](const std::string& line) { spdlog::info("{}", line); };

    const auto dict_before = arch->current_dictionary();
    const auto started = std::chrono::system_clock::now();
    const std::int64_t audit_before = dry ? 0 : audit_mark(*arch);
    std::vector<sync::account_report> reports(accounts.size());
    std::vector<std::int64_t> runs(accounts.size(), 0);
    if (!dry) {
        std::lock_guard lk(shared.mu);
        for (std::size_t i = 0; i < accounts.size(); ++i) {
            archive::transaction tx(*arch);
            auto id =
                arch->upsert_account({accounts[i]->name, config::to_string(accounts[i]->protocol),
                                      accounts[i]->host, accounts[i]->user});
            runs[i] = arch->begin_sync_run(id);
            tx.commit();
        }
    }
    {
        std::optional<progress_line> bar;
        if (tty) bar.emplace(counters, static_cast<std::int64_t>(accounts.size()));
        set_progress_line(tty);
        // Accounts run concurrently, at most parallel_accounts at a time.
        std::atomic<std::size_t> next{0};
        auto work = [&] {
            for (std::size_t i; (i = next++) < accounts.size();)
                reports[i] = sync::sync_account(*accounts[i], shared, opts);
        };
        std::vector<std::thread> pool;
        const auto n = std::min<std::size_t>(
            accounts.size(), static_cast<std::size_t>(std::max(cfg.parallel_accounts, 1)));
        for (std::size_t i = 1; i < n; ++i) pool.emplace_back(work);
        work();
        for (auto& t : pool) t.join();
        set_progress_line(false);
    }
    // How long the workers waited for the archive (its single writer): the figure that tells
    // whether more connections or accounts in parallel can still help.
    const double lock_wait = shared.mu.waited_seconds();
    if (vm.count("stats"))
        std::fprintf(
            stderr, "archive lock wait: %.3f s (%llu of %llu acquisitions waited); held %.3f s\n",
            lock_wait, static_cast<unsigned long long>(shared.mu.contended()),
            static_cast<unsigned long long>(shared.mu.acquisitions()), shared.mu.held_seconds());
    if (!dry) {
        std::lock_guard lk(shared.mu);
        for (std::size_t i = 0; i < accounts.size(); ++i) {
            const auto& r = reports[i];
            archive::sync_counters sc;
            for (const auto& f : r.folders) {
                sc.messages_new += f.new_messages;
                sc.messages_updated += f.flags_updated;
                sc.messages_expunged += f.expunged;
                sc.bytes_fetched += f.bytes_fetched;
                sc.errors += f.err ? 1 : 0;
            }
            archive::transaction tx(*arch);
            // Only a run that did all of its work counts as a completed sync ("ok").
            arch->finish_sync_run(runs[i],
                                  r.err       ? "failed"
                                  : sc.errors ? "partial"
                                              : "ok",
                                  sc, r.err.message);
            tx.commit();
        }
        // Indexing for search is not done here: `mailvault index`, `search` or `show` do it
        // (see open_indexed); `--index` does it now.
        if (vm.count("index")) arch->index_pending();
        // The first zstd dictionary is trained once enough mail is stored; the messages stored
        // before it (about 1,000) are re-compressed with it right away.
        if (arch->current_dictionary() && arch->current_dictionary() != dict_before) {
            archive::recompress_options ro;
            ro.train_if_missing = false;
            auto st = arch->recompress(ro);
            if (opts.log && st.rewritten > 0)
                opts.log("re-compressed " + std::to_string(st.rewritten) +
                         " messages with the new dictionary: " + std::to_string(st.bytes_before) +
                         " -> " + std::to_string(st.bytes_after) + " bytes");
        }
    }
    // The run report (engine/report): what each account did, with the audit records of the
    // deletions it performed; sent once the exit code is known.
    report::run_summary summary;
    summary.command = dry ? "sync --dry-run" : "sync";
    summary.start = started;
    for (const auto& r : reports) {
        auto& a = account_of(summary, r.name);
        for (const auto& f : r.folders) {
            a.new_messages += static_cast<std::uint64_t>(f.new_messages);
            a.flag_changes += static_cast<std::uint64_t>(f.flags_updated);
            a.expunged += static_cast<std::uint64_t>(f.expunged);
            if (f.err) a.failures.push_back("folder '" + f.name + "': " + f.err.message);
        }
        a.deleted_on_server += static_cast<std::uint64_t>(r.deleted_on_server);
        if (r.err) a.failures.push_back(r.err.message);
    }
    if (!dry) add_deletions(*arch, audit_before, summary);

    // A first run that archived nothing because every account failed (a wrong password, an
    // unreachable server) leaves no empty archive behind to be mistaken for a backup.
    bool all_failed = !reports.empty();
    for (const auto& r : reports) all_failed = all_failed && static_cast<bool>(r.err);
    if (!dry && first_run && all_failed && arch->totals().contents == 0) {
        arch.reset();
        for (const char* suffix : {"", "-wal", "-shm"})
            std::filesystem::remove(path.string() + suffix);
    }
    spdlog::debug("accounts done; closing the archive");
    if (scratch) {
        arch.reset();
        for (const char* suffix : {"", "-wal", "-shm"})
            std::filesystem::remove(scratch->string() + suffix);
    }

    // Exit code: when every account failed, the first one's class (4 authentication, 5 network,
    // ...); when some account or folder did its work and another did not, 1 (partial).
    int code = exit_ok;
    std::size_t failed = 0;
    bool partial = false;
    for (const auto& r : reports) {
        if (r.err) {
            if (failed++ == 0) code = exit_code_for(r.err.code);
            std::fprintf(stderr, "mailvault: %s\n", r.err.message.c_str());
        }
        for (const auto& f : r.folders) partial = partial || static_cast<bool>(f.err);
    }
    if (failed > 0 && failed < reports.size()) code = exit_partial;
    if (failed == 0 && partial) code = exit_partial;
    // A --folder pattern that matched no folder of any account that answered: a typo, most
    // likely; the run did not do what was asked. (`*` matches across the hierarchy, `%` not.)
    if (vm.count("folder") && failed < reports.size()) {
        for (const auto& pat : opts.only_folders) {
            bool hit = false;
            for (const auto& r : reports)
                for (const auto& f : r.folders)
                    hit = hit || config::folder_pattern_matches(pat, f.name, '/') ||
                          config::folder_pattern_matches(pat, f.name, '.');
            if (!hit) {
                std::fprintf(stderr,
                             "mailvault: --folder '%s' matched no folder on the server; the "
                             "names are case-sensitive (INBOX aside) and use the server's "
                             "hierarchy delimiter\n",
                             pat.c_str());
                if (code == exit_ok) code = exit_partial;
            }
        }
    }
    const bool interrupted = stop_requested();
    if (interrupted) {
        std::int64_t kept = 0, bytes = 0;
        for (const auto& r : reports)
            for (const auto& f : r.folders) {
                kept += f.new_messages;
                bytes += f.bytes_fetched;
            }
        std::fprintf(stderr,
                     "mailvault: interrupted: %lld new messages (%s) were committed and stay "
                     "archived; run `mailvault sync` again to continue where it stopped\n",
                     static_cast<long long>(kept), human_bytes(static_cast<double>(bytes)).c_str());
        code = 128 + (interrupts && interrupts->signal() ? interrupts->signal() : SIGINT);
    }
    summary.end = std::chrono::system_clock::now();
    summary.exit_code = code;
    if (interrupted) summary.failures.push_back("interrupted by a signal");
    if (!dry) send_report(cfg, summary);
    if (json) {
        nlohmann::json out = {{"dry_run", dry}, {"accounts", nlohmann::json::array()}};
        out["interrupted"] = interrupted;
        for (const auto& r : reports) out["accounts"].push_back(to_json(r));
        out["archive_lock_wait_seconds"] = lock_wait;
        out["archive_lock_held_seconds"] = shared.mu.held_seconds();
        out["exit_code"] = code;
        std::cout << out.dump(2) << "\n";
    } else if (!quiet) {
        for (const auto& r : reports) {
            std::int64_t nw = 0, by = 0, fl = 0, ex = 0, sk = 0, wf = 0, wb = 0;
            for (const auto& f : r.folders) {
                nw += f.new_messages;
                by += f.bytes_fetched;
                fl += f.flags_updated;
                ex += f.expunged;
                sk += f.skipped ? 1 : 0;
                wf += f.would_fetch;
                wb += f.would_fetch_bytes;
            }
            if (dry)
                std::printf("%s: %s; would fetch %lld messages (%s) in %zu folders\n",
                            r.name.c_str(), r.err ? "FAILED" : "ok", static_cast<long long>(wf),
                            human_bytes(static_cast<double>(wb)).c_str(), r.folders.size());
            else
                std::printf(
                    "%s: %s; %zu folders (%lld unchanged), %lld new messages (%s), %lld flag "
                    "changes, %lld expunged on server%s, %.1f s\n",
                    r.name.c_str(), r.err ? "FAILED" : "ok", r.folders.size(),
                    static_cast<long long>(sk), static_cast<long long>(nw),
                    human_bytes(static_cast<double>(by)).c_str(), static_cast<long long>(fl),
                    static_cast<long long>(ex),
                    r.deleted_on_server
                        ? (", " + std::to_string(r.deleted_on_server) + " deleted on server")
                              .c_str()
                        : "",
                    r.seconds);
        }
    }
    return code;
}

MV_COMMAND("sync", "mirror the configured accounts into the archive", run_sync);

}  // namespace
}  // namespace mv::cli
