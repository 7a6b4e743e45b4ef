// `mailvault status`: per account and folder, what the archive holds and when it was synced.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "common.hpp"
#include "mailvault/units.hpp"
#include "sync/watch.hpp"

namespace mv::cli {
namespace {

std::string when(std::optional<std::int64_t> t) {
    return t ? mv::format_utc(*t, "%Y-%m-%d %H:%M:%S") : std::string("never");
}

std::string count(std::optional<std::int64_t> n) {
    return n ? std::to_string(*n) : "-";
}

int run_status(const std::vector<std::string>& args) {
    po::options_description d("mailvault status [options]");
    add_archive_options(d);
    d.add_options()("json", "machine-readable output")(
        "bytes", "sizes in bytes (default: human units, KiB = 1024 bytes)")("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    const auto path = archive_path(vm);
    auto arch = open_archive(path, false, true);
    warn_if_exposed(path);
    auto stats = arch->stats();
    auto totals = arch->totals();
    const auto watcher = sync::running_watcher(path);  // `mailvault watch` holds its lock
    // Mailbox states (UIDVALIDITY, last sync) by account and name.
    std::map<std::pair<std::string, std::string>, archive::mailbox_state> states;
    struct account_summary {
        std::optional<std::int64_t> last_completed;
        std::optional<std::int64_t> on_server;  // sum over folders with a recorded count
        std::int64_t archived = 0;
        std::int64_t folders = 0, counted = 0;
    };
    std::map<std::string, account_summary> accounts;
    for (const auto& [id, info] : arch->accounts()) {
        accounts[info.name].last_completed = arch->last_completed_sync(id);
        for (auto& m : arch->mailboxes(id)) states[{info.name, m.name}] = m;
    }
    for (const auto& s : stats) {
        auto& a = accounts[s.account];
        ++a.folders;
        a.archived += s.messages;
        if (s.server_messages) {
            ++a.counted;
            a.on_server = a.on_server.value_or(0) + *s.server_messages;
        }
    }
    nlohmann::json j = nlohmann::json::array();
    auto opt = [](std::optional<std::int64_t> v) {
        return v ? nlohmann::json(*v) : nlohmann::json();
    };
    const bool exact = vm.count("bytes") > 0;
    auto size = [&](std::int64_t b) {
        return exact ? std::to_string(b) : mv::format_size(static_cast<std::uint64_t>(b));
    };
    // ON SERVER: what the server reported at the last sync that reached the folder ("-": not
    // recorded yet); ARCHIVED: archived entries the server still held then; GONE: archived
    // entries the server has expunged since (kept in the archive); LAST SYNC: the last time a
    // sync found the folder in step with the server (fetched what was new, or found it unchanged).
    table t;
    t.header = {"ACCOUNT", "FOLDER", "ON SERVER",   "ARCHIVED",       "GONE",
                "RAW",     "STORED", "UIDVALIDITY", "LAST SYNC (UTC)"};
    t.right = {false, false, true, true, true, true, true, true, false};
    for (const auto& s : stats) {
        auto it = states.find({s.account, s.mailbox});
        std::optional<std::uint32_t> uv;
        std::optional<std::int64_t> last;
        std::int64_t gen = 1;
        if (it != states.end()) {
            uv = it->second.uidvalidity;
            last = it->second.last_synced;
            // An unchanged folder, or a POP3 maildrop, is confirmed by its server count.
            if (s.server_counted_at && (!last || *s.server_counted_at > *last))
                last = s.server_counted_at;
            gen = it->second.generation;
        }
        if (vm.count("json")) {
            j.push_back({{"account", s.account},
                         {"folder", s.mailbox},
                         {"on_server_at_last_sync", opt(s.server_messages)},
                         {"server_counted_at", opt(s.server_counted_at)},
                         {"messages", s.messages},
                         {"expunged_on_server", s.expunged},
                         {"raw_bytes", s.raw_bytes},
                         {"stored_bytes", s.stored_bytes},
                         {"uidvalidity", uv ? nlohmann::json(*uv) : nlohmann::json()},
                         {"generation", gen},
                         {"last_synced", opt(last)}});
        } else {
            t.rows.push_back({s.account, s.mailbox, count(s.server_messages),
                              std::to_string(s.messages), std::to_string(s.expunged),
                              size(s.raw_bytes), size(s.stored_bytes),
                              uv ? std::to_string(*uv) : "-", when(last)});
        }
    }
    if (vm.count("json")) {
        nlohmann::json ja = nlohmann::json::array();
        for (const auto& [name, a] : accounts)
            ja.push_back({{"account", name},
                          {"last_completed_sync", opt(a.last_completed)},
                          {"on_server_at_last_sync", opt(a.on_server)},
                          {"folders", a.folders},
                          {"folders_counted", a.counted},
                          {"archived", a.archived}});
        nlohmann::json out = {{"accounts", ja},
                              {"folders", j},
                              {"contents", totals.contents},
                              {"raw_bytes", totals.raw_bytes},
                              {"stored_bytes", totals.stored_bytes},
                              {"entries", totals.entries},
                              {"dictionaries", totals.dictionaries}};
        out["watcher"] = watcher ? nlohmann::json{{"pid", watcher->pid}, {"since", watcher->since}}
                                 : nlohmann::json();
        std::cout << out.dump(2) << "\n";
    } else {
        t.print(stdout);
        std::printf("\n");
        for (const auto& [name, a] : accounts) {
            std::string server =
                a.on_server ? std::to_string(*a.on_server) + " on server at last sync" +
                                  (a.counted < a.folders
                                       ? " (" + std::to_string(a.counted) + " of " +
                                             std::to_string(a.folders) + " folders counted)"
                                       : "")
                            : "on server: not recorded yet";
            std::printf("%s: %s, %lld archived; last completed sync: %s\n", name.c_str(),
                        server.c_str(), static_cast<long long>(a.archived),
                        a.last_completed ? (when(a.last_completed) + " UTC").c_str() : "never");
        }
        double ratio = totals.raw_bytes ? static_cast<double>(totals.stored_bytes) /
                                              static_cast<double>(totals.raw_bytes)
                                        : 0;
        std::printf(
            "\n%lld distinct messages in %lld entries; %s raw stored in %s (%.2fx), "
            "%lld dictionaries\n",
            static_cast<long long>(totals.contents), static_cast<long long>(totals.entries),
            size(totals.raw_bytes).c_str(), size(totals.stored_bytes).c_str(), ratio,
            static_cast<long long>(totals.dictionaries));
        if (watcher)
            std::printf("watcher running since %s UTC (pid %lld)\n", when(watcher->since).c_str(),
                        static_cast<long long>(watcher->pid));
        else
            std::printf("no watcher running (`mailvault watch`)\n");
    }
    return exit_ok;
}

MV_COMMAND("status", "per account and folder: on server at last sync, archived, bytes, last sync",
           run_status);

}  // namespace
}  // namespace mv::cli
