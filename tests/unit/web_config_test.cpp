// The [serve] section of the config file (docs/configuration.md).
#include <catch2/catch.hpp>

#include "mailvault/config.hpp"

namespace {

std::string error_of(const std::string& toml) {
    try {
        mv::config::parse(toml, "/tmp/c.toml");
    } catch (const mv::failure& f) {
        return f.err.message;
    }
    return {};
}

}  // namespace

TEST_CASE("config [serve]: defaults and users", "[web][config]") {
    auto c = mv::config::parse("archive = \"/tmp/a.sqlite\"\n", "/tmp/c.toml");
    CHECK(c.serve.listen == "127.0.0.1:8080");
    CHECK_FALSE(c.serve.require_login);
    CHECK(c.serve.users.empty());
    c = mv::config::parse(
        "archive = \"/tmp/a.sqlite\"\n[serve]\nlisten = \"[::1]:9000\"\nrequire_login = true\n"
        "[[serve.user]]\nname = \"a\"\npassword_hash = \"pbkdf2-sha256$1000$AAAAAAAAAAA=$x\"\n",
        "/tmp/c.toml");
    CHECK(c.serve.listen == "[::1]:9000");
    CHECK(c.serve.require_login);
    REQUIRE(c.serve.users.size() == 1);
    CHECK(c.serve.users[0].name == "a");
}

TEST_CASE("config [serve]: mistakes are one-line errors", "[web][config]") {
    CHECK(error_of("[serve]\nlisten = \"8080\"\n").find("serve.listen") != std::string::npos);
    CHECK(error_of("[serve]\nlisen = \"127.0.0.1:1\"\n").find("did you mean listen") !=
          std::string::npos);
    CHECK(error_of("[serve]\ntls_cert = \"/etc/hostname\"\n").find("tls_key go together") !=
          std::string::npos);
    CHECK(error_of("[[serve.user]]\nname = \"a\"\npassword_hash = \"hunter2\"\n")
              .find("never the password itself") != std::string::npos);
    CHECK(error_of("[serve]\n[[serve.user]]\nname = \"a\"\npassword_hash = \"pbkdf2-sha256$x\"\n"
                   "[[serve.user]]\nname = \"a\"\npassword_hash = \"pbkdf2-sha256$x\"\n")
              .find("duplicate user") != std::string::npos);
    CHECK(error_of("serve = 1\n").find("[serve] section") != std::string::npos);
}
