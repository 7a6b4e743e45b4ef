// `mailvault import` end to end (docs/import.md): a generated mbsync/OfflineIMAP Maildir tree
// (Maildir++ and nested folders, flags, Dovecot keywords, mtimes), a Google Takeout mbox with
// X-Gmail-Labels, a Thunderbird profile with X-Mozilla-Status, a folder of .eml from the
// corpora; reruns add nothing; a kill at every batch commit, then a rerun, leaves each message
// exactly once; a message over the stream threshold; schema 12 migrating an archive of schema
// 11 with data in it; the imported mail seen by status, index/search, show, export, verify and
// serve; a Maildir import restored into the Dovecot test bed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "archive/archive.hpp"
#include "archive/hash.hpp"
#include "archive/schema_embedded.hpp"
#include "harness/local.hpp"
#include "harness/sync_env.hpp"

using namespace mv::test;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& p, const std::string& data, std::int64_t mtime = 0) {
    fs::create_directories(p.parent_path());
    write_file(p, data);
    if (mtime) {
        struct utimbuf t {
            static_cast<time_t>(mtime), static_cast<time_t>(mtime)
        };
        REQUIRE(::utime(p.c_str(), &t) == 0);
    }
}

run_result import(const fs::path& archive, std::vector<std::string> args,
                  const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv = {MV_CLI_PATH, "import", "--archive", archive.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, "", env);
}

run_result cli(const fs::path& archive, std::vector<std::string> args) {
    std::vector<std::string> argv = {MV_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--archive");
    argv.push_back(archive.string());
    return run_command(argv);
}

// GET path from 127.0.0.1:port; the whole answer (headers and body).
std::string http_get(std::uint16_t port, const std::string& path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    REQUIRE(::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

// `mailvault serve` on a free loopback port: its answer to one GET, then SIGTERM.
std::string serve_get(const fs::path& db, const fs::path& log, const std::string& path) {
    write_file(log, "");
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_TRUNC);
        ::dup2(fd, 2);
        std::vector<std::string> args = {MV_CLI_PATH, "serve",    "--archive",
                                         db.string(), "--listen", "127.0.0.1:0"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    std::uint16_t port = 0;
    const std::regex re("listening on http://127\\.0\\.0\\.1:([0-9]+)/");
    for (int i = 0; i < 400 && port == 0; ++i) {
        std::smatch m;
        const std::string text = read_file(log);
        if (std::regex_search(text, m, re))
            port = static_cast<std::uint16_t>(std::stoi(m[1]));
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string page;
    if (port) page = http_get(port, path);
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    REQUIRE(port != 0);
    return page;
}

struct archived {
    std::string bytes, flags;
    std::optional<std::int64_t> internaldate;
    std::string uidl;
    std::int64_t entry_id = 0;
};

// folder -> entries (live, current generation) of one account, with their bytes.
std::map<std::string, std::vector<archived>> contents_of(const fs::path& db,
                                                         const std::string& account) {
    mv::archive::archive a(db);
    std::map<std::string, std::vector<archived>> out;
    auto aid = a.find_account(account);
    REQUIRE(aid);
    for (const auto& m : a.mailboxes(*aid)) {
        auto& v = out[m.name];
        for (const auto& e : a.list_entries(m.id)) {
            archived x;
            REQUIRE_FALSE(a.read_content(e.content, x.bytes));
            x.flags = e.flags;
            x.internaldate = e.internaldate;
            x.uidl = e.uidl.value_or("");
            x.entry_id = e.id;
            v.push_back(std::move(x));
        }
    }
    return out;
}

std::size_t total(const std::map<std::string, std::vector<archived>>& c) {
    std::size_t n = 0;
    for (auto& [f, v] : c) n += v.size();
    return n;
}

std::string msg(const std::string& subject, const std::string& body = "hello\n",
                const std::string& extra = "") {
    return "From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: " + subject +
           "\nMessage-ID: <" + subject + "@example.org>\nDate: Fri, 26 Sep 2025 10:18:40 -0700\n" +
           extra + "\n" + body;
}

// An mbsync / OfflineIMAP style tree: INBOX at the top (cur/, new/), Maildir++ .Sent and
// .Work.Project, a nested (SubFolders Verbatim) Archive/2024, and Dovecot keywords.
struct maildir_tree {
    temp_dir dir{"mailvault-import"};
    fs::path root = dir / "Mail";
    std::map<std::string, std::string> files;  // relative path -> bytes

    void add(const std::string& rel, const std::string& bytes, std::int64_t mtime) {
        put(root / rel, bytes, mtime);
        files[rel] = bytes;
    }
    maildir_tree() {
        fs::create_directories(root / "tmp");
        add("cur/1700000001.M1P1.host:2,S", msg("seen"), 1700000001);
        add("cur/1700000002.M2P1.host:2,FRa", msg("flagged"), 1700000002);
        add("new/1700000003.M3P1.host", msg("new"), 1700000003);
        put(root / "dovecot-keywords", "0 $Work\n");
        add(".Sent/cur/1700000004.M4P1.host:2,S", msg("sent"), 1700000004);
        add(".Work.Project/new/1700000005.M5P1.host", msg("project"), 1700000005);
        add("Archive/2024/cur/1700000006.M6P1.host:2,ST", msg("old"), 1700000006);
        // The same bytes as INBOX's first message: stored once.
        add("Archive/2024/cur/1700000007.M7P1.host:2,S", msg("seen"), 1700000007);
        put(root / "tmp/1700000009.M9P1.host", msg("being delivered"));
    }
};

}  // namespace

TEST_CASE("import: a Maildir tree, flags and dates, a rerun adds nothing", "[import]") {
    maildir_tree t;
    const fs::path db = t.dir / "a.mvault";
    {
        // The "seen" message is already archived from IMAP: the import stores it no second time.
        mv::archive::options o;
        o.create = true;
        mv::archive::archive a(db, o);
        const auto bytes = msg("seen");
        auto put = a.put_content(bytes);
        auto imap = a.upsert_account({"work", "imap", "imap.example.org", "alice"});
        auto inbox = a.upsert_mailbox({imap, "INBOX", "INBOX", "/", std::nullopt});
        a.set_watermarks(inbox.id, {9, std::nullopt, std::nullopt, std::nullopt});
        mv::archive::entry_record e;
        e.mailbox_id = inbox.id;
        e.uid = 1;
        e.size = bytes.size();
        e.content = put.hash;
        a.upsert_entry(e);
    }
    auto r = import(db, {"--account", "old-mail", "--format", "maildir", t.root.string()});
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    CHECK(r.output.find("old-mail: 7 new messages") != std::string::npos);

    auto c = contents_of(db, "old-mail");
    CHECK(c.size() == 4);  // Archive itself is no Maildir: no folder
    REQUIRE(c["INBOX"].size() == 3);
    REQUIRE(c["Sent"].size() == 1);
    REQUIRE(c["Work/Project"].size() == 1);
    REQUIRE(c["Archive/2024"].size() == 2);
    std::map<std::string, archived> by_key;
    for (auto& [f, v] : c)
        for (auto& e : v) by_key[e.uidl] = e;
    CHECK(by_key["1700000001.M1P1.host"].flags == "\\Seen");
    CHECK(by_key["1700000002.M2P1.host"].flags == "$Work \\Answered \\Flagged");
    CHECK(by_key["1700000003.M3P1.host"].flags == "");
    CHECK(by_key["1700000006.M6P1.host"].flags == "\\Deleted \\Seen");
    CHECK(by_key["1700000005.M5P1.host"].internaldate == 1700000005);
    CHECK(by_key["1700000002.M2P1.host"].bytes == t.files["cur/1700000002.M2P1.host:2,FRa"]);
    {
        mv::archive::archive a(db);
        CHECK(a.totals().contents == 6);  // "seen" twice and from IMAP, stored once
        std::map<std::string, std::string> protocols;
        for (auto& [id, info] : a.accounts()) protocols[info.name] = info.protocol;
        CHECK(protocols ==
              std::map<std::string, std::string>{{"old-mail", "import"}, {"work", "imap"}});
    }

    // Rerun: nothing new. Then a client marks a message read (renames it): flags follow.
    auto again = import(db, {"--account", "old-mail", "--format", "maildir", t.root.string()});
    CHECK(again.status == 0);
    CHECK(again.output.find("old-mail: 0 new messages (0 B), 7 already present") !=
          std::string::npos);
    fs::create_directories(t.root / "cur");
    fs::rename(t.root / "new/1700000003.M3P1.host", t.root / "cur/1700000003.M3P1.host:2,RS");
    CHECK(import(db, {"--account", "old-mail", "--format", "maildir", t.root.string()}).status ==
          0);
    auto c2 = contents_of(db, "old-mail");
    CHECK(total(c2) == 7);
    for (auto& e : c2["INBOX"])
        if (e.uidl == "1700000003.M3P1.host") CHECK(e.flags == "\\Answered \\Seen");
}

TEST_CASE("import: an OfflineIMAP account directory, one Maildir per folder", "[import]") {
    temp_dir dir{"mailvault-import"};
    const fs::path root = dir / "OfflineIMAP/Account";
    put(root / "INBOX/cur/1.M1.h:2,S", msg("in"), 1700000001);
    put(root / "INBOX.Drafts/cur/2.M2.h:2,D", msg("draft"), 1700000002);
    put(root / "[Gmail].Sent Mail/new/3.M3.h", msg("sent"), 1700000003);
    fs::create_directories(root / "INBOX/tmp");
    const fs::path db = dir / "a.mvault";
    auto r =
        import(db, {"--account", "oi", "--format", "maildir", "--folder", "Old", root.string()});
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    auto c = contents_of(db, "oi");
    // Not a Maildir at the top: its directories are the folders, names kept verbatim.
    CHECK(c.size() == 3);
    CHECK(c["Old/INBOX"].size() == 1);
    CHECK(c["Old/INBOX.Drafts"].size() == 1);
    CHECK(c["Old/[Gmail].Sent Mail"].size() == 1);
    CHECK(c["Old/INBOX.Drafts"][0].flags == "\\Draft");
}

TEST_CASE("import: imported mail in status, search, show, export, verify and serve", "[import]") {
    maildir_tree t;
    const fs::path db = t.dir / "a.mvault";
    REQUIRE(import(db, {"--account", "old-mail", "--format", "maildir", t.root.string()}).status ==
            0);
    auto st = cli(db, {"status"});
    INFO(st.output << st.errors);
    CHECK(st.status == 0);
    CHECK(st.output.find("old-mail") != std::string::npos);
    CHECK(st.output.find("Work/Project") != std::string::npos);

    CHECK(cli(db, {"index"}).status == 0);
    auto s = cli(db, {"search", "subject:project"});
    INFO(s.output << s.errors);
    CHECK(s.status == 0);
    CHECK(s.output.find("old-mail/Work/Project") != std::string::npos);

    auto sh = cli(db, {"show", "--account", "old-mail", "--uidl", "1700000005.M5P1.host"});
    INFO(sh.output << sh.errors);
    CHECK(sh.status == 0);
    CHECK(sh.output.find("project") != std::string::npos);

    const fs::path out = t.dir / "export";
    auto ex =
        cli(db, {"export", "--account", "old-mail", "--format", "maildir", "--out", out.string()});
    INFO(ex.output << ex.errors);
    CHECK(ex.status == 0);
    std::size_t exported = 0;
    for (auto& e : fs::recursive_directory_iterator(out))
        if (e.is_regular_file()) ++exported;
    CHECK(exported >= 7);

    auto v = cli(db, {"verify"});
    INFO(v.output << v.errors);
    CHECK(v.status == 0);

    fs::permissions(t.dir.path(), fs::perms::owner_all, fs::perm_options::replace);
    const auto page = serve_get(db, t.dir / "serve.log", "/search?q=subject%3Aproject");
    CHECK(page.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(page.find("old-mail") != std::string::npos);
    CHECK(page.find("project") != std::string::npos);
}

TEST_CASE("import: a Google Takeout mbox, labels to folders and gmail_entries", "[import]") {
    temp_dir dir{"mailvault-import"};
    const fs::path mbox = dir / "Takeout/Mail/All mail Including Spam and Trash.mbox";
    const std::string m1 =
        msg("labelled", "From here on, quoted\n",
            "X-GM-THRID: 1\nX-Gmail-Labels: Inbox,Important,\"Work, old\",Opened\n");
    const std::string m2 = msg("unread", "hi\n", "X-Gmail-Labels: Sent,Unread,Category Updates\n");
    const std::string m3 = msg("trashed", "bye\n", "X-Gmail-Labels: Trash,Inbox,Opened\n");
    const std::string m1_quoted = msg("labelled", ">From here on, quoted\n",
                                      "X-GM-THRID: 1\nX-Gmail-Labels: Inbox,Important,\"Work, "
                                      "old\",Opened\n");
    put(mbox, "From 1844347792267117879@xxx Sat Jan 04 12:34:56 +0000 2020\n" + m1_quoted +
                  "\nFrom 1844347839636459560@xxx Sun Jan 05 00:00:00 +0000 2020\n" + m2 +
                  "\nFrom 1844347839636459561@xxx\n" + m3 + "\n");
    const fs::path db = dir / "a.mvault";
    auto r = import(db, {"--account", "takeout", "--format", "mbox", mbox.string()});
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    auto c = contents_of(db, "takeout");
    REQUIRE(c["[Gmail]/All Mail"].size() == 2);
    REQUIRE(c["INBOX"].size() == 1);
    REQUIRE(c["[Gmail]/Important"].size() == 1);
    REQUIRE(c["Work, old"].size() == 1);
    REQUIRE(c["[Gmail]/Sent Mail"].size() == 1);
    REQUIRE(c["[Gmail]/Trash"].size() == 1);
    CHECK(c["INBOX"][0].bytes == m1);  // envelope removed, >From unquoted
    CHECK(c["INBOX"][0].flags == "\\Seen");
    CHECK(c["INBOX"][0].internaldate == 1578141296);
    CHECK(c["[Gmail]/Sent Mail"][0].flags == "");
    CHECK(c["[Gmail]/Trash"][0].internaldate == 1758907120);  // no envelope date: Date:
    mv::archive::archive a(db);
    auto g = a.gmail_of(c["INBOX"][0].entry_id);
    REQUIRE(g);
    CHECK(g->labels == std::vector<std::string>{"\\Inbox", "\\Important", "Work, old"});
    auto aid = a.find_account("takeout");
    auto all = a.find_mailbox(*aid, "[Gmail]/All Mail");
    REQUIRE(all);
    CHECK(all->special_use == "\\All");
    CHECK(a.totals().contents == 3);
}

TEST_CASE("import: a Thunderbird profile with X-Mozilla-Status", "[import]") {
    temp_dir dir{"mailvault-import"};
    const fs::path prof = dir / "Local Folders";
    put(prof / "Inbox", "From - Mon Jun  3 12:50:27 1996\n" +
                            msg("read", "From Russia with love\n",
                                "X-Mozilla-Status: 0001\nX-Mozilla-Keys: todo\n") +
                            "\nFrom - Tue Jun  4 12:50:27 1996\n" +
                            msg("replied", "x\n", "X-Mozilla-Status: 1003\n") + "\n");
    put(prof / "Inbox.msf", "// mork index, not mail\n");
    put(prof / "Inbox.sbd/Project",
        "From - Wed Jun  5 12:50:27 1996\n" + msg("sub", "y\n", "X-Mozilla-Status: 0004\n"));
    put(prof / "Trash", "");
    const fs::path db = dir / "a.mvault";
    auto r = import(db, {"--account", "tb", "--format", "mbox", prof.string()});
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    auto c = contents_of(db, "tb");
    CHECK(c.size() == 2);
    REQUIRE(c["Inbox"].size() == 2);
    REQUIRE(c["Inbox/Project"].size() == 1);
    // Entries of a folder are keyed (and listed) by content hash: find them by subject.
    std::map<std::string, archived> by_subject;
    for (auto& e : c["Inbox"])
        by_subject[e.bytes.find("Subject: read") != std::string::npos ? "read" : "replied"] = e;
    CHECK(by_subject["read"].flags == "\\Seen todo");
    CHECK(by_subject["read"].bytes.find("\n\nFrom Russia with love\n") != std::string::npos);
    CHECK(by_subject["read"].internaldate == 833806227);
    CHECK(by_subject["replied"].flags == "$Forwarded \\Answered \\Seen");
    CHECK(c["Inbox/Project"][0].flags == "\\Flagged");
}

TEST_CASE("import: a folder of .eml, a file that is no message is skipped", "[import]") {
    temp_dir dir{"mailvault-import"};
    const fs::path src = dir / "eml";
    std::vector<std::string> files;
    for (const auto& p : corpus_messages("mikel-mail/emails/plain_emails")) {
        files.push_back(p);
        if (files.size() == 3) break;
    }
    REQUIRE(files.size() == 3);
    for (std::size_t i = 0; i < files.size(); ++i)
        put(src / (i == 2 ? "Work" : "") / fs::path(files[i]).filename(), read_file(files[i]),
            1600000000 + static_cast<std::int64_t>(i));
    put(src / "Work/notes.eml", "just some text, not a message\n");
    put(src / "Work/readme.txt", "ignored: not .eml\n");
    const fs::path db = dir / "a.mvault";
    auto r = import(db, {"--account", "eml", "--format", "eml", src.string()});
    INFO(r.output << r.errors);
    CHECK(r.status == 1);
    CHECK(r.errors.find("skipped " + (src / "Work/notes.eml").string() + ": not a message") !=
          std::string::npos);
    auto c = contents_of(db, "eml");
    REQUIRE(c["INBOX"].size() == 2);
    REQUIRE(c["Work"].size() == 1);
    CHECK(c["Work"][0].bytes == read_file(files[2]));  // byte-exact (CRLF kept)
    CHECK(c["Work"][0].internaldate == 1600000002);

    // --folder: everything into one folder; identical bytes in one folder are one entry each
    // time they occur, and a rerun finds them.
    auto one =
        import(db, {"--account", "eml2", "--format", "eml", "--folder", "Old", files[0], files[1]});
    CHECK(one.status == 0);
    auto c2 = contents_of(db, "eml2");
    CHECK(c2["Old"].size() == 2);
    CHECK(
        import(db, {"--account", "eml2", "--format", "eml", "--folder", "Old", files[0], files[1]})
            .output.find("0 new messages") != std::string::npos);
    mv::archive::archive a(db);
    CHECK(a.totals().contents == 3);  // eml2 stored nothing new
}

TEST_CASE("import: usage errors exit 2", "[import]") {
    temp_dir dir{"mailvault-import"};
    const fs::path db = dir / "a.mvault";
    CHECK(import(db, {"--account", "x", dir.path().string()}).status == 2);
    CHECK(import(db, {"--account", "x", "--format", "pst", dir.path().string()}).status == 2);
    CHECK(import(db, {"--format", "eml", dir.path().string()}).status == 2);
    auto missing = import(db, {"--account", "x", "--format", "eml", (dir / "nope").string()});
    CHECK(missing.status == 2);
    CHECK(missing.errors.find("does not exist") != std::string::npos);
    {
        mv::archive::options o;
        o.create = true;
        mv::archive::archive a(db, o);
        a.upsert_account({"work", "imap", "imap.example.org", "alice"});
    }
    put(dir / "m.eml", msg("x"));
    auto clash = import(db, {"--account", "work", "--format", "eml", (dir / "m.eml").string()});
    CHECK(clash.status == 2);
    CHECK(clash.errors.find("imap account named work") != std::string::npos);
}

TEST_CASE("import: a message over the stream threshold, mbox streamed", "[import]") {
    temp_dir dir{"mailvault-import"};
    std::string big = "Subject: big\nFrom: a@example.org\n\n";
    for (int i = 0; big.size() < (6u << 20); ++i)
        big += "line " + std::to_string(i) + " of a long message\n";
    const fs::path mbox = dir / "big.mbox";
    put(mbox, "From a@example.org Sat Jan  4 12:34:56 2020\n" + msg("small") +
                  "\nFrom a@example.org Sat Jan  4 12:34:57 2020\n" + big +
                  "\nFrom a@example.org Sat Jan  4 12:34:58 2020\n" + msg("after") + "\n");
    const fs::path db = dir / "a.mvault";
    auto r = import(db, {"--account", "big", "--format", "mbox", mbox.string()});
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    auto c = contents_of(db, "big");
    REQUIRE(c["big"].size() == 3);
    std::set<std::string> got;
    for (auto& e : c["big"]) got.insert(mv::archive::sha256_of(e.bytes).hex());
    CHECK(got.count(mv::archive::sha256_of(big).hex()) == 1);
    CHECK(got.count(mv::archive::sha256_of(msg("after")).hex()) == 1);
    CHECK(import(db, {"--account", "big", "--format", "mbox", mbox.string()})
              .output.find("0 new messages") != std::string::npos);
}

TEST_CASE("import: a kill at every batch commit, then a rerun, no duplicate and no gap",
          "[import]") {
    temp_dir dir{"mailvault-import"};
    std::string mbox;
    std::set<std::string> expected;
    for (int i = 0; i < 7; ++i) {
        const auto m = msg("crash" + std::to_string(i));
        expected.insert(mv::archive::sha256_of(m).hex());
        mbox += "From a@example.org Sat Jan  4 12:34:5" + std::to_string(i) + " 2020\n" + m + "\n";
    }
    put(dir / "in.mbox", mbox);
    for (int n = 1;; ++n) {
        INFO("crash at " << n);
        REQUIRE(n < 20);
        const fs::path db = dir / ("a" + std::to_string(n) + ".mvault");
        const std::vector<std::string> args = {
            "--account", "c", "--format", "mbox", "--batch", "2", (dir / "in.mbox").string()};
        auto crashed = import(db, args, {{"MAILVAULT_CRASH_AT", std::to_string(n)}});
        const bool finished = crashed.status == 0;
        if (!finished) REQUIRE(crashed.status == 86);
        auto rerun = import(db, args);
        REQUIRE(rerun.status == 0);
        auto c = contents_of(db, "c");
        REQUIRE(c["in"].size() == expected.size());
        std::set<std::string> got;
        for (auto& e : c["in"]) got.insert(mv::archive::sha256_of(e.bytes).hex());
        CHECK(got == expected);
        CHECK(cli(db, {"verify"}).status == 0);
        if (finished) break;
    }
}

TEST_CASE("import: schema 12 migrates an archive of schema 11 with data in it", "[import]") {
    temp_dir dir{"mailvault-import"};
    const fs::path db = dir / "old.mvault";
    std::string sql;
    for (const auto& m : mv::archive::embedded_migrations())
        if (m.version <= 11) sql += std::string(m.sql) + ";\n";
    sql +=
        "PRAGMA user_version = 11; PRAGMA application_id = 1297501268;"
        "INSERT INTO accounts VALUES (1, 'work', 'imap', 'h', 'u', 5), (2, 'home', 'pop3', "
        "'p', 'v', 6);"
        "INSERT INTO mailboxes (id, account_id, wire_name, name) VALUES (10, 1, 'INBOX', "
        "'INBOX'), (11, 2, 'INBOX', 'INBOX');"
        "INSERT INTO sync_runs (account_id, started_at, status) VALUES (1, 7, 'ok');"
        "INSERT INTO legal_holds (account_id, mailbox_id, reason, added_at) VALUES (1, 10, "
        "'court', 8);";
    sql_exec(db, "PRAGMA foreign_keys = ON;" + sql);
    {
        mv::archive::archive a(db);
        CHECK(a.user_version() == mv::archive::archive::schema_version());
        std::map<std::string, std::pair<std::int64_t, std::string>> accts;
        for (auto& [id, info] : a.accounts()) accts[info.name] = {id, info.protocol};
        REQUIRE(accts.size() == 2);
        CHECK(accts["work"] == std::pair<std::int64_t, std::string>{1, "imap"});
        CHECK(accts["home"] == std::pair<std::int64_t, std::string>{2, "pop3"});
        CHECK(a.mailboxes(1).size() == 1);
        CHECK(a.holds().size() == 1);
        mv::archive::transaction tx(a);
        CHECK(a.upsert_account({"old", "import", "/mail", ""}) == 3);
        tx.commit();
        CHECK(a.verify().ok());
    }
    // Foreign keys still hold after the rebuild, and no violation was left behind.
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    sqlite3_exec(h, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
    CHECK(sqlite3_exec(h,
                       "INSERT INTO mailboxes (account_id, wire_name, name) VALUES (99, 'x', "
                       "'x')",
                       nullptr, nullptr, nullptr) == SQLITE_CONSTRAINT);
    CHECK(sqlite3_exec(h, "DELETE FROM accounts WHERE id = 1", nullptr, nullptr, nullptr) ==
          SQLITE_CONSTRAINT);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, "PRAGMA foreign_key_check", -1, &s, nullptr) == SQLITE_OK);
    CHECK(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
    CHECK(sqlite3_exec(h,
                       "INSERT INTO accounts (name, protocol, host, username, created_at) "
                       "VALUES ('bad', 'smtp', 'h', 'u', 1)",
                       nullptr, nullptr, nullptr) == SQLITE_CONSTRAINT);
    sqlite3_close(h);
}

TEST_CASE("import: a Maildir import restored into Dovecot", "[import][restore]") {
    temp_dir seed{"mailvault-seed"};
    testbed_options o;
    o.users = {{"bob", "bob-pw", seed.path().string()}};
    testbed tb(o);
    sync_env env(tb, MV_CLI_PATH);
    env.write_config({{"bob", "bob", "bob-pw", "imap", "starttls", ""}});
    // CRLF messages: what Dovecot serves is then byte for byte what was imported.
    temp_dir src{"mailvault-import"};
    std::map<std::string, std::multiset<std::string>> want;
    auto crlf_msg = [](const std::string& s) { return crlf(msg(s)); };
    const std::vector<std::tuple<std::string, std::string, std::string>> files = {
        {"INBOX", "cur/1700000001.M1P1.h:2,S", crlf_msg("one")},
        {"INBOX", "new/1700000002.M2P1.h", crlf_msg("two")},
        {"Lists/Dev", ".Lists.Dev/cur/1700000003.M3P1.h:2,FS", crlf_msg("three")}};
    for (auto& [folder, rel, bytes] : files) {
        put(src / "Mail" / rel, bytes, 1700000000);
        want[folder].insert(mv::archive::sha256_of(bytes).hex());
    }
    auto r = run_command({MV_CLI_PATH, "import", "--config", env.config_path(), "--account", "old",
                          "--format", "maildir", (src / "Mail").string()});
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    auto rs = env.cli({"restore", "--to", "bob", "--account", "old"});
    INFO(rs.output << rs.errors);
    REQUIRE(rs.status == 0);
    for (auto& [folder, hashes] : want) {
        INFO("folder " << folder);
        std::multiset<std::string> got;
        for (auto& [uid, m] : tb.message_infos("bob", folder)) {
            got.insert(mv::archive::sha256_of(crlf(m.content)).hex());
            CHECK(m.mtime == 1700000000);
        }
        CHECK(got == hashes);
    }
    // A second restore appends nothing.
    auto again = env.cli({"restore", "--to", "bob", "--account", "old"});
    CHECK(again.status == 0);
    std::size_t n = 0;
    for (auto& [folder, hashes] : want) n += tb.message_infos("bob", folder).size();
    CHECK(n == 3);
}
