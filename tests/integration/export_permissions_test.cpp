// The real `mailvault` program on local files only (no server): export to a full disk fails
// loudly with how far it got (issue 11 break 5), the archive and exports are private under
// umask 022 and exposed archives are warned about (break 6), and `status` says what the server
// held at the last sync and when each account last completed one.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "harness/local.hpp"
#include "harness/testbed.hpp"

namespace fs = std::filesystem;
using namespace mv::test;

namespace {

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// An archive with one IMAP folder: messages of about 10 KB, UID 13 of 200 KB.
void fill(const fs::path& db, int count) {
    mv::archive::options o;
    o.create = true;
    mv::archive::archive a(db, o);
    auto acc = a.upsert_account({"w", "imap", "h", "u"});
    auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
    mv::archive::transaction tx(a);
    a.set_watermarks(mb.id, {7, std::nullopt, std::nullopt, std::nullopt});
    for (int uid = 1; uid <= count; ++uid) {
        std::string m = "Subject: message " + std::to_string(uid) + "\r\n\r\n";
        const std::size_t size = uid == 13 ? 200000 : 10000;
        while (m.size() < size) m += "line " + std::to_string(m.size()) + " of the body\r\n";
        auto h = a.put_content(m).hash;
        a.upsert_entry({mb.id,
                        7,
                        static_cast<std::uint32_t>(uid),
                        std::nullopt,
                        {},
                        std::nullopt,
                        1000,
                        m.size(),
                        h});
    }
    tx.commit();
}

// Runs the program with a file size limit (RLIMIT_FSIZE): writes past it fail like a full disk.
run_result run_limited(const std::vector<std::string>& args, rlim_t limit, const fs::path& dir) {
    const auto out = dir / "stdout", err = dir / "stderr";
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(o, 1);
        ::dup2(e, 2);
        struct rlimit rl {
            limit, limit
        };
        ::setrlimit(RLIMIT_FSIZE, &rl);
        std::vector<char*> argv;
        std::string cli = MV_CLI_PATH;
        argv.push_back(cli.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(cli.c_str(), argv.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    run_result r;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.output = read_file(out);
    r.errors = read_file(err);
    return r;
}

std::vector<fs::path> files_below(const fs::path& root) {
    std::vector<fs::path> out;
    if (!fs::exists(root)) return out;
    for (auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) out.push_back(e.path());
    return out;
}

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto i = hay.find(needle); i != std::string::npos; i = hay.find(needle, i + 1)) ++n;
    return n;
}

// ON SERVER, ARCHIVED and GONE of a `status` table row.
std::vector<std::string> row(const std::string& out, const std::string& account,
                             const std::string& folder) {
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string x; words >> x;) w.push_back(x);
        if (w.size() >= 5 && w[0] == account && w[1] == folder) return {w[2], w[3], w[4]};
    }
    return {};
}

}  // namespace

TEST_CASE("export to a full disk: exit 8, one line saying how far it got, files = the count",
          "[integration][export]") {
    temp_dir t;
    const auto db = t.path() / "a.mvault";
    fill(db, 20);
    const rlim_t limit = 100000;
    for (std::string fmt : {"eml", "maildir", "mbox"}) {
        INFO(fmt);
        const auto out = t.path() / ("out-" + fmt);
        auto r = run_limited(
            {"export", "--archive", db.string(), "--format", fmt, "--out", out.string()}, limit,
            t.path());
        INFO(r.errors);
        CHECK(r.status == 8);
        CHECK(r.output.find("exported") == std::string::npos);
        CHECK(count(r.errors, "\n") == 1);
        CHECK(r.errors.find("File too large") != std::string::npos);
        auto files = files_below(out);
        if (fmt == "mbox") {
            REQUIRE(files.size() == 1);
            const std::string box = read_file(files[0]);
            const std::size_t n = count(box, "From MAILER-DAEMON");
            CHECK(n >= 5);
            CHECK(n < 13);  // UID 13 (200 KB) never fits under the limit
            CHECK(box.size() < limit);
            CHECK(box.substr(box.size() - 2) == "\n\n");  // the partial message was cut off
            CHECK(r.errors == "mailvault: export failed after " + std::to_string(n) +
                                  " of 20 messages: File too large (" + files[0].string() + ")\n");
        } else {
            // UIDs 1..12 written; 13 (200 KB) hit the limit and its partial file is gone.
            CHECK(files.size() == 12);
            const fs::path failed =
                fmt == "eml" ? out / "w" / "INBOX" / "1_13.eml" : out / "w" / "INBOX" / "tmp";
            CHECK(r.errors.rfind("mailvault: export failed after 12 of 20 messages: File too "
                                 "large (" +
                                     failed.string(),
                                 0) == 0);
            for (auto& f : files)  // nothing left half-written in Maildir's tmp/
                CHECK(fs::relative(f, out).string().rfind("w/INBOX/tmp/", 0) == std::string::npos);
        }
    }
    // Without the limit, everything: exit 0 and the count.
    auto r = run_command({MV_CLI_PATH, "export", "--archive", db.string(), "--format", "mbox",
                          "--out", (t.path() / "full").string()});
    CHECK(r.status == 0);
    CHECK(r.output.rfind("exported 20 messages", 0) == 0);
}

TEST_CASE("archive and exports are private under umask 022, exposed archives are warned about",
          "[integration][permissions]") {
    umask_guard g(022);
    temp_dir t;
    // `sync` creates the archive (and its directory) before it connects anywhere; a first run
    // that fails everywhere removes the empty archive again but keeps the private directories.
    const auto db = t.path() / "data" / "mailvault" / "archive.sqlite";
    write_file(t.path() / "pw", "x\n");
    ::chmod((t.path() / "pw").c_str(), 0600);
    write_file(t.path() / "c.toml", "archive = \"" + db.string() +
                                        "\"\n[[account]]\nname = \"w\"\nprotocol = \"imap\"\n"
                                        "host = \"127.0.0.1\"\nport = 1\ntls = \"plain\"\n"
                                        "allow_plaintext = true\nuser = \"u\"\npassword_file = \"" +
                                        (t.path() / "pw").string() + "\"\ntimeout_seconds = 2\n");
    auto r = run_command({MV_CLI_PATH, "sync", "--config", (t.path() / "c.toml").string()});
    CHECK(r.status == 5);  // nothing listens on port 1
    CHECK_FALSE(fs::exists(db));
    REQUIRE(fs::exists(db.parent_path()));
    CHECK(mode_of(db.parent_path()) == 0700);
    CHECK(mode_of(db.parent_path().parent_path()) == 0700);
    fill(db, 3);  // an archive created in that directory is private too
    CHECK(mode_of(db) == 0600);
    fill(t.path() / "filled.mvault", 3);
    CHECK(mode_of(t.path() / "filled.mvault") == 0600);

    for (std::string fmt : {"eml", "maildir", "mbox"}) {
        const auto out = t.path() / ("export-" + fmt);
        r = run_command({MV_CLI_PATH, "export", "--archive", (t.path() / "filled.mvault").string(),
                         "--format", fmt, "--out", out.string()});
        CHECK(r.status == 0);
        CHECK(mode_of(out) == 0700);
        for (auto& e : fs::recursive_directory_iterator(out)) {
            INFO(e.path());
            CHECK(mode_of(e.path()) == (e.is_directory() ? 0700u : 0600u));
        }
    }

    // status and verify stay quiet about a private archive, warn (one line, exit 0) otherwise.
    r = run_command({MV_CLI_PATH, "status", "--archive", db.string()});
    CHECK(r.status == 0);
    CHECK(r.errors.empty());
    ::chmod(db.c_str(), 0644);
    for (std::string cmd : {"status", "verify"}) {
        r = run_command({MV_CLI_PATH, cmd, "--archive", db.string()});
        INFO(cmd << ": " << r.errors);
        CHECK(r.status == 0);
        CHECK(count(r.errors, "\n") == 1);
        CHECK(r.errors.find("mailvault: warning: the archive " + db.string() +
                            " can be read by other users") == 0);
        CHECK(r.errors.find("chmod 600 " + db.string()) != std::string::npos);
    }
}

TEST_CASE("an empty archive file is refused by the program, not made a new archive",
          "[integration][permissions]") {
    temp_dir t;
    const auto db = t.path() / "archive.sqlite";
    write_file(db, "");
    for (std::string cmd : {"status", "verify"}) {
        auto r = run_command({MV_CLI_PATH, cmd, "--archive", db.string()});
        CHECK(r.status == 8);
        CHECK(r.errors == "mailvault: " + db.string() +
                              " is empty (0 bytes): not a mailvault archive; if you mean to start "
                              "a new archive, remove it first\n");
    }
    CHECK(fs::file_size(db) == 0);
}

TEST_CASE("status: on server at last sync, archived, and each account's last completed sync",
          "[integration][status]") {
    temp_dir t;
    const auto db = t.path() / "a.mvault";
    std::int64_t now = 1700000000;  // 2023-11-14 22:13:20 UTC
    {
        mv::archive::options o;
        o.create = true;
        o.clock = [&now] { return now; };
        mv::archive::archive a(db, o);
        auto w = a.upsert_account({"w", "imap", "h", "u"});
        auto p = a.upsert_account({"p", "pop3", "h", "u"});
        auto inbox = a.upsert_mailbox({w, "INBOX", "INBOX", "/", std::nullopt});
        a.upsert_mailbox({w, "Empty", "Empty", "/", std::nullopt});
        a.upsert_mailbox({p, "INBOX", "INBOX", std::nullopt, std::nullopt});
        mv::archive::transaction tx(a);
        a.set_watermarks(inbox.id, {7, std::nullopt, std::nullopt, std::nullopt});
        for (std::uint32_t uid : {1u, 2u}) {
            std::string m = "Subject: " + std::to_string(uid) + "\r\n\r\nx\r\n";
            a.upsert_entry({inbox.id,
                            7,
                            uid,
                            std::nullopt,
                            {},
                            std::nullopt,
                            1,
                            m.size(),
                            a.put_content(m).hash});
        }
        a.set_server_count(inbox.id, 1700, now);
        tx.commit();
        auto run = a.begin_sync_run(w);
        a.finish_sync_run(run, "ok", {});
        now += 100;
        a.finish_sync_run(a.begin_sync_run(w), "failed", {});
        a.finish_sync_run(a.begin_sync_run(p), "failed", {});
    }
    auto r = run_command({MV_CLI_PATH, "status", "--archive", db.string()});
    INFO(r.output << r.errors);
    CHECK(r.status == 0);
    // The INBOX row: 1700 on the server (not the 2 archived rows), 2 archived.
    CHECK(row(r.output, "w", "INBOX") == std::vector<std::string>{"1700", "2", "0"});
    CHECK(row(r.output, "w", "Empty") == std::vector<std::string>{"-", "0", "0"});
    CHECK(r.output.find("w: 1700 on server at last sync (1 of 2 folders counted), 2 archived; "
                        "last completed sync: 2023-11-14 22:13:20 UTC\n") != std::string::npos);
    CHECK(
        r.output.find("p: on server: not recorded yet, 0 archived; last completed sync: never\n") !=
        std::string::npos);

    r = run_command({MV_CLI_PATH, "status", "--json", "--archive", db.string()});
    REQUIRE(r.status == 0);
    auto j = nlohmann::json::parse(r.output);
    REQUIRE(j.at("accounts").size() == 2);
    CHECK(j["accounts"][0]["account"] == "p");
    CHECK(j["accounts"][0]["last_completed_sync"].is_null());
    CHECK(j["accounts"][1]["last_completed_sync"] == 1700000000);
    CHECK(j["accounts"][1]["on_server_at_last_sync"] == 1700);
    bool seen = false;
    for (auto& f : j["folders"])
        if (f["account"] == "w" && f["folder"] == "INBOX") {
            seen = true;
            CHECK(f["on_server_at_last_sync"] == 1700);
            CHECK(f["messages"] == 2);
        }
    CHECK(seen);
}
