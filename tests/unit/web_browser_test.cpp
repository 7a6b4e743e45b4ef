// The viewer's reads (archive/browser.hpp) at the level of their keys: the folder page's
// newest-first order (Date:, else INTERNALDATE, kept on the entry by schema 0013's triggers
// whichever is written first, entry or header row) and the thread by In-Reply-To / References
// (thread_refs), including ids that were LIKE wildcards in the old query.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "archive/browser.hpp"
#include "harness/local.hpp"

using namespace mv::archive;

namespace {

std::string msg(const std::string& id, const std::string& subject, const std::string& date,
                const std::string& irt = "", const std::string& refs = "") {
    std::string m =
        "From: a@example.org\r\nSubject: " + subject + "\r\nMessage-ID: <" + id + ">\r\n";
    if (!date.empty()) m += "Date: " + date + "\r\n";
    if (!irt.empty()) m += "In-Reply-To: <" + irt + ">\r\n";
    if (!refs.empty()) m += "References: " + refs + "\r\n";
    return m + "\r\nbody of " + subject + "\r\n";
}

std::vector<std::string> subjects(const std::vector<entry_row>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.subject);
    return out;
}

std::int64_t sql_int(const std::filesystem::path& db, const std::string& q) {
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(h, q.c_str(), -1, &st, nullptr);
    std::int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

std::string plan(const std::filesystem::path& db, const std::string& q) {
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(h, ("EXPLAIN QUERY PLAN " + q).c_str(), -1, &st, nullptr) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW)
            out += reinterpret_cast<const char*>(sqlite3_column_text(st, 3)) + std::string("\n");
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
}

}  // namespace

TEST_CASE("browser: folder page newest first by Date, else INTERNALDATE", "[browser]") {
    for (bool deferred : {false, true}) {
        DYNAMIC_SECTION((deferred ? "index after the entries" : "index with the content")) {
            mv::test::temp_dir t;
            options o;
            o.create = true;
            o.defer_index = deferred;
            archive a(t.path() / "b.mvault", o);
            std::int64_t mb = 0;
            {
                transaction tx(a);
                auto acc = a.upsert_account({"work", "imap", "h", "u"});
                mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt}).id;
                a.set_watermarks(mb, {7, std::nullopt, std::nullopt, std::nullopt});
                std::uint32_t uid = 1;
                auto add = [&](const std::string& raw, std::int64_t internaldate) {
                    auto h = a.put_content(raw).hash;
                    a.upsert_entry({mb,
                                    7,
                                    uid++,
                                    std::nullopt,
                                    {},
                                    std::nullopt,
                                    internaldate,
                                    raw.size(),
                                    h});
                };
                // Dates (epoch): 2021 < no-Date(2022 INTERNALDATE) < 2023; UIDs in another order.
                add(msg("m1", "dated 2023", "Sun, 01 Jan 2023 00:00:00 +0000"), 1000);
                add(msg("m2", "no date, arrived 2022", ""), 1640995200);
                add(msg("m3", "dated 2021", "Fri, 01 Jan 2021 00:00:00 +0000"), 1900000000);
                tx.commit();
            }
            if (deferred) a.index_pending();
            browser b(a);
            auto p = b.folder_entries(mb, 0, 2);
            CHECK(subjects(p.rows) ==
                  std::vector<std::string>{"dated 2023", "no date, arrived 2022"});
            CHECK(p.more);
            CHECK(p.total == 3);
            auto p2 = b.folder_entries(mb, 2, 2);
            CHECK(subjects(p2.rows) == std::vector<std::string>{"dated 2021"});
            CHECK_FALSE(p2.more);
            // The page is a walk of the folder's index, not a sort of every entry.
            const auto qp = plan(t.path() / "b.mvault",
                                 "SELECT id FROM entries e WHERE e.mailbox_id = 1 ORDER BY "
                                 "e.sort_key DESC, e.id DESC LIMIT 51");
            CHECK(qp.find("entries_by_folder_date") != std::string::npos);
            CHECK(qp.find("TEMP B-TREE") == std::string::npos);
        }
    }
}

TEST_CASE("browser: thread by In-Reply-To and References", "[browser]") {
    mv::test::temp_dir t;
    options o;
    o.create = true;
    archive a(t.path() / "b.mvault", o);
    std::int64_t reply_entry = 0;
    {
        transaction tx(a);
        auto acc = a.upsert_account({"work", "imap", "h", "u"});
        auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt}).id;
        a.set_watermarks(mb, {7, std::nullopt, std::nullopt, std::nullopt});
        std::uint32_t uid = 1;
        auto add = [&](const std::string& raw) {
            auto h = a.put_content(raw).hash;
            a.upsert_entry(
                {mb, 7, uid++, std::nullopt, {}, std::nullopt, 1700000000, raw.size(), h});
        };
        add(msg("root%_@x", "1 root", "Mon, 01 Jan 2024 00:00:00 +0000"));
        // A reply naming its parent by In-Reply-To only.
        add(msg("r1@x", "2 reply", "Tue, 02 Jan 2024 00:00:00 +0000", "root%_@x"));
        // A reply to the reply naming the root only in References (no In-Reply-To).
        add(msg("r2@x", "3 reply to reply", "Wed, 03 Jan 2024 00:00:00 +0000", "",
                "<root%_@x> <r1@x>"));
        // Not in the thread: an id the old LIKE pattern "% root%_@x %" would have matched.
        add(msg("o1@x", "other", "Thu, 04 Jan 2024 00:00:00 +0000", "", "<rootAB@x>"));
        add(msg("o2@x", "other 2", "Fri, 05 Jan 2024 00:00:00 +0000", "rootZ_@x"));
        tx.commit();
    }
    reply_entry = sql_int(t.path() / "b.mvault", "SELECT id FROM entries WHERE uid = 2");
    REQUIRE(reply_entry > 0);
    browser b(a);
    CHECK(subjects(b.thread(reply_entry)) ==
          std::vector<std::string>{"1 root", "2 reply", "3 reply to reply"});
}

TEST_CASE("browser: a hold by query holds exactly its entries until released", "[browser]") {
    mv::test::temp_dir t;
    options o;
    o.create = true;
    archive a(t.path() / "b.mvault", o);
    std::int64_t mb = 0;
    {
        transaction tx(a);
        auto acc = a.upsert_account({"work", "imap", "h", "u"});
        mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt}).id;
        a.set_watermarks(mb, {7, std::nullopt, std::nullopt, std::nullopt});
        for (std::uint32_t uid = 1; uid <= 3; ++uid) {
            const auto raw = msg("h" + std::to_string(uid) + "@x", "m" + std::to_string(uid),
                                 "Mon, 01 Jan 2024 00:00:0" + std::to_string(uid) + " +0000");
            auto h = a.put_content(raw).hash;
            a.upsert_entry({mb, 7, uid, std::nullopt, {}, std::nullopt, 1700000000, raw.size(), h});
        }
        tx.commit();
    }
    const auto e1 = sql_int(t.path() / "b.mvault", "SELECT id FROM entries WHERE uid = 1");
    const auto e3 = sql_int(t.path() / "b.mvault", "SELECT id FROM entries WHERE uid = 3");
    browser b(a);
    const auto id = b.add_query_hold("subject:m1 OR subject:m3", "case 9", {e3, e1});
    CHECK(b.query_held_entries() == std::vector<std::int64_t>{e1, e3});
    auto held_subjects = [&] {
        std::vector<std::string> out;
        for (const auto& r : b.folder_entries(mb, 0, 10).rows)
            if (r.held) out.push_back(r.subject);
        return out;
    };
    CHECK(held_subjects() == std::vector<std::string>{"m3", "m1"});
    auto holds = b.query_holds(false);
    REQUIRE(holds.size() == 1);
    CHECK(holds[0].id == id);
    CHECK(holds[0].matched == 2);
    CHECK(holds[0].query == "subject:m1 OR subject:m3");
    CHECK(
        sql_int(t.path() / "b.mvault",
                "SELECT count(*) FROM audit_log WHERE kind = 'hold_add' AND json_extract(payload, "
                "'$.matched') = 2 AND json_extract(payload, '$.query') = 'subject:m1 OR "
                "subject:m3'") == 1);
    // The message moves (a new UIDVALIDITY, another folder): the new entry of the same content
    // is held too, and an unrelated new entry is not.
    std::int64_t moved = 0, other = 0;
    {
        transaction tx(a);
        auto acc = a.upsert_account({"work", "imap", "h", "u"});
        auto mb2 = a.upsert_mailbox({acc, "Archive", "Archive", "/", std::nullopt}).id;
        a.set_watermarks(mb2, {9, std::nullopt, std::nullopt, std::nullopt});
        const auto raw1 = msg("h1@x", "m1", "Mon, 01 Jan 2024 00:00:01 +0000");
        a.upsert_entry({mb2,
                        9,
                        1,
                        std::nullopt,
                        {},
                        std::nullopt,
                        1700000000,
                        raw1.size(),
                        a.put_content(raw1).hash});
        const auto raw2 = msg("h2@x", "m2", "Mon, 01 Jan 2024 00:00:02 +0000");
        a.upsert_entry({mb2,
                        9,
                        2,
                        std::nullopt,
                        {},
                        std::nullopt,
                        1700000000,
                        raw2.size(),
                        a.put_content(raw2).hash});
        tx.commit();
        moved = sql_int(t.path() / "b.mvault", "SELECT id FROM entries WHERE mailbox_id = " +
                                                   std::to_string(mb2) + " AND uid = 1");
        other = sql_int(t.path() / "b.mvault", "SELECT id FROM entries WHERE mailbox_id = " +
                                                   std::to_string(mb2) + " AND uid = 2");
    }
    auto held_now = b.query_held_entries();
    CHECK(std::count(held_now.begin(), held_now.end(), moved) == 1);
    CHECK(std::count(held_now.begin(), held_now.end(), other) == 0);
    CHECK(held_now.size() == 3);
    b.release_query_hold(id, "closed");
    CHECK(b.query_held_entries().empty());
    CHECK(held_subjects().empty());
    CHECK(b.query_holds(false).empty());
    CHECK(b.query_holds(true).at(0).released_at);
    CHECK_THROWS_AS(b.release_query_hold(id, "again"), mv::failure);
    CHECK_THROWS_AS(b.release_query_hold(id + 5, "none"), mv::failure);
}
