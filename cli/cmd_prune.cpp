// `mailvault prune`: delete archived, verified messages from IMAP servers by retention rules.
// Dry run (the plan) unless --execute. See docs/retention.md.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "archive/searcher.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "mailvault/units.hpp"
#include "report_hook.hpp"
#include "sync/prune.hpp"

namespace mv::cli {
namespace {

std::string human_size(std::uint64_t b) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    double v = static_cast<double>(b);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

sync::prune_rule rule_from_config(const config::prune_rule& c) {
    sync::prune_rule r;
    r.name = c.name;
    if (!c.account.empty()) r.account = c.account;
    r.folders = c.folders;
    if (c.older_than.count() > 0) r.older_than = c.older_than;
    r.flags = c.flags;
    r.larger_than = c.larger_than;
    r.trash = c.trash_folder;  // applies to the messages this rule selects, not to other rules
    return r;
}

nlohmann::json to_json(const sync::prune_report& r, bool dry) {
    nlohmann::json folders = nlohmann::json::array();
    for (const auto& f : r.folders) {
        nlohmann::json refused = nlohmann::json::array();
        for (const auto& x : f.refused)
            refused.push_back({{"uid", x.uid}, {"reason", x.reason}, {"kind", x.kind}});
        nlohmann::json j = {{"name", f.name},
                            {"uidvalidity", f.uidvalidity.value_or(0)},
                            {"planned", f.planned.size()},
                            {"planned_uids", sync::compress_uids(f.planned)},
                            {"planned_bytes", f.planned_bytes},
                            {"deleted", f.deleted.size()},
                            {"deleted_uids", sync::compress_uids(f.deleted)},
                            {"deleted_bytes", f.deleted_bytes},
                            {"refused", refused}};
        if (!dry) j["method"] = f.method;
        if (f.hold_id) j["hold"] = {{"id", *f.hold_id}, {"reason", f.hold_reason}};
        if (f.err) j["error"] = {{"kind", errc_name(f.err.code)}, {"message", f.err.message}};
        folders.push_back(j);
    }
    nlohmann::json j = {
        {"account", r.account}, {"status", r.err ? "failed" : "ok"}, {"folders", folders}};
    if (r.err) j["error"] = {{"kind", errc_name(r.err.code)}, {"message", r.err.message}};
    return j;
}

int run_prune(const std::vector<std::string>& args) {
    po::options_description d("mailvault prune [options]");
    add_archive_options(d);
    d.add_options()("account,a", po::value<std::vector<std::string>>(),
                    "only this account (repeatable)")(
        "folder,f", po::value<std::vector<std::string>>(),
        "folder pattern for the command-line rule (repeatable; * and % wildcards)")(
        "older-than", po::value<std::string>(), "INTERNALDATE older than this: 30d, 12h, 2w")(
        "flag", po::value<std::vector<std::string>>(),
        "only messages with this flag, e.g. '\\Seen'")("larger-than", po::value<std::string>(),
                                                       "only messages larger than this: 5M, 200k")(
        "query", po::value<std::string>(),
        "only messages matching this search (man mailvault-search) among what the rules select")(
        "execute", "really delete (default: print the plan and change nothing)")(
        "trash", po::value<std::string>(), "UID MOVE to this folder instead of expunging")(
        "allow-plain-expunge",
        "without UIDPLUS: plain EXPUNGE when no other message is marked \\Deleted")(
        "json", "machine-readable summary on stdout")("quiet,q", "no per-message log lines")(
        "help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto cfg = load_config(vm);
    const bool execute = vm.count("execute") > 0;
    const bool json = vm.count("json") > 0;

    sync::prune_options opts;
    opts.execute = execute;
    const bool cli_rule = vm.count("older-than") || vm.count("flag") || vm.count("larger-than");
    if (cli_rule) {
        sync::prune_rule r;
        if (vm.count("folder")) r.folders = vm["folder"].as<std::vector<std::string>>();
        if (vm.count("older-than")) {
            const auto s = vm["older-than"].as<std::string>();
            r.older_than = mv::parse_duration(s);
            if (!r.older_than)
                throw mv::failure(errc::usage, "--older-than '" + s + "' is not a duration; " +
                                                   std::string(mv::duration_grammar()));
        }
        if (vm.count("larger-than")) {
            const auto s = vm["larger-than"].as<std::string>();
            r.larger_than = mv::parse_size(s);
            if (!r.larger_than)
                throw mv::failure(errc::usage, "--larger-than '" + s + "' is not a size; " +
                                                   std::string(mv::size_grammar()));
        }
        if (vm.count("flag")) r.flags = vm["flag"].as<std::vector<std::string>>();
        if (auto why = sync::validate_rule(r); !why.empty()) throw mv::failure(errc::usage, why);
        opts.rules.push_back(std::move(r));
    } else {
        if (vm.count("folder"))
            throw mv::failure(errc::usage,
                              "--folder needs a command-line rule: add --older-than, --flag or "
                              "--larger-than");
        for (const auto& c : cfg.prune) opts.rules.push_back(rule_from_config(c));
        if (opts.rules.empty())
            throw mv::failure(errc::usage,
                              "no prune rule: give --older-than, --flag or "
                              "--larger-than, or add [[prune_rule]] sections to " +
                                  cfg.source.string());
    }
    if (vm.count("trash")) opts.trash = vm["trash"].as<std::string>();
    opts.allow_plain_expunge = vm.count("allow-plain-expunge") > 0;
    if (!json && !vm.count("quiet"))
        opts.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };

    // Accounts: those asked for, else every IMAP account a rule covers.
    std::vector<const config::account*> accounts;
    if (vm.count("account")) {
        accounts = accounts_named(cfg, vm["account"].as<std::vector<std::string>>());
    } else {
        for (const auto& a : cfg.accounts) {
            if (a.protocol != config::protocol::imap) continue;
            for (const auto& r : opts.rules)
                if (!r.account || *r.account == a.name) {
                    accounts.push_back(&a);
                    break;
                }
        }
    }
    const auto path =
        vm.count("archive") ? std::filesystem::path(vm["archive"].as<std::string>()) : cfg.archive;
    // --query: the selection is the set of entries the query matches now, taken before any
    // folder is touched. The search index is brought up to date first in the dry run as in the
    // real one, so that both select the same messages (a message not yet indexed would match
    // in one and not the other); indexing changes no message and no entry.
    const bool with_query = vm.count("query") > 0;
    auto arch = open_archive(path, false, !execute && !with_query, cfg.zstd_level);
    if (with_query) {
        opts.query = vm["query"].as<std::string>();
        if (opts.query.find_first_not_of(" \t") == std::string::npos)
            throw mv::failure(errc::usage,
                              "--query is empty; give a search (man mailvault-search)");
        arch->index_pending();
        archive::search_request q;
        q.query = opts.query;
        q.snippets = false;
        std::vector<std::int64_t> ids;
        archive::searcher(*arch).each(q, [&](const archive::entry_hit& h) {
            ids.push_back(h.entry_id);
            return true;
        });
        std::sort(ids.begin(), ids.end());
        if (!json && !vm.count("quiet"))
            std::fprintf(stderr, "--query '%s' matches %zu archived messages\n", opts.query.c_str(),
                         ids.size());
        opts.only_entries = std::move(ids);
    }
    sync::shared_archive shared(*arch);

    const auto started = std::chrono::system_clock::now();
    const std::int64_t audit_before = execute ? audit_mark(*arch) : 0;
    std::vector<sync::prune_report> reports;
    for (const auto* a : accounts) reports.push_back(sync::prune_imap_account(*a, shared, opts));

    int code = exit_ok;
    for (const auto& r : reports) {
        if (r.err) {
            if (code == exit_ok || code == exit_partial) code = exit_code_for(r.err.code);
            std::fprintf(stderr, "mailvault: %s\n", r.err.message.c_str());
        }
        for (const auto& f : r.folders) {
            for (const auto& x : f.refused)
                if (x.verification && (code == exit_ok || code == exit_partial))
                    code = exit_verify_failed;
            if (f.err && code == exit_ok) code = exit_partial;
        }
    }
    // The run report ([report]): only for --execute, the run that changes servers. Each
    // deletion is listed with its audit record; each message kept because the archive and the
    // server disagree is a failure.
    report::run_summary summary;
    if (execute) {
        summary.command = "prune";
        summary.start = started;
        for (const auto& r : reports) {
            auto& a = account_of(summary, r.account);
            if (r.err) a.failures.push_back(r.err.message);
            for (const auto& f : r.folders) {
                a.deleted_on_server += f.deleted.size();
                if (f.hold_id)
                    a.notes.push_back("folder '" + f.name + "': skipped, under legal hold " +
                                      std::to_string(*f.hold_id));
                if (f.err) a.failures.push_back("folder '" + f.name + "': " + f.err.message);
                for (const auto& x : f.refused)
                    (x.verification ? a.failures : a.notes)
                        .push_back("folder '" + f.name + "': kept UID " + std::to_string(x.uid) +
                                   ": " + x.reason);
            }
        }
        add_deletions(*arch, audit_before, summary);
        summary.end = std::chrono::system_clock::now();
        summary.exit_code = code;
    }
    const auto report_and = [&](int c) {
        if (execute) send_report(cfg, summary);
        return c;
    };
    if (json) {
        // Loud even in JSON mode: a message kept because the archive and the server disagree.
        for (const auto& r : reports)
            for (const auto& f : r.folders)
                for (const auto& x : f.refused)
                    if (x.verification)
                        std::fprintf(stderr, "mailvault: %s/%s: NOT deleted UID %u: %s\n",
                                     r.account.c_str(), f.name.c_str(), x.uid, x.reason.c_str());
        nlohmann::json out = {{"dry_run", !execute}, {"accounts", nlohmann::json::array()}};
        if (opts.only_entries) {
            out["query"] = opts.query;
            out["query_matches"] = opts.only_entries->size();
        }
        for (const auto& r : reports) out["accounts"].push_back(to_json(r, !execute));
        out["exit_code"] = code;
        std::cout << out.dump(2) << std::endl;
        return report_and(code);
    }
    for (const auto& r : reports) {
        for (const auto& f : r.folders) {
            const std::string where = r.account + "/" + f.name;
            if (f.hold_id) {
                std::printf("%s: skipped: under legal hold %lld (%s)\n", where.c_str(),
                            static_cast<long long>(*f.hold_id), f.hold_reason.c_str());
                continue;
            }
            if (f.err) std::printf("%s: error: %s\n", where.c_str(), f.err.message.c_str());
            if (!execute)
                std::printf("%s: would delete %zu messages (%s)%s%s\n", where.c_str(),
                            f.planned.size(), human_size(f.planned_bytes).c_str(),
                            f.planned.empty() ? "" : ": UIDs ",
                            sync::compress_uids(f.planned).c_str());
            else if (!f.err)
                std::printf("%s: deleted %zu messages (%s)%s%s%s\n", where.c_str(),
                            f.deleted.size(), human_size(f.deleted_bytes).c_str(),
                            f.method.empty() ? "" : (" [" + f.method + "]").c_str(),
                            f.deleted.empty() ? "" : ": UIDs ",
                            sync::compress_uids(f.deleted).c_str());
            for (const auto& x : f.refused)
                std::printf("%s: kept UID %u: %s\n", where.c_str(), x.uid, x.reason.c_str());
        }
    }
    if (!execute) std::printf("dry run: nothing changed; add --execute to delete\n");
    std::fflush(stdout);
    return report_and(code);
}

MV_COMMAND("prune", "delete archived and verified messages from IMAP servers by rules", run_prune);

}  // namespace
}  // namespace mv::cli
