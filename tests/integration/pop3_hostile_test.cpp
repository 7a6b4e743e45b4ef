// POP3 against a server that lies (issue 11, break 2): the real `mailvault` binary against the
// scripted fake POP3 server (harness/fake_pop3.hpp). Whatever the server does, no DELE may reach
// it for a message whose bytes are not archived byte-exact, and a run that refused anything says
// why and exits non-zero.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/archive.hpp"
#include "archive/hash.hpp"
#include "harness/fake_pop3.hpp"
#include "harness/testbed.hpp"

using namespace mv::test;

namespace {

std::string message(const std::string& subject, const std::string& text) {
    return "From: a@example.com\r\nTo: b@example.com\r\nSubject: " + subject + "\r\nMessage-ID: <" +
           subject + "@example.com>\r\n\r\n" + text + "\r\n";
}

const std::string A = message("alpha", "first message\r\n.leading dot");
const std::string B = message("bravo", "second message, a little longer");
const std::string C = message("charlie", "third message");
const std::string D = message("delta", "a new message that got an old UIDL");

struct hostile_env {
    temp_dir dir{"mailvault-pop3-hostile"};
    fake_pop3 server;
    std::string config = (dir / "config.toml").string();
    std::string archive_path = (dir / "archive.sqlite").string();

    explicit hostile_env(std::vector<fake_pop3_message> box) : server(std::move(box)) {}

    void write_config(const std::string& policy) {
        const auto pw = dir / "password";
        write_file(pw, "pw\n");
        ::chmod(pw.c_str(), 0600);
        write_file(config, "archive = \"" + archive_path +
                               "\"\n\n[[account]]\nname = \"fake\"\nprotocol = \"pop3\"\n"
                               "host = \"127.0.0.1\"\nport = " +
                               std::to_string(server.port()) +
                               "\ntls = \"plain\"\nuser = \"u\"\npassword_file = \"" + pw.string() +
                               "\"\ntimeout_seconds = 10\ndelete = \"" + policy + "\"\n");
    }

    struct result {
        int status = -1;
        nlohmann::json summary;
        std::string errors;
    };
    result sync(const std::string& policy) {
        write_config(policy);
        auto r = run_command({MV_CLI_PATH, "sync", "--json", "--config", config});
        INFO("stderr:\n" << r.errors << "\nstdout:\n" << r.output);
        result out{r.status, {}, r.errors};
        REQUIRE_NOTHROW(out.summary = nlohmann::json::parse(r.output));
        return out;
    }

    // sha256 -> entry keys of the archive.
    std::map<std::string, std::vector<std::string>> archived() const {
        mv::archive::options o;
        o.read_only = true;
        mv::archive::archive a(archive_path, o);
        std::map<std::string, std::vector<std::string>> out;
        a.for_each_located_entry({}, [&](const mv::archive::located_entry& e) {
            std::string bytes;
            REQUIRE_FALSE(a.read_content(e.entry.content, bytes));
            REQUIRE(mv::archive::sha256_of(bytes) == e.entry.content);
            out[e.entry.content.hex()].push_back(e.entry.uidl.value_or("?"));
        });
        return out;
    }

    // The invariant of every scenario: each body the server deleted is archived byte-exact.
    void check_deleted_are_archived() const {
        auto a = archived();
        for (const auto& body : server.deleted_bodies()) {
            INFO("deleted on the server: " << body.substr(0, 60));
            CHECK(a.count(mv::archive::sha256_of(body).hex()) == 1);
        }
    }
};

fake_pop3_message msg(std::string uidl, std::string body) {
    fake_pop3_message m;
    m.uidl = std::move(uidl);
    m.body = std::move(body);
    return m;
}

std::string hex(const std::string& body) {
    return mv::archive::sha256_of(body).hex();
}

}  // namespace

TEST_CASE("pop3 hostile: a reused UIDL is archived as a new message and not deleted") {
    hostile_env env({msg("u1", A), msg("u2", B)});
    auto first = env.sync("keep");
    REQUIRE(first.status == 0);
    REQUIRE(env.archived().size() == 2);
    // The server lost its UIDL database: "u1" now names another message.
    env.server.set_mailbox({msg("u1", D), msg("u2", B)});

    SECTION("keep: the new message is archived") {
        auto r = env.sync("keep");
        CHECK(r.errors.find("reused the UIDL") != std::string::npos);
        auto a = env.archived();
        CHECK(a.count(hex(D)) == 1);
        CHECK(a.count(hex(A)) == 1);  // the old content under the same UIDL stays
        CHECK(env.server.dele_log().empty());
    }
    SECTION("after_archive: u1 is not deleted, u2 is (re-proved by RETR)") {
        auto r = env.sync("after_archive");
        INFO(r.errors);
        CHECK(r.status != 0);
        CHECK(r.errors.find("reused-uidl") != std::string::npos);
        CHECK(r.errors.find("not deleted") != std::string::npos);
        CHECK(env.server.dele_log() == std::vector<std::string>{"u2"});
        auto a = env.archived();
        REQUIRE(a.count(hex(D)) == 1);
        CHECK(a.at(hex(D)) == std::vector<std::string>{"u1 sha256:" + hex(D)});
        env.check_deleted_are_archived();
        // A later session recognises D under u1 and may delete it then.
        auto again = env.sync("after_archive");
        CHECK(again.status == 0);
        CHECK(env.server.mailbox().empty());
        env.check_deleted_are_archived();
        CHECK(env.archived().size() == 3);
    }
}

TEST_CASE("pop3 hostile: RETR answering with another message's bytes deletes neither") {
    SECTION("same size: only identical bytes give it away") {
        fake_pop3_message lie{"u2", B, A, A.size(), false};
        hostile_env env({msg("u1", A), lie, msg("u3", C)});
        auto r = env.sync("after_archive");
        CHECK(r.status != 0);
        CHECK(r.errors.find("duplicate-content") != std::string::npos);
        // TOP 1 0 shows A's header, so message 1 is A and may go; TOP 2 0 shows B's: refused.
        CHECK(env.server.dele_log() == std::vector<std::string>{"u1", "u3"});
        env.check_deleted_are_archived();
    }
    SECTION("other size: LIST disagrees") {
        fake_pop3_message lie{"u2", B, A, std::nullopt, false};
        hostile_env env({lie, msg("u3", C)});
        auto r = env.sync("after_archive");
        CHECK(r.status != 0);
        CHECK(r.errors.find("size-mismatch") != std::string::npos);
        CHECK(env.server.dele_log() == std::vector<std::string>{"u3"});
        env.check_deleted_are_archived();
    }
}

TEST_CASE("pop3 hostile: two messages sharing one UIDL are both archived, neither deleted") {
    hostile_env env({msg("dup", A), msg("dup", B), msg("u3", C)});
    auto r = env.sync("after_archive");
    CHECK(r.status != 0);
    CHECK(r.errors.find("duplicate-uidl") != std::string::npos);
    CHECK(env.server.dele_log() == std::vector<std::string>{"u3"});
    auto a = env.archived();
    CHECK(a.count(hex(A)) == 1);
    CHECK(a.count(hex(B)) == 1);
    env.check_deleted_are_archived();
}

TEST_CASE("pop3 hostile: a RETR shorter than its LIST size is not deleted") {
    const std::string shorter = A.substr(0, A.size() - 10) + "\r\n";
    fake_pop3_message cut{"u1", A, shorter, std::nullopt, false};
    hostile_env env({cut, msg("u2", B)});
    auto r = env.sync("after_archive");
    CHECK(r.status != 0);
    CHECK(r.errors.find("size-mismatch") != std::string::npos);
    CHECK(r.errors.find("LIST said " + std::to_string(A.size())) != std::string::npos);
    CHECK(env.server.dele_log() == std::vector<std::string>{"u2"});
    env.check_deleted_are_archived();
}

TEST_CASE("pop3 hostile: -ERR in the middle of the RETRs: nothing deleted, the rest archived") {
    fake_pop3_message bad{"u2", B, std::nullopt, std::nullopt, true};
    hostile_env env({msg("u1", A), bad, msg("u3", C)});
    auto r = env.sync("after_archive");
    CHECK(r.status == 7);
    CHECK(r.errors.find("RETR") != std::string::npos);
    CHECK(r.errors.find("nothing was deleted") != std::string::npos);
    CHECK(env.server.dele_log().empty());
    auto a = env.archived();
    CHECK(a.count(hex(A)) == 1);
    CHECK(a.count(hex(B)) == 0);
    // What the report counts is what was committed.
    CHECK(r.summary.at("accounts")[0].at("folders")[0].at("new_messages").get<std::size_t>() ==
          a.size());
}

TEST_CASE("pop3 hostile: a connection dropped at QUIT applies nothing, a rerun finishes") {
    hostile_env env({msg("u1", A), msg("u2", B)});
    env.server.set_options({"u", "pw", true});
    auto r = env.sync("after_archive");
    CHECK(r.status != 0);
    CHECK(r.summary.at("accounts")[0].at("deleted_on_server") == 0);
    CHECK(env.server.deleted_bodies().empty());
    CHECK(env.server.mailbox().size() == 2);
    env.server.set_options({});
    auto again = env.sync("after_archive");
    CHECK(again.status == 0);
    CHECK(env.server.mailbox().empty());
    env.check_deleted_are_archived();
    CHECK(env.archived().size() == 2);  // nothing archived twice
}
