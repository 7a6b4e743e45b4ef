#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "imap/framer.hpp"
#include "imap/syntax.hpp"

using namespace mv::imap;

namespace {

struct collect_sink : literal_sink {
    bool accept = true;
    std::vector<std::uint64_t> sizes;
    std::string data;
    int ends = 0;
    std::string last_prefix;
    bool literal_begin(std::string_view prefix, std::uint64_t size) override {
        last_prefix = std::string(prefix);
        if (!accept) return false;
        sizes.push_back(size);
        return true;
    }
    void literal_data(std::string_view b) override { data.append(b); }
    void literal_end() override { ++ends; }
};

// Feeds `in` in chunks of `chunk` bytes; returns the texts of the complete responses.
std::vector<std::string> frame_all(std::string_view in, std::size_t chunk, framer& f,
                                   mv::error* err = nullptr) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < in.size(); i += chunk) {
        std::string_view part = in.substr(i, chunk);
        while (!part.empty()) {
            auto st = f.feed(part);
            if (st == framer::status::error) {
                if (err) *err = f.error();
                return out;
            }
            if (st == framer::status::complete) out.push_back(f.current().text);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("imap framer: lines, literals and chunking at every size", "[imap][framer]") {
    const std::string in =
        "* OK [CAPABILITY IMAP4rev1] ready\r\n"
        "* 1 FETCH (UID 7 BODY[] {11}\r\nhello\r\nworld FLAGS (\\Seen))\r\n"
        "* LIST () \"/\" {5+}\r\nINBOX\r\n"
        "A0001 OK done\r\n";
    for (std::size_t chunk = 1; chunk <= in.size(); ++chunk) {
        framer f;
        auto r = frame_all(in, chunk, f);
        REQUIRE(r.size() == 4);
        CHECK(r[0] == "* OK [CAPABILITY IMAP4rev1] ready");
        CHECK(r[1] == "* 1 FETCH (UID 7 BODY[] {11}hello\r\nworld FLAGS (\\Seen))");
        CHECK(r[2] == "* LIST () \"/\" {5+}INBOX");
        CHECK(r[3] == "A0001 OK done");
        CHECK(f.offset() == in.size());
    }
}

TEST_CASE("imap framer: literals stream to the sink and are not buffered", "[imap][framer]") {
    const std::string body(100000, 'x');
    const std::string in = "* 3 FETCH (BODY[] {100000}\r\n" + body + " UID 9)\r\n";
    for (std::size_t chunk : {1u, 7u, 4096u, 200000u}) {
        framer f;
        collect_sink s;
        f.set_sink(&s);
        std::vector<std::string> texts;
        std::string_view rest = in;
        if (chunk == 1) rest = std::string_view(in).substr(0, 0);  // byte-wise below
        if (chunk == 1) {
            for (char c : in) {
                std::string_view one(&c, 1);
                if (f.feed(one) == framer::status::complete) texts.push_back(f.current().text);
            }
        } else {
            texts = frame_all(in, chunk, f);
        }
        REQUIRE(texts.size() == 1);
        CHECK(texts[0] == "* 3 FETCH (BODY[] {100000} UID 9)");
        CHECK(s.data == body);
        CHECK(s.ends == 1);
        CHECK(s.last_prefix == "* 3 FETCH (BODY[] {100000}");
    }
}

TEST_CASE("imap framer: streamed literal shows in parsed values as streamed", "[imap][framer]") {
    framer f;
    collect_sink s;
    f.set_sink(&s);
    std::string in = "* 3 FETCH (BODY[] {4}\r\nabcd UID 9)\r\n";
    std::string_view v = in;
    REQUIRE(f.feed(v) == framer::status::complete);
    response r;
    REQUIRE(parse_response(f.current(), r).ok());
    REQUIRE(r.args.size() == 1);
    auto& items = r.args[0].items;
    REQUIRE(items.size() == 4);
    CHECK(items[1].k == value::kind::literal);
    CHECK(items[1].streamed);
    CHECK(items[1].literal_size == 4);
    CHECK(items[3].number() == 9u);
}

TEST_CASE("imap framer: bare LF accepted as line end, zero-length literal", "[imap][framer]") {
    framer f;
    auto r = frame_all("* OK hi\n* LIST () NIL {0}\n\nA1 OK x\r\n", 3, f);
    REQUIRE(r.size() == 3);
    CHECK(r[1] == "* LIST () NIL {0}");
}

TEST_CASE("imap framer: status text ending in {n} is not a literal", "[imap][framer]") {
    framer f;
    auto r = frame_all("* OK see {5}\r\nA1 NO bad {3}\r\n+ go {2}\r\n", 5, f);
    REQUIRE(r.size() == 3);
    CHECK(r[0] == "* OK see {5}");
}

TEST_CASE("imap framer: caps give limit errors with offsets", "[imap][framer]") {
    limits lim;
    lim.max_line = 20;
    SECTION("long line") {
        framer f(lim);
        mv::error e;
        frame_all("* OK short\r\n* OK this line is far too long\r\n", 4, f, &e);
        CHECK(e.code == mv::errc::limit);
        CHECK(e.message.find("offset 12") != std::string::npos);
    }
    SECTION("huge literal") {
        lim.max_literal = 1000;
        lim.max_line = 1000;
        framer f(lim);
        mv::error e;
        frame_all("* 1 FETCH (BODY[] {1001}\r\n", 100, f, &e);
        CHECK(e.code == mv::errc::limit);
        CHECK(e.message.find("1001") != std::string::npos);
    }
    SECTION("response size") {
        lim.max_response = 30;
        lim.max_line = 1000;
        framer f(lim);
        mv::error e;
        frame_all("* LIST () NIL {1}\r\nx and more and more and more\r\n", 100, f, &e);
        CHECK(e.code == mv::errc::limit);
    }
    SECTION("inline literal budget") {
        lim.max_inline = 10;
        framer f(lim);
        mv::error e;
        frame_all("* LIST () NIL {11}\r\n", 100, f, &e);
        CHECK(e.code == mv::errc::limit);
    }
}

TEST_CASE("imap framer: malformed input names bytes and offset", "[imap][framer]") {
    SECTION("NUL byte") {
        framer f;
        mv::error e;
        frame_all(std::string("* OK a\r\n* OK b\0c\r\n", 18), 2, f, &e);
        CHECK(e.code == mv::errc::protocol);
        CHECK(e.message.find("offset 14") != std::string::npos);
    }
    SECTION("huge literal size") {
        framer f;
        mv::error e;
        frame_all("* 1 FETCH (BODY[] {99999999999999999999999})\r\n", 9, f, &e);
        // not at line end: a plain line; and at line end:
        framer g;
        frame_all("* 1 FETCH (BODY[] {99999999999999999999999}\r\n", 9, g, &e);
        CHECK(e.code == mv::errc::protocol);
    }
    SECTION("syntax error offset") {
        framer f;
        std::string in = "* OK x\r\n* 1 FETCH (UID 5\r\n";
        auto texts = frame_all(in, in.size(), f);
        REQUIRE(texts.size() == 2);
        response r;
        auto e = parse_response(f.current(), r);
        CHECK(e.code == mv::errc::protocol);
        CHECK(e.message.find("unterminated list at offset 18") != std::string::npos);
    }
}

TEST_CASE("imap syntax: status responses, codes and data", "[imap][syntax]") {
    auto parse = [](std::string in, response& r, framer& f) {
        std::string_view v = in;
        REQUIRE(f.feed(v) == framer::status::complete);
        return parse_response(f.current(), r);
    };
    framer f;
    response r;
    REQUIRE(parse("A0007 NO [TRYCREATE] no such mailbox\r\n", r, f).ok());
    CHECK(r.type == resp_type::tagged);
    CHECK(r.tag == "A0007");
    CHECK(r.status == resp_status::no);
    CHECK(r.has_code("trycreate"));
    CHECK(r.text == "no such mailbox");
    framer f2;
    REQUIRE(parse("* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n", r, f2).ok());
    REQUIRE(r.code_args.size() == 1);
    CHECK(r.code_args[0].items.size() == 2);
    CHECK(r.code_args[0].items[1].str() == "\\*");
    framer f3;
    REQUIRE(
        parse("* 5 FETCH (BODY[HEADER.FIELDS (FROM \"TO\")]<0> \"a\\\"b\" X NIL)\r\n", r, f3).ok());
    CHECK(r.number == 5u);
    CHECK(r.name == "FETCH");
    auto& items = r.args[0].items;
    REQUIRE(items.size() == 4);
    CHECK(items[0].text == "BODY[HEADER.FIELDS (FROM \"TO\")]<0>");
    CHECK(items[1].str() == "a\"b");
    CHECK(items[3].is_nil());
    framer f4;
    REQUIRE(parse("+ \r\n", r, f4).ok());
    CHECK(r.type == resp_type::continuation);
    framer f5;
    CHECK(parse("A1 FETCH x\r\n", r, f5).code == mv::errc::protocol);
    framer f6;  // unknown response with odd syntax is not fatal
    REQUIRE(parse("* THREAD (1 2)(3 4\r\n", r, f6).ok());
    CHECK(r.args.empty());
}
