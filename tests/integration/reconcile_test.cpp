// `mailvault verify --against-server` (sync/reconcile.hpp): the pure comparison table-tested,
// then the real thing against the Dovecot test bed, IMAP and POP3.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <set>

#include "harness/local.hpp"
#include "harness/sync_env.hpp"
#include "sync/reconcile.hpp"

using namespace mv::test;
using mv::sync::compare_listing;
using mv::sync::listed_message;

namespace {

std::vector<listed_message> uids(std::vector<std::pair<std::uint32_t, std::uint64_t>> v) {
    std::vector<listed_message> out;
    for (auto& [u, s] : v) out.push_back({std::to_string(u), s});
    return out;
}

struct verify_bed {
    temp_dir seed{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;

    explicit verify_bed(const std::string& protocol = "imap") {
        auto files = corpus_messages("mikel-mail/emails/plain_emails");
        files.resize(5);
        seed_folder(seed, "INBOX", files);
        if (protocol == "imap") seed_folder(seed, "Work", {files[0], files[1]});
        testbed_options o;
        o.users = {{"alice", "alice-pw", seed.path().string()}};
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"alice", "alice", "alice-pw", protocol, "starttls", ""}});
    }

    run_result verify(std::vector<std::string> more = {}) const {
        std::vector<std::string> args = {"verify", "--against-server"};
        args.insert(args.end(), more.begin(), more.end());
        auto r = env->cli(args);
        UNSCOPED_INFO("verify exit " << r.status << "\nstdout:\n"
                                     << r.output << "\nstderr:\n"
                                     << r.errors);
        return r;
    }

    nlohmann::json folder(const nlohmann::json& j, const std::string& name) const {
        for (const auto& f : j.at("accounts").at(0).at("folders"))
            if (f.at("name") == name) return f;
        FAIL("no folder " << name << " in " << j.dump());
        return {};
    }
};

}  // namespace

TEST_CASE("reconcile: the comparison of two listings") {
    SECTION("identical") {
        auto c = compare_listing(uids({{1, 10}, {2, 20}}), uids({{2, 20}, {1, 10}}), true, 5);
        CHECK(c.on_server == 2);
        CHECK(c.archived == 2);
        CHECK(c.missing == 0);
        CHECK(c.extra == 0);
        CHECK(c.complete());
    }
    SECTION("missing, extra and sizes; UIDs ordered as numbers") {
        auto c = compare_listing(uids({{10, 1}, {9, 1}, {100, 5}, {2, 7}}),
                                 uids({{2, 7}, {100, 4}, {55, 1}}), true, 5);
        CHECK(c.on_server == 4);
        CHECK(c.archived == 3);
        CHECK(c.missing == 2);
        CHECK(c.missing_ids == std::vector<std::string>{"9", "10"});
        CHECK(c.extra == 1);
        CHECK(c.extra_ids == std::vector<std::string>{"55"});
        REQUIRE(c.size_mismatches == 1);
        CHECK(c.mismatches[0].id == "100");
        CHECK(c.mismatches[0].server == 5);
        CHECK(c.mismatches[0].archived == 4);
        CHECK_FALSE(c.complete());
    }
    SECTION("extra alone is complete: the server lost nothing the archive lacks") {
        auto c = compare_listing(uids({{1, 1}}), uids({{1, 1}, {2, 2}}), true, 5);
        CHECK(c.extra == 1);
        CHECK(c.complete());
    }
    SECTION("lists are capped, counts are not") {
        std::vector<std::pair<std::uint32_t, std::uint64_t>> many;
        for (std::uint32_t u = 1; u <= 1000; ++u) many.push_back({u, 1});
        auto c = compare_listing(uids(many), {}, true, 3);
        CHECK(c.missing == 1000);
        CHECK(c.missing_ids == std::vector<std::string>{"1", "2", "3"});
    }
    SECTION("POP3 UIDLs; a UIDL listed twice is reported") {
        std::vector<listed_message> server = {{"b", 2}, {"a", 1}, {"a", 1}};
        std::vector<listed_message> archived = {{"a", 1}, {"b", 2}};
        auto c = compare_listing(server, archived, false, 5);
        CHECK(c.on_server == 2);
        CHECK(c.missing == 0);
        CHECK(c.duplicates == 1);
        CHECK(c.duplicate_ids == std::vector<std::string>{"a"});
        CHECK_FALSE(c.complete());
    }
    SECTION("POP3 sizes: RETR may be LIST + 2 (a final CRLF the server added), nothing else") {
        std::vector<listed_message> server = {{"a", 679}, {"b", 100}, {"c", 50}};
        std::vector<listed_message> archived = {{"a", 681}, {"b", 100}, {"c", 53}};
        auto c = compare_listing(server, archived, false, 5, mv::sync::size_rule::pop3);
        CHECK(c.size_mismatches == 1);
        REQUIRE(c.mismatches.size() == 1);
        CHECK(c.mismatches[0].id == "c");
        // The same sizes under the exact IMAP rule: both differences count.
        CHECK(compare_listing(server, archived, false, 5).size_mismatches == 2);
    }
}

TEST_CASE(
    "reconcile: IMAP: complete after a sync, an unsynced delivery and an archive gap "
    "are missing") {
    verify_bed b;
    b.env->sync();
    auto r = b.verify();
    CHECK(r.status == 0);
    CHECK(r.output.find("alice/INBOX: on server 5 / archived 5 / missing 0 / extra 0") !=
          std::string::npos);
    CHECK(r.output.find("alice/Work: on server 2 / archived 2 / missing 0 / extra 0") !=
          std::string::npos);
    const auto flags_before = b.tb->message_infos("alice", "INBOX");

    // Delivered, not synced: missing, listed.
    auto extra = corpus_messages("mikel-mail/emails/rfc2822/example0");
    REQUIRE(!extra.empty());
    const std::uint32_t fresh = b.tb->add("alice", "INBOX", extra[0]);
    r = b.verify();
    CHECK(r.status == 9);
    CHECK(r.output.find("alice/INBOX: on server 6 / archived 5 / missing 1 / extra 0") !=
          std::string::npos);
    CHECK(r.output.find("alice/INBOX: missing UIDs " + std::to_string(fresh)) != std::string::npos);
    auto j = nlohmann::json::parse(b.verify({"--json"}).output);
    CHECK(j.at("exit_code") == 9);
    auto inbox = b.folder(j, "INBOX");
    CHECK(inbox.at("missing") == 1);
    CHECK(inbox.at("missing_ids") == nlohmann::json::array({std::to_string(fresh)}));

    // The sync closes it.
    b.env->sync();
    CHECK(b.verify().status == 0);

    // A gap in the archive (an entry row lost): missing again, although nothing changed on the
    // server; a size the archive records wrongly is a disagreement.
    auto victim = b.tb->messages("alice", "Work").begin()->first;
    sql_exec(b.env->archive_path(),
             "DELETE FROM entries WHERE uid = " + std::to_string(victim) +
                 " AND mailbox_id = (SELECT id FROM mailboxes WHERE name = 'Work')");
    sql_exec(b.env->archive_path(),
             "UPDATE entries SET size = size - 2 WHERE uid = " + std::to_string(fresh) +
                 " AND mailbox_id = (SELECT id FROM mailboxes WHERE name = 'INBOX')");
    j = nlohmann::json::parse(b.verify({"--json"}).output);
    CHECK(j.at("exit_code") == 9);
    auto work = b.folder(j, "Work");
    CHECK(work.at("missing") == 1);
    CHECK(work.at("missing_ids") == nlohmann::json::array({std::to_string(victim)}));
    inbox = b.folder(j, "INBOX");
    CHECK(inbox.at("missing") == 0);
    REQUIRE(inbox.at("size_mismatches") == 1);
    CHECK(inbox.at("mismatches").at(0).at("id") == std::to_string(fresh));

    // Read-only on the server: nothing it holds changed (flags, \Seen included).
    auto after = b.tb->message_infos("alice", "INBOX");
    for (const auto& [uid, info] : flags_before) {
        INFO("UID " << uid);
        REQUIRE(after.count(uid) == 1);
        CHECK(after.at(uid).flags == info.flags);
    }
}

TEST_CASE("reconcile: a different UIDVALIDITY and a message gone from the server are reported") {
    verify_bed b;
    b.env->sync();
    auto gone = b.tb->messages("alice", "INBOX").begin()->first;
    b.tb->expunge("alice", "INBOX", {gone});
    auto r = b.verify();
    CHECK(r.status == 0);  // extra only: nothing on the server is missing
    CHECK(r.output.find("alice/INBOX: on server 4 / archived 5 / missing 0 / extra 1") !=
          std::string::npos);

    b.tb->set_uidvalidity("alice", "Work", 777);
    r = b.verify();
    CHECK(r.status == 9);
    CHECK(r.output.find("alice/Work: UIDVALIDITY 777 on the server") != std::string::npos);
    CHECK(r.output.find("alice/Work: on server 2 / archived 0 / missing 2") != std::string::npos);
}

TEST_CASE("reconcile: POP3: UIDL and LIST against the archive") {
    verify_bed b("pop3");
    b.env->sync();
    auto r = b.verify();
    CHECK(r.status == 0);
    CHECK(r.output.find("alice/INBOX: on server 5 / archived 5 / missing 0 / extra 0") !=
          std::string::npos);
    auto extra = corpus_messages("mikel-mail/emails/rfc2822/example0");
    REQUIRE(!extra.empty());
    b.tb->add("alice", "INBOX", extra[0]);
    auto j = nlohmann::json::parse(b.verify({"--json"}).output);
    CHECK(j.at("exit_code") == 9);
    auto inbox = b.folder(j, "INBOX");
    CHECK(inbox.at("missing") == 1);
    CHECK(inbox.at("missing_ids").size() == 1);
    CHECK(b.tb->messages("alice", "INBOX").size() == 6);  // no DELE, ever
}
