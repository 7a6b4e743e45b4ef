// Scripted tests of the IMAP operations through the client facade: every script is replayed
// whole, split at every byte offset, byte by byte, and with a failure at every I/O step.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "imap/client.hpp"
#include "scripted_transport.hpp"

using namespace mv::imap;
using mv::test::replay_everywhere;
using mv::test::script;
using mv::test::scripted_transport;

namespace {

const char* greet_plus =
    "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN AUTH=XOAUTH2 AUTH=LOGIN ID ENABLE "
    "IDLE CONDSTORE QRESYNC ESEARCH UIDPLUS MOVE LIST-EXTENDED LIST-STATUS SPECIAL-USE "
    "COMPRESS=DEFLATE] ready\r\n";
const char* greet_sync = "* OK [CAPABILITY IMAP4rev1 AUTH=LOGIN STARTTLS IDLE] ready\r\n";

struct recording_sink : fetch_sink {
    struct body {
        std::uint32_t seq;
        std::string section, data;
        std::uint64_t size;
        bool ended = false;
    };
    std::vector<body> bodies;
    std::vector<fetch_attrs> fetches;
    void body_begin(std::uint32_t seq, std::string_view section, std::uint64_t size) override {
        bodies.push_back({seq, std::string(section), {}, size});
    }
    void body_data(std::string_view b) override { bodies.back().data.append(b); }
    void body_end() override { bodies.back().ended = true; }
    void on_fetch(const fetch_attrs& a) override { fetches.push_back(a); }
};

}  // namespace

TEST_CASE("imap client: greeting and LOGIN, capabilities from the tagged OK", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 LOGIN joe \"se cret\"\r\n")
        .read("A0001 OK [CAPABILITY IMAP4rev1 X-GM-EXT-1] Logged in\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        CHECK(c.caps().has("LITERAL+"));
        if (auto e = c.login("joe", "se cret")) return e;
        CHECK(c.caps().has("X-GM-EXT-1"));
        CHECK(c.state().authenticated);
        return mv::error{};
    });
}

TEST_CASE("imap client: LOGIN with synchronizing literal", "[imap][client]") {
    script s;
    s.read(greet_sync)
        .write("A0001 LOGIN joe {9}\r\n")
        .read("+ go ahead\r\n")
        .write("p\xC3\xA4ssword\r\n")
        .read("A0001 OK done\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        return c.login("joe", "p\xC3\xA4ssword");
    });
}

TEST_CASE("imap client: LOGIN rejected is an auth error without the password", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 LOGIN joe hunter2\r\n")
        .read("A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    scripted_transport t(s);
    client c(t);
    REQUIRE(c.greeting().ok());
    auto e = c.login("joe", "hunter2");
    CHECK(e.code == mv::errc::auth);
    CHECK(e.message.find("Authentication failed.") != std::string::npos);
    CHECK(e.message.find("hunter2") == std::string::npos);
    CHECK(t.finished());
}

TEST_CASE("imap client: greeting BYE and PREAUTH", "[imap][client]") {
    {
        scripted_transport t(script().read("* BYE too busy\r\n"));
        client c(t);
        auto e = c.greeting();
        CHECK(e.code == mv::errc::closed);
        CHECK(e.message.find("too busy") != std::string::npos);
    }
    {
        scripted_transport t(script().read("* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n"));
        client c(t);
        CHECK(c.greeting().ok());
        CHECK(c.state().authenticated);
    }
}

TEST_CASE("imap client: STARTTLS then CAPABILITY again", "[imap][client]") {
    script s;
    s.read(greet_sync)
        .write("A0001 STARTTLS\r\n")
        .read("A0001 OK Begin TLS negotiation now\r\n")
        .tls()
        .write("A0002 CAPABILITY\r\n")
        .read("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK done\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        if (auto e = c.starttls()) return e;
        CHECK(t.tls_active());
        CHECK(c.caps().has_auth("PLAIN"));
        CHECK_FALSE(c.caps().has("STARTTLS"));
        return mv::error{};
    });
}

TEST_CASE("imap client: STARTTLS response injection is refused", "[imap][client]") {
    script s;
    s.read(greet_sync)
        .write("A0001 STARTTLS\r\n")
        .read("A0001 OK Begin\r\n* OK [ALERT] injected\r\n");
    scripted_transport t(s);
    client c(t);
    REQUIRE(c.greeting().ok());
    auto e = c.starttls();
    CHECK(e.code == mv::errc::protocol);
    CHECK_FALSE(t.tls_active());
}

TEST_CASE("imap client: AUTHENTICATE PLAIN with SASL-IR", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n")
        .read("A0001 OK authenticated\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        return c.authenticate(sasl_mech::plain, "joe", "secret");
    });
}

TEST_CASE("imap client: AUTHENTICATE LOGIN steps", "[imap][client]") {
    script s;
    s.read(greet_sync)
        .write("A0001 AUTHENTICATE LOGIN\r\n")
        .read("+ VXNlcm5hbWU6\r\n")
        .write("am9l\r\n")
        .read("+ UGFzc3dvcmQ6\r\n")
        .write("c2VjcmV0\r\n")
        .read("A0001 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        return c.authenticate(sasl_mech::login, "joe", "secret");
    });
}

TEST_CASE("imap client: XOAUTH2 failure answers the error challenge", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 AUTHENTICATE XOAUTH2 dXNlcj1qb2VAeC5jb20BYXV0aD1CZWFyZXIgdG9rATEBAQ==\r\n");
    scripted_transport t(script(s)
                             .read("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n")
                             .write("\r\n")
                             .read("A0001 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"));
    client c(t);
    REQUIRE(c.greeting().ok());
    auto e = c.authenticate(sasl_mech::xoauth2, "joe@x.com",
                            "tok\x01"
                            "1");
    INFO(t.mismatch);
    CHECK(e.code == mv::errc::auth);
    CHECK(e.message.find("Invalid credentials") != std::string::npos);
    CHECK(t.finished());
}

TEST_CASE("imap client: ENABLE, LIST with LIST-STATUS, STATUS", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 ENABLE CONDSTORE QRESYNC\r\n")
        .read("* ENABLED CONDSTORE QRESYNC\r\nA0001 OK enabled\r\n")
        .write(
            "A0002 LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UIDNEXT UIDVALIDITY "
            "HIGHESTMODSEQ))\r\n")
        .read(
            "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
            "* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 77 HIGHESTMODSEQ 9)\r\n"
            "* LIST (\\HasNoChildren \\Sent) NIL {11}\r\nSent &AOQ-x\r\n"
            "* 4 EXISTS\r\n"
            "A0002 OK done\r\n")
        .write("A0003 STATUS \"Sent &AOQ-x\" (MESSAGES)\r\n")
        .read("* STATUS {11}\r\nSent &AOQ-x (MESSAGES 2)\r\nA0003 OK done\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        if (auto e = c.enable({"CONDSTORE", "QRESYNC", "UTF8=ACCEPT"})) return e;
        CHECK(c.state().is_enabled("QRESYNC"));
        std::vector<list_entry> l;
        if (auto e = c.list({}, l)) return e;
        REQUIRE(l.size() == 2);
        REQUIRE(l[0].status);
        CHECK(l[0].status->uidvalidity == 77u);
        CHECK(l[0].status->highestmodseq == 9u);
        CHECK(l[1].delimiter == 0);
        CHECK(decode_mailbox_name(l[1].name, false) == "Sent \xC3\xA4x");
        CHECK(l[1].has_attribute("\\Sent"));
        CHECK(c.events().exists == 4u);
        status_info st;
        if (auto e = c.status("Sent \xC3\xA4x", "MESSAGES", st)) return e;
        CHECK(st.messages == 2u);
        return mv::error{};
    });
}

TEST_CASE("imap client: SELECT with QRESYNC collects VANISHED and FETCH", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 ENABLE QRESYNC\r\n")
        .read("* ENABLED QRESYNC\r\nA0001 OK\r\n")
        .write("A0002 SELECT INBOX (QRESYNC (1436832084 2 1:8))\r\n")
        .read(
            "* FLAGS (\\Answered \\Seen)\r\n"
            "* OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Flags permitted.\r\n"
            "* 7 EXISTS\r\n* 0 RECENT\r\n"
            "* OK [UIDVALIDITY 1436832084] UIDs valid\r\n"
            "* OK [UIDNEXT 9] Predicted next UID\r\n"
            "* OK [HIGHESTMODSEQ 6] Highest\r\n"
            "* VANISHED (EARLIER) 8\r\n"
            "* 1 FETCH (UID 1 FLAGS (\\Answered \\Seen) MODSEQ (4))\r\n"
            "A0002 OK [READ-WRITE] Select completed\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        if (auto e = c.enable({"QRESYNC"})) return e;
        select_request rq;
        rq.mailbox = "INBOX";
        rq.qresync_uidvalidity = 1436832084;
        rq.qresync_modseq = 2;
        rq.qresync_known_uids = make_uid_set({1, 2, 3, 4, 5, 6, 7, 8});
        select_result r;
        if (auto e = c.select(rq, r)) return e;
        CHECK(r.state.exists == 7u);
        CHECK(r.state.uidvalidity == 1436832084u);
        CHECK(r.state.uidnext == 9u);
        CHECK(r.state.highestmodseq == 6u);
        CHECK_FALSE(r.state.read_only);
        CHECK(r.vanished.expand() == std::vector<std::uint32_t>{8});
        REQUIRE(r.changes.size() == 1);
        CHECK(r.changes[0].modseq == 4u);
        CHECK(c.events().empty());
        return mv::error{};
    });
}

TEST_CASE("imap client: EXAMINE NO is server_no with the text", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 EXAMINE Nope\r\n")
        .read("A0001 NO [NONEXISTENT] Mailbox doesn't exist\r\n");
    scripted_transport t(s);
    client c(t);
    REQUIRE(c.greeting().ok());
    select_result r;
    select_request rq;
    rq.mailbox = "Nope";
    rq.read_only = true;
    auto e = c.select(rq, r);
    CHECK(e.code == mv::errc::server_no);
    CHECK(e.message.find("EXAMINE") != std::string::npos);
    CHECK(e.message.find("doesn't exist") != std::string::npos);
}

TEST_CASE("imap client: UID SEARCH with ESEARCH and plain SEARCH", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 UID SEARCH RETURN (ALL) UID 5:*\r\n")
        .read("* ESEARCH (TAG \"A0001\") UID ALL 5:7,9\r\nA0001 OK done\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        search_result r;
        if (auto e = c.uid_search("UID 5:*", r)) return e;
        CHECK(r.ids == std::vector<std::uint32_t>{5, 6, 7, 9});
        return mv::error{};
    });
    script p;
    p.read(greet_sync)
        .write("A0001 UID SEARCH ALL\r\n")
        .read("* SEARCH 3 4\r\n* SEARCH\r\nA0001 OK\r\n");
    replay_everywhere(p, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        search_result r;
        if (auto e = c.uid_search("ALL", r)) return e;
        CHECK(r.ids == std::vector<std::uint32_t>{3, 4});
        return mv::error{};
    });
}

TEST_CASE("imap client: pipelined UID FETCH streams bodies to the sink", "[imap][client][fetch]") {
    script s;
    s.read(greet_plus)
        .write("A0001 UID FETCH 1:2 (UID FLAGS BODY.PEEK[])\r\n")
        .write_pipelined("A0002 UID FETCH 5 (UID FLAGS BODY.PEEK[])\r\n")
        .read(
            "* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {5}\r\nhello)\r\n"
            "* 2 FETCH (UID 2 BODY[] {0}\r\n FLAGS ())\r\n"
            "* 3 EXPUNGE\r\n"
            "A0001 OK done\r\n")
        .write_pipelined("A0003 UID FETCH 9 (UID FLAGS BODY.PEEK[])\r\n")
        .read(
            "* 4 FETCH (FLAGS (\\Flagged) UID 5 BODY[] {6}\r\nab\r\ncd)\r\nA0002 OK done\r\n"
            "* 6 FETCH (UID 9 BODY[] NIL)\r\nA0003 OK done\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        fetch_request rq;
        rq.sets = {make_uid_set({1, 2}), make_uid_set({5}), make_uid_set({9})};
        rq.items = "(UID FLAGS BODY.PEEK[])";
        rq.max_in_flight = 2;
        recording_sink sink;
        fetch_stats st;
        if (auto e = c.uid_fetch(rq, sink, &st)) return e;
        CHECK(st.commands == 3);
        REQUIRE(sink.bodies.size() == 3);
        CHECK(sink.bodies[0].seq == 1u);
        CHECK(sink.bodies[0].data == "hello");
        CHECK(sink.bodies[1].data.empty());
        CHECK(sink.bodies[1].ended);
        CHECK(sink.bodies[2].data == "ab\r\ncd");
        REQUIRE(sink.fetches.size() == 4);
        CHECK(sink.fetches[0].uid == 1u);
        REQUIRE(sink.fetches[0].bodies.size() == 1);
        CHECK(sink.fetches[0].bodies[0].streamed);
        CHECK(sink.fetches[0].bodies[0].size == 5);
        CHECK(sink.fetches[2].uid == 5u);
        CHECK(sink.fetches[3].bodies[0].nil);
        CHECK(c.events().expunged == std::vector<std::uint32_t>{3});
        return mv::error{};
    });
}

TEST_CASE("imap client: byte budget limits commands in flight", "[imap][client][fetch]") {
    script s;
    s.read(greet_plus)
        .write("A0001 UID FETCH 1 BODY.PEEK[]\r\n")
        .read("* 1 FETCH (BODY[] {3}\r\nabc)\r\nA0001 OK\r\n")
        .write("A0002 UID FETCH 2 BODY.PEEK[]\r\n")
        .read("A0002 NO [EXPUNGEISSUED] some gone\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        fetch_request rq;
        rq.sets = {make_uid_set({1}), make_uid_set({2})};
        rq.items = "BODY.PEEK[]";
        rq.expected_bytes = {800, 800};
        rq.byte_budget = 1000;
        recording_sink sink;
        auto e = c.uid_fetch(rq, sink);
        if (e.code == mv::errc::network) return e;
        CHECK(e.code == mv::errc::server_no);
        CHECK(sink.bodies.size() == 1);
        return mv::error{};
    });
}

TEST_CASE("imap client: CHANGEDSINCE fetch and long UID sets split under 8 KB",
          "[imap][client][fetch]") {
    std::vector<std::uint32_t> odd;
    for (std::uint32_t u = 1; u < 4000; u += 2) odd.push_back(u);
    auto set = make_uid_set(odd);
    auto parts = split_uid_set(set, max_command_line - 80);
    REQUIRE(parts.size() >= 2);
    script s;
    s.read(greet_plus);
    // The first split command goes out with the others pipelined.
    for (std::size_t i = 0; i < parts.size(); ++i) {
        std::string cmd = "A000" + std::to_string(i + 1) + " UID STORE " + parts[i] +
                          " (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen)\r\n";
        CHECK(cmd.size() <= 8192);
        if (i == 0)
            s.write(cmd);
        else
            s.write_pipelined(cmd);
    }
    std::string replies;
    for (std::size_t i = 0; i < parts.size(); ++i)
        replies += "A000" + std::to_string(i + 1) +
                   (i == 0 ? " OK [MODIFIED 7,9] done\r\n" : " OK done\r\n");
    s.read(replies);
    scripted_transport t(s);
    client c(t);
    REQUIRE(c.greeting().ok());
    uid_set modified;
    auto e = c.uid_store(set, store_op::add, {"\\Seen"}, true, 5, &modified);
    INFO(t.mismatch);
    REQUIRE(e.ok());
    CHECK(modified.expand() == std::vector<std::uint32_t>{7, 9});
    CHECK(t.finished());

    script f;
    f.read(greet_plus)
        .write("A0001 UID FETCH 1:100 (UID FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)\r\n")
        .read(
            "* VANISHED (EARLIER) 3:4\r\n* 1 FETCH (UID 1 FLAGS () MODSEQ (12346))\r\nA0001 "
            "OK\r\n");
    replay_everywhere(f, [](scripted_transport& t2) {
        client c2(t2);
        if (auto e2 = c2.greeting()) return e2;
        fetch_request rq;
        rq.sets = {uid_set{{{1, 100}}}};
        rq.items = "(UID FLAGS MODSEQ)";
        rq.changedsince = 12345;
        rq.vanished = true;
        recording_sink sink;
        fetch_stats st;
        if (auto e2 = c2.uid_fetch(rq, sink, &st)) return e2;
        CHECK(st.vanished.expand() == std::vector<std::uint32_t>{3, 4});
        REQUIRE(sink.fetches.size() == 1);
        CHECK(sink.fetches[0].modseq == 12346u);
        return mv::error{};
    });
}

TEST_CASE("imap client: APPEND, UID MOVE, UID COPY, UID EXPUNGE, NOOP events", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write(
            "A0001 APPEND Drafts (\\Seen) \"17-Jul-1996 09:44:25 +0000\" {12+}\r\nSubject: "
            "x\r\n\r\n")
        .read("A0001 OK [APPENDUID 38505 3955] APPEND completed\r\n")
        .write("A0002 UID MOVE 1:3,5 Archive\r\n")
        .read(
            "* OK [COPYUID 432432 1:3,5 10:13] moved\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\nA0002 OK "
            "done\r\n")
        .write("A0003 UID COPY 7 \"Sent Items\"\r\n")
        .read("A0003 OK [COPYUID 9 7 100] copied\r\n")
        .write("A0004 UID EXPUNGE 7\r\n")
        .read("* VANISHED 7\r\nA0004 OK\r\n")
        .write("A0005 NOOP\r\n")
        .read("* 22 EXISTS\r\n* 3 FETCH (UID 3 FLAGS (\\Deleted) MODSEQ (99))\r\nA0005 OK\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        append_request ap;
        ap.mailbox = "Drafts";
        ap.flags = {"\\Seen"};
        ap.internaldate = 837596665;
        ap.message = "Subject: x\r\n";
        std::optional<appenduid_info> au;
        if (auto e = c.append(ap, &au)) return e;
        REQUIRE(au);
        CHECK(au->uids.expand() == std::vector<std::uint32_t>{3955});
        std::vector<copyuid_info> cu;
        if (auto e = c.uid_move(make_uid_set({1, 2, 3, 5}), "Archive", &cu)) return e;
        REQUIRE(cu.size() == 1);
        CHECK(cu[0].dest.expand() == std::vector<std::uint32_t>{10, 11, 12, 13});
        if (auto e = c.uid_copy(make_uid_set({7}), "Sent Items", &cu)) return e;
        CHECK(cu.size() == 2);
        if (auto e = c.uid_expunge(make_uid_set({7}))) return e;
        if (auto e = c.noop()) return e;
        auto& ev = c.events();
        CHECK(ev.expunged == std::vector<std::uint32_t>{1, 1});
        CHECK(ev.vanished.expand() == std::vector<std::uint32_t>{7});
        CHECK(ev.exists == 22u);
        REQUIRE(ev.fetches.size() == 1);
        CHECK(ev.fetches[0].modseq == 99u);
        return mv::error{};
    });
}

TEST_CASE("imap client: APPEND with a synchronizing literal refused", "[imap][client]") {
    script s;
    s.read(greet_sync)
        .write("A0001 APPEND INBOX {3}\r\n")
        .read("A0001 NO [OVERQUOTA] quota exceeded\r\n")
        .write("A0002 NOOP\r\n")
        .read("A0002 OK\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        append_request ap;
        ap.mailbox = "INBOX";
        ap.message = "abc";
        auto e = c.append(ap);
        if (e.code == mv::errc::network) return e;
        CHECK(e.code == mv::errc::server_no);
        CHECK(e.message.find("OVERQUOTA") != std::string::npos);
        return c.noop();
    });
}

TEST_CASE("imap client: BYE mid-command, unknown tag, BAD", "[imap][client]") {
    {
        scripted_transport t(
            script().read(greet_plus).write("A0001 NOOP\r\n").read("* BYE shutting down\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        auto e = c.noop();
        CHECK(e.code == mv::errc::closed);
        CHECK(e.message.find("shutting down") != std::string::npos);
        CHECK(c.noop().code == mv::errc::closed);
    }
    {
        scripted_transport t(
            script().read(greet_plus).write("A0001 NOOP\r\n").read("A0099 OK\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        auto e = c.noop();
        CHECK(e.code == mv::errc::protocol);
        CHECK(e.message.find("A0099") != std::string::npos);
    }
    {
        scripted_transport t(
            script().read(greet_plus).write("A0001 NOOP\r\n").read("A0001 BAD what?\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        auto e = c.noop();
        CHECK(e.code == mv::errc::server_bad);
        CHECK(e.message.find("NOOP") != std::string::npos);
    }
    {
        scripted_transport t(
            script().read(greet_plus).write("A0001 NOOP\r\n").read("* 1 FETCH (UID\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        CHECK(c.noop().code == mv::errc::protocol);
    }
}

TEST_CASE("imap client: IDLE, COMPRESS, LOGOUT", "[imap][client]") {
    script s;
    s.read(greet_plus)
        .write("A0001 COMPRESS DEFLATE\r\n")
        .read("A0001 OK DEFLATE active\r\n")
        .deflate()
        .write("A0002 IDLE\r\n")
        .read("+ idling\r\n")
        .read("* 5 EXISTS\r\n")
        .write("DONE\r\n")
        .read("A0002 OK IDLE terminated\r\n")
        .write("A0003 LOGOUT\r\n")
        .read("* BYE logging out\r\nA0003 OK bye\r\n");
    replay_everywhere(s, [](scripted_transport& t) {
        client c(t);
        if (auto e = c.greeting()) return e;
        if (auto e = c.compress()) return e;
        if (auto e = c.idle_begin()) return e;
        if (auto e = c.idle_wait()) return e;
        CHECK(c.events().exists == 5u);
        if (auto e = c.idle_done()) return e;
        auto e = c.logout();
        if (e.code == mv::errc::network && !c.state().closed) return e;
        return e.code == mv::errc::network ? e : mv::error{};
    });
}
