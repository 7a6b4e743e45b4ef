// `mailvault purge`: archive-side retention. Removes archive entries older than a period that
// the server no longer has (expunged), outside legal holds; contents no longer referenced by any
// entry are deleted with them. Dry run unless --execute. Audited. See docs/retention.md.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "archive/browser.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "mailvault/units.hpp"
#include "report_hook.hpp"
#include "sync/retention.hpp"

namespace mv::cli {
namespace {

int run_purge(const std::vector<std::string>& args) {
    po::options_description d("mailvault purge --older-than DURATION [options]");
    add_archive_options(d);
    d.add_options()("older-than", po::value<std::string>(),
                    "retention period: entries older than this (30d, 52w) may go")(
        "basis", po::value<std::string>()->default_value("internaldate"),
        "age by `internaldate` (the server's date; first-seen when absent) or `first-seen` "
        "(when the archive stored it)")("account,a", po::value<std::string>(), "only this account")(
        "folder,f", po::value<std::string>(), "only this folder")(
        "execute", "really delete (default: print what would go and change nothing)")(
        "json", "machine-readable summary on stdout")("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    if (!vm.count("older-than"))
        throw mv::failure(errc::usage, "--older-than DURATION is required, e.g. --older-than 365d");
    const auto spec = vm["older-than"].as<std::string>();
    const auto period = mv::parse_duration(spec);
    if (!period)
        throw mv::failure(errc::usage, "--older-than '" + spec + "' is not a duration; " +
                                           std::string(mv::duration_grammar()));
    const auto basis_s = vm["basis"].as<std::string>();
    sync::purge_basis basis;
    if (basis_s == "internaldate")
        basis = sync::purge_basis::internaldate;
    else if (basis_s == "first-seen")
        basis = sync::purge_basis::first_seen;
    else
        throw mv::failure(errc::usage, "--basis '" + basis_s + "': use internaldate or first-seen");
    const bool execute = vm.count("execute") > 0;
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    const std::int64_t cutoff = now - period->count();

    // [report] applies to a purge that deletes; loaded before any work so that a --config
    // that does not load stops the command before it changes anything.
    std::optional<config::config> report_cfg;
    if (execute) report_cfg = config_for_report(vm);
    const auto started = std::chrono::system_clock::now();
    auto arch = open_archive(archive_path(vm), false, !execute);
    archive::entry_filter f;
    if (vm.count("account")) f.account = vm["account"].as<std::string>();
    if (vm.count("folder")) f.mailbox = vm["folder"].as<std::string>();
    f.include_expunged = true;
    auto rows = arch->purge_rows(f);
    std::vector<sync::purge_entry> entries;
    std::map<std::int64_t, const archive::purge_row*> by_id;
    for (const auto& r : rows) {
        entries.push_back(
            {r.entry_id, r.account_id, r.mailbox_id, r.internaldate, r.first_seen, r.expunged_at});
        by_id[r.entry_id] = &r;
    }
    std::vector<sync::hold_scope> scopes;
    for (const auto& h : arch->holds()) scopes.push_back({h.id, h.account_id, h.mailbox_id, true});
    auto dec = sync::select_for_purge(entries, scopes, archive::browser(*arch).query_held_entries(),
                                      cutoff, basis);
    std::uint64_t bytes = 0;
    for (auto id : dec.purge) bytes += by_id[id]->size;
    const std::string rule = "purge older_than=" + spec + " basis=" + basis_s;

    archive::purge_stats st;
    if (execute && !dec.purge.empty()) {
        archive::transaction tx(*arch);
        for (auto id : dec.purge) {
            const auto& r = *by_id[id];
            nlohmann::json j = {{"account", r.account},
                                {"folder", r.mailbox},
                                {"uidvalidity", r.uidvalidity ? nlohmann::json(*r.uidvalidity)
                                                              : nlohmann::json(nullptr)},
                                {"sha256", r.content.hex()},
                                {"size", r.size},
                                {"internaldate", r.internaldate.value_or(0)},
                                {"first_seen", r.first_seen},
                                {"expunged_at", r.expunged_at.value_or(0)},
                                {"rule", rule},
                                {"time", now}};
            if (r.uid) j["uid"] = *r.uid;
            if (r.uidl) j["uidl"] = *r.uidl;
            arch->audit_append("purge_entry", j.dump());
        }
        st = arch->purge_entries(dec.purge);
        arch->audit_append("purge", nlohmann::json{{"rule", rule},
                                                   {"entries", st.entries},
                                                   {"contents", st.contents},
                                                   {"raw_bytes", st.raw_bytes},
                                                   {"stored_bytes", st.stored_bytes},
                                                   {"held", dec.held},
                                                   {"on_server", dec.on_server},
                                                   {"time", now}}
                                        .dump());
        tx.commit(archive::durability::full);
    }
    // After the output (a slow relay must not hold it back): what left the archive.
    const auto send_purge_report = [&] {
        if (!execute) return;
        // Per account: what left the archive (entries, with their hashes in the audit log).
        report::run_summary summary;
        summary.command = "purge";
        summary.start = started;
        summary.notes.push_back("rule: " + rule);
        std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> per_account;
        for (auto id : dec.purge) {
            auto& [n, b] = per_account[by_id[id]->account];
            ++n;
            b += by_id[id]->size;
        }
        for (const auto& [name, nb] : per_account)
            account_of(summary, name)
                .notes.push_back("purged from the archive: " + std::to_string(nb.first) +
                                 " entries (" + std::to_string(nb.second) + " bytes)");
        summary.notes.push_back("contents deleted: " + std::to_string(st.contents) + " (" +
                                std::to_string(st.stored_bytes) + " bytes stored)");
        if (dec.held) summary.notes.push_back("kept under legal hold: " + std::to_string(dec.held));
        if (dec.on_server)
            summary.notes.push_back("kept, still on the server: " + std::to_string(dec.on_server));
        summary.end = std::chrono::system_clock::now();
        send_report(report_cfg, summary);
    };
    if (vm.count("json")) {
        nlohmann::json j = {{"dry_run", !execute},
                            {"selected", dec.purge.size()},
                            {"bytes", bytes},
                            {"held", dec.held},
                            {"on_server", dec.on_server},
                            {"entries_deleted", st.entries},
                            {"contents_deleted", st.contents},
                            {"stored_bytes_freed", st.stored_bytes}};
        std::cout << j.dump(2) << std::endl;
        send_purge_report();
        return exit_ok;
    }
    if (execute)
        std::printf(
            "purged %lld entries and %lld contents no longer referenced (%lld bytes stored)\n",
            static_cast<long long>(st.entries), static_cast<long long>(st.contents),
            static_cast<long long>(st.stored_bytes));
    else
        std::printf("would purge %zu entries (%llu bytes of messages)\n", dec.purge.size(),
                    static_cast<unsigned long long>(bytes));
    if (dec.held)
        std::printf("kept %lld entries under legal hold\n", static_cast<long long>(dec.held));
    if (dec.on_server)
        std::printf("kept %lld entries still on the server\n",
                    static_cast<long long>(dec.on_server));
    if (!execute) std::printf("dry run: nothing changed; add --execute to purge\n");
    std::fflush(stdout);
    send_purge_report();
    return exit_ok;
}

MV_COMMAND("purge", "remove expunged messages older than a retention period from the archive",
           run_purge);

}  // namespace
}  // namespace mv::cli
