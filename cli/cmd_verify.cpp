// mailvault verify: re-hash every stored message (streaming), integrity_check, audit chain.
// verify --against-server: compare each selected folder's messages on the server (read-only)
// with the archive (sync/reconcile.hpp); exit 9 when something on the server is not archived.
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "archive/archive.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "report_hook.hpp"
#include "sync/reconcile.hpp"
#include "sync/retention.hpp"

namespace po = boost::program_options;

namespace {

// "5,7,9" for ids, with the total when more exist than are listed.
std::string id_list(const std::vector<std::string>& ids, std::uint64_t total, bool numeric) {
    std::string out;
    if (numeric) {
        std::vector<std::uint32_t> uids;
        for (const auto& i : ids) uids.push_back(static_cast<std::uint32_t>(std::stoul(i)));
        out = mv::sync::compress_uids(uids);
    } else {
        for (const auto& i : ids) out += (out.empty() ? "" : " ") + i;
    }
    if (total > ids.size())
        out += " ... (" + std::to_string(total) + " in all, first " + std::to_string(ids.size()) +
               " listed)";
    return out;
}

nlohmann::json folder_json(const mv::sync::reconcile_folder& f) {
    const auto& c = f.cmp;
    nlohmann::json mism = nlohmann::json::array();
    for (const auto& m : c.mismatches)
        mism.push_back({{"id", m.id}, {"server", m.server}, {"archived", m.archived}});
    nlohmann::json j = {{"name", f.name},
                        {"on_server", c.on_server},
                        {"archived", c.archived},
                        {"missing", c.missing},
                        {"extra", c.extra},
                        {"size_mismatches", c.size_mismatches},
                        {"duplicates", c.duplicates},
                        {"missing_ids", c.missing_ids},
                        {"extra_ids", c.extra_ids},
                        {"duplicate_ids", c.duplicate_ids},
                        {"mismatches", mism},
                        {"listed_by_server", f.on_server_listed},
                        {"uidvalidity_differs", f.uidvalidity_differs}};
    if (f.server_uidvalidity) j["server_uidvalidity"] = *f.server_uidvalidity;
    if (f.archive_uidvalidity) j["archive_uidvalidity"] = *f.archive_uidvalidity;
    if (f.err) j["error"] = {{"kind", mv::errc_name(f.err.code)}, {"message", f.err.message}};
    return j;
}

// The run report of `verify --against-server` ([report]): per account what was compared; every
// gap (missing, size differs) and every folder not compared is a failure.
void report_against_server(const std::optional<mv::config::config>& cfg,
                           const std::vector<mv::sync::reconcile_report>& reports, int code,
                           std::chrono::system_clock::time_point started) {
    if (!cfg) return;
    mv::report::run_summary s;
    s.command = "verify --against-server";
    s.start = started;
    for (const auto& r : reports) {
        auto& a = mv::cli::account_of(s, r.account);
        if (r.err) a.failures.push_back(r.err.message);
        for (const auto& f : r.folders) {
            const auto& c = f.cmp;
            if (f.err) {
                a.failures.push_back("folder '" + f.name + "': not compared: " + f.err.message);
                continue;
            }
            a.notes.push_back("folder '" + f.name + "': on server " + std::to_string(c.on_server) +
                              ", archived " + std::to_string(c.archived) + ", missing " +
                              std::to_string(c.missing));
            if (c.missing)
                a.failures.push_back("folder '" + f.name + "': " + std::to_string(c.missing) +
                                     " messages on the server are not archived");
            if (c.size_mismatches)
                a.failures.push_back("folder '" + f.name + "': sizes differ for " +
                                     std::to_string(c.size_mismatches) + " messages");
        }
    }
    s.end = std::chrono::system_clock::now();
    s.exit_code = code;
    mv::cli::send_report(cfg, s);
}

int run_against_server(const po::variables_map& vm,
                       const std::optional<mv::config::config>& report_cfg) {
    auto cfg = mv::cli::load_config(vm);
    std::vector<const mv::config::account*> accounts;
    if (vm.count("account"))
        accounts = mv::cli::accounts_named(cfg, vm["account"].as<std::vector<std::string>>());
    else
        for (const auto& a : cfg.accounts) accounts.push_back(&a);
    const bool json = vm.count("json") > 0;
    const auto path =
        vm.count("archive") ? std::filesystem::path(vm["archive"].as<std::string>()) : cfg.archive;
    auto ap = mv::cli::open_archive(path, false, true);

    mv::sync::reconcile_options opts;
    opts.limit = vm["limit"].as<std::size_t>();
    if (!json)
        opts.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    const auto started = std::chrono::system_clock::now();
    std::vector<mv::sync::reconcile_report> reports;
    for (const auto* a : accounts) reports.push_back(mv::sync::reconcile_account(*a, *ap, opts));

    // Something on the server not archived (or disagreeing) outranks every other outcome: it is
    // what this command exists to find.
    int code = mv::cli::exit_ok;
    bool gaps = false;
    for (const auto& r : reports) {
        gaps = gaps || r.gaps();
        if (r.err && code == mv::cli::exit_ok) code = mv::cli::exit_code_for(r.err.code);
        for (const auto& f : r.folders)
            if (f.err && code == mv::cli::exit_ok) code = mv::cli::exit_partial;
    }
    if (gaps) code = mv::cli::exit_verify_failed;

    if (json) {
        nlohmann::json out = {{"accounts", nlohmann::json::array()}};
        for (const auto& r : reports) {
            nlohmann::json a = {{"account", r.account},
                                {"protocol", r.protocol},
                                {"complete", r.complete()},
                                {"folders", nlohmann::json::array()}};
            if (r.err)
                a["error"] = {{"kind", mv::errc_name(r.err.code)}, {"message", r.err.message}};
            for (const auto& f : r.folders) a["folders"].push_back(folder_json(f));
            out["accounts"].push_back(a);
        }
        out["exit_code"] = code;
        std::cout << out.dump(2) << std::endl;
        report_against_server(report_cfg, reports, code, started);
        return code;
    }
    std::uint64_t missing = 0, mismatched = 0;
    for (const auto& r : reports) {
        if (r.err) std::printf("%s: error: %s\n", r.account.c_str(), r.err.message.c_str());
        const bool numeric = r.protocol == "imap";
        for (const auto& f : r.folders) {
            const std::string where = r.account + "/" + f.name;
            const auto& c = f.cmp;
            if (f.err) {
                std::printf("%s: error: %s\n", where.c_str(), f.err.message.c_str());
                continue;
            }
            missing += c.missing;
            mismatched += c.size_mismatches;
            std::printf("%s: on server %llu / archived %llu / missing %llu / extra %llu%s\n",
                        where.c_str(), static_cast<unsigned long long>(c.on_server),
                        static_cast<unsigned long long>(c.archived),
                        static_cast<unsigned long long>(c.missing),
                        static_cast<unsigned long long>(c.extra),
                        f.on_server_listed ? "" : " (the server no longer lists this folder)");
            if (f.uidvalidity_differs)
                std::printf(
                    "%s: UIDVALIDITY %u on the server, %u in the archive: nothing of the "
                    "server's generation is archived yet; run `mailvault sync`\n",
                    where.c_str(), f.server_uidvalidity.value_or(0),
                    f.archive_uidvalidity.value_or(0));
            if (c.missing)
                std::printf("%s: missing %s %s\n", where.c_str(), numeric ? "UIDs" : "UIDLs",
                            id_list(c.missing_ids, c.missing, numeric).c_str());
            if (c.extra)
                std::printf(
                    "%s: extra (archived, no longer on the server; the next sync marks "
                    "them expunged) %s %s\n",
                    where.c_str(), numeric ? "UIDs" : "UIDLs",
                    id_list(c.extra_ids, c.extra, numeric).c_str());
            for (const auto& m : c.mismatches)
                std::printf("%s: size differs: %s %s: server %llu bytes, archived %llu\n",
                            where.c_str(), numeric ? "UID" : "UIDL", m.id.c_str(),
                            static_cast<unsigned long long>(m.server),
                            static_cast<unsigned long long>(m.archived));
            if (c.size_mismatches > c.mismatches.size())
                std::printf("%s: %llu size mismatches in all\n", where.c_str(),
                            static_cast<unsigned long long>(c.size_mismatches));
            if (c.duplicates)
                std::printf("%s: the server lists %s %s more than once\n", where.c_str(),
                            numeric ? "UIDs" : "UIDLs",
                            id_list(c.duplicate_ids, c.duplicates, numeric).c_str());
        }
    }
    if (code == mv::cli::exit_ok)
        std::printf("against the server: complete, nothing missing\n");
    else if (gaps)
        std::printf(
            "against the server: INCOMPLETE: %llu missing, %llu size mismatches; run "
            "`mailvault sync`, then verify again\n",
            static_cast<unsigned long long>(missing), static_cast<unsigned long long>(mismatched));
    else
        std::printf("against the server: not every folder could be compared\n");
    std::fflush(stdout);
    report_against_server(report_cfg, reports, code, started);
    return code;
}

int run_verify(const std::vector<std::string>& args) {
    po::options_description desc("mailvault verify [--archive PATH] [--against-server]");
    desc.add_options()("help,h", "show this help")(
        "against-server",
        "compare each selected folder on the servers (read-only) with the archive; exit 9 when "
        "something on a server is not archived")(
        "account,a", po::value<std::vector<std::string>>(),
        "with --against-server: only this account (repeatable)")(
        "json", "with --against-server: machine-readable report on stdout")(
        "limit", po::value<std::size_t>()->default_value(20),
        "with --against-server: ids listed per folder and category");
    mv::cli::add_archive_options(desc);
    auto vm = mv::cli::parse(args, desc);
    if (vm.count("help")) {
        std::cout << desc;
        return mv::cli::exit_ok;
    }
    mv::cli::warn_if_exposed(mv::cli::archive_path(vm));
    // The config whose [report] gets the outcome, loaded before the work (a --config that does
    // not load stops the command here).
    const auto report_cfg = mv::cli::config_for_report(vm);
    if (vm.count("against-server")) return run_against_server(vm, report_cfg);
    if (vm.count("account") || vm.count("json"))
        throw mv::failure(mv::errc::usage, "--account and --json go with --against-server");
    const auto started = std::chrono::system_clock::now();
    auto ap = mv::cli::open_archive(mv::cli::archive_path(vm), false, true);
    auto& a = *ap;

    bool tty = mv::cli::stderr_is_tty();
    auto last = std::chrono::steady_clock::now();
    auto rep = a.verify([&](std::int64_t done, std::int64_t total) {
        if (!tty) return;
        auto now = std::chrono::steady_clock::now();
        if (done != total && now - last < std::chrono::milliseconds(200)) return;
        last = now;
        std::fprintf(stderr, "\rverify: %lld/%lld messages", static_cast<long long>(done),
                     static_cast<long long>(total));
        if (done == total) std::fputc('\n', stderr);
    });
    for (const auto& p : rep.problems) {
        std::cout << "BAD ";
        if (p.content) std::cout << "content " << p.content->hex() << ": ";
        std::cout << p.what << "\n";
        for (const auto& w : p.where) {
            std::cout << "    in " << w.account << "/" << w.mailbox;
            if (w.uid) std::cout << " UID " << *w.uid;
            if (w.uidl) std::cout << " UIDL " << *w.uidl;
            std::cout << "\n";
        }
    }
    std::cout << "verified " << rep.contents_checked << " messages (" << rep.bytes_checked
              << " bytes), " << rep.audit_rows << " audit rows: "
              << (rep.ok() ? "all good" : std::to_string(rep.problems.size()) + " problem(s)")
              << "\n";
    const int code = rep.ok() ? mv::cli::exit_ok : mv::cli::exit_verify_failed;
    std::cout.flush();
    if (report_cfg) {
        mv::report::run_summary s;
        s.command = "verify";
        s.start = started;
        s.end = std::chrono::system_clock::now();
        s.exit_code = code;
        s.notes.push_back("verified " + std::to_string(rep.contents_checked) + " messages (" +
                          std::to_string(rep.bytes_checked) + " bytes), " +
                          std::to_string(rep.audit_rows) + " audit rows");
        constexpr std::size_t shown = 50;
        for (std::size_t i = 0; i < rep.problems.size() && i < shown; ++i) {
            const auto& p = rep.problems[i];
            std::string line = p.content ? "content " + p.content->hex() + ": " : std::string();
            line += p.what;
            if (!p.where.empty())
                line += " (in " + p.where[0].account + "/" + p.where[0].mailbox + ")";
            s.failures.push_back(line);
        }
        if (rep.problems.size() > shown)
            s.failures.push_back("... and " + std::to_string(rep.problems.size() - shown) +
                                 " more problems: run `mailvault verify`");
        mv::cli::send_report(*report_cfg, s);
    }
    return code;
}

}  // namespace

MV_COMMAND("verify", "re-hash every archived message, check the database and the audit chain",
           run_verify);
