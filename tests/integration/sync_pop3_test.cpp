// POP3 backup and safe deletion against the real Dovecot test bed (issue #6).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "archive/hash.hpp"
#include "harness/sync_env.hpp"

using namespace mv::test;

namespace {

// What Dovecot's RETR returns for a Maildir file: CRLF line ends, and a final line end added to a
// message that has none (the terminating ".\r\n" must start a line).
std::string served(const std::string& file) {
    std::string s = crlf(file);
    if (s.size() < 2 || s.compare(s.size() - 2, 2, "\r\n") != 0) s += "\r\n";
    return s;
}

struct pop3_bed {
    temp_dir seed{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;
    std::set<std::string> original_hashes;  // of what the server serves (CRLF)

    explicit pop3_bed(const std::string& tls = "starttls", const std::string& extra = "") {
        seed_folder(seed, "INBOX", corpus_messages("mikel-mail/emails/plain_emails"));
        seed_folder(seed, "INBOX", corpus_messages("mailkit/imap/common/message.2"));
        testbed_options o;
        o.users = {{"carol", "carol-pw", seed.path().string()}};
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"carol", "carol", "carol-pw", "pop3", tls, extra}});
        for (auto& f : std::filesystem::directory_iterator(seed.path()))
            if (f.is_regular_file() && ++originals)
                original_hashes.insert(mv::archive::sha256_of(served(read_file(f.path()))).hex());
    }

    std::size_t originals = 0;  // message files (the corpus has a duplicate)

    std::size_t server_count() const {
        std::size_t n = 0;
        for (const char* sub : {"cur", "new"})
            for (auto& f : std::filesystem::directory_iterator(tb->maildir("carol") / sub)) {
                (void)f;
                ++n;
            }
        return n;
    }

    std::set<std::string> archived_hashes() const {
        auto a = env->open_archive();
        std::set<std::string> out;
        a->for_each_located_entry({}, [&](const mv::archive::located_entry& e) {
            std::string bytes;
            REQUIRE_FALSE(a->read_content(e.entry.content, bytes));
            CHECK(mv::archive::sha256_of(bytes) == e.entry.content);
            out.insert(e.entry.content.hex());
        });
        return out;
    }
};

}  // namespace

TEST_CASE("pop3: backup over STLS keeps every message byte-identical; a rerun retrieves nothing") {
    pop3_bed b("starttls");
    auto first = b.env->sync();
    auto f = folder_report(first, "carol", "INBOX");
    CHECK(f.at("bodies_fetched").get<std::size_t>() == b.originals);
    CHECK(b.archived_hashes() == b.original_hashes);
    CHECK(b.server_count() == b.originals);  // policy keep: nothing deleted
    auto second = b.env->sync();
    CHECK(folder_report(second, "carol", "INBOX").at("bodies_fetched") == 0);
}

TEST_CASE("pop3: POP3S with delete after archive empties the server, archive holds everything") {
    pop3_bed b("implicit", "delete = \"after_archive\"\n");
    auto s = b.env->sync();
    CHECK(s.at("accounts")[0].at("deleted_on_server").get<std::size_t>() == b.originals);
    CHECK(b.server_count() == 0);
    CHECK(b.archived_hashes() == b.original_hashes);
    // Every DELE is in the audit log, with its hash.
    auto r = b.env->cli({"audit", "export"});
    if (r.status == 0) {
        std::size_t deles = 0;
        std::istringstream in(r.output);
        for (std::string line; std::getline(in, line);)
            if (line.find("pop3_dele") != std::string::npos) ++deles;
        CHECK(deles == b.originals);
    }
}

TEST_CASE("pop3: a read-only archive means no DELE reaches the server") {
    pop3_bed b("starttls");
    b.env->sync();  // archive everything, keep it on the server
    REQUIRE(b.archived_hashes() == b.original_hashes);
    // Now ask for deletion, with the archive read-only. Root ignores file modes, so run the
    // program as `nobody` then (setpriv, util-linux), owning nothing it needs to write.
    b.env->write_config(
        {{"carol", "carol", "carol-pw", "pop3", "starttls", "delete = \"after_archive\"\n"}});
    const auto dir = b.env->dir().path();
    std::vector<std::string> argv;
    if (::geteuid() == 0) {
        for (auto& e : std::filesystem::recursive_directory_iterator(dir))
            REQUIRE(::chown(e.path().c_str(), 65534, 65534) == 0);
        REQUIRE(::chown(dir.c_str(), 65534, 65534) == 0);
        argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
        auto p = b.env->archive_path() + suffix;
        if (std::filesystem::exists(p)) ::chmod(p.c_str(), 0444);
    }
    ::chmod(dir.c_str(), 0555);
    argv.insert(argv.end(), {b.env->cli_path(), "sync", "--config", b.env->config_path()});
    auto r = run_command(argv);
    ::chmod(dir.c_str(), 0755);
    INFO(r.output << r.errors);
    CHECK(r.status == 8);
    CHECK(r.errors.find("archive") != std::string::npos);
    CHECK(b.server_count() == b.originals);
}

TEST_CASE("pop3: an archive on an unwritable path fails clearly and deletes nothing") {
    pop3_bed b("starttls", "delete = \"after_archive\"\n");
    // A regular file where the archive's directory should be: nothing can be created there.
    auto blocker = b.env->dir() / "blocker";
    write_file(blocker, "x");
    auto cfg = read_file(b.env->config_path());
    auto pos = cfg.find(b.env->archive_path());
    REQUIRE(pos != std::string::npos);
    cfg.replace(pos, b.env->archive_path().size(), (blocker / "archive.sqlite").string());
    write_file(b.env->config_path(), cfg);
    auto r = b.env->cli({"sync"});
    CHECK(r.status == 8);
    CHECK_FALSE(r.errors.empty());
    CHECK(b.server_count() == b.originals);
}

TEST_CASE("pop3: kill -9 during a deleting session, then a rerun: nothing lost, nothing twice") {
    pop3_bed b("starttls", "delete = \"after_archive\"\n");
    for (int delay_ms : {5, 20, 60, 120}) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int devnull = ::open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execl(MV_CLI_PATH, MV_CLI_PATH, "sync", "--batch-messages", "3", "--config",
                  b.env->config_path().c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        // Whatever left the server is in the archive.
        if (std::filesystem::exists(b.env->archive_path()) && b.server_count() < b.originals) {
            auto archived = b.archived_hashes();
            std::set<std::string> on_server;
            for (const char* sub : {"cur", "new"})
                for (auto& f : std::filesystem::directory_iterator(b.tb->maildir("carol") / sub))
                    on_server.insert(mv::archive::sha256_of(served(read_file(f.path()))).hex());
            for (const auto& h : b.original_hashes)
                CHECK((archived.count(h) == 1 || on_server.count(h) == 1));
        }
    }
    b.env->sync();
    CHECK(b.server_count() == 0);
    CHECK(b.archived_hashes() == b.original_hashes);
    // Nothing archived twice: one entry per message.
    auto a = b.env->open_archive();
    CHECK(static_cast<std::size_t>(a->totals().entries) == b.originals);
}
