// Scripted tests of the watcher's IDLE (idle_op) and NOTIFY through the client facade: each
// conversation is replayed whole, split at every byte, byte by byte and with a failure at every
// I/O step; silence is a scripted quiet read (operation::quiet_limit()).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "imap/client.hpp"
#include "scripted_transport.hpp"

using namespace mv::imap;
using namespace std::chrono_literals;
using mv::test::replay_everywhere;
using mv::test::script;
using mv::test::scripted_transport;

namespace {

const char* greet_idle = "* OK [CAPABILITY IMAP4rev1 IDLE NOTIFY] ready\r\n";

std::string describe(const idle_event& e) {
    const char* names[] = {"exists", "expunge", "flags",   "vanished",
                           "status", "mailbox", "overflow"};
    std::string s = names[static_cast<int>(e.k)];
    if (!e.mailbox.empty()) s += " " + e.mailbox;
    if (e.number) s += " " + std::to_string(*e.number);
    return s;
}

// A clock the test moves by hand: the restart deadline no longer depends on the machine.
struct hand_clock {
    std::chrono::steady_clock::time_point t{std::chrono::hours(1)};
    std::function<std::chrono::steady_clock::time_point()> fn() {
        return [this] { return t; };
    }
};

}  // namespace

TEST_CASE("imap idle: events while idling, DONE at the restart deadline", "[imap][idle]") {
    script s;
    s.read(greet_idle)
        .write("A0001 IDLE\r\n")
        .read("+ idling\r\n")
        .quiet()  // before the deadline: silence is not an error, the op reads on
        .read("* OK Still here\r\n* 4 EXISTS\r\n* 1 RECENT\r\n* 2 EXPUNGE\r\n")
        .read("* 3 FETCH (FLAGS (\\Seen))\r\n")
        .quiet()  // the hand clock is past the deadline now: DONE
        .write("DONE\r\n")
        .read("* 5 EXISTS\r\nA0001 OK Idle completed\r\n");
    replay_everywhere(s, [](scripted_transport& t) -> mv::error {
        client c(t);
        if (auto e = c.greeting()) return e;
        hand_clock clk;
        idle_options o;
        o.restart_after = 10min;
        o.clock = clk.fn();
        std::vector<std::string> seen;
        bool restarted = false;
        auto e = c.idle(
            o,
            [&](const idle_event& ev) {
                seen.push_back(describe(ev));
                if (ev.k == idle_event::kind::flags) clk.t += 11min;
            },
            &restarted);
        if (e) return e;
        CHECK(restarted);
        CHECK(seen == std::vector<std::string>{"exists 4", "expunge 2", "flags 3", "exists 5"});
        CHECK(c.events().exists == 5u);
        CHECK(c.state().idle_tag.empty());
        CHECK(c.usable());
        return {};
    });
}

TEST_CASE("imap idle: the op asks for a quiet read only between '+' and DONE", "[imap][idle]") {
    session s;
    s.caps.items = {"IDLE"};
    hand_clock clk;
    idle_options o;
    o.restart_after = 90s;
    o.clock = clk.fn();
    idle_op op(s, o, {});
    auto a = op.resume(mv::io_result::start());
    REQUIRE(a.kind == mv::action_kind::write);
    CHECK(a.data == "A0001 IDLE\r\n");
    a = op.resume(mv::io_result::written());
    REQUIRE(a.kind == mv::action_kind::read);
    CHECK_FALSE(op.quiet_limit());  // the '+' is an ordinary answer under the ordinary timeout
    a = op.resume(mv::io_result::read("+ idling\r\n"));
    REQUIRE(a.kind == mv::action_kind::read);
    REQUIRE(op.quiet_limit());
    CHECK(*op.quiet_limit() == 90s);
    clk.t += 30s;
    CHECK(*op.quiet_limit() == 60s);  // what is left of the deadline, not a fresh wait
    a = op.resume(mv::io_result::quiet());
    REQUIRE(a.kind == mv::action_kind::read);  // early: read on
    clk.t += 61s;
    CHECK(*op.quiet_limit() == 0ms);
    a = op.resume(mv::io_result::quiet());
    REQUIRE(a.kind == mv::action_kind::write);
    CHECK(a.data == "DONE\r\n");
    a = op.resume(mv::io_result::written());
    REQUIRE(a.kind == mv::action_kind::read);
    CHECK_FALSE(op.quiet_limit());  // the tagged OK must come within the ordinary timeout
    a = op.resume(mv::io_result::read("A0001 OK done\r\n"));
    REQUIRE(a.kind == mv::action_kind::done);
    CHECK(a.err.ok());
    CHECK(op.restarted);
}

TEST_CASE("imap idle: return_on_event sends DONE at the first change", "[imap][idle]") {
    script s;
    s.read(greet_idle)
        .write("A0001 IDLE\r\n")
        .read("+ idling\r\n")
        .quiet()
        .read("* 7 EXISTS\r\n")
        .write("DONE\r\n")
        .read("A0001 OK Idle completed\r\n");
    replay_everywhere(s, [](scripted_transport& t) -> mv::error {
        client c(t);
        if (auto e = c.greeting()) return e;
        idle_options o;
        o.return_on_event = true;
        int n = 0;
        bool restarted = true;
        if (auto e = c.idle(
                o, [&](const idle_event&) { ++n; }, &restarted))
            return e;
        CHECK(n == 1);
        CHECK_FALSE(restarted);
        return {};
    });
}

TEST_CASE("imap idle: NOTIFY names the other mailboxes that changed", "[imap][idle][notify]") {
    script s;
    s.read(greet_idle)
        .write(
            "A0001 NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) (personal "
            "(MessageNew MessageExpunge MailboxName))\r\n")
        .read("A0001 OK NOTIFY completed\r\n")
        .write("A0002 IDLE\r\n")
        .read("+ idling\r\n")
        .read("* STATUS \"Lists/r&AOk-sum&AOk-\" (MESSAGES 3 UIDNEXT 9 UIDVALIDITY 1)\r\n")
        .read("* LIST () \"/\" \"New folder\"\r\n")
        .read("* VANISHED 4:5\r\n* OK [NOTIFICATIONOVERFLOW] too many\r\n")
        .quiet()
        .write("DONE\r\n")
        .read("A0002 OK done\r\n");
    replay_everywhere(s, [](scripted_transport& t) -> mv::error {
        client c(t);
        if (auto e = c.greeting()) return e;
        if (auto e = c.notify(notify_set_watch)) return e;
        idle_options o;
        o.restart_after = 0ms;  // the first silence ends it
        std::vector<std::string> seen;
        if (auto e = c.idle(o, [&](const idle_event& ev) { seen.push_back(describe(ev)); }))
            return e;
        CHECK(seen == std::vector<std::string>{"status Lists/résumé", "mailbox New folder",
                                               "vanished", "overflow"});
        return {};
    });
}

TEST_CASE("imap idle: a server ending IDLE on its own is a restart, not a failure",
          "[imap][idle]") {
    script s;
    s.read(greet_idle)
        .write("A0001 IDLE\r\n")
        .read("+ idling\r\n")
        .read("A0001 OK IDLE timed out\r\n");
    replay_everywhere(s, [](scripted_transport& t) -> mv::error {
        client c(t);
        if (auto e = c.greeting()) return e;
        bool restarted = false;
        if (auto e = c.idle({}, {}, &restarted)) return e;
        CHECK(restarted);
        CHECK(c.usable());
        return {};
    });
}

TEST_CASE("imap idle: refusals, BYE and hostile answers", "[imap][idle]") {
    SECTION("IDLE refused") {
        scripted_transport t(script()
                                 .read(greet_idle)
                                 .write("A0001 IDLE\r\n")
                                 .read("A0001 NO [LIMIT] too many idlers\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        auto e = c.idle({}, {});
        CHECK(e.code == mv::errc::server_no);
        CHECK(e.message.find("too many idlers") != std::string::npos);
    }
    SECTION("BYE while idling (server shutting down)") {
        scripted_transport t(script()
                                 .read(greet_idle)
                                 .write("A0001 IDLE\r\n")
                                 .read("+ idling\r\n* BYE Server shutting down\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        auto e = c.idle({}, {});
        CHECK(e.code == mv::errc::closed);
        CHECK_FALSE(c.usable());
    }
    SECTION("a malformed STATUS is a protocol error, not an event") {
        scripted_transport t(script()
                                 .read(greet_idle)
                                 .write("A0001 IDLE\r\n")
                                 .read("+ idling\r\n* STATUS INBOX MESSAGES\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        int n = 0;
        auto e = c.idle({}, [&](const idle_event&) { ++n; });
        CHECK(e.code == mv::errc::protocol);
        CHECK(n == 0);
    }
    SECTION("a second '+' is a protocol error") {
        scripted_transport t(
            script().read(greet_idle).write("A0001 IDLE\r\n").read("+ idling\r\n+ again\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        CHECK(c.idle({}, {}).code == mv::errc::protocol);
    }
    SECTION("an event handler that throws ends the op with internal") {
        scripted_transport t(
            script().read(greet_idle).write("A0001 IDLE\r\n").read("+ idling\r\n* 1 EXISTS\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        auto e = c.idle({}, [](const idle_event&) { throw std::runtime_error("boom"); });
        CHECK(e.code == mv::errc::internal);
    }
    SECTION("no IDLE capability, no NOTIFY capability") {
        scripted_transport t(script().read("* OK [CAPABILITY IMAP4rev1] hi\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        CHECK(c.idle({}, {}).code == mv::errc::unsupported);
        CHECK(c.notify(notify_set_watch).code == mv::errc::unsupported);
    }
    SECTION("NOTIFY refused with BADEVENT") {
        scripted_transport t(script()
                                 .read(greet_idle)
                                 .write_pipelined("A0001 NOTIFY SET (selected (MessageNew "
                                                  "MessageExpunge FlagChange)) (personal "
                                                  "(MessageNew MessageExpunge MailboxName))\r\n")
                                 .read("A0001 NO [BADEVENT (MessageNew MessageExpunge)] no\r\n"));
        client c(t);
        REQUIRE(c.greeting().ok());
        CHECK(c.notify(notify_set_watch).code == mv::errc::server_no);
        CHECK(c.usable());
    }
}
