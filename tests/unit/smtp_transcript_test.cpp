// SMTP client conversations from MailKit's recorded replies (tests/data/corpora/mailkit/smtp,
// LF converted to CRLF) plus a few of our own, each replayed with the reads split at every byte
// offset and in small chunks, and with a failure injected at every step.
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "pop3_scripted_transport.hpp"
#include "smtp/client.hpp"

using mv::errc;
using mv::smtp::client;
using mv::test::for_each_failure;
using mv::test::for_each_split;
using scripted = mv::test::pop3_scripted_transport;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string mk(const std::string& name) {
    std::string lf = read_file(std::string(MV_TEST_DATA_DIR) + "/corpora/mailkit/smtp/" + name);
    REQUIRE(lf.find('\r') == std::string::npos);
    std::string out;
    for (char c : lf) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

struct exchange {
    std::string write;  // what the client must send ("" : nothing, e.g. the greeting)
    std::string read;   // what the server answers
    bool tls = false;   // a TLS handshake comes between write and read
};

using run_fn = std::function<mv::error(client&)>;
using verify_fn = std::function<void(const mv::error&, client&)>;

// Replays the conversation (greeting first) at every split and with a failure at every step:
// after an injected failure the call reports `closed` and the client is unusable.
void replay(const std::vector<exchange>& ex, const run_fn& run, const verify_fn& verify,
            const std::string& greeting = mk("comcast-greeting.txt")) {
    auto script = [&](scripted& t) {
        t.read(greeting);
        for (const auto& e : ex) {
            if (!e.write.empty()) t.expect_write(e.write);
            if (e.tls) t.expect_tls();
            if (!e.read.empty()) t.read(e.read);
        }
    };
    for_each_split(script, [&](scripted& t) {
        INFO("split_at=" << t.split_at << " chunk=" << t.chunk);
        client c(t);
        auto e = c.greeting();
        if (!e) e = run(c);
        CHECK(t.mismatch() == "");
        if (e.code != errc::protocol) CHECK(t.finished());
        verify(e, c);
    });
    for_each_failure(script, [&](scripted& t) {
        INFO("failure at step " << t.fail_step);
        client c(t);
        auto e = c.greeting();
        if (!e) e = run(c);
        CHECK(t.mismatch() == "");
        if (t.injected_failure()) {
            CHECK(e.code == errc::closed);
            CHECK_FALSE(c.usable());
            CHECK(c.noop().code == errc::closed);  // dead: says so at once
        } else {
            verify(e, c);
        }
    });
}

const std::string message =
    "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n"
    "line 1\n.dot line\r\n..two dots\r\nlast";
const std::string stuffed =
    "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n"
    "line 1\r\n..dot line\r\n...two dots\r\nlast\r\n.\r\n";

mv::smtp::envelope env(std::vector<std::string> to = {"b@example.org"}) {
    return {"a@example.org", std::move(to)};
}

std::string plain_ir() {
    return "AHVzZXIAc2VjcmV0";  // base64("\0user\0secret")
}

}  // namespace

TEST_CASE("smtp transcripts: a whole session (comcast)", "[smtp][transcript]") {
    mv::smtp::send_result res;
    replay(
        {{"EHLO client.example\r\n", mk("comcast-ehlo.txt")},
         {"AUTH PLAIN " + plain_ir() + "\r\n", mk("comcast-auth-plain.txt")},
         {"MAIL FROM:<a@example.org> SIZE=" + std::to_string(message.size()) + "\r\n",
          mk("comcast-mail-from.txt")},
         {"RCPT TO:<b@example.org>\r\n", mk("comcast-rcpt-to.txt")},
         {"DATA\r\n", mk("comcast-data.txt")},
         {stuffed, mk("comcast-data-done.txt")},
         {"QUIT\r\n", mk("comcast-quit.txt")}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("client.example")) return e;
            auto mech = mv::smtp::choose_mech(
                c.caps(), std::vector{mv::smtp::sasl_mech::plain, mv::smtp::sasl_mech::login});
            if (!mech) return {errc::internal, "no mechanism"};
            if (auto e = c.authenticate(*mech, "user", "secret")) return e;
            if (auto e = c.send(env(), message, res)) return e;
            return c.quit();
        },
        [&](const mv::error& e, client& c) {
            REQUIRE(e.message == "");
            CHECK(c.caps().max_size == 36700160);
            CHECK(c.caps().starttls);
            CHECK_FALSE(c.caps().pipelining);
            CHECK(res.delivered);
            CHECK(res.accepted() == 1);
            CHECK(res.final_reply.summary() ==
                  "250 2.0.0 1Yat1n00V1sBWGw3SYaubg mail accepted for delivery");
            CHECK(c.last_reply().code == 221);
        });
}

TEST_CASE("smtp transcripts: PIPELINING sends MAIL, RCPT and DATA in one write",
          "[smtp][transcript]") {
    mv::smtp::send_result res;
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo+pipelining.txt")},
         {"MAIL FROM:<a@example.org> SIZE=" + std::to_string(message.size()) +
              "\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
          mk("pipelined-mail-from-rcpt-to.txt") + mk("comcast-data.txt")},
         {stuffed, mk("comcast-data-done.txt")}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            return c.send(env(), message, res);
        },
        [&](const mv::error& e, client&) {
            REQUIRE(e.message == "");
            CHECK(res.delivered);
        });
}

TEST_CASE("smtp transcripts: pipelined RCPT rejected, DATA refused", "[smtp][transcript]") {
    mv::smtp::send_result res;
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo+pipelining.txt")},
         {"MAIL FROM:<a@example.org> SIZE=" + std::to_string(message.size()) +
              "\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
          mk("pipelined-mailbox-unavailable.txt") + "554 5.5.1 Error: no valid recipients\r\n"},
         {"RSET\r\n", mk("comcast-rset.txt")}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            auto e = c.send(env(), message, res);
            if (e && c.usable())
                if (auto r = c.rset()) return r;
            return e;
        },
        [&](const mv::error& e, client& c) {
            CHECK(e.code == errc::server_no);
            CHECK(e.message ==
                  "SMTP: no recipient accepted (RCPT TO <b@example.org> rejected: "
                  "550 5.1.0 mailbox unavailable)");
            CHECK_FALSE(res.delivered);
            CHECK_FALSE(res.transient);
            CHECK(c.usable());
        });
}

TEST_CASE("smtp transcripts: pipelining server answers DATA with 354 without recipients",
          "[smtp][transcript]") {
    mv::smtp::send_result res;
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo+pipelining.txt")},
         {"MAIL FROM:<a@example.org> SIZE=" + std::to_string(message.size()) +
              "\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
          mk("pipelined-mailbox-unavailable.txt") + mk("comcast-data.txt")},
         {".\r\n", "554 5.5.1 no valid recipients\r\n"}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            return c.send(env(), message, res);
        },
        [&](const mv::error& e, client& c) {
            CHECK(e.code == errc::server_no);
            CHECK(e.message.find("550 5.1.0 mailbox unavailable") != std::string::npos);
            CHECK(c.usable());
        });
}

TEST_CASE("smtp transcripts: one of two recipients rejected, the other gets the message",
          "[smtp][transcript]") {
    mv::smtp::send_result res;
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo.txt")},
         {"MAIL FROM:<a@example.org> SIZE=" + std::to_string(message.size()) + "\r\n",
          mk("comcast-mail-from.txt")},
         {"RCPT TO:<x@example.org>\r\n", mk("mailbox-unavailable.txt")},
         {"RCPT TO:<b@example.org>\r\n", mk("comcast-rcpt-to.txt")},
         {"DATA\r\n", mk("comcast-data.txt")},
         {stuffed, mk("comcast-data-done.txt")}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            return c.send(env({"x@example.org", "b@example.org"}), message, res);
        },
        [&](const mv::error& e, client&) {
            REQUIRE(e.message == "");
            CHECK(res.delivered);
            REQUIRE(res.recipients.size() == 2);
            CHECK_FALSE(res.recipients[0].accepted());
            CHECK(res.recipients[0].answer.summary() == "550 5.1.0 mailbox unavailable");
            CHECK(res.recipients[1].accepted());
        });
}

TEST_CASE("smtp transcripts: MAIL rejected stops the transaction", "[smtp][transcript]") {
    mv::smtp::send_result res;
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo.txt")},
         {"MAIL FROM:<a@example.org> SIZE=" + std::to_string(message.size()) + "\r\n",
          "451 4.3.0 try again later\r\n"}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            return c.send(env(), message, res);
        },
        [&](const mv::error& e, client&) {
            CHECK(e.code == errc::server_no);
            CHECK(e.message == "SMTP MAIL FROM rejected: 451 4.3.0 try again later");
            CHECK(res.transient);
        });
}

TEST_CASE("smtp transcripts: EHLO refused, HELO fallback", "[smtp][transcript]") {
    replay(
        {{"EHLO c\r\n", mk("ehlo-failed.txt")}, {"HELO c\r\n", mk("helo.txt")}},
        [&](client& c) { return c.ehlo("c"); },
        [&](const mv::error& e, client& c) {
            REQUIRE(e.message == "");
            CHECK_FALSE(c.caps().esmtp);
            CHECK_FALSE(c.caps().pipelining);
        });
}

TEST_CASE("smtp transcripts: greeting not ready", "[smtp][transcript]") {
    replay(
        {}, [&](client&) { return mv::error{}; },
        [&](const mv::error& e, client&) {
            CHECK(e.code == errc::server_no);
            CHECK(e.message == "SMTP server refused the connection: 221 ESMTP server not ready");
        },
        mk("greeting-not-ready.txt"));
}

TEST_CASE("smtp transcripts: AUTH LOGIN answers both prompts", "[smtp][transcript]") {
    // MailKit's file names are the other way round: "-password" holds the Username: prompt.
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo.txt")},
         {"AUTH LOGIN\r\n", mk("comcast-auth-login-password.txt")},
         {"dXNlcg==\r\n", mk("comcast-auth-login-username.txt")},
         {"c2VjcmV0\r\n", mk("comcast-auth-login.txt")}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            return c.authenticate(mv::smtp::sasl_mech::login, "user", "secret");
        },
        [&](const mv::error& e, client&) { REQUIRE(e.message == ""); });
}

TEST_CASE("smtp transcripts: AUTH failures are auth errors quoting the reply",
          "[smtp][transcript]") {
    for (auto [file, code] :
         {std::pair{"auth-failed.txt", errc::auth}, std::pair{"auth-too-weak.txt", errc::auth},
          std::pair{"comcast-auth-digest-md5-reset.txt", errc::auth},
          std::pair{"bad-command-sequence.txt", errc::server_no}}) {
        INFO(file);
        std::string text = mk(file);
        replay(
            {{"EHLO c\r\n", mk("comcast-ehlo.txt")}, {"AUTH PLAIN " + plain_ir() + "\r\n", text}},
            [&](client& c) -> mv::error {
                if (auto e = c.ehlo("c")) return e;
                return c.authenticate(mv::smtp::sasl_mech::plain, "user", "secret");
            },
            [&, code = code](const mv::error& e, client& c) {
                CHECK(e.code == code);
                CHECK(e.message == "SMTP AUTH PLAIN rejected: " + text.substr(0, text.size() - 2));
                CHECK(e.message.find("secret") == std::string::npos);
                CHECK(c.usable());
            });
    }
}

TEST_CASE("smtp transcripts: XOAUTH2 error challenge", "[smtp][transcript]") {
    // base64 of {"status":"401"}
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo+x-exps.txt")},
         {"AUTH XOAUTH2 dXNlcj11c2VyAWF1dGg9QmVhcmVyIHRva2VuAQE=\r\n",
          "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"},
         {"\r\n", "535 5.7.8 Username and Password not accepted\r\n"}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            return c.authenticate(mv::smtp::sasl_mech::xoauth2, "user", "token");
        },
        [&](const mv::error& e, client&) {
            CHECK(e.code == errc::auth);
            CHECK(e.message ==
                  "SMTP AUTH XOAUTH2 rejected: 535 5.7.8 Username and Password "
                  "not accepted (server said: \"{\\\"status\\\":\\\"401\\\"}\")");
        });
}

TEST_CASE("smtp transcripts: STARTTLS, then EHLO again", "[smtp][transcript]") {
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo.txt")},
         {"STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n"},
         {"", "", true},
         {"EHLO c\r\n", mk("comcast-ehlo+smtputf8.txt")}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            if (!c.caps().starttls) return {errc::internal, "no STARTTLS"};
            return c.starttls("c");
        },
        [&](const mv::error& e, client& c) {
            REQUIRE(e.message == "");
            CHECK(c.caps().smtputf8);  // the capabilities after TLS
        });
}

TEST_CASE("smtp: bytes after the STARTTLS reply are refused (injection)", "[smtp][transcript]") {
    // Only bytes that arrive together with the 220 can be seen before the handshake (later ones
    // are read through TLS and fail there), so the reads are delivered whole or in big chunks.
    for (std::size_t chunk : {0, 4096}) {
        scripted t;
        t.chunk = chunk;
        t.read(mk("comcast-greeting.txt"))
            .expect_write("EHLO c\r\n")
            .read(mk("comcast-ehlo.txt"))
            .expect_write("STARTTLS\r\n")
            .read("220 go ahead\r\n250 injected\r\n");
        client c(t);
        REQUIRE(c.greeting().ok());
        REQUIRE(c.ehlo("c").ok());
        auto e = c.starttls("c");
        CHECK(e.code == errc::protocol);
        CHECK(e.message ==
              "SMTP: server sent data after the STARTTLS reply, before the TLS "
              "handshake: \"250 injected\\r\\n\"");
        CHECK_FALSE(c.usable());
        CHECK_FALSE(t.tls_active());
    }
}

TEST_CASE("smtp: STARTTLS refused is a TLS error", "[smtp][transcript]") {
    replay(
        {{"EHLO c\r\n", mk("comcast-ehlo.txt")},
         {"STARTTLS\r\n", "454 4.7.0 TLS not available due to temporary reason\r\n"}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            return c.starttls("c");
        },
        [&](const mv::error& e, client&) {
            CHECK(e.code == errc::tls_handshake);
            CHECK(e.message ==
                  "SMTP STARTTLS rejected: 454 4.7.0 TLS not available due to "
                  "temporary reason");
        });
}

TEST_CASE("smtp: 421 in the middle of a transaction kills the connection", "[smtp][transcript]") {
    mv::smtp::send_result res;
    replay(
        {{"EHLO c\r\n", mk("helo.txt")},
         {"MAIL FROM:<a@example.org>\r\n", mk("comcast-mail-from.txt")},
         {"RCPT TO:<b@example.org>\r\n", "421 4.4.2 idle too long, closing\r\n"}},
        [&](client& c) -> mv::error {
            if (auto e = c.ehlo("c")) return e;
            return c.send(env(), message, res);
        },
        [&](const mv::error& e, client& c) {
            CHECK(e.code == errc::closed);
            CHECK(e.message.find("421 4.4.2 idle too long") != std::string::npos);
            CHECK_FALSE(c.usable());
        });
}

TEST_CASE("smtp: 8BITMIME, SMTPUTF8 and SIZE decide before anything is sent", "[smtp]") {
    const std::string eight =
        "Subject: x\r\n\r\nGr\xc3\xbc\xc3\x9f"
        "e\r\n";
    {
        // No 8BITMIME (HELO server): refused without a write.
        scripted t;
        t.read("220 x\r\n").expect_write("EHLO c\r\n").read(mk("helo.txt"));
        client c(t);
        REQUIRE(c.greeting().ok());
        REQUIRE(c.ehlo("c").ok());
        mv::smtp::send_result res;
        auto e = c.send(env(), eight, res);
        CHECK(e.code == errc::unsupported);
        CHECK(e.message.find("8BITMIME") != std::string::npos);
        CHECK(t.finished());
        CHECK(c.usable());
        e = c.send({"a@example.org", {"b\xc3\xbc@example.org"}}, "Subject: x\r\n\r\n", res);
        CHECK(e.code == errc::unsupported);
        CHECK(e.message.find("SMTPUTF8") != std::string::npos);
    }
    {
        mv::smtp::send_result res;
        replay(
            {{"EHLO c\r\n", mk("comcast-ehlo.txt")},
             {"MAIL FROM:<a@example.org> SIZE=" + std::to_string(eight.size()) +
                  " BODY=8BITMIME\r\n",
              mk("comcast-mail-from.txt")},
             {"RCPT TO:<b@example.org>\r\n", mk("comcast-rcpt-to.txt")},
             {"DATA\r\n", mk("comcast-data.txt")},
             {eight + ".\r\n", mk("comcast-data-done.txt")}},
            [&](client& c) -> mv::error {
                if (auto e = c.ehlo("c")) return e;
                return c.send(env(), eight, res);
            },
            [&](const mv::error& e, client&) { REQUIRE(e.message == ""); });
    }
    {
        scripted t;
        t.read("220 x\r\n").expect_write("EHLO c\r\n").read("250-x\r\n250 SIZE 10\r\n");
        client c(t);
        REQUIRE(c.greeting().ok());
        REQUIRE(c.ehlo("c").ok());
        mv::smtp::send_result res;
        auto e = c.send(env(), message, res);
        CHECK(e.code == errc::limit);
        CHECK(e.message.find("SIZE limit of 10 bytes") != std::string::npos);
    }
}

TEST_CASE("smtp: arguments with CR or LF are refused", "[smtp]") {
    scripted t;
    t.read("220 x\r\n").expect_write("EHLO c\r\n").read(mk("helo.txt"));
    client c(t);
    REQUIRE(c.greeting().ok());
    CHECK(c.ehlo("c\r\nRSET").code == errc::usage);
    REQUIRE(c.ehlo("c").ok());
    mv::smtp::send_result res;
    CHECK(c.send({"a@example.org", {"b@example.org>\r\nRCPT TO:<c@x"}}, message, res).code ==
          errc::usage);
    CHECK(c.authenticate(mv::smtp::sasl_mech::plain, "u\r\n", "p").code == errc::usage);
    CHECK(t.finished());
}

TEST_CASE("smtp: every MailKit reply file parses", "[smtp][transcript]") {
    for (auto f :
         {"auth-required.txt", "auth-successful.txt", "comcast-auth-digest-md5.txt",
          "comcast-auth-digest-md5-response.txt", "comcast-ehlo+binarymime.txt",
          "comcast-ehlo+digest-md5.txt", "comcast-ehlo+dsn.txt", "comcast-ehlo+requiretls.txt",
          "comcast-noop.txt", "rfc0821-expn.txt", "rfc0821-vrfy.txt"}) {
        INFO(f);
        std::string wire = mk(f);
        for (std::size_t split = 1; split <= wire.size(); ++split) {
            mv::smtp::reply_reader rd;
            auto a = rd.feed(std::string_view(wire).substr(0, split));
            auto b = a.event == mv::smtp::reply_event::need_more
                         ? rd.feed(std::string_view(wire).substr(split))
                         : a;
            REQUIRE(b.event == mv::smtp::reply_event::complete);
            CHECK(rd.current().code >= 200);
        }
    }
    mv::smtp::reply_reader rd;
    auto r = rd.feed(mk("comcast-ehlo+dsn.txt"));
    REQUIRE(r.event == mv::smtp::reply_event::complete);
    auto caps = mv::smtp::parse_ehlo(rd.current());
    CHECK(caps.has("DSN"));
    CHECK(caps.pipelining);
}
