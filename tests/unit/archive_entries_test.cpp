// Archive model: accounts, mailboxes, entries, flags history, expunge, UIDVALIDITY generations,
// watermarks, recovery candidates, POP3 entries, sync runs, search, stats, audit chain.
#include <sqlite3.h>
#include <stdlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include "harness/testbed.hpp"

#include "archive/archive.hpp"
#include "harness/local.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

namespace {

using mv::test::sql_exec;
using mv::test::temp_dir;  // removed on destruction (MV_KEEP_TMP keeps it)

options opts_at(std::int64_t* clock) {
    options o;
    o.create = true;
    o.clock = [clock] { return *clock; };
    return o;
}

std::int64_t sql_int(const fs::path& db, const std::string& q) {
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(h, q.c_str(), -1, &st, nullptr);
    std::int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

std::string msg(const std::string& subject, const std::string& id) {
    return "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: " + subject +
           "\r\nMessage-ID: <" + id + ">\r\nDate: Tue, 1 Oct 2019 10:00:00 +0000\r\n\r\nHello " +
           subject + "\r\n";
}

}  // namespace

TEST_CASE("archive: accounts and mailboxes upsert, no password column exists", "[archive]") {
    temp_dir t;
    std::int64_t now = 1000;
    archive a(t.path() / "a.mvault", opts_at(&now));
    auto id = a.upsert_account({"work", "imap", "imap.example", "me"});
    CHECK(a.upsert_account({"work", "imap", "imap2.example", "me"}) == id);
    CHECK(a.find_account("work") == id);
    CHECK_FALSE(a.find_account("nope"));
    CHECK_THROWS_AS(a.upsert_account({"x", "smtp", "h", "u"}), mv::failure);

    auto m = a.upsert_mailbox({id, "&AMQ-rger", "Ärger", "/", "\\Junk"});
    CHECK(m.name == "Ärger");
    CHECK(m.generation == 1);
    CHECK_FALSE(m.uidvalidity);
    a.set_watermarks(m.id, {77, 100, 555, 99});
    auto m2 = a.upsert_mailbox({id, "&AMQ-rger", "Ärger", ".", std::nullopt});
    CHECK(m2.id == m.id);
    CHECK(m2.delimiter == ".");
    CHECK(m2.uidvalidity == 77u);
    CHECK(m2.uidnext == 100u);
    CHECK(m2.highestmodseq == 555u);
    CHECK(m2.last_uid == 99u);
    CHECK(m2.last_synced == 1000);
    CHECK(a.mailboxes(id).size() == 1);
    CHECK_THROWS_AS(a.set_watermarks(m.id, {78, 1, std::nullopt, std::nullopt}), mv::failure);
    CHECK(sql_int(t.path() / "a.mvault",
                  "SELECT count(*) FROM pragma_table_info('accounts') WHERE name LIKE '%pass%'") ==
          0);
}

TEST_CASE("archive: entries, flag history, expunge and generations", "[archive]") {
    temp_dir t;
    auto db = t.path() / "a.mvault";
    std::int64_t now = 1000;
    archive a(db, opts_at(&now));
    auto acc = a.upsert_account({"work", "imap", "h", "u"});
    auto inbox = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
    auto arch = a.upsert_mailbox({acc, "Archive", "Archive", "/", "\\Archive"});
    a.set_watermarks(inbox.id, {1, std::nullopt, std::nullopt, std::nullopt});
    a.set_watermarks(arch.id, {9, std::nullopt, std::nullopt, std::nullopt});

    std::string m1 = msg("one", "1@x"), m2 = msg("two", "2@x");
    transaction tx(a);
    auto c1 = a.put_content(m1).hash;
    auto c2 = a.put_content(m2).hash;
    // Same message in two folders: one content, two entries.
    CHECK(a.upsert_entry(
              {inbox.id, 1, 10, std::nullopt, {"\\Seen", "$A", "\\Seen"}, 5, 900, m1.size(), c1}) ==
          upsert_result::inserted);
    CHECK(a.upsert_entry({arch.id, 9, 3, std::nullopt, {}, std::nullopt, 900, m1.size(), c1}) ==
          upsert_result::inserted);
    CHECK(a.upsert_entry({inbox.id, 1, 11, std::nullopt, {}, 6, 901, m2.size(), c2}) ==
          upsert_result::inserted);
    CHECK(
        a.upsert_entry({inbox.id, 1, 10, std::nullopt, {"$A", "\\Seen"}, 5, 900, m1.size(), c1}) ==
        upsert_result::unchanged);
    CHECK(a.upsert_entry({inbox.id, 1, 10, std::nullopt, {}, 5, 900, m1.size(), c2}) ==
          upsert_result::content_conflict);
    CHECK_THROWS_AS(a.upsert_entry({inbox.id, 2, 12, std::nullopt, {}, 5, 900, 1, c1}),
                    mv::failure);  // wrong UIDVALIDITY
    CHECK_THROWS_AS(
        a.upsert_entry({inbox.id, 1, 12, std::nullopt, {}, 5, 900, 1, sha256_of("never stored")}),
        mv::failure);
    a.set_watermarks(inbox.id, {1, 12, 6, 11});
    tx.commit();
    CHECK(a.totals().contents == 2);
    CHECK(a.totals().entries == 3);

    auto list = a.list_entries(inbox.id);
    REQUIRE(list.size() == 2);
    CHECK(list[0].uid == 10u);
    CHECK(list[0].flags == "$A \\Seen");
    CHECK(list[0].content == c1);
    CHECK(list[0].modseq == 5u);
    CHECK(list[1].uid == 11u);

    now = 2000;
    CHECK(a.update_flags(inbox.id, 10, {"\\Seen", "\\Flagged"}, 7));
    CHECK_FALSE(a.update_flags(inbox.id, 10, {"\\Flagged", "\\Seen"}, 8));
    CHECK_FALSE(a.update_flags(inbox.id, 999, {}, std::nullopt));
    CHECK(sql_int(db, "SELECT count(*) FROM flag_history") == 1);
    CHECK(sql_int(db,
                  "SELECT count(*) FROM flag_history WHERE old_flags = '$A \\Seen' AND "
                  "new_flags = '\\Flagged \\Seen' AND changed_at = 2000 AND modseq = 7") == 1);

    std::vector<std::uint32_t> gone{11, 12345};
    CHECK(a.mark_expunged(inbox.id, gone) == 1);
    CHECK(a.mark_expunged(inbox.id, gone) == 0);
    list = a.list_entries(inbox.id);
    CHECK(list[1].expunged_at == 2000);
    CHECK_FALSE(list[0].expunged_at);

    // UIDVALIDITY change: a new generation, old entries kept, event recorded.
    now = 3000;
    auto g2 = a.begin_generation(inbox.id, 2);
    CHECK(g2.generation == 2);
    CHECK(g2.uidvalidity == 2u);
    CHECK_FALSE(g2.uidnext);
    CHECK(a.list_entries(inbox.id).empty());
    CHECK(a.list_entries(inbox.id, 1).size() == 2);
    CHECK(sql_int(db,
                  "SELECT count(*) FROM uidvalidity_events WHERE old_uidvalidity = 1 AND "
                  "new_uidvalidity = 2 AND new_generation = 2") == 1);
    // Recovery candidates for the re-numbered messages.
    auto cand = a.find_by_size_and_message_id(m1.size(), "1@x");
    REQUIRE(cand.size() == 1);
    CHECK(cand[0] == c1);
    CHECK(a.find_by_size_and_message_id(m1.size() + 1, "1@x").empty());
    auto byhdr = a.find_by_header_hash(header_hash(m2));
    REQUIRE(byhdr.size() == 1);
    CHECK(byhdr[0] == c2);
    CHECK(a.upsert_entry(
              {inbox.id, 2, 1, std::nullopt, {"\\Seen"}, std::nullopt, 900, m1.size(), c1}) ==
          upsert_result::inserted);
    CHECK(a.list_entries(inbox.id).size() == 1);

    auto fe = a.find_entry("work", "INBOX", 1);
    REQUIRE(fe);
    CHECK(fe->generation == 2);

    auto st = a.stats();
    REQUIRE(st.size() == 2);
    CHECK(st[0].mailbox == "Archive");
    CHECK(st[0].messages == 1);
    CHECK(st[1].mailbox == "INBOX");
    CHECK(st[1].messages == 2);
    CHECK(st[1].expunged == 1);
    CHECK(st[1].raw_bytes == static_cast<std::int64_t>(2 * m1.size() + m2.size()));
    CHECK(a.verify().ok());
}

TEST_CASE("archive: POP3 entries are keyed by UIDL", "[archive]") {
    temp_dir t;
    std::int64_t now = 5;
    archive a(t.path() / "a.mvault", opts_at(&now));
    auto acc = a.upsert_account({"pop", "pop3", "pop.example", "u"});
    auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", std::nullopt, std::nullopt});
    auto c = a.put_content(msg("pop", "p@x")).hash;
    CHECK(a.upsert_entry({mb.id,
                          std::nullopt,
                          std::nullopt,
                          std::string("UIDL-1"),
                          {},
                          std::nullopt,
                          std::nullopt,
                          10,
                          c}) == upsert_result::inserted);
    CHECK(a.upsert_entry({mb.id,
                          std::nullopt,
                          std::nullopt,
                          std::string("UIDL-1"),
                          {},
                          std::nullopt,
                          std::nullopt,
                          10,
                          c}) == upsert_result::unchanged);
    CHECK_THROWS_AS(
        a.upsert_entry(
            {mb.id, std::nullopt, 1, std::string("both"), {}, std::nullopt, std::nullopt, 10, c}),
        mv::failure);
    std::vector<std::string> gone{"UIDL-1"};
    CHECK(a.mark_expunged_uidl(mb.id, gone) == 1);
    auto l = a.list_entries(mb.id);
    REQUIRE(l.size() == 1);
    CHECK(l[0].uidl == "UIDL-1");
    CHECK(l[0].expunged_at == 5);
}

TEST_CASE("archive: header index and full-text search", "[archive]") {
    temp_dir t;
    std::int64_t now = 5;
    archive a(t.path() / "a.mvault", opts_at(&now));
    auto acc = a.upsert_account({"work", "imap", "h", "u"});
    auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
    a.set_watermarks(mb.id, {1, std::nullopt, std::nullopt, std::nullopt});
    std::string m =
        "From: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.org>\r\nTo: team@example.org\r\n"
        "Subject: =?UTF-8?B?UXVhcnRhbHNiZXJpY2h0IMOEcGZlbA==?=\r\nMessage-ID: <q@x>\r\n"
        "In-Reply-To: <p@x>\r\nReferences: <o@x> <p@x>\r\n"
        "Date: Tue, 1 Oct 2019 10:00:00 +0000\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><body><p>Die Zahlen f&uuml;r <b>Zebrafinken</b> &amp; Co.</p></body></html>\r\n";
    auto h = a.put_content(m).hash;
    a.upsert_entry({mb.id, 1, 1, std::nullopt, {}, std::nullopt, 1, m.size(), h});
    auto row = a.headers(h);
    REQUIRE(row);
    CHECK(row->parse_status == "ok");
    CHECK(row->subject == "Quartalsbericht Äpfel");
    CHECK(row->from.find("Jörg") != std::string::npos);
    CHECK(row->message_id == "q@x");
    CHECK(row->in_reply_to == "p@x");
    CHECK(row->references == "o@x p@x");
    CHECK(row->date_epoch == 1569924000);

    auto hits = a.search("zebrafinken");
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].content == h);
    CHECK(hits[0].location == "work/INBOX");
    CHECK(a.search("subject:äpfel").size() == 1);
    CHECK(a.search("joerg").size() == 1);
    CHECK(a.search("nothinglikethis").empty());
    CHECK_THROWS_AS(a.search("\"unbalanced"), mv::failure);
    auto pre = a.find_contents_by_prefix(h.hex().substr(0, 8));
    REQUIRE(pre.size() == 1);
    CHECK(pre[0] == h);

    // Deferred indexing still happens.
    options o;
    o.defer_index = true;
    a.close();
    archive b(t.path() / "a.mvault", o);
    auto h2 = b.put_content("Subject: later\r\n\r\nkiwifruit\r\n").hash;
    // Search hits are entries (archive/searcher.hpp): the content needs one to be found.
    b.upsert_entry({mb.id, 1, 2, std::nullopt, {}, std::nullopt, 1, 30, h2});
    CHECK(b.search("kiwifruit").empty());
    CHECK(b.index_pending() == 1);
    CHECK(b.search("kiwifruit").size() == 1);
    CHECK(b.headers(h2)->subject == "later");
}

TEST_CASE("archive: unparsable mail is archived byte-exact with a failed index row", "[archive]") {
    temp_dir t;
    archive a(t.path() / "a.mvault", [] {
        options o;
        o.create = true;
        return o;
    }());
    std::string junk("\0\0\xff\xfe not a message", 19);
    auto h = a.put_content(junk).hash;
    std::string back;
    REQUIRE_FALSE(a.read_content(h, back));
    CHECK(back == junk);
    auto row = a.headers(h);
    REQUIRE(row);
    CHECK((row->parse_status == "failed" || row->subject.empty()));
}

TEST_CASE("archive: sync runs record counters", "[archive]") {
    temp_dir t;
    std::int64_t now = 100;
    auto db = t.path() / "a.mvault";
    archive a(db, opts_at(&now));
    auto acc = a.upsert_account({"w", "imap", "h", "u"});
    auto run = a.begin_sync_run(acc);
    now = 160;
    a.finish_sync_run(run, "ok", {3, 2, 1, 4096, 0}, "fine");
    CHECK(sql_int(db,
                  "SELECT messages_new * 1000 + messages_updated * 100 + messages_expunged * "
                  "10 + errors FROM sync_runs WHERE status = 'ok' AND finished_at = 160 AND "
                  "started_at = 100 AND bytes_fetched = 4096") == 3210);
}

TEST_CASE("archive: audit chain detects edits, deletions and reordering", "[archive]") {
    temp_dir t;
    auto db = t.path() / "a.mvault";
    std::int64_t now = 10;
    {
        archive a(db, opts_at(&now));
        for (int i = 1; i <= 5; ++i)
            CHECK(a.audit_append("delete", "{\"n\":" + std::to_string(i) + "}") == i);
        auto r = a.audit_verify();
        CHECK(r.ok());
        CHECK(r.rows == 5);
    }
    auto verify_after = [&](const std::string& tamper) {
        fs::copy_file(db, t.path() / "t.mvault", fs::copy_options::overwrite_existing);
        std::error_code ec;
        fs::remove(t.path() / "t.mvault-wal", ec);
        fs::remove(t.path() / "t.mvault-shm", ec);
        sql_exec(t.path() / "t.mvault", tamper);
        archive b(t.path() / "t.mvault");
        return b.audit_verify();
    };
    auto edited = verify_after("UPDATE audit_log SET payload = '{\"n\":99}' WHERE seq = 3");
    REQUIRE_FALSE(edited.ok());
    CHECK(edited.problems[0].find("row 3") != std::string::npos);
    CHECK_FALSE(verify_after("DELETE FROM audit_log WHERE seq = 2").ok());
    CHECK_FALSE(verify_after("DELETE FROM audit_log WHERE seq = 5").ok());
    CHECK_FALSE(verify_after("UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3); "
                             "UPDATE audit_log SET seq = 3 WHERE seq = -2; "
                             "UPDATE audit_log SET seq = 2 WHERE seq = -3;")
                    .ok());
    CHECK(verify_after("SELECT 1").ok());
}
