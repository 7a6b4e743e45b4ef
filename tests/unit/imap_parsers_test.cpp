#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "imap/framer.hpp"
#include "imap/mutf7.hpp"
#include "imap/parsers.hpp"
#include "imap/uid_set.hpp"
#include "imap/writer.hpp"

using namespace mv::imap;

namespace {

// Frames and parses one response; keeps the framer alive for the views.
struct parsed {
    framer f;
    response r;
    explicit parsed(const std::string& in) {
        std::string_view v = in;
        REQUIRE(f.feed(v) == framer::status::complete);
        auto e = parse_response(f.current(), r);
        INFO(e.message);
        REQUIRE(e.ok());
    }
};

}  // namespace

TEST_CASE("imap parsers: capability in data and response code", "[imap][parsers]") {
    parsed a("* CAPABILITY IMAP4rev1 literal+ AUTH=PLAIN\r\n");
    auto c = parse_capability_values(a.r.args);
    CHECK(c.has("LITERAL+"));
    CHECK(c.has_auth("plain"));
    CHECK_FALSE(c.has("IDLE"));
    parsed b("* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n");
    CHECK(parse_capability_values(b.r.code_args).has("IDLE"));
    parsed e("* ENABLED CONDSTORE qresync\r\n");
    CHECK(parse_enabled(e.r) == std::vector<std::string>{"CONDSTORE", "QRESYNC"});
    parsed i("* ID (\"name\" \"Dovecot\" \"version\" NIL)\r\n");
    auto id = parse_id(i.r);
    REQUIRE(id.size() == 2);
    CHECK(id[0].second == "Dovecot");
    CHECK(id[1].second.empty());
}

TEST_CASE("imap parsers: LIST and STATUS", "[imap][parsers]") {
    list_entry l;
    parsed a("* LIST (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"\r\n");
    REQUIRE(parse_list(a.r, l).ok());
    CHECK(l.delimiter == '/');
    CHECK(l.name == "[Gmail]/Sent Mail");
    CHECK(l.has_attribute("\\sent"));
    parsed b("* LIST () NIL {7}\r\nFolder1\r\n");
    REQUIRE(parse_list(b.r, l).ok());
    CHECK(l.delimiter == 0);
    CHECK(l.name == "Folder1");
    parsed c("* LIST (\\Noselect) \".\" &AMk-t&AOk-\r\n");
    REQUIRE(parse_list(c.r, l).ok());
    CHECK(decode_mailbox_name(l.name, false) == "\xC3\x89t\xC3\xA9");
    status_info s;
    parsed d(
        "* STATUS {19}\r\nLiteral Folder Name (MESSAGES 60 UIDNEXT 7 HIGHESTMODSEQ "
        "99999999999)\r\n");
    REQUIRE(parse_status(d.r, s).ok());
    CHECK(s.mailbox == "Literal Folder Name");
    CHECK(s.messages == 60u);
    CHECK(s.uidnext == 7u);
    CHECK(s.highestmodseq == 99999999999u);
    parsed e("* STATUS x (MESSAGES abc)\r\n");
    CHECK(parse_status(e.r, s).code == mv::errc::protocol);
}

TEST_CASE("imap parsers: SELECT responses", "[imap][parsers]") {
    mailbox_state st;
    const char* lines[] = {"* FLAGS (\\Seen \\Deleted)\r\n",
                           "* 8 EXISTS\r\n",
                           "* 1 RECENT\r\n",
                           "* OK [UNSEEN 3] x\r\n",
                           "* OK [PERMANENTFLAGS (\\Seen \\*)] x\r\n",
                           "* OK [UIDVALIDITY 1436832084] x\r\n",
                           "* OK [UIDNEXT 9] x\r\n",
                           "* OK [HIGHESTMODSEQ 12345678901] x\r\n",
                           "A1 OK [READ-ONLY] done\r\n"};
    for (auto l : lines) {
        parsed p(l);
        CHECK(apply_select_response(p.r, st));
    }
    CHECK(st.flags.size() == 2);
    CHECK(st.exists == 8u);
    CHECK(st.recent == 1u);
    CHECK(st.unseen == 3u);
    CHECK(st.permanent_flags.size() == 2);
    CHECK(st.uidvalidity == 1436832084u);
    CHECK(st.uidnext == 9u);
    CHECK(st.highestmodseq == 12345678901u);
    CHECK(st.read_only);
    parsed n("* OK [NOMODSEQ] x\r\n");
    CHECK(apply_select_response(n.r, st));
    CHECK(st.nomodseq);
    parsed u("* OK [WHATEVER 1 2] x\r\n");
    CHECK_FALSE(apply_select_response(u.r, st));
}

TEST_CASE("imap parsers: FETCH items", "[imap][parsers]") {
    parsed p(
        "* 12 FETCH (UID 4827 FLAGS (\\Seen $Label1) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
        "RFC822.SIZE 4286 MODSEQ (12121231000) X-GM-MSGID 1278455344230334865 X-GM-THRID "
        "1266894439832287888 X-GM-LABELS (\\Inbox \"Custom Label\") ENVELOPE (\"date\" {3}\r\n"
        "sub NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL "
        "\"7BIT\" 3 1) BODY[HEADER.FIELDS (FROM TO)]<0> {6}\r\nFrom:\n BODY[] NIL)\r\n");
    fetch_attrs f;
    auto e = parse_fetch(p.r, f);
    INFO(e.message);
    REQUIRE(e.ok());
    CHECK(f.seq == 12u);
    CHECK(f.uid == 4827u);
    REQUIRE(f.flags);
    CHECK(*f.flags == std::vector<std::string>{"\\Seen", "$Label1"});
    CHECK(f.internaldate == 837596665);  // 1996-07-17 09:44:25 UTC
    CHECK(f.rfc822_size == 4286u);
    CHECK(f.modseq == 12121231000u);
    CHECK(f.gm_msgid == 1278455344230334865u);
    CHECK(f.gm_thrid == 1266894439832287888u);
    REQUIRE(f.gm_labels);
    CHECK((*f.gm_labels)[1] == "Custom Label");
    REQUIRE(f.bodies.size() == 2);
    CHECK(f.bodies[0].section == "HEADER.FIELDS (FROM TO)");
    CHECK(f.bodies[0].origin == 0u);
    CHECK(f.bodies[0].data == "From:\n");
    CHECK(f.bodies[1].nil);
    parsed bad("* 1 FETCH (UID x)\r\n");
    CHECK(parse_fetch(bad.r, f).code == mv::errc::protocol);
}

TEST_CASE("imap parsers: INTERNALDATE round trip", "[imap][parsers]") {
    CHECK(parse_internaldate(" 1-Jan-1970 00:00:00 +0000") == 0);
    CHECK(parse_internaldate("01-Jan-1970 01:00:00 +0100") == 0);
    CHECK(parse_internaldate("31-Dec-1969 23:00:00 -0100") == 0);
    CHECK_FALSE(parse_internaldate("32-Jan-1970 00:00:00 +0000"));
    CHECK_FALSE(parse_internaldate("01-Foo-1970 00:00:00 +0000"));
    CHECK(format_internaldate(837596665) == "17-Jul-1996 09:44:25 +0000");
    CHECK(parse_internaldate(format_internaldate(1700000000)) == 1700000000);
}

TEST_CASE("imap parsers: SEARCH, ESEARCH, VANISHED, UIDPLUS codes", "[imap][parsers]") {
    search_result s;
    parsed a("* SEARCH 2 3 6 (MODSEQ 917162500)\r\n");
    REQUIRE(parse_search(a.r, s).ok());
    CHECK(s.ids == std::vector<std::uint32_t>{2, 3, 6});
    CHECK(s.modseq == 917162500u);
    parsed b("* ESEARCH (TAG \"A0003\") UID MIN 2 MAX 13 ALL 2:4,9 COUNT 4 RELEVANCY (1 2)\r\n");
    REQUIRE(parse_esearch(b.r, s).ok());
    CHECK(s.tag == "A0003");
    CHECK(s.uid);
    CHECK(s.min == 2u);
    CHECK(s.max == 13u);
    CHECK(s.count == 4u);
    CHECK(s.ids == std::vector<std::uint32_t>{2, 3, 4, 9});
    vanished_info v;
    parsed c("* VANISHED (EARLIER) 300:310,405,411\r\n");
    REQUIRE(parse_vanished(c.r, v).ok());
    CHECK(v.earlier);
    CHECK(v.uids.count() == 13);
    parsed d("A1 OK [APPENDUID 38505 3955] done\r\n");
    auto au = parse_appenduid(d.r);
    REQUIRE(au);
    CHECK(au->uidvalidity == 38505u);
    CHECK(au->uids.ranges == std::vector<uid_range>{{3955, 3955}});
    parsed e("A1 OK [COPYUID 38505 304,319:320 3956:3958] done\r\n");
    auto cu = parse_copyuid(e.r);
    REQUIRE(cu);
    CHECK(cu->source.expand() == std::vector<std::uint32_t>{304, 319, 320});
    CHECK(cu->dest.expand() == std::vector<std::uint32_t>{3956, 3957, 3958});
    parsed f("A1 OK [MODIFIED 7,9] done\r\n");
    CHECK(parse_modified(f.r)->expand() == std::vector<std::uint32_t>{7, 9});
}

TEST_CASE("imap uid sets: compress, parse, split", "[imap][uidset]") {
    auto s = make_uid_set({12, 1, 2, 3, 4, 5, 7, 9, 10, 11, 5});
    CHECK(format_uid_set(s) == "1:5,7,9:12");
    CHECK(parse_uid_set("1:5,7,12:9") == uid_set{{{1, 5}, {7, 7}, {9, 12}}});
    CHECK_FALSE(parse_uid_set("1,,2"));
    CHECK_FALSE(parse_uid_set("1:*"));
    CHECK_FALSE(parse_uid_set(""));
    std::vector<std::uint32_t> odd;
    for (std::uint32_t u = 1; u < 20000; u += 2) odd.push_back(u);
    auto parts = split_uid_set(make_uid_set(odd), 1000);
    CHECK(parts.size() > 50);
    std::vector<std::uint32_t> back;
    for (auto& p : parts) {
        CHECK(p.size() <= 1000);
        auto x = parse_uid_set(p)->expand();
        back.insert(back.end(), x.begin(), x.end());
    }
    CHECK(back == odd);
}

TEST_CASE("imap modified UTF-7", "[imap][mutf7]") {
    CHECK(encode_mutf7("INBOX") == "INBOX");
    CHECK(encode_mutf7("a&b") == "a&-b");
    CHECK(
        encode_mutf7("~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E") ==
        "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    CHECK(decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-") ==
          "~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
    CHECK(decode_mutf7("&2D3eAA-") == "\xF0\x9F\x98\x80");  // U+1F600 via surrogates
    CHECK(encode_mutf7("\xF0\x9F\x98\x80") == "&2D3eAA-");
    CHECK_FALSE(decode_mutf7("&Jjo"));
    CHECK_FALSE(decode_mutf7("&AGE-"));  // 'a' must not be encoded
    CHECK_FALSE(encode_mutf7("\xC3"));
    CHECK(decode_mailbox_name("&Jjo-!", false) == "\xE2\x98\xBA!");
    CHECK(decode_mailbox_name("&Jjo-!", true) == "&Jjo-!");
}

TEST_CASE("imap writer: strings, literals, mailbox names", "[imap][writer]") {
    writer_caps sync;
    auto p = command_builder(sync, "A0001", "LOGIN").astring("joe").astring("p\"w d").finish();
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "A0001 LOGIN joe \"p\\\"w d\"\r\n");
    p = command_builder(sync, "A0002", "LOGIN").astring("joe").astring("a\r\nb").finish();
    REQUIRE(p.size() == 2);
    CHECK(p[0] == "A0002 LOGIN joe {4}\r\n");
    CHECK(p[1] == "a\r\nb\r\n");
    writer_caps plus{literal_mode::plus, false};
    p = command_builder(plus, "A3", "LOGIN").astring("\xC3\xA9").astring("").finish();
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "A3 LOGIN {2+}\r\n\xC3\xA9 \"\"\r\n");
    writer_caps minus{literal_mode::minus, false};
    std::string big(5000, 'x');
    p = command_builder(minus, "A4", "APPEND").mailbox("INBOX").literal(big).finish();
    CHECK(p.size() == 2);  // LITERAL-: over 4096 bytes must synchronize
    writer_caps utf8{literal_mode::sync, true};
    p = command_builder(utf8, "A5", "SELECT").mailbox("Entw\xC3\xBC rfe").finish();
    CHECK(p[0] == "A5 SELECT \"Entw\xC3\xBC rfe\"\r\n");
    p = command_builder(sync, "A6", "SELECT")
            .mailbox(
                "Entw\xC3\xBC"
                "rfe")
            .finish();
    CHECK(p[0] == "A6 SELECT Entw&APw-rfe\r\n");
    p = command_builder(sync, "A7", "SELECT").mailbox("inbox").finish();
    CHECK(p[0] == "A7 SELECT INBOX\r\n");
    CHECK(make_tag(1) == "A0001");
    CHECK(make_tag(12345) == "A12345");
}

TEST_CASE("INTERNALDATE: the zone as sent is kept and written back") {
    using namespace mv::imap;
    CHECK(parse_internaldate_offset("17-Jul-1996 02:44:25 -0700") == -420);
    CHECK(parse_internaldate_offset(" 1-Jan-2024 10:00:00 +0530") == 330);
    CHECK(parse_internaldate_offset("01-Jan-2024 10:00:00 +0000") == 0);
    CHECK_FALSE(parse_internaldate_offset("01-Jan-2024 10:00:00 0000"));
    // The same moment in the zone it came in: byte for byte what the server sent.
    const auto t = parse_internaldate("17-Jul-1996 02:44:25 -0700");
    REQUIRE(t);
    CHECK(format_internaldate(*t, -420) == "17-Jul-1996 02:44:25 -0700");
    CHECK(format_internaldate(*t) == "17-Jul-1996 09:44:25 +0000");
    CHECK(format_internaldate(*t, 330) == "17-Jul-1996 15:14:25 +0530");
    // Across a day boundary, before the epoch, and a zone that cannot be written (UTC then).
    CHECK(format_internaldate(0, -60) == "31-Dec-1969 23:00:00 -0100");
    CHECK(format_internaldate(0, 24 * 60) == "01-Jan-1970 00:00:00 +0000");
    for (int off : {-720, -330, 0, 60, 345, 840})
        CHECK(parse_internaldate(format_internaldate(1700000000, off)) == 1700000000);
}
