// Proves the test bed: a real Dovecot on loopback speaks IMAP, IMAP+STARTTLS, IMAPS, POP3+STLS
// and POP3S with certificate verification on, and the runner refuses certificates it should not
// trust (unknown CA, wrong name, wrong pin). Also the Dovecot variant with namespace prefix
// "INBOX." and separator "." (issue 12). The Cyrus test bed is proved in cyrus_test.cpp.
#include <catch2/catch.hpp>

#include "harness/line_op.hpp"
#include "harness/sync_env.hpp"
#include "harness/testbed.hpp"
#include "harness/tls_checks.hpp"
#include "mailvault/net.hpp"

using namespace mv;
using mv::test::check_imap_tls;
using mv::test::line_op;
using mv::test::tb_endpoint;
using mv::test::testbed;

namespace {

net::endpoint ep(std::uint16_t port, net::tls_mode mode, const std::string& ca,
                 const std::string& host = "127.0.0.1") {
    return tb_endpoint(port, mode, ca, host);
}

}  // namespace

TEST_CASE("testbed: IMAP over plain TCP logs in and lists the seeded folders") {
    testbed tb;
    mv::error err;
    auto c = net::connection::open(ep(tb.imap_port(), net::tls_mode::plain, ""), err);
    REQUIRE_FALSE(err);
    line_op op({"a LOGIN alice alice-secret", "b LOGOUT"});
    REQUIRE_FALSE(c->run(op));
    REQUIRE(op.replies.size() == 3);
    CHECK(op.replies[0].rfind("* OK", 0) == 0);
    CHECK(op.replies[1].find("a OK") != std::string::npos);
    CHECK_FALSE(c->tls_active());
}

TEST_CASE("testbed: wrong password is refused by the server") {
    testbed tb;
    mv::error err;
    auto c = net::connection::open(ep(tb.imap_port(), net::tls_mode::plain, ""), err);
    REQUIRE_FALSE(err);
    line_op op({"a LOGIN alice wrong"});
    REQUIRE_FALSE(c->run(op));
    REQUIRE(op.replies.size() == 2);
    CHECK(op.replies[1].rfind("a NO", 0) == 0);
}

TEST_CASE("testbed: IMAP STARTTLS and IMAPS verify the server certificate") {
    testbed tb;
    check_imap_tls(tb, "LOGIN alice alice-secret");
    SECTION("a name the certificate does not list is refused as a hostname error") {
        mv::error err;
        // The same server at 127.0.0.1, asked for under a name its certificate does not list.
        auto e = ep(tb.imaps_port(), net::tls_mode::implicit, tb.ca_file(), "other.invalid");
        e.address = "127.0.0.1";
        auto c = net::connection::open(e, err);
        CHECK(c == nullptr);
        CHECK(err.code == errc::tls_hostname);
    }
    SECTION("a pinned fingerprint accepts the right certificate without a CA, refuses another") {
        auto e = ep(tb.imaps_port(), net::tls_mode::implicit, "");
        e.tls_opts.fingerprint =
            net::certificate_fingerprint_file((tb.dir() / "tls/server.crt").string());
        REQUIRE(e.tls_opts.fingerprint.size() == 64);
        mv::error err;
        auto c = net::connection::open(e, err);
        CHECK_FALSE(err);
        e.tls_opts.fingerprint = std::string(64, 'a');
        auto c2 = net::connection::open(e, err);
        CHECK(c2 == nullptr);
        CHECK(err.code == errc::tls_certificate);
        CHECK(err.message.find("pinned") != std::string::npos);
    }
    SECTION("without a CA file the system store does not trust the test CA") {
        mv::error err;
        auto c = net::connection::open(ep(tb.imaps_port(), net::tls_mode::implicit, ""), err);
        CHECK(c == nullptr);
        CHECK(err.code == errc::tls_certificate);
    }
}

TEST_CASE("testbed: POP3 STLS and POP3S verify the server certificate") {
    testbed tb;
    SECTION("STLS") {
        mv::error err;
        auto c =
            net::connection::open(ep(tb.pop3_port(), net::tls_mode::starttls, tb.ca_file()), err);
        REQUIRE_FALSE(err);
        line_op op({"STLS", "USER alice", "PASS alice-secret", "STAT", "QUIT"}, 0, "+OK");
        REQUIRE_FALSE(c->run(op));
        CHECK(c->tls_active());
        REQUIRE(op.replies.size() == 6);
        CHECK(op.replies[3].rfind("+OK", 0) == 0);
        CHECK(op.replies[4].rfind("+OK 0 0", 0) == 0);
    }
    SECTION("POP3S") {
        mv::error err;
        auto c =
            net::connection::open(ep(tb.pop3s_port(), net::tls_mode::implicit, tb.ca_file()), err);
        REQUIRE_FALSE(err);
        line_op op({"USER alice", "PASS alice-secret", "QUIT"});
        REQUIRE_FALSE(c->run(op));
        CHECK(op.replies[2].rfind("+OK", 0) == 0);
    }
    SECTION("POP3S with an untrusted CA") {
        mv::error err;
        auto c = net::connection::open(
            ep(tb.pop3s_port(), net::tls_mode::implicit, tb.other_ca_file()), err);
        CHECK(c == nullptr);
        CHECK(err.code == errc::tls_certificate);
    }
}

TEST_CASE("testbed: seeds messages byte-exact and changes state on request") {
    mv::test::temp_dir seed("mailvault-seed");
    std::filesystem::create_directories(seed / "Archive.2024");
    const std::string msg1 = "From: a@example.org\r\nSubject: one\r\n\r\nbody one\r\n";
    const std::string msg2 = "From: b@example.org\r\nSubject: two\r\n\r\nbody two\r\n";
    mv::test::write_file(seed / "m1.eml", msg1);
    mv::test::write_file(seed / "Archive.2024/m2.eml", msg2);
    mv::test::testbed_options o;
    o.users = {{"alice", "pw", seed.path().string()}};
    testbed tb(o);
    // Dovecot writes its uidlist on first access: log in and select to make it.
    mv::error err;
    auto c = net::connection::open(ep(tb.imap_port(), net::tls_mode::plain, ""), err);
    REQUIRE_FALSE(err);
    line_op op({"a LOGIN alice pw", "b SELECT INBOX", "c SELECT Archive/2024"});
    REQUIRE_FALSE(c->run(op));
    auto inbox = tb.messages("alice", "INBOX");
    REQUIRE(inbox.size() == 1);
    CHECK(inbox.begin()->second == msg1);
    auto arch = tb.messages("alice", "Archive/2024");
    REQUIRE(arch.size() == 1);
    CHECK(arch.begin()->second == msg2);

    auto uid = tb.add("alice", "INBOX", (seed / "m1.eml").string(), "\\Seen");
    CHECK(uid == 2);
    tb.expunge("alice", "INBOX", {1});
    CHECK(tb.messages("alice", "INBOX").size() == 1);
    tb.set_uidvalidity("alice", "INBOX", 4242);
    tb.restart({"UIDPLUS"});
    auto c2 = net::connection::open(ep(tb.imap_port(), net::tls_mode::plain, ""), err);
    REQUIRE_FALSE(err);
    line_op op2({"a LOGIN alice pw", "b STATUS INBOX (UIDVALIDITY)"});
    REQUIRE_FALSE(c2->run(op2));
    CHECK(op2.replies[1].find("UIDPLUS") == std::string::npos);
    CHECK(op2.replies[1].find("MOVE") != std::string::npos);
    CHECK(op2.replies[2].find("UIDVALIDITY 4242") != std::string::npos);
}

TEST_CASE("testbed: a Dovecot variant with namespace prefix INBOX. and separator . (issue 12)") {
    mv::test::temp_dir seed("mailvault-seed");
    std::filesystem::create_directories(seed / "Archive");
    std::filesystem::create_directories(seed / "Archive.2024");
    const std::string msg1 = "From: a@example.org\nSubject: one\n\nbody one\n";
    const std::string msg2 = "From: b@example.org\r\nSubject: two\r\n\r\nbody two\r\n";
    mv::test::write_file(seed / "m1.eml", msg1);
    mv::test::write_file(seed / "Archive.2024/m2.eml", msg2);
    testbed tb(mv::test::dovecot_inbox_prefix_options({{"alice", "pw", seed.path().string()}}));
    CHECK(tb.ns_prefix() == "INBOX.");
    CHECK(tb.separator() == '.');
    CHECK(tb.folder_name("Archive.2024") == "INBOX.Archive.2024");
    mv::error err;
    auto c = net::connection::open(ep(tb.imap_port(), net::tls_mode::plain, ""), err);
    REQUIRE_FALSE(err);
    line_op op({"a LOGIN alice pw", "b NAMESPACE", "c LOGOUT"});
    REQUIRE_FALSE(c->run(op));
    REQUIRE(op.replies.size() >= 3);
    CHECK(op.replies[2].find("((\"INBOX.\" \".\"))") != std::string::npos);
    CHECK(tb.folders("alice") ==
          std::vector<std::string>{"INBOX", "INBOX.Archive", "INBOX.Archive.2024"});
    // The Maildir (folder names mapped without the prefix) and IMAP agree.
    auto served = tb.served("alice", "INBOX.Archive.2024");
    auto files = tb.messages("alice", "INBOX.Archive.2024");
    REQUIRE(served.messages.size() == 1);
    REQUIRE(files.size() == 1);
    CHECK(served.messages.begin()->second.content == msg2);
    CHECK(files.begin()->second == msg2);
    CHECK(served.uidvalidity == tb.uidvalidity("alice", "INBOX.Archive.2024"));
    CHECK(tb.served("alice", "INBOX").messages.begin()->second.content == mv::test::crlf(msg1));
    CHECK(tb.add("alice", "INBOX.Archive", (seed / "m1.eml").string(), "\\Seen") == 1);
    CHECK(tb.served("alice", "INBOX.Archive").messages.at(1).flags ==
          std::vector<std::string>{"\\Seen"});

    // mailvault sync sees the prefixed tree and mirrors it.
    mv::test::sync_env env(tb, MV_CLI_PATH);
    env.write_config({{"alice", "alice", "pw", "imap", "starttls", ""}});
    env.sync();
    auto a = env.open_archive();
    CHECK(mv::test::check_mirror(*a, tb, "alice", "alice", "INBOX.Archive.2024") == 1);
    CHECK(mv::test::check_mirror_served(*a, tb, "alice", "alice", "INBOX.Archive") == 1);
    CHECK(mv::test::check_mirror(*a, tb, "alice", "alice", "INBOX") == 1);
}

TEST_CASE("testbed: the default Dovecot namespace stays prefix-less with separator /") {
    testbed tb;
    CHECK(tb.ns_prefix().empty());
    CHECK(tb.separator() == '/');
    CHECK(tb.folder_name("Archive.2024") == "Archive/2024");
    mv::error err;
    auto c = net::connection::open(ep(tb.imap_port(), net::tls_mode::plain, ""), err);
    REQUIRE_FALSE(err);
    line_op op({"a LOGIN alice alice-secret", "b NAMESPACE", "c LOGOUT"});
    REQUIRE_FALSE(c->run(op));
    REQUIRE(op.replies.size() >= 3);
    CHECK(op.replies[2].find("((\"\" \"/\"))") != std::string::npos);
}
