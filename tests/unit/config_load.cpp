// mv::config::load/parse: the full example, defaults, and one test per kind of error, each
// checking that the one-line message names the file, the position and the key.

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "mailvault/config.hpp"

namespace fs = std::filesystem;
using namespace mv::config;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "mv-config-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path write(const std::string& name, const std::string& text, unsigned mode = 0600) const {
        fs::path p = path / name;
        std::ofstream(p) << text;
        ::chmod(p.c_str(), mode);
        return p;
    }
};

// Parses `text` as "test.toml" and returns the config error message ("" when it parsed).
std::string error_of(const std::string& text) {
    try {
        parse(text, "/etc/mv/test.toml");
    } catch (const mv::failure& f) {
        CHECK(f.err.code == mv::errc::config);
        CHECK(f.err.message.find('\n') == std::string::npos);  // one line
        return f.err.message;
    }
    return {};
}

const char* const minimal_imap = R"(
[[account]]
name = "a"
protocol = "imap"
host = "imap.example.com"
user = "u"
password_env = "MV_TEST_PW"
)";

std::string account_with(const std::string& extra) {
    return std::string(minimal_imap) + extra;
}

std::string pop3_with(const std::string& extra) {
    return R"(
[[account]]
name = "p"
protocol = "pop3"
host = "pop.example.com"
user = "u"
password_env = "MV_TEST_PW"
)" + extra;
}

}  // namespace

TEST_CASE("config: the documented example parses with all fields", "[config]") {
    temp_dir dir;
    fs::path file = dir.write("config.toml", R"(archive = "/srv/mail/archive.sqlite"
[[account]]
name = "work"
protocol = "imap"            # or "pop3"
host = "imap.example.com"
port = 993
tls = "implicit"             # implicit | starttls | plain
user = "alice"
password_command = "pass show mail/work"   # or password_file = "...", or password_env = "..."
ca_file = "/etc/ssl/certs/ca-certificates.crt"     # optional
folders = ["*"]              # include patterns
exclude = ["Trash", "Spam"]
connections = 2
)");
    config cfg = load(file);
    CHECK(cfg.source == file);
    CHECK(cfg.archive == "/srv/mail/archive.sqlite");
    CHECK(cfg.parallel_accounts == 4);
    CHECK(cfg.zstd_level == 3);
    CHECK(cfg.log_level == log_level::info);
    REQUIRE(cfg.accounts.size() == 1);
    const account& a = cfg.accounts[0];
    CHECK(a.name == "work");
    CHECK(a.protocol == protocol::imap);
    CHECK(a.host == "imap.example.com");
    CHECK(a.port == 993);
    CHECK(a.tls == tls_mode::implicit);
    CHECK(a.user == "alice");
    CHECK(a.auth == auth_mech::automatic);
    CHECK(a.password.kind == password_kind::command);
    CHECK(a.password.value == "pass show mail/work");
    CHECK(a.password.origin.find("config.toml:9:1: account[0].password_command") !=
          std::string::npos);
    CHECK(a.ca_file == "/etc/ssl/certs/ca-certificates.crt");
    CHECK(a.folders == std::vector<std::string>{"*"});
    CHECK(a.exclude == std::vector<std::string>{"Trash", "Spam"});
    CHECK(a.connections == 2);
    CHECK(a.fingerprint.empty());
    CHECK_FALSE(a.tls_insecure_skip_verify);
    CHECK_FALSE(a.allow_plaintext);
    CHECK(a.timeout == std::chrono::seconds(60));
    CHECK(a.max_message_bytes == 256ull * 1024 * 1024);
    CHECK(a.compress == compress_mode::never);
    CHECK(a.enable_qresync);
    CHECK(cfg.find("work") == &cfg.accounts[0]);
    CHECK(cfg.find("home") == nullptr);
}

// A self-signed certificate (public part only) for ca_file keys.
const char* const test_ca_pem = R"(-----BEGIN CERTIFICATE-----
MIIBjjCCATWgAwIBAgIUbBNowQuuPhaPROLc+rjMPG3yhCQwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRbWFpbHZhdWx0IHRlc3QgQ0EwIBcNMjYxMjAyMDEzNjEyWhgP
MjEyNjExMDgwMTM2MTJaMBwxGjAYBgNVBAMMEW1haWx2YXVsdCB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEJYmSHWd4Xc8aIBirpCyo8cH2K6xTODK
PBZNu/J4QiJVkFh5I7hVw11bm+pbXxBmr3tzpHzDJYMAjyXZ9rcIa6NTMFEwHQYD
VR0OBBYEFOqmLaHfK5e41FPEaGWorejIgXn4MB8GA1UdIwQYMBaAFOqmLaHfK5e4
1FPEaGWorejIgXn4MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIg
firjvmYC6iX3SlnBuK2l8gVADx+c36Dg54XAwoVwI20CIEaw5UnNjElXStCjyFIJ
AZeg9eV8ynKztpbYCThxJuPY
-----END CERTIFICATE-----
)";

TEST_CASE("config: every key set explicitly", "[config]") {
    temp_dir dir;
    dir.write("ca.pem", test_ca_pem);
    dir.write("pw", "secret\n");
    fs::path file = dir.write("config.toml", R"(
archive = "data/a.sqlite"
parallel_accounts = 8
zstd_level = 19
log_level = "debug"

[[account]]
name = "home.box"
protocol = "imap"
host = "::1"
port = 1143
tls = "plain"
user = "bob@example.com"
auth = "xoauth2"
password_file = "pw"
folders = ["INBOX", "Archive/%"]
connections = 16
allow_plaintext = false
timeout_seconds = 5
max_message_bytes = 1048576
compress = "auto"
enable_qresync = false

[[account]]
name = "pop"
protocol = "pop3"
host = "pop.example.com"
tls = "starttls"
user = "carol"
auth = "apop"
password_env = "POP_PW"
ca_file = "ca.pem"
fingerprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
tls_insecure_skip_verify = true
delete = "older_than"
delete_older_than = "2w"
allow_delete_without_uidl = true
)");
    config cfg = load(file);
    CHECK(cfg.archive == dir.path / "data/a.sqlite");  // relative to the config file
    CHECK(cfg.parallel_accounts == 8);
    CHECK(cfg.zstd_level == 19);
    CHECK(cfg.log_level == log_level::debug);
    REQUIRE(cfg.accounts.size() == 2);
    const account& a = cfg.accounts[0];
    CHECK(a.host == "::1");
    CHECK(a.port == 1143);
    CHECK(a.tls == tls_mode::plain);  // allowed: loopback
    CHECK(a.auth == auth_mech::xoauth2);
    CHECK(a.password.kind == password_kind::file);
    CHECK(a.password.value == (dir.path / "pw").string());
    CHECK(a.folders == std::vector<std::string>{"INBOX", "Archive/%"});
    CHECK(a.connections == 16);
    CHECK(a.timeout == std::chrono::seconds(5));
    CHECK(a.max_message_bytes == 1048576);
    CHECK(a.compress == compress_mode::automatic);
    CHECK_FALSE(a.enable_qresync);

    const account& p = cfg.accounts[1];
    CHECK(p.protocol == protocol::pop3);
    CHECK(p.port == 110);  // pop3 + starttls
    CHECK(p.auth == auth_mech::apop);
    CHECK(p.password.kind == password_kind::env);
    CHECK(p.password.value == "POP_PW");
    CHECK(p.ca_file == dir.path / "ca.pem");
    CHECK(p.fingerprint == "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    CHECK(p.tls_insecure_skip_verify);
    CHECK(p.delete_policy == pop3_delete::older_than);
    CHECK(p.delete_older_than == std::chrono::seconds(14 * 86400));
    CHECK(p.allow_delete_without_uidl);
    CHECK(p.connections == 1);
    CHECK(p.folders == std::vector<std::string>{"INBOX"});
}

TEST_CASE("config: default ports follow protocol and tls", "[config]") {
    auto port_of = [](const std::string& proto, const std::string& tls) {
        config c =
            parse("[[account]]\nname = \"x\"\nprotocol = \"" + proto +
                      "\"\nhost = \"localhost\"\nuser = \"u\"\npassword_env = \"E\"\ntls = \"" +
                      tls + "\"\n",
                  "t.toml");
        return c.accounts.at(0).port;
    };
    CHECK(port_of("imap", "implicit") == 993);
    CHECK(port_of("imap", "starttls") == 143);
    CHECK(port_of("imap", "plain") == 143);
    CHECK(port_of("pop3", "implicit") == 995);
    CHECK(port_of("pop3", "starttls") == 110);
    CHECK(port_of("pop3", "plain") == 110);
    config c = parse(minimal_imap, "t.toml");
    CHECK(c.accounts.at(0).tls == tls_mode::implicit);
    CHECK(c.accounts.at(0).port == 993);
}

TEST_CASE("config: archive path expansion and defaults", "[config]") {
    const char* old_home = std::getenv("HOME");
    std::string saved_home = old_home ? old_home : "";
    const char* old_xdg = std::getenv("XDG_DATA_HOME");
    std::string saved_xdg = old_xdg ? old_xdg : "";
    ::setenv("HOME", "/home/tester", 1);

    ::setenv("XDG_DATA_HOME", "/xdg/data", 1);
    CHECK(parse("", "t.toml").archive == "/xdg/data/mailvault/archive.sqlite");
    CHECK(parse("archive = \"$XDG_DATA_HOME/m.sqlite\"", "t.toml").archive == "/xdg/data/m.sqlite");
    CHECK(parse("archive = \"${XDG_DATA_HOME}/m.sqlite\"", "t.toml").archive ==
          "/xdg/data/m.sqlite");
    ::unsetenv("XDG_DATA_HOME");
    CHECK(parse("", "t.toml").archive == "/home/tester/.local/share/mailvault/archive.sqlite");
    CHECK(parse("archive = \"$XDG_DATA_HOME/m.sqlite\"", "t.toml").archive ==
          "/home/tester/.local/share/m.sqlite");
    CHECK(parse("archive = \"~/mail/a.sqlite\"", "t.toml").archive == "/home/tester/mail/a.sqlite");
    CHECK(parse("archive = \"a.sqlite\"", "/etc/mv/c.toml").archive == "/etc/mv/a.sqlite");

    ::unsetenv("MV_TEST_UNSET_VAR");
    std::string err = error_of("archive = \"$MV_TEST_UNSET_VAR/a.sqlite\"");
    CHECK(err.find("/etc/mv/test.toml:1:11: archive:") == 0);
    CHECK(err.find("$MV_TEST_UNSET_VAR is not set") != std::string::npos);
    CHECK(error_of("archive = \"~bob/a\"").find("~user is not supported") != std::string::npos);

    ::setenv("XDG_CONFIG_HOME", "/xdg/conf", 1);
    CHECK(default_config_path() == "/xdg/conf/mailvault/config.toml");
    ::unsetenv("XDG_CONFIG_HOME");
    CHECK(default_config_path() == "/home/tester/.config/mailvault/config.toml");
    ::setenv("XDG_CONFIG_HOME", "relative/ignored", 1);  // XDG: relative values are ignored
    CHECK(default_config_path() == "/home/tester/.config/mailvault/config.toml");
    ::unsetenv("XDG_CONFIG_HOME");

    if (old_home) ::setenv("HOME", saved_home.c_str(), 1);
    if (old_xdg) ::setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
}

TEST_CASE("config: syntax errors carry file, line and column", "[config][errors]") {
    std::string err = error_of("archive = \"x\"\n[[account]\nname = 1\n");
    CHECK(err.find("/etc/mv/test.toml:2:") == 0);
    CHECK(err.find("fix the TOML syntax") != std::string::npos);
    // toml++ itself refuses a key defined twice.
    err = error_of(account_with("host = \"again\"\n"));
    CHECK(err.find("/etc/mv/test.toml:") == 0);
}

TEST_CASE("config: missing required keys", "[config][errors]") {
    std::string err = error_of(
        "[[account]]\nname = \"a\"\nprotocol = \"imap\"\nuser = \"u\"\n"
        "password_env = \"X\"\n");
    CHECK(err.find("/etc/mv/test.toml:1:1: account[0].host: missing required key") == 0);
    CHECK(err.find("(account \"a\")") != std::string::npos);

    err = error_of("[[account]]\nname = \"a\"\nhost = \"h\"\nuser = \"u\"\npassword_env = \"X\"\n");
    CHECK(err.find("account[0].protocol: missing required key") != std::string::npos);

    err = error_of("[[account]]\nprotocol = \"imap\"\n");
    CHECK(err.find("account[0].name: missing required key") != std::string::npos);

    err = error_of("[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"h\"\nuser = \"u\"\n");
    CHECK(err.find("account[0]: no password source") != std::string::npos);

    err = error_of(account_with("password_command = \"x\"\n"));
    CHECK(err.find("account[0].password_env: more than one password source") != std::string::npos);
}

TEST_CASE("config: wrong types", "[config][errors]") {
    std::string err = error_of(account_with("port = \"993\"\n"));
    CHECK(err.find("/etc/mv/test.toml:8:8: account[0].port: expected an integer, found a string") ==
          0);
    err = error_of(account_with("enable_qresync = \"yes\"\n"));
    CHECK(err.find("account[0].enable_qresync: expected a boolean") != std::string::npos);
    err = error_of(account_with("folders = \"INBOX\"\n"));
    CHECK(err.find("account[0].folders: expected an array of strings") != std::string::npos);
    err = error_of(account_with("folders = [\"INBOX\", 3]\n"));
    CHECK(err.find("account[0].folders[1]: expected a string, found an integer") !=
          std::string::npos);
    err = error_of("zstd_level = 3.5\n");
    CHECK(err.find("/etc/mv/test.toml:1:14: zstd_level: expected an integer, found a float") == 0);
    err = error_of("[account]\nname = \"a\"\n");
    CHECK(err.find("account: expected an array of tables, found a table") != std::string::npos);
    err = error_of("[[account]]\nname = \"\"\n");
    CHECK(err.find("account[0].name: must not be empty") != std::string::npos);
}

TEST_CASE("config: POP3 refuses auth mechanisms it would send as a USER/PASS password",
          "[config][errors]") {
    // Break 8 (issue 11): "login" and "oauthbearer" were accepted for POP3 and the secret (an
    // OAuth token for oauthbearer) went out as a plain PASS.
    for (const char* mech : {"oauthbearer", "login"}) {
        std::string err = error_of(pop3_with(std::string("auth = \"") + mech + "\"\n"));
        INFO(err);
        CHECK(err.find(std::string("account[0].auth: \"") + mech +
                       "\" is not supported for POP3; use auto, user, apop, plain or xoauth2") !=
              std::string::npos);
        CHECK(err.find("(account \"p\")") != std::string::npos);
        CHECK(err.find('\n') == std::string::npos);
    }
    for (const char* mech : {"auto", "user", "apop", "plain", "xoauth2"})
        CHECK(error_of(pop3_with(std::string("auth = \"") + mech + "\"\n")).empty());
}

TEST_CASE("config: bad enum values list the valid ones", "[config][errors]") {
    std::string err = error_of(account_with("tls = \"tsl\"\n"));
    CHECK(err.find("/etc/mv/test.toml:8:7: account[0].tls: \"tsl\" is not a valid value; use one "
                   "of: implicit, starttls, plain (account \"a\")") == 0);
    err = error_of(account_with("auth = \"cram-md5\"\n"));
    CHECK(err.find("account[0].auth:") != std::string::npos);
    CHECK(err.find("oauthbearer") != std::string::npos);
    err = error_of(account_with("auth = \"apop\"\n"));
    CHECK(err.find("account[0].auth: \"apop\" is a POP3 mechanism") != std::string::npos);
    err = error_of(account_with("compress = \"yes\"\n"));
    CHECK(err.find("account[0].compress:") != std::string::npos);
    err = error_of("log_level = \"verbose\"\n");
    CHECK(err.find("log_level: \"verbose\" is not a valid value") != std::string::npos);
    err = error_of(pop3_with("delete = \"always\"\n"));
    CHECK(err.find("account[0].delete: \"always\" is not a valid value; use one of: keep, "
                   "after_archive, older_than") != std::string::npos);
    err = error_of("[[account]]\nname = \"a\"\nprotocol = \"smtp\"\n");
    CHECK(err.find("account[0].protocol: \"smtp\" is not a valid value") != std::string::npos);
}

TEST_CASE("config: unknown keys are errors with suggestions and the valid keys",
          "[config][errors]") {
    std::string err = error_of(account_with("pasword_file = \"x\"\n"));
    CHECK(err.find("/etc/mv/test.toml:8:1: account[0].pasword_file: unknown key (did you mean "
                   "password_file?); valid keys are: name, protocol,") == 0);
    CHECK(err.find("enable_qresync") != std::string::npos);

    err = error_of("archve = \"x\"\n");
    CHECK(err.find("/etc/mv/test.toml:1:1: archve: unknown key (did you mean archive?); valid "
                   "keys are: archive, parallel_accounts, zstd_level, log_level, account") == 0);

    err = error_of("[[prune]]\nolder_than = \"1y\"\n");
    CHECK(err.find("prune: unknown key") != std::string::npos);

    // Keys of the other protocol are refused too.
    err = error_of(account_with("delete = \"keep\"\n"));
    CHECK(err.find("account[0].delete: only valid for protocol = \"pop3\"") != std::string::npos);
    err = error_of(pop3_with("folders = [\"*\"]\n"));
    CHECK(err.find("account[0].folders: only valid for protocol = \"imap\"") != std::string::npos);
}

TEST_CASE("config: value ranges", "[config][errors]") {
    std::string err = error_of(account_with("port = 0\n"));
    CHECK(err.find("account[0].port: 0 is out of range; use a value from 1 to 65535") !=
          std::string::npos);
    err = error_of(account_with("port = 70000\n"));
    CHECK(err.find("/etc/mv/test.toml:8:8: account[0].port: 70000 is out of range") == 0);
    CHECK(error_of(account_with("connections = 17\n")).find("account[0].connections") !=
          std::string::npos);
    CHECK(error_of(account_with("connections = 0\n")).find("account[0].connections") !=
          std::string::npos);
    CHECK(error_of(pop3_with("connections = 2\n")).find("POP3 allows one session") !=
          std::string::npos);
    CHECK(error_of(account_with("timeout_seconds = 0\n")).find("account[0].timeout_seconds") !=
          std::string::npos);
    CHECK(error_of(account_with("max_message_bytes = -1\n")).find("account[0].max_message_bytes") !=
          std::string::npos);
    CHECK(error_of("parallel_accounts = 0\n").find("parallel_accounts: 0 is out of range") !=
          std::string::npos);
    CHECK(error_of("zstd_level = 23\n").find("zstd_level: 23 is out of range") !=
          std::string::npos);
    CHECK(error_of(account_with("folders = []\n")).find("account[0].folders: empty list") !=
          std::string::npos);
    CHECK(error_of(account_with("exclude = [\"\"]\n")).find("account[0].exclude[0]: empty") !=
          std::string::npos);
}

TEST_CASE("config: host and account name validation", "[config][errors]") {
    auto host_err = [](const std::string& host) {
        return error_of("[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"" + host +
                        "\"\nuser = \"u\"\npassword_env = \"X\"\n");
    };
    CHECK(host_err("imap.example.com:993").find("account[0].host:") != std::string::npos);
    CHECK(host_err("[::1]").find("without brackets") != std::string::npos);
    CHECK(host_err("imap://x").find("account[0].host:") != std::string::npos);
    CHECK(host_err("fe80::1").empty());

    std::string err = error_of("[[account]]\nname = \"my work\"\n");
    CHECK(err.find("account[0].name: \"my work\" contains a space") != std::string::npos);
}

TEST_CASE("config: plaintext is refused unless loopback or allow_plaintext", "[config][errors]") {
    auto with_host = [](const std::string& host, const std::string& extra) {
        return error_of("[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"" + host +
                        "\"\nuser = \"u\"\npassword_env = \"X\"\ntls = \"plain\"\n" + extra);
    };
    std::string err = with_host("mail.example.com", "");
    CHECK(err.find("/etc/mv/test.toml:7:7: account[0].tls: tls = \"plain\" would send the password "
                   "unencrypted to mail.example.com") == 0);
    CHECK(err.find("allow_plaintext = true") != std::string::npos);
    CHECK(with_host("10.0.0.1", "").find("account[0].tls") != std::string::npos);
    CHECK(with_host("localhost.example.com", "").find("account[0].tls") != std::string::npos);
    CHECK(with_host("mail.example.com", "allow_plaintext = true\n").empty());
    CHECK(with_host("127.0.0.1", "").empty());
    CHECK(with_host("127.45.6.7", "").empty());
    CHECK(with_host("::1", "").empty());
    CHECK(with_host("localhost", "").empty());
    CHECK(with_host("LocalHost", "").empty());
    CHECK(with_host("localhost", "fingerprint = \"" + std::string(64, 'a') + "\"\n")
              .find("account[0].fingerprint: has no effect with tls = \"plain\"") !=
          std::string::npos);
    // starttls needs no opt-out.
    CHECK(error_of(account_with("tls = \"starttls\"\n")).empty());
}

TEST_CASE("config: duplicate account names", "[config][errors]") {
    std::string text = std::string(minimal_imap) + minimal_imap;
    std::string err = error_of(text);
    CHECK(err.find("/etc/mv/test.toml:10:8: account[1].name: duplicate account name \"a\"") == 0);
}

TEST_CASE("config: POP3 deletion policy and durations", "[config]") {
    auto older = [](const std::string& d) {
        return parse(pop3_with("delete = \"older_than\"\ndelete_older_than = \"" + d + "\"\n"),
                     "t.toml")
            .accounts.at(0)
            .delete_older_than;
    };
    CHECK(older("30d") == std::chrono::seconds(30 * 86400));
    CHECK(older("12h") == std::chrono::seconds(12 * 3600));
    CHECK(older("2w") == std::chrono::seconds(14 * 86400));
    CHECK(older("90m") == std::chrono::seconds(90 * 60));
    CHECK(older("45s") == std::chrono::seconds(45));
    config keep = parse(pop3_with(""), "t.toml");
    CHECK(keep.accounts.at(0).delete_policy == pop3_delete::keep);
    CHECK(keep.accounts.at(0).port == 995);
    CHECK_FALSE(keep.accounts.at(0).allow_delete_without_uidl);
    CHECK(parse(pop3_with("delete = \"after_archive\"\n"), "t.toml").accounts.at(0).delete_policy ==
          pop3_delete::after_archive);

    for (const char* bad :
         {"30", "d", "0d", "-3d", "3yr", "101y", "1.5d", "3 d", "99999999999d", "10000w"}) {
        INFO(bad);
        std::string err = error_of(pop3_with("delete = \"older_than\"\ndelete_older_than = \"" +
                                             std::string(bad) + "\"\n"));
        CHECK(err.find("/etc/mv/test.toml:9:21: account[0].delete_older_than:") == 0);
    }
    CHECK(error_of(pop3_with("delete = \"older_than\"\n"))
              .find("account[0].delete_older_than: "
                    "missing") != std::string::npos);
    CHECK(error_of(pop3_with("delete_older_than = \"3d\"\n"))
              .find("account[0].delete_older_than: only used with delete = \"older_than\"") !=
          std::string::npos);
}

TEST_CASE("config: fingerprints are normalized or refused", "[config]") {
    const std::string hex = "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef";
    config c = parse(account_with("fingerprint = \"" + hex + "\"\n"), "t.toml");
    CHECK(c.accounts.at(0).fingerprint ==
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    for (std::string bad :
         {hex.substr(0, 62), hex + "00", hex.substr(0, 63) + "g", std::string("sha256:") + hex}) {
        INFO(bad);
        std::string err = error_of(account_with("fingerprint = \"" + bad + "\"\n"));
        CHECK(err.find("/etc/mv/test.toml:8:15: account[0].fingerprint: not a SHA-256 "
                       "fingerprint") == 0);
    }
}

TEST_CASE("config: ca_file must exist", "[config][errors]") {
    std::string err = error_of(account_with("ca_file = \"/nonexistent/ca.pem\"\n"));
    CHECK(err.find("/etc/mv/test.toml:8:11: account[0].ca_file: /nonexistent/ca.pem does not "
                   "exist") == 0);
}

TEST_CASE("config: a ca_file without a certificate fails at load, not at the first sync",
          "[config][errors]") {
    temp_dir dir;
    for (const std::string& content :
         {std::string("root:x:0:0:root:/root:/bin/bash\n"), std::string(),
          std::string("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")}) {
        INFO(content);
        const auto path = dir.write("bad.pem", content);
        std::string err = error_of(account_with("ca_file = \"" + path.string() + "\"\n"));
        CHECK(err.find("account[0].ca_file: " + path.string() +
                       " holds no certificate; give a "
                       "file of PEM certificates") != std::string::npos);
    }
    const auto good = dir.write("good.pem", test_ca_pem);
    CHECK(error_of(account_with("ca_file = \"" + good.string() + "\"\n")).empty());
}

TEST_CASE("config: unreadable file", "[config][errors]") {
    temp_dir dir;
    fs::path missing = dir.path / "nope.toml";
    try {
        load(missing);
        FAIL("expected an error");
    } catch (const mv::failure& f) {
        CHECK(f.err.code == mv::errc::config);
        CHECK(f.err.message.find(missing.string() + ": cannot read the configuration file") == 0);
    }
    config out;
    mv::error e = try_load(missing, out);
    CHECK(e.code == mv::errc::config);
    fs::path good = dir.write("ok.toml", minimal_imap);
    CHECK(try_load(good, out).ok());
    CHECK(out.accounts.size() == 1);
}

TEST_CASE("config: describe never shows secrets", "[config]") {
    config c = parse(account_with("exclude = [\"Trash\"]\n"), "t.toml");
    std::string d = describe(c.accounts.at(0));
    CHECK(d ==
          "a: imap imap.example.com:993 tls=implicit user=u auth=auto password=password_env "
          "connections=2 folders=* exclude=Trash");
}

TEST_CASE("config: folder_map rules for restoring into an account", "[config][folder_map]") {
    config c = parse(account_with(R"(
[[account.folder_map]]
source = "Sent"
target = "Sent Items"

[[account.folder_map]]
source = "Archive/2024"
target = "Old/Projets Été"
)"),
                     "t.toml");
    const auto& m = c.accounts.at(0).folder_map;
    REQUIRE(m.size() == 2);
    CHECK(m[0].source == "Sent");
    CHECK(m[0].target == "Sent Items");
    CHECK(m[1].source == "Archive/2024");
    CHECK(m[1].target == "Old/Projets Été");
    CHECK(describe(c.accounts.at(0)).find(" folder_map=2") != std::string::npos);

    // Inline tables and an empty list work too; none at all is the default.
    c = parse(account_with("folder_map = [{ source = \"a\", target = \"b\" }]\n"), "t.toml");
    REQUIRE(c.accounts.at(0).folder_map.size() == 1);
    CHECK(c.accounts.at(0).folder_map[0].target == "b");
    CHECK(parse(account_with("folder_map = []\n"), "t.toml").accounts.at(0).folder_map.empty());
    c = parse(minimal_imap, "t.toml");
    CHECK(c.accounts.at(0).folder_map.empty());
    CHECK(describe(c.accounts.at(0)).find("folder_map") == std::string::npos);
}

TEST_CASE("config: bad folder_map entries", "[config][folder_map][errors]") {
    std::string err = error_of(account_with("[[account.folder_map]]\nsource = \"Sent\"\n"));
    CHECK(err.find("/etc/mv/test.toml:8:1: account[0].folder_map[0].target: missing required "
                   "key; add target = \"...\" to this section (account \"a\")") == 0);
    err = error_of(account_with("[[account.folder_map]]\ntarget = \"Sent\"\n"));
    CHECK(err.find("account[0].folder_map[0].source: missing required key") != std::string::npos);
    err = error_of(account_with("[[account.folder_map]]\nsource = \"\"\ntarget = \"x\"\n"));
    CHECK(err.find("/etc/mv/test.toml:9:10: account[0].folder_map[0].source: must not be empty") ==
          0);
    err = error_of(account_with("[[account.folder_map]]\nsource = \"a\"\ntarget = 3\n"));
    CHECK(err.find("account[0].folder_map[0].target: expected a string, found an integer") !=
          std::string::npos);
    err = error_of(account_with("folder_map = \"Sent=Sent Items\"\n"));
    CHECK(err.find("/etc/mv/test.toml:8:14: account[0].folder_map: expected an array of tables, "
                   "found a string; write each rule as a [[account.folder_map]] section with "
                   "source = \"...\" and target = \"...\" (account \"a\")") == 0);
    err = error_of(account_with("folder_map = [\"Sent=Sent Items\"]\n"));
    CHECK(err.find("account[0].folder_map: expected an array of tables, found an array of other "
                   "values") != std::string::npos);
    err = error_of(account_with("[account.folder_map]\nsource = \"a\"\ntarget = \"b\"\n"));
    CHECK(err.find("account[0].folder_map: expected an array of tables, found a table") !=
          std::string::npos);
    err = error_of(
        account_with("[[account.folder_map]]\nsorce = \"a\"\nsource = \"a\"\ntarget = \"b\"\n"));
    CHECK(err.find("/etc/mv/test.toml:9:1: account[0].folder_map[0].sorce: unknown key (did you "
                   "mean source?); valid keys are: source, target") == 0);
    err = error_of(account_with("[[account.folder_map]]\nsource = \"Archive/\"\ntarget = \"b\"\n"));
    CHECK(err.find("account[0].folder_map[0].source: \"Archive/\" has an empty level; separate "
                   "folder levels with a single /") != std::string::npos);
    err = error_of(account_with("[[account.folder_map]]\nsource = \"a\"\ntarget = \"x//y\"\n"));
    CHECK(err.find("account[0].folder_map[0].target: \"x//y\" has an empty level") !=
          std::string::npos);
    err = error_of(account_with("[[account.folder_map]]\nsource = \"/a\"\ntarget = \"b\"\n"));
    CHECK(err.find("\"/a\" has an empty level") != std::string::npos);
    err = error_of(account_with("[[account.folder_map]]\nsource = \"a\\tb\"\ntarget = \"b\"\n"));
    CHECK(err.find("account[0].folder_map[0].source: \"a?b\" contains a control character") !=
          std::string::npos);
    err =
        error_of(account_with("[[account.folder_map]]\nsource = \"Sent\"\ntarget = \"A\"\n"
                              "[[account.folder_map]]\nsource = \"Sent\"\ntarget = \"B\"\n"));
    CHECK(err.find("/etc/mv/test.toml:12:10: account[0].folder_map[1].source: duplicate source "
                   "\"Sent\": account[0].folder_map[0] already maps it and the first rule wins; "
                   "remove one of them") == 0);
    // Restore writes into IMAP accounts only.
    err = error_of(pop3_with("[[account.folder_map]]\nsource = \"a\"\ntarget = \"b\"\n"));
    CHECK(err.find("account[0].folder_map: only valid for protocol = \"imap\", this account uses "
                   "\"pop3\"; remove it") != std::string::npos);
    // The list of valid account keys names it.
    err = error_of(account_with("folder_maps = []\n"));
    CHECK(err.find("account[0].folder_maps: unknown key (did you mean folder_map?)") !=
          std::string::npos);
}
