// `mailvault prune`, `hold`, `purge` and `audit` against the real Dovecot test bed (issue #7).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "archive/hash.hpp"
#include "harness/local.hpp"
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
};

nlohmann::json inbox_report(const nlohmann::json& j) {
    for (const auto& f : j.at("accounts").at(0).at("folders"))
        if (f.at("name") == "INBOX") return f;
    FAIL("no INBOX in " << j.dump());
    return {};
}

// A line proxy on 127.0.0.1 in front of the test bed's plain IMAP port: forwards the server's
// bytes unchanged and each client line through `hook`, which may act (e.g. change the server
// with doveadm before the line goes on) or answer in the server's place (the line is then not
// forwarded). For what Dovecot cannot be made to do at a precise moment (a STORE that fails).
// Flow: construct (listens) -> point an account at port() with tls = "plain" -> destructor stops
// every connection thread and closes every socket.
class hook_proxy {
public:
    using hook = std::function<std::optional<std::string>(const std::string& line)>;

    hook_proxy(std::uint16_t upstream, hook h) : upstream_(upstream), hook_(std::move(h)) {
        lfd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(lfd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(lfd_, 8) == 0);
        socklen_t len = sizeof a;
        ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        accept_ = std::thread([this] { accept_loop(); });
    }
    ~hook_proxy() {
        stop_ = true;
        accept_.join();
        for (auto& t : conns_) t.join();
        ::close(lfd_);
    }
    hook_proxy(const hook_proxy&) = delete;
    hook_proxy& operator=(const hook_proxy&) = delete;
    std::uint16_t port() const { return port_; }

private:
    void accept_loop() {
        while (!stop_) {
            pollfd p{lfd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            int c = ::accept(lfd_, nullptr, nullptr);
            if (c >= 0) conns_.emplace_back([this, c] { serve(c); });
        }
    }
    static bool write_all(int fd, std::string_view b) {
        while (!b.empty()) {
            auto n = ::send(fd, b.data(), b.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            b.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    void serve(int cfd) {
        int ufd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(upstream_);
        bool ok = ::connect(ufd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        std::string pending;
        char buf[65536];
        while (ok && !stop_) {
            pollfd p[2] = {{cfd, POLLIN, 0}, {ufd, POLLIN, 0}};
            if (::poll(p, 2, 20) <= 0) continue;
            if (p[1].revents) {
                auto n = ::recv(ufd, buf, sizeof buf, 0);
                if (n <= 0 || !write_all(cfd, std::string_view(buf, static_cast<std::size_t>(n))))
                    break;
            }
            if (p[0].revents) {
                auto n = ::recv(cfd, buf, sizeof buf, 0);
                if (n <= 0) break;
                pending.append(buf, static_cast<std::size_t>(n));
                for (auto e = pending.find("\r\n"); e != std::string::npos;
                     e = pending.find("\r\n")) {
                    std::string line = pending.substr(0, e);
                    pending.erase(0, e + 2);
                    auto answer = hook_(line);
                    if (!(answer ? write_all(cfd, *answer) : write_all(ufd, line + "\r\n"))) {
                        ok = false;
                        break;
                    }
                }
            }
        }
        ::close(ufd);
        ::close(cfd);
    }

    std::uint16_t upstream_;
    hook hook_;
    int lfd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread accept_;
    std::vector<std::thread> conns_;  // touched by the accept thread only, joined after it
};

// Points the archive entry of `uid` at other bytes, as a sync that accepted a wrong body would
// have left it: the content is stored properly (it re-hashes), the entry records its length.
void replace_archived(const prune_bed& b, std::uint32_t uid, const std::string& bytes) {
    std::int64_t content_id = 0;
    {
        mv::archive::archive a(b.env->archive_path());
        mv::archive::transaction tx(a);
        content_id = a.put_content(bytes).content_id;
        tx.commit();
    }
    sql_exec(b.env->archive_path(),
             "UPDATE entries SET content_id = " + std::to_string(content_id) + ", size = " +
                 std::to_string(bytes.size()) + " WHERE uid = " + std::to_string(uid));
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

TEST_CASE("prune: older-than removes exactly the older messages, the archive keeps them") {
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
    sql_exec(b.env->archive_path(),
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

TEST_CASE("prune: without UIDPLUS it refuses by default, --trash moves instead") {
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

TEST_CASE("prune: plain EXPUNGE only when no other message is marked Deleted") {
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

TEST_CASE("hold: a legal hold blocks prune and purge, releasing it lets them run") {
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
        sql_exec(copy, q);
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

TEST_CASE("prune: an archived copy whose size disagrees with the server's is kept on the server") {
    // Break 3: a truncated body was archived as if complete (its entry records its own length, so
    // re-reading the archive alone finds nothing wrong); prune must ask the server.
    prune_bed b;
    const auto olds = b.unique_old();
    const std::uint32_t truncated = olds[0], other_header = olds[1];
    const std::string full = crlf(b.original.at(truncated));
    replace_archived(b, truncated, full.substr(0, full.size() - 7));
    // Same length, one header byte different: another message under this UID.
    std::string changed = crlf(b.original.at(other_header));
    const auto at = changed.find("Subject:");
    REQUIRE(at != std::string::npos);
    changed[at + 9] = changed[at + 9] == 'X' ? 'Y' : 'X';
    replace_archived(b, other_header, changed);

    auto r = b.run({"prune", "--older-than", "30d", "--execute"});
    CHECK(r.status == 9);
    CHECK(r.output.find("kept UID " + std::to_string(truncated) + ": archived copy has " +
                        std::to_string(full.size() - 7) +
                        " bytes, the server reports "
                        "RFC822.SIZE " +
                        std::to_string(full.size())) != std::string::npos);
    CHECK(r.output.find("kept UID " + std::to_string(other_header) +
                        ": archived header block differs") != std::string::npos);
    CHECK(r.errors.find("NOT deleting UID " + std::to_string(truncated)) != std::string::npos);
    auto left = b.server_uids();
    CHECK(left.count(truncated) == 1);
    CHECK(left.count(other_header) == 1);
    for (auto uid : b.old_uids)
        if (uid != truncated && uid != other_header) CHECK(left.count(uid) == 0);
    std::set<std::uint32_t> audited;
    for (auto& row : b.audit("prune_delete"))
        audited.insert(row.at("payload").at("uid").get<std::uint32_t>());
    CHECK(audited.count(truncated) == 0);
    CHECK(audited.count(other_header) == 0);

    // JSON names the kind of each refusal.
    auto j = b.prune_json({"--older-than", "30d", "--execute"}, 9);
    std::map<std::uint32_t, std::string> kinds;
    const auto jf = inbox_report(j);
    for (auto& x : jf.at("refused"))
        kinds[x.at("uid").get<std::uint32_t>()] = x.at("kind").get<std::string>();
    CHECK(kinds[truncated] == "size-mismatch");
    CHECK(kinds[other_header] == "header-mismatch");
}

TEST_CASE("prune: Dovecot's RFC822.SIZE equals the archived byte count of every message") {
    // The measurement behind archived_size_agrees(): no allowance is needed for Dovecot.
    prune_bed b;
    auto j = b.prune_json({"--older-than", "30d", "--execute"}, 0);
    CHECK(inbox_report(j).at("refused").empty());
    auto rows = b.audit("prune_delete");
    REQUIRE(rows.size() == b.old_uids.size());
    for (auto& row : rows) {
        const auto& p = row.at("payload");
        CHECK(p.at("server_size") == p.at("size"));
        CHECK(p.at("size").get<std::size_t>() ==
              crlf(b.original.at(p.at("uid").get<std::uint32_t>())).size());
    }
}

TEST_CASE("prune: each rule's trash_folder applies to the messages that rule selects") {
    temp_dir seed{"mailvault-seed"};
    auto files = corpus_messages("mikel-mail/emails/plain_emails");
    REQUIRE(files.size() >= 8);
    std::vector<std::string> inbox(files.begin(), files.begin() + 3);
    std::vector<std::string> work(files.begin() + 3, files.begin() + 6);
    seed_folder(seed, "INBOX", inbox);
    seed_folder(seed, "Work", work);
    testbed_options o;
    o.users = {{"alice", "alice", seed.path().string()}};
    testbed tb(o);
    tb.mkdir("alice", "Trash");
    sync_env env(tb, MV_CLI_PATH);
    // The old code applied the trash_folder of the last rule that had one to every rule, so
    // Work's messages (a rule without trash) were moved to Trash too.
    env.write_config({{"alice", "alice", "alice", "imap", "starttls", ""}},
                     "[[prune_rule]]\nfolders = [\"INBOX\"]\nolder_than = \"30d\"\n"
                     "trash_folder = \"Trash\"\n\n[[prune_rule]]\nfolders = [\"Work\"]\n"
                     "older_than = \"30d\"\n");
    env.sync();
    const auto inbox_before = tb.messages("alice", "INBOX");
    const auto work_before = tb.messages("alice", "Work");
    REQUIRE(inbox_before.size() == 3);
    REQUIRE(work_before.size() == 3);

    auto r = env.cli({"prune", "--execute", "--json"});
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    CHECK(tb.messages("alice", "INBOX").empty());
    CHECK(tb.messages("alice", "Work").empty());
    std::multiset<std::string> in_trash, expected;
    for (auto& [uid, m] : tb.messages("alice", "Trash")) in_trash.insert(m);
    for (auto& [uid, m] : inbox_before) expected.insert(m);
    CHECK(in_trash == expected);  // INBOX's moved, Work's expunged (not moved)
    auto j = nlohmann::json::parse(r.output);
    std::map<std::string, std::string> method;
    for (auto& f : j.at("accounts").at(0).at("folders"))
        method[f.at("name").get<std::string>()] = f.at("method").get<std::string>();
    CHECK(method["INBOX"] == "move");
    CHECK(method["Work"] == "uid-expunge");
}

TEST_CASE("prune: a failed undo of our Deleted is audited and fails the folder loudly") {
    // Without UIDPLUS, with --allow-plain-expunge: another client marks a message \Deleted
    // between our UID STORE and the EXPUNGE (the proxy does it through doveadm just before our
    // STORE goes on), so ours must be unmarked again -- and that UID STORE -FLAGS fails.
    prune_bed b;
    b.tb->restart({"UIDPLUS"});
    const std::uint32_t other = *b.new_uids.begin();
    std::atomic<int> marked{0}, refused{0};
    hook_proxy proxy(b.tb->imap_port(), [&](const std::string& line) -> std::optional<std::string> {
        const auto sp = line.find(' ');
        const std::string tag = line.substr(0, sp);
        if (line.find("UID STORE") == std::string::npos) return std::nullopt;
        if (line.find("+FLAGS") != std::string::npos && marked++ == 0)
            b.tb->flags("alice", "INBOX", other, "add", {"\\Deleted"});
        if (line.find("-FLAGS") != std::string::npos) {
            ++refused;
            return tag + " NO [SERVERBUG] injected: flags cannot be changed now\r\n";
        }
        return std::nullopt;
    });
    account_spec acct{"alice", "alice", "alice-pw", "imap", "plain", ""};
    acct.port = proxy.port();
    b.env->write_config({acct});

    auto r = b.run({"prune", "--older-than", "30d", "--execute", "--allow-plain-expunge"});
    CHECK(marked == 1);
    CHECK(refused == 1);
    CHECK(r.status != 0);
    CHECK(r.output.find("still marked \\Deleted on the server") != std::string::npos);
    CHECK(b.server_uids().size() == b.original.size());  // nothing expunged
    auto rows = b.audit("prune_undo_failed");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].at("payload").at("uids") == uid_list(b.old_uids));
    CHECK(rows[0].at("payload").at("error").get<std::string>().find("injected") !=
          std::string::npos);
    CHECK(b.audit("prune_cancelled").empty());  // not cancelled: our flags are still there
}

TEST_CASE("prune: --query narrows the rule's selection to the messages the search matches") {
    prune_bed b;
    // Three new messages; two carry a word no corpus message has.
    auto write = [&](const std::string& name, const std::string& subject) {
        const auto p = b.seed.path() / name;
        std::ofstream(p, std::ios::binary)
            << "From: Billing <billing@example.com>\r\nTo: alice@example.org\r\nSubject: "
            << subject << "\r\nMessage-ID: <" << name
            << "@example.com>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\nHello.\r\n";
        return p.string();
    };
    std::set<std::uint32_t> wanted;
    wanted.insert(b.tb->add("alice", "INBOX", write("q1.eml", "Quarterly quuxinvoice 1")));
    wanted.insert(b.tb->add("alice", "INBOX", write("q2.eml", "Your quuxinvoice, again")));
    const auto other = b.tb->add("alice", "INBOX", write("q3.eml", "Not an invoice"));
    b.env->sync();
    const auto before = b.server_uids();
    REQUIRE(before.count(other));

    // Dry run: only the two matches among everything the rule (every message) selects.
    auto plan = b.prune_json({"--larger-than", "1", "--query", "quuxinvoice"}, 0);
    CHECK(plan.at("query") == "quuxinvoice");
    CHECK(plan.at("query_matches") == 2);
    CHECK(inbox_report(plan).at("planned_uids") == uid_list(wanted));
    CHECK(b.server_uids() == before);
    // The query narrows the rule: with one that selects only old mail, nothing matches both.
    auto none = b.prune_json({"--older-than", "30d", "--query", "quuxinvoice"}, 0);
    CHECK(inbox_report(none).at("planned") == 0);

    auto done = b.prune_json({"--larger-than", "1", "--query", "quuxinvoice", "--execute"}, 0);
    CHECK(inbox_report(done).at("deleted_uids") == uid_list(wanted));
    std::set<std::uint32_t> left = before;
    for (auto u : wanted) left.erase(u);
    CHECK(b.server_uids() == left);
    auto rows = b.audit("prune_delete");
    REQUIRE(rows.size() == 2);
    for (auto& r : rows) {
        CHECK(r.at("payload").at("query") == "quuxinvoice");
        CHECK(wanted.count(r.at("payload").at("uid").get<std::uint32_t>()));
    }

    // A query is not a rule on its own, and a bad one is a usage error naming it.
    auto alone = b.run({"prune", "--query", "quuxinvoice"});
    CHECK(alone.status == 2);
    auto bad = b.run({"prune", "--larger-than", "1", "--query", "\"unclosed"});
    CHECK(bad.status == 2);
    CHECK(bad.errors.find("search") != std::string::npos);
    CHECK(b.server_uids() == left);
}

TEST_CASE("prune: a --query on flags is asked again after prune's sync") {
    // The set is taken before the run; a message whose flags changed on the server since (read
    // -> unread) no longer matches `flag:seen` when prune has synced, and stays.
    prune_bed b;
    auto write = [&](const std::string& name) {
        const auto p = b.seed.path() / name;
        std::ofstream(p, std::ios::binary)
            << "From: a@example.com\r\nTo: alice@example.org\r\nSubject: quuxseen " << name
            << "\r\nMessage-ID: <" << name << "@example.com>\r\n\r\nHello.\r\n";
        return p.string();
    };
    const auto read1 = b.tb->add("alice", "INBOX", write("seen1.eml"), "\\Seen");
    const auto read2 = b.tb->add("alice", "INBOX", write("seen2.eml"), "\\Seen");
    b.env->sync();
    auto plan = b.prune_json({"--larger-than", "1", "--query", "flag:seen quuxseen"}, 0);
    CHECK(inbox_report(plan).at("planned_uids") == uid_list({read1, read2}));
    // Marked unread on the server after the dry run (and after the last sync).
    b.tb->flags("alice", "INBOX", read2, "remove", {"\\Seen"});
    auto r = b.run({"prune", "--larger-than", "1", "--query", "flag:seen quuxseen", "--execute"});
    INFO(r.output + r.errors);
    CHECK(r.status == 0);
    CHECK(r.errors.find("UID " + std::to_string(read2) +
                        " in 'INBOX' no longer matches --query after the sync: kept") !=
          std::string::npos);
    const auto left = b.server_uids();
    CHECK(left.count(read1) == 0);
    CHECK(left.count(read2) == 1);
}

TEST_CASE("hold: --query holds the messages it matched then, against prune and purge") {
    prune_bed b;
    auto write = [&](const std::string& name, const std::string& subject) {
        const auto p = b.seed.path() / name;
        std::ofstream(p, std::ios::binary)
            << "From: Billing <billing@example.com>\r\nTo: alice@example.org\r\nSubject: "
            << subject << "\r\nMessage-ID: <" << name << "@example.com>\r\n\r\nHello.\r\n";
        return p.string();
    };
    std::set<std::uint32_t> held;
    held.insert(b.tb->add("alice", "INBOX", write("h1.eml", "Quarterly quuxinvoice 1")));
    held.insert(b.tb->add("alice", "INBOX", write("h2.eml", "Your quuxinvoice, again")));
    b.env->sync();
    auto add = b.run({"hold", "add", "--query", "quuxinvoice", "--reason", "case 18"});
    REQUIRE(add.status == 0);
    CHECK(add.output.find("hold q1 added on the 2 messages matching 'quuxinvoice'") !=
          std::string::npos);
    // Mail that matches later is not held: the hold is the set matched when it was added.
    b.tb->add("alice", "INBOX", write("h3.eml", "Late quuxinvoice"));
    b.env->sync();
    auto list = b.run({"hold", "list"});
    CHECK(list.output.find("q1  query 'quuxinvoice' (2 messages)") != std::string::npos);
    auto search = b.run({"search", "--count", "held:yes"});
    CHECK(search.output == "2\n");

    // Prune with a rule selecting every message: only the held two stay on the server.
    auto pr = b.run({"prune", "--larger-than", "1", "--execute"});
    CHECK(pr.status == 0);
    CHECK(b.server_uids() == held);
    CHECK(pr.errors.find("is under a hold by query: kept") != std::string::npos);

    // Expunged by someone else: purge keeps the held entries, deletes the others.
    b.tb->expunge("alice", "INBOX", std::vector<std::uint32_t>(held.begin(), held.end()));
    b.env->sync();
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto p = b.run({"purge", "--older-than", "1s", "--execute", "--json"});
    REQUIRE(p.status == 0);
    auto pj = nlohmann::json::parse(p.output);
    CHECK(pj.at("held") == 2);
    CHECK(pj.at("entries_deleted").get<int>() > 0);
    {
        auto a = b.env->open_archive();
        for (auto uid : held) CHECK(a->find_entry("alice", "INBOX", uid));
    }

    CHECK(b.run({"hold", "release", "q1", "--reason", "case closed"}).status == 0);
    CHECK(b.run({"hold", "release", "q1", "--reason", "again"}).status == 2);
    CHECK(b.run({"hold", "release", "q9", "--reason", "none"}).status == 2);
    auto p2 = b.run({"purge", "--older-than", "1s", "--execute", "--json"});
    REQUIRE(p2.status == 0);
    CHECK(nlohmann::json::parse(p2.output).at("entries_deleted") == 2);

    auto rows = b.audit("hold_add");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].at("payload").at("query") == "quuxinvoice");
    CHECK(rows[0].at("payload").at("matched") == 2);
    CHECK(rows[0].at("payload").at("hold_id") == "q1");
    REQUIRE(b.audit("hold_release").size() == 1);
    CHECK(b.run({"audit", "verify"}).status == 0);
    // --query and --account do not combine; a query is required to be non-empty.
    CHECK(b.run({"hold", "add", "--query", "x", "--account", "alice", "--reason", "r"}).status ==
          2);
    CHECK(b.run({"hold", "add", "--query", " ", "--reason", "r"}).status == 2);
}
