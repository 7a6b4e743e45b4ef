// SMTP reply framing (RFC 5321 §4.2), enhanced status codes (RFC 3463), caps, EHLO keywords and
// dot-stuffing: pure functions, fed whole and split at every byte.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "smtp/operations.hpp"
#include "smtp/reply.hpp"

using namespace mv::smtp;

namespace {

// Feeds `wire` split at `split` (and then whatever is left, reply by reply); returns the replies.
std::vector<reply> read_all(const std::string& wire, std::size_t split, mv::error& err,
                            const limits& lim = {}) {
    reply_reader rd(lim);
    std::vector<reply> out;
    std::vector<std::string> pieces;
    if (split > 0 && split < wire.size()) {
        pieces.push_back(wire.substr(0, split));
        pieces.push_back(wire.substr(split));
    } else {
        pieces.push_back(wire);
    }
    for (const auto& p : pieces) {
        std::string_view in = p;
        while (!in.empty()) {
            auto r = rd.feed(in);
            in.remove_prefix(r.consumed);
            if (r.event == reply_event::failed) {
                err = r.err;
                return out;
            }
            if (r.event == reply_event::complete) out.push_back(rd.current());
            if (r.event == reply_event::need_more) REQUIRE(in.empty());
        }
    }
    return out;
}

}  // namespace

TEST_CASE("smtp reply: single and multi-line, split at every byte", "[smtp][reply]") {
    const std::string wire =
        "220 mx.example.org ESMTP ready\r\n"
        "250-mx.example.org hello\r\n250-SIZE 1000\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        "550 5.7.1 Relaying denied\r\n"
        "354\r\n"
        "250 2.0.0\r\n"
        "421-4.3.2 going\n421 4.3.2 down\n";
    for (std::size_t split = 0; split < wire.size(); ++split) {
        INFO("split " << split);
        mv::error err;
        auto got = read_all(wire, split, err);
        REQUIRE(err.message == "");
        REQUIRE(got.size() == 6);
        CHECK(got[0].code == 220);
        CHECK(got[0].lines == std::vector<std::string>{"mx.example.org ESMTP ready"});
        CHECK_FALSE(got[0].enhanced.present());
        CHECK(got[1].code == 250);
        CHECK(got[1].lines.size() == 4);
        CHECK(got[1].lines[3] == "8BITMIME");
        CHECK(got[2].code == 550);
        CHECK(got[2].permanent());
        CHECK(got[2].enhanced.str() == "5.7.1");
        CHECK(got[2].lines[0] == "Relaying denied");
        CHECK(got[2].summary() == "550 5.7.1 Relaying denied");
        CHECK(got[3].code == 354);
        CHECK(got[3].intermediate());
        CHECK(got[3].lines == std::vector<std::string>{""});
        CHECK(got[4].enhanced.str() == "2.0.0");
        CHECK(got[4].summary() == "250 2.0.0");
        CHECK(got[5].transient());
        CHECK(got[5].summary() == "421 4.3.2 going / down");
    }
}

TEST_CASE("smtp reply: enhanced codes", "[smtp][reply]") {
    enhanced_code ec;
    CHECK(parse_enhanced("5.1.1 no such user", ec) == 6);
    CHECK(ec.str() == "5.1.1");
    CHECK(parse_enhanced("2.0.0", ec) == 5);
    CHECK(parse_enhanced("4.123.999 x", ec) == 10);
    CHECK(ec.subject == 123);
    CHECK(parse_enhanced("4.1234.1 x", ec) == 0);
    CHECK(parse_enhanced("3.1.1 x", ec) == 0);  // class 3 does not exist
    CHECK(parse_enhanced("5.1.1x", ec) == 0);
    CHECK(parse_enhanced("5.1. x", ec) == 0);
    CHECK(parse_enhanced("mx.example.org", ec) == 0);
    // A code whose class does not match the reply's first digit is free text.
    mv::error err;
    auto got = read_all("250 5.1.1 odd\r\n", 0, err);
    REQUIRE(got.size() == 1);
    CHECK_FALSE(got[0].enhanced.present());
    CHECK(got[0].lines[0] == "5.1.1 odd");
}

TEST_CASE("smtp reply: malformed input names the offset", "[smtp][reply]") {
    for (std::string bad : {"hello\r\n", "25\r\n", "2500 x\r\n", "650 x\r\n", "250_x\r\n",
                            "250-a\r\n251 b\r\n", "a50 x\r\n"}) {
        INFO(bad);
        mv::error err;
        auto got = read_all("220 ok\r\n" + bad, 0, err);
        CHECK(got.size() == 1);
        CHECK(err.code == mv::errc::protocol);
        // The offset of the line at fault (the second line of the multi-line reply).
        CHECK(err.message.find(bad.find('-') == 3 ? "offset 15" : "offset 8") != std::string::npos);
    }
}

TEST_CASE("smtp reply: caps on line length, line count and reply size", "[smtp][reply]") {
    limits lim;
    lim.max_line = 20;
    lim.max_lines = 3;
    lim.max_reply = 60;
    mv::error err;
    // Exactly at the line cap (CRLF not counted) is fine; one more byte is not.
    auto ok = read_all("250 " + std::string(16, 'x') + "\r\n", 0, err, lim);
    CHECK(err.message == "");
    CHECK(ok.size() == 1);
    for (std::size_t split = 1; split < 24; ++split) {
        err = {};
        read_all("250 " + std::string(17, 'x') + "\r\n", split, err, lim);
        CHECK(err.code == mv::errc::limit);
    }
    err = {};
    read_all("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", 0, err, lim);
    CHECK(err.code == mv::errc::limit);
    CHECK(err.message.find("more than 3 lines") != std::string::npos);
    lim.max_lines = 100;
    err = {};
    std::string big;
    for (int i = 0; i < 8; ++i) big += "250-0123456789\r\n";
    read_all(big + "250 end\r\n", 0, err, lim);
    CHECK(err.code == mv::errc::limit);
    CHECK(err.message.find("larger than 60") != std::string::npos);
    // An endless line without LF hits the cap, not memory.
    reply_reader rd(lim);
    auto r = rd.feed("250 " + std::string(1000, 'y'));
    CHECK(r.event == reply_event::failed);
    CHECK(r.err.code == mv::errc::limit);
}

TEST_CASE("smtp EHLO keywords", "[smtp][reply]") {
    reply r;
    r.code = 250;
    r.lines = {"mx.example.org hello",
               "PIPELINING",
               "SIZE 36700160",
               "auth login PLAIN",
               "AUTH=XOAUTH2",
               "8BITMIME",
               "STARTTLS",
               "ENHANCEDSTATUSCODES",
               "SMTPUTF8"};
    auto c = parse_ehlo(r);
    CHECK(c.esmtp);
    CHECK(c.domain == "mx.example.org hello");
    CHECK(c.pipelining);
    CHECK(c.size);
    CHECK(c.max_size == 36700160);
    CHECK(c.auth == std::vector<std::string>{"LOGIN", "PLAIN", "XOAUTH2"});
    CHECK(c.has_auth("plain"));
    CHECK(c.eightbitmime);
    CHECK(c.starttls);
    CHECK(c.enhanced_status);
    CHECK(c.smtputf8);
    r.lines = {"x", "SIZE", "SIZE abc"};
    c = parse_ehlo(r);
    CHECK(c.size);
    CHECK(c.max_size == 0);
}

TEST_CASE("smtp dot-stuffing and CRLF normalisation, in any chunks", "[smtp][reply]") {
    struct row {
        std::string in, out;
    };
    std::vector<row> rows{
        {"", ".\r\n"},
        {"a", "a\r\n.\r\n"},
        {"a\r\n", "a\r\n.\r\n"},
        {".", "..\r\n.\r\n"},
        {"a\n.b\n..c\r\n", "a\r\n..b\r\n...c\r\n.\r\n"},
        {"x\ry\r", "x\r\ny\r\n.\r\n"},
        {"l1\r\n.\r\nl3", "l1\r\n..\r\nl3\r\n.\r\n"},
        {"a.b\r\n\r\n.", "a.b\r\n\r\n..\r\n.\r\n"},
    };
    for (const auto& r : rows) {
        for (std::size_t chunk = 1; chunk <= r.in.size() + 1; ++chunk) {
            INFO(r.in << " chunk " << chunk);
            dot_stuffer st;
            std::string out;
            for (std::size_t i = 0; i < r.in.size(); i += chunk)
                st.feed(std::string_view(r.in).substr(i, chunk), out);
            st.finish(out);
            CHECK(out == r.out);
        }
    }
}
