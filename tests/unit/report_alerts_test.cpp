// The watcher's alert decisions (report/alerts.hpp): one message when an episode starts, one
// when it ends, nothing in between; and the [report] keys that set them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "harness/testbed.hpp"
#include "mailvault/config.hpp"
#include "mailvault/units.hpp"
#include "report/alerts.hpp"

using namespace mv;
using report::alert;
using report::alert_monitor;
using report::observation;

namespace {

constexpr std::int64_t day = 86400;
constexpr std::int64_t t0 = 1'800'000'000;

observation with_accounts(std::vector<std::pair<std::string, int>> acc, std::int64_t now = t0) {
    observation o;
    o.now = now;
    for (auto& [n, f] : acc) o.accounts.push_back({n, f, f ? "login: 535 rejected" : ""});
    return o;
}

std::vector<std::string> subjects(const std::vector<alert>& v) {
    std::vector<std::string> out;
    for (const auto& a : v) out.push_back((a.resolved ? "resolved: " : "") + a.subject);
    return out;
}

}  // namespace

TEST_CASE("alerts: an account failing N times in a row, once, then its recovery",
          "[report][alerts]") {
    alert_monitor m({3, 0, std::chrono::seconds(0)});
    CHECK(m.evaluate(with_accounts({{"work", 1}, {"home", 0}})).empty());
    CHECK(m.evaluate(with_accounts({{"work", 2}, {"home", 0}})).empty());
    auto a = m.evaluate(with_accounts({{"work", 3}, {"home", 0}}));
    REQUIRE(a.size() == 1);
    CHECK(a[0].subject == "account work failing: 3 attempts in a row");
    CHECK(a[0].account == "work");
    CHECK_FALSE(a[0].resolved);
    CHECK(a[0].lines[0] == "last error: login: 535 rejected");
    // Still failing, more and more: nothing more.
    for (int f = 4; f < 50; ++f) CHECK(m.evaluate(with_accounts({{"work", f}})).empty());
    CHECK(m.active() == std::vector<std::string>{"account:work"});
    // A failure count that goes down without reaching 0 is not a recovery.
    CHECK(m.evaluate(with_accounts({{"work", 1}})).empty());
    a = m.evaluate(with_accounts({{"work", 0}}));
    CHECK(subjects(a) == std::vector<std::string>{"resolved: account work works again"});
    CHECK(m.active().empty());
    // A new episode alerts again.
    CHECK(subjects(m.evaluate(with_accounts({{"work", 7}}))) ==
          std::vector<std::string>{"account work failing: 7 attempts in a row"});
    // An account removed by a reload ends its episode silently.
    CHECK(m.evaluate(with_accounts({{"home", 0}})).empty());
    CHECK(m.active().empty());
    // Off.
    alert_monitor off({0, 0, std::chrono::seconds(0)});
    CHECK(off.evaluate(with_accounts({{"work", 1000}})).empty());
}

TEST_CASE("alerts: disk space below the threshold, with a margin before it ends",
          "[report][alerts]") {
    const std::uint64_t gib = 1ull << 30;
    alert_monitor m({0, gib, std::chrono::seconds(0)});
    auto obs = [](std::optional<std::uint64_t> free) {
        observation o;
        o.now = t0;
        o.disk_path = "/srv/mail";
        o.disk_free = free;
        return o;
    };
    CHECK(m.evaluate(obs(2 * gib)).empty());
    CHECK(m.evaluate(obs(std::nullopt)).empty());  // unknown: no decision
    auto a = m.evaluate(obs(gib - 1));
    REQUIRE(a.size() == 1);
    CHECK(a[0].key == "disk");
    CHECK(a[0].subject.rfind("disk space low: ", 0) == 0);
    CHECK(a[0].lines[0].find("/srv/mail") != std::string::npos);
    INFO(a[0].lines[0]);
    CHECK(a[0].lines[0].find("(alert_disk_free is 1.0 GiB)") != std::string::npos);
    // Hovering around the threshold: no flood.
    CHECK(m.evaluate(obs(gib + 1)).empty());
    CHECK(m.evaluate(obs(gib - 1)).empty());
    CHECK(m.evaluate(obs(gib + gib / 20)).empty());
    a = m.evaluate(obs(gib + gib / 10));
    REQUIRE(a.size() == 1);
    CHECK(a[0].resolved);
}

TEST_CASE("alerts: a server certificate expiring, renewed, expired", "[report][alerts]") {
    alert_monitor m({0, 0, std::chrono::seconds(14 * day)});
    auto obs = [](std::int64_t now, std::string fp, std::int64_t not_after) {
        observation o;
        o.now = now;
        o.certificates.push_back(
            {"work", "imap.example.org:993", fp, "/CN=imap.example.org", not_after});
        // The same server seen by a second account: one alert, not two.
        o.certificates.push_back(
            {"work2", "imap.example.org:993", fp, "/CN=imap.example.org", not_after});
        return o;
    };
    CHECK(m.evaluate(obs(t0, "aa", t0 + 30 * day)).empty());
    auto a = m.evaluate(obs(t0 + 17 * day, "aa", t0 + 30 * day));
    REQUIRE(a.size() == 1);
    CHECK(a[0].subject == "certificate of imap.example.org:993 expires in 13 days (" +
                              mv::format_utc(t0 + 30 * day, "%Y-%m-%d %H:%M UTC") + ")");
    CHECK(a[0].lines[0].find("SHA-256 aa") != std::string::npos);
    CHECK(a[0].account == "work");
    CHECK(m.evaluate(obs(t0 + 20 * day, "aa", t0 + 30 * day)).empty());
    // Renewed, but again for a short time: a new alert for the new certificate.
    a = m.evaluate(obs(t0 + 21 * day, "bb", t0 + 21 * day + 3600));
    REQUIRE(a.size() == 1);
    CHECK(a[0].subject.find("expires within a day") != std::string::npos);
    // Renewed properly: the episode ends.
    a = m.evaluate(obs(t0 + 21 * day, "cc", t0 + 111 * day));
    REQUIRE(a.size() == 1);
    CHECK(a[0].resolved);
    CHECK(a[0].subject.find("renewed: valid until") != std::string::npos);
    // Already expired.
    alert_monitor m2({0, 0, std::chrono::seconds(14 * day)});
    a = m2.evaluate(obs(t0, "dd", t0 - day));
    REQUIRE(a.size() == 1);
    CHECK(a[0].subject.find("has expired") != std::string::npos);
}

TEST_CASE("alerts: a verify that could not run is not a verdict on the archive",
          "[report][alerts]") {
    alert_monitor m({3, 0, std::chrono::seconds(0)});
    observation o;
    o.now = t0;
    o.verify = observation::verify_outcome{false, false, "verify could not run: locked", {}};
    auto a = m.evaluate(o);
    REQUIRE(a.size() == 1);
    CHECK(a[0].key == "verify-run");
    CHECK(a[0].subject == "periodic verify could not run");
    CHECK(a[0].lines[0] == "verify could not run: locked");
    CHECK(m.evaluate(o).empty());
    o.verify = observation::verify_outcome{true, true, "all good", {}};
    a = m.evaluate(o);
    REQUIRE(a.size() == 1);
    CHECK(a[0].resolved);
    CHECK(a[0].key == "verify-run");
    CHECK(m.active().empty());
}

TEST_CASE("alerts: new thresholds from a reload apply at once", "[report][alerts]") {
    alert_monitor m({5, 0, std::chrono::seconds(0)});
    CHECK(m.evaluate(with_accounts({{"work", 3}})).empty());
    m.set_settings({3, 0, std::chrono::seconds(0)});
    CHECK(m.evaluate(with_accounts({{"work", 3}})).size() == 1);
}

TEST_CASE("alerts: a failed periodic verify, once, until one passes", "[report][alerts]") {
    alert_monitor m({3, 0, std::chrono::seconds(0)});
    auto obs = [](bool ok) {
        observation o;
        o.now = t0;
        o.verify = observation::verify_outcome{
            true, ok, ok ? "all good" : "2 problem(s)",
            ok ? std::vector<std::string>{} : std::vector<std::string>{"abc: hash differs"}};
        return o;
    };
    CHECK(m.evaluate(obs(true)).empty());
    auto a = m.evaluate(obs(false));
    REQUIRE(a.size() == 1);
    CHECK(a[0].subject == "verify FAILED: the archive has problems");
    CHECK(std::find(a[0].lines.begin(), a[0].lines.end(), "problem: abc: hash differs") !=
          a[0].lines.end());
    CHECK(m.evaluate(obs(false)).empty());
    observation none;  // no verify ran since: no change
    CHECK(m.evaluate(none).empty());
    a = m.evaluate(obs(true));
    REQUIRE(a.size() == 1);
    CHECK(a[0].resolved);
}

TEST_CASE("alerts and direct delivery: the [report] keys", "[report][alerts][config]") {
    mv::test::temp_dir tmp("mv-alerts");
    const std::string head = "archive = \"" + (tmp / "a.sqlite").string() + "\"\n[report]\n";
    const std::string relay = "host = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n";
    auto c = config::parse(head + relay, tmp / "c.toml");
    CHECK(c.report.alert_after_failures == 3);
    CHECK(c.report.alert_disk_free == (1ull << 30));
    CHECK(c.report.alert_cert_expiry == std::chrono::seconds(14 * day));
    CHECK(c.report.verify_interval.count() == 0);
    CHECK_FALSE(c.report.direct);
    c = config::parse(head + relay +
                          "alert_after_failures = 5\nalert_disk_free = \"500M\"\n"
                          "alert_cert_expiry = \"30d\"\nverify_interval = \"1w\"\n",
                      tmp / "c.toml");
    CHECK(c.report.alert_after_failures == 5);
    CHECK(c.report.alert_disk_free == 500ull << 20);
    CHECK(c.report.alert_cert_expiry == std::chrono::seconds(30 * day));
    CHECK(c.report.verify_interval == std::chrono::seconds(7 * day));
    c = config::parse(head + relay + "alert_disk_free = \"0\"\nalert_cert_expiry = \"0\"\n",
                      tmp / "c.toml");
    CHECK(c.report.alert_disk_free == 0);
    CHECK(c.report.alert_cert_expiry.count() == 0);
    c = config::parse(head +
                          "delivery = \"direct\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n"
                          "dns_server = \"127.0.0.1:5353\"\ndirect_port = 2525\n",
                      tmp / "c.toml");
    CHECK(c.report.direct);
    CHECK(c.report.host.empty());
    CHECK(c.report.dns_server == "127.0.0.1");
    CHECK(c.report.dns_port == 5353);
    CHECK(c.report.direct_port == 2525);
    struct bad {
        std::string text, needle;
    };
    for (const auto& b : std::vector<bad>{
             {relay + "alert_disk_free = \"lots\"\n", "not a size"},
             {relay + "alert_cert_expiry = \"two weeks\"\n", "not a duration"},
             {relay + "alert_after_failures = -1\n", "alert_after_failures"},
             {relay + "delivery = \"carrier pigeon\"\n", "relay, direct"},
             {"delivery = \"direct\"\n" + relay, "remove host"},
             {"delivery = \"direct\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nuser = \"u\"\n"
              "password_env = \"X\"\n",
              "take no login"},
             {"delivery = \"direct\"\nfrom = \"a@b\"\nto = [\"c@d\"]\ndns_server = "
              "\"dns.example\"\n",
              "IPv4 ADDRESS"},
             {"delivery = \"direct\"\nfrom = \"a@b\"\nto = [\"c@d\"]\ndns_server = "
              "\"127.0.0.1:99999\"\n",
              "IPv4 ADDRESS"},
             {"delivery = \"direct\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nport = 25\n", "direct_port"},
             {"delivery = \"direct\"\nfrom = \"a@b\"\nto = [\"c@d\"]\ntls = \"implicit\"\n",
              "not implicit TLS"},
             {relay + "dns_server = \"127.0.0.1\"\n", "only applies to delivery"},
             {relay + "direct_port = 2525\n", "only applies to delivery"},
         }) {
        INFO(b.text);
        CHECK_THROWS_WITH(config::parse(head + b.text, tmp / "c.toml"),
                          Catch::Contains(b.needle) && Catch::Contains("c.toml:"));
    }
}
