// The watermark rule of a folder sync: last_uid advances only over wanted UIDs that all arrived
// or were proven absent, whatever order the server answers in (issue #11, break 1).
#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <random>

#include "sync/fetch_tracker.hpp"

using mv::sync::fetch_tracker;
using verdict = fetch_tracker::verdict;

namespace {
std::vector<std::uint32_t> range(std::uint32_t a, std::uint32_t b) {
    std::vector<std::uint32_t> v(b - a + 1);
    std::iota(v.begin(), v.end(), a);
    return v;
}
}  // namespace

TEST_CASE("fetch_tracker: in-order arrival advances the watermark message by message") {
    fetch_tracker t(range(11, 15), 10);
    CHECK(t.watermark() == 10);
    for (std::uint32_t u = 11; u <= 15; ++u) {
        CHECK(t.arrive(u) == verdict::accept);
        CHECK(t.watermark() == u);
    }
    CHECK(t.complete());
    CHECK(t.missing().empty());
}

TEST_CASE("fetch_tracker: Dovecot's interleaved pipelined answers never skip a range") {
    // The order seen from Dovecot: 506-855, then 906-1044, then 864-905; 856-863 never came
    // (the connection dropped). The old code committed last_uid = 1044.
    fetch_tracker t(range(506, 1044), 505);
    for (std::uint32_t u = 506; u <= 855; ++u) REQUIRE(t.arrive(u) == verdict::accept);
    CHECK(t.watermark() == 855);
    for (std::uint32_t u = 906; u <= 1044; ++u) REQUIRE(t.arrive(u) == verdict::accept);
    CHECK(t.watermark() == 855);
    for (std::uint32_t u = 864; u <= 905; ++u) REQUIRE(t.arrive(u) == verdict::accept);
    CHECK(t.watermark() == 855);
    CHECK(!t.complete());
    CHECK(t.missing() == range(856, 863));
    // The gap arrives later (or is proven absent): only then does the watermark jump.
    for (std::uint32_t u = 856; u <= 862; ++u) t.arrive(u);
    CHECK(t.watermark() == 862);
    t.absent(863);
    CHECK(t.watermark() == 1044);
    CHECK(t.complete());
}

TEST_CASE("fetch_tracker: Domino's reversed order (* 2, * 4, * 3, * 1)") {
    fetch_tracker t(range(1, 4), 0);
    t.arrive(2);
    CHECK(t.watermark() == 0);
    t.arrive(4);
    t.arrive(3);
    CHECK(t.watermark() == 0);
    t.arrive(1);
    CHECK(t.watermark() == 4);
}

TEST_CASE("fetch_tracker: UIDs not asked for and second copies are refused") {
    fetch_tracker t({5, 7, 9}, 4);
    CHECK(t.arrive(6) == verdict::not_requested);  // a gap UID the server was not asked for
    CHECK(t.arrive(0) == verdict::not_requested);
    CHECK(t.arrive(100) == verdict::not_requested);
    CHECK(t.watermark() == 4);
    CHECK(t.arrive(5) == verdict::accept);
    CHECK(t.arrive(5) == verdict::duplicate);
    CHECK(t.arrived() == 1);
    CHECK(t.watermark() == 5);
}

TEST_CASE("fetch_tracker: sparse wanted UIDs jump over UIDs the server does not have") {
    fetch_tracker t({3, 50, 51, 400}, 2);
    t.arrive(3);
    t.arrive(50);
    CHECK(t.watermark() == 50);
    t.arrive(400);
    CHECK(t.watermark() == 50);
    t.arrive(51);
    CHECK(t.watermark() == 400);
}

TEST_CASE("fetch_tracker: holes below the committed watermark are reported, not blocking") {
    // A listing found UID 3 missing below last_uid 10 (an old hole): it is fetched again; if it
    // does not come it is reported missing, while new UIDs above 10 still advance the watermark.
    fetch_tracker t({3, 11, 12}, 10);
    t.arrive(11);
    t.arrive(12);
    CHECK(t.watermark() == 12);
    CHECK(!t.complete());
    CHECK(t.missing() == std::vector<std::uint32_t>{3});
    t.absent(3);
    CHECK(t.complete());
}

TEST_CASE("fetch_tracker: any arrival order, any drop point: watermark covers only arrivals") {
    std::mt19937 rng(11);
    for (int round = 0; round < 300; ++round) {
        auto wanted = range(1, 60);
        fetch_tracker t(wanted, 0);
        auto order = wanted;
        std::shuffle(order.begin(), order.end(), rng);
        const std::size_t drop = rng() % (order.size() + 1);
        std::vector<bool> got(61, false);
        for (std::size_t i = 0; i < drop; ++i) {
            t.arrive(order[i]);
            got[order[i]] = true;
            const auto w = t.watermark();
            for (std::uint32_t u = 1; u <= w; ++u) REQUIRE(got[u]);
            if (w < 60) REQUIRE(!got[w + 1]);
        }
        CHECK(t.complete() == (drop == order.size()));
    }
}
