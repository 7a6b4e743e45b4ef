// The watcher's config keys: watch_interval (IMAP and POP3) and watch_folders (IMAP only).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "mailvault/config.hpp"
#include "mailvault/error.hpp"

using namespace mv::config;
using namespace std::chrono_literals;

namespace {

const std::string base = R"(archive = "/tmp/a.sqlite"
[[account]]
name = "w"
host = "127.0.0.1"
user = "u"
password_env = "X"
tls = "plain"
)";

std::string error_of(const std::string& text) {
    try {
        parse(text, "/tmp/test.toml");
    } catch (const mv::failure& f) {
        return f.err.message;
    }
    return "";
}

}  // namespace

TEST_CASE("config: watch_interval and watch_folders", "[watch][config]") {
    SECTION("defaults") {
        auto c = parse(base + "protocol = \"imap\"\n", "/tmp/test.toml");
        CHECK(c.accounts[0].watch_interval == 15min);
        CHECK(c.accounts[0].watch_folders == std::vector<std::string>{"INBOX"});
    }
    SECTION("set") {
        auto c = parse(base +
                           "protocol = \"imap\"\nwatch_interval = \"1h\"\n"
                           "watch_folders = [\"INBOX\", \"Lists/dev\"]\n",
                       "/tmp/test.toml");
        CHECK(c.accounts[0].watch_interval == 1h);
        CHECK(c.accounts[0].watch_folders == std::vector<std::string>{"INBOX", "Lists/dev"});
    }
    SECTION("POP3 polls at watch_interval; watch_folders is IMAP only") {
        auto c = parse(base + "protocol = \"pop3\"\nwatch_interval = \"5m\"\n", "/tmp/test.toml");
        CHECK(c.accounts[0].watch_interval == 5min);
        auto e = error_of(base + "protocol = \"pop3\"\nwatch_folders = [\"INBOX\"]\n");
        CHECK(e.find("watch_folders") != std::string::npos);
    }
    SECTION("errors name the key and say what to do") {
        auto e = error_of(base + "protocol = \"imap\"\nwatch_interval = \"soon\"\n");
        CHECK(e.find("account[0].watch_interval") != std::string::npos);
        CHECK(e.find("not a duration") != std::string::npos);
        e = error_of(base + "protocol = \"imap\"\nwatch_interval = \"0s\"\n");
        CHECK(e.find("account[0].watch_interval") != std::string::npos);  // refused either way
        e = error_of(base + "protocol = \"imap\"\nwatch_folders = []\n");
        CHECK(e.find("account[0].watch_folders") != std::string::npos);
        CHECK(e.find("empty list") != std::string::npos);
    }
}
