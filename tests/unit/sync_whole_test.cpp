// Whole IMAP account syncs over an in-memory server (fake_imap_transport.hpp), through the
// session factory seam of sync_options: a connection failure injected at every I/O action of the
// run, answers in reverse order, and after each run the invariants: no archived-range hole, and a
// clean rerun mirrors the server exactly (issue #11).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>

#include "archive/archive.hpp"
#include "fake_imap_transport.hpp"
#include "harness/testbed.hpp"
#include "sync/imap_sync.hpp"

using namespace mv;
using mv::test::fake_imap_transport;
using mv::test::fake_imap_world;
using mv::test::temp_dir;

namespace {

config::account fake_account() {
    ::setenv("MV_FAKE_IMAP_PASSWORD", "secret", 1);
    config::account a;
    a.name = "fake";
    a.host = "fake.invalid";
    a.user = "u";
    a.password.kind = config::password_kind::env;
    a.password.value = "MV_FAKE_IMAP_PASSWORD";
    a.connections = 1;
    return a;
}

sync::imap_session open_fake(fake_imap_world& w, const config::account& acct,
                             const std::string& password) {
    sync::imap_session s;
    s.transport = std::make_unique<fake_imap_transport>(w);
    s.client = std::make_unique<imap::client>(*s.transport);
    auto& c = *s.client;
    auto raise = [&](const mv::error& e) {
        if (e) throw mv::failure(e.code, acct.name + ": " + e.message);
    };
    raise(c.greeting());
    raise(c.login(acct.user, password));
    if (w.qresync) {
        raise(c.enable({"QRESYNC", "CONDSTORE"}));
        s.qresync = c.state().is_enabled("QRESYNC");
        s.condstore = true;
    }
    return s;
}

fake_imap_world make_world() {
    fake_imap_world w;
    for (int i = 1; i <= 15; ++i)
        w.add("INBOX",
              "Subject: m" + std::to_string(i) + "\r\n\r\nbody " + std::to_string(i) +
                  std::string(static_cast<std::size_t>(i) * 37, 'x') + "\r\n",
              i % 3 ? "\\Seen" : "");
    for (int i = 1; i <= 6; ++i)
        w.add("Sent", "Subject: s" + std::to_string(i) + "\r\n\r\nsent\r\n");
    w.folders["INBOX"].uidvalidity = 77;
    return w;
}

// Every UID at or below a folder's watermark that the server has is archived live.
std::size_t holes(archive::archive& a, const fake_imap_world& w) {
    std::size_t n = 0;
    auto acct = a.find_account("fake");
    if (!acct) return 0;
    for (const auto& [name, f] : w.folders) {
        auto ms = a.find_mailbox(*acct, name);
        if (!ms || !ms->last_uid) continue;
        auto live = a.live_uids(ms->id);
        std::set<std::uint32_t> have(live.begin(), live.end());
        for (const auto& m : f.messages)
            if (m.uid <= *ms->last_uid && !have.count(m.uid)) ++n;
    }
    return n;
}

// The archive holds every message of every folder, byte-exact under its UID.
void check_complete(archive::archive& a, const fake_imap_world& w) {
    auto acct = a.find_account("fake");
    REQUIRE(acct);
    for (const auto& [name, f] : w.folders) {
        auto ms = a.find_mailbox(*acct, name);
        REQUIRE(ms);
        auto live = a.live_uids(ms->id);
        CHECK(live.size() == f.messages.size());
        for (const auto& m : f.messages) {
            auto e = a.find_entry("fake", name, m.uid);
            REQUIRE(e);
            std::string got;
            CHECK(!a.read_content(e->content, got));
            CHECK(got == m.body);
        }
    }
}

archive::options create_opts() {
    archive::options o;
    o.create = true;
    o.defer_index = true;
    return o;
}

sync::account_report run_sync(fake_imap_world& w, archive::archive& a) {
    static const auto acct = fake_account();
    sync::shared_archive sa(a);
    sync::sync_options o;
    o.batch_messages = 4;
    o.fetch_chunk = 5;
    o.max_reconnects = 2;
    o.reconnect_backoff_ms = 0;
    o.open_session = [&w](const config::account& ac, const std::string& pw) {
        return open_fake(w, ac, pw);
    };
    return sync::sync_imap_account(acct, sa, o);
}

}  // namespace

TEST_CASE("whole sync: a connection failure at every I/O action never leaves a gap", "[sync]") {
    for (int variant = 0; variant < 4; ++variant) {
        const bool reverse = variant & 1, qresync = variant & 2;
        std::size_t clean_actions = 0;
        {
            auto w = make_world();
            w.reverse_fetch = reverse;
            w.qresync = qresync;
            temp_dir t;
            archive::archive a(t.path() / "a.mvault", create_opts());
            auto rep = run_sync(w, a);
            INFO(rep.err.message);
            REQUIRE(!rep.err);
            check_complete(a, w);
            clean_actions = w.actions;
        }
        INFO("a clean run takes " << clean_actions << " I/O actions");
        REQUIRE(clean_actions > 50);
        for (std::size_t n = 0; n < clean_actions; ++n) {
            auto w = make_world();
            w.reverse_fetch = reverse;
            w.qresync = qresync;
            w.fail_at = n;
            temp_dir t;
            archive::archive a(t.path() / "a.mvault", create_opts());
            auto rep = run_sync(w, a);
            INFO("reverse " << reverse << ", qresync " << qresync << ", failure at action " << n
                            << ": " << rep.err.message);
            REQUIRE(w.failed);
            CHECK(holes(a, w) == 0);
            // Reconnected and completed, or failed (a failure before the first session) --
            // never "success" with something missing.
            if (!rep.err) {
                bool folder_err = false;
                for (const auto& f : rep.folders) folder_err = folder_err || bool(f.err);
                if (!folder_err) check_complete(a, w);
            }
            w.fail_at = static_cast<std::size_t>(-1);
            auto again = run_sync(w, a);
            INFO("rerun: " << again.err.message);
            REQUIRE(!again.err);
            check_complete(a, w);
        }
    }
}

TEST_CASE(
    "whole sync: a message the server hid and shows again below the watermark is "
    "archived by the next run",
    "[sync]") {
    for (bool qresync : {false, true}) {
        INFO("qresync " << qresync);
        auto w = make_world();
        w.qresync = qresync;
        temp_dir t;
        archive::archive a(t.path() / "a.mvault", create_opts());
        auto& inbox = w.folders["INBOX"].messages;
        auto hidden = inbox[6];
        REQUIRE(hidden.uid == 7);
        inbox.erase(inbox.begin() + 6);
        auto rep = run_sync(w, a);
        REQUIRE(!rep.err);
        check_complete(a, w);  // UID 7 is not on the server: absent, not a hole
        inbox.insert(inbox.begin() + 6, hidden);
        auto again = run_sync(w, a);
        INFO(again.err.message);
        REQUIRE(!again.err);
        check_complete(a, w);
        CHECK(holes(a, w) == 0);
    }
}

TEST_CASE(
    "whole sync: lying FETCH answers are never archived as the message, the folder fails "
    "loudly, and an honest server later completes it",
    "[sync]") {
    using lie = fake_imap_world::lie;
    for (auto how : {lie::partial, lie::header_only, lie::truncated, lie::other_uid}) {
        for (bool qresync : {false, true}) {
            auto w = make_world();
            w.qresync = qresync;
            w.folders["INBOX"].lies[5] = how;
            temp_dir t;
            archive::archive a(t.path() / "a.mvault", create_opts());
            auto rep = run_sync(w, a);
            INFO("lie " << static_cast<int>(how) << ", qresync " << qresync);
            const sync::folder_report* inbox = nullptr;
            for (const auto& f : rep.folders)
                if (f.name == "INBOX") inbox = &f;
            REQUIRE(inbox);
            INFO(inbox->err.message);
            CHECK(inbox->err);  // the run does not claim success
            CHECK(inbox->err.message.find("UID 5") != std::string::npos);
            CHECK(!a.find_entry("fake", "INBOX", 5));     // not archived as UID 5
            CHECK(!a.find_entry("fake", "INBOX", 1005));  // nor under a UID not asked for
            CHECK(holes(a, w) == 0);                      // the watermark stays below UID 5
            auto acct = a.find_account("fake");
            auto ms = a.find_mailbox(*acct, "INBOX");
            REQUIRE(ms);
            CHECK(ms->last_uid.value_or(0) < 5);
            // Sent is unaffected.
            for (const auto& f : rep.folders)
                if (f.name == "Sent") CHECK(!f.err);
            // The server stops lying: the next run completes the folder.
            w.folders["INBOX"].lies.clear();
            auto again = run_sync(w, a);
            REQUIRE(!again.err);
            for (const auto& f : again.folders) CHECK(!f.err);
            check_complete(a, w);
        }
    }
}

TEST_CASE("whole sync: two different bodies for one UID are both kept and the folder fails",
          "[sync]") {
    auto w = make_world();
    w.folders["INBOX"].lies[3] = fake_imap_world::lie::duplicate;
    temp_dir t;
    archive::archive a(t.path() / "a.mvault", create_opts());
    auto rep = run_sync(w, a);
    bool failed = false;
    for (const auto& f : rep.folders)
        if (f.name == "INBOX") {
            failed = bool(f.err);
            INFO(f.err.message);
            CHECK(f.err.message.find("different body") != std::string::npos);
        }
    CHECK(failed);
    // Both bodies are in the archive's contents: nothing the server sent is lost.
    auto e = a.find_entry("fake", "INBOX", 3);
    REQUIRE(e);
    CHECK(a.totals().contents >= 22);  // 21 distinct messages + the second body
}

TEST_CASE("whole sync: a NO to UID FETCH skips that folder only", "[sync]") {
    auto w = make_world();
    w.folders["Sent"].refuse_fetch = true;
    temp_dir t;
    archive::archive a(t.path() / "a.mvault", create_opts());
    auto rep = run_sync(w, a);
    CHECK(!rep.err);  // not an account failure
    for (const auto& f : rep.folders) {
        INFO(f.name << ": " << f.err.message);
        if (f.name == "Sent") {
            CHECK(f.err.code == errc::server_no);
        } else {
            CHECK(!f.err);
            CHECK(f.new_messages == 15);
        }
    }
    w.folders["Sent"].refuse_fetch = false;
    REQUIRE(!run_sync(w, a).err);
    check_complete(a, w);
}
