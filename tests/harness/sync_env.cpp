#include "harness/sync_env.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

namespace mv::test {

namespace fs = std::filesystem;

sync_env::sync_env(testbed& tb, std::string cli_path)
    : tb_(tb), dir_("mailvault-sync"), cli_(std::move(cli_path)) {
    config_ = (dir_.path() / "config.toml").string();
    archive_ = (dir_.path() / "archive.sqlite").string();
}

void sync_env::write_config(const std::vector<account_spec>& accounts,
                            const std::string& extra_top) {
    std::ostringstream t;
    t << "archive = \"" << archive_ << "\"\n" << extra_top << "\n";
    for (const auto& a : accounts) {
        const auto pw = dir_.path() / ("password-" + a.name);
        write_file(pw, a.password + "\n");
        ::chmod(pw.c_str(), 0600);
        const testbed& srv = a.server ? *a.server : tb_;
        std::uint16_t port = 0;
        if (a.protocol == "imap")
            port = a.tls == "implicit" ? srv.imaps_port() : srv.imap_port();
        else
            port = a.tls == "implicit" ? srv.pop3s_port() : srv.pop3_port();
        if (a.port) port = a.port;
        t << "[[account]]\n"
          << "name = \"" << a.name << "\"\n"
          << "protocol = \"" << a.protocol << "\"\n"
          << "host = \"localhost\"\n"
          << "port = " << port << "\n"
          << "tls = \"" << a.tls << "\"\n"
          << "user = \"" << a.user << "\"\n"
          << "password_file = \"" << pw.string() << "\"\n"
          << (a.tls == "plain" ? "" : "ca_file = \"" + srv.ca_file() + "\"\n")
          << "timeout_seconds = 20\n"
          << a.extra << "\n";
    }
    write_file(config_, t.str());
}

void sync_env::expect_complete_against_server() const {
    auto r = cli({"verify", "--against-server"});
    INFO("verify --against-server:\n" << r.output << r.errors);
    CHECK(r.status == 0);
}

run_result sync_env::cli(std::vector<std::string> args) const {
    std::vector<std::string> argv = {cli_};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--config");
    argv.push_back(config_);
    return run_command(argv);
}

nlohmann::json sync_env::sync(std::vector<std::string> args, int expect_status) const {
    args.insert(args.begin(), {"sync", "--json"});
    auto r = cli(args);
    INFO("mailvault sync stderr:\n" << r.errors);
    INFO("stdout:\n" << r.output);
    CHECK(r.status == expect_status);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(r.output));
    return j;
}

std::unique_ptr<archive::archive> sync_env::open_archive() const {
    archive::options o;
    o.read_only = true;
    return std::make_unique<archive::archive>(archive_, o);
}

std::string crlf(std::string_view in) {
    std::string out;
    out.reserve(in.size() + in.size() / 32);
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out.push_back('\r');
        out.push_back(in[i]);
    }
    return out;
}

std::size_t check_mirror(archive::archive& a, const testbed& tb, const std::string& user,
                         const std::string& account, const std::string& folder) {
    INFO("account " << account << ", folder " << folder);
    auto acct = a.find_account(account);
    REQUIRE(acct);
    std::optional<archive::mailbox_state> mbox;
    for (auto& m : a.mailboxes(*acct))
        if (m.name == folder) mbox = m;
    REQUIRE(mbox);
    auto server = tb.message_infos(user, folder);
    CHECK(mbox->uidvalidity == tb.uidvalidity(user, folder));
    std::map<std::uint32_t, archive::entry_view> archived;
    for (auto& e : a.list_entries(mbox->id)) {
        REQUIRE(e.uid);
        if (!e.expunged_at) {
            CHECK(archived.count(*e.uid) == 0);  // no duplicates
            archived[*e.uid] = e;
        }
    }
    CHECK(archived.size() == server.size());
    for (const auto& [uid, info] : server) {
        INFO("uid " << uid);
        auto it = archived.find(uid);
        REQUIRE(it != archived.end());
        std::string bytes;
        REQUIRE_FALSE(a.read_content(it->second.content, bytes));
        // Dovecot serves a Maildir file stored with bare LF line ends as CRLF (IMAP requires
        // it): what the server returned is what the archive must hold.
        const std::string served = crlf(info.content);
        CHECK(bytes.size() == served.size());
        CHECK(bytes == served);
        CHECK(archive::split_flags(it->second.flags) == info.flags);
        CHECK(it->second.internaldate == info.mtime);
    }
    return server.size();
}

std::size_t check_mirror_served(archive::archive& a, const testbed& tb, const std::string& user,
                                const std::string& account, const std::string& folder) {
    INFO("account " << account << ", folder " << folder << " (as served over IMAP)");
    auto acct = a.find_account(account);
    REQUIRE(acct);
    std::optional<archive::mailbox_state> mbox;
    for (auto& m : a.mailboxes(*acct))
        if (m.name == folder) mbox = m;
    REQUIRE(mbox);
    const auto server = tb.served(user, folder);
    CHECK(mbox->uidvalidity == server.uidvalidity);
    std::map<std::uint32_t, archive::entry_view> archived;
    for (auto& e : a.list_entries(mbox->id)) {
        REQUIRE(e.uid);
        if (!e.expunged_at) {
            CHECK(archived.count(*e.uid) == 0);  // no duplicates
            archived[*e.uid] = e;
        }
    }
    CHECK(archived.size() == server.messages.size());
    for (const auto& [uid, info] : server.messages) {
        INFO("uid " << uid);
        auto it = archived.find(uid);
        REQUIRE(it != archived.end());
        std::string bytes;
        REQUIRE_FALSE(a.read_content(it->second.content, bytes));
        CHECK(bytes.size() == info.content.size());
        CHECK(bytes == info.content);  // exactly what BODY.PEEK[] returned
        CHECK(archive::split_flags(it->second.flags) == info.flags);
        CHECK(it->second.internaldate == info.mtime);
    }
    return server.messages.size();
}

nlohmann::json folder_report(const nlohmann::json& summary, const std::string& account,
                             const std::string& folder) {
    for (const auto& a : summary.at("accounts"))
        if (a.at("account") == account)
            for (const auto& f : a.at("folders"))
                if (f.at("name") == folder) return f;
    FAIL("no report for " << account << "/" << folder << " in " << summary.dump());
    return {};
}

void seed_folder(const temp_dir& seed, const std::string& maildir_folder,
                 const std::vector<std::string>& corpus_files) {
    fs::path dir = maildir_folder == "INBOX" ? seed.path() : seed.path() / maildir_folder;
    fs::create_directories(dir);
    int n = 0;
    for (const auto& f : corpus_files) {
        fs::path dst = dir / (std::to_string(++n) + "-" + fs::path(f).filename().string());
        fs::copy_file(f, dst, fs::copy_options::overwrite_existing);
        // Distinct, known dates: INTERNALDATE comes from the file's mtime.
        struct timespec times[2] = {{1600000000 + n * 86400, 0}, {1600000000 + n * 86400, 0}};
        ::utimensat(AT_FDCWD, dst.c_str(), times, 0);
    }
}

std::vector<std::string> corpus_messages(const std::string& fragment) {
    std::vector<std::string> out;
    fs::path root = fs::path(MV_TEST_DATA_DIR) / "corpora";
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (!e.is_regular_file()) continue;
        auto p = e.path().string();
        auto ext = e.path().extension().string();
        if (ext != ".eml" && ext != ".msg") continue;
        if (p.find(fragment) == std::string::npos) continue;
        if (e.file_size() == 0) continue;
        out.push_back(p);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace mv::test
