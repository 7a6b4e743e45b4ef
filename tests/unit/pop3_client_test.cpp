// Scripted tests of the POP3 operations through mv::pop3::client: every script is replayed with
// the reads split at every byte offset and with a failure injected in place of each step.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "pop3/client.hpp"
#include "pop3_scripted_transport.hpp"

using mv::errc;
using mv::pop3::client;
using mv::test::for_each_failure;
using mv::test::for_each_split;
using mv::test::pop3_scripted_transport;
using mv::test::recording_sink;

namespace {

using script_fn = std::function<void(pop3_scripted_transport&)>;
using run_fn = std::function<mv::error(client&, recording_sink&)>;
using verify_fn =
    std::function<void(const mv::error&, client&, recording_sink&, pop3_scripted_transport&)>;

// Replays at every split (verify each outcome), then with a failure at each step: the failure
// must surface as its own error (closed), sinks stay balanced, and the client refuses further use.
void replay(const script_fn& script, const run_fn& run, const verify_fn& verify,
            mv::pop3::limits lim = {}) {
    for_each_split(script, [&](pop3_scripted_transport& t) {
        INFO("split_at=" << t.split_at << " chunk=" << t.chunk);
        client c(t, lim);
        recording_sink sink;
        auto e = run(c, sink);
        CHECK(t.mismatch() == "");
        CHECK(sink.violation == "");
        verify(e, c, sink, t);
    });
    for_each_failure(script, [&](pop3_scripted_transport& t) {
        INFO("failure at step " << t.fail_step);
        client c(t, lim);
        recording_sink sink;
        auto e = run(c, sink);
        CHECK(t.mismatch() == "");
        CHECK(sink.violation == "");
        if (t.injected_failure()) {
            CHECK(e.code == errc::closed);
            CHECK(sink.balanced());
            CHECK_FALSE(c.usable());
            CHECK(c.noop().code == errc::closed);  // fails fast, writes nothing
        } else {
            verify(e, c, sink, t);
        }
    });
}

std::string dot_stuffed_reply(const std::string& message) {
    std::string out = "+OK message follows\r\n";
    bool line_start = true;
    for (char ch : message) {
        if (line_start && ch == '.') out += '.';
        out += ch;
        line_start = ch == '\n';
    }
    if (!message.empty() && !line_start) out += "\r\n";
    return out + ".\r\n";
}

const std::string msg1 =
    "From: a@example.com\r\nSubject: one\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n";
const std::string msg2 = "Subject: two\r\n\r\nshort";  // no final CRLF on the server
const std::string msg3 = "";

}  // namespace

TEST_CASE("pop3 client: a whole session", "[pop3][client]") {
    auto script = [](pop3_scripted_transport& t) {
        t.read("+OK POP3 server ready <1896.697170952@dbc.mycorp.com>\r\n")
            .expect_write("CAPA\r\n")
            .read("+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\n.\r\n")
            .expect_write("USER tim\r\n")
            .read("+OK\r\n")
            .expect_write("PASS s3cr3t\r\n")
            .read("+OK maildrop locked and ready\r\n")
            .expect_write("STAT\r\n")
            .read("+OK 3 120\r\n")
            .expect_write("LIST\r\n")
            .read("+OK 3 messages\r\n1 60\r\n2 30\r\n3 30\r\n.\r\n")
            .expect_write("UIDL\r\n")
            .read("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n3 x\r\n.\r\n")
            .expect_write("LIST 2\r\n")
            .read("+OK 2 30\r\n")
            .expect_write("UIDL 3\r\n")
            .read("+OK 3 x\r\n")
            .expect_write("RETR 1\r\n")
            .read(dot_stuffed_reply(msg1))
            .expect_write("TOP 2 0\r\n")
            .read("+OK\r\nSubject: two\r\n\r\n.\r\n")
            .expect_write("DELE 1\r\n")
            .read("+OK message 1 deleted\r\n")
            .expect_write("RSET\r\n")
            .read("+OK\r\n")
            .expect_write("NOOP\r\n")
            .read("+OK\r\n")
            .expect_write("QUIT\r\n")
            .read("+OK dewey POP3 server signing off\r\n");
    };
    struct results {
        mv::pop3::stat_result st;
        std::vector<mv::pop3::list_entry> list;
        std::vector<mv::pop3::uidl_entry> uidl;
        mv::pop3::list_entry l2;
        mv::pop3::uidl_entry u3;
    };
    auto r = std::make_shared<results>();
    auto run = [r](client& c, recording_sink& sink) -> mv::error {
        *r = results{};
        if (auto e = c.greeting()) return e;
        if (auto e = c.capa()) return e;
        if (auto e = c.login_user("tim", "s3cr3t")) return e;
        if (auto e = c.stat(r->st)) return e;
        if (auto e = c.list(r->list)) return e;
        if (auto e = c.uidl(r->uidl)) return e;
        if (auto e = c.list(2, r->l2)) return e;
        if (auto e = c.uidl(3, r->u3)) return e;
        if (auto e = c.retr(1, sink)) return e;
        if (auto e = c.top(2, 0, sink)) return e;
        if (auto e = c.dele(1)) return e;
        if (auto e = c.rset()) return e;
        if (auto e = c.noop()) return e;
        return c.quit();
    };
    replay(script, run,
           [r](const mv::error& e, client& c, recording_sink& sink, pop3_scripted_transport& t) {
               REQUIRE(e.message == "");
               CHECK(t.finished());
               CHECK(c.apop_timestamp() == "<1896.697170952@dbc.mycorp.com>");
               CHECK(c.caps().advertised);
               CHECK(c.caps().top);
               CHECK(c.caps().resp_codes);
               CHECK_FALSE(c.caps().pipelining);
               CHECK(r->st.count == 3);
               CHECK(r->st.size == 120);
               REQUIRE(r->list.size() == 3);
               CHECK(r->list[0].size == 60);
               CHECK(r->list[2].msgno == 3);
               REQUIRE(r->uidl.size() == 3);
               CHECK(r->uidl[1].uid == "QhdPYR:00WBw1Ph7x7");
               CHECK(r->l2.msgno == 2);
               CHECK(r->l2.size == 30);
               CHECK(r->u3.uid == "x");
               REQUIRE(sink.messages.size() == 2);
               CHECK(sink.messages[0].msgno == 1);
               CHECK(sink.messages[0].body == msg1);
               CHECK(sink.messages[0].ended);
               CHECK(sink.messages[1].body == "Subject: two\r\n\r\n");
               CHECK(c.last_status().text == "dewey POP3 server signing off");
           });
}

TEST_CASE("pop3 client: STLS upgrades, then CAPA again", "[pop3][client]") {
    auto script = [](pop3_scripted_transport& t) {
        t.read("+OK ready\r\n")
            .expect_write("CAPA\r\n")
            .read("+OK\r\nSTLS\r\nUSER\r\n.\r\n")
            .expect_write("STLS\r\n")
            .read("+OK Begin TLS negotiation\r\n")
            .expect_tls()
            .expect_write("CAPA\r\n")
            .read("+OK\r\nUSER\r\nSASL PLAIN\r\nPIPELINING\r\n.\r\n");
    };
    replay(
        script,
        [](client& c, recording_sink&) -> mv::error {
            if (auto e = c.greeting()) return e;
            if (auto e = c.capa()) return e;
            if (!c.caps().stls) return {errc::internal, "no STLS"};
            return c.stls();
        },
        [](const mv::error& e, client& c, recording_sink&, pop3_scripted_transport& t) {
            REQUIRE(e.message == "");
            CHECK(t.finished());
            CHECK(t.tls_active());
            CHECK_FALSE(c.caps().stls);
            CHECK(c.caps().has_sasl("PLAIN"));
            CHECK(c.caps().pipelining);
        });
}

TEST_CASE("pop3 client: bytes after the STLS reply are refused (injection guard)",
          "[pop3][client]") {
    pop3_scripted_transport t;
    t.read("+OK\r\n").expect_write("STLS\r\n").read("+OK go ahead\r\n-ERR injected\r\n");
    client c(t);
    REQUIRE(c.greeting().ok());
    auto e = c.stls();
    CHECK(e.code == errc::protocol);
    CHECK(e.message.find("-ERR injected") != std::string::npos);
    CHECK_FALSE(t.tls_active());
    CHECK_FALSE(c.usable());
}

TEST_CASE("pop3 client: STLS refused is server_no", "[pop3][client]") {
    pop3_scripted_transport t;
    t.read("+OK\r\n").expect_write("STLS\r\n").read("-ERR TLS not configured\r\n");
    client c(t);
    REQUIRE(c.greeting().ok());
    auto e = c.stls();
    CHECK(e.code == errc::server_no);
    CHECK(e.message.find("STLS") != std::string::npos);
    CHECK(e.message.find("TLS not configured") != std::string::npos);
    CHECK(c.usable());
}

TEST_CASE("pop3 client: USER/PASS rejections are auth errors without the password",
          "[pop3][client]") {
    SECTION("USER rejected: PASS is never sent") {
        auto script = [](pop3_scripted_transport& t) {
            t.read("+OK\r\n").expect_write("USER tim\r\n").read("-ERR [AUTH] unknown user\r\n");
        };
        replay(
            script,
            [](client& c, recording_sink&) -> mv::error {
                if (auto e = c.greeting()) return e;
                return c.login_user("tim", "hunter2");
            },
            [](const mv::error& e, client& c, recording_sink&, pop3_scripted_transport& t) {
                CHECK(t.finished());
                CHECK(e.code == errc::auth);
                CHECK(e.message.find("USER") != std::string::npos);
                CHECK(e.message.find("unknown user") != std::string::npos);
                CHECK(e.message.find("hunter2") == std::string::npos);
                CHECK(c.last_status().code == "AUTH");
                CHECK(c.usable());
            });
    }
    SECTION("PASS rejected with [IN-USE]") {
        auto script = [](pop3_scripted_transport& t) {
            t.read("+OK\r\n")
                .expect_write("USER tim\r\n")
                .read("+OK\r\n")
                .expect_write("PASS hunter2\r\n")
                .read("-ERR [IN-USE] Do you have another POP session running?\r\n");
        };
        replay(
            script,
            [](client& c, recording_sink&) -> mv::error {
                if (auto e = c.greeting()) return e;
                return c.login_user("tim", "hunter2");
            },
            [](const mv::error& e, client&, recording_sink&, pop3_scripted_transport& t) {
                CHECK(t.finished());
                CHECK(e.code == errc::auth);
                CHECK(e.message.find("PASS") != std::string::npos);
                CHECK(e.message.find("[IN-USE]") != std::string::npos);
                CHECK(e.message.find("locked") != std::string::npos);
                CHECK(e.message.find("hunter2") == std::string::npos);
            });
    }
    SECTION("CR/LF in arguments is refused before anything is sent") {
        pop3_scripted_transport t;
        client c(t);
        CHECK(c.login_user("tim\r\nDELE 1", "x").code == errc::usage);
        CHECK(c.login_user("tim", "x\ny").code == errc::usage);
        CHECK(c.retr(0, *std::make_unique<recording_sink>()).code == errc::usage);
        CHECK(t.mismatch() == "");
    }
}

TEST_CASE("pop3 client: APOP", "[pop3][client]") {
    auto script = [](pop3_scripted_transport& t) {
        t.read("+OK POP3 server ready <1896.697170952@dbc.mycorp.com>\r\n")
            .expect_write("APOP mrose ef54fd0a88bf32b86da97ced8d0a60f3\r\n")
            .read("+OK maildrop has 1 message (369 octets)\r\n");
    };
    replay(
        script,
        [](client& c, recording_sink&) -> mv::error {
            if (auto e = c.greeting()) return e;
            return c.login_apop("mrose", "tanstaaf");
        },
        [](const mv::error& e, client&, recording_sink&, pop3_scripted_transport& t) {
            CHECK(e.message == "");
            CHECK(t.finished());
        });

    pop3_scripted_transport t;
    t.read("+OK no timestamp here\r\n");
    client c(t);
    REQUIRE(c.greeting().ok());
    CHECK(c.login_apop("mrose", "tanstaaf").code == errc::unsupported);
    CHECK(t.finished());
}

TEST_CASE("pop3 client: AUTH PLAIN and XOAUTH2", "[pop3][client]") {
    SECTION("PLAIN with initial response") {
        auto script = [](pop3_scripted_transport& t) {
            t.read("+OK\r\n")
                .expect_write("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
                .read("+OK Welcome.\r\n");
        };
        replay(
            script,
            [](client& c, recording_sink&) -> mv::error {
                if (auto e = c.greeting()) return e;
                return c.auth_plain("tim", "tanstaaftanstaaf");
            },
            [](const mv::error& e, client&, recording_sink&, pop3_scripted_transport& t) {
                CHECK(e.message == "");
                CHECK(t.finished());
            });
    }
    SECTION("PLAIN rejected") {
        auto script = [](pop3_scripted_transport& t) {
            t.read("+OK\r\n")
                .expect_write("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
                .read("-ERR [AUTH] Authentication failed.\r\n");
        };
        replay(
            script,
            [](client& c, recording_sink&) -> mv::error {
                if (auto e = c.greeting()) return e;
                return c.auth_plain("tim", "tanstaaftanstaaf");
            },
            [](const mv::error& e, client& c, recording_sink&, pop3_scripted_transport& t) {
                CHECK(t.finished());
                CHECK(e.code == errc::auth);
                CHECK(e.message.find("AUTH PLAIN") != std::string::npos);
                CHECK(e.message.find("AHRpbQ") == std::string::npos);
                CHECK(e.message.find("tanstaaf") == std::string::npos);
                CHECK(c.usable());
            });
    }
    SECTION("XOAUTH2 with a long token waits for the empty challenge; error challenge") {
        const std::string token(300, 'T');
        const std::string ir = mv::pop3::sasl_xoauth2("me@gmail.com", token);
        // {"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}
        const std::string challenge =
            mv::pop3::base64_encode(R"({"status":"400","schemes":"Bearer"})");
        auto script = [=](pop3_scripted_transport& t) {
            t.read("+OK Gpop ready\r\n")
                .expect_write("AUTH XOAUTH2\r\n")
                .read("+ \r\n")
                .expect_write(ir + "\r\n")
                .read("+ " + challenge + "\r\n")
                .expect_write("\r\n")
                .read("-ERR [AUTH] Invalid credentials\r\n");
        };
        replay(
            script,
            [=](client& c, recording_sink&) -> mv::error {
                if (auto e = c.greeting()) return e;
                return c.auth_xoauth2("me@gmail.com", token);
            },
            [=](const mv::error& e, client&, recording_sink&, pop3_scripted_transport& t) {
                CHECK(t.finished());
                CHECK(e.code == errc::auth);
                CHECK(e.message.find("Invalid credentials") != std::string::npos);
                CHECK(e.message.find("status") != std::string::npos);
                CHECK(e.message.find(token.substr(0, 20)) == std::string::npos);
            });
    }
    SECTION("XOAUTH2 short token uses the initial response") {
        auto script = [](pop3_scripted_transport& t) {
            t.read("+OK\r\n")
                .expect_write("AUTH XOAUTH2 " + mv::pop3::sasl_xoauth2("u", "tok") + "\r\n")
                .read("+OK Welcome.\r\n");
        };
        replay(
            script,
            [](client& c, recording_sink&) -> mv::error {
                if (auto e = c.greeting()) return e;
                return c.auth_xoauth2("u", "tok");
            },
            [](const mv::error& e, client&, recording_sink&, pop3_scripted_transport& t) {
                CHECK(e.message == "");
                CHECK(t.finished());
            });
    }
}

TEST_CASE("pop3 client: retr_many pipelined with a bounded window", "[pop3][client]") {
    auto script = [](pop3_scripted_transport& t) {
        t.read("+OK\r\n")
            .expect_write("CAPA\r\n")
            .read("+OK\r\nPIPELINING\r\n.\r\n")
            .expect_write("RETR 1\r\n")
            .expect_write("RETR 2\r\n")
            .read(dot_stuffed_reply(msg1))
            .expect_write("RETR 3\r\n")
            .read(dot_stuffed_reply(msg2) + dot_stuffed_reply(msg3))
            .expect_write("DELE 1\r\nDELE 2\r\n")
            .read("+OK\r\n+OK\r\n")
            .expect_write("DELE 3\r\n")
            .read("+OK\r\n");
    };
    mv::pop3::limits lim;
    lim.pipeline_window = 2;
    replay(
        script,
        [](client& c, recording_sink& sink) -> mv::error {
            if (auto e = c.greeting()) return e;
            if (auto e = c.capa()) return e;
            std::vector<std::uint32_t> all{1, 2, 3};
            if (auto e = c.retr_many(all, sink)) return e;
            return c.dele_many(all);
        },
        [](const mv::error& e, client&, recording_sink& sink, pop3_scripted_transport& t) {
            REQUIRE(e.message == "");
            CHECK(t.finished());
            REQUIRE(sink.messages.size() == 3);
            CHECK(sink.messages[0].body == msg1);
            CHECK(sink.messages[1].body == msg2 + "\r\n");
            CHECK(sink.messages[2].body == "");
            CHECK(sink.messages[2].msgno == 3);
            CHECK(sink.balanced());
        },
        lim);
}

TEST_CASE("pop3 client: retr_many without PIPELINING goes one at a time", "[pop3][client]") {
    auto script = [](pop3_scripted_transport& t) {
        t.read("+OK\r\n")
            .expect_write("RETR 2\r\n")
            .read(dot_stuffed_reply(msg2))
            .expect_write("RETR 1\r\n")
            .read(dot_stuffed_reply(msg1));
    };
    replay(
        script,
        [](client& c, recording_sink& sink) -> mv::error {
            if (auto e = c.greeting()) return e;
            std::vector<std::uint32_t> two{2, 1};
            return c.retr_many(two, sink);
        },
        [](const mv::error& e, client&, recording_sink& sink, pop3_scripted_transport& t) {
            REQUIRE(e.message == "");
            CHECK(t.finished());
            REQUIRE(sink.messages.size() == 2);
            CHECK(sink.messages[0].msgno == 2);
            CHECK(sink.messages[1].body == msg1);
        });
}

TEST_CASE("pop3 client: -ERR inside a pipelined RETR batch stops new commands, drains the rest",
          "[pop3][client]") {
    auto script = [](pop3_scripted_transport& t) {
        t.read("+OK\r\n")
            .expect_write("CAPA\r\n")
            .read("+OK\r\nPIPELINING\r\n.\r\n")
            .expect_write("RETR 1\r\nRETR 2\r\nRETR 3\r\n")
            .read(dot_stuffed_reply(msg1))
            .expect_write("RETR 4\r\n")
            .read("-ERR [SYS/PERM] no such message\r\n" + dot_stuffed_reply(msg2) +
                  dot_stuffed_reply(msg1))
            .expect_write("NOOP\r\n")
            .read("+OK\r\n");
    };
    mv::pop3::limits lim;
    lim.pipeline_window = 3;
    replay(
        script,
        [](client& c, recording_sink& sink) -> mv::error {
            if (auto e = c.greeting()) return e;
            if (auto e = c.capa()) return e;
            std::vector<std::uint32_t> four{1, 2, 3, 4, 5, 6};
            auto e = c.retr_many(four, sink);
            if (e.code == errc::closed) return e;  // injected failure
            if (e.code != errc::server_no)
                return {errc::internal, "expected server_no: " + e.message};
            if (e.message.find("RETR 2") == std::string::npos ||
                e.message.find("[SYS/PERM] no such message") == std::string::npos)
                return {errc::internal, "bad message: " + e.message};
            return c.noop();  // the connection is still in step
        },
        [](const mv::error& e, client&, recording_sink& sink, pop3_scripted_transport& t) {
            REQUIRE(e.message == "");
            CHECK(t.finished());
            REQUIRE(sink.messages.size() == 3);
            CHECK(sink.messages[0].msgno == 1);
            CHECK(sink.messages[1].msgno == 3);
            CHECK(sink.messages[1].body == msg2 + "\r\n");
            CHECK(sink.messages[2].msgno == 4);
            CHECK(sink.balanced());
        },
        lim);
}

TEST_CASE("pop3 client: connection dropped mid-RETR aborts the sink", "[pop3][client]") {
    for_each_split(
        [](pop3_scripted_transport& t) {
            t.read("+OK\r\n")
                .expect_write("RETR 1\r\n")
                .read("+OK\r\nSubject: x\r\n\r\npartial bo");
        },
        [](pop3_scripted_transport& t) {
            client c(t);
            recording_sink sink;
            REQUIRE(c.greeting().ok());
            auto e = c.retr(1, sink);
            CHECK(e.code == errc::closed);
            CHECK(e.message.find("RETR 1") != std::string::npos);
            REQUIRE(sink.messages.size() == 1);
            CHECK(sink.messages[0].aborted);
            CHECK(sink.balanced());
            CHECK_FALSE(c.usable());
            CHECK(c.quit().code == errc::closed);
        });
}

TEST_CASE("pop3 client: message size cap aborts with mv::errc::limit", "[pop3][client]") {
    mv::pop3::limits lim;
    lim.max_message = 16;
    for_each_split(
        [](pop3_scripted_transport& t) {
            t.read("+OK\r\n")
                .expect_write("RETR 1\r\n")
                .read("+OK\r\n0123456789\r\n0123456789\r\n.\r\n");
        },
        [&](pop3_scripted_transport& t) {
            client c(t, lim);
            recording_sink sink;
            REQUIRE(c.greeting().ok());
            auto e = c.retr(1, sink);
            CHECK(e.code == errc::limit);
            REQUIRE(sink.messages.size() == 1);
            CHECK(sink.messages[0].aborted);
            CHECK(sink.messages[0].body.size() <= 16);
            CHECK_FALSE(c.usable());
        });
}

TEST_CASE("pop3 client: malformed replies are mv::errc::protocol naming bytes and offset",
          "[pop3][client]") {
    pop3_scripted_transport t;
    t.read("+OK hi\r\n").expect_write("NOOP\r\n").read("* OK this is IMAP\r\n");
    client c(t);
    REQUIRE(c.greeting().ok());
    auto e = c.noop();
    CHECK(e.code == errc::protocol);
    CHECK(e.message.find("offset 8") != std::string::npos);
    CHECK(e.message.find("* OK this is IMAP") != std::string::npos);
    CHECK_FALSE(c.usable());
}

TEST_CASE("pop3 client: greeting -ERR and CAPA -ERR", "[pop3][client]") {
    {
        pop3_scripted_transport t;
        t.read("-ERR [SYS/TEMP] too many connections\r\n");
        client c(t);
        auto e = c.greeting();
        CHECK(e.code == errc::server_no);
        CHECK(e.message.find("too many connections") != std::string::npos);
    }
    {
        pop3_scripted_transport t;
        t.read("+OK\r\n").expect_write("CAPA\r\n").read("-ERR unknown command\r\n");
        client c(t);
        REQUIRE(c.greeting().ok());
        CHECK(c.capa().ok());
        CHECK_FALSE(c.caps().advertised);
        CHECK(t.finished());
    }
}

TEST_CASE("pop3 client: bytes read past a reply are kept for the next one", "[pop3][client]") {
    pop3_scripted_transport t;
    t.read("+OK hi\r\n+OK pong\r\n").expect_write("NOOP\r\n");
    client c(t);
    REQUIRE(c.greeting().ok());
    CHECK(c.noop().ok());
    CHECK(c.last_status().text == "pong");
    CHECK(t.finished());
    CHECK(t.mismatch() == "");
}

TEST_CASE("pop3 client: -ERR on RETR/DELE is server_no naming the command", "[pop3][client]") {
    pop3_scripted_transport t;
    t.read("+OK\r\n")
        .expect_write("RETR 9\r\n")
        .read("-ERR no such message\r\n")
        .expect_write("DELE 9\r\n")
        .read("-ERR\r\n");
    client c(t);
    recording_sink sink;
    REQUIRE(c.greeting().ok());
    auto e = c.retr(9, sink);
    CHECK(e.code == errc::server_no);
    CHECK(e.message == "POP3 RETR 9 failed: -ERR no such message");
    CHECK(sink.messages.empty());
    e = c.dele(9);
    CHECK(e.code == errc::server_no);
    CHECK(e.message == "POP3 DELE 9 failed: -ERR (no text)");
    CHECK(c.usable());
}
