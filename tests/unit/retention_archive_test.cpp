// Archive side of retention: legal holds (audited add/release), purge of entries and of contents
// no longer referenced, audit export rows.
#include <stdlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include "harness/testbed.hpp"

#include "archive/archive.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

namespace {

using mv::test::temp_dir;  // removed on destruction (MV_KEEP_TMP keeps it)

std::vector<audit_row> audit_rows(archive& a) {
    std::vector<audit_row> out;
    a.for_each_audit([&](const audit_row& r) { out.push_back(r); });
    return out;
}

}  // namespace

TEST_CASE("retention archive: holds are added, listed and released with audit records",
          "[retention][archive]") {
    temp_dir t;
    std::int64_t now = 1000;
    options o;
    o.create = true;
    o.clock = [&] { return now; };
    archive a(t.path() / "a.mvault", o);
    transaction tx(a);
    auto acc = a.upsert_account({"work", "imap", "h", "u"});
    auto box = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
    auto h1 = a.add_hold(acc, std::nullopt, "litigation 42");
    auto h2 = a.add_hold(acc, box.id, "inbox only");
    tx.commit();
    auto holds = a.holds();
    REQUIRE(holds.size() == 2);
    CHECK(holds[0].id == h1);
    CHECK_FALSE(holds[0].mailbox);
    CHECK(holds[0].account == "work");
    CHECK(holds[1].mailbox == std::optional<std::string>("INBOX"));
    CHECK(holds[1].reason == "inbox only");

    now = 2000;
    {
        transaction t2(a);
        auto r = a.release_hold(h1, "case closed");
        CHECK(r.released_at == 2000);
        t2.commit();
    }
    CHECK(a.holds().size() == 1);
    CHECK(a.holds(true).size() == 2);
    {
        transaction t3(a);
        CHECK_THROWS_AS(a.release_hold(h1, "again"), mv::failure);
        CHECK_THROWS_AS(a.release_hold(999, "none"), mv::failure);
    }
    auto rows = audit_rows(a);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].kind == "hold_add");
    CHECK(rows[1].kind == "hold_add");
    CHECK(rows[2].kind == "hold_release");
    auto j = nlohmann::json::parse(rows[2].payload);
    CHECK(j.at("hold_id") == h1);
    CHECK(j.at("reason") == "case closed");
    CHECK(j.at("hold_reason") == "litigation 42");
    CHECK(j.at("account") == "work");
    CHECK(rows[1].prev_hash == rows[0].hash);
    CHECK(a.audit_verify().ok());
    (void)h2;
}

TEST_CASE("retention archive: purge deletes entries and only unreferenced contents",
          "[retention][archive]") {
    temp_dir t;
    std::int64_t now = 5000;
    options o;
    o.create = true;
    o.clock = [&] { return now; };
    archive a(t.path() / "a.mvault", o);
    std::int64_t box = 0;
    sha256 shared, alone;
    {
        transaction tx(a);
        auto acc = a.upsert_account({"w", "imap", "h", "u"});
        box = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt}).id;
        a.set_watermarks(box, {7, std::nullopt, std::nullopt, std::nullopt});
        shared = a.put_content("Subject: shared\r\n\r\nsame body\r\n").hash;
        alone = a.put_content("Subject: alone\r\n\r\nonly here\r\n").hash;
        auto add = [&](std::uint32_t uid, const sha256& c) {
            entry_record e;
            e.mailbox_id = box;
            e.uidvalidity = 7;
            e.uid = uid;
            e.size = a.content(c)->raw_size;
            e.internaldate = 100;
            e.content = c;
            a.upsert_entry(e);
        };
        add(1, shared);
        add(2, shared);
        add(3, alone);
        a.update_flags(box, 3, {"\\Seen"}, std::nullopt);  // flag history for entry 3
        std::vector<std::uint32_t> gone = {1, 3};
        a.mark_expunged(box, gone);
        tx.commit();
    }
    entry_filter f;
    auto rows = a.purge_rows(f);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].uid == 1u);
    CHECK(rows[0].expunged_at == 5000);
    CHECK_FALSE(rows[1].expunged_at);
    CHECK(rows[2].content == alone);
    CHECK(rows[2].uidvalidity == 7u);
    CHECK(rows[2].first_seen == 5000);

    std::vector<std::int64_t> ids = {rows[0].entry_id, rows[2].entry_id};
    purge_stats st;
    {
        transaction tx(a);
        st = a.purge_entries(ids);
        tx.commit();
    }
    CHECK(st.entries == 2);
    CHECK(st.contents == 1);  // `shared` is still referenced by UID 2
    CHECK(st.raw_bytes ==
          static_cast<std::int64_t>(std::string("Subject: alone\r\n\r\nonly here\r\n").size()));
    CHECK_FALSE(a.has_content(alone));
    REQUIRE(a.has_content(shared));
    std::string bytes;
    CHECK_FALSE(a.read_content(shared, bytes));
    CHECK(bytes == "Subject: shared\r\n\r\nsame body\r\n");
    auto left = a.list_entries(box);
    REQUIRE(left.size() == 1);
    CHECK(left[0].uid == 2u);
    auto v = a.verify();
    CHECK(v.ok());
    CHECK(a.totals().contents == 1);
}
