// Export to Maildir / mboxrd / eml, and the streaming mboxrd quoter split at every byte.
#include <stdlib.h>

#include <catch2/catch.hpp>

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
