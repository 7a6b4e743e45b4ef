// [[prune_rule]] tables in the config file: values, defaults and one-line errors.
#include <catch2/catch.hpp>

#include "mailvault/config.hpp"

namespace {

const char* accounts =
    "[[account]]\nname = \"work\"\nprotocol = \"imap\"\nhost = \"imap.example.com\"\nuser = \"u\"\n"
    "password_env = \"PW\"\n"
    "[[account]]\nname = \"old\"\nprotocol = \"pop3\"\nhost = \"pop.example.com\"\n"
    "user = \"u\"\npassword_env = \"PW\"\n";

std::string error_of(const std::string& toml) {
    try {
        mv::config::parse(toml, "/etc/mv/test.toml");
    } catch (const mv::failure& f) {
        return f.err.message;
    }
    return {};
}

}  // namespace

TEST_CASE("config: [[prune_rule]] tables are read in order", "[retention][config]") {
    auto cfg = mv::config::parse(std::string(accounts) +
                                     "[[prune_rule]]\nname = \"old-seen\"\naccount = \"work\"\n"
                                     "folders = [\"INBOX\"]\nolder_than = \"30d\"\n"
                                     "flags = [\"\\\\Seen\"]\nlarger_than = \"5M\"\n"
                                     "trash_folder = \"Trash\"\n"
                                     "[[prune_rule]]\nlarger_than = 1000\n",
                                 "/etc/mv/test.toml");
    REQUIRE(cfg.prune.size() == 2);
    const auto& r = cfg.prune[0];
    CHECK(r.name == "old-seen");
    CHECK(r.account == "work");
    CHECK(r.folders == std::vector<std::string>{"INBOX"});
    CHECK(r.older_than == std::chrono::seconds(30 * 86400));
    CHECK(r.flags == std::vector<std::string>{"\\Seen"});
    CHECK(r.larger_than == 5u * 1024 * 1024);
    CHECK(r.trash_folder == std::optional<std::string>("Trash"));
    CHECK(cfg.prune[1].account.empty());
    CHECK(cfg.prune[1].larger_than == 1000u);
    CHECK(cfg.prune[1].older_than.count() == 0);
}

TEST_CASE("config: bad [[prune_rule]] tables are one-line errors", "[retention][config]") {
    struct row {
        const char* rule;
        const char* expect;
    };
    const row rows[] = {
        {"name = \"x\"\n", "prune_rule[0]: a prune rule needs at least one of"},
        {"older_than = \"1yr\"\n", "prune_rule[0].older_than: \"1yr\" is not a duration"},
        {"older_than = \"1d\"\naccount = \"nobody\"\n", "prune_rule[0].account: no [[account]]"},
        {"older_than = \"1d\"\naccount = \"old\"\n", "is POP3"},
        {"larger_than = \"lots\"\n", "prune_rule[0].larger_than: is not a size"},
        {"older_than = \"1d\"\nfolder = \"INBOX\"\n",
         "prune_rule[0].folder: unknown key (did you mean folders?)"},
    };
    for (const auto& r : rows) {
        INFO(r.rule);
        auto err = error_of(std::string(accounts) + "[[prune_rule]]\n" + r.rule);
        CHECK(err.find(r.expect) != std::string::npos);
        CHECK(err.find('\n') == std::string::npos);
    }
}
