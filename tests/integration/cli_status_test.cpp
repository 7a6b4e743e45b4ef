// `mailvault status` tells the truth about a working cron job (issue #15): the last completed
// sync of every account (POP3 too), folders confirmed unchanged count as synced, sizes in human
// units (or --bytes), columns aligned by display width; a first sync that fails everywhere
// leaves no empty archive; command groups list their subcommands.
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness/local.hpp"
#include "harness/sync_env.hpp"

using namespace mv::test;

namespace {

struct imap_and_pop3 {
    temp_dir seed_imap{"mailvault-seed"}, seed_pop{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;

    imap_and_pop3() {
        seed_folder(seed_imap, "INBOX", corpus_messages("mikel-mail/emails/plain_emails"));
        // "Hộp thư/Đã gửi": wide and combining characters in a folder name (modified UTF-7).
        seed_folder(seed_imap, "H&Htk-p th&AbA-.&ARAA4w- g&Hu0-i",
                    corpus_messages("mikel-mail/emails/rfc2822"));
        seed_folder(seed_pop, "INBOX", corpus_messages("mikel-mail/emails/multi_charset"));
        testbed_options o;
        o.users = {{"alice", "alice-pw", seed_imap.path().string()},
                   {"carol", "carol-pw", seed_pop.path().string()}};
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""},
                           {"carol", "carol", "carol-pw", "pop3", "starttls", ""}});
    }

    nlohmann::json status() const {
        auto r = env->cli({"status", "--json"});
        REQUIRE(r.status == 0);
        return nlohmann::json::parse(r.output);
    }
};

// Display column of byte offset `at` in a line of precomposed Latin text: one column a code point
// (what a terminal shows for "Hộp thư/Đã gửi"; byte padding would shift it by 7).
std::size_t display_column(const std::string& line, std::size_t at) {
    std::size_t col = 0;
    for (std::size_t i = 0; i < at && i < line.size(); ++i)
        if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) ++col;
    return col;
}

const nlohmann::json& find(const nlohmann::json& arr, const std::string& account,
                           const std::string& folder = "") {
    for (const auto& x : arr)
        if (x.at("account") == account && (folder.empty() || x.at("folder") == folder)) return x;
    FAIL("no row for " + account + " " + folder);
    static nlohmann::json none;
    return none;
}

}  // namespace

TEST_CASE("status: after two syncs every account and folder shows the second one",
          "[integration][status]") {
    imap_and_pop3 t;
    t.env->sync();
    const auto first = t.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    const auto before_second = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
    t.env->sync();  // nothing new: IMAP folders are unchanged, the POP3 maildrop too
    const auto second = t.status();
    for (const char* acct : {"alice", "carol"}) {
        INFO(acct);
        const auto& a = find(second.at("accounts"), acct);
        REQUIRE(a.at("last_completed_sync").is_number());
        CHECK(a.at("last_completed_sync").get<std::int64_t>() >= before_second);
    }
    for (const auto& f : second.at("folders")) {
        INFO(f.dump());
        REQUIRE(f.at("last_synced").is_number());
        CHECK(f.at("last_synced").get<std::int64_t>() >= before_second);
    }
    CHECK(first.at("folders").size() == second.at("folders").size());
}

TEST_CASE("status: human sizes by default, --bytes exact, columns aligned by display width",
          "[integration][status]") {
    imap_and_pop3 t;
    t.env->sync();
    auto human = t.env->cli({"status"});
    REQUIRE(human.status == 0);
    CHECK(human.output.find(" KiB") != std::string::npos);
    auto exact = t.env->cli({"status", "--bytes"});
    REQUIRE(exact.status == 0);
    CHECK(exact.output.find(" KiB") == std::string::npos);
    // Every table line has its LAST SYNC column at the same display column, whatever the
    // script of the folder name before it.
    std::istringstream lines(human.output);
    std::string header;
    std::getline(lines, header);
    const auto col = display_column(header, header.find("LAST SYNC"));
    int rows = 0;
    bool vietnamese = false;
    for (std::string line; std::getline(lines, line) && !line.empty();) {
        ++rows;
        vietnamese = vietnamese || line.find("Hộp thư/Đã gửi") != std::string::npos;
        // The LAST SYNC cell is the last "YYYY-MM-DD HH:MM:SS" of the line.
        REQUIRE(line.size() > 19);
        CHECK(display_column(line, line.size() - 19) == col);
    }
    CHECK(rows == 3);
    CHECK(vietnamese);
}

TEST_CASE("sync: a first sync that fails for every account leaves no archive behind",
          "[integration][status]") {
    imap_and_pop3 t;
    t.env->write_config({{"alice", "alice", "wrong-pw", "imap", "starttls", ""},
                         {"carol", "carol", "wrong-too", "pop3", "starttls", ""}});
    auto r = t.env->cli({"sync"});
    CHECK(r.status == 4);
    CHECK_FALSE(std::filesystem::exists(t.env->archive_path()));
    // One account right, one wrong: the archive stays, exit 1 (partial).
    t.env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""},
                         {"carol", "carol", "wrong-too", "pop3", "starttls", ""}});
    r = t.env->cli({"sync"});
    CHECK(r.status == 1);
    CHECK(std::filesystem::exists(t.env->archive_path()));
}

TEST_CASE("cli: command groups list their subcommands, every command takes --help, --version",
          "[integration][cli]") {
    for (std::string group : {"audit", "hold", "config", "debug"}) {
        INFO(group);
        auto bare = run_command({MV_CLI_PATH, group});
        CHECK(bare.status == 2);
        CHECK(bare.errors.find("Subcommands:") != std::string::npos);
        auto help = run_command({MV_CLI_PATH, group, "--help"});
        CHECK(help.status == 0);
        CHECK(help.output.find("mailvault " + group + " ") != std::string::npos);
        auto wrong = run_command({MV_CLI_PATH, group, "nonsense"});
        CHECK(wrong.status == 2);
        CHECK(wrong.errors.find("run `mailvault " + group + "` for its subcommands") !=
              std::string::npos);
    }
    auto h = run_command({MV_CLI_PATH, "debug", "parse-imap", "--help"});
    CHECK(h.status == 0);
    CHECK(h.output.find("mailvault debug parse-imap FILE") != std::string::npos);
    auto v = run_command({MV_CLI_PATH, "--version"});
    CHECK(v.status == 0);
    CHECK(v.output.rfind("mailvault ", 0) == 0);
}

TEST_CASE("sync: a --folder pattern that matches nothing warns and exits 1", "[integration][cli]") {
    imap_and_pop3 t;
    auto r = t.env->cli({"sync", "--folder", "Inbox/Typo"});
    CHECK(r.status == 1);
    CHECK(r.errors.find("--folder 'Inbox/Typo' matched no folder") != std::string::npos);
    r = t.env->cli({"sync", "--folder", "INBOX"});
    CHECK(r.status == 0);
    CHECK(r.errors.find("matched no folder") == std::string::npos);
}

TEST_CASE("logging: log_level is honoured, -v and --log-file add detail, no password anywhere",
          "[integration][cli][log]") {
    imap_and_pop3 t;
    // The config's log_level = "warn": no per-folder info lines on stderr.
    auto cfg = read_file(t.env->config_path());
    write_file(t.env->config_path(), "log_level = \"warn\"\n" + cfg);
    auto quiet = t.env->cli({"sync"});
    REQUIRE(quiet.status == 0);
    CHECK(quiet.errors.find("INBOX") == std::string::npos);
    // -v wins over the file: debug lines; --log-file gets them with timestamps, mode 0600.
    const auto log = t.env->dir().path() / "mv.log";
    auto verbose = t.env->cli({"-v", "sync", "--log-file", log.string()});
    REQUIRE(verbose.status == 0);
    CHECK(verbose.errors.find("logged in as alice") != std::string::npos);
    const auto text = read_file(log);
    CHECK(text.find(" debug [") != std::string::npos);
    CHECK(text.find("logged in as carol") == std::string::npos);  // POP3: no IMAP login line
    CHECK(text.find("logged in as alice") != std::string::npos);
    for (const char* secret : {"alice-pw", "carol-pw"}) {
        CHECK(text.find(secret) == std::string::npos);
        CHECK(verbose.errors.find(secret) == std::string::npos);
    }
    CHECK((std::filesystem::status(log).permissions() & std::filesystem::perms::all) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    auto bad = t.env->cli({"sync", "--log-level", "loud"});
    CHECK(bad.status == 2);
    CHECK(bad.errors.find("--log-level 'loud' is not a level") != std::string::npos);
}

TEST_CASE("folders: every server folder with its counts and whether sync takes it",
          "[integration][cli][folders]") {
    imap_and_pop3 t;
    t.env->write_config(
        {{"alice", "alice", "alice-pw", "imap", "starttls", "folders = [\"INBOX\"]\n"},
         {"carol", "carol", "carol-pw", "pop3", "starttls", ""}});
    auto r = t.env->cli({"folders", "--json"});
    REQUIRE(r.status == 0);
    const auto j = nlohmann::json::parse(r.output);
    const auto& inbox = find(j, "alice", "INBOX");
    CHECK(inbox.at("messages") == corpus_messages("mikel-mail/emails/plain_emails").size());
    CHECK(inbox.at("unseen").is_number());
    CHECK(inbox.at("synced") == true);
    const auto& viet = find(j, "alice", "Hộp thư/Đã gửi");
    CHECK(viet.at("messages") == corpus_messages("mikel-mail/emails/rfc2822").size());
    CHECK(viet.at("synced") == false);                          // not under folders = ["INBOX"]
    for (const auto& x : j) CHECK(x.at("account") == "alice");  // default: IMAP accounts
    auto both = t.env->cli({"folders", "--json", "--account", "carol", "--account", "alice"});
    REQUIRE(both.status == 0);
    CHECK(find(nlohmann::json::parse(both.output), "carol").at("pop3") == true);
    // Nothing was written: no archive.
    CHECK_FALSE(std::filesystem::exists(t.env->archive_path()));
    auto table = t.env->cli({"folders", "--account", "alice"});
    REQUIRE(table.status == 0);
    CHECK(table.output.find("Hộp thư/Đã gửi") != std::string::npos);
    CHECK(table.output.find("carol") == std::string::npos);
}

TEST_CASE("sync: Ctrl-C keeps what is committed, exits 130, and the next run completes",
          "[integration][cli][interrupt]") {
    temp_dir seed{"mailvault-seed"};
    constexpr int total = 400;
    for (int i = 1; i <= total; ++i)
        write_file(seed.path() / ("m" + std::to_string(i) + ".eml"),
                   "From: a@example.org\r\nTo: b@example.org\r\nSubject: message " +
                       std::to_string(i) + "\r\nMessage-ID: <" + std::to_string(i) +
                       "@interrupt.test>\r\n\r\nbody " + std::to_string(i) + "\r\n");
    testbed_options o;
    o.users = {{"alice", "alice-pw", seed.path().string()}};
    testbed tb(o);
    sync_env env(tb, MV_CLI_PATH);
    env.write_config({{"alice", "alice", "alice-pw", "imap", "starttls", "connections = 1\n"}});
    // SIGINT at the third durable step (a batch commit of 25 messages): as if Ctrl-C there.
    auto r =
        run_command({MV_CLI_PATH, "sync", "--config", env.config_path(), "--batch-messages", "25"},
                    "", {{"MAILVAULT_SIGNAL_AT", "3"}});
    CHECK(r.status == 130);
    CHECK(r.errors.find("interrupted: ") != std::string::npos);
    CHECK(r.errors.find("run `mailvault sync` again") != std::string::npos);
    std::size_t kept = 0;
    {
        auto a = env.open_archive();
        a->for_each_located_entry({}, [&](const mv::archive::located_entry& e) {
            std::string bytes;
            CHECK_FALSE(a->read_content(e.entry.content, bytes));
            ++kept;
        });
        CHECK(a->verify().ok());
    }
    CHECK(kept >= 25);
    CHECK(kept < static_cast<std::size_t>(total));
    // The next run fetches the rest and no message twice.
    auto s = env.sync();
    CHECK(folder_report(s, "alice", "INBOX").at("new_messages").get<std::size_t>() == total - kept);
    auto a = env.open_archive();
    CHECK(check_mirror(*a, tb, "alice", "alice", "INBOX") == total);
}
