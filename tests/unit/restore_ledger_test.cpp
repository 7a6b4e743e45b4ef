// The restore ledger (archive/ledger.hpp): intents, confirmations, batches, rollback, reopen.
#include <catch2/catch.hpp>

#include "archive/ledger.hpp"
#include "harness/testbed.hpp"

using namespace mv::archive;

namespace {
options opts(bool create, bool read_only = false) {
    options o;
    o.create = create;
    o.read_only = read_only;
    return o;
}
}  // namespace

TEST_CASE("restore ledger: intent, confirm, forget, per folder, survives reopen") {
    mv::test::temp_dir dir("mailvault-ledger");
    const auto path = dir / "a.mvlt";
    const auto h1 = sha256_of("one"), h2 = sha256_of("two");
    {
        archive a(path, opts(true));
        CHECK(archive::schema_version() >= 7);
        ledger l(a);
        CHECK(l.rows("bob", "INBOX").empty());
        l.record_intent("bob", "INBOX", 1, h1, 7);
        l.record_intent("bob", "INBOX", 2, h2, 7);
        l.record_intent("bob", "Other", 1, h1, std::nullopt);
        auto rows = l.rows("bob", "INBOX");
        REQUIRE(rows.size() == 2);
        CHECK(rows[0].entry_id == 1);
        CHECK(rows[0].state == ledger_state::intent);
        CHECK(rows[0].content == h1);
        CHECK(rows[0].target_uidvalidity == 7u);
        CHECK_FALSE(rows[0].target_uid);
        {
            transaction tx(a);
            l.confirm("bob", "INBOX", 1, h1, 7, 42);
            l.confirm("bob", "INBOX", 3, h2, 7, std::nullopt);  // matched without a row
            tx.commit();
        }
        l.forget("bob", "INBOX", 2);
        CHECK(l.count("bob", ledger_state::confirmed) == 2);
        CHECK(l.count("bob", ledger_state::intent) == 1);
        CHECK(l.count("carol", ledger_state::intent) == 0);
    }
    archive a(path);
    ledger l(a);
    auto rows = l.rows("bob", "INBOX");
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].entry_id == 1);
    CHECK(rows[0].state == ledger_state::confirmed);
    CHECK(rows[0].target_uid == 42u);
    CHECK(rows[1].entry_id == 3);
    CHECK_FALSE(rows[1].target_uid);
    // A new intent for a confirmed row resets it (re-append after a lookup found nothing).
    l.record_intent("bob", "INBOX", 1, h1, 8);
    rows = l.rows("bob", "INBOX");
    CHECK(rows[0].state == ledger_state::intent);
    CHECK(rows[0].target_uidvalidity == 8u);
    CHECK_FALSE(rows[0].target_uid);
    CHECK(l.rows("bob", "Other").size() == 1);
}

TEST_CASE("restore ledger: a batch of confirmations that is not committed leaves the intents") {
    mv::test::temp_dir dir("mailvault-ledger");
    archive a(dir / "a.mvlt", opts(true));
    ledger l(a);
    const auto h = sha256_of("x");
    l.record_intent("bob", "INBOX", 1, h, 7);
    l.record_intent("bob", "INBOX", 2, h, 7);
    {
        transaction tx(a);
        l.confirm("bob", "INBOX", 1, h, 7, 1);
        l.confirm("bob", "INBOX", 2, h, 7, 2);
        // destroyed without commit: rolled back
    }
    for (const auto& r : l.rows("bob", "INBOX")) CHECK(r.state == ledger_state::intent);
    archive ro(dir / "a.mvlt", opts(false, true));
    ledger lr(ro);
    CHECK(lr.rows("bob", "INBOX").size() == 2);
    CHECK_THROWS_AS(lr.forget("bob", "INBOX", 1), mv::failure);
}
