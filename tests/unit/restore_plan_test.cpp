// The pure decisions of `mailvault restore` (sync/restore_plan.hpp), table-driven.
#include <catch2/catch.hpp>

#include "imap/client.hpp"
#include "scripted_transport.hpp"
#include "sync/restore_plan.hpp"

using namespace mv::sync;
using mv::archive::ledger_row;
using mv::archive::ledger_state;
using mv::archive::sha256;
using mv::archive::sha256_of;

namespace {
restore_item item(std::int64_t id, std::uint64_t size = 100, std::int64_t date = 1000) {
    return {id, sha256_of("m" + std::to_string(id)), size, date};
}
ledger_row row(std::int64_t id, ledger_state st, std::optional<std::uint32_t> v,
               std::optional<std::uint32_t> uid = std::nullopt) {
    ledger_row r;
    r.entry_id = id;
    r.content = sha256_of("m" + std::to_string(id));
    r.state = st;
    r.target_uidvalidity = v;
    r.target_uid = uid;
    return r;
}
}  // namespace

TEST_CASE("restore plan: new entries are appended, confirmed ones skipped, intents resolved") {
    std::vector<restore_item> items = {item(1), item(2), item(3), item(4, 5000)};
    std::vector<ledger_row> rows = {row(1, ledger_state::confirmed, 7, 10),
                                    row(2, ledger_state::intent, 7)};
    auto p = plan_restore_folder(items, rows, 7, 4000);
    REQUIRE(p.size() == 4);
    CHECK(p[0].action == restore_action::already);
    CHECK(p[1].action == restore_action::resolve);
    CHECK(p[2].action == restore_action::append);
    CHECK(p[3].action == restore_action::skip_too_big);
    CHECK(p[3].reason.find("APPENDLIMIT") != std::string::npos);
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(p[i].index == i);
}

TEST_CASE("restore plan: a target folder with a new UIDVALIDITY is re-matched, not re-filled") {
    std::vector<restore_item> items = {item(1), item(2)};
    std::vector<ledger_row> rows = {row(1, ledger_state::confirmed, 7, 10),
                                    row(2, ledger_state::confirmed, 7, 11)};
    auto p = plan_restore_folder(items, rows, 8, std::nullopt);
    for (const auto& x : p) {
        CHECK(x.action == restore_action::resolve);
        CHECK(x.reason.find("UIDVALIDITY") != std::string::npos);
    }
    // Unknown current UIDVALIDITY (dry run of a missing folder): the ledger is believed.
    for (const auto& x : plan_restore_folder(items, rows, std::nullopt, std::nullopt))
        CHECK(x.action == restore_action::already);
}

TEST_CASE("restore plan: a ledger row naming another content is resolved") {
    std::vector<restore_item> items = {item(1)};
    auto r = row(1, ledger_state::confirmed, 7, 10);
    r.content = sha256_of("other");
    auto p = plan_restore_folder(items, std::vector<ledger_row>{r}, 7, std::nullopt);
    CHECK(p[0].action == restore_action::resolve);
    // A confirmed entry over the limit stays "already": the limit only stops new APPENDs.
    auto q =
        plan_restore_folder(std::vector<restore_item>{item(2, 9000)},
                            std::vector<ledger_row>{row(2, ledger_state::confirmed, 7, 3)}, 7, 10);
    CHECK(q[0].action == restore_action::already);
}

TEST_CASE("restore flags: never Recent, Deleted only when asked, refused keywords reported") {
    const std::vector<std::string> f = {"$Work", "\\Deleted", "\\Recent", "\\Seen", "todo"};
    auto all = plan_flags(f, {"\\Seen", "\\Deleted", "\\*"}, true, false);
    CHECK(all.send == std::vector<std::string>{"$Work", "\\Seen", "todo"});
    CHECK(all.refused.empty());
    auto del = plan_flags(f, {"\\*"}, true, true);
    CHECK(del.send == std::vector<std::string>{"$Work", "\\Deleted", "\\Seen", "todo"});
    auto strict = plan_flags(f, {"\\Seen", "\\Deleted", "$work"}, true, false);
    CHECK(strict.send == std::vector<std::string>{"$Work", "\\Seen"});
    CHECK(strict.refused == std::vector<std::string>{"todo"});
    // PERMANENTFLAGS not known: everything but \Recent / \Deleted is sent.
    auto unknown = plan_flags(f, {}, false, false);
    CHECK(unknown.send.size() == 3);
    CHECK(unknown.refused.empty());
}

TEST_CASE("restore folder names: delimiter, namespace prefix, INBOX, map rules, fallbacks") {
    std::vector<folder_map_rule> none;
    CHECK(map_folder_name("Archive/2024", '/', none, "", '/').name == "Archive/2024");
    CHECK(map_folder_name("Archive/2024", '/', none, "INBOX.", '.').name == "INBOX.Archive.2024");
    CHECK(map_folder_name("inbox", '/', none, "INBOX.", '.').name == "INBOX");
    CHECK(map_folder_name("INBOX/Sub", '/', none, "INBOX.", '.').name == "INBOX.Sub");
    CHECK(map_folder_name("Projets/Été", '/', none, "", '.').name == "Projets.Été");
    auto odd = map_folder_name("a.b/c", '/', none, "", '.');
    CHECK(odd.name == "a_b.c");
    CHECK(odd.note.find("a.b") != std::string::npos);
    CHECK(map_folder_name("Flat", 0, none, "", '/').name == "Flat");
    std::vector<folder_map_rule> rules = {{"Sent", "Sent Items"}, {"Archive", "Old/Mail"}};
    CHECK(map_folder_name("Sent", '/', rules, "", '/').name == "Sent Items");
    CHECK(map_folder_name("Archive/2024", '/', rules, "INBOX.", '.').name == "INBOX.Old.Mail.2024");
    CHECK(map_folder_name("Archived", '/', rules, "", '/').name == "Archived");
    auto r = parse_map_rule("Sent=Sent Items");
    REQUIRE(r);
    CHECK(r->source == "Sent");
    CHECK(r->target == "Sent Items");
    CHECK_FALSE(parse_map_rule("Sent"));
    CHECK_FALSE(parse_map_rule("=x"));
    CHECK_FALSE(parse_map_rule("x="));
}

TEST_CASE("restore lookup: Message-ID from the header block, search criteria") {
    CHECK(header_message_id("From: a\r\nMessage-ID: <x@y>\r\n\r\nMessage-ID: <body>\r\n") ==
          "<x@y>");
    CHECK(header_message_id("message-id:\r\n  <folded@y> \r\nSubject: s\r\n\r\n") == "<folded@y>");
    CHECK_FALSE(header_message_id("Subject: s\r\n\r\nMessage-ID: <body>\r\n"));
    CHECK(resolve_search_criteria(std::string("<x@y>"), 10) == "HEADER Message-ID \"<x@y>\"");
    CHECK(resolve_search_criteria(std::string("<x\"@y>"), 10) == "LARGER 9 SMALLER 11");
    CHECK(resolve_search_criteria(std::nullopt, 10) == "LARGER 9 SMALLER 11");
}

TEST_CASE("restore lookup: matching on the target by size, INTERNALDATE and hash") {
    const auto it = item(1, 100, 1000);
    using k = match_result::kind;
    std::set<std::uint32_t> none;
    CHECK(match_on_target(it, std::vector<target_candidate>{}, none).k == k::absent);
    std::vector<target_candidate> one = {
        {5, 100, 1000, std::nullopt}, {6, 99, 1000, std::nullopt}, {7, 100, 999, std::nullopt}};
    auto m = match_on_target(it, one, none);
    CHECK(m.k == k::found);
    CHECK(m.uid == 5);
    // Claimed by another entry: not ours.
    CHECK(match_on_target(it, one, {5}).k == k::absent);
    std::vector<target_candidate> two = {{5, 100, 1000, std::nullopt},
                                         {9, 100, 1000, std::nullopt}};
    auto amb = match_on_target(it, two, none);
    CHECK(amb.k == k::need_hash);
    CHECK(amb.ask == std::vector<std::uint32_t>{5, 9});
    two[0].hash = sha256_of("other");
    two[1].hash = it.content;
    auto h = match_on_target(it, two, none);
    CHECK(h.k == k::found);
    CHECK(h.uid == 9);
    two[1].hash = sha256_of("other too");
    CHECK(match_on_target(it, two, none).k == k::absent);
}

TEST_CASE("restore as-of: present when archived by then and not yet expunged, dates parsed") {
    CHECK(present_at(100, std::nullopt, 100));
    CHECK_FALSE(present_at(101, std::nullopt, 100));
    CHECK(present_at(50, 150, 100));
    CHECK_FALSE(present_at(50, 100, 100));
    CHECK_FALSE(present_at(50, 80, 100));
    CHECK(parse_as_of("2024-05-01") == 1714521600);
    CHECK(parse_as_of("2024-05-01T12:30:00Z") == 1714566600);
    CHECK(parse_as_of("2024-05-01 12:30:00") == 1714566600);
    CHECK(parse_as_of("@1714566600") == 1714566600);
    for (const char* bad : {"", "@", "@12x", "2024-13-01", "2024-02-31", "2024-05-01T25:00:00",
                            "yesterday", "2024-05-01T12:30", "1969-12-31"})
        CHECK_FALSE(parse_as_of(bad));
}

// The two client commands restore added (imap/client.hpp), replayed at every split and with a
// failure at every step.
TEST_CASE("restore client: NAMESPACE personal prefix and delimiter, CREATE with modified UTF-7") {
    using mv::test::replay_everywhere;
    using mv::test::script;
    using mv::test::scripted_transport;
    script s;
    s.read("* OK [CAPABILITY IMAP4rev1 NAMESPACE] ready\r\n")
        .write("A0001 NAMESPACE\r\n")
        .read("* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))\r\nA0001 OK done\r\n")
        .write("A0002 CREATE INBOX.Projets.&AMk-t&AOk-\r\n")
        .read("A0002 OK created\r\n")
        .write("A0003 NAMESPACE\r\n")
        .read("* NAMESPACE NIL NIL NIL\r\nA0003 OK done\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        mv::imap::client c(t);
        if (auto e = c.greeting()) return e;
        std::string prefix;
        char delim = 0;
        if (auto e = c.personal_namespace(prefix, delim)) return e;
        CHECK(prefix == "INBOX.");
        CHECK(delim == '.');
        if (auto e = c.create("INBOX.Projets.Été")) return e;
        if (auto e = c.personal_namespace(prefix, delim)) return e;
        CHECK(prefix.empty());
        CHECK(delim == 0);
        return mv::error{};
    });
}

TEST_CASE("restore client: NAMESPACE without the capability is unsupported, nothing sent") {
    using mv::test::replay_everywhere;
    using mv::test::script;
    using mv::test::scripted_transport;
    script s;
    s.read("* OK [CAPABILITY IMAP4rev1] ready\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        mv::imap::client c(t);
        if (auto e = c.greeting()) return e;
        std::string prefix = "x";
        char delim = '/';
        auto e = c.personal_namespace(prefix, delim);
        CHECK(e.code == mv::errc::unsupported);
        CHECK(prefix.empty());
        return mv::error{};
    });
}

// Pipelined APPEND (client::append_many): with LITERAL+ every command goes out before the first
// answer; each answer belongs to its own command (one NO does not fail the others); a literal
// filled from a function carries exactly its bytes; a failing fill sends nothing for that one.
TEST_CASE("restore client: APPENDs pipelined with LITERAL+, one refused, one fill failing") {
    using mv::test::replay_everywhere;
    using mv::test::script;
    using mv::test::scripted_transport;
    script s;
    s.read("* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS CREATE-SPECIAL-USE] ready\r\n")
        .write(
            "A0001 APPEND INBOX (\\Seen) {5+}\r\nhello\r\n"
            "A0002 APPEND INBOX {3+}\r\nbig\r\n"
            "A0004 APPEND INBOX {6+}\r\nfilled\r\n")
        .read(
            "A0001 OK [APPENDUID 7 10] done\r\nA0002 NO [OVERQUOTA] full\r\n"
            "A0004 OK [APPENDUID 7 11] done\r\n")
        .write("A0005 CREATE \"Sent Items\" (USE (\\Sent))\r\n")
        .read("A0005 OK created\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        mv::imap::client c(t);
        if (auto e = c.greeting()) return e;
        std::vector<mv::imap::append_request> reqs(4);
        for (auto& r : reqs) r.mailbox = "INBOX";
        reqs[0].flags = {"\\Seen"};
        reqs[0].message = "hello";
        reqs[1].message = "big";
        reqs[2].size = 4;
        reqs[2].fill = [](std::string&) {
            return mv::error(mv::errc::archive_corrupt, "archived copy damaged");
        };
        reqs[3].size = 6;
        reqs[3].fill = [](std::string& out) {
            out += "filled";
            return mv::error{};
        };
        std::vector<mv::imap::append_outcome> outs;
        if (auto e = c.append_many(reqs, outs)) return e;
        REQUIRE(outs.size() == 4);
        CHECK(!outs[0].err);
        CHECK((outs[0].uid && outs[0].uid->uidvalidity == 7));
        CHECK(outs[1].err.code == mv::errc::server_no);
        CHECK(outs[1].err.message.find("OVERQUOTA") != std::string::npos);
        CHECK(!outs[2].sent);
        CHECK(outs[2].err.code == mv::errc::archive_corrupt);
        CHECK((outs[3].sent && !outs[3].err && outs[3].uid));
        if (auto e = c.create("Sent Items", "\\Sent")) return e;
        return mv::error{};
    });
}

// Without LITERAL+ each APPEND waits for its '+': sent one after another, never pipelined
// (a synchronizing literal cannot be); a fill that announces a wrong size is refused unsent.
TEST_CASE("restore client: APPENDs without LITERAL+ go one by one, each after its continuation") {
    using mv::test::replay_everywhere;
    using mv::test::script;
    using mv::test::scripted_transport;
    script s;
    s.read("* OK [CAPABILITY IMAP4rev1] ready\r\n")
        .write("A0001 APPEND Archive {2}\r\n")
        .read("+ go\r\n")
        .write("ab\r\n")
        .read("A0001 OK stored\r\n")
        .write("A0003 APPEND Archive {2}\r\n")
        .read("A0003 NO [TRYCREATE] no such mailbox\r\n")
        .write("A0004 CREATE Archive\r\n")
        .read("A0004 OK created\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        mv::imap::client c(t);
        if (auto e = c.greeting()) return e;
        std::vector<mv::imap::append_request> reqs(3);
        for (auto& r : reqs) r.mailbox = "Archive";
        reqs[0].message = "ab";
        reqs[1].size = 5;
        reqs[1].fill = [](std::string& out) {
            out += "abc";  // 3 bytes for an announced 5: never sent
            return mv::error{};
        };
        reqs[2].message = "cd";
        std::vector<mv::imap::append_outcome> outs;
        if (auto e = c.append_many(reqs, outs)) return e;
        CHECK(!outs[0].err);
        CHECK(!outs[0].uid);  // no UIDPLUS
        CHECK(!outs[1].sent);
        CHECK(outs[1].err.code == mv::errc::internal);
        CHECK(outs[2].err.message.find("TRYCREATE") != std::string::npos);
        // Without CREATE-SPECIAL-USE the attribute is not sent.
        if (auto e = c.create("Archive", "\\Archive")) return e;
        return mv::error{};
    });
}

// MULTIAPPEND (RFC 3502): a window in one command (one transaction on the server), the
// APPENDUID set spread over the messages in order; refused as a whole, the same messages go
// again one by one, so each gets its own answer.
TEST_CASE("restore client: MULTIAPPEND sends a window in one command, a NO falls back to singles") {
    using mv::test::replay_everywhere;
    using mv::test::script;
    using mv::test::scripted_transport;
    script s;
    s.read("* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS MULTIAPPEND] ready\r\n")
        .write(
            "A0001 APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {2+}\r\nab {2+}\r\ncd\r\n")
        .read("A0001 OK [APPENDUID 9 20:21] done\r\n")
        .write("A0002 APPEND INBOX {2+}\r\nef {2+}\r\ngh\r\n")
        .read("A0002 NO [OVERQUOTA] not both\r\n")
        .write("A0003 APPEND INBOX {2+}\r\nef\r\nA0004 APPEND INBOX {2+}\r\ngh\r\n")
        .read("A0003 OK [APPENDUID 9 22] done\r\nA0004 NO [OVERQUOTA] full\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        mv::imap::client c(t);
        if (auto e = c.greeting()) return e;
        std::vector<mv::imap::append_request> reqs(2);
        for (auto& r : reqs) r.mailbox = "INBOX";
        reqs[0].flags = {"\\Seen"};
        reqs[0].internaldate = 837596665;
        reqs[0].internaldate_offset = -420;
        reqs[0].message = "ab";
        reqs[1].size = 2;
        reqs[1].fill = [](std::string& out) {
            out += "cd";
            return mv::error{};
        };
        std::vector<mv::imap::append_outcome> outs;
        if (auto e = c.append_many(reqs, outs)) return e;
        CHECK((!outs[0].err && outs[0].uid && outs[0].uid->uids.expand().front() == 20));
        CHECK((!outs[1].err && outs[1].uid && outs[1].uid->uids.expand().front() == 21));
        reqs[0] = {};
        reqs[0].mailbox = "INBOX";
        reqs[0].message = "ef";
        reqs[1].fill = [](std::string& out) {
            out += "gh";
            return mv::error{};
        };
        if (auto e = c.append_many(reqs, outs)) return e;
        CHECK((!outs[0].err && outs[0].uid && outs[0].uid->uids.expand().front() == 22));
        CHECK(outs[1].err.message.find("OVERQUOTA") != std::string::npos);
        return mv::error{};
    });
}
