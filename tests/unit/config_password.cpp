// resolve_password and check_password_source: command, file and environment sources, their
// failures, and that no message ever contains the password.

#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "mailvault/config.hpp"

namespace fs = std::filesystem;
using namespace mv::config;

namespace {

const std::string secret = "s3cr3t-P@ss w0rd";

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "mv-pw-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path write(const std::string& name, const std::string& text, unsigned mode) const {
        fs::path p = path / name;
        std::ofstream(p) << text;
        REQUIRE(::chmod(p.c_str(), mode) == 0);
        return p;
    }
};

account make(password_kind kind, std::string value) {
    account a;
    a.name = "work";
    a.password.kind = kind;
    a.password.value = std::move(value);
    a.password.origin = std::string("cfg.toml:7:1: account[0].") + to_string(kind);
    return a;
}

// The error message of resolve_password, checked to be a config error that names the account
// and never contains the secret.
std::string resolve_error(const account& a) {
    try {
        std::string pw = resolve_password(a);
        FAIL("expected an error, got a password of " << pw.size() << " bytes");
    } catch (const mv::failure& f) {
        CHECK(f.err.code == mv::errc::config);
        CHECK(f.err.message.find("cfg.toml:7:1: account[0].") == 0);
        CHECK(f.err.message.find("(account \"work\")") != std::string::npos);
        CHECK(f.err.message.find(secret) == std::string::npos);
        CHECK(f.err.message.find("s3cr3t") == std::string::npos);
        return f.err.message;
    }
    return {};
}

}  // namespace

TEST_CASE("password: command prints the first line", "[config][password]") {
    CHECK(resolve_password(make(password_kind::command, "printf '%s\\n' '" + secret + "'")) ==
          secret);
    CHECK(resolve_password(make(password_kind::command, "printf 'one\\ntwo\\n'")) == "one");
    CHECK(resolve_password(make(password_kind::command, "printf 'crlf\\r\\n'")) == "crlf");
    CHECK(resolve_password(make(password_kind::command, "printf 'no-newline'")) == "no-newline");
    // stderr is not captured; only stdout counts.
    CHECK(resolve_password(make(password_kind::command, "echo noise >&2; echo pw")) == "pw");
    CHECK(check_password_source(make(password_kind::command, "printf x")).ok());
}

TEST_CASE("password: command failures name the account, never the output", "[config][password]") {
    std::string err = resolve_error(make(password_kind::command, "echo '" + secret + "'; exit 3"));
    CHECK(err.find("password_command exited with status 3") != std::string::npos);
    err = resolve_error(make(password_kind::command, "true"));
    CHECK(err.find("printed nothing") != std::string::npos);
    err = resolve_error(make(password_kind::command, "printf '\\n" + secret + "\\n'"));
    CHECK(err.find("printed nothing on its first line") != std::string::npos);
    err = resolve_error(make(password_kind::command, "echo '" + secret + "'; kill -9 $$"));
    CHECK(err.find("killed by signal 9") != std::string::npos);
    err = resolve_error(
        make(password_kind::command, "exec 2>/dev/null; /nonexistent/prog-" + secret));
    CHECK(err.find("status 127") != std::string::npos);
}

TEST_CASE("password: check finds the command's program", "[config][password]") {
    CHECK(check_password_source(make(password_kind::command, "sh -c 'echo x'")).ok());
    CHECK(check_password_source(make(password_kind::command, "/bin/sh -c x")).ok());
    CHECK(check_password_source(make(password_kind::command, "GNUPGHOME=/x 'sh' -c x")).ok());
    CHECK(check_password_source(make(password_kind::command, "echo x")).ok());  // builtin
    mv::error e = check_password_source(make(password_kind::command, "mv-no-such-prog show x"));
    CHECK(e.code == mv::errc::config);
    CHECK(e.message.find("cfg.toml:7:1: account[0].password_command: the command's program (its "
                         "first word) is not found in $PATH") == 0);
    CHECK(e.message.find("mv-no-such-prog") == std::string::npos);  // could be a pasted password
    e = check_password_source(make(password_kind::command, "/nonexistent/pass show"));
    CHECK(e.message.find("does not exist or is not executable") != std::string::npos);
    e = check_password_source(make(password_kind::command, secret + " x"));
    CHECK(e.message.find("s3cr3t") == std::string::npos);
    e = check_password_source(make(password_kind::command, "  "));
    CHECK(e.message.find("is empty") != std::string::npos);
}

TEST_CASE("password: file gives its first line", "[config][password]") {
    temp_dir dir;
    fs::path f = dir.write("pw", secret + "\nsecond line\n", 0600);
    account a = make(password_kind::file, f.string());
    CHECK(resolve_password(a) == secret);
    CHECK(check_password_source(a).ok());
    fs::path ro = dir.write("pw-ro", "abc\r\n", 0400);
    CHECK(resolve_password(make(password_kind::file, ro.string())) == "abc");
}

TEST_CASE("password: unsafe or missing files are refused", "[config][password]") {
    temp_dir dir;
    for (unsigned mode : {0644u, 0640u, 0604u, 0660u, 0602u}) {
        INFO(mode);
        fs::path f = dir.write("pw", secret + "\n", mode);
        account a = make(password_kind::file, f.string());
        std::string err = resolve_error(a);
        CHECK(err.find("run: chmod 600 " + f.string()) != std::string::npos);
        mv::error e = check_password_source(a);
        CHECK(e.code == mv::errc::config);
        CHECK(e.message.find("account[0].password_file") != std::string::npos);
        CHECK(e.message.find("chmod 600 " + f.string()) != std::string::npos);
        CHECK(e.message.find(secret) == std::string::npos);
    }
    fs::path f = dir.write("pw", secret + "\n", 0644);
    CHECK(resolve_error(make(password_kind::file, f.string())).find("(mode 0644)") !=
          std::string::npos);

    std::string err = resolve_error(make(password_kind::file, (dir.path / "missing").string()));
    CHECK(err.find("cannot open " + (dir.path / "missing").string()) != std::string::npos);
    CHECK(check_password_source(make(password_kind::file, (dir.path / "missing").string())).code ==
          mv::errc::config);

    CHECK(resolve_error(make(password_kind::file, dir.path.string())).find("not a regular file") !=
          std::string::npos);

    fs::path empty = dir.write("empty", "\n" + secret + "\n", 0600);
    CHECK(resolve_error(make(password_kind::file, empty.string())).find("empty first line") !=
          std::string::npos);
}

TEST_CASE("password: environment variable", "[config][password]") {
    ::setenv("MV_TEST_PASSWORD", secret.c_str(), 1);
    account a = make(password_kind::env, "MV_TEST_PASSWORD");
    CHECK(resolve_password(a) == secret);
    CHECK(check_password_source(a).ok());

    ::setenv("MV_TEST_PASSWORD", "", 1);
    CHECK(resolve_error(a).find("is empty; set it to the password") != std::string::npos);
    CHECK(check_password_source(a).code == mv::errc::config);

    ::unsetenv("MV_TEST_PASSWORD");
    std::string err = resolve_error(a);
    CHECK(err ==
          "cfg.toml:7:1: account[0].password_env: the environment variable named here is "
          "not set; export it before running mailvault (account \"work\")");
    // A password pasted where the variable name belongs is not echoed.
    CHECK(resolve_error(make(password_kind::env, secret)).find("not set") != std::string::npos);
    CHECK(check_password_source(a).message == err);
}

TEST_CASE("password: load errors never echo a password given in the file", "[config][password]") {
    // A user who pastes the password where a key name, a path or a command belongs.
    for (const std::string& extra :
         {std::string("password = \"") + secret + "\"\n",
          std::string("password_file = \"/nonexistent/") + secret + "\"\npassword_env = \"X\"\n"}) {
        INFO(extra);
        try {
            parse("[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"h\"\nuser = \"u\"\n" +
                      extra,
                  "t.toml");
            FAIL("expected an error");
        } catch (const mv::failure& f) {
            CHECK(f.err.message.find("s3cr3t") == std::string::npos);
        }
    }
}
