// POP3 reply framing: status lines, response codes, dot-unstuffing, caps, typed parsers.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pop3/parse.hpp"
#include "pop3/reply.hpp"

using namespace mv::pop3;

namespace {

struct collect final : body_consumer {
    std::string out;
    std::size_t calls = 0;
    mv::error on_body(std::string_view b) override {
        REQUIRE(!b.empty());
        out.append(b);
        ++calls;
        return {};
    }
};

// Feeds `wire` (a body, after the status line) split at `split`; returns what the consumer got
// and checks the decoder stops exactly after the terminator.
std::string decode_split(const std::string& wire, std::size_t split, std::size_t* consumed_total) {
    multiline_decoder d;
    collect c;
    std::size_t total = 0;
    std::string_view a = std::string_view(wire).substr(0, split);
    std::string_view b = std::string_view(wire).substr(split);
    for (std::string_view part : {a, b}) {
        while (!part.empty() && !d.done()) {
            auto r = d.feed(part, c);
            REQUIRE(r.err.ok());
            REQUIRE(r.consumed > 0);
            total += r.consumed;
            part.remove_prefix(r.consumed);
        }
    }
    REQUIRE(d.done());
    if (consumed_total) *consumed_total = total;
    return c.out;
}

void check_every_split(const std::string& wire, const std::string& expected,
                       std::size_t expected_consumed) {
    for (std::size_t s = 0; s <= wire.size(); ++s) {
        INFO("split at " << s);
        std::size_t consumed = 0;
        CHECK(decode_split(wire, s, &consumed) == expected);
        CHECK(consumed == expected_consumed);
    }
    // One byte at a time.
    multiline_decoder d;
    collect c;
    std::size_t consumed = 0;
    for (std::size_t i = 0; i < wire.size() && !d.done(); ++i) {
        auto r = d.feed(std::string_view(wire).substr(i, 1), c);
        REQUIRE(r.err.ok());
        consumed += r.consumed;
    }
    CHECK(d.done());
    CHECK(c.out == expected);
    CHECK(consumed == expected_consumed);
}

}  // namespace

TEST_CASE("pop3 status line: +OK, -ERR, response codes", "[pop3][reply]") {
    status_line st;
    REQUIRE(parse_status_line("+OK 2 messages (320 octets)", false, 0, st).ok());
    CHECK(st.kind == status_kind::ok);
    CHECK(st.text == "2 messages (320 octets)");
    CHECK(st.code.empty());

    REQUIRE(parse_status_line("+OK", false, 0, st).ok());
    CHECK(st.kind == status_kind::ok);
    CHECK(st.text.empty());

    REQUIRE(parse_status_line("-ERR", false, 0, st).ok());
    CHECK(st.kind == status_kind::err);
    CHECK(st.text.empty());

    REQUIRE(
        parse_status_line("-ERR [IN-USE] Do you have another POP session running?", false, 0, st)
            .ok());
    CHECK(st.kind == status_kind::err);
    CHECK(st.code == "IN-USE");
    CHECK(st.text == "Do you have another POP session running?");

    REQUIRE(parse_status_line("-ERR [SYS/TEMP] try later", false, 0, st).ok());
    CHECK(st.code == "SYS/TEMP");
    CHECK(st.text == "try later");

    REQUIRE(parse_status_line("-ERR [AUTH] bad password", false, 0, st).ok());
    CHECK(st.code == "AUTH");

    // Brackets that are not a response code stay text.
    REQUIRE(parse_status_line("-ERR [not a code] x", false, 0, st).ok());
    CHECK(st.code.empty());
    CHECK(st.text == "[not a code] x");

    // Lenient on case.
    REQUIRE(parse_status_line("+ok fine", false, 0, st).ok());
    CHECK(st.kind == status_kind::ok);
}

TEST_CASE("pop3 status line: continuation only in SASL mode, malformed names bytes and offset",
          "[pop3][reply]") {
    status_line st;
    REQUIRE(parse_status_line("+ dXNlcg==", true, 0, st).ok());
    CHECK(st.kind == status_kind::continuation);
    CHECK(st.text == "dXNlcg==");
    REQUIRE(parse_status_line("+", true, 0, st).ok());
    CHECK(st.kind == status_kind::continuation);
    CHECK(st.text.empty());

    auto e = parse_status_line("+ abc", false, 17, st);
    CHECK(e.code == mv::errc::protocol);
    CHECK(e.message.find("offset 17") != std::string::npos);
    CHECK(e.message.find("\"+ abc\"") != std::string::npos);

    e = parse_status_line("* OK IMAP4rev1\x01", false, 3, st);
    CHECK(e.code == mv::errc::protocol);
    CHECK(e.message.find("\\x01") != std::string::npos);
    CHECK(parse_status_line("+OKAY", false, 0, st).code == mv::errc::protocol);
    CHECK(parse_status_line("", false, 0, st).code == mv::errc::protocol);
}

TEST_CASE("pop3 reply_reader: single-line reply split at every byte, offsets advance",
          "[pop3][reply]") {
    const std::string wire = "+OK [RESP] hello world\r\n-ERR nope\r\n";
    for (std::size_t s = 0; s <= wire.size(); ++s) {
        limits l;
        reply_reader rd(l);
        std::string_view in(wire);
        std::vector<status_line> got;
        std::size_t chunk_end = s;
        std::string_view first = in.substr(0, chunk_end), second = in.substr(chunk_end);
        rd.start(reply_mode::single, nullptr, 0);
        for (std::string_view part : {first, second}) {
            while (!part.empty()) {
                auto r = rd.feed(part);
                REQUIRE(r.err.ok());
                part.remove_prefix(r.consumed);
                if (r.event == reply_event::complete) {
                    got.push_back(rd.status());
                    rd.start(reply_mode::single, nullptr, 0);
                }
            }
        }
        REQUIRE(got.size() == 2);
        CHECK(got[0].code == "RESP");
        CHECK(got[0].text == "hello world");
        CHECK(got[1].kind == status_kind::err);
        CHECK(rd.offset() == wire.size());
    }
}

TEST_CASE("pop3 reply_reader: multi-line with -ERR has no body", "[pop3][reply]") {
    limits l;
    reply_reader rd(l);
    collect c;
    rd.start(reply_mode::multi, &c, 100);
    auto r = rd.feed("-ERR no such message\r\n+OK next");
    CHECK(r.event == reply_event::complete);
    CHECK(r.consumed == 22);
    CHECK(rd.status().kind == status_kind::err);
    CHECK(c.out.empty());
}

TEST_CASE("pop3 reply_reader: status line cap is mv::errc::limit", "[pop3][reply]") {
    limits l;
    l.max_line = 16;
    reply_reader rd(l);
    rd.start(reply_mode::single, nullptr, 0);
    auto r = rd.feed("+OK 0123456789ab");  // 16 bytes, no LF yet: still fine
    CHECK(r.event == reply_event::need_more);
    r = rd.feed("c");
    CHECK(r.event == reply_event::failed);
    CHECK(r.err.code == mv::errc::limit);

    reply_reader ok(l);
    ok.start(reply_mode::single, nullptr, 0);
    r = ok.feed("+OK 0123456789ab\r\n");  // exactly at the cap
    CHECK(r.event == reply_event::complete);
}

TEST_CASE("pop3 dot-unstuffing: terminator split at every byte", "[pop3][reply]") {
    SECTION("plain lines") {
        const std::string body = "Subject: hi\r\n\r\nline one\r\nline two\r\n";
        const std::string wire = body + ".\r\n";
        check_every_split(wire, body, wire.size());
    }
    SECTION("stuffed lines: \"..\", \"...\", a lone \".\" and \".\\r\\n\" inside the message") {
        const std::string wire =
            "..\r\n"         // a line that is just "."
            "...hidden\r\n"  // "..hidden"
            "a.b\r\n"        // dot not at line start
            "..\r\n.."       // "." then a line starting with "." split weirdly
            "x\r\n"
            "\r\n"
            ".\r\n";
        const std::string expected = ".\r\n..hidden\r\na.b\r\n.\r\n.x\r\n\r\n";
        check_every_split(wire, expected, wire.size());
    }
    SECTION("empty message") {
        check_every_split(".\r\n", "", 3);
    }
    SECTION("message of one empty line") {
        check_every_split("\r\n.\r\n", "\r\n", 5);
    }
    SECTION("message not ending in CRLF: the CRLF the server adds is kept") {
        // The server stores "abc" and must send "abc\r\n.\r\n"; nothing on the wire says the CRLF
        // was added, so the archive gets "abc\r\n" (and the same for every client).
        check_every_split("abc\r\n.\r\n", "abc\r\n", 8);
    }
    SECTION("bytes after the terminator are not consumed") {
        const std::string wire = "x\r\n.\r\n+OK next\r\n";
        check_every_split(wire, "x\r\n", 6);
    }
    SECTION("\".\\r\" not followed by LF and \".x\" are passed through") {
        const std::string wire = ".\rz\r\n.x\r\n.\r\n";
        check_every_split(wire, ".\rz\r\n.x\r\n", wire.size());
    }
    SECTION("bare LF line ends: \".\\n\" is content, not the terminator") {
        const std::string wire = "a\n.\n..b\n.\r\n";
        check_every_split(wire, "a\n.\n.b\n", wire.size());
    }
    SECTION("binary bytes and NUL pass through") {
        std::string body("\0\x01\xff\r\n\x80.\r\n", 9);
        check_every_split(body + ".\r\n", body, body.size() + 3);
    }
}

TEST_CASE("pop3 dot-unstuffing: runs are slices of the input, not per-byte calls",
          "[pop3][reply]") {
    std::string body;
    for (int i = 0; i < 100; ++i) body += "a line of text that is not short at all\r\n";
    multiline_decoder d;
    collect c;
    auto r = d.feed(body + ".\r\n", c);
    CHECK(d.done());
    CHECK(r.consumed == body.size() + 3);
    CHECK(c.out == body);
    CHECK(c.calls == 100);  // one run per line (the decoder stops at each LF to look at the next)
}

TEST_CASE("pop3 dot-unstuffing: size cap is mv::errc::limit and nothing past it is delivered",
          "[pop3][reply]") {
    multiline_decoder d(10);
    collect c;
    auto r = d.feed("0123456789\r\n.\r\n", c);
    CHECK(r.err.code == mv::errc::limit);
    CHECK(c.out.empty());
    CHECK(r.err.message.find("10 bytes") != std::string::npos);

    multiline_decoder exact(5);
    collect c2;
    r = exact.feed("abc\r\n.\r\n", c2);
    CHECK(r.err.ok());
    CHECK(exact.done());
    CHECK(c2.out == "abc\r\n");
}

TEST_CASE("pop3 line_splitter: lines across chunks, cap", "[pop3][reply]") {
    line_splitter sp(8);
    std::vector<std::string> lines;
    auto h = [&](std::string_view l) -> mv::error {
        lines.emplace_back(l);
        return {};
    };
    REQUIRE(sp.feed("1 10\r", h).ok());
    REQUIRE(sp.feed("\n2 2", h).ok());
    REQUIRE(!sp.clean());
    REQUIRE(sp.feed("0\r\n", h).ok());
    CHECK(sp.clean());
    CHECK(lines == std::vector<std::string>{"1 10", "2 20"});
    CHECK(sp.feed("123456789\r\n", h).code == mv::errc::limit);
}

TEST_CASE("pop3 parsers: STAT, LIST, UIDL lines", "[pop3][parse]") {
    stat_result st;
    REQUIRE(parse_stat("7 1800662", st).ok());
    CHECK(st.count == 7);
    CHECK(st.size == 1800662);
    CHECK(parse_stat("7", st).code == mv::errc::protocol);
    CHECK(parse_stat("seven 1800662", st).code == mv::errc::protocol);
    CHECK(parse_stat("7 #octets", st).code == mv::errc::protocol);

    list_entry le;
    REQUIRE(parse_list_line("3 1026", le).ok());
    CHECK(le.msgno == 3);
    CHECK(le.size == 1026);
    CHECK(parse_list_line("0 1", le).code == mv::errc::protocol);
    CHECK(parse_list_line("-1 1", le).code == mv::errc::protocol);
    CHECK(parse_list_line("1 ten-twenty-four", le).code == mv::errc::protocol);

    uidl_entry ue;
    REQUIRE(parse_uidl_line("2 QhdPYR:00WBw1Ph7x7", ue).ok());
    CHECK(ue.msgno == 2);
    CHECK(ue.uid == "QhdPYR:00WBw1Ph7x7");
    CHECK(parse_uidl_line("2", ue).code == mv::errc::protocol);
    CHECK(parse_uidl_line("2 a b", ue).code == mv::errc::protocol);
    CHECK(parse_uidl_line("2 " + std::string(71, 'x'), ue).code == mv::errc::protocol);
    CHECK(parse_uidl_line("2 " + std::string(70, 'x'), ue).ok());
}

TEST_CASE("pop3 APOP: timestamp and RFC 1939 digest", "[pop3][parse]") {
    CHECK(find_apop_timestamp("POP3 server ready <1896.697170952@dbc.mycorp.com>") ==
          "<1896.697170952@dbc.mycorp.com>");
    CHECK(
        find_apop_timestamp("Gpop ready for requests from 24.91.170.86 hv19mb95710270qab").empty());
    CHECK(find_apop_timestamp("a <b c> then <x@y>") == "<x@y>");
    // MD5 of timestamp + secret, reference values computed with coreutils md5sum.
    CHECK(apop_digest("<1896.697170952@dbc.mycorp.com>", "tanstaaf") ==
          "ef54fd0a88bf32b86da97ced8d0a60f3");
    CHECK(apop_digest("", "") == "d41d8cd98f00b204e9800998ecf8427e");
}

TEST_CASE("pop3 SASL helpers: base64 and initial responses", "[pop3][parse]") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    std::string out;
    REQUIRE(base64_decode("Zm9vYg==", out));
    CHECK(out == "foob");
    REQUIRE(base64_decode("Zm9vYmE=", out));
    CHECK(out == "fooba");
    CHECK_FALSE(base64_decode("Zm9", out));
    CHECK_FALSE(base64_decode("Zm9!", out));
    CHECK(sasl_plain("", "tim", "tanstaaftanstaaf") == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    REQUIRE(base64_decode(sasl_xoauth2("someone@example.com", "ya29.tok"), out));
    CHECK(out ==
          "user=someone@example.com\x01"
          "auth=Bearer ya29.tok\x01\x01");
}

TEST_CASE("pop3 CAPA lines", "[pop3][parse]") {
    capabilities c;
    for (auto l :
         {"TOP", "user", "SASL plain XOAUTH2", "RESP-CODES", "PIPELINING", "EXPIRE 31 USER",
          "LOGIN-DELAY 300", "IMPLEMENTATION Zimbra Inc", "STLS", "X-UNKNOWN arg"})
        parse_capa_line(l, c);
    CHECK(c.top);
    CHECK(c.user);
    CHECK(c.pipelining);
    CHECK(c.resp_codes);
    CHECK(c.stls);
    CHECK_FALSE(c.uidl);
    CHECK(c.has_sasl("plain"));
    CHECK(c.has_sasl("XOAUTH2"));
    CHECK_FALSE(c.has_sasl("LOGIN"));
    CHECK(c.expire == "31 USER");
    CHECK(c.login_delay == "300");
    CHECK(c.implementation == "Zimbra Inc");
    CHECK(c.lines.size() == 10);
}
