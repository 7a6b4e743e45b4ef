// `mailvault hold add|list|release`: legal holds on an account or folder, or on the messages a
// query matches (`--query`, stored as that set of entries: docs/retention.md "Holds by query").
// While a hold is active, prune and purge leave everything it covers alone. Adding and releasing
// are audited.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "archive/browser.hpp"
#include "archive/searcher.hpp"
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

// `hold add --query Q`: the entries Q matches now, after bringing the search index up to date
// (a message not yet indexed would otherwise escape the hold), stored with the query text.
int run_hold_add_query(const po::variables_map& vm, const std::string& reason) {
    const std::string query = vm["query"].as<std::string>();
    if (query.find_first_not_of(" \t") == std::string::npos)
        throw mv::failure(errc::usage, "--query is empty; give a search (man mailvault-search)");
    auto arch = open_archive(archive_path(vm), false, false);
    arch->index_pending();
    archive::transaction tx(*arch);
    archive::search_request q;
    q.query = query;
    q.snippets = false;
    std::vector<std::int64_t> ids;
    archive::searcher(*arch).each(q, [&](const archive::entry_hit& h) {
        ids.push_back(h.entry_id);
        return true;
    });
    const auto id = archive::browser(*arch).add_query_hold(query, reason, ids);
    tx.commit(archive::durability::full);
    std::printf("hold q%lld added on the %zu messages matching '%s'\n", static_cast<long long>(id),
                ids.size(), query.c_str());
    return exit_ok;
}

int run_hold_add(const std::vector<std::string>& args) {
    po::options_description d(
        "mailvault hold add (--account A [--folder F] | --query Q) --reason TEXT");
    add_archive_options(d);
    d.add_options()("account,a", po::value<std::string>(), "the account")(
        "folder,f", po::value<std::string>(), "only this folder (default: the whole account)")(
        "query", po::value<std::string>(),
        "hold the messages this search matches now (man mailvault-search)")(
        "reason", po::value<std::string>(), "why (recorded in the audit log)")("help,h",
                                                                               "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    if (vm.count("query")) {
        if (vm.count("account") || vm.count("folder"))
            throw mv::failure(errc::usage,
                              "--query holds what the query matches; narrow it inside the query "
                              "(account:A folder:F) instead of --account/--folder");
        return run_hold_add_query(vm, require_reason(vm));
    }
    if (!vm.count("account"))
        throw mv::failure(errc::usage, "--account A or --query Q is required");
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
    const auto by_query = archive::browser(*arch).query_holds(vm.count("all") > 0);
    for (const auto& h : by_query) {
        const std::string id = "q" + std::to_string(h.id);
        if (vm.count("json")) {
            nlohmann::json j = {{"id", id},
                                {"query", h.query},
                                {"matched", h.matched},
                                {"reason", h.reason},
                                {"added_at", h.added_at},
                                {"released_at", h.released_at ? nlohmann::json(*h.released_at)
                                                              : nlohmann::json(nullptr)}};
            std::cout << j.dump() << "\n";
            continue;
        }
        std::printf("%s  query '%s' (%lld messages)  since %s%s  %s\n", id.c_str(), h.query.c_str(),
                    static_cast<long long>(h.matched), utc(h.added_at).c_str(),
                    h.released_at ? ("  released " + utc(*h.released_at)).c_str() : "",
                    h.reason.c_str());
    }
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
    if (holds.empty() && by_query.empty() && !vm.count("json"))
        std::printf("no active legal holds\n");
    return exit_ok;
}

int run_hold_release(const std::vector<std::string>& args) {
    po::options_description d("mailvault hold release ID --reason TEXT");
    add_archive_options(d);
    d.add_options()("id", po::value<std::string>(), "the hold (see `hold list`): N or qN")(
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
    const std::string idtext = vm["id"].as<std::string>();
    const bool by_query = !idtext.empty() && (idtext[0] == 'q' || idtext[0] == 'Q');
    std::int64_t id = 0;
    {
        const std::string digits = by_query ? idtext.substr(1) : idtext;
        if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
            digits.size() > 18)
            throw mv::failure(errc::usage, "'" + idtext +
                                               "' is not a hold id: give N or qN as `hold list` "
                                               "shows it");
        id = std::stoll(digits);
    }
    auto arch = open_archive(archive_path(vm), false, false);
    archive::transaction tx(*arch);
    if (by_query) {
        auto q = archive::browser(*arch).release_query_hold(id, reason);
        tx.commit(archive::durability::full);
        std::printf("hold q%lld on the %lld messages matching '%s' released\n",
                    static_cast<long long>(q.id), static_cast<long long>(q.matched),
                    q.query.c_str());
        return exit_ok;
    }
    auto h = arch->release_hold(id, reason);
    tx.commit(archive::durability::full);
    std::printf("hold %lld on %s%s released\n", static_cast<long long>(h.id), h.account.c_str(),
                h.mailbox ? ("/" + *h.mailbox).c_str() : " (whole account)");
    return exit_ok;
}

MV_COMMAND("hold add",
           "put an account, a folder or a query's messages under legal hold (blocks prune and "
           "purge)",
           run_hold_add);
MV_COMMAND("hold list", "list legal holds", run_hold_list);
MV_COMMAND("hold release", "release a legal hold", run_hold_release);

}  // namespace
}  // namespace mv::cli
