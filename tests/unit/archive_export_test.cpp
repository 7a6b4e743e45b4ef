// Export to Maildir / mboxrd / eml, and the streaming mboxrd quoter split at every byte.
#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include "harness/testbed.hpp"

#include "archive/export.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

namespace {

using mv::test::temp_dir;  // removed on destruction (MV_KEEP_TMP keeps it)

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("export: mboxrd quoting is the same whatever the split", "[archive][export]") {
    std::string in = "From a\nxFrom b\n>From c\n>>From d\nFro\n>Fr\nFrom\n\nFrom ";
    std::string expected = ">From a\nxFrom b\n>>From c\n>>>From d\nFro\n>Fr\nFrom\n\n>From ";
    for (size_t cut = 0; cut <= in.size(); ++cut) {
        for (size_t cut2 = cut; cut2 <= in.size(); cut2 += 3) {
            mboxrd_quoter q;
            std::string out;
            q.feed(std::string_view(in).substr(0, cut), out);
            q.feed(std::string_view(in).substr(cut, cut2 - cut), out);
            q.feed(std::string_view(in).substr(cut2), out);
            q.finish(out);
            REQUIRE(out == expected);
        }
    }
}

TEST_CASE("export: Maildir flag letters", "[archive][export]") {
    CHECK(maildir_flags("\\Seen \\Answered $Label") == "RS");
    CHECK(maildir_flags("\\Draft \\Deleted \\Flagged $Forwarded") == "DFPT");
    CHECK(maildir_flags("") == "");
}

TEST_CASE("export: maildir, mbox and eml hold the archived bytes", "[archive][export]") {
    temp_dir t;
    options o;
    o.create = true;
    archive a(t.path() / "a.mvault", o);
    auto acc = a.upsert_account({"work", "imap", "h", "u"});
    auto mb = a.upsert_mailbox({acc, "Lists/dev", "Lists/dev", "/", std::nullopt});
    a.set_watermarks(mb.id, {5, std::nullopt, std::nullopt, std::nullopt});
    std::string m1 = "Subject: a\r\n\r\nFrom here\r\n>From there\r\n";
    std::string m2 = "Subject: b\r\n\r\nno newline at end";
    auto h1 = a.put_content(m1).hash;
    auto h2 = a.put_content(m2).hash;
    a.upsert_entry({mb.id,
                    5,
                    1,
                    std::nullopt,
                    {"\\Seen", "\\Flagged"},
                    std::nullopt,
                    1000000000,
                    m1.size(),
                    h1});
    a.upsert_entry({mb.id, 5, 2, std::nullopt, {}, std::nullopt, 1000000001, m2.size(), h2});

    auto st = export_entries(a, {export_format::maildir, t.path() / "md", {}});
    CHECK(st.messages == 2);
    CHECK(st.errors.empty());
    std::vector<fs::path> cur;
    for (auto& e : fs::directory_iterator(t.path() / "md" / "work" / "Lists" / "dev" / "cur"))
        cur.push_back(e.path());
    std::sort(cur.begin(), cur.end());
    REQUIRE(cur.size() == 2);
    CHECK(cur[0].filename().string().find(":2,FS") != std::string::npos);
    CHECK(cur[1].filename().string().substr(cur[1].filename().string().size() - 3) == ":2,");
    CHECK(slurp(cur[0]) == m1);
    CHECK(slurp(cur[1]) == m2);

    st = export_entries(a, {export_format::eml, t.path() / "eml", {std::string("work"), {}, true}});
    CHECK(st.messages == 2);
    CHECK(slurp(t.path() / "eml" / "work" / "Lists" / "dev" / "1_1.eml") == m1);

    st = export_entries(a, {export_format::mbox, t.path() / "mbox", {}});
    CHECK(st.messages == 2);
    std::string box = slurp(t.path() / "mbox" / "work" / "Lists" / "dev.mbox");
    CHECK(box ==
          "From MAILER-DAEMON Sun Sep  9 01:46:40 2001\n"
          "Subject: a\r\n\r\n>From here\r\n>>From there\r\n\n"
          "From MAILER-DAEMON Sun Sep  9 01:46:41 2001\n"
          "Subject: b\r\n\r\nno newline at end\n\n");

    st = export_entries(a,
                        {export_format::eml, t.path() / "none", {std::string("other"), {}, true}});
    CHECK(st.messages == 0);
}

namespace {

// Every regular file below `root`, relative, sorted.
std::vector<std::string> files_below(const fs::path& root) {
    std::vector<std::string> out;
    for (auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("export: names that collide get a suffix instead of overwriting each other",
          "[archive][export]") {
    temp_dir t;
    options o;
    o.create = true;
    archive a(t.path() / "a.mvault", o);
    auto acc = a.upsert_account({"w", "imap", "h", "u"});
    // "a/b" under delimiter "/" is the directory a/b; "a/b" under delimiter "." and "a_b"
    // both map to a_b.
    auto nested = a.upsert_mailbox({acc, "a/b", "a/b", "/", std::nullopt});
    auto slash = a.upsert_mailbox({acc, "x/y", "x/y", ".", std::nullopt});
    auto under = a.upsert_mailbox({acc, "x_y", "x_y", ".", std::nullopt});
    // A folder named like the mbox file of another one.
    auto plain = a.upsert_mailbox({acc, "m", "m", "/", std::nullopt});
    auto mboxish = a.upsert_mailbox({acc, "m.mbox/z", "m.mbox/z", "/", std::nullopt});
    std::vector<std::pair<std::int64_t, std::string>> boxes = {{nested.id, "nested"},
                                                               {slash.id, "slash"},
                                                               {under.id, "under"},
                                                               {plain.id, "plain"},
                                                               {mboxish.id, "mboxish"}};
    for (auto& [id, label] : boxes) {
        a.set_watermarks(id, {7, std::nullopt, std::nullopt, std::nullopt});
        std::string m = "Subject: " + label + "\r\n\r\nbody of " + label + "\r\n";
        auto h = a.put_content(m).hash;
        a.upsert_entry({id, 7, 1, std::nullopt, {}, std::nullopt, 1000, m.size(), h});
    }
    // POP3: UIDLs "u/1" and "u_1" map to the same file name.
    auto pacc = a.upsert_account({"p", "pop3", "h", "u"});
    auto inbox = a.upsert_mailbox({pacc, "INBOX", "INBOX", std::nullopt, std::nullopt});
    for (std::string uidl : {"u/1", "u_1"}) {
        std::string m = "Subject: pop " + uidl + "\r\n\r\nx\r\n";
        auto h = a.put_content(m).hash;
        a.upsert_entry(
            {inbox.id, std::nullopt, std::nullopt, uidl, {}, std::nullopt, 1000, m.size(), h});
    }

    auto st = export_entries(a, {export_format::eml, t.path() / "eml", {}});
    CHECK_FALSE(st.failure);
    CHECK(st.messages == 7);
    CHECK(files_below(t.path() / "eml") ==
          std::vector<std::string>{"p/INBOX/1_u_1.eml", "p/INBOX/1_u_1~2.eml", "w/a/b/1_1.eml",
                                   "w/m.mbox/z/1_1.eml", "w/m/1_1.eml", "w/x_y/1_1.eml",
                                   "w/x_y~2/1_1.eml"});
    CHECK(slurp(t.path() / "eml/w/x_y/1_1.eml").find("body of slash") != std::string::npos);
    CHECK(slurp(t.path() / "eml/w/x_y~2/1_1.eml").find("body of under") != std::string::npos);
    CHECK(slurp(t.path() / "eml/p/INBOX/1_u_1.eml") == "Subject: pop u/1\r\n\r\nx\r\n");
    CHECK(slurp(t.path() / "eml/p/INBOX/1_u_1~2.eml") == "Subject: pop u_1\r\n\r\nx\r\n");

    st = export_entries(a, {export_format::mbox, t.path() / "mbox", {}});
    CHECK(st.messages == 7);
    CHECK(files_below(t.path() / "mbox") ==
          std::vector<std::string>{"p/INBOX.mbox", "w/a/b.mbox", "w/m.mbox", "w/m.mbox~2/z.mbox",
                                   "w/x_y.mbox", "w/x_y~2.mbox"});
    CHECK(slurp(t.path() / "mbox/w/m.mbox").find("body of plain") != std::string::npos);
    CHECK(slurp(t.path() / "mbox/w/m.mbox~2/z.mbox").find("body of mboxish") != std::string::npos);

    st = export_entries(a, {export_format::maildir, t.path() / "md", {}});
    CHECK(st.messages == 7);
    std::size_t n = 0;
    for (auto& f : files_below(t.path() / "md")) n += f.find("/cur/") != std::string::npos;
    CHECK(n == 7);
    CHECK(files_below(t.path() / "md").size() == 7);
}

TEST_CASE("export: files are 0600 and directories 0700 whatever the umask", "[archive][export]") {
    const mode_t old = ::umask(022);
    temp_dir t;
    options o;
    o.create = true;
    archive a(t.path() / "a.mvault", o);
    auto acc = a.upsert_account({"w", "imap", "h", "u"});
    auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
    a.set_watermarks(mb.id, {7, std::nullopt, std::nullopt, std::nullopt});
    std::string m = "Subject: s\r\n\r\nb\r\n";
    auto h = a.put_content(m).hash;
    a.upsert_entry({mb.id, 7, 1, std::nullopt, {}, std::nullopt, 1000, m.size(), h});
    for (auto fmt : {export_format::maildir, export_format::mbox, export_format::eml}) {
        const auto out = t.path() / ("out" + std::to_string(static_cast<int>(fmt)));
        auto st = export_entries(a, {fmt, out, {}});
        CHECK(st.messages == 1);
        struct stat root {};
        REQUIRE(::stat(out.c_str(), &root) == 0);
        CHECK((root.st_mode & 0777) == 0700);
        for (auto& e : fs::recursive_directory_iterator(out)) {
            struct stat s {};
            REQUIRE(::stat(e.path().c_str(), &s) == 0);
            INFO(e.path());
            CHECK((s.st_mode & 0777) == (e.is_directory() ? 0700u : 0600u));
        }
    }
    ::umask(old);
}
