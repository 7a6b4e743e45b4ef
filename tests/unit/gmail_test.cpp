// Gmail (issue #12): X-GM-MSGID, X-GM-THRID and X-GM-LABELS parsed from recorded Gmail answers
// (MailKit's tests/data/corpora/mailkit/imap/gmail and transcripts written after Google's "IMAP
// Extensions" page), replayed through the client split at every byte; stored in the archive
// (gmail_entries, schema 8) with one content per message however many folders list it; the
// restore mapping of labels (sync/gmail_labels.hpp); and whole syncs against a Gmail-like
// in-memory server (X-GM-EXT-1, [Gmail]/All Mail with \All), with labels changed between runs
// and a connection failure injected at every I/O action. Real Gmail cannot run here.
#include <sqlite3.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "gmail_fake.hpp"
#include "harness/testbed.hpp"
#include "imap/client.hpp"
#include "imap/debug_parse.hpp"
#include "imap/framer.hpp"
#include "imap/parsers.hpp"
#include "imap/uid_set.hpp"
#include "mailvault/transport.hpp"
#include "scripted_transport.hpp"
#include "sync/gmail_labels.hpp"
#include "sync/imap_sync.hpp"

using namespace mv;
using mv::test::temp_dir;
namespace fs = std::filesystem;

namespace {

using strings = std::vector<std::string>;

const fs::path mailkit_gmail =
    fs::path(MV_TEST_DATA_DIR) / "corpora" / "mailkit" / "imap" / "gmail";

std::string mailkit(const std::string& file, std::string_view tag = "A########") {
    std::ifstream f(mailkit_gmail / file, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    REQUIRE(!s.empty());
    s = imap::lf_to_crlf(s);
    const std::string_view placeholder = "A########";
    for (std::size_t p = 0; (p = s.find(placeholder, p)) != std::string::npos; p += tag.size())
        s.replace(p, placeholder.size(), tag);
    return s;
}

// Every FETCH response of a transcript, parsed (the first parse error stops and is returned).
mv::error fetches_of(const std::string& wire, std::vector<imap::fetch_attrs>& out) {
    imap::framer f;
    std::string_view in = wire;
    while (!in.empty()) {
        auto st = f.feed(in);
        if (st == imap::framer::status::error) return mv::error(errc::protocol, "framing");
        if (st != imap::framer::status::complete) break;
        imap::response r;
        if (auto e = imap::parse_response(f.current(), r)) return e;
        if (r.type == imap::resp_type::untagged && r.is_data("FETCH")) {
            imap::fetch_attrs a;
            if (auto e = imap::parse_fetch(r, a)) return e;
            out.push_back(std::move(a));
        }
    }
    return {};
}

// One FETCH response from text: its parse_fetch result.
mv::error fetch_one(const std::string& line, imap::fetch_attrs& a) {
    std::vector<imap::fetch_attrs> all;
    auto e = fetches_of(line, all);
    if (!e && all.size() == 1) a = all[0];
    return e;
}

struct attrs_sink : imap::fetch_sink {
    std::vector<imap::fetch_attrs> fetches;
    void body_begin(std::uint32_t, std::string_view, std::uint64_t) override {}
    void body_data(std::string_view) override {}
    void body_end() override {}
    void on_fetch(const imap::fetch_attrs& a) override { fetches.push_back(a); }
};

}  // namespace

// ---- parser ----------------------------------------------------------------------------------

TEST_CASE("gmail: X-GM-LABELS of MailKit's recorded STORE answer, NIL entries dropped",
          "[gmail][imap][parsers]") {
    std::vector<imap::fetch_attrs> got;
    auto e = fetches_of(mailkit("add-labels.txt"), got);
    INFO(e.message);
    REQUIRE(e.ok());
    REQUIRE(got.size() == 21);
    for (const auto& a : got) {
        REQUIRE(a.gm_labels);
        CHECK(*a.gm_labels == strings{"\\Important", "Custom Label"});
        CHECK(a.uid);
        CHECK(!a.gm_msgid);
    }
    CHECK(got.back().uid == 50u);
}

TEST_CASE("gmail: X-GM-MSGID, X-GM-THRID and quoted system labels of a recorded FETCH",
          "[gmail][imap][parsers]") {
    std::vector<imap::fetch_attrs> got;
    auto e = fetches_of(mailkit("search-summary.txt"), got);
    INFO(e.message);
    REQUIRE(e.ok());
    REQUIRE(got.size() >= 2);
    CHECK(got[0].gm_msgid == 1592225494819146101u);
    CHECK(got[0].gm_thrid == 1592225494819146101u);
    REQUIRE(got[0].gm_labels);
    // Sent quoted, "\\Important": the same label as the atom \Important.
    CHECK(*got[0].gm_labels == strings{"Test Messages", "\\Important"});
    CHECK(got[1].gm_msgid == 1592225494819146102u);
    CHECK(got[0].modseq == 29233u);
    CHECK(got[0].rfc822_size == 181614u);
}

TEST_CASE("gmail: label lists: empty, atoms, quoted, literal, modified UTF-7 kept as sent",
          "[gmail][imap][parsers]") {
    imap::fetch_attrs a;
    REQUIRE(fetch_one("* 1 FETCH (UID 4 X-GM-LABELS ())\r\n", a).ok());
    REQUIRE(a.gm_labels);
    CHECK(a.gm_labels->empty());
    REQUIRE(fetch_one("* 2 FETCH (X-GM-LABELS (\\Inbox \\Sent Important \"Muy Importante\" "
                      "\"&AMk-t&AOk-\" {12}\r\nWork/Project) UID 9)\r\n",
                      a)
                .ok());
    CHECK(*a.gm_labels == strings{"\\Inbox", "\\Sent", "Important", "Muy Importante", "&AMk-t&AOk-",
                                  "Work/Project"});
    CHECK(a.uid == 9u);
    // UTF-8 label (UTF8=ACCEPT enabled).
    REQUIRE(fetch_one("* 3 FETCH (UID 1 X-GM-LABELS (\"\xc3\x89t\xc3\xa9\"))\r\n", a).ok());
    CHECK(*a.gm_labels == strings{"\xc3\x89t\xc3\xa9"});
}

TEST_CASE("gmail: X-GM-MSGID and X-GM-THRID take the whole unsigned 64-bit range",
          "[gmail][imap][parsers]") {
    imap::fetch_attrs a;
    REQUIRE(
        fetch_one("* 1 FETCH (UID 1 X-GM-MSGID 18446744073709551615 X-GM-THRID 0)\r\n", a).ok());
    CHECK(a.gm_msgid == 18446744073709551615u);
    CHECK(a.gm_thrid == 0u);
    REQUIRE(fetch_one("* 1 FETCH (UID 1 X-GM-MSGID 0001278455344230334865)\r\n", a).ok());
    CHECK(a.gm_msgid == 1278455344230334865u);
}

TEST_CASE("gmail: X-GM items of the wrong type or out of range are protocol errors",
          "[gmail][imap][parsers]") {
    const char* bad[] = {
        "* 1 FETCH (UID 1 X-GM-MSGID 18446744073709551616)\r\n",      // 2^64
        "* 1 FETCH (UID 1 X-GM-MSGID 123456789012345678901234)\r\n",  // 24 digits
        "* 1 FETCH (UID 1 X-GM-MSGID abc)\r\n",
        "* 1 FETCH (UID 1 X-GM-MSGID -5)\r\n",
        "* 1 FETCH (UID 1 X-GM-MSGID \"1278455344230334865\")\r\n",
        "* 1 FETCH (UID 1 X-GM-MSGID (1278455344230334865))\r\n",
        "* 1 FETCH (UID 1 X-GM-THRID NIL)\r\n",
        "* 1 FETCH (UID 1 X-GM-LABELS NIL)\r\n",
        "* 1 FETCH (UID 1 X-GM-LABELS \\Inbox)\r\n",
        "* 1 FETCH (UID 1 X-GM-LABELS (\\Inbox (Nested)))\r\n",
        "* 1 FETCH (UID 1 X-GM-LABELS \"Work\")\r\n",
    };
    for (const char* line : bad) {
        INFO(line);
        imap::fetch_attrs a;
        auto e = fetch_one(line, a);
        CHECK(e.code == errc::protocol);
        CHECK((e.message.find("X-GM-") != std::string::npos));
    }
}

// ---- through the client, split at every byte ---------------------------------------------------

TEST_CASE("gmail: a recorded-style Gmail FETCH of labels, ids and flags replayed everywhere",
          "[gmail][imap][transcripts]") {
    // Shaped after the examples of Google's IMAP Extensions page: atoms, quoted strings, an
    // empty list, a literal, modified UTF-7, items in Gmail's order.
    const std::string answer =
        "* 1 FETCH (X-GM-THRID 1266894439832287888 X-GM-MSGID 1278455344230334865 "
        "X-GM-LABELS (\\Inbox \\Sent Important \"Muy Importante\") UID 5 FLAGS (\\Seen))\r\n"
        "* 2 FETCH (X-GM-THRID 1266894439832287888 X-GM-MSGID 1278455344230334866 "
        "X-GM-LABELS () UID 6 FLAGS ())\r\n"
        "* 3 FETCH (X-GM-THRID 1266894439832287999 X-GM-MSGID 1278455344230334999 "
        "X-GM-LABELS (\"&AMk-t&AOk-\" {12}\r\nWork/Project \\Starred) UID 7 FLAGS (\\Flagged))\r\n"
        "A0001 OK Success\r\n";
    mv::test::script s;
    s.read(mailkit("greeting.txt"))
        .write("A0001 UID FETCH 5:7 (UID FLAGS X-GM-MSGID X-GM-THRID X-GM-LABELS)\r\n")
        .read(answer);
    mv::test::replay_everywhere(s, [](mv::test::scripted_transport& t) -> mv::error {
        imap::client c(t);
        if (auto e = c.greeting()) return e;
        imap::fetch_request rq;
        rq.sets = {imap::make_uid_set({5, 6, 7})};
        rq.items = "(UID FLAGS X-GM-MSGID X-GM-THRID X-GM-LABELS)";
        attrs_sink sink;
        if (auto e = c.uid_fetch(rq, sink)) return e;
        REQUIRE(sink.fetches.size() == 3);
        CHECK(sink.fetches[0].gm_msgid == 1278455344230334865u);
        CHECK(sink.fetches[0].gm_thrid == 1266894439832287888u);
        CHECK(*sink.fetches[0].gm_labels ==
              strings{"\\Inbox", "\\Sent", "Important", "Muy Importante"});
        REQUIRE(sink.fetches[1].gm_labels);
        CHECK(sink.fetches[1].gm_labels->empty());
        CHECK(*sink.fetches[2].gm_labels == strings{"&AMk-t&AOk-", "Work/Project", "\\Starred"});
        CHECK(sink.fetches[2].uid == 7u);
        return {};
    });
}

TEST_CASE("gmail: MailKit's recorded X-GM-LABELS answer replayed through the client everywhere",
          "[gmail][imap][transcripts]") {
    mv::test::script s;
    s.read(mailkit("greeting.txt"))
        .write("A0001 UID FETCH 1:50 (UID X-GM-LABELS)\r\n")
        .read(mailkit("add-labels.txt", "A0001"));
    mv::test::replay_everywhere(s, [](mv::test::scripted_transport& t) -> mv::error {
        imap::client c(t);
        if (auto e = c.greeting()) return e;
        imap::fetch_request rq;
        rq.sets = {imap::parse_uid_set("1:50").value()};
        rq.items = "(UID X-GM-LABELS)";
        attrs_sink sink;
        if (auto e = c.uid_fetch(rq, sink)) return e;
        REQUIRE(sink.fetches.size() == 21);
        for (const auto& a : sink.fetches)
            CHECK(*a.gm_labels == strings{"\\Important", "Custom Label"});
        return {};
    });
}

TEST_CASE("gmail: a malformed X-GM-MSGID ends the FETCH with a protocol error",
          "[gmail][imap][transcripts]") {
    mv::test::script s;
    s.read(mailkit("greeting.txt"))
        .write("A0001 UID FETCH 1 (UID X-GM-MSGID)\r\n")
        .read("* 1 FETCH (UID 1 X-GM-MSGID 12x4)\r\nA0001 OK Success\r\n");
    mv::test::scripted_transport t(s);
    imap::client c(t);
    REQUIRE(c.greeting().ok());
    imap::fetch_request rq;
    rq.sets = {imap::make_uid_set({1})};
    rq.items = "(UID X-GM-MSGID)";
    attrs_sink sink;
    auto e = c.uid_fetch(rq, sink);
    CHECK(e.code == errc::protocol);
    CHECK(e.message.find("X-GM-MSGID") != std::string::npos);
}

// ---- restore mapping ---------------------------------------------------------------------------

TEST_CASE("gmail: label_folders maps system and user labels to folders", "[gmail][restore]") {
    using sync::label_folders;
    CHECK(label_folders({"\\Inbox"}) == strings{"INBOX"});
    CHECK(label_folders({"\\Inbox", "Work/Project", "\\Important"}) ==
          strings{"INBOX", "Work/Project"});
    CHECK(label_folders({"Work/Project", "\\Inbox"}) == strings{"INBOX", "Work/Project"});
    CHECK(label_folders({"\\Sent"}) == strings{"\\Sent"});
    CHECK(label_folders({"\\Draft"}) == strings{"\\Drafts"});
    CHECK(label_folders({"\\Sent", "\\Inbox", "Family"}) == strings{"INBOX", "\\Sent", "Family"});
    // Case of system labels does not matter (Gmail sends \Inbox, some tools \INBOX).
    CHECK(label_folders({"\\INBOX", "\\sent"}) == strings{"INBOX", "\\Sent"});
    // Duplicates collapse.
    CHECK(label_folders({"Work", "Work", "\\Inbox", "\\Inbox"}) == strings{"INBOX", "Work"});
    // UTF-8 user labels are folders of that name.
    CHECK(label_folders({"\xc3\x89t\xc3\xa9/2024"}) == strings{"\xc3\x89t\xc3\xa9/2024"});
}

TEST_CASE("gmail: Trash and Spam win, Important and Starred make no folder", "[gmail][restore]") {
    using sync::label_folders;
    CHECK(label_folders({"\\Trash", "\\Inbox", "Work"}) == strings{"\\Trash"});
    CHECK(label_folders({"Work", "\\Spam"}) == strings{"\\Junk"});
    CHECK(label_folders({"\\Spam", "\\Trash"}) == strings{"\\Trash"});
    CHECK(label_folders({"\\Important", "\\Starred"}) == strings{"Archive"});
    CHECK(label_folders({"\\Starred", "Receipts"}) == strings{"Receipts"});
    CHECK(label_folders({"\\SomethingNew"}) == strings{"Archive"});  // unknown system label
    CHECK(sync::label_flags({"\\Starred", "\\Inbox"}) == strings{"\\Flagged"});
    CHECK(sync::label_flags({"\\Draft"}) == strings{"\\Draft"});
    CHECK(sync::label_flags({"Work"}).empty());
}

TEST_CASE("gmail: a message without labels goes to the configurable archive folder",
          "[gmail][restore]") {
    using sync::label_folders;
    CHECK(label_folders({}) == strings{"Archive"});
    CHECK(label_folders({""}) == strings{"Archive"});
    sync::gmail_restore_options o;
    o.archive_folder = "Old/Gmail archive";
    CHECK(label_folders({}, o) == strings{"Old/Gmail archive"});
    CHECK(label_folders({"\\Inbox"}, o) == strings{"INBOX"});
    o.archive_folder = std::string(sync::archive_marker);
    CHECK(label_folders({"\\Important"}, o) == strings{"\\Archive"});
    o.archive_folder.clear();
    CHECK(label_folders({}, o) == strings{"Archive"});
    CHECK(sync::is_special_use_marker("\\Archive"));
    CHECK(sync::is_special_use_marker(sync::sent_marker));
    CHECK(!sync::is_special_use_marker("INBOX"));
    CHECK(!sync::is_special_use_marker("Work/Project"));
}

TEST_CASE("gmail: primary_only keeps one folder", "[gmail][restore]") {
    sync::gmail_restore_options o;
    o.mode = sync::label_mode::primary_only;
    CHECK(sync::label_folders({"Work", "\\Inbox", "Family"}, o) == strings{"INBOX"});
    CHECK(sync::label_folders({"Work", "Family"}, o) == strings{"Work"});
    CHECK(sync::label_folders({"\\Sent", "Work"}, o) == strings{"\\Sent"});
    CHECK(sync::label_folders({"\\Trash", "Work"}, o) == strings{"\\Trash"});
    CHECK(sync::label_folders({}, o) == strings{"Archive"});
}

TEST_CASE("gmail: labels_for_gmail keeps what STORE +X-GM-LABELS can set", "[gmail][restore]") {
    CHECK(sync::labels_for_gmail({"\\Inbox", "Work/Project", "\\Important", "\\Starred"}) ==
          strings{"\\Inbox", "Work/Project", "\\Important", "\\Starred"});
    CHECK(sync::labels_for_gmail({"\\Draft", "\\Trash", "\\Spam", "", "Family", "Family"}) ==
          strings{"Family"});
    CHECK(sync::labels_for_gmail({"\\Sent"}) == strings{"\\Sent"});
    CHECK(sync::labels_for_gmail({}).empty());
}

TEST_CASE("gmail: a folder of another server becomes a label in Gmail", "[gmail][restore]") {
    using sync::folder_label_for_gmail;
    CHECK(folder_label_for_gmail("INBOX", "") == "\\Inbox");
    CHECK(folder_label_for_gmail("Sent Items", "\\Sent") == "\\Sent");
    CHECK(folder_label_for_gmail("Flagged", "\\Flagged") == "\\Starred");
    CHECK(folder_label_for_gmail("Drafts", "\\Drafts").empty());
    CHECK(folder_label_for_gmail("Junk", "\\Junk").empty());
    CHECK(folder_label_for_gmail("Trash", "\\Trash").empty());
    CHECK(folder_label_for_gmail("Archive", "\\Archive").empty());
    CHECK(folder_label_for_gmail("Projects/2024", "") == "Projects/2024");
}

TEST_CASE("gmail: the label of the entry's own folder is added", "[gmail][restore]") {
    using sync::labels_with_folder;
    CHECK(labels_with_folder({"Work"}, "INBOX", "") == strings{"Work", "\\Inbox"});
    CHECK(labels_with_folder({"\\Inbox"}, "INBOX", "") == strings{"\\Inbox"});
    CHECK(labels_with_folder({}, "[Gmail]/Trash", "\\Trash") == strings{"\\Trash"});
    CHECK(labels_with_folder({}, "[Gmail]/Spam", "\\Junk") == strings{"\\Spam"});
    CHECK(labels_with_folder({}, "[Gmail]/Sent Mail", "\\Sent") == strings{"\\Sent"});
    CHECK(labels_with_folder({}, "[Gmail]/Drafts", "\\Drafts") == strings{"\\Draft"});
    CHECK(labels_with_folder({}, "[Gmail]/Starred", "\\Flagged") == strings{"\\Starred"});
    CHECK(labels_with_folder({}, "[Gmail]/Important", "\\Important") == strings{"\\Important"});
    CHECK(labels_with_folder({"Work"}, "[Gmail]/All Mail", "\\All") == strings{"Work"});
    CHECK(labels_with_folder({}, "[Gmail]/Chats", "").empty());
    CHECK(labels_with_folder({"\\Inbox"}, "Work/Project", "") ==
          strings{"\\Inbox", "Work/Project"});
    // Put together: what a trashed message found only in [Gmail]/Trash is restored into.
    CHECK(sync::label_folders(labels_with_folder({"Work"}, "[Gmail]/Trash", "\\Trash")) ==
          strings{"\\Trash"});
}

// ---- archive -----------------------------------------------------------------------------------

namespace {

archive::options create_opts() {
    archive::options o;
    o.create = true;
    o.defer_index = true;
    return o;
}

std::int64_t count_rows(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

std::string text_of(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
}

struct gmail_archive {
    temp_dir t;
    fs::path path = t.path() / "a.mvault";
    archive::archive a{path, create_opts()};
    std::int64_t account = 0;
    archive::mailbox_state inbox, all;
    gmail_archive() {
        account = a.upsert_account({"gm", "imap", "imap.gmail.com", "me@gmail.com"});
        archive::mailbox_info mi;
        mi.account_id = account;
        mi.wire_name = mi.name = "INBOX";
        mi.delimiter = "/";
        inbox = a.upsert_mailbox(mi);
        mi.wire_name = mi.name = "[Gmail]/All Mail";
        mi.special_use = "\\All";
        all = a.upsert_mailbox(mi);
        archive::transaction tx(a);
        a.set_watermarks(inbox.id, {11, std::nullopt, std::nullopt, std::nullopt});
        a.set_watermarks(all.id, {22, std::nullopt, std::nullopt, std::nullopt});
        tx.commit();
    }
    archive::entry_record record(const archive::mailbox_state& m, std::uint32_t uid,
                                 const std::string& body, std::optional<archive::gmail_attrs> g) {
        archive::entry_record e;
        e.mailbox_id = m.id;
        e.uid = uid;
        e.flags = {"\\Seen"};
        e.modseq = 100;
        e.size = body.size();
        e.content = a.put_content(body).hash;
        e.gmail = std::move(g);
        return e;
    }
    std::int64_t entry_id(const std::string& folder, std::uint32_t uid) {
        auto e = a.find_entry("gm", folder, uid);
        REQUIRE(e);
        return e->id;
    }
};

}  // namespace

TEST_CASE("gmail: one content for a message in INBOX and All Mail, attributes per entry",
          "[gmail][archive]") {
    gmail_archive g;
    const std::string body = "Subject: hi\r\nMessage-ID: <1@x>\r\n\r\nhello\r\n";
    archive::gmail_attrs at{1278455344230334865u, 1266894439832287888u, {"\\Inbox", "Work"}};
    {
        archive::transaction tx(g.a);
        CHECK(g.a.upsert_entry(g.record(g.inbox, 5, body, at)) == archive::upsert_result::inserted);
        CHECK(g.a.upsert_entry(g.record(g.all, 900, body, at)) == archive::upsert_result::inserted);
        tx.commit();
    }
    auto tot = g.a.totals();
    CHECK(tot.contents == 1);  // stored once ...
    CHECK(tot.entries == 2);   // ... listed twice
    CHECK(count_rows(g.path, "SELECT count(*) FROM contents") == 1);
    const auto in = g.entry_id("INBOX", 5), am = g.entry_id("[Gmail]/All Mail", 900);
    CHECK(g.a.gmail_of(in) == at);
    CHECK(g.a.gmail_of(am) == at);
    CHECK(g.a.entries_of_gmail_message(g.account, at.msgid.value()) ==
          std::vector<std::int64_t>{in, am});
    CHECK(g.a.entries_of_gmail_message(g.account, 42).empty());
    CHECK(text_of(g.path, "SELECT labels FROM gmail_entries WHERE entry_id = " +
                              std::to_string(in)) == "[\"\\\\Inbox\",\"Work\"]");
    CHECK(text_of(g.path, "SELECT printf('%x', gm_msgid) FROM gmail_entries LIMIT 1") ==
          "11bdfc5cae0c8191");
    // An entry recorded without Gmail attributes has none.
    {
        archive::transaction tx(g.a);
        g.a.upsert_entry(g.record(g.inbox, 6, "Subject: other\r\n\r\nx\r\n", std::nullopt));
        tx.commit();
    }
    CHECK(!g.a.gmail_of(g.entry_id("INBOX", 6)));
}

TEST_CASE("gmail: label changes are recorded with history, order alone is no change",
          "[gmail][archive]") {
    gmail_archive g;
    const std::string body = "Subject: a\r\n\r\nx\r\n";
    {
        archive::transaction tx(g.a);
        g.a.upsert_entry(g.record(g.inbox, 1, body, archive::gmail_attrs{7, 8, {"A", "B"}}));
        tx.commit();
    }
    const auto id = g.entry_id("INBOX", 1);
    const std::string history = "SELECT count(*) FROM gmail_label_history";
    archive::transaction tx(g.a);
    CHECK(!g.a.update_gmail(g.inbox.id, 1, {7, 8, {"A", "B"}}, 101));  // same
    CHECK(!g.a.update_gmail(g.inbox.id, 1, {7, 8, {"B", "A"}}, 102));  // reordered
    CHECK(g.a.gmail_of(id)->labels == strings{"B", "A"});
    CHECK(g.a.update_gmail(g.inbox.id, 1, {std::nullopt, std::nullopt, {"B", "\\Starred"}}, 103));
    CHECK(!g.a.update_gmail(g.inbox.id, 99, {7, 8, {"C"}}, 104));  // no such UID
    tx.commit();
    auto now = g.a.gmail_of(id);
    REQUIRE(now);
    CHECK(now->msgid == 7u);  // unset ids keep the recorded ones
    CHECK(now->thrid == 8u);
    CHECK(now->labels == strings{"B", "\\Starred"});
    CHECK(count_rows(g.path, history) == 1);
    CHECK(text_of(g.path,
                  "SELECT old_labels || ' -> ' || new_labels || ' @' || modseq FROM "
                  "gmail_label_history") == "[\"B\",\"A\"] -> [\"B\",\"\\\\Starred\"] @103");
    // upsert_entry with the same flags but other labels: updated, with history.
    archive::transaction tx2(g.a);
    CHECK(g.a.upsert_entry(g.record(g.inbox, 1, body, archive::gmail_attrs{7, 8, {}})) ==
          archive::upsert_result::updated);
    CHECK(g.a.upsert_entry(g.record(g.inbox, 1, body, archive::gmail_attrs{7, 8, {}})) ==
          archive::upsert_result::unchanged);
    tx2.commit();
    CHECK(g.a.gmail_of(id)->labels.empty());
    CHECK(count_rows(g.path, history) == 2);
}

TEST_CASE("gmail: ids of 2^63 and above survive the signed INTEGER column", "[gmail][archive]") {
    gmail_archive g;
    archive::gmail_attrs at{18446744073709551615u, 9223372036854775808u, {}};
    {
        archive::transaction tx(g.a);
        g.a.upsert_entry(g.record(g.all, 3, "Subject: big\r\n\r\n", at));
        tx.commit();
    }
    CHECK(g.a.gmail_of(g.entry_id("[Gmail]/All Mail", 3)) == at);
    CHECK(g.a.entries_of_gmail_message(g.account, 18446744073709551615u).size() == 1);
}

TEST_CASE("gmail: purging an entry removes its Gmail rows, the content stays while referenced",
          "[gmail][archive]") {
    gmail_archive g;
    const std::string body = "Subject: p\r\n\r\npurge me\r\n";
    {
        archive::transaction tx(g.a);
        g.a.upsert_entry(g.record(g.inbox, 1, body, archive::gmail_attrs{5, 5, {"X"}}));
        g.a.upsert_entry(g.record(g.all, 2, body, archive::gmail_attrs{5, 5, {"X"}}));
        g.a.update_gmail(g.inbox.id, 1, {5, 5, {"Y"}}, 200);
        tx.commit();
    }
    const auto in = g.entry_id("INBOX", 1);
    {
        archive::transaction tx(g.a);
        std::vector<std::int64_t> ids{in};
        auto st = g.a.purge_entries(ids);
        CHECK(st.entries == 1);
        CHECK(st.contents == 0);  // All Mail still refers to it
        tx.commit();
    }
    CHECK(!g.a.gmail_of(in));
    CHECK(count_rows(g.path, "SELECT count(*) FROM gmail_entries") == 1);
    CHECK(count_rows(g.path, "SELECT count(*) FROM gmail_label_history") == 0);
    CHECK(g.a.verify().ok());
}

TEST_CASE("gmail: the migration is at schema 8 and checks the labels column", "[gmail][archive]") {
    gmail_archive g;
    CHECK(g.a.user_version() >= 8);
    {
        archive::transaction tx(g.a);
        g.a.upsert_entry(g.record(g.inbox, 1, "Subject: j\r\n\r\n", std::nullopt));
        tx.commit();
    }
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(g.path.c_str(), &h) == SQLITE_OK);
    const std::string id = std::to_string(g.entry_id("INBOX", 1));
    CHECK(sqlite3_exec(h,
                       ("INSERT INTO gmail_entries (entry_id, labels, updated_at) VALUES (" + id +
                        ", 'not json', 0)")
                           .c_str(),
                       nullptr, nullptr, nullptr) != SQLITE_OK);
    CHECK(sqlite3_exec(h,
                       ("INSERT INTO gmail_entries (entry_id, labels, updated_at) VALUES (" + id +
                        ", '{}', 0)")
                           .c_str(),
                       nullptr, nullptr, nullptr) != SQLITE_OK);
    sqlite3_close(h);
}

// ---- whole syncs against a Gmail-like server ----------------------------------------------------

namespace {

using mv::test::gm_transport;
using mv::test::gm_world;

config::account gm_account() {
    ::setenv("MV_FAKE_GMAIL_PASSWORD", "secret", 1);
    config::account a;
    a.name = "gm";
    a.host = "imap.gmail.invalid";
    a.user = "me@gmail.com";
    a.password.kind = config::password_kind::env;
    a.password.value = "MV_FAKE_GMAIL_PASSWORD";
    a.connections = 1;
    return a;
}

sync::account_report gm_sync(gm_world& w, archive::archive& a) {
    static const auto acct = gm_account();
    sync::shared_archive sa(a);
    sync::sync_options o;
    o.batch_messages = 2;
    o.max_reconnects = 2;
    o.reconnect_backoff_ms = 0;
    o.open_session = [&w](const config::account& ac, const std::string& pw) {
        sync::imap_session s;
        s.transport = std::make_unique<gm_transport>(w);
        s.client = std::make_unique<imap::client>(*s.transport);
        auto raise = [&](const mv::error& e) {
            if (e) throw mv::failure(e.code, ac.name + ": " + e.message);
        };
        raise(s.client->greeting());
        raise(s.client->login(ac.user, pw));
        s.condstore = s.client->caps().has("CONDSTORE");
        if (s.client->caps().has("QRESYNC")) {
            raise(s.client->enable({"QRESYNC", "CONDSTORE"}));
            s.qresync = s.client->state().is_enabled("QRESYNC");
        }
        return s;
    };
    return sync::sync_imap_account(acct, sa, o);
}

const sync::folder_report* report_of(const sync::account_report& r, const std::string& name) {
    for (const auto& f : r.folders)
        if (f.name == name) return &f;
    return nullptr;
}

// The Gmail attributes the archive holds for `folder`/`uid` (current generation).
std::optional<archive::gmail_attrs> archived(archive::archive& a, const std::string& folder,
                                             std::uint32_t uid) {
    auto e = a.find_entry("gm", folder, uid);
    if (!e) return std::nullopt;
    return a.gmail_of(e->id);
}

// Every message of every folder is archived with the server's id, thread and labels (decoded).
void check_gmail(archive::archive& a, const gm_world& w,
                 const std::map<std::size_t, strings>& decoded = {}) {
    for (const auto& f : w.folders)
        for (const auto& [uid, i] : f.uids) {
            INFO(f.name << " UID " << uid);
            auto g = archived(a, f.name, uid);
            REQUIRE(g);
            const auto& m = w.messages[i];
            CHECK(g->msgid == m.msgid);
            CHECK(g->thrid == m.thrid);
            auto d = decoded.find(i);
            CHECK(g->labels == (d != decoded.end() ? d->second : m.labels));
        }
}

gm_world make_gm_world() {
    gm_world w;
    w.f("INBOX");
    w.f("[Gmail]/All Mail").attrs = " \\All";
    w.f("Work/Project");
    // In INBOX, All Mail and the label's folder.
    w.add("Subject: one\r\nMessage-ID: <1@gm>\r\n\r\nfirst\r\n", {"\\Inbox", "Work/Project"},
          "\\Seen", {"INBOX", "[Gmail]/All Mail", "Work/Project"});
    // Archived: only in All Mail, no label.
    w.add("Subject: two\r\nMessage-ID: <2@gm>\r\n\r\nsecond\r\n", {}, "\\Seen",
          {"[Gmail]/All Mail"});
    // A non-ASCII label in modified UTF-7 ("Été"), system labels as atoms.
    w.add("Subject: three\r\nMessage-ID: <3@gm>\r\n\r\nthird\r\n",
          {"\\Important", "\\Inbox", "&AMk-t&AOk-"}, "", {"INBOX", "[Gmail]/All Mail"});
    return w;
}

const std::map<std::size_t, strings> decoded_labels = {
    {2, {"\\Important", "\\Inbox", "\xc3\x89t\xc3\xa9"}}};

}  // namespace

TEST_CASE("gmail sync: labels, ids and one content per message, then a label change",
          "[gmail][sync]") {
    for (const char* mode : {"condstore", "listing", "qresync"}) {
        INFO("mode " << mode);
        const std::string_view m = mode;
        auto w = make_gm_world();
        w.condstore = m != "listing";
        w.qresync = m == "qresync";
        temp_dir t;
        archive::archive a(t.path() / "a.mvault", create_opts());
        auto rep = gm_sync(w, a);
        INFO(rep.err.message);
        REQUIRE(!rep.err);
        for (const auto& f : rep.folders) {
            INFO(f.name << ": " << f.err.message);
            CHECK(!f.err);
        }
        CHECK(rep.folders.size() == 3);  // "[Gmail]" is \Noselect
        check_gmail(a, w, decoded_labels);
        // Six entries, three contents: All Mail does not double the archive.
        CHECK(a.totals().entries == 6);
        CHECK(a.totals().contents == 3);
        auto acct = a.find_account("gm");
        REQUIRE(acct);
        CHECK(a.entries_of_gmail_message(*acct, w.messages[0].msgid).size() == 3);
        CHECK(a.find_mailbox(*acct, "[Gmail]/All Mail")->special_use == "\\All");
        // The body FETCH asked for the Gmail items.
        bool asked = false;
        for (const auto& c : w.commands)
            asked = asked || (c.find("BODY.PEEK[]") != std::string::npos &&
                              c.find("X-GM-MSGID X-GM-THRID X-GM-LABELS") != std::string::npos);
        CHECK(asked);

        // Labels change on the server (like flags, they bump MODSEQ).
        w.relabel(0, {"\\Inbox", "\\Starred", "Receipts"});
        w.relabel(1, {"Work/Project"});
        w.commands.clear();
        auto again = gm_sync(w, a);
        INFO(again.err.message);
        REQUIRE(!again.err);
        check_gmail(a, w, decoded_labels);
        CHECK(a.totals().entries == 6);
        CHECK(a.totals().contents == 3);
        const auto* inbox = report_of(again, "INBOX");
        const auto* all = report_of(again, "[Gmail]/All Mail");
        REQUIRE(inbox);
        REQUIRE(all);
        CHECK(inbox->labels_updated == 1);
        CHECK(all->labels_updated == 2);
        CHECK(inbox->new_messages == 0);
        CHECK(inbox->bodies_fetched == 0);
        CHECK(inbox->strategy == m);
        bool refreshed = false;
        for (const auto& c : w.commands)
            refreshed = refreshed || (c.find("X-GM-LABELS") != std::string::npos &&
                                      c.find("BODY.PEEK[]") == std::string::npos);
        CHECK(refreshed);
        // Nothing changed: a third run changes nothing.
        auto third = gm_sync(w, a);
        REQUIRE(!third.err);
        for (const auto& f : third.folders) CHECK(f.labels_updated == 0);
        check_gmail(a, w, decoded_labels);
    }
}

TEST_CASE("gmail sync: a server without X-GM-EXT-1 records no Gmail attributes", "[gmail][sync]") {
    // The same world behind a transport that hides the capability: the FETCH items stay plain.
    auto w = make_gm_world();
    temp_dir t;
    archive::archive a(t.path() / "a.mvault", create_opts());
    static const auto acct = gm_account();
    sync::shared_archive sa(a);
    sync::sync_options o;
    o.open_session = [&w](const config::account& ac, const std::string& pw) {
        sync::imap_session s;
        s.transport = std::make_unique<gm_transport>(w);
        s.client = std::make_unique<imap::client>(*s.transport);
        if (auto e = s.client->greeting()) throw mv::failure(e);
        if (auto e = s.client->login(ac.user, pw)) throw mv::failure(e);
        auto& items = s.client->state().caps.items;
        items.erase(std::remove(items.begin(), items.end(), "X-GM-EXT-1"), items.end());
        s.condstore = true;
        return s;
    };
    auto rep = sync::sync_imap_account(acct, sa, o);
    REQUIRE(!rep.err);
    for (const auto& c : w.commands) CHECK(c.find("X-GM-") == std::string::npos);
    auto e = a.find_entry("gm", "INBOX", 1);
    REQUIRE(e);
    CHECK(!a.gmail_of(e->id));
    CHECK(a.totals().contents == 3);
}

TEST_CASE("gmail sync: a connection failure at every I/O action, then a rerun, records every label",
          "[gmail][sync]") {
    std::size_t clean = 0;
    {
        auto w = make_gm_world();
        temp_dir t;
        archive::archive a(t.path() / "a.mvault", create_opts());
        REQUIRE(!gm_sync(w, a).err);
        clean = w.actions;
    }
    REQUIRE(clean > 30);
    for (std::size_t n = 0; n < clean; ++n) {
        auto w = make_gm_world();
        w.fail_at = n;
        temp_dir t;
        archive::archive a(t.path() / "a.mvault", create_opts());
        auto rep = gm_sync(w, a);
        INFO("failure at action " << n << ": " << rep.err.message);
        REQUIRE(w.failed);
        // Labels change before the rerun: the rerun records the new ones everywhere.
        w.relabel(0, {"\\Inbox"});
        w.fail_at = static_cast<std::size_t>(-1);
        auto again = gm_sync(w, a);
        INFO("rerun: " << again.err.message);
        REQUIRE(!again.err);
        check_gmail(a, w, decoded_labels);
        CHECK(a.totals().contents == 3);
    }
}

TEST_CASE("gmail sync: after a UIDVALIDITY change, reused bodies get their labels too",
          "[gmail][sync]") {
    auto w = make_gm_world();
    temp_dir t;
    archive::archive a(t.path() / "a.mvault", create_opts());
    REQUIRE(!gm_sync(w, a).err);
    w.f("INBOX").uidvalidity = 4711;
    w.relabel(0, {"\\Inbox", "Later"});
    auto rep = gm_sync(w, a);
    INFO(rep.err.message);
    REQUIRE(!rep.err);
    const auto* inbox = report_of(rep, "INBOX");
    REQUIRE(inbox);
    INFO(inbox->err.message);
    CHECK(!inbox->err);
    CHECK(inbox->uidvalidity_changed);
    CHECK(inbox->reused_bodies == 2);
    CHECK(inbox->bodies_fetched == 0);
    check_gmail(a, w, decoded_labels);
    CHECK(a.totals().contents == 3);
}
