// Recorded POP3 server replies (MailKit's per-vendor resources, LF files converted to CRLF), each
// parsed by the operation it answers, with the reads split at every byte offset (sampled for the
// large RETR transcripts) and failures injected at each step.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
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

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string to_crlf(const std::string& lf) {
    std::string out;
    out.reserve(lf.size() + lf.size() / 16);
    for (char c : lf) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

// MailKit transcripts (tests/data/corpora) and the ones we added (tests/data/transcripts).
std::string mailkit(const std::string& rel) {
    std::string lf = read_file(std::string(MV_TEST_DATA_DIR) + "/corpora/mailkit/pop3/" + rel);
    REQUIRE(lf.find('\r') == std::string::npos);
    return to_crlf(lf);
}
std::string ours(const std::string& rel) {
    return to_crlf(read_file(std::string(MV_TEST_DATA_DIR) + "/transcripts/pop3/" + rel));
}

// Reference decoder, written line by line and independent of the engine's: the bodies of the
// consecutive multi-line replies in `wire`.
std::vector<std::string> reference_bodies(const std::string& wire) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < wire.size()) {
        auto eol = wire.find("\r\n", pos);
        REQUIRE(eol != std::string::npos);
        REQUIRE(wire.compare(pos, 3, "+OK") == 0);
        pos = eol + 2;
        std::string body;
        for (;;) {
            eol = wire.find("\r\n", pos);
            REQUIRE(eol != std::string::npos);
            std::string line = wire.substr(pos, eol - pos);
            pos = eol + 2;
            if (line == ".") break;
            if (!line.empty() && line[0] == '.') line.erase(0, 1);
            body += line + "\r\n";
        }
        out.push_back(body);
    }
    return out;
}

struct exchange {
    std::string write;  // command(s) sent
    std::string read;   // the transcript
};

using run_fn = std::function<mv::error(client&, recording_sink&)>;
using verify_fn = std::function<void(const mv::error&, client&, recording_sink&)>;

// Greeting "+OK\r\n" (unless `greeting` is given), then the exchanges; run() is called after the
// greeting. Replayed at every split and with a failure at each step.
void replay(const std::vector<exchange>& ex, const run_fn& run, const verify_fn& verify,
            const std::string& greeting = "+OK\r\n") {
    auto script = [&](pop3_scripted_transport& t) {
        t.read(greeting);
        for (const auto& e : ex) {
            if (!e.write.empty()) t.expect_write(e.write);
            t.read(e.read);
        }
    };
    for_each_split(script, [&](pop3_scripted_transport& t) {
        INFO("split_at=" << t.split_at << " chunk=" << t.chunk);
        client c(t);
        recording_sink sink;
        REQUIRE(c.greeting().ok());
        auto e = run(c, sink);
        CHECK(t.mismatch() == "");
        CHECK(sink.violation == "");
        // A malformed reply stops reading where the error is; everything else reads it all.
        if (e.code != errc::protocol) CHECK(t.finished());
        verify(e, c, sink);
    });
    for_each_failure(script, [&](pop3_scripted_transport& t) {
        INFO("failure at step " << t.fail_step);
        client c(t);
        recording_sink sink;
        auto e = c.greeting();
        if (!e) e = run(c, sink);
        CHECK(t.mismatch() == "");
        if (t.injected_failure()) {
            CHECK(e.code == errc::closed);
            CHECK(sink.balanced());
        } else {
            verify(e, c, sink);
        }
    });
}

}  // namespace

TEST_CASE("pop3 transcripts: greetings", "[pop3][transcript]") {
    struct row {
        std::string wire, text, timestamp;
    };
    std::vector<row> rows{
        {mailkit("gmail/greeting.txt"),
         "Gpop ready for requests from 24.91.170.86 hv19mb95710270qab", ""},
        {mailkit("comcast/greeting.txt"), "POP3 ready", ""},
        {mailkit("common/ok-greeting.txt"), "", ""},
        {ours("exchange/greeting.txt"), "The *WGS* Microsoft Exchange POP3 service is ready.", ""},
        {ours("lang/greeting.txt"), "<apop-token@example.com>", "<apop-token@example.com>"},
    };
    for (const auto& r : rows) {
        for_each_split([&](pop3_scripted_transport& t) { t.read(r.wire); },
                       [&](pop3_scripted_transport& t) {
                           client c(t);
                           REQUIRE(c.greeting().ok());
                           CHECK(c.greeting_text() == r.text);
                           CHECK(c.apop_timestamp() == r.timestamp);
                       });
    }
    pop3_scripted_transport t;
    t.read(mailkit("common/err-greeting.txt"));
    client c(t);
    auto e = c.greeting();
    CHECK(e.code == errc::server_no);
    CHECK(e.message.find("refused") != std::string::npos);
}

TEST_CASE("pop3 transcripts: CAPA", "[pop3][transcript]") {
    using caps_check = std::function<void(const mv::pop3::capabilities&)>;
    std::vector<std::pair<std::string, caps_check>> rows{
        {mailkit("gmail/capa1.txt"),
         [](const mv::pop3::capabilities& c) {
             CHECK(c.user);
             CHECK(c.resp_codes);
             CHECK(c.top);
             CHECK(c.uidl);
             CHECK_FALSE(c.pipelining);
             CHECK(c.expire == "0");
             CHECK(c.login_delay == "300");
             CHECK(c.sasl == std::vector<std::string>{"PLAIN", "XOAUTH2"});
             CHECK(c.lines.size() == 8);
         }},
        {mailkit("gmail/capa2.txt"),
         [](const mv::pop3::capabilities& c) {
             CHECK(c.pipelining);
             CHECK(c.sasl.empty());
         }},
        {mailkit("comcast/capa1.txt"),
         [](const mv::pop3::capabilities& c) {
             CHECK(c.stls);
             CHECK(c.expire == "31 USER");
             CHECK_FALSE(c.resp_codes);
         }},
        {mailkit("comcast/capa2.txt"),
         [](const mv::pop3::capabilities& c) {
             CHECK(c.has_sasl("X-ZIMBRA"));
             CHECK(c.expire == "NEVER");
             CHECK(c.implementation == "ZimbraInc");
             CHECK(c.lines.back() == "IMPLEMENTATION ZimbraInc");
         }},
        {ours("exchange/capa.txt"),
         [](const mv::pop3::capabilities& c) {
             CHECK(c.sasl == std::vector<std::string>{"NTLM", "GSSAPI", "PLAIN", "LOGIN"});
             CHECK(c.user);
         }},
        {ours("lang/capa1.txt"),
         [](const mv::pop3::capabilities& c) {
             CHECK(c.utf8);
             CHECK(c.has_sasl("XOAUTH2"));
         }},
        {ours("lang/capa2.txt"), [](const mv::pop3::capabilities& c) { CHECK(c.pipelining); }},
    };
    for (const auto& [wire, check] : rows) {
        replay(
            {{"CAPA\r\n", wire}}, [](client& c, recording_sink&) { return c.capa(); },
            [&, check = check](const mv::error& e, client& c, recording_sink&) {
                REQUIRE(e.message == "");
                CHECK(c.caps().advertised);
                check(c.caps());
            });
    }
}

TEST_CASE("pop3 transcripts: STAT", "[pop3][transcript]") {
    for (auto [file, count, size] : {std::tuple{"gmail/stat.txt", 3u, 221409ull},
                                     std::tuple{"comcast/stat.txt", 7u, 1800662ull}}) {
        replay(
            {{"STAT\r\n", mailkit(file)}},
            [](client& c, recording_sink&) {
                mv::pop3::stat_result st;
                auto e = c.stat(st);
                if (!e && (st.count == 0 || st.size == 0)) e = {errc::internal, "empty"};
                return e;
            },
            [](const mv::error& e, client&, recording_sink&) { CHECK(e.message == ""); });
        pop3_scripted_transport t;
        t.read("+OK\r\n").expect_write("STAT\r\n").read(mailkit(file));
        client c(t);
        REQUIRE(c.greeting().ok());
        mv::pop3::stat_result st;
        REQUIRE(c.stat(st).ok());
        CHECK(st.count == count);
        CHECK(st.size == size);
    }
    for (auto file :
         {"comcast/stat-error1.txt", "comcast/stat-error2.txt", "comcast/stat-error3.txt"}) {
        INFO(file);
        replay(
            {{"STAT\r\n", mailkit(file)}},
            [](client& c, recording_sink&) {
                mv::pop3::stat_result st;
                return c.stat(st);
            },
            [](const mv::error& e, client&, recording_sink&) {
                CHECK(e.code == errc::protocol);
                CHECK(e.message.find("STAT") != std::string::npos);
            });
    }
}

TEST_CASE("pop3 transcripts: LIST", "[pop3][transcript]") {
    auto list_all = [](std::vector<mv::pop3::list_entry>& out) {
        return [&out](client& c, recording_sink&) { return c.list(out); };
    };
    std::vector<mv::pop3::list_entry> got;
    replay({{"LIST\r\n", mailkit("gmail/list.txt")}}, list_all(got),
           [&](const mv::error& e, client&, recording_sink&) {
               REQUIRE(e.message == "");
               REQUIRE(got.size() == 3);
               CHECK(got[0].msgno == 1);
               CHECK(got[0].size == 1024);
               CHECK(got[2].size == 1026);
           });
    replay({{"LIST\r\n", mailkit("comcast/list.txt")}}, list_all(got),
           [&](const mv::error& e, client&, recording_sink&) {
               REQUIRE(e.message == "");
               REQUIRE(got.size() == 7);
               CHECK(got[6].msgno == 7);
               CHECK(got[6].size == 7168);
           });
    // A gap in message numbers is legal (RFC 1939: deleted messages are not listed).
    replay({{"LIST\r\n", mailkit("comcast/list-error2.txt")}}, list_all(got),
           [&](const mv::error& e, client&, recording_sink&) {
               REQUIRE(e.message == "");
               REQUIRE(got.size() == 7);
               CHECK(got[6].msgno == 8);
           });
    for (auto file : {"comcast/list-error1.txt", "comcast/list-error3.txt"}) {
        INFO(file);
        replay({{"LIST\r\n", mailkit(file)}}, list_all(got),
               [](const mv::error& e, client& c, recording_sink&) {
                   CHECK(e.code == errc::protocol);
                   CHECK(e.message.find("LIST line") != std::string::npos);
                   CHECK(e.message.find("\"7") != std::string::npos);
                   CHECK(e.message.find("offset 5)") != std::string::npos);  // after the greeting
                   CHECK_FALSE(c.usable());
               });
    }
    for (auto [file, n, size] :
         {std::tuple{"gmail/list1.txt", 1u, 1024u}, std::tuple{"gmail/list2.txt", 2u, 1025u},
          std::tuple{"gmail/list3.txt", 3u, 1026u}, std::tuple{"comcast/list1.txt", 1u, 1024u}}) {
        mv::pop3::list_entry one;
        replay(
            {{"LIST " + std::to_string(n) + "\r\n", mailkit(file)}},
            [&, n = n](client& c, recording_sink&) { return c.list(n, one); },
            [&, n = n, size = size](const mv::error& e, client&, recording_sink&) {
                REQUIRE(e.message == "");
                CHECK(one.msgno == n);
                CHECK(one.size == size);
            });
    }
    for (auto file :
         {"comcast/list1-error1.txt", "comcast/list1-error2.txt", "comcast/list1-error3.txt"}) {
        INFO(file);
        mv::pop3::list_entry one;
        replay(
            {{"LIST 1\r\n", mailkit(file)}},
            [&](client& c, recording_sink&) { return c.list(1, one); },
            [](const mv::error& e, client&, recording_sink&) { CHECK(e.code == errc::protocol); });
    }
}

TEST_CASE("pop3 transcripts: UIDL", "[pop3][transcript]") {
    std::vector<mv::pop3::uidl_entry> got;
    auto all = [&](client& c, recording_sink&) { return c.uidl(got); };
    replay({{"UIDL\r\n", mailkit("gmail/uidl.txt")}}, all,
           [&](const mv::error& e, client&, recording_sink&) {
               REQUIRE(e.message == "");
               REQUIRE(got.size() == 3);
               CHECK(got[0].uid == "101");
               CHECK(got[2].msgno == 3);
               CHECK(got[2].uid == "103");
           });
    replay({{"UIDL\r\n", ours("exchange/uidl.txt")}}, all,
           [&](const mv::error& e, client&, recording_sink&) {
               REQUIRE(e.message == "");
               REQUIRE(got.size() == 7);
               CHECK(got[6].uid == "6505");
           });
    replay({{"UIDL\r\n", mailkit("gmail/uidl-error2.txt")}}, all,  // a gap is legal
           [&](const mv::error& e, client&, recording_sink&) {
               REQUIRE(e.message == "");
               REQUIRE(got.size() == 3);
               CHECK(got[2].msgno == 4);
           });
    replay({{"UIDL\r\n", mailkit("gmail/uidl-error1.txt")}}, all,
           [](const mv::error& e, client&, recording_sink&) {
               CHECK(e.code == errc::protocol);
               CHECK(e.message.find("UIDL line: \"3\"") != std::string::npos);
           });
    for (auto [file, n, uid] :
         {std::tuple{"gmail/uidl1.txt", 1u, "101"}, std::tuple{"gmail/uidl2.txt", 2u, "102"},
          std::tuple{"gmail/uidl3.txt", 3u, "103"}}) {
        mv::pop3::uidl_entry one;
        replay(
            {{"UIDL " + std::to_string(n) + "\r\n", mailkit(file)}},
            [&, n = n](client& c, recording_sink&) { return c.uidl(n, one); },
            [&, n = n, uid = std::string(uid)](const mv::error& e, client&, recording_sink&) {
                REQUIRE(e.message == "");
                CHECK(one.msgno == n);
                CHECK(one.uid == uid);
            });
    }
    for (auto file : {"gmail/uidl1-error1.txt", "gmail/uidl1-error2.txt"}) {
        INFO(file);
        mv::pop3::uidl_entry one;
        replay(
            {{"UIDL 1\r\n", mailkit(file)}},
            [&](client& c, recording_sink&) { return c.uidl(1, one); },
            [](const mv::error& e, client&, recording_sink&) { CHECK(e.code == errc::protocol); });
    }
}

TEST_CASE("pop3 transcripts: RETR bodies are byte-exact", "[pop3][transcript]") {
    for (auto file : {"gmail/retr1.txt", "comcast/retr1.txt", "gmail/retr1-parse-error.txt"}) {
        INFO(file);
        const std::string wire = mailkit(file);
        const auto expected = reference_bodies(wire);
        REQUIRE(expected.size() == 1);
        replay(
            {{"RETR 1\r\n", wire}}, [](client& c, recording_sink& sink) { return c.retr(1, sink); },
            [&](const mv::error& e, client&, recording_sink& sink) {
                REQUIRE(e.message == "");
                REQUIRE(sink.messages.size() == 1);
                CHECK(sink.messages[0].ended);
                CHECK(sink.messages[0].body.size() == expected[0].size());
                CHECK(sink.messages[0].body == expected[0]);
            });
    }
}

TEST_CASE("pop3 transcripts: retr123 is a pipelined 3-message RETR", "[pop3][transcript]") {
    const std::string wire = mailkit("gmail/retr123.txt");
    const auto expected = reference_bodies(wire);
    REQUIRE(expected.size() == 3);
    replay(
        {{"CAPA\r\n", mailkit("gmail/capa2.txt")}, {"RETR 1\r\nRETR 2\r\nRETR 3\r\n", wire}},
        [](client& c, recording_sink& sink) {
            if (auto e = c.capa()) return e;
            std::vector<std::uint32_t> n{1, 2, 3};
            return c.retr_many(n, sink);
        },
        [&](const mv::error& e, client&, recording_sink& sink) {
            REQUIRE(e.message == "");
            REQUIRE(sink.messages.size() == 3);
            for (std::size_t i = 0; i < 3; ++i) {
                CHECK(sink.messages[i].msgno == i + 1);
                CHECK(sink.messages[i].ended);
                CHECK(sink.messages[i].body == expected[i]);
            }
        });
}

TEST_CASE("pop3 transcripts: TOP and pipelined TOP", "[pop3][transcript]") {
    const std::string top = mailkit("gmail/top.txt");
    const auto expected = reference_bodies(top);
    replay(
        {{"TOP 1 0\r\n", top}}, [](client& c, recording_sink& sink) { return c.top(1, 0, sink); },
        [&](const mv::error& e, client&, recording_sink& sink) {
            REQUIRE(e.message == "");
            REQUIRE(sink.messages.size() == 1);
            CHECK(sink.messages[0].body == expected[0]);
            CHECK(sink.messages[0].body.substr(sink.messages[0].body.size() - 4) == "\r\n\r\n");
        });

    // top123: three TOP replies in one read, driven through the operation directly.
    const std::string top123 = mailkit("gmail/top123.txt");
    const auto expected3 = reference_bodies(top123);
    REQUIRE(expected3.size() == 3);
    for_each_split(
        [&](pop3_scripted_transport& t) {
            t.expect_write("TOP 1 0\r\nTOP 2 0\r\nTOP 3 0\r\n").read(top123);
        },
        [&](pop3_scripted_transport& t) {
            mv::pop3::limits lim;
            mv::pop3::session s(lim);
            recording_sink sink;
            std::vector<std::uint32_t> n{1, 2, 3};
            mv::pop3::fetch_op op(s, n, 0, sink, 3);
            REQUIRE(t.run(op).message == "");
            CHECK(t.finished());
            REQUIRE(sink.messages.size() == 3);
            for (std::size_t i = 0; i < 3; ++i) CHECK(sink.messages[i].body == expected3[i]);
        });
}

TEST_CASE("pop3 transcripts: DELE, RSET, NOOP, QUIT and -ERR", "[pop3][transcript]") {
    auto ok = [](const mv::error& e, client&, recording_sink&) { CHECK(e.message == ""); };
    replay(
        {{"DELE 1\r\n", mailkit("gmail/dele.txt")}},
        [](client& c, recording_sink&) { return c.dele(1); }, ok);
    replay(
        {{"CAPA\r\n", mailkit("gmail/capa2.txt")},
         {"DELE 1\r\nDELE 2\r\nDELE 3\r\n", mailkit("gmail/dele123.txt")}},
        [](client& c, recording_sink&) {
            if (auto e = c.capa()) return e;
            std::vector<std::uint32_t> n{1, 2, 3};
            return c.dele_many(n);
        },
        ok);
    replay(
        {{"RSET\r\n", mailkit("gmail/rset.txt")}},
        [](client& c, recording_sink&) { return c.rset(); }, ok);
    replay(
        {{"NOOP\r\n", mailkit("gmail/noop.txt")}},
        [](client& c, recording_sink&) { return c.noop(); }, ok);
    for (auto [wire, text] :
         {std::pair{mailkit("gmail/quit.txt"), "Farewell."},
          std::pair{mailkit("comcast/quit.txt"), "POP3 server closing connection"},
          std::pair{ours("exchange/quit.txt"), "Good-bye."},
          std::pair{ours("lang/quit.txt"), "Farewell."}}) {
        replay(
            {{"QUIT\r\n", wire}}, [](client& c, recording_sink&) { return c.quit(); },
            [text = std::string(text)](const mv::error& e, client& c, recording_sink&) {
                REQUIRE(e.message == "");
                CHECK(c.last_status().text == text);
            });
    }
    replay(
        {{"DELE 2\r\n", mailkit("comcast/err.txt")}},
        [](client& c, recording_sink&) { return c.dele(2); },
        [](const mv::error& e, client& c, recording_sink&) {
            CHECK(e.code == errc::server_no);
            CHECK(e.message == "POP3 DELE 2 failed: -ERR (no text)");
            CHECK(c.usable());
        });
}

TEST_CASE("pop3 transcripts: authentication replies", "[pop3][transcript]") {
    replay(
        {{"AUTH PLAIN " + mv::pop3::sasl_plain("", "user", "pw") + "\r\n",
          mailkit("gmail/auth.txt")}},
        [](client& c, recording_sink&) { return c.auth_plain("user", "pw"); },
        [](const mv::error& e, client& c, recording_sink&) {
            CHECK(e.message == "");
            CHECK(c.last_status().text == "Welcome.");
        });
    replay(
        {{"USER user\r\n", "+OK\r\n"}, {"PASS pw\r\n", ours("exchange/auth.txt")}},
        [](client& c, recording_sink&) { return c.login_user("user", "pw"); },
        [](const mv::error& e, client& c, recording_sink&) {
            CHECK(e.message == "");
            CHECK(c.last_status().text == "User successfully logged on.");
        });
    // XOAUTH2 failure: "+ " (gmail/plus.txt), empty response, then -ERR (comcast/err.txt).
    replay(
        {{"AUTH XOAUTH2 " + mv::pop3::sasl_xoauth2("user", "tok") + "\r\n",
          mailkit("gmail/plus.txt")},
         {"\r\n", mailkit("comcast/err.txt")}},
        [](client& c, recording_sink&) { return c.auth_xoauth2("user", "tok"); },
        [](const mv::error& e, client& c, recording_sink&) {
            CHECK(e.code == errc::auth);
            CHECK(e.message.find("AUTH XOAUTH2") != std::string::npos);
            CHECK(e.message.find("tok") == std::string::npos);
            CHECK(c.usable());
        });
}

TEST_CASE("pop3 dot-unstuffing: real messages, dot-stuffed, every split", "[pop3][transcript]") {
    // message.12 has lines starting with "..."; message.2 and .14 do not end in a newline;
    // message.45 and .44 have lines starting with "." in quoted-printable bodies.
    for (auto [name, every] :
         {std::pair{"message.12.msg", true}, std::pair{"message.2.msg", true},
          std::pair{"message.14.msg", true}, std::pair{"message.44.msg", false},
          std::pair{"message.45.msg", false}, std::pair{"message.0.msg", false}}) {
        INFO(name);
        const std::string original = to_crlf(
            read_file(std::string(MV_TEST_DATA_DIR) + "/corpora/mailkit/imap/common/" + name));
        // Dot-stuff it the way a server does.
        std::string wire = "+OK " + std::to_string(original.size()) + " octets\r\n";
        bool line_start = true;
        std::size_t stuffed = 0;
        for (char ch : original) {
            if (line_start && ch == '.') {
                wire += '.';
                ++stuffed;
            }
            wire += ch;
            line_start = ch == '\n';
        }
        const bool ends_crlf = original.size() >= 2 && original.ends_with("\r\n");
        if (!ends_crlf) wire += "\r\n";
        wire += ".\r\n";
        // POP3 cannot carry "no final CRLF": the server adds one and it stays.
        const std::string expected = ends_crlf ? original : original + "\r\n";
        if (std::string(name) == "message.12.msg" || std::string(name) == "message.45.msg")
            CHECK(stuffed == 2);
        for_each_split(
            [&](pop3_scripted_transport& t) {
                t.read("+OK\r\n").expect_write("RETR 1\r\n").read(wire);
            },
            [&](pop3_scripted_transport& t) {
                client c(t);
                recording_sink sink;
                REQUIRE(c.greeting().ok());
                REQUIRE(c.retr(1, sink).message == "");
                REQUIRE(sink.messages.size() == 1);
                CHECK(sink.messages[0].body == expected);
            },
            every ? wire.size() + 1 : 4096);
    }
}
