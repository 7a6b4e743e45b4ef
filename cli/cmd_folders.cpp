// `mailvault folders`: what each configured IMAP account's server holds (like `mbsync -l`): every
// folder with its attributes, message and unseen counts, and whether `sync` selects it under the
// account's `folders` patterns. Read-only: LIST (with LIST-STATUS when offered, else one STATUS
// per folder); nothing is written, not even the archive.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "common.hpp"
#include "imap/client.hpp"
#include "imap/writer.hpp"
#include "sync/connect.hpp"

namespace mv::cli {
namespace {

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
    return out;
}

std::string opt(const std::optional<std::uint32_t>& v) {
    return v ? std::to_string(*v) : "-";
}

int run_folders(const std::vector<std::string>& args) {
    po::options_description d("mailvault folders [--account A]... [--json]");
    add_archive_options(d);
    d.add_options()("account,a", po::value<std::vector<std::string>>(),
                    "only this account (repeatable; default: every IMAP account)")(
        "json", "machine-readable output")("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    const auto cfg = load_config(vm);
    std::vector<const config::account*> accounts;
    if (vm.count("account")) {
        accounts = accounts_named(cfg, vm["account"].as<std::vector<std::string>>());
    } else {
        for (const auto& a : cfg.accounts)
            if (a.protocol == config::protocol::imap) accounts.push_back(&a);
    }
    if (accounts.empty())
        throw mv::failure(errc::usage, "folders: no IMAP account in " + cfg.source.string());
    nlohmann::json out = nlohmann::json::array();
    table t;
    t.header = {"ACCOUNT", "FOLDER", "MESSAGES", "UNSEEN", "SYNCED", "ATTRIBUTES"};
    t.right = {false, false, true, true, false, false};
    for (const auto* acct : accounts) {
        if (acct->protocol != config::protocol::imap) {
            // A POP3 maildrop has one folder and no attributes.
            if (vm.count("json"))
                out.push_back({{"account", acct->name}, {"folder", "INBOX"}, {"pop3", true}});
            else
                t.rows.push_back({acct->name, "INBOX", "-", "-", "yes", "(POP3 maildrop)"});
            continue;
        }
        auto session = sync::open_imap(*acct, config::resolve_password(*acct));
        auto& c = *session.client;
        imap::list_request req;
        req.status = true;
        req.unseen = true;
        std::vector<imap::list_entry> entries;
        if (auto e = c.list(req, entries))
            throw mv::failure(e.code, sync::account_prefix(*acct) + "LIST failed: " + e.message);
        for (auto& le : entries) {
            const std::string name = imap::decode_mailbox_name(le.name, c.state().utf8);
            const bool selectable =
                !le.has_attribute("\\Noselect") && !le.has_attribute("\\NonExistent");
            if (selectable && !le.status) {
                imap::status_info st;
                if (auto e = c.status(name, std::vector<std::string>{"MESSAGES", "UNSEEN"}, st))
                    throw mv::failure(e.code, sync::account_prefix(*acct) + "STATUS " + name +
                                                  " failed: " + e.message);
                le.status = st;
            }
            const bool synced = selectable && config::folder_selected(*acct, name, le.delimiter);
            std::optional<std::uint32_t> messages, unseen;
            if (le.status) {
                messages = le.status->messages;
                unseen = le.status->unseen;
            }
            if (vm.count("json")) {
                nlohmann::json j = {
                    {"account", acct->name},
                    {"folder", name},
                    {"wire_name", le.name},
                    {"delimiter", le.delimiter ? std::string(1, le.delimiter) : std::string()},
                    {"attributes", le.attributes},
                    {"selectable", selectable},
                    {"synced", synced}};
                j["messages"] = messages ? nlohmann::json(*messages) : nlohmann::json();
                j["unseen"] = unseen ? nlohmann::json(*unseen) : nlohmann::json();
                out.push_back(j);
            } else {
                t.rows.push_back({acct->name, name, opt(messages), opt(unseen),
                                  synced ? "yes" : "no", join(le.attributes)});
            }
        }
        (void)c.logout();
    }
    if (vm.count("json"))
        std::cout << out.dump(2) << "\n";
    else
        t.print(stdout);
    return exit_ok;
}

MV_COMMAND("folders", "list each IMAP server's folders with attributes and counts (read-only)",
           run_folders);

}  // namespace
}  // namespace mv::cli
