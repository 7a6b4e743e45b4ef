// Run reports through a real SMTP server (issue #16): the Postfix test bed (scripts/smtpbed.py)
// on loopback with STARTTLS + AUTH submission and implicit TLS, delivering over LMTP into the
// Dovecot test bed; each report is read back from the recipient's Maildir and parsed with GMime.
// Failures (wrong password, untrusted certificate, 5xx and 4xx at RCPT) must give clear messages
// and lose no report: it waits in the spool and goes out with the next one.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness/smtpbed.hpp"
#include "harness/testbed.hpp"
#include "mailvault/config.hpp"
#include "mime/message_index.hpp"
#include "report/report.hpp"
#include "smtp/mx.hpp"

using namespace mv;
using mv::test::smtpbed;
using mv::test::temp_dir;
using mv::test::testbed;
namespace fs = std::filesystem;

namespace {

struct beds {
    std::unique_ptr<testbed> tb;
    std::unique_ptr<smtpbed> sb;
    beds() {
        mv::test::testbed_options o;
        o.users = {{"alice", "alice-secret", ""}, {"bob", "bob-secret", ""}};
        tb = std::make_unique<testbed>(o);
        sb = std::make_unique<smtpbed>(
            *tb, std::vector<std::pair<std::string, std::string>>{{"alice", "alice-secret"}},
            std::vector<std::string>{"bob"});
    }
};

beds& shared() {
    static beds b;
    return b;
}

// A config with a [report] section; `extra` lines are appended to the section.
config::config make_config(const temp_dir& tmp, const std::string& report_lines,
                           const std::string& password = "alice-secret") {
    fs::path pw = tmp / "smtp-password";
    mv::test::write_file(pw, password + "\n");
    ::chmod(pw.c_str(), 0600);
    std::string toml = "archive = \"" + (tmp / "archive.sqlite").string() + "\"\n[report]\n" +
                       "password_file = \"" + pw.string() + "\"\n" + report_lines;
    return config::parse(toml, tmp / "config.toml");
}

std::string submission(const smtpbed& sb, const std::string& to = "[\"alice@localhost\"]") {
    return "host = \"127.0.0.1\"\nport = " + std::to_string(sb.submission_port()) +
           "\ntls = \"starttls\"\nuser = \"alice\"\nca_file = \"" + sb.ca_file() +
           "\"\nfrom = \"mailvault@localhost\"\nto = " + to + "\n";
}

// Messages in the user's INBOX (new/ and cur/), waiting up to 15 s for at least `n`.
std::vector<mime::message_index> inbox(const testbed& tb, const std::string& user, std::size_t n) {
    std::vector<mime::message_index> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (;;) {
        out.clear();
        for (const char* sub : {"new", "cur"}) {
            std::error_code ec;
            for (const auto& e : fs::directory_iterator(tb.maildir(user) / sub, ec))
                out.push_back(mime::parse(mv::test::read_file(e.path())));
        }
        if (out.size() >= n || std::chrono::steady_clock::now() > deadline) return out;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

std::size_t spooled(const config::config& cfg, const std::string& ext = ".eml") {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(report::spool_dir(cfg), ec))
        n += e.path().extension() == ext ? 1 : 0;
    return n;
}

report::run_summary summary(const std::string& account) {
    report::run_summary s;
    s.command = "sync";
    s.start = std::chrono::system_clock::now() - std::chrono::seconds(5);
    s.end = std::chrono::system_clock::now();
    report::account_summary a;
    a.account = account;
    a.new_messages = 42;
    a.flag_changes = 3;
    a.expunged = 1;
    a.deleted_on_server = 2;
    a.audit_hashes = {"ab12cd34", "ef56ab78"};
    s.accounts.push_back(a);
    return s;
}

}  // namespace

// Postfix's master must start as root: elsewhere (or without postfix) the test says so and ends.
#define REQUIRE_SMTPBED()                                                                  \
    do {                                                                                   \
        if (!smtpbed::available()) {                                                       \
            WARN(                                                                          \
                "postfix is not installed or this is not root (scripts/install-deps.sh): " \
                "test not run");                                                           \
            return;                                                                        \
        }                                                                                  \
    } while (0)

TEST_CASE("smtp report: STARTTLS + AUTH submission delivers into Dovecot", "[smtp][report]") {
    REQUIRE_SMTPBED();
    auto& b = shared();
    temp_dir tmp("mv-smtp");
    auto cfg = make_config(tmp, submission(*b.sb));
    std::size_t before = inbox(*b.tb, "alice", 0).size();

    auto d = report::send_test(cfg);
    CHECK(d.reply.rfind("250 2.0.0 Ok: queued as ", 0) == 0);
    auto got = inbox(*b.tb, "alice", before + 1);
    REQUIRE(got.size() == before + 1);
    bool found = false;
    for (const auto& m : got)
        if (m.subject == "mailvault report test") {
            found = true;
            CHECK(m.from.find("mailvault@localhost") != std::string::npos);
            CHECK(!m.message_id.empty());
            CHECK(m.date_epoch.has_value());
            CHECK(m.text.find("reports from mailvault reach you") != std::string::npos);
        }
    CHECK(found);
    CHECK(spooled(cfg) == 0);  // a test message is never spooled
}

TEST_CASE("smtp report: implicit TLS, a UTF-8 subject and the run summary", "[smtp][report]") {
    REQUIRE_SMTPBED();
    auto& b = shared();
    temp_dir tmp("mv-smtp");
    auto cfg = make_config(
        tmp, "host = \"localhost\"\nport = " + std::to_string(b.sb->smtps_port()) +
                 "\ntls = \"implicit\"\nuser = \"alice\"\nca_file = \"" + b.sb->ca_file() +
                 "\"\nfrom = \"mailvault@localhost\"\nto = "
                 "[\"bob@localhost\"]\n");
    std::size_t before = inbox(*b.tb, "bob", 0).size();
    auto s = summary("Bücher");
    s.accounts[0].failures = {"folder 'Spam': NO [SERVERBUG] internal error"};
    auto fr = report::send_after(cfg, s);
    CHECK(fr.last_error.message == "");
    CHECK(fr.sent == 1);
    auto got = inbox(*b.tb, "bob", before + 1);
    REQUIRE(got.size() == before + 1);
    const mime::message_index* m = nullptr;
    for (const auto& x : got)
        if (x.subject.find("Bücher") != std::string::npos ||
            x.text.find("Bücher") != std::string::npos)
            m = &x;
    REQUIRE(m != nullptr);
    CHECK(m->subject ==
          "mailvault sync: FAILED — 1 account, 42 new, 2 deleted on server, 1 failure");
    CHECK(m->text.find("account Bücher") != std::string::npos);
    CHECK(m->text.find("deleted on server: 2") != std::string::npos);
    CHECK(m->text.find("audit ef56ab78") != std::string::npos);
    CHECK(m->text.find("failure: folder 'Spam': NO [SERVERBUG] internal error") !=
          std::string::npos);
    CHECK(spooled(cfg) == 0);
}

TEST_CASE("smtp report: wrong password and untrusted certificate keep the report",
          "[smtp][report]") {
    REQUIRE_SMTPBED();
    auto& b = shared();
    temp_dir tmp("mv-smtp");
    std::size_t before = inbox(*b.tb, "alice", 0).size();
    {
        auto cfg = make_config(tmp, submission(*b.sb), "wrong-password");
        CHECK_THROWS_WITH(report::send_test(cfg),
                          Catch::Contains("SMTP AUTH PLAIN rejected: 535 5.7.8") &&
                              Catch::Contains("check report.user"));
        auto fr = report::send_after(cfg, summary("one"));
        CHECK(fr.sent == 0);
        CHECK(fr.pending == 1);
        CHECK(fr.last_error.code == errc::auth);
        CHECK(fr.last_error.message.find("wrong-password") == std::string::npos);
        CHECK(spooled(cfg) == 1);
    }
    {
        std::string lines = submission(*b.sb);
        lines.replace(lines.find(b.sb->ca_file()), b.sb->ca_file().size(), b.sb->other_ca_file());
        auto cfg = make_config(tmp, lines);
        auto fr = report::send_after(cfg, summary("two"));
        CHECK(fr.sent == 0);
        CHECK(fr.pending == 2);
        CHECK(fr.last_error.code == errc::tls_certificate);
        CHECK(spooled(cfg) == 2);
    }
    // Fixed: the next report sends the two that waited, oldest first, and itself.
    auto cfg = make_config(tmp, submission(*b.sb));
    auto fr = report::send_after(cfg, summary("three"));
    CHECK(fr.last_error.message == "");
    CHECK(fr.sent == 3);
    CHECK(spooled(cfg) == 0);
    auto got = inbox(*b.tb, "alice", before + 3);
    std::map<std::string, int> accounts;
    for (const auto& m : got)
        for (const char* a : {"one", "two", "three"})
            if (m.text.find(std::string("account ") + a + "\n") != std::string::npos) ++accounts[a];
    CHECK(accounts == std::map<std::string, int>{{"one", 1}, {"three", 1}, {"two", 1}});
}

TEST_CASE("smtp report: 5xx and 4xx at RCPT", "[smtp][report]") {
    REQUIRE_SMTPBED();
    auto& b = shared();
    temp_dir tmp("mv-smtp");
    std::size_t alice0 = inbox(*b.tb, "alice", 0).size();
    std::size_t bob0 = inbox(*b.tb, "bob", 0).size();
    auto cfg = make_config(tmp, submission(*b.sb, "[\"alice@localhost\", \"bob@localhost\"]"));

    // bob refused for good: alice still gets it, bob is dropped (logged), nothing waits.
    b.sb->rcpt("bob@localhost", "550 5.7.1 Policy rejection for this recipient");
    auto fr = report::send_after(cfg, summary("five"));
    CHECK(fr.sent == 1);
    CHECK(fr.pending == 0);
    CHECK(spooled(cfg) == 0);
    CHECK(inbox(*b.tb, "alice", alice0 + 1).size() == alice0 + 1);

    // Every recipient refused for good: the report is kept aside as *.rejected, not retried.
    b.sb->rcpt("alice@localhost", "550 5.7.1 Policy rejection for this recipient");
    fr = report::send_after(cfg, summary("six"));
    CHECK(fr.sent == 0);
    CHECK(fr.rejected == 1);
    CHECK(fr.last_error.message.find("550 5.7.1") != std::string::npos);
    CHECK(fr.last_error.message.find("Policy rejection for this recipient") != std::string::npos);
    CHECK(spooled(cfg, ".rejected") == 1);

    // 4xx: the report waits, and goes out once the server takes it.
    b.sb->rcpt("alice@localhost", "451 4.7.1 Try again later");
    b.sb->rcpt("bob@localhost", "");
    fr = report::send_after(cfg, summary("seven"));
    CHECK(fr.sent == 1);  // bob took it; alice's copy waits
    CHECK(fr.pending == 1);
    CHECK(spooled(cfg) == 1);
    b.sb->rcpt("alice@localhost", "");
    fr = report::send_after(cfg, summary("eight"));
    CHECK(fr.last_error.message == "");
    CHECK(fr.sent == 2);
    CHECK(spooled(cfg) == 0);
    auto alice = inbox(*b.tb, "alice", alice0 + 3);
    auto bob = inbox(*b.tb, "bob", bob0 + 2);
    auto count = [](const std::vector<mime::message_index>& v, const std::string& a) {
        int n = 0;
        for (const auto& m : v) n += m.text.find("account " + a + "\n") != std::string::npos;
        return n;
    };
    CHECK(count(alice, "five") == 1);
    CHECK(count(alice, "six") == 0);
    CHECK(count(alice, "seven") == 1);
    CHECK(count(alice, "eight") == 1);
    CHECK(count(bob, "five") == 0);
    CHECK(count(bob, "seven") == 1);
    CHECK(count(bob, "eight") == 1);
}

TEST_CASE("smtp report: the mailvault report test command", "[smtp][report]") {
    REQUIRE_SMTPBED();
    auto& b = shared();
    temp_dir tmp("mv-smtp");
    fs::path pw = tmp / "pw";
    mv::test::write_file(pw, "alice-secret\n");
    ::chmod(pw.c_str(), 0600);
    auto write_cfg = [&](const std::string& pwfile) {
        mv::test::write_file(tmp / "config.toml", "archive = \"" + (tmp / "a.sqlite").string() +
                                                      "\"\n[report]\n" + submission(*b.sb) +
                                                      "password_file = \"" + pwfile + "\"\n");
    };
    write_cfg(pw.string());
    auto r = mv::test::run_command(
        {MV_CLI_PATH, "report", "test", "--config", (tmp / "config.toml").string()});
    CHECK(r.status == 0);
    CHECK(r.output.rfind("250 2.0.0 Ok: queued as ", 0) == 0);
    fs::path bad = tmp / "bad";
    mv::test::write_file(bad, "nope\n");
    ::chmod(bad.c_str(), 0600);
    write_cfg(bad.string());
    r = mv::test::run_command(
        {MV_CLI_PATH, "report", "test", "--config", (tmp / "config.toml").string()});
    CHECK(r.status == 4);  // exit_auth
    CHECK(r.errors.find("535 5.7.8") != std::string::npos);
    CHECK(std::count(r.errors.begin(), r.errors.end(), '\n') == 1);
}

TEST_CASE("smtp report: plaintext relay only with allow_plaintext, and port closed",
          "[smtp][report]") {
    REQUIRE_SMTPBED();
    auto& b = shared();
    temp_dir tmp("mv-smtp");
    CHECK_THROWS_WITH(config::parse("[report]\nhost = \"127.0.0.1\"\ntls = \"none\"\nfrom = "
                                    "\"a@localhost\"\nto = [\"alice@localhost\"]\n",
                                    tmp / "c.toml"),
                      Catch::Contains("allow_plaintext"));
    auto cfg = config::parse(
        "archive = \"" + (tmp / "a.sqlite").string() +
            "\"\n[report]\nhost = \"127.0.0.1\"\nport = " + std::to_string(b.sb->plain_port()) +
            "\ntls = \"none\"\nallow_plaintext = true\nfrom = "
            "\"mailvault@localhost\"\nto = [\"alice@localhost\"]\n",
        tmp / "c.toml");
    auto d = report::send_test(cfg);
    CHECK(d.reply.rfind("250 2.0.0", 0) == 0);
    // Nothing listens: a clear network error, the report kept for later.
    cfg.report.port = 1;  // tcpmux: nothing listens there on a test machine
    auto fr = report::send_after(cfg, summary("nine"));
    CHECK(fr.sent == 0);
    CHECK(fr.pending == 1);
    CHECK(fr.last_error.code == errc::network);
    CHECK(fr.last_error.message.find("report relay 127.0.0.1:1: ") == 0);
}

namespace {

// A dnsmasq on a free loopback port that knows only the records given (no upstream, no
// /etc/hosts, nothing forwarded): the DNS server of the MX tests. Stopped on destruction.
struct dns_bed {
    pid_t pid = -1;
    std::uint16_t port = 0;
    explicit dns_bed(const std::vector<std::string>& records) {
        int s = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        ::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
        port = ntohs(sa.sin_port);
        ::close(s);
        std::vector<std::string> args = {"/usr/sbin/dnsmasq",
                                         "--keep-in-foreground",
                                         "--conf-file=/dev/null",
                                         "--no-resolv",
                                         "--no-hosts",
                                         "--no-poll",
                                         "--bind-interfaces",
                                         "--listen-address=127.0.0.1",
                                         "--pid-file=",
                                         "--port=" + std::to_string(port),
                                         "--local=/test/"};
        args.insert(args.end(), records.begin(), records.end());
        pid = ::fork();
        if (pid == 0) {
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        // Ready once it answers.
        mv::smtp::dns_server srv{"127.0.0.1", port, std::chrono::milliseconds(1000)};
        for (int i = 0; i < 100; ++i) {
            std::vector<std::string> a;
            if (mv::smtp::query_addresses("ready.test", srv, a).ok() && !a.empty()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    ~dns_bed() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

}  // namespace

TEST_CASE("smtp mx: lookups against a local dnsmasq", "[smtp][mx]") {
    if (!fs::exists("/usr/sbin/dnsmasq")) {
        WARN("dnsmasq is not installed (scripts/install-deps.sh --test): test not run");
        return;
    }
    dns_bed dns(
        {"--host-record=ready.test,127.0.0.9", "--mx-host=example.test,mx2.example.test,20",
         "--mx-host=example.test,mx1.example.test,10", "--mx-host=example.test,mx3.example.test,30",
         "--host-record=mx1.example.test,127.0.0.5", "--host-record=mx2.example.test,127.0.0.6,::1",
         "--host-record=plain.test,127.0.0.7"});
    mv::smtp::dns_server srv{"127.0.0.1", dns.port, std::chrono::milliseconds(2000)};

    std::vector<mv::smtp::mx_record> mx;
    REQUIRE(mv::smtp::query_mx("example.test", srv, mx).message == "");
    REQUIRE(mx.size() == 3);
    std::vector<mv::smtp::mail_host> hosts;
    REQUIRE(mv::smtp::resolve_mail_hosts("example.test", srv, hosts).message == "");
    // Preference order; mx3 has no address and is left out; A before AAAA.
    REQUIRE(hosts.size() == 2);
    CHECK(hosts[0].host == "mx1.example.test");
    CHECK(hosts[0].addresses == std::vector<std::string>{"127.0.0.5"});
    CHECK(hosts[1].host == "mx2.example.test");
    CHECK(hosts[1].addresses == std::vector<std::string>{"127.0.0.6", "::1"});

    // No MX: the domain's own address (implicit MX).
    REQUIRE(mv::smtp::resolve_mail_hosts("plain.test", srv, hosts).message == "");
    REQUIRE(hosts.size() == 1);
    CHECK(hosts[0].host == "plain.test");
    CHECK(hosts[0].addresses == std::vector<std::string>{"127.0.0.7"});

    // A domain that does not exist.
    auto e = mv::smtp::resolve_mail_hosts("missing.test", srv, hosts);
    CHECK(e.code == errc::server_no);
    CHECK(e.message == "DNS: no such domain missing.test (NXDOMAIN)");

    // A DNS server that does not answer: a network error naming it.
    mv::smtp::dns_server dead{"127.0.0.1", 1, std::chrono::milliseconds(1000)};
    e = mv::smtp::query_mx("example.test", dead, mx);
    CHECK(e.code == errc::network);
    CHECK(e.message == "DNS: no answer for example.test from 127.0.0.1:1");
}

TEST_CASE("smtp report: direct delivery to the MX hosts in preference order",
          "[smtp][mx][report]") {
    REQUIRE_SMTPBED();
    if (!fs::exists("/usr/sbin/dnsmasq")) {
        WARN("dnsmasq is not installed (scripts/install-deps.sh --test): test not run");
        return;
    }
    auto& b = shared();
    // localhost's MX hosts: dead.test (preference 5: ::1, where nothing listens: the listener is
    // bound to 127.0.0.1 only), wrong.test (7: the Postfix "mx" listener, but its certificate names
    // localhost, not wrong.test: TLS refused, so the next host is tried) then localhost itself (10:
    // the same listener, the right name). blocked.test's only MX is dead too; gone.test takes no
    // mail (RFC 7505).
    dns_bed dns({"--mx-host=localhost,dead.test,5", "--mx-host=localhost,wrong.test,7",
                 "--mx-host=localhost,localhost,10", "--host-record=dead.test,::1",
                 "--host-record=wrong.test,127.0.0.1", "--host-record=localhost,127.0.0.1",
                 "--mx-host=blocked.test,dead.test,10", "--mx-host=gone.test,.,0"});
    temp_dir tmp("mv-smtp");
    auto direct = [&](const std::string& to, const std::string& extra = "") {
        return config::parse(
            "archive = \"" + (tmp / "archive.sqlite").string() +
                "\"\n[report]\ndelivery = \"direct\"\ndns_server = "
                "\"127.0.0.1:" +
                std::to_string(dns.port) + "\"\ndirect_port = " + std::to_string(b.sb->mx_port()) +
                "\nca_file = \"" + b.sb->ca_file() +
                "\"\ntimeout_seconds = 5\nfrom = \"mailvault@localhost\"\nto = " + to + "\n" +
                extra,
            tmp / "config.toml");
    };
    std::size_t bob0 = inbox(*b.tb, "bob", 0).size();
    auto cfg = direct("[\"bob@localhost\"]");
    auto fr = report::send_after(cfg, summary("direct-one"));
    INFO(fr.last_error.message);
    CHECK(fr.sent == 1);
    CHECK(fr.pending == 0);
    CHECK(fr.last_reply.rfind("250 ", 0) == 0);
    auto bob = inbox(*b.tb, "bob", bob0 + 1);
    int found = 0;
    for (const auto& m : bob) found += m.text.find("account direct-one\n") != std::string::npos;
    CHECK(found == 1);

    // Every MX unreachable: the report waits, and the error says what that usually means.
    auto blocked = direct("[\"someone@blocked.test\"]",
                          "spool_dir = \"" + (tmp / "spool-blocked").string() + "\"\n");
    fr = report::send_after(blocked, summary("direct-two"));
    CHECK(fr.sent == 0);
    CHECK(fr.pending == 1);
    CHECK(fr.last_error.message.find("direct delivery to blocked.test: no MX host took") !=
          std::string::npos);
    CHECK(fr.last_error.message.find("dead.test") != std::string::npos);
    CHECK(fr.last_error.message.find("looks blocked") != std::string::npos);
    CHECK(fr.last_error.message.find("delivery = \"relay\"") != std::string::npos);

    // A null MX: refused for good, kept aside, not retried.
    auto gone = direct("[\"someone@gone.test\"]",
                       "spool_dir = \"" + (tmp / "spool-gone").string() + "\"\n");
    fr = report::send_after(gone, summary("direct-three"));
    CHECK(fr.sent == 0);
    CHECK(fr.pending == 0);
    CHECK(fr.rejected == 1);
    CHECK(fr.last_error.message.find("accepts no mail") != std::string::npos);

    // A 5xx policy rejection at the MX is quoted with its text.
    b.sb->rcpt("bob@localhost", "550 5.7.1 Client host rejected: policy");
    auto rej =
        direct("[\"bob@localhost\"]", "spool_dir = \"" + (tmp / "spool-rej").string() + "\"\n");
    fr = report::send_after(rej, summary("direct-four"));
    b.sb->rcpt("bob@localhost", "");
    INFO("direct-four: " + fr.last_error.message);
    CHECK(fr.sent == 0);
    CHECK(fr.rejected == 1);
    CHECK(fr.last_error.message.find("550 5.7.1 <bob@localhost>") != std::string::npos);
    CHECK(fr.last_error.message.find("Client host rejected: policy") != std::string::npos);
}
