// The watcher's pure decisions: the retry back-off and what the sync thread does next.
#include <catch2/catch.hpp>

#include <chrono>

#include "sync/watch.hpp"

using namespace std::chrono_literals;
using mv::sync::backoff_delay;
using mv::sync::plan_watch;
using mv::sync::watch_plan;
using mv::sync::watch_plan_input;

TEST_CASE("watch: back-off doubles from retry_min, stops at retry_max, jittered", "[watch][plan]") {
    const auto lo = std::chrono::milliseconds(1s), hi = std::chrono::milliseconds(5min);
    CHECK(backoff_delay(0, lo, hi, 1.0) == 0ms);  // no failure, no pause
    CHECK(backoff_delay(1, lo, hi, 1.0) == 1s);
    CHECK(backoff_delay(2, lo, hi, 1.0) == 2s);
    CHECK(backoff_delay(3, lo, hi, 1.0) == 4s);
    CHECK(backoff_delay(9, lo, hi, 1.0) == 256s);
    CHECK(backoff_delay(10, lo, hi, 1.0) == 5min);
    // A month of failures: capped, no overflow.
    CHECK(backoff_delay(1000000, lo, hi, 1.0) == 5min);
    // Jitter scales into [0.5, 1] of the value; anything outside is clamped.
    CHECK(backoff_delay(3, lo, hi, 0.5) == 2s);
    CHECK(backoff_delay(3, lo, hi, 0.75) == 3s);
    CHECK(backoff_delay(3, lo, hi, 0.0) == 2s);
    CHECK(backoff_delay(3, lo, hi, 7.0) == 4s);
    // A cap below the start: the start wins (never zero, never negative).
    CHECK(backoff_delay(5, 10s, 1s, 1.0) == 10s);
    CHECK(backoff_delay(1, 0ms, 0ms, 0.5) == 1ms);
}

TEST_CASE("watch: what the sync thread does next", "[watch][plan]") {
    const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(10));
    watch_plan_input in;
    in.now = t0;
    in.next_full = t0 + 15min;

    SECTION("nothing pending: wait until the next full sync") {
        auto p = plan_watch(in);
        CHECK(p.k == watch_plan::kind::wait);
        CHECK(p.wake_at == t0 + 15min);
    }
    SECTION("changed folders: those only, each once, in the order seen") {
        in.dirty = {"INBOX", "Lists/dev", "INBOX"};
        auto p = plan_watch(in);
        CHECK(p.k == watch_plan::kind::folders);
        CHECK(p.folders == std::vector<std::string>{"INBOX", "Lists/dev"});
    }
    SECTION("the interval passed: a full sync, even with folders pending") {
        in.now = t0 + 15min;
        in.dirty = {"INBOX"};
        CHECK(plan_watch(in).k == watch_plan::kind::full);
    }
    SECTION("a full sync requested (NOTIFY overflow, new mailbox)") {
        in.full_requested = true;
        CHECK(plan_watch(in).k == watch_plan::kind::full);
    }
    SECTION("backing off after a failure: nothing runs before retry_at") {
        in.retry_at = t0 + 4s;
        in.dirty = {"INBOX"};
        in.full_requested = true;
        auto p = plan_watch(in);
        CHECK(p.k == watch_plan::kind::wait);
        CHECK(p.wake_at == t0 + 4s);
        in.now = t0 + 4s;
        CHECK(plan_watch(in).k == watch_plan::kind::full);
    }
}
