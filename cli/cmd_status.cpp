// `mailvault status`: per account and folder, what the archive holds and when it was synced.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "common.hpp"

namespace mv::cli {
namespace {

std::string when(std::optional<std::int64_t> t) {
    if (!t) return "never";
    std::time_t tt = static_cast<std::time_t>(*t);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::gmtime(&tt));
    return buf;
}

int run_status(const std::vector<std::string>& args) {
    po::options_description d("mailvault status [options]");
    add_archive_options(d);
    d.add_options()("json", "machine-readable output")("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto arch = open_archive(archive_path(vm), false, true);
    auto stats = arch->stats();
    auto totals = arch->totals();
    // Mailbox states (UIDVALIDITY, last sync) by account and name.
    std::map<std::pair<std::string, std::string>, archive::mailbox_state> states;
    std::map<std::string, std::int64_t> account_ids;
    for (const auto& s : stats) {
        if (!account_ids.count(s.account)) {
            auto id = arch->find_account(s.account);
            account_ids[s.account] = id.value_or(0);
            if (id)
                for (auto& m : arch->mailboxes(*id)) states[{s.account, m.name}] = m;
        }
    }
    nlohmann::json j = nlohmann::json::array();
    if (!vm.count("json")) {
        // ON SERVER: archived entries the server still held at the last sync; GONE: archived
        // entries the server has expunged since (kept in the archive).
        std::printf("%-12s %-28s %9s %9s %11s %11s %11s  %s\n", "ACCOUNT", "FOLDER", "ON SERVER",
                    "GONE", "RAW", "STORED", "UIDVALIDITY", "LAST SYNC (UTC)");
    }
    for (const auto& s : stats) {
        auto it = states.find({s.account, s.mailbox});
        std::optional<std::uint32_t> uv;
        std::optional<std::int64_t> last;
        std::int64_t gen = 1;
        if (it != states.end()) {
            uv = it->second.uidvalidity;
            last = it->second.last_synced;
            gen = it->second.generation;
        }
        if (vm.count("json")) {
            j.push_back({{"account", s.account},
                         {"folder", s.mailbox},
                         {"messages", s.messages},
                         {"expunged_on_server", s.expunged},
                         {"raw_bytes", s.raw_bytes},
                         {"stored_bytes", s.stored_bytes},
                         {"uidvalidity", uv ? nlohmann::json(*uv) : nlohmann::json()},
                         {"generation", gen},
                         {"last_synced", last ? nlohmann::json(*last) : nlohmann::json()}});
        } else {
            std::printf("%-12s %-28s %9lld %9lld %11lld %11lld %11s  %s\n", s.account.c_str(),
                        s.mailbox.c_str(), static_cast<long long>(s.messages),
                        static_cast<long long>(s.expunged), static_cast<long long>(s.raw_bytes),
                        static_cast<long long>(s.stored_bytes),
                        uv ? std::to_string(*uv).c_str() : "-", when(last).c_str());
        }
    }
    if (vm.count("json")) {
        nlohmann::json out = {{"folders", j},
                              {"contents", totals.contents},
                              {"raw_bytes", totals.raw_bytes},
                              {"stored_bytes", totals.stored_bytes},
                              {"entries", totals.entries},
                              {"dictionaries", totals.dictionaries}};
        std::cout << out.dump(2) << "\n";
    } else {
        double ratio = totals.raw_bytes ? static_cast<double>(totals.stored_bytes) /
                                              static_cast<double>(totals.raw_bytes)
                                        : 0;
        std::printf(
            "\n%lld distinct messages in %lld entries; %lld raw bytes stored in %lld (%.2fx), "
            "%lld dictionaries\n",
            static_cast<long long>(totals.contents), static_cast<long long>(totals.entries),
            static_cast<long long>(totals.raw_bytes), static_cast<long long>(totals.stored_bytes),
            ratio, static_cast<long long>(totals.dictionaries));
    }
    return exit_ok;
}

MV_COMMAND("status", "per account and folder: messages archived, bytes, last sync", run_status);

}  // namespace
}  // namespace mv::cli
