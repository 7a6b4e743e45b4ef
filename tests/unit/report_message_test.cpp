// Run reports without a server: the [report] config, the summary text and subject, the
// GMime-built message (RFC 2047 subject, quoted-printable UTF-8 body, 7-bit, CRLF), and the spool
// (private, durable, kept when the relay is unreachable, nothing sent for a good run with
// when = "failure").
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "harness/testbed.hpp"
#include "mailvault/config.hpp"
#include "mime/message_index.hpp"
#include "report/report.hpp"

using namespace mv;
namespace fs = std::filesystem;

namespace {

config::config parse(const mv::test::temp_dir& tmp, const std::string& report) {
    return config::parse("archive = \"" + (tmp / "a.sqlite").string() + "\"\n[report]\n" + report,
                         tmp / "c.toml");
}

const std::string minimal =
    "host = \"127.0.0.1\"\nport = 1\nfrom = \"mv@example.org\"\nto = [\"me@example.org\"]\n";

report::run_summary sample() {
    report::run_summary s;
    s.command = "sync";
    s.start = std::chrono::system_clock::from_time_t(1700000000);
    s.end = std::chrono::system_clock::from_time_t(1700000065);
    report::account_summary a;
    a.account = "Büro";
    a.new_messages = 7;
    a.deleted_on_server = 1;
    a.audit_hashes = {"0f0e"};
    s.accounts.push_back(a);
    return s;
}

}  // namespace

TEST_CASE("report config: [report] keys and their errors", "[report]") {
    mv::test::temp_dir tmp("mv-report");
    auto c = parse(tmp, minimal);
    CHECK(c.report.enabled);
    CHECK(c.report.port == 1);
    CHECK(c.report.tls == config::tls_mode::starttls);
    CHECK(c.report.when == config::report_when::always);
    CHECK(report::spool_dir(c) == tmp / "a.sqlite.d" / "reports");
    auto d = parse(tmp,
                   "host = \"h\"\ntls = \"implicit\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n"
                   "when = \"failure\"\nspool_dir = \"spool\"\n");
    CHECK(d.report.port == 465);
    CHECK(d.report.when == config::report_when::failure);
    CHECK(d.report.spool_dir == tmp / "spool");
    CHECK_FALSE(config::parse("", tmp / "c.toml").report.enabled);
    struct bad {
        std::string text, needle;
    };
    for (const auto& b : std::vector<bad>{
             {"host = \"h\"\ntls = \"none\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n", "allow_plaintext"},
             {"host = \"h\"\nfrom = \"a@b\"\n", "report.to"},
             {"host = \"h\"\nfrom = \"a@b\"\nto = [\"not an address\"]\n", "not a mail address"},
             {"host = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nuser = \"u\"\n", "password source"},
             {"host = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\npassword_env = \"X\"\n",
              "without user"},
             {"host = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nwhen = \"sometimes\"\n",
              "always, failure"},
             {"host = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nrelay = \"x\"\n", "unknown key"},
             {"host = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nauth = \"apop\"\n",
              "not an SMTP mechanism"},
         }) {
        INFO(b.text);
        CHECK_THROWS_WITH(parse(tmp, b.text),
                          Catch::Contains(b.needle) && Catch::Contains("c.toml:"));
    }
}

TEST_CASE("report message: GMime-built, 7-bit, RFC 2047 subject", "[report]") {
    mv::test::temp_dir tmp("mv-report");
    auto c = parse(tmp, minimal);
    auto s = sample();
    std::string subject = report::subject_for(s);
    CHECK(subject == "mailvault sync: ok — 1 account, 7 new, 1 deleted on server");
    std::string text = report::text_for(s);
    CHECK(text.find("started  2023-11-14 22:13:20Z\nfinished 2023-11-14 22:14:25Z\n") !=
          std::string::npos);
    CHECK(text.find("account Büro\n  new messages:      7\n") != std::string::npos);
    CHECK(text.find("    audit 0f0e\n") != std::string::npos);

    std::string raw = report::build_message(c.report, subject, text);
    INFO(raw);
    CHECK(std::all_of(raw.begin(), raw.end(),
                      [](char ch) { return static_cast<unsigned char>(ch) < 0x80; }));
    for (std::size_t i = 0; i < raw.size(); ++i)
        if (raw[i] == '\n') REQUIRE((i > 0 && raw[i - 1] == '\r'));
    CHECK(raw.find("=?UTF-8?B?4oCU?=") != std::string::npos);  // the em dash, RFC 2047
    CHECK(raw.find("Content-Transfer-Encoding: quoted-printable") != std::string::npos);
    CHECK(raw.find("MIME-Version: 1.0") != std::string::npos);
    auto m = mime::parse(raw);
    REQUIRE(m.parsed);
    CHECK(m.subject == subject);
    CHECK(m.from.find("mv@example.org") != std::string::npos);
    CHECK(m.to.find("me@example.org") != std::string::npos);
    CHECK(m.message_id.find("@example.org") != std::string::npos);
    CHECK(m.date_epoch.has_value());
    INFO(m.text);
    CHECK(m.text.find("account Büro") != std::string::npos);
    // Plain ASCII stays 7bit, subject unencoded.
    std::string plain = report::build_message(c.report, "all fine", "nothing to say\n");
    CHECK(plain.find("Subject: all fine\r\n") != std::string::npos);
    CHECK(plain.find("quoted-printable") == std::string::npos);
}

TEST_CASE("report spool: kept when the relay is unreachable, private files", "[report]") {
    mv::test::temp_dir tmp("mv-report");
    auto c = parse(tmp, minimal);  // 127.0.0.1:1: connection refused
    auto fr = report::send_after(c, sample());
    CHECK(fr.sent == 0);
    CHECK(fr.pending == 1);
    CHECK(fr.last_error.code == errc::network);
    CHECK(fr.last_error.message.rfind("report relay 127.0.0.1:1: ", 0) == 0);
    fr = report::send_after(c, sample());
    CHECK(fr.pending == 2);
    fs::path dir = report::spool_dir(c);
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
    REQUIRE(files.size() == 2);
    for (const auto& f : files) {
        CHECK(f.extension() == ".eml");
        REQUIRE(::stat(f.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
        std::string body = mv::test::read_file(f);
        CHECK(body.rfind("mailvault-report 1 me@example.org\n", 0) == 0);
        CHECK(body.find("=?UTF-8?") != std::string::npos);
    }
    // A good run with when = "failure" adds nothing (but still tries what waits).
    auto f = parse(tmp, minimal + "when = \"failure\"\n");
    fr = report::send_after(f, sample());
    CHECK(fr.pending == 2);
    auto bad = sample();
    bad.accounts[0].failures = {"login: 535 5.7.8 rejected"};
    CHECK(bad.failed());
    CHECK(report::subject_for(bad).find("FAILED") != std::string::npos);
    fr = report::send_after(f, bad);
    CHECK(fr.pending == 3);
    // Without [report], nothing at all.
    auto none =
        config::parse("archive = \"" + (tmp / "b.sqlite").string() + "\"\n", tmp / "c.toml");
    fr = report::send_after(none, bad);
    CHECK(fr.pending == 0);
    CHECK_FALSE(fs::exists(report::spool_dir(none)));
}
