// Crash-point walk over `mailvault prune --execute` against the real Dovecot test bed
// (mailvault/crashpoint.hpp): for N = 1, 2, 3 ... a fresh bed, a run that ends at the Nth durable
// step or destructive command (exit 86, like a kill -9), the invariants, then a rerun that must
// finish the job. Stops at the first N the run passes without crashing.
#include <catch2/catch.hpp>
#include <set>
#include <sstream>

#include "archive/hash.hpp"
#include "harness/sync_env.hpp"

using namespace mv::test;

namespace {

struct crash_bed {
    temp_dir seed{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;
    std::map<std::uint32_t, std::string> original;  // UID -> bytes on the server before prune
    std::set<std::uint32_t> old_uids, new_uids;

    crash_bed() {
        auto files = corpus_messages("mikel-mail/emails/plain_emails");
        files.resize(3);
        seed_folder(seed, "INBOX", files);
        testbed_options o;
        o.users = {{"alice", "alice-pw", seed.path().string()}};
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""}});
        env->sync();
        for (auto& [uid, m] : tb->messages("alice", "INBOX")) old_uids.insert(uid);
        REQUIRE(old_uids.size() == 3);
        auto extra = corpus_messages("mikel-mail/emails/rfc2822/example0");
        REQUIRE(!extra.empty());
        new_uids.insert(tb->add("alice", "INBOX", extra[0], "\\Seen"));
        original = tb->messages("alice", "INBOX");
        env->sync();
    }

    run_result prune(const std::map<std::string, std::string>& env_vars) const {
        return run_command({env->cli_path(), "prune", "--older-than", "30d", "--execute",
                            "--config", env->config_path()},
                           "", env_vars);
    }

    std::set<std::uint32_t> audited_deletes() const {
        auto r = env->cli({"audit", "export"});
        REQUIRE(r.status == 0);
        std::set<std::uint32_t> out;
        std::istringstream in(r.output);
        for (std::string line; std::getline(in, line);) {
            auto j = nlohmann::json::parse(line);
            if (j.at("kind") == "prune_delete")
                out.insert(j.at("payload").at("uid").get<std::uint32_t>());
        }
        return out;
    }

    // Every message gone from the server was selected, is archived byte-exact and audited.
    void check_invariants(const std::string& when) const {
        INFO(when);
        std::set<std::uint32_t> on_server;
        for (auto& [uid, m] : tb->messages("alice", "INBOX")) on_server.insert(uid);
        for (auto uid : new_uids) CHECK(on_server.count(uid) == 1);  // never selected
        const auto audited = audited_deletes();
        auto a = env->open_archive();
        for (auto& [uid, bytes] : original) {
            if (on_server.count(uid)) continue;
            INFO("UID " << uid << " is gone from the server");
            CHECK(old_uids.count(uid) == 1);
            auto e = a->find_entry("alice", "INBOX", uid);
            REQUIRE(e);
            CHECK(e->content == mv::archive::sha256_of(crlf(bytes)));
            std::string archived;
            CHECK_FALSE(a->read_content(e->content, archived));
            CHECK(archived == crlf(bytes));
            CHECK(audited.count(uid) == 1);
        }
    }
};

}  // namespace

TEST_CASE("prune crash walk: a crash at any durable step loses nothing, a rerun finishes") {
    std::set<std::string> names_seen;
    int crashes = 0;
    for (int n = 1; n <= 60; ++n) {
        INFO("MAILVAULT_CRASH_AT=" << n);
        crash_bed b;
        const std::string log = (b.env->dir() / "crash.log").string();
        auto r = b.prune({{"MAILVAULT_CRASH_AT", std::to_string(n)}, {"MAILVAULT_CRASH_LOG", log}});
        INFO("exit " << r.status << "\nstdout:\n" << r.output << "\nstderr:\n" << r.errors);
        {
            std::istringstream in(read_file(log));
            for (std::string line; std::getline(in, line);)
                if (auto sp = line.find(' '); sp != std::string::npos)
                    names_seen.insert(line.substr(sp + 1));
        }
        if (r.status == 0) {
            // The run passed every crash point: the walk is complete.
            b.check_invariants("after the run that did not crash");
            std::set<std::uint32_t> left;
            for (auto& [uid, m] : b.tb->messages("alice", "INBOX")) left.insert(uid);
            CHECK(left == b.new_uids);
            CHECK(crashes == n - 1);
            break;
        }
        REQUIRE(r.status == 86);
        CHECK(r.errors.find("crash point " + std::to_string(n)) != std::string::npos);
        ++crashes;
        b.check_invariants("after the crash");
        auto again = b.prune({{"MAILVAULT_CRASH_AT", ""}});
        INFO("rerun exit " << again.status << "\nstdout:\n"
                           << again.output << "\nstderr:\n"
                           << again.errors);
        CHECK(again.status == 0);
        b.check_invariants("after the rerun");
        std::set<std::uint32_t> left;
        for (auto& [uid, m] : b.tb->messages("alice", "INBOX")) left.insert(uid);
        CHECK(left == b.new_uids);  // the rerun completed the job
        CHECK(b.env->cli({"audit", "verify"}).status == 0);
    }
    CHECK(crashes >= 5);
    // The walk passed the prune's own steps, not only the sync's.
    for (const char* want :
         {"prune.audit_delete", "prune.before_store_deleted", "prune.after_store_deleted",
          "prune.before_uid_expunge", "prune.after_uid_expunge", "prune.folder_commit"})
        CHECK(names_seen.count(want) == 1);
}
