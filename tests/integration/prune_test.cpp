// `mailvault prune`, `hold`, `purge` and `audit` against the real Dovecot test bed (issue #7).
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <set>

#include "harness/sync_env.hpp"

using namespace mv::test;

namespace {

// alice's INBOX: seeded messages dated 2020 (old) plus two added now (new).
struct prune_bed {
    temp_dir seed{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;
    std::map<std::uint32_t, std::string> original;  // UID -> bytes as first on the server
    std::set<std::uint32_t> old_uids, new_uids;

    prune_bed() {
        auto files = corpus_messages("mikel-mail/emails/plain_emails");
        files.resize(6);
        seed_folder(seed, "INBOX", files);
        testbed_options o;
        o.users = {{"alice", "alice-pw", seed.path().string()}};
        tb = std::make_unique<testbed>(o);
        tb->mkdir("alice", "Trash");
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""}});
        env->sync();  // Dovecot assigns the seeded files their UIDs on first access
        for (auto& [uid, m] : tb->messages("alice", "INBOX")) old_uids.insert(uid);
        REQUIRE(old_uids.size() == 6);
        auto extra = corpus_messages("mikel-mail/emails/rfc2822/example0");
        REQUIRE(extra.size() >= 2);
        new_uids.insert(tb->add("alice", "INBOX", extra[0], "\\Seen"));
        new_uids.insert(tb->add("alice", "INBOX", extra[1]));
        original = tb->messages("alice", "INBOX");
        env->sync();
    }

    // Old UIDs whose archived content no other entry shares (corpus files may repeat).
    std::vector<std::uint32_t> unique_old() const {
        auto a = env->open_archive();
        std::map<std::string, int> refs;
        std::map<std::uint32_t, std::string> hash;
        for (auto& [uid, m] : original) {
            auto e = a->find_entry("alice", "INBOX", uid);
            REQUIRE(e);
            hash[uid] = e->content.hex();
            ++refs[hash[uid]];
        }
        std::vector<std::uint32_t> out;
        for (auto uid : old_uids)
            if (refs[hash[uid]] == 1) out.push_back(uid);
        REQUIRE(out.size() >= 2);
        return out;
    }

    std::set<std::uint32_t> server_uids(const std::string& folder = "INBOX") const {
        std::set<std::uint32_t> out;
        for (auto& [uid, m] : tb->messages("alice", folder)) out.insert(uid);
        return out;
    }

    run_result run(std::vector<std::string> args) const {
        auto r = env->cli(std::move(args));
        UNSCOPED_INFO("mailvault "
                      << " exit " << r.status << "\nstdout:\n"
                      << r.output << "\nstderr:\n"
                      << r.errors);
        return r;
    }

    nlohmann::json prune_json(std::vector<std::string> args, int expect) const {
        args.insert(args.begin(), {"prune", "--json"});
        auto r = run(args);
        CHECK(r.status == expect);
        nlohmann::json j;
        REQUIRE_NOTHROW(j = nlohmann::json::parse(r.output));
        return j;
    }

    std::vector<nlohmann::json> audit(const std::string& kind) const {
        auto r = run({"audit", "export"});
        REQUIRE(r.status == 0);
        std::vector<nlohmann::json> out;
        std::istringstream in(r.output);
        for (std::string line; std::getline(in, line);) {
            auto j = nlohmann::json::parse(line);
            if (j.at("kind") == kind) out.push_back(j);
        }
        return out;
    }

    void sql(const std::string& db, const std::string& q) const {
        sqlite3* h = nullptr;
        REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
        char* err = nullptr;
        int rc = sqlite3_exec(h, q.c_str(), nullptr, nullptr, &err);
        INFO((err ? err : ""));
        sqlite3_free(err);
        sqlite3_close(h);
        REQUIRE(rc == SQLITE_OK);
    }
};

nlohmann::json inbox_report(const nlohmann::json& j) {
    for (const auto& f : j.at("accounts").at(0).at("folders"))
        if (f.at("name") == "INBOX") return f;
    FAIL("no INBOX in " << j.dump());
    return {};
}

std::string uid_list(const std::set<std::uint32_t>& s) {
    std::vector<std::uint32_t> v(s.begin(), s.end());
    std::string out;
    // Same compression as the program: ranges of consecutive UIDs.
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i;
        while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
        if (!out.empty()) out += ",";
        out += std::to_string(v[i]);
        if (j > i) out += ":" + std::to_string(v[j]);
        i = j + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("prune: older-than removes exactly the older messages; the archive keeps them") {
    prune_bed b;
    // Another client marks a new message \Deleted: not selected by the rule, it must survive.
    const std::uint32_t marked = *b.new_uids.rbegin();
    b.tb->flags("alice", "INBOX", marked, "add", {"\\Deleted"});

    // Dry run: the plan, nothing changes.
    auto plan = b.prune_json({"--older-than", "30d", "--folder", "INBOX"}, 0);
    CHECK(plan.at("dry_run") == true);
    auto pf = inbox_report(plan);
    CHECK(pf.at("planned") == b.old_uids.size());
    CHECK(pf.at("planned_uids") == uid_list(b.old_uids));
    CHECK(pf.at("planned_bytes").get<std::uint64_t>() > 0);
    CHECK(b.server_uids().size() == b.original.size());
    CHECK(b.audit("prune_delete").empty());
    auto text = b.run({"prune", "--older-than", "30d"});
    CHECK(text.status == 0);
    CHECK(text.output.find("alice/INBOX: would delete " + std::to_string(b.old_uids.size()) +
                           " messages") != std::string::npos);

    // Execute.
    auto done = b.prune_json({"--older-than", "30d", "--folder", "INBOX", "--execute"}, 0);
    auto df = inbox_report(done);
    CHECK(df.at("method") == "uid-expunge");
    CHECK(df.at("deleted_uids") == uid_list(b.old_uids));
    CHECK(b.server_uids() == b.new_uids);  // the \Deleted-by-someone-else message survived

    // Every deleted message is still in the archive, byte for byte, marked expunged.
    auto a = b.env->open_archive();
    for (auto uid : b.old_uids) {
        INFO("uid " << uid);
        auto e = a->find_entry("alice", "INBOX", uid);
        REQUIRE(e);
        CHECK(e->expunged_at);
        std::string bytes;
        REQUIRE_FALSE(a->read_content(e->content, bytes));
        CHECK(bytes == crlf(b.original.at(uid)));
    }
    for (auto uid : b.new_uids) CHECK_FALSE(a->find_entry("alice", "INBOX", uid)->expunged_at);

    // The audit log lists each of them with its hash and the rule.
    auto rows = b.audit("prune_delete");
    REQUIRE(rows.size() == b.old_uids.size());
    std::set<std::uint32_t> audited;
    for (auto& r : rows) {
        const auto& p = r.at("payload");
        audited.insert(p.at("uid").get<std::uint32_t>());
        CHECK(p.at("account") == "alice");
        CHECK(p.at("folder") == "INBOX");
        CHECK(p.at("uidvalidity") == b.tb->uidvalidity("alice", "INBOX"));
        CHECK(p.at("rule") == "folders=INBOX older_than=30d");
        auto e = a->find_entry("alice", "INBOX", p.at("uid").get<std::uint32_t>());
        CHECK(p.at("sha256") == e->content.hex());
    }
    CHECK(audited == b.old_uids);
    CHECK(b.run({"audit", "verify"}).status == 0);
    CHECK(b.run({"verify"}).status == 0);

    // A second run has nothing left to do.
    auto again = b.prune_json({"--older-than", "30d", "--execute"}, 0);
    CHECK(inbox_report(again).at("deleted") == 0);
}

TEST_CASE("prune: a corrupted archived copy is not deleted, and the run says why") {
    prune_bed b;
    const std::uint32_t victim = b.unique_old().front();
    b.sql(b.env->archive_path(),
          "UPDATE chunks SET data = CASE WHEN substr(data, 10, 1) = X'00' THEN X'01' ELSE X'00' "
          "END || substr(data, 1, 9) || substr(data, 11) WHERE seq = 0 AND content_id = (SELECT "
          "content_id FROM entries WHERE uid = " +
              std::to_string(victim) + ")");
    auto r = b.run({"prune", "--older-than", "30d", "--execute"});
    CHECK(r.status == 9);
    CHECK(r.output.find("kept UID " + std::to_string(victim) +
                        ": archived copy failed "
                        "verification") != std::string::npos);
    auto left = b.server_uids();
    CHECK(left.count(victim) == 1);
    for (auto uid : b.old_uids)
        if (uid != victim) CHECK(left.count(uid) == 0);
}

TEST_CASE("prune: without UIDPLUS it refuses by default; --trash moves instead") {
    prune_bed b;
    b.tb->restart({"UIDPLUS"});
    auto r = b.run({"prune", "--older-than", "30d", "--execute"});
    CHECK(r.status == 7);
    CHECK(r.errors.find("UIDPLUS") != std::string::npos);
    CHECK(r.errors.find("--trash") != std::string::npos);
    CHECK(b.server_uids().size() == b.original.size());

    auto j = b.prune_json({"--older-than", "30d", "--execute", "--trash", "Trash"}, 0);
    CHECK(inbox_report(j).at("method") == "move");
    CHECK(b.server_uids() == b.new_uids);
    std::set<std::string> moved;
    for (auto& [uid, m] : b.tb->messages("alice", "Trash")) moved.insert(m);
    CHECK(moved.size() == b.old_uids.size());
    for (auto uid : b.old_uids) CHECK(moved.count(b.original.at(uid)) == 1);
    CHECK(b.audit("prune_delete").size() == b.old_uids.size());
}

TEST_CASE("prune: plain EXPUNGE only when no other message is marked \\Deleted") {
    prune_bed b;
    b.tb->restart({"UIDPLUS"});
    const std::uint32_t marked = *b.new_uids.begin();
    b.tb->flags("alice", "INBOX", marked, "add", {"\\Deleted"});
    auto r = b.run({"prune", "--older-than", "30d", "--execute", "--allow-plain-expunge"});
    CHECK(r.status == 1);
    CHECK(r.output.find("marked \\Deleted by another client") != std::string::npos);
    CHECK(b.server_uids().size() == b.original.size());
    b.tb->flags("alice", "INBOX", marked, "remove", {"\\Deleted"});
    auto j = b.prune_json({"--older-than", "30d", "--execute", "--allow-plain-expunge"}, 0);
    CHECK(inbox_report(j).at("method") == "plain-expunge");
    CHECK(b.server_uids() == b.new_uids);
}

TEST_CASE("hold: a legal hold blocks prune and purge; releasing it lets them run") {
    prune_bed b;
    auto add = b.run({"hold", "add", "--account", "alice", "--reason", "case 17"});
    REQUIRE(add.status == 0);
    auto list = b.run({"hold", "list"});
    CHECK(list.output.find("case 17") != std::string::npos);

    auto r = b.run({"prune", "--older-than", "30d", "--execute"});
    CHECK(r.status == 0);
    CHECK(r.output.find("alice/INBOX: skipped: under legal hold 1 (case 17)") != std::string::npos);
    CHECK(b.server_uids().size() == b.original.size());

    // Expunged on the server by someone else: purge candidates, but held.
    std::vector<std::uint32_t> gone = b.unique_old();
    gone.resize(2);
    b.tb->expunge("alice", "INBOX", gone);
    b.env->sync();
    auto p = b.run({"purge", "--older-than", "30d", "--execute", "--json"});
    REQUIRE(p.status == 0);
    auto pj = nlohmann::json::parse(p.output);
    CHECK(pj.at("held") == 2);
    CHECK(pj.at("entries_deleted") == 0);
    CHECK(pj.at("on_server").get<int>() > 0);  // old ones still on the server are never purged

    auto rel = b.run({"hold", "release", "1", "--reason", "case closed"});
    REQUIRE(rel.status == 0);
    CHECK(b.run({"hold", "release", "1", "--reason", "again"}).status == 2);

    auto p2 = b.run({"purge", "--older-than", "30d", "--execute", "--json"});
    REQUIRE(p2.status == 0);
    auto p2j = nlohmann::json::parse(p2.output);
    CHECK(p2j.at("entries_deleted") == 2);
    CHECK(p2j.at("contents_deleted") == 2);
    {
        auto a = b.env->open_archive();
        for (auto uid : gone) CHECK_FALSE(a->find_entry("alice", "INBOX", uid));
    }
    auto j = b.prune_json({"--older-than", "30d", "--execute"}, 0);
    CHECK(inbox_report(j).at("deleted") == b.old_uids.size() - 2);
    CHECK(b.server_uids() == b.new_uids);

    for (const char* k : {"hold_add", "hold_release", "purge_entry", "purge", "prune_delete"})
        CHECK_FALSE(b.audit(k).empty());
    CHECK(b.run({"audit", "verify"}).status == 0);
}

TEST_CASE("audit: editing, deleting or reordering a row is detected by `audit verify`") {
    prune_bed b;
    b.run({"hold", "add", "--account", "alice", "--reason", "one"});
    b.run({"hold", "release", "1", "--reason", "two"});
    b.run({"hold", "add", "--account", "alice", "--folder", "INBOX", "--reason", "three"});
    b.run({"hold", "release", "2", "--reason", "four"});
    REQUIRE(b.run({"audit", "verify"}).status == 0);
    const std::string copy = (b.env->dir() / "tampered.sqlite").string();
    auto tampered = [&](const std::string& q) {
        std::filesystem::copy_file(b.env->archive_path(), copy,
                                   std::filesystem::copy_options::overwrite_existing);
        b.sql(copy, q);
        auto r = b.env->cli({"audit", "verify", "--archive", copy});
        INFO(r.output << r.errors);
        CHECK(r.status == 9);
        return r.output;
    };
    CHECK(tampered("UPDATE audit_log SET payload = replace(payload, 'two', 'TWO') WHERE seq = 2")
              .find("audit row 2") != std::string::npos);
    CHECK(tampered("DELETE FROM audit_log WHERE seq = 3").find("BAD") != std::string::npos);
    tampered(
        "UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3); UPDATE audit_log SET seq = 3 "
        "WHERE seq = -2; UPDATE audit_log SET seq = 2 WHERE seq = -3;");
    tampered("DELETE FROM audit_log WHERE seq = 4");
    auto v = b.env->cli({"verify", "--archive", copy});
    CHECK(v.status == 9);
}
