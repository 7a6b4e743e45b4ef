// The sync decisions, table-driven: no network, no archive.
#include <catch2/catch.hpp>

#include "sync/planner.hpp"

using namespace mv::sync;

TEST_CASE("planner: a folder is skipped only when STATUS proves nothing changed") {
    archived_folder a;
    a.uidvalidity = 7;
    a.uidnext = 101;
    a.highestmodseq = 5000;
    a.last_uid = 100;
    a.live_messages = 98;
    server_folder s{7, 101, 98, 5000};
    CHECK(folder_unchanged(a, s));

    struct row {
        const char* what;
        server_folder s;
    };
    for (const auto& r : std::vector<row>{
             {"new UIDVALIDITY", {8, 101, 98, 5000}},
             {"new message", {7, 102, 99, 5001}},
             {"flag change", {7, 101, 98, 5001}},
             {"expunge seen by count", {7, 101, 97, 5000}},
             {"no HIGHESTMODSEQ: flags invisible", {7, 101, 98, std::nullopt}},
             {"no UIDNEXT", {7, std::nullopt, 98, 5000}},
         }) {
        INFO(r.what);
        CHECK_FALSE(folder_unchanged(a, r.s));
    }
    archived_folder never;  // never synced
    CHECK_FALSE(folder_unchanged(never, s));
}

TEST_CASE("planner: strategy by what the archive knows and what the server offers") {
    archived_folder a;
    a.uidvalidity = 7;
    a.uidnext = 101;
    a.highestmodseq = 5000;
    a.last_uid = 100;
    a.live_messages = 98;

    auto p = plan_folder(a, 7, 5100, false, {true, true});
    CHECK_FALSE(p.new_generation);
    CHECK(p.flags == flag_strategy::qresync);
    CHECK(p.fetch_from_uid == 101);

    CHECK(plan_folder(a, 7, 5100, false, {true, false}).flags == flag_strategy::condstore);
    CHECK(plan_folder(a, 7, 5100, false, {false, false}).flags == flag_strategy::listing);
    // NOMODSEQ mailbox: modseq useless even if the server has CONDSTORE.
    CHECK(plan_folder(a, 7, std::nullopt, true, {true, true}).flags == flag_strategy::listing);

    auto g = plan_folder(a, 8, 5100, false, {true, true});
    CHECK(g.new_generation);
    CHECK(g.fetch_from_uid == 1);

    archived_folder first;
    auto f = plan_folder(first, 3, 1, false, {true, true});
    CHECK_FALSE(f.new_generation);
    CHECK(f.flags == flag_strategy::none);
    CHECK(f.fetch_from_uid == 1);

    // Archive without HIGHESTMODSEQ (an interrupted first sync): a listing is needed.
    archived_folder partial = a;
    partial.highestmodseq.reset();
    CHECK(plan_folder(partial, 7, 5100, false, {true, true}).flags == flag_strategy::listing);
}

TEST_CASE("planner: persistent flags drop Recent, sort and dedupe") {
    CHECK(persistent_flags({"\\Seen", "\\Recent", "$Work", "\\Seen", "\\RECENT"}) ==
          std::vector<std::string>{"$Work", "\\Seen"});
    CHECK(persistent_flags({}).empty());
}

TEST_CASE("planner: UID diff finds vanished and unknown UIDs") {
    auto d = diff_uids({1, 2, 3, 5, 8}, {2, 3, 4, 8, 9, 10});
    CHECK(d.vanished == std::vector<std::uint32_t>{1, 5});
    CHECK(d.unknown == std::vector<std::uint32_t>{4, 9, 10});
    auto none = diff_uids({}, {});
    CHECK(none.vanished.empty());
    CHECK(none.unknown.empty());
}

TEST_CASE("planner: UIDs are chunked for pipelined fetches") {
    std::vector<std::uint32_t> uids;
    for (std::uint32_t i = 1; i <= 1001; ++i) uids.push_back(i);
    auto c = chunk_uids(uids, 250);
    REQUIRE(c.size() == 5);
    CHECK(c[0].size() == 250);
    CHECK(c[4] == std::vector<std::uint32_t>{1001});
    CHECK(chunk_uids({}, 10).empty());
}
