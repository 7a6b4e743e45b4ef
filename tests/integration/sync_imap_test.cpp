// `mailvault sync` against the real Dovecot test bed (issue #5).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "harness/sync_env.hpp"

using namespace mv::test;

namespace {

// Two users: alice with a hierarchy and a non-ASCII folder, bob with a small INBOX.
struct two_accounts {
    temp_dir seed_a{"mailvault-seed"}, seed_b{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;

    explicit two_accounts(std::vector<std::string> disabled_caps = {}) {
        seed_folder(seed_a, "INBOX", corpus_messages("mikel-mail/emails/plain_emails"));
        seed_folder(seed_a, "Archive", corpus_messages("mikel-mail/emails/rfc2822"));
        seed_folder(seed_a, "Archive.2024", corpus_messages("mikel-mail/emails/multi_charset"));
        // "Projets/Été" in modified UTF-7, as Dovecot names Maildir++ folders on disk.
        seed_folder(seed_a, "Projets.&AMk-t&AOk-",
                    corpus_messages("mailkit/imap/common/message.1"));
        seed_folder(seed_b, "INBOX", corpus_messages("mikel-mail/emails/attachment_emails"));
        testbed_options o;
        o.users = {{"alice", "alice-pw", seed_a.path().string()},
                   {"bob", "bob-pw", seed_b.path().string()}};
        o.disabled_caps = std::move(disabled_caps);
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""},
                           {"bob", "bob", "bob-pw", "imap", "implicit", ""}});
    }

    void check_all() {
        auto a = env->open_archive();
        for (const char* f : {"INBOX", "Archive", "Archive/2024", "Projets/Été"})
            CHECK(check_mirror(*a, *tb, "alice", "alice", f) > 0);
        CHECK(check_mirror(*a, *tb, "bob", "bob", "INBOX") > 0);
        env->expect_complete_against_server();
    }
};

std::int64_t total(const nlohmann::json& summary, const char* key) {
    std::int64_t n = 0;
    for (const auto& a : summary.at("accounts"))
        for (const auto& f : a.at("folders")) n += f.at(key).get<std::int64_t>();
    return n;
}

void scenario_changes(two_accounts& t, bool expect_fast_path) {
    auto first = t.env->sync();
    CHECK(total(first, "new_messages") > 0);
    t.check_all();

    // No change: no body fetched, every folder skipped with its one LIST-STATUS round trip.
    auto second = t.env->sync();
    CHECK(total(second, "bodies_fetched") == 0);
    CHECK(total(second, "new_messages") == 0);
    for (const auto& a : second.at("accounts")) {
        const auto folders = a.at("folders").size();
        // Commands: LOGIN/AUTH, CAPABILITY/ENABLE, LIST, LOGOUT, STARTTLS... plus at most a
        // few per folder when the fast path is not available.
        const auto cmds = a.at("commands").get<std::size_t>();
        if (expect_fast_path) {
            for (const auto& f : a.at("folders")) CHECK(f.at("skipped") == true);
            CHECK(cmds <= 8);
        } else {
            CHECK(cmds <= 8 + 4 * folders);
        }
    }

    // Server-side changes: new messages, flags (incl. a keyword), expunge.
    auto extra = corpus_messages("mikel-mail/emails/rfc2822/example01");
    REQUIRE(!extra.empty());
    t.tb->add("alice", "INBOX", extra[0], "\\Seen");
    t.tb->add("alice", "Archive", extra[0]);
    t.tb->flags("alice", "INBOX", 1, "add", {"\\Flagged", "$Work"});
    t.tb->flags("alice", "INBOX", 2, "replace", {"\\Answered"});
    t.tb->flags("alice", "Archive", 3, "add", {"\\Seen"});
    t.tb->expunge("alice", "INBOX", {3, 4});
    t.tb->expunge("alice", "Archive/2024", {1});
    auto third = t.env->sync();
    CHECK(folder_report(third, "alice", "INBOX").at("new_messages") == 1);
    CHECK(folder_report(third, "alice", "INBOX").at("expunged") == 2);
    CHECK(folder_report(third, "alice", "INBOX").at("flags_updated").get<int>() >= 2);
    CHECK(folder_report(third, "alice", "Archive").at("new_messages") == 1);
    CHECK(folder_report(third, "alice", "Archive/2024").at("expunged") == 1);
    CHECK(total(third, "bodies_fetched") == 2);
    t.check_all();
    // Expunged on the server, kept in the archive and marked.
    auto a = t.env->open_archive();
    auto e3 = a->find_entry("alice", "INBOX", 3);
    REQUIRE(e3);
    CHECK(e3->expunged_at);
    std::string bytes;
    CHECK_FALSE(a->read_content(e3->content, bytes));
    CHECK(!bytes.empty());
}

}  // namespace

TEST_CASE("sync: two accounts, hierarchy and non-ASCII folders, mirrored byte for byte") {
    two_accounts t;
    scenario_changes(t, true);
}

TEST_CASE("sync: the same scenarios without QRESYNC and CONDSTORE (listing fallback)") {
    two_accounts t({"QRESYNC", "CONDSTORE", "LIST-STATUS"});
    scenario_changes(t, false);
    auto s = t.env->sync();
    CHECK(folder_report(s, "alice", "INBOX").at("strategy") == "listing");
}

TEST_CASE("sync: CONDSTORE without QRESYNC uses CHANGEDSINCE") {
    two_accounts t({"QRESYNC"});
    t.env->sync();
    t.tb->flags("alice", "INBOX", 1, "add", {"$Later"});
    auto s = t.env->sync();
    CHECK(folder_report(s, "alice", "INBOX").at("strategy") == "condstore");
    CHECK(folder_report(s, "alice", "INBOX").at("flags_updated") == 1);
    t.check_all();
}

TEST_CASE("sync: a new UIDVALIDITY starts a generation and downloads no body it already had") {
    two_accounts t;
    t.env->sync();
    const auto before = t.tb->messages("alice", "Archive").size();
    t.tb->set_uidvalidity("alice", "Archive", 777);
    auto s = t.env->sync();
    auto f = folder_report(s, "alice", "Archive");
    CHECK(f.at("uidvalidity_changed") == true);
    CHECK(f.at("bodies_fetched") == 0);
    CHECK(f.at("bytes_fetched") == 0);
    CHECK(f.at("reused_bodies").get<std::size_t>() == before);
    t.check_all();
    // Both generations are in the archive.
    auto a = t.env->open_archive();
    auto acct = a->find_account("alice");
    REQUIRE(acct);
    for (auto& m : a->mailboxes(*acct)) {
        if (m.name != "Archive") continue;
        CHECK(m.generation == 2);
        CHECK(a->list_entries(m.id, 1).size() == before);
        CHECK(a->list_entries(m.id, 2).size() == before);
    }
    // And a later sync is quiet again.
    auto again = t.env->sync();
    CHECK(total(again, "bodies_fetched") == 0);
}

TEST_CASE("sync: a wrong password fails that account, the other completes: exit 1 (partial)") {
    two_accounts t;
    t.env->write_config({{"alice", "alice", "not-the-password", "imap", "starttls", ""},
                         {"bob", "bob", "bob-pw", "imap", "implicit", ""}});
    auto r = t.env->cli({"sync", "--json"});
    CHECK(r.status == 1);
    CHECK(r.errors.find("alice") != std::string::npos);
    CHECK(r.errors.find("not-the-password") == std::string::npos);
    auto j = nlohmann::json::parse(r.output);
    for (const auto& a : j.at("accounts")) {
        if (a.at("account") == "alice") {
            CHECK(a.at("status") == "failed");
            CHECK(a.at("error").at("kind") == "auth");
        } else {
            CHECK(a.at("status") == "ok");
        }
    }
    auto a = t.env->open_archive();
    CHECK(check_mirror(*a, *t.tb, "bob", "bob", "INBOX") > 0);
}

TEST_CASE("sync: --dry-run says what would be fetched and changes nothing") {
    two_accounts t;
    auto s = t.env->sync({"--dry-run"});
    CHECK(total(s, "would_fetch") > 0);
    CHECK(total(s, "new_messages") == 0);
    CHECK_FALSE(std::filesystem::exists(t.env->archive_path()));
}

TEST_CASE("sync: an untrusted certificate is a TLS error with exit code 6") {
    two_accounts t;
    t.env->write_config({{"bob", "bob", "bob-pw", "imap", "implicit", ""}});
    // Point ca_file at a CA that did not sign the server's certificate.
    auto cfg = read_file(t.env->config_path());
    auto pos = cfg.find(t.tb->ca_file());
    REQUIRE(pos != std::string::npos);
    cfg.replace(pos, t.tb->ca_file().size(), t.tb->other_ca_file());
    write_file(t.env->config_path(), cfg);
    auto r = t.env->cli({"sync"});
    CHECK(r.status == 6);
    CHECK(r.errors.find("not trusted") != std::string::npos);
}

TEST_CASE("sync: kill -9 at several points, then a rerun: the archive equals the server") {
    temp_dir seed("mailvault-seed");
    // Enough data that a sync takes a while: the large MailKit messages, in three folders.
    // Enough that a sync takes a while even in an optimized build: ~40 MB in INBOX.
    std::vector<std::string> many;
    for (int i = 0; i < 6; ++i)
        for (auto& m : corpus_messages("mailkit/imap/common/message.")) many.push_back(m);
    seed_folder(seed, "INBOX", many);
    seed_folder(seed, "Big", corpus_messages("mailkit/imap/common/message.1"));
    seed_folder(seed, "Mixed", corpus_messages("mikel-mail/emails"));
    testbed_options o;
    o.users = {{"alice", "alice-pw", seed.path().string()}};
    testbed tb(o);
    const std::vector<account_spec> acct = {
        {"alice", "alice", "alice-pw", "imap", "plain", "connections = 2\n"}};
    // Time one full sync into a scratch archive, then kill runs at fractions of that time.
    double full_ms = 0;
    std::size_t total_entries = 0;
    {
        sync_env scratch(tb, MV_CLI_PATH);
        scratch.write_config(acct);
        auto t0 = std::chrono::steady_clock::now();
        scratch.sync({"--batch-messages", "7"});
        full_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                      .count();
        auto a = scratch.open_archive();
        total_entries = static_cast<std::size_t>(a->totals().entries);
    }
    REQUIRE(total_entries > 100);
    sync_env env(tb, MV_CLI_PATH);
    env.write_config(acct);
    int partial = 0;
    for (double frac : {0.1, 0.2, 0.35, 0.5, 0.65, 0.8}) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int devnull = ::open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execl(MV_CLI_PATH, MV_CLI_PATH, "sync", "--batch-messages", "7", "--config",
                  env.config_path().c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        // Each run resumes the previous one, so later kills land later in the whole job.
        std::this_thread::sleep_for(
            std::chrono::microseconds(static_cast<long>(full_ms * frac * 1000)));
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        // Whatever was committed must open and verify (a kill before the first commit leaves
        // no archive, or one whose schema was never committed).
        auto v = env.cli({"verify"});
        INFO("verify after kill at " << frac << ": " << v.output << v.errors);
        CHECK((v.status == 0 || v.errors.find("does not exist") != std::string::npos ||
               v.errors.find("schema 0") != std::string::npos));
        if (v.status == 0) {
            auto a = env.open_archive();
            auto n = static_cast<std::size_t>(a->totals().entries);
            if (n > 0 && n < total_entries) ++partial;
        }
    }
    INFO("full sync took " << full_ms << " ms");
    CHECK(partial >= 1);  // at least one kill landed mid-job
    env.sync();
    auto a = env.open_archive();
    for (const char* f : {"INBOX", "Big", "Mixed"}) check_mirror(*a, tb, "alice", "alice", f);
    env.expect_complete_against_server();
    CHECK(static_cast<std::size_t>(a->totals().entries) == total_entries);
}

TEST_CASE("sync: the server drops every connection mid-sync, the sync reconnects and completes") {
    temp_dir seed("mailvault-seed");
    // ~45 MB in INBOX so that the sync is still running when the server goes away.
    std::vector<std::string> many;
    for (int i = 0; i < 8; ++i)
        for (auto& m : corpus_messages("mailkit/imap/common/message.")) many.push_back(m);
    seed_folder(seed, "INBOX", many);
    seed_folder(seed, "Mixed", corpus_messages("mikel-mail/emails"));
    testbed_options o;
    o.users = {{"alice", "alice-pw", seed.path().string()}};
    testbed tb(o);
    bool saw_reconnect = false;
    for (int delay_ms : {200, 80, 30}) {
        sync_env env(tb, MV_CLI_PATH);
        env.write_config({{"alice", "alice", "alice-pw", "imap", "plain", "connections = 1\n"}});
        auto fut = std::async(std::launch::async, [&] {
            return env.cli({"sync", "--json", "--batch-messages", "5"});
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        tb.restart({});  // kills Dovecot and every session, then starts it on the same ports
        auto r = fut.get();
        INFO("delay " << delay_ms << " ms: " << r.errors);
        REQUIRE(r.status == 0);
        auto j = nlohmann::json::parse(r.output);
        auto a = env.open_archive();
        check_mirror(*a, tb, "alice", "alice", "INBOX");
        check_mirror(*a, tb, "alice", "alice", "Mixed");
        env.expect_complete_against_server();
        if (j.at("accounts")[0].at("reconnects").get<int>() > 0) {
            saw_reconnect = true;
            break;
        }
    }
    CHECK(saw_reconnect);
}
