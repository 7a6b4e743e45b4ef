// `mailvault hold add|list|release`: legal holds on an account or folder. While a hold is active,
// prune and purge leave everything it covers alone. Adding and releasing are audited.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "common.hpp"

namespace mv::cli {
namespace {

std::string utc(std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

std::string require_reason(const po::variables_map& vm) {
    if (!vm.count("reason") || vm["reason"].as<std::string>().empty())
        throw mv::failure(errc::usage, "--reason TEXT is required (it goes into the audit log)");
    return vm["reason"].as<std::string>();
}

int run_hold_add(const std::vector<std::string>& args) {
    po::options_description d("mailvault hold add --account A [--folder F] --reason TEXT");
    add_archive_options(d);
    d.add_options()("account,a", po::value<std::string>(), "the account")(
        "folder,f", po::value<std::string>(), "only this folder (default: the whole account)")(
        "reason", po::value<std::string>(), "why (recorded in the audit log)")("help,h",
                                                                               "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    if (!vm.count("account")) throw mv::failure(errc::usage, "--account A is required");
    const std::string reason = require_reason(vm);
    const std::string name = vm["account"].as<std::string>();
    auto arch = open_archive(archive_path(vm), false, false);
    archive::transaction tx(*arch);
    auto id = arch->find_account(name);
    if (!id) {
        // A hold may come before the first sync: take the account from the config.
        auto cfg = load_config(vm);
        const auto* a = cfg.find(name);
        if (!a)
            throw mv::failure(errc::usage, "no account named '" + name + "' in the archive or in " +
                                               cfg.source.string());
        id = arch->upsert_account({a->name, config::to_string(a->protocol), a->host, a->user});
    }
    std::optional<std::int64_t> mbox;
    std::string folder;
    if (vm.count("folder")) {
        folder = vm["folder"].as<std::string>();
        for (const auto& m : arch->mailboxes(*id))
            if (m.name == folder || m.wire_name == folder) mbox = m.id;
        if (!mbox)
            throw mv::failure(errc::usage, "account '" + name + "' has no archived folder '" +
                                               folder +
                                               "'; run `mailvault sync` first or hold "
                                               "the whole account");
    }
    const auto hold = arch->add_hold(*id, mbox, reason);
    tx.commit(archive::durability::full);
    std::printf("hold %lld added on %s%s\n", static_cast<long long>(hold), name.c_str(),
                folder.empty() ? " (whole account)" : ("/" + folder).c_str());
    return exit_ok;
}

int run_hold_list(const std::vector<std::string>& args) {
    po::options_description d("mailvault hold list [--all] [--json]");
    add_archive_options(d);
    d.add_options()("all", "include released holds")("json", "JSON lines on stdout")("help,h",
                                                                                     "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto arch = open_archive(archive_path(vm), false, true);
    const auto holds = arch->holds(vm.count("all") > 0);
    for (const auto& h : holds) {
        if (vm.count("json")) {
            nlohmann::json j = {{"id", h.id},
                                {"account", h.account},
                                {"folder", h.mailbox ? nlohmann::json(*h.mailbox) : nullptr},
                                {"reason", h.reason},
                                {"added_at", h.added_at},
                                {"released_at", h.released_at ? nlohmann::json(*h.released_at)
                                                              : nlohmann::json(nullptr)}};
            std::cout << j.dump() << "\n";
            continue;
        }
        std::printf("%lld  %s%s  since %s%s  %s\n", static_cast<long long>(h.id), h.account.c_str(),
                    h.mailbox ? ("/" + *h.mailbox).c_str() : " (account)", utc(h.added_at).c_str(),
                    h.released_at ? ("  released " + utc(*h.released_at)).c_str() : "",
                    h.reason.c_str());
    }
    if (holds.empty() && !vm.count("json")) std::printf("no active legal holds\n");
    return exit_ok;
}

int run_hold_release(const std::vector<std::string>& args) {
    po::options_description d("mailvault hold release ID --reason TEXT");
    add_archive_options(d);
    d.add_options()("id", po::value<std::int64_t>(), "the hold (see `hold list`)")(
        "reason", po::value<std::string>(), "why (recorded in the audit log)")("help,h",
                                                                               "this help");
    po::positional_options_description pos;
    pos.add("id", 1);
    auto vm = parse(args, d, &pos);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    if (!vm.count("id")) throw mv::failure(errc::usage, "which hold? give its ID (`hold list`)");
    const std::string reason = require_reason(vm);
    auto arch = open_archive(archive_path(vm), false, false);
    archive::transaction tx(*arch);
    auto h = arch->release_hold(vm["id"].as<std::int64_t>(), reason);
    tx.commit(archive::durability::full);
    std::printf("hold %lld on %s%s released\n", static_cast<long long>(h.id), h.account.c_str(),
                h.mailbox ? ("/" + *h.mailbox).c_str() : " (whole account)");
    return exit_ok;
}

MV_COMMAND("hold add", "put an account or folder under legal hold (blocks prune and purge)",
           run_hold_add);
MV_COMMAND("hold list", "list legal holds", run_hold_list);
MV_COMMAND("hold release", "release a legal hold", run_hold_release);

}  // namespace
}  // namespace mv::cli
