// Every command that changes or checks an archive mails its report when [report] is configured
// (issue #16): prune --execute (with the audit records of its deletions), purge --execute,
// verify and verify --against-server; dry runs send nothing. Through the real Postfix test bed
// into the Dovecot test bed, read back from the recipient's Maildir and parsed with GMime.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness/local.hpp"
#include "harness/smtpbed.hpp"
#include "harness/sync_env.hpp"
#include "mime/message_index.hpp"

using namespace mv::test;
namespace fs = std::filesystem;

namespace {

struct report_bed {
    std::unique_ptr<testbed> tb;
    std::unique_ptr<smtpbed> sb;
    std::unique_ptr<sync_env> env;
    report_bed() {
        testbed_options o;
        o.users = {{"alice", "alice-pw", ""}, {"bob", "bob-pw", ""}};
        tb = std::make_unique<testbed>(o);
        sb = std::make_unique<smtpbed>(
            *tb, std::vector<std::pair<std::string, std::string>>{{"alice", "alice-secret"}},
            std::vector<std::string>{"bob"});
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        const auto pw = env->dir().path() / "smtp-password";
        write_file(pw, "alice-secret\n");
        ::chmod(pw.c_str(), 0600);
        env->write_config(
            {{"alice", "alice", "alice-pw", "imap", "starttls", ""}},
            "[report]\nhost = \"127.0.0.1\"\nport = " + std::to_string(sb->submission_port()) +
                "\ntls = \"starttls\"\nuser = \"alice\"\npassword_file = \"" + pw.string() +
                "\"\nca_file = \"" + sb->ca_file() +
                "\"\nfrom = \"mailvault@localhost\"\nto = [\"bob@localhost\"]\n");
    }
    // The reports in bob's INBOX, oldest first; waits up to 20 s for at least `n`.
    std::vector<mv::mime::message_index> reports(std::size_t n) const {
        std::vector<std::pair<fs::file_time_type, mv::mime::message_index>> got;
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        do {
            got.clear();
            for (const char* sub : {"new", "cur"}) {
                std::error_code ec;
                for (const auto& e : fs::directory_iterator(tb->maildir("bob") / sub, ec))
                    got.push_back(
                        {fs::last_write_time(e.path()), mv::mime::parse(read_file(e.path()))});
            }
            if (got.size() >= n) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        } while (std::chrono::steady_clock::now() < end);
        std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) {
            return a.first < b.first ||
                   (a.first == b.first && a.second.date_epoch < b.second.date_epoch);
        });
        std::vector<mv::mime::message_index> out;
        for (auto& g : got) out.push_back(std::move(g.second));
        return out;
    }
    // The newest report whose subject starts with `prefix`.
    mv::mime::message_index newest(const std::string& prefix, std::size_t n) const {
        auto all = reports(n);
        for (auto it = all.rbegin(); it != all.rend(); ++it)
            if (it->subject.rfind(prefix, 0) == 0) return *it;
        FAIL("no report with subject " + prefix);
        return {};
    }
};

}  // namespace

TEST_CASE("reports: prune purge and verify mail what they did", "[integration][report]") {
    if (!smtpbed::available()) {
        WARN("postfix is not installed or this is not root (scripts/install-deps.sh): not run");
        return;
    }
    report_bed b;
    auto& tb = *b.tb;
    for (int i = 0; i < 3; ++i) {
        const auto f = b.env->dir().path() / ("m" + std::to_string(i) + ".eml");
        write_file(f, "From: a@example.org\r\nSubject: m" + std::to_string(i) +
                          "\r\nMessage-ID: <r" + std::to_string(i) + "@example.org>\r\n\r\nbody " +
                          std::string(100 * (i + 1), 'x') + "\r\n");
        tb.add("alice", "INBOX", f.string());
    }
    REQUIRE(b.env->cli({"sync"}).status == 0);
    std::size_t n = 1;
    auto sync = b.newest("mailvault sync: ok", n);
    CHECK(sync.subject == "mailvault sync: ok — 1 account, 3 new");

    // A dry run sends nothing; --execute reports each deletion with its audit record.
    REQUIRE(b.env->cli({"prune", "--larger-than", "250"}).status == 0);
    auto r = b.env->cli({"prune", "--larger-than", "250", "--execute"});
    INFO(r.output + r.errors);
    REQUIRE(r.status == 0);
    auto prune = b.newest("mailvault prune", ++n);
    CHECK(b.reports(n).size() == n);  // not one for the dry run
    CHECK(prune.subject == "mailvault prune: ok — 1 account, 2 deleted on server");
    CHECK(prune.text.find("account alice\n  deleted on server: 2\n") != std::string::npos);
    std::size_t audits = 0;
    for (auto p = prune.text.find("    audit audit #"); p != std::string::npos;
         p = prune.text.find("    audit audit #", p + 1))
        ++audits;
    CHECK(audits == 2);
    CHECK(prune.text.find("new messages") == std::string::npos);  // sync's counters only in sync

    // verify: the outcome and what was checked.
    REQUIRE(b.env->cli({"verify"}).status == 0);
    auto verify = b.newest("mailvault verify", ++n);
    CHECK(verify.subject == "mailvault verify: ok");
    CHECK(verify.text.find("verified 3 messages") != std::string::npos);

    // verify --against-server: per folder what the server has and what is archived.
    REQUIRE(b.env->cli({"sync"}).status == 0);  // marks the pruned two expunged
    ++n;
    REQUIRE(b.env->cli({"verify", "--against-server"}).status == 0);
    auto against = b.newest("mailvault verify --against-server", ++n);
    CHECK(against.subject == "mailvault verify --against-server: ok — 1 account");
    CHECK(against.text.find("folder 'INBOX': on server 1, archived 1, missing 0") !=
          std::string::npos);

    // purge --execute: the rule and what left the archive (the two pruned, expunged messages
    // are older than a second by now).
    REQUIRE(b.env->cli({"purge", "--older-than", "1s"}).status == 0);  // dry run: no report
    r = b.env->cli({"purge", "--older-than", "1s", "--execute"});
    INFO(r.output + r.errors);
    REQUIRE(r.status == 0);
    CHECK(r.output.find("purged 2 entries") != std::string::npos);
    auto purge = b.newest("mailvault purge", ++n);
    CHECK(b.reports(n).size() == n);
    CHECK(purge.subject == "mailvault purge: ok — 1 account");
    CHECK(purge.text.find("rule: purge older_than=1s basis=internaldate") != std::string::npos);
    CHECK(purge.text.find("account alice\n  purged from the archive: 2 entries") !=
          std::string::npos);
    CHECK(purge.text.find("contents deleted: 2") != std::string::npos);

    // A damaged archive: verify exits 9 and its report says FAILED with the problem.
    sql_exec(b.env->archive_path(),
             "UPDATE chunks SET data = zeroblob(length(data)) WHERE content_id = (SELECT min(id) "
             "FROM contents)");
    CHECK(b.env->cli({"verify"}).status == 9);
    auto bad = b.newest("mailvault verify: FAILED", ++n);
    CHECK(bad.text.find("exit code 9 (failed)") != std::string::npos);
    CHECK(bad.text.find("failure: content ") != std::string::npos);

    // A relay that cannot be reached changes no exit code: the report waits in the spool.
    const auto cfg = read_file(b.env->config_path());
    const auto at = cfg.find("port = " + std::to_string(b.sb->submission_port()));
    REQUIRE(at != std::string::npos);
    write_file(b.env->config_path(),
               cfg.substr(0, at) + "port = 1" +
                   cfg.substr(at + ("port = " + std::to_string(b.sb->submission_port())).size()));
    r = b.env->cli({"verify", "--against-server"});
    CHECK(r.status == 0);
    CHECK(r.errors.find("report not sent") != std::string::npos);
    r = b.env->cli({"verify"});
    CHECK(r.status == 9);  // still the damaged content, whatever the relay does
    CHECK(r.errors.find("report not sent") != std::string::npos);
}
