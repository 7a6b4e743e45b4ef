// Retention decisions (sync/retention.hpp), table-driven: durations and sizes, prune selection,
// legal hold coverage, purge selection, UID range compression.
#include <catch2/catch.hpp>

#include "archive/hash.hpp"
#include "mailvault/units.hpp"
#include "sync/retention.hpp"

using namespace mv::sync;
using std::chrono::seconds;

namespace {

archived_message msg(std::uint32_t uid, std::string flags, std::optional<std::int64_t> date,
                     std::uint64_t size, bool expunged = false) {
    archived_message m;
    m.uid = uid;
    m.flags = std::move(flags);
    m.internaldate = date;
    m.size = size;
    m.expunged = expunged;
    m.content = mv::archive::sha256_of("m" + std::to_string(uid));
    return m;
}

std::vector<std::uint32_t> uids_of(const std::vector<prune_candidate>& c) {
    std::vector<std::uint32_t> out;
    for (const auto& x : c) out.push_back(x.msg.uid);
    return out;
}

}  // namespace

TEST_CASE("retention: durations", "[retention]") {
    struct row {
        const char* in;
        std::optional<std::int64_t> secs;
    };
    const row rows[] = {
        {"30d", 30 * 86400},      {"12h", 12 * 3600},
        {"2w", 14 * 86400},       {"90m", 5400},
        {"3600s", 3600},          {"0d", std::nullopt},
        {"d", std::nullopt},      {"30", std::nullopt},
        {"1y", 366 * 86400},      {"7y", 7 * 366 * 86400},
        {"6mo", 6 * 31 * 86400},  {"100y", 100LL * 366 * 86400},
        {"101y", std::nullopt},   {"y", std::nullopt},
        {"mo", std::nullopt},     {"1month", std::nullopt},
        {"1Y", std::nullopt},     {"-3d", std::nullopt},
        {"3.5d", std::nullopt},   {"", std::nullopt},
        {"40000w", std::nullopt},  // more than 100 years
    };
    for (const auto& r : rows) {
        INFO(r.in);
        auto d = mv::parse_duration(r.in);
        REQUIRE(d.has_value() == r.secs.has_value());
        if (d) CHECK(d->count() == *r.secs);
    }
}

TEST_CASE("units: durations and sizes print back in the largest exact unit", "[retention]") {
    CHECK(mv::format_duration(seconds(7 * 366 * 86400)) == "7y");
    CHECK(mv::format_duration(seconds(31 * 86400)) == "1mo");
    CHECK(mv::format_duration(seconds(14 * 86400)) == "2w");
    CHECK(mv::format_duration(seconds(5400)) == "90m");
    CHECK(mv::format_duration(seconds(61)) == "61s");
    for (const char* d : {"7y", "6mo", "2w", "30d", "12h", "90m", "45s"})
        CHECK(mv::format_duration(*mv::parse_duration(d)) == d);
    CHECK(mv::format_size(0) == "0 B");
    CHECK(mv::format_size(1023) == "1023 B");
    CHECK(mv::format_size(1536) == "1.5 KiB");
    CHECK(mv::format_size(700ull << 20) == "700 MiB");
    CHECK(mv::format_size(3ull << 40) == "3.0 TiB");
    CHECK(mv::format_count(0) == "0");
    CHECK(mv::format_count(999) == "999");
    CHECK(mv::format_count(1234) == "1,234");
    CHECK(mv::format_count(1234567) == "1,234,567");
    CHECK(mv::format_count(-1234) == "-1,234");
    CHECK(mv::format_utc(1700000000, "%Y-%m-%d %H:%M:%S") == "2023-11-14 22:13:20");
}

TEST_CASE("retention: sizes", "[retention]") {
    struct row {
        const char* in;
        std::optional<std::uint64_t> bytes;
    };
    const row rows[] = {
        {"5M", 5u << 20},
        {"200k", 200 * 1024},
        {"200K", 200 * 1024},
        {"1G", 1u << 30},
        {"1048576", 1048576},
        {"5MB", 5u << 20},
        {"M", std::nullopt},
        {"", std::nullopt},
        {"5X", std::nullopt},
        {"-5M", std::nullopt},
        {"99999999999G", std::nullopt},
        {"2T", 2ull << 40},
        {"10m", 10u << 20},
    };
    for (const auto& r : rows) {
        INFO(r.in);
        auto b = mv::parse_size(r.in);
        REQUIRE(b.has_value() == r.bytes.has_value());
        if (b) CHECK(*b == *r.bytes);
    }
}

TEST_CASE("retention: a rule needs a criterion and describes itself", "[retention]") {
    prune_rule empty;
    CHECK_FALSE(validate_rule(empty).empty());
    prune_rule folders_only;
    folders_only.folders = {"INBOX"};
    CHECK_FALSE(validate_rule(folders_only).empty());
    prune_rule bad_flag;
    bad_flag.flags = {"\\Seen me"};
    CHECK_FALSE(validate_rule(bad_flag).empty());
    prune_rule r;
    r.folders = {"INBOX", "Archive/%"};
    r.older_than = seconds(30 * 86400);
    r.flags = {"\\Seen"};
    r.larger_than = 1024;
    CHECK(validate_rule(r).empty());
    CHECK(describe_rule(r) ==
          "folders=INBOX,Archive/% older_than=30d flags=\\Seen larger_than=1024");
    r.name = "old-seen";
    CHECK(describe_rule(r) == "old-seen");
}

TEST_CASE("retention: which folders a rule covers", "[retention]") {
    prune_rule any;
    any.older_than = seconds(1);
    prune_rule work = any;
    work.account = "work";
    work.folders = {"INBOX", "Lists/%"};
    struct row {
        const prune_rule* rule;
        const char* account;
        const char* folder;
        bool covered;
    };
    const row rows[] = {
        {&any, "a", "INBOX", true},          {&any, "a", "Deep/Sub/Folder", true},
        {&work, "a", "INBOX", false},        {&work, "work", "INBOX", true},
        {&work, "work", "inbox", true},      {&work, "work", "INBOX/Sub", true},
        {&work, "work", "Lists/rust", true}, {&work, "work", "Lists/rust/old", false},
        {&work, "work", "Archive", false},
    };
    for (const auto& r : rows) {
        INFO(r.account << "/" << r.folder);
        CHECK(rule_covers_folder(*r.rule, r.account, r.folder, '/') == r.covered);
    }
}

TEST_CASE("retention: prune selection", "[retention]") {
    const std::int64_t now = 1'000'000;
    const std::int64_t day = 86400;
    const std::vector<archived_message> folder = {
        msg(1, "\\Seen", now - 40 * day, 100),
        msg(2, "", now - 40 * day, 5000),
        msg(3, "$Work \\Seen", now - 10 * day, 9000),
        msg(4, "\\Seen", now - 31 * day, 100, /*expunged=*/true),
        msg(5, "\\Seen", std::nullopt, 100),
        msg(6, "\\Flagged \\Seen", now - 30 * day, 100),  // exactly at the boundary: not older
        msg(7, "\\SEEN", now - 60 * day, 2048),
    };
    auto rule = [](std::optional<int> days, std::vector<std::string> flags,
                   std::optional<std::uint64_t> larger) {
        prune_rule r;
        if (days) r.older_than = seconds(*days * 86400);
        r.flags = std::move(flags);
        r.larger_than = larger;
        return r;
    };
    struct row {
        const char* what;
        std::vector<prune_rule> rules;
        std::vector<std::uint32_t> expect;
    };
    const std::vector<row> rows = {
        {"older than 30 days", {rule(30, {}, {})}, {1, 2, 7}},
        {"older and seen", {rule(30, {"\\Seen"}, {})}, {1, 7}},
        {"seen only", {rule({}, {"\\seen"}, {})}, {1, 3, 5, 6, 7}},
        {"two flags", {rule({}, {"\\Seen", "$Work"}, {})}, {3}},
        {"larger than 2048 (strictly)", {rule({}, {}, 2048)}, {2, 3}},
        {"union of two rules", {rule(50, {}, {}), rule({}, {}, 8000)}, {3, 7}},
        {"nothing matches", {rule(365, {}, {})}, {}},
    };
    for (const auto& r : rows) {
        INFO(r.what);
        std::vector<std::size_t> covering;
        for (std::size_t i = 0; i < r.rules.size(); ++i) covering.push_back(i);
        auto got = select_for_prune(r.rules, covering, folder, now);
        CHECK(uids_of(got) == r.expect);
    }
    // The first matching rule is the one recorded; a rule not covering the folder is ignored.
    std::vector<prune_rule> two = {rule(50, {}, {}), rule(30, {}, {})};
    auto got = select_for_prune(two, {0, 1}, folder, now);
    REQUIRE(uids_of(got) == std::vector<std::uint32_t>{1, 2, 7});
    CHECK(got[0].rule == 1);
    CHECK(got[2].rule == 0);
    CHECK(uids_of(select_for_prune(two, {0}, folder, now)) == std::vector<std::uint32_t>{7});
    CHECK(select_for_prune(two, {}, folder, now).empty());
}

TEST_CASE("retention: legal hold coverage", "[retention]") {
    const std::vector<hold_scope> holds = {
        {1, 10, std::nullopt, true},   // all of account 10
        {2, 20, 7, true},              // folder 7 of account 20
        {3, 30, std::nullopt, false},  // released
    };
    struct row {
        std::int64_t account;
        std::optional<std::int64_t> mailbox;
        std::optional<std::int64_t> hold;
    };
    const row rows[] = {
        {10, 1, 1},
        {10, std::nullopt, 1},
        {20, 7, 2},
        {20, 8, std::nullopt},
        {20, std::nullopt, 2},
        {30, 1, std::nullopt},
        {40, 1, std::nullopt},
    };
    for (const auto& r : rows) {
        INFO("account " << r.account << " mailbox " << r.mailbox.value_or(-1));
        CHECK(covering_hold(holds, r.account, r.mailbox) == r.hold);
    }
}

TEST_CASE("retention: purge selection", "[retention]") {
    const std::int64_t cutoff = 1000;
    const std::vector<hold_scope> holds = {{1, 2, 22, true}};
    const std::vector<purge_entry> entries = {
        {1, 1, 11, 500, 600, 700},           // old, expunged: purged
        {2, 1, 11, 500, 600, std::nullopt},  // old but still on the server
        {3, 1, 11, 1500, 600, 1600},         // recent INTERNALDATE
        {4, 1, 11, std::nullopt, 900, 950},  // no INTERNALDATE: first_seen decides
        {5, 2, 22, 100, 200, 300},           // held folder
        {6, 2, 23, 100, 200, 300},           // other folder of that account
        {7, 1, 11, 999, 2000, 2100},         // old message, archived recently
    };
    auto d = select_for_purge(entries, holds, cutoff, purge_basis::internaldate);
    CHECK(d.purge == std::vector<std::int64_t>{1, 4, 6, 7});
    CHECK(d.held == 1);
    CHECK(d.on_server == 1);
    auto f = select_for_purge(entries, holds, cutoff, purge_basis::first_seen);
    CHECK(f.purge == std::vector<std::int64_t>{1, 3, 4, 6});
    CHECK(f.held == 1);
    CHECK(f.on_server == 1);
}

TEST_CASE("retention: UID ranges are compressed", "[retention]") {
    CHECK(compress_uids({}) == "");
    CHECK(compress_uids({5}) == "5");
    CHECK(compress_uids({3, 1, 2, 7, 9, 8, 8}) == "1:3,7:9");
}
