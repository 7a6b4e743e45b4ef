// `mailvault watch` against a real Dovecot (issue #16): a delivery is archived within 2 s; kill -9
// of the watcher mid-batch then a restart leaves no gap and no duplicate; a server restart during
// IDLE is survived; SIGTERM during a batch exits 0 with a valid archive; a second watcher is
// refused; SIGHUP adds an account; status shows the running watcher; alerts (an account failing,
// low disk space, a certificate close to expiry, a failed periodic verify) arrive by mail through
// a real Postfix, once each.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "harness/local.hpp"
#include "harness/smtpbed.hpp"
#include "harness/sync_env.hpp"
#include "mime/message_index.hpp"

using namespace mv::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// `mailvault watch ... --config C` as a child process, stderr to a file (the test reads it).
class watch_process {
public:
    // `env`: variables set in the child; WATCHDOG_PID is set to the child's own pid when present
    // (as systemd does), whatever value is given.
    watch_process(const sync_env& env, std::vector<std::string> extra, const std::string& log,
                  const std::map<std::string, std::string>& vars = {}) {
        log_ = log;
        std::vector<std::string> argv = {env.cli_path(), "watch",       "--retry-min",
                                         "1s",           "--retry-max", "2s"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back("--config");
        argv.push_back(env.config_path());
        write_file(log, "");  // exists before the child writes: the test reads it at once
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int fd = ::open(log.c_str(), O_WRONLY | O_APPEND);
            ::dup2(fd, 2);
            ::dup2(fd, 1);
            for (const auto& [k, v] : vars)
                ::setenv(k.c_str(),
                         k == "WATCHDOG_PID" ? std::to_string(::getpid()).c_str() : v.c_str(), 1);
            std::vector<char*> av;
            for (auto& a : argv) av.push_back(a.data());
            av.push_back(nullptr);
            ::execv(av[0], av.data());
            ::_exit(127);
        }
    }
    ~watch_process() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    void signal(int sig) const { ::kill(pid_, sig); }
    // The exit status (128 + signal when killed); -1 if it did not end within `limit`.
    int wait(std::chrono::milliseconds limit = 30s) {
        const auto end = steady::now() + limit;
        while (steady::now() < end) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                reaped_ = true;
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
            std::this_thread::sleep_for(20ms);
        }
        return -1;
    }
    std::string log() const { return read_file(log_); }
    // Waits until the log contains `text`.
    bool wait_log(const std::string& text, std::chrono::milliseconds limit = 60s) const {
        const auto end = steady::now() + limit;
        while (steady::now() < end) {
            if (log().find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    std::string log_;
};

// Live archived entries of one account's folder, read straight from the file (WAL: the watcher
// may be writing; a reader sees the last commit).
long archived(const std::string& db, const std::string& account, const std::string& folder) {
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* st = nullptr;
    long n = -1;
    const char* q =
        "SELECT count(*) FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id JOIN accounts a "
        "ON a.id = m.account_id WHERE a.name = ?1 AND m.name = ?2 AND e.expunged_at IS NULL";
    if (sqlite3_prepare_v2(h, q, -1, &st, nullptr) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, account.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, folder.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

// Polls until `pred` holds; false after `limit`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit,
                std::chrono::milliseconds every = 10ms) {
    const auto end = steady::now() + limit;
    while (steady::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(every);
    }
    return pred();
}

std::string message(int i, std::size_t pad = 0) {
    std::string m = "From: watch-test@example.org\r\nTo: alice@example.org\r\nSubject: watch " +
                    std::to_string(i) + "\r\nMessage-ID: <watch-" + std::to_string(i) +
                    "@example.org>\r\nDate: Wed, 02 Dec 2026 07:00:00 +0000\r\n\r\nbody " +
                    std::to_string(i) + "\r\n";
    m += std::string(pad, 'x') + "\r\n";
    return m;
}

// Delivers many messages at once, as an MTA does: each file written in tmp/, renamed into new/
// (Dovecot notices them through inotify and tells the idling client).
void deliver_bulk(const testbed& tb, const std::string& user, int from, int count,
                  std::size_t pad = 0) {
    const auto dir = tb.folder_dir(user, "INBOX");
    // Dovecot made the Maildir at the watcher's login; the files get its owner (the test bed
    // runs mail as an unprivileged user when the tests run as root).
    struct stat st {};
    REQUIRE(eventually([&] { return ::stat((dir / "new").c_str(), &st) == 0; }, 10s));
    for (int i = from; i < from + count; ++i) {
        const std::string name = "watch-" + std::to_string(i) + ".host";
        write_file(dir / "tmp" / name, message(i, pad));
        REQUIRE(::chown((dir / "tmp" / name).c_str(), st.st_uid, st.st_gid) == 0);
        std::filesystem::rename(dir / "tmp" / name, dir / "new" / name);
    }
}

struct watch_bed {
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;
    explicit watch_bed(std::vector<testbed_user> users = {{"alice", "alice-pw", ""}}) {
        testbed_options o;
        o.users = std::move(users);
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""}});
    }
    std::string log(const std::string& name) const {
        return (env->dir().path() / (name + ".log")).string();
    }
};

}  // namespace

TEST_CASE("watch: a delivery is archived within 2 s (IDLE with NOTIFY)", "[integration][watch]") {
    watch_bed b;
    deliver_bulk(*b.tb, "alice", 1000, 1);  // something for the first sync to find
    watch_process w(*b.env, {}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));
    REQUIRE(
        eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") == 1; }, 10s));
    // NOTIFY is offered by the test bed's Dovecot: the watcher says it uses it.
    std::vector<double> ms;
    for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(300ms);  // the watcher is back in IDLE
        const auto t0 = steady::now();
        deliver_bulk(*b.tb, "alice", i, 1);
        REQUIRE(eventually(
            [&] { return archived(b.env->archive_path(), "alice", "INBOX") == 2 + i; }, 5s, 5ms));
        ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf(
        "watch: delivery-to-commit latency over 5 deliveries: min %.0f ms, median %.0f "
        "ms, max %.0f ms\n",
        ms.front(), ms[2], ms.back());
    for (double m : ms) CHECK(m < 2000);
    // Another folder, nobody idling on it: NOTIFY's STATUS names it (the full sync is 15 min
    // away), so it is archived as fast.
    INFO(w.log());
    CHECK(w.log().find("NOTIFY") == std::string::npos);  // not refused
    b.tb->mkdir("alice", "Lists");
    std::this_thread::sleep_for(500ms);
    const auto file = b.env->dir().path() / "one.eml";
    write_file(file, message(77));
    const auto t1 = steady::now();
    b.tb->add("alice", "Lists", file.string());
    CHECK(eventually([&] { return archived(b.env->archive_path(), "alice", "Lists") == 1; }, 5s));
    std::printf("watch: NOTIFY, another folder: %.0f ms from doveadm save to commit\n",
                std::chrono::duration<double, std::milli>(steady::now() - t1).count());
    w.signal(SIGTERM);
    CHECK(w.wait() == 0);
    INFO(w.log());
    CHECK(w.log().find("stopped cleanly") != std::string::npos);
}

TEST_CASE("watch: without NOTIFY it idles on the watch folders and syncs the rest at the interval",
          "[integration][watch]") {
    watch_bed b;
    b.tb->restart({"NOTIFY"});
    b.tb->mkdir("alice", "Lists");
    watch_process w(*b.env, {"--interval", "3s"}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));
    const auto t0 = steady::now();
    deliver_bulk(*b.tb, "alice", 100, 1);
    REQUIRE(eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") == 1; }, 5s));
    CHECK(steady::now() - t0 < 2s);
    // A folder nobody idles on: picked up by the periodic full sync.
    const auto file = b.env->dir().path() / "one.eml";
    write_file(file, message(7));
    b.tb->add("alice", "Lists", file.string());
    CHECK(eventually([&] { return archived(b.env->archive_path(), "alice", "Lists") == 1; }, 10s));
    w.signal(SIGINT);
    CHECK(w.wait() == 0);
}

TEST_CASE("watch: kill -9 mid-batch then a restart leaves no gap and no duplicate",
          "[integration][watch]") {
    watch_bed b;
    watch_process w(*b.env, {"--batch-messages", "10"}, b.log("w1"));
    REQUIRE(w.wait_log("first sync done"));
    deliver_bulk(*b.tb, "alice", 0, 400, 20000);
    // Killed once some batches are committed and others are still to come.
    REQUIRE(eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") >= 20; }, 20s,
                       2ms));
    w.signal(SIGKILL);
    CHECK(w.wait() == 128 + SIGKILL);
    const long at_kill = archived(b.env->archive_path(), "alice", "INBOX");
    INFO("archived at the kill: " << at_kill);
    CHECK(at_kill < 400);

    watch_process w2(*b.env, {"--batch-messages", "10"}, b.log("w2"));
    REQUIRE(
        eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") == 400; }, 60s));
    w2.signal(SIGTERM);
    CHECK(w2.wait() == 0);
    auto a = b.env->open_archive();
    CHECK(check_mirror(*a, *b.tb, "alice", "alice", "INBOX") == 400);
    b.env->expect_complete_against_server();
}

TEST_CASE("watch: SIGTERM during a batch exits 0 and leaves a valid archive",
          "[integration][watch]") {
    watch_bed b;
    watch_process w(*b.env, {"--batch-messages", "10"}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));
    deliver_bulk(*b.tb, "alice", 0, 300, 20000);
    REQUIRE(eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") >= 10; }, 20s,
                       2ms));
    w.signal(SIGTERM);
    const auto t0 = steady::now();
    CHECK(w.wait() == 0);
    CHECK(steady::now() - t0 < 10s);
    INFO(w.log());
    CHECK(w.log().find("stopped cleanly") != std::string::npos);
    auto v = b.env->cli({"verify"});
    INFO(v.output << v.errors);
    CHECK(v.status == 0);
    // What was not archived yet comes with the next run, nothing twice.
    b.env->sync();
    auto a = b.env->open_archive();
    CHECK(check_mirror(*a, *b.tb, "alice", "alice", "INBOX") == 300);
}

TEST_CASE("watch: after a server restart during IDLE the watcher reconnects and archives what came",
          "[integration][watch]") {
    watch_bed b;
    watch_process w(*b.env, {}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));
    std::this_thread::sleep_for(300ms);
    b.tb->restart({});
    deliver_bulk(*b.tb, "alice", 0, 3);  // while the watcher is away or reconnecting
    REQUIRE(
        eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") == 3; }, 20s));
    // And IDLE works again after the reconnect.
    std::this_thread::sleep_for(500ms);
    const auto t0 = steady::now();
    deliver_bulk(*b.tb, "alice", 3, 1);
    REQUIRE(
        eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") == 4; }, 10s));
    CHECK(steady::now() - t0 < 2s);
    INFO(w.log());
    CHECK(w.log().find("reconnecting") != std::string::npos);
    w.signal(SIGTERM);
    CHECK(w.wait() == 0);
}

TEST_CASE("watch: a second watcher on the same archive is refused and status shows the first",
          "[integration][watch]") {
    watch_bed b;
    watch_process w(*b.env, {}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));
    watch_process w2(*b.env, {}, b.log("w2"));
    CHECK(w2.wait() == 8);  // exit_archive
    INFO(w2.log());
    CHECK(w2.log().find("already running") != std::string::npos);
    CHECK(w2.log().find("pid " + std::to_string(w.pid())) != std::string::npos);
    auto st = b.env->cli({"status"});
    INFO(st.output << st.errors);
    CHECK(st.output.find("watcher running since") != std::string::npos);
    auto js = b.env->cli({"status", "--json"});
    auto j = nlohmann::json::parse(js.output);
    CHECK(j.at("watcher").at("pid") == w.pid());
    w.signal(SIGTERM);
    CHECK(w.wait() == 0);
    auto after = b.env->cli({"status", "--json"});
    CHECK(nlohmann::json::parse(after.output).at("watcher").is_null());
}

TEST_CASE("watch: SIGHUP reads the config again and starts an added account",
          "[integration][watch]") {
    watch_bed b({{"alice", "alice-pw", ""}, {"bob", "bob-pw", ""}});
    watch_process w(*b.env, {}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));
    b.env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""},
                         {"bob", "bob", "bob-pw", "imap", "starttls", ""}});
    w.signal(SIGHUP);
    REQUIRE(w.wait_log("(re)started"));
    deliver_bulk(*b.tb, "bob", 0, 2);
    CHECK(eventually([&] { return archived(b.env->archive_path(), "bob", "INBOX") == 2; }, 10s));
    // A config that no longer loads is reported; the watcher goes on with the old one.
    write_file(b.env->config_path(), "this is not toml [");
    w.signal(SIGHUP);
    REQUIRE(w.wait_log("keeping the running configuration"));
    deliver_bulk(*b.tb, "alice", 0, 1);
    CHECK(eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") == 1; }, 10s));
    w.signal(SIGTERM);
    CHECK(w.wait() == 0);
}

TEST_CASE("watch: an account that keeps failing does not hold up another", "[integration][watch]") {
    watch_bed b;
    // "ghost" points at a port nobody listens on: every attempt fails, forever, with back-off.
    b.env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""},
                         {"ghost", "alice", "alice-pw", "imap", "plain", "", 1}});
    watch_process w(*b.env, {}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));
    REQUIRE(w.wait_log("account 'ghost'"));
    const auto t0 = steady::now();
    deliver_bulk(*b.tb, "alice", 0, 1);
    REQUIRE(eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") == 1; }, 5s));
    CHECK(steady::now() - t0 < 2s);
    // ghost is retried (retry-min 1s, retry-max 2s in these tests), one line per failure.
    REQUIRE(w.wait_log("(failure 3)", 20s));
    w.signal(SIGTERM);
    CHECK(w.wait() == 0);
}

TEST_CASE("watch: a POP3 account is polled at its interval", "[integration][watch]") {
    watch_bed b;
    b.env->write_config({{"alice", "alice", "alice-pw", "pop3", "starttls", ""}});
    watch_process w(*b.env, {"--interval", "1s"}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));
    deliver_bulk(*b.tb, "alice", 0, 2);
    CHECK(eventually([&] { return archived(b.env->archive_path(), "alice", "INBOX") == 2; }, 10s));
    w.signal(SIGTERM);
    CHECK(w.wait() == 0);
}

TEST_CASE("watch: under systemd it sends READY after the first sync and pings the watchdog",
          "[integration][watch]") {
    watch_bed b;
    // NOTIFY_SOCKET: a datagram socket of ours, as systemd's (sd_notify writes one datagram per
    // call).
    const auto sock_path = b.env->dir().path() / "notify.sock";
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{0, 100 * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string got;
    auto drain = [&] {
        char buf[4096];
        for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
            got += std::string(buf, static_cast<std::size_t>(n)) + "\n";
    };
    watch_process w(
        *b.env, {}, b.log("w"),
        {{"NOTIFY_SOCKET", sock_path.string()}, {"WATCHDOG_USEC", "400000"}, {"WATCHDOG_PID", ""}});
    REQUIRE(eventually(
        [&] {
            drain();
            return got.find("READY=1") != std::string::npos;
        },
        30s, 50ms));
    INFO(got);
    CHECK(got.find("STATUS=watching 1 account(s)") != std::string::npos);
    // WatchdogSec=0.4s: pings every 0.2 s.
    got.clear();
    std::this_thread::sleep_for(1s);
    drain();
    CHECK(got.find("WATCHDOG=1") != std::string::npos);
    w.signal(SIGHUP);
    CHECK(eventually(
        [&] {
            drain();
            return got.find("RELOADING=1") != std::string::npos;
        },
        10s, 50ms));
    w.signal(SIGTERM);
    CHECK(w.wait() == 0);
    drain();
    CHECK(got.find("STOPPING=1") != std::string::npos);
    ::close(fd);
}

TEST_CASE("watch: alerts by mail once each (failing account - disk - certificate - verify)",
          "[integration][watch][report]") {
    if (!smtpbed::available()) {
        WARN("postfix is not installed or this is not root (scripts/install-deps.sh): not run");
        return;
    }
    watch_bed b({{"alice", "alice-pw", ""}, {"bob", "bob-pw", ""}});
    smtpbed sb(*b.tb, {{"alice", "alice-secret"}}, {"bob"});
    // An archive with one message whose stored bytes are then damaged: the periodic verify fails.
    REQUIRE(b.env->cli({"sync"}).status == 0);
    deliver_bulk(*b.tb, "alice", 0, 2);
    REQUIRE(b.env->cli({"sync"}).status == 0);
    sql_exec(b.env->archive_path(),
             "UPDATE chunks SET data = CASE WHEN substr(data, 10, 1) = X'00' THEN X'01' ELSE X'00' "
             "END || substr(data, 1, 9) || substr(data, 11) WHERE seq = 0 AND content_id = (SELECT "
             "min(id) FROM contents)");
    const auto pw = b.env->dir().path() / "smtp-password";
    write_file(pw, "alice-secret\n");
    ::chmod(pw.c_str(), 0600);
    // The test bed's certificates are valid for 30 days: a 45-day warning fires; no file system
    // here has 500 TiB free.
    const std::string report =
        "[report]\nhost = \"127.0.0.1\"\nport = " + std::to_string(sb.submission_port()) +
        "\ntls = \"starttls\"\nuser = \"alice\"\npassword_file = \"" + pw.string() +
        "\"\nca_file = \"" + sb.ca_file() +
        "\"\nfrom = \"mailvault@localhost\"\nto = [\"bob@localhost\"]\n"
        "alert_after_failures = 2\nalert_disk_free = \"500T\"\nalert_cert_expiry = \"45d\"\n"
        "verify_interval = \"2s\"\n";
    b.env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""},
                         {"ghost", "alice", "alice-pw", "imap", "plain", "", 1}},
                        report);
    watch_process w(*b.env, {}, b.log("w"));
    REQUIRE(w.wait_log("first sync done"));

    // What reached bob's INBOX, by subject.
    auto subjects = [&] {
        std::map<std::string, int> out;
        for (const char* sub : {"new", "cur"}) {
            std::error_code ec;
            for (const auto& e :
                 std::filesystem::directory_iterator(b.tb->maildir("bob") / sub, ec))
                ++out[mv::mime::parse(read_file(e.path())).subject];
        }
        return out;
    };
    auto has = [&](const std::map<std::string, int>& m, const std::string& prefix) {
        int n = 0;
        for (const auto& [k, v] : m)
            if (k.rfind(prefix, 0) == 0) n += v;
        return n;
    };
    const std::string cert =
        "mailvault alert: certificate of localhost:" + std::to_string(b.tb->imap_port()) +
        " expires in ";
    REQUIRE(eventually(
        [&] {
            auto m = subjects();
            return has(m, "mailvault alert: account ghost failing: 2 attempts in a row") == 1 &&
                   has(m, "mailvault alert: disk space low: ") == 1 && has(m, cert) == 1 &&
                   has(m, "mailvault alert: verify FAILED") == 1;
        },
        60s, 200ms));
    // Nothing repeats while the conditions last (ghost keeps failing, verify runs every 2 s).
    REQUIRE(w.wait_log("(failure 4)", 30s));
    REQUIRE(eventually(
        [&] {
            auto l = w.log();
            std::size_t n = 0;
            for (auto p = l.find("periodic verify"); p != std::string::npos;
                 p = l.find("periodic verify", p + 1))
                ++n;
            return n >= 3;
        },
        30s, 200ms));
    std::this_thread::sleep_for(1s);
    auto m = subjects();
    INFO(w.log());
    CHECK(m.size() == 4);
    for (const auto& [k, v] : m) CHECK(v == 1);
    CHECK(has(m, cert) == 1);
    // The certificate alert names the server's certificate; the log says ALERT once each.
    const auto log = w.log();
    CHECK(log.find("ALERT: account ghost failing") != std::string::npos);
    CHECK(log.find("ALERT: verify FAILED") != std::string::npos);

    // A reload with a threshold the disk meets ends the disk episode: one "resolved" mail.
    const std::string before = "alert_disk_free = \"500T\"";
    auto text = read_file(b.env->config_path());
    const auto at = text.find(before);
    REQUIRE(at != std::string::npos);
    write_file(b.env->config_path(),
               text.substr(0, at) + "alert_disk_free = \"1M\"" + text.substr(at + before.size()));
    w.signal(SIGHUP);
    CHECK(eventually([&] { return has(subjects(), "mailvault: resolved: disk space back: ") == 1; },
                     30s, 200ms));
    CHECK(w.log().find("alert resolved: disk space back") != std::string::npos);
    w.signal(SIGTERM);
    CHECK(w.wait() == 0);
}
