// pop3::client over the real network runner against Dovecot's POP3 (issue #6): STLS and POP3S,
// CAPA, USER/PASS and AUTH PLAIN, STAT, LIST, UIDL, TOP, RETR of every message compared with the
// Maildir files, and pipelined RETRs.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "harness/sync_env.hpp"
#include "harness/testbed.hpp"
#include "mailvault/net.hpp"
#include "pop3/client.hpp"

using namespace mv;
using mv::test::crlf;
using mv::test::temp_dir;
using mv::test::testbed;

namespace {

struct bed {
    temp_dir seed{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    bed() {
        mv::test::seed_folder(seed, "INBOX",
                              mv::test::corpus_messages("mikel-mail/emails/plain_emails"));
        mv::test::seed_folder(seed, "INBOX",
                              mv::test::corpus_messages("mailkit/imap/common/message.2"));
        mv::test::testbed_options o;
        o.users = {{"carol", "carol-pw", seed.path().string()}};
        tb = std::make_unique<testbed>(o);
    }
};

bed& shared_bed() {
    static bed b;
    return b;
}

// What Dovecot's RETR returns for a Maildir file: CRLF line ends, and a final line end added to
// a message that has none.
std::string served(const std::string& file) {
    std::string s = crlf(file);
    if (s.size() < 2 || s.compare(s.size() - 2, 2, "\r\n") != 0) s += "\r\n";
    return s;
}

struct collecting_sink : pop3::message_sink {
    struct msg {
        std::uint32_t msgno = 0;
        std::string data;
        bool ended = false, aborted = false;
    };
    std::vector<msg> msgs;
    void begin(std::uint32_t n) override { msgs.push_back({n, {}, false, false}); }
    void data(std::string_view b) override { msgs.back().data.append(b); }
    void end() override { msgs.back().ended = true; }
    void abort() override { msgs.back().aborted = true; }
};

struct session {
    std::unique_ptr<net::connection> conn;
    std::unique_ptr<pop3::client> c;
};

session open_session(const testbed& tb, net::tls_mode mode, bool sasl) {
    session s;
    net::endpoint ep;
    ep.host = "127.0.0.1";
    ep.port = mode == net::tls_mode::implicit ? tb.pop3s_port() : tb.pop3_port();
    ep.tls = mode;
    ep.tls_opts.ca_file = tb.ca_file();
    ep.timeout = std::chrono::milliseconds(10000);
    mv::error err;
    s.conn = net::connection::open(ep, err);
    INFO(err.message);
    REQUIRE(s.conn);
    s.c = std::make_unique<pop3::client>(*s.conn);
    auto& c = *s.c;
    REQUIRE(c.greeting().ok());
    auto e = c.capa();
    INFO(e.message);
    REQUIRE(e.ok());
    CHECK(c.caps().advertised);
    CHECK(c.caps().uidl);
    CHECK(c.caps().top);
    if (mode == net::tls_mode::starttls) {
        REQUIRE(c.caps().stls);
        e = c.stls();
        INFO(e.message);
        REQUIRE(e.ok());
        REQUIRE(c.capa().ok());  // RFC 2595: capabilities may change after STLS
        CHECK_FALSE(c.caps().stls);
    }
    CHECK(s.conn->tls_active());
    e = sasl ? c.auth_plain("carol", "carol-pw") : c.login_user("carol", "carol-pw");
    INFO(e.message);
    REQUIRE(e.ok());
    return s;
}

std::string hex8(std::uint32_t v) {
    char b[9];
    std::snprintf(b, sizeof b, "%08x", v);
    return b;
}

}  // namespace

TEST_CASE("pop3 over the runner: STLS and POP3S retrieve every message byte-exact",
          "[integration][pop3]") {
    auto& b = shared_bed();
    for (auto [mode, sasl] :
         {std::pair{net::tls_mode::starttls, false}, std::pair{net::tls_mode::implicit, true}}) {
        INFO((mode == net::tls_mode::starttls ? "STLS USER/PASS" : "POP3S AUTH PLAIN"));
        auto s = open_session(*b.tb, mode, sasl);
        auto& c = *s.c;

        pop3::stat_result st;
        REQUIRE(c.stat(st).ok());
        // Dovecot has written its uidlist by now: the Maildir files in UID order are messages
        // 1..n of this POP3 session.
        auto files = b.tb->messages("carol", "INBOX");
        REQUIRE(st.count == files.size());
        REQUIRE(st.count > 2);
        std::vector<std::string> expect;
        std::vector<std::uint64_t> sizes;  // Dovecot's sizes do not count the CRLF it appends
        std::vector<std::uint32_t> uids;
        for (const auto& [uid, content] : files) {
            expect.push_back(served(content));
            sizes.push_back(crlf(content).size());
            uids.push_back(uid);
        }
        CHECK(st.size == std::accumulate(sizes.begin(), sizes.end(), std::uint64_t{0}));

        std::vector<pop3::list_entry> list;
        REQUIRE(c.list(list).ok());
        REQUIRE(list.size() == expect.size());
        for (std::size_t i = 0; i < list.size(); ++i) {
            CHECK(list[i].msgno == i + 1);
            CHECK(list[i].size == sizes[i]);
        }
        pop3::list_entry one;
        REQUIRE(c.list(2, one).ok());
        CHECK(one.size == sizes[1]);

        std::vector<pop3::uidl_entry> uidl;
        REQUIRE(c.uidl(uidl).ok());
        REQUIRE(uidl.size() == expect.size());
        const std::string validity = hex8(b.tb->uidvalidity("carol", "INBOX"));
        for (std::size_t i = 0; i < uidl.size(); ++i) {
            CHECK(uidl[i].msgno == i + 1);
            CHECK(uidl[i].uid ==
                  hex8(uids[i]) +
                      validity);  // pop3_uidl_format = %08Xu%08Xv (Dovecot prints hex lowercase)
        }

        // TOP n 0: the header block and the empty line after it.
        collecting_sink top;
        REQUIRE(c.top(1, 0, top).ok());
        REQUIRE(top.msgs.size() == 1);
        CHECK(top.msgs[0].ended);
        const auto hdr_end = expect[0].find("\r\n\r\n");
        REQUIRE(hdr_end != std::string::npos);
        CHECK(top.msgs[0].data == expect[0].substr(0, hdr_end + 4));

        // RETR one at a time.
        for (std::uint32_t n = 1; n <= st.count; ++n) {
            INFO("message " << n);
            collecting_sink one_msg;
            auto e = c.retr(n, one_msg);
            INFO(e.message);
            REQUIRE(e.ok());
            REQUIRE(one_msg.msgs.size() == 1);
            CHECK(one_msg.msgs[0].msgno == n);
            CHECK(one_msg.msgs[0].ended);
            CHECK(one_msg.msgs[0].data == expect[n - 1]);
        }

        // And all of them pipelined, in order.
        std::vector<std::uint32_t> all(st.count);
        std::iota(all.begin(), all.end(), 1u);
        collecting_sink many;
        const auto wire_before = s.conn->counters().bytes_written;
        auto e = c.retr_many(all, many);
        INFO(e.message);
        REQUIRE(e.ok());
        CHECK(c.caps().pipelining);
        REQUIRE(many.msgs.size() == all.size());
        for (std::size_t i = 0; i < all.size(); ++i) {
            CHECK(many.msgs[i].msgno == i + 1);
            CHECK(many.msgs[i].ended);
            CHECK_FALSE(many.msgs[i].aborted);
            CHECK(many.msgs[i].data == expect[i]);
        }
        CHECK(s.conn->counters().bytes_written > wire_before);

        // A message number that does not exist is a per-command -ERR: the session goes on.
        collecting_sink none;
        CHECK(c.retr(st.count + 1, none).code == errc::server_no);
        CHECK(c.usable());
        CHECK(c.noop().ok());
        CHECK(c.quit().ok());
    }
    // QUIT without DELE removed nothing.
    CHECK(b.tb->messages("carol", "INBOX").size() > 2);
}

TEST_CASE("pop3 over the runner: wrong password is errc::auth without the password",
          "[integration][pop3]") {
    auto& b = shared_bed();
    net::endpoint ep;
    ep.host = "127.0.0.1";
    ep.port = b.tb->pop3s_port();
    ep.tls = net::tls_mode::implicit;
    ep.tls_opts.ca_file = b.tb->ca_file();
    ep.timeout = std::chrono::milliseconds(10000);
    mv::error err;
    auto conn = net::connection::open(ep, err);
    REQUIRE(conn);
    pop3::client c(*conn);
    REQUIRE(c.greeting().ok());
    const std::string wrong = "n0t-carols-Password";
    auto e = c.login_user("carol", wrong);
    INFO(e.message);
    CHECK(e.code == errc::auth);
    CHECK(e.message.find(wrong) == std::string::npos);
}
