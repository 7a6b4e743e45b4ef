// `mailvault restore`: write archived messages into a configured IMAP account, byte-exact, with
// flags and INTERNALDATE, resumable through the restore ledger. See docs/restore.md.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "common.hpp"
#include "sync/restore.hpp"

namespace mv::cli {
namespace {

nlohmann::json to_json(const sync::restore_report& r, bool dry) {
    nlohmann::json folders = nlohmann::json::array();
    for (const auto& f : r.folders) {
        nlohmann::json skipped = nlohmann::json::array();
        for (const auto& s : f.skipped)
            skipped.push_back({{"entry", s.entry_id}, {"reason", s.reason}});
        nlohmann::json j = {{"source_account", f.source_account},
                            {"source_folder", f.source_folder},
                            {"target_folder", f.target_folder},
                            {"entries", f.entries},
                            {"already", f.already},
                            {"skipped", skipped},
                            {"dropped_keywords", f.dropped_keywords}};
        if (f.target_uidvalidity) j["target_uidvalidity"] = *f.target_uidvalidity;
        if (!f.note.empty()) j["note"] = f.note;
        if (dry) {
            j["would_append"] = f.would_append;
            j["to_resolve"] = f.to_resolve;
        } else {
            j["created"] = f.created;
            j["appended"] = f.appended;
            j["matched"] = f.matched;
            j["bytes"] = f.bytes;
            j["flags_updated"] = f.flags_updated;
            j["verified"] = f.verified;
            j["verify_problems"] = f.verify_problems;
            j["unverifiable"] = f.unverifiable;
        }
        if (f.err) j["error"] = {{"kind", errc_name(f.err.code)}, {"message", f.err.message}};
        folders.push_back(j);
    }
    nlohmann::json j = {{"target", r.target},
                        {"status", r.err ? "failed" : "ok"},
                        {"appends", r.appends},
                        {"reconnects", r.reconnects},
                        {"folders", folders}};
    if (r.err) j["error"] = {{"kind", errc_name(r.err.code)}, {"message", r.err.message}};
    return j;
}

// On a terminal: a one-line progress display on stderr (target folder, messages handled of the
// folder's total, bytes appended), redrawn at most twice a second; and the per-folder lines.
void attach_output(sync::restore_options& opts, bool json, bool quiet) {
    if (json || quiet) return;
    const bool tty = ::isatty(2) == 1;
    opts.log = [tty](const std::string& line) {
        std::fprintf(stderr, tty ? "\r\033[K%s\n" : "%s\n", line.c_str());
    };
    if (!tty) return;
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    opts.progress = [last](const sync::restore_progress& p) {
        const auto now = std::chrono::steady_clock::now();
        if (p.done < p.total && now - *last < std::chrono::milliseconds(500)) return;
        *last = now;
        std::fprintf(stderr, "\r\033[Krestore: %s  %lld/%lld messages  %.1f MB",
                     p.target_folder.c_str(), static_cast<long long>(p.done),
                     static_cast<long long>(p.total), static_cast<double>(p.bytes) / 1e6);
        std::fflush(stderr);
    };
}

// --connections N (1..16) for restore and migrate.
void set_connections(const po::variables_map& vm, sync::restore_options& opts) {
    if (!vm.count("connections")) return;
    opts.connections = vm["connections"].as<int>();
    if (opts.connections < 1 || opts.connections > 16)
        throw mv::failure(errc::usage, "--connections wants 1..16");
}

// Opens the archive (--archive or the config's), restores into `target` and sets `code`: the
// account's failure (said on stderr), else 9 when the target's copy differs, 1 when anything
// was skipped, 0.
sync::restore_report run_restore_into(const po::variables_map& vm, const config::config& cfg,
                                      const config::account& target,
                                      const sync::restore_options& opts, int& code) {
    const auto path =
        vm.count("archive") ? std::filesystem::path(vm["archive"].as<std::string>()) : cfg.archive;
    auto arch = open_archive(path, false, false, cfg.zstd_level);
    sync::shared_archive shared(*arch);
    auto rep = sync::restore_to_account(target, shared, opts);
    code = exit_ok;
    if (rep.err) {
        code = exit_code_for(rep.err.code);
        std::fprintf(stderr, "mailvault: %s\n", rep.err.message.c_str());
    } else if (rep.verify_failed()) {
        code = exit_verify_failed;
    } else if (rep.anything_skipped()) {
        code = exit_partial;
    }
    return rep;
}

int run_restore(const std::vector<std::string>& args) {
    po::options_description d("mailvault restore --to ACCOUNT [options]");
    add_archive_options(d);
    d.add_options()("to", po::value<std::string>(), "the configured IMAP account to write into")(
        "account,a", po::value<std::vector<std::string>>(),
        "archived source account (repeatable; default: every account but the target)")(
        "folder,f", po::value<std::vector<std::string>>(),
        "source folder pattern (repeatable; * and % wildcards)")(
        "exclude-expunged", "only messages not expunged on the source")(
        "as-of", po::value<std::string>(),
        "the folders as archived at this moment (UTC): 2024-05-01, 2024-05-01T12:00:00Z, @epoch")(
        "include-deleted", "also set \\Deleted on the target")(
        "map", po::value<std::vector<std::string>>(),
        "'SRC=DST': restore source folder SRC (and its subfolders) as DST; '/' separates levels")(
        "dry-run", "connect and plan; create, append and record nothing")(
        "verify", "fetch every restored message back and compare it with the archive")(
        "connections", po::value<int>(),
        "target connections, folders spread over them (default 1)")(
        "update-flags",
        "set the archived flags on messages restored earlier whose flags changed since")(
        "gmail-labels", po::value<std::string>(),
        "Gmail source accounts: 'folders' (default: All Mail's messages into one folder per "
        "label), 'primary' (into their first label folder only) or 'none' (All Mail restored as "
        "a plain folder)")(
        "gmail-archive-folder", po::value<std::string>(),
        "Gmail: the folder for messages without a folder label (default Archive; '\\Archive': "
        "the target's special-use archive folder)")("json", "machine-readable summary on stdout")(
        "quiet,q", "no per-folder log lines")("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    if (!vm.count("to")) throw mv::failure(errc::usage, "restore needs --to ACCOUNT");
    auto cfg = load_config(vm);
    const auto targets = accounts_named(cfg, {vm["to"].as<std::string>()});
    const config::account& target = *targets.front();
    const bool json = vm.count("json") > 0;
    sync::restore_options opts;
    opts.dry_run = vm.count("dry-run") > 0;
    opts.exclude_expunged = vm.count("exclude-expunged") > 0;
    opts.include_deleted = vm.count("include-deleted") > 0;
    opts.verify = vm.count("verify") > 0;
    opts.update_flags = vm.count("update-flags") > 0;
    set_connections(vm, opts);
    if (vm.count("as-of")) {
        const auto v = vm["as-of"].as<std::string>();
        opts.as_of = sync::parse_as_of(v);
        if (!opts.as_of)
            throw mv::failure(errc::usage, "--as-of '" + v +
                                               "' is not a date; write 2024-05-01, "
                                               "2024-05-01T12:00:00Z or @1714521600");
    }
    if (vm.count("gmail-labels")) {
        const auto v = vm["gmail-labels"].as<std::string>();
        if (v == "folders")
            opts.gmail_mode = sync::label_mode::every_label;
        else if (v == "primary")
            opts.gmail_mode = sync::label_mode::primary_only;
        else if (v == "none")
            opts.gmail_labels = false;
        else
            throw mv::failure(errc::usage,
                              "--gmail-labels '" + v + "': write folders, primary or none");
    }
    if (vm.count("gmail-archive-folder")) {
        opts.gmail_archive_folder = vm["gmail-archive-folder"].as<std::string>();
        if (opts.gmail_archive_folder.empty())
            throw mv::failure(errc::usage, "--gmail-archive-folder needs a folder name");
    }
    if (vm.count("account")) opts.source_accounts = vm["account"].as<std::vector<std::string>>();
    if (vm.count("folder")) opts.folders = vm["folder"].as<std::vector<std::string>>();
    if (vm.count("map"))
        for (const auto& m : vm["map"].as<std::vector<std::string>>()) {
            auto r = sync::parse_map_rule(m);
            if (!r)
                throw mv::failure(errc::usage,
                                  "--map '" + m + "' is not SRC=DST (e.g. 'Sent=Sent Items')");
            opts.maps.push_back(*r);
        }
    attach_output(opts, json, vm.count("quiet") > 0);

    int code = exit_ok;
    const auto rep = run_restore_into(vm, cfg, target, opts, code);
    if (json) {
        auto out = to_json(rep, opts.dry_run);
        out["dry_run"] = opts.dry_run;
        out["exit_code"] = code;
        std::cout << out.dump(2) << "\n";
        return code;
    }
    for (const auto& f : rep.folders) {
        const std::string where = f.source_account + "/" + f.source_folder;
        if (opts.dry_run)
            std::printf("%s -> %s: would append %lld, look up %lld, already there %lld\n",
                        where.c_str(), f.target_folder.c_str(),
                        static_cast<long long>(f.would_append),
                        static_cast<long long>(f.to_resolve), static_cast<long long>(f.already));
        else
            std::printf("%s -> %s: appended %lld, already there %lld, skipped %zu\n", where.c_str(),
                        f.target_folder.c_str(), static_cast<long long>(f.appended),
                        static_cast<long long>(f.already + f.matched), f.skipped.size());
        if (!f.note.empty()) std::printf("%s: note: %s\n", where.c_str(), f.note.c_str());
        if (f.err) std::printf("%s: error: %s\n", where.c_str(), f.err.message.c_str());
        for (const auto& s : f.skipped)
            std::printf("%s: skipped entry %lld: %s\n", where.c_str(),
                        static_cast<long long>(s.entry_id), s.reason.c_str());
        for (const auto& p : f.verify_problems)
            std::printf("%s: VERIFY FAILED: %s\n", where.c_str(), p.c_str());
        if (opts.verify && !opts.dry_run)
            std::printf("%s: verified %lld on the target\n", where.c_str(),
                        static_cast<long long>(f.verified));
        for (const auto& k : f.dropped_keywords)
            std::printf("%s: keyword not restored, %s\n", where.c_str(), k.c_str());
    }
    if (opts.dry_run) std::printf("dry run: nothing changed\n");
    return code;
}

MV_COMMAND("restore", "write archived messages into an IMAP account (resumable, never twice)",
           run_restore);

// `mailvault migrate --from A --to B`: the normal sync of A, then a restore of A's archived
// folders (without what A expunged) into B, then B's copy fetched back and compared with the
// archive. See docs/restore.md.
int run_migrate(const std::vector<std::string>& args) {
    po::options_description d("mailvault migrate --from ACCOUNT --to ACCOUNT [options]");
    add_archive_options(d);
    d.add_options()("from", po::value<std::string>(), "the configured account to move from")(
        "to", po::value<std::string>(), "the configured IMAP account to move into")(
        "connections", po::value<int>(),
        "connections to the target for the restore, folders spread over them (default 1)")(
        "json", "machine-readable summary on stdout")("quiet,q", "no per-folder log lines")(
        "help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    if (!vm.count("from") || !vm.count("to"))
        throw mv::failure(errc::usage, "migrate needs --from ACCOUNT and --to ACCOUNT");
    const auto from = vm["from"].as<std::string>(), to = vm["to"].as<std::string>();
    if (from == to)
        throw mv::failure(errc::usage, "migrate: --from and --to name the same account");
    auto cfg = load_config(vm);
    (void)accounts_named(cfg, {from, to});  // both must exist
    const bool json = vm.count("json") > 0;

    // 1. sync A, with its report on stderr so that stdout carries only ours.
    std::vector<std::string> sync_args = {"--account", from, "--quiet"};
    for (const char* o : {"config", "archive"})
        if (vm.count(o)) {
            sync_args.push_back(std::string("--") + o);
            sync_args.push_back(vm[o].as<std::string>());
        }
    const command* sync = nullptr;
    for (const auto& c : registry())
        if (c.name == "sync") sync = &c;
    if (!sync) throw mv::failure(errc::internal, "migrate: the sync command is not built in");
    std::cout.flush();
    std::fflush(stdout);
    const int saved = ::dup(1);
    if (saved < 0 || ::dup2(2, 1) < 0)
        throw mv::failure(errc::io, "migrate: cannot redirect the sync report to stderr");
    int sync_code = exit_internal;
    try {
        sync_code = sync->run(sync_args);
    } catch (...) {
        std::cout.flush();
        std::fflush(stdout);
        ::dup2(saved, 1);
        ::close(saved);
        throw;
    }
    std::cout.flush();
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    if (sync_code != exit_ok) {
        std::fprintf(stderr,
                     "mailvault: migrate: the sync of '%s' did not complete (exit %d); nothing "
                     "was restored into '%s'\n",
                     from.c_str(), sync_code, to.c_str());
        if (json)
            std::cout
                << nlohmann::json{{"sync_exit_code", sync_code}, {"exit_code", sync_code}}.dump(2)
                << "\n";
        return sync_code;
    }

    // 2. restore into B, 3. verify B against the archive.
    const auto targets = accounts_named(cfg, {to});
    sync::restore_options opts;
    opts.source_accounts = {from};
    opts.exclude_expunged = true;
    opts.verify = true;
    opts.update_flags = true;
    opts.verify_new_only = true;
    set_connections(vm, opts);
    attach_output(opts, json, vm.count("quiet") > 0);
    int code = exit_ok;
    const auto rep = run_restore_into(vm, cfg, *targets.front(), opts, code);
    if (json) {
        nlohmann::json out = {
            {"sync_exit_code", sync_code}, {"restore", to_json(rep, false)}, {"exit_code", code}};
        std::cout << out.dump(2) << "\n";
        return code;
    }
    std::int64_t appended = 0, already = 0, verified = 0;
    std::size_t problems = 0, skipped = 0;
    for (const auto& f : rep.folders) {
        appended += f.appended;
        already += f.already + f.matched;
        verified += f.verified;
        problems += f.verify_problems.size();
        skipped += f.skipped.size();
        for (const auto& p : f.verify_problems)
            std::printf("%s: VERIFY FAILED: %s\n", f.target_folder.c_str(), p.c_str());
        for (const auto& x : f.skipped)
            std::printf("%s: skipped entry %lld: %s\n", f.target_folder.c_str(),
                        static_cast<long long>(x.entry_id), x.reason.c_str());
    }
    std::printf(
        "migrate %s -> %s: %lld appended, %lld already there, %zu skipped, %lld verified "
        "on the target, %zu verification problems\n",
        from.c_str(), to.c_str(), static_cast<long long>(appended), static_cast<long long>(already),
        skipped, static_cast<long long>(verified), problems);
    return code;
}

MV_COMMAND("migrate", "sync one account, restore it into another and verify the copy", run_migrate);

}  // namespace
}  // namespace mv::cli
