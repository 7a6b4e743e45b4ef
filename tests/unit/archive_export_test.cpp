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

    // Maildir: LF by default; --line-endings crlf keeps the archived bytes.
    for (auto le : {line_endings::lf, line_endings::crlf}) {
        const auto out = t.path() / (le == line_endings::lf ? "md" : "md-crlf");
        export_options eo{export_format::maildir, out, {}};
        if (le == line_endings::crlf) eo.endings = le;
        auto st = export_entries(a, eo);
        CHECK(st.messages == 2);
        CHECK(st.errors.empty());
        std::vector<fs::path> cur;
        for (auto& e : fs::directory_iterator(out / "work" / "Lists" / "dev" / "cur"))
            cur.push_back(e.path());
        std::sort(cur.begin(), cur.end());
        REQUIRE(cur.size() == 2);
        CHECK(cur[0].filename().string() ==
              "1000000000.1_1_" + h1.hex().substr(0, 16) + ".mailvault:2,FS");
        CHECK(cur[1].filename().string().substr(cur[1].filename().string().size() - 3) == ":2,");
        // The arrival date is the file's mtime and atime (looked at before reading the file).
        struct stat s0 {};
        REQUIRE(::stat(cur[0].c_str(), &s0) == 0);
        CHECK(s0.st_mtime == 1000000000);
        CHECK(s0.st_atime == 1000000000);
        REQUIRE(::stat(cur[1].c_str(), &s0) == 0);
        CHECK(s0.st_mtime == 1000000001);
        if (le == line_endings::lf) {
            CHECK(slurp(cur[0]) == "Subject: a\n\nFrom here\n>From there\n");
            CHECK(slurp(cur[1]) == "Subject: b\n\nno newline at end");
        } else {
            CHECK(slurp(cur[0]) == m1);
            CHECK(slurp(cur[1]) == m2);
        }
    }
    export_stats st;

    st = export_entries(a, {export_format::eml, t.path() / "eml", {std::string("work"), {}, true}});
    CHECK(st.messages == 2);
    CHECK(slurp(t.path() / "eml" / "work" / "Lists" / "dev" / "1_1.eml") == m1);

    // eml: unchanged bytes by default, LF on request.
    export_options eo{export_format::eml, t.path() / "eml-lf", {}};
    eo.endings = line_endings::lf;
    st = export_entries(a, eo);
    CHECK(slurp(t.path() / "eml-lf" / "work" / "Lists" / "dev" / "1_1.eml") ==
          "Subject: a\n\nFrom here\n>From there\n");

    st = export_entries(a, {export_format::mbox, t.path() / "mbox", {}});
    CHECK(st.messages == 2);
    std::string box = slurp(t.path() / "mbox" / "work" / "Lists" / "dev.mbox");
    CHECK(box ==
          "From MAILER-DAEMON Sun Sep  9 01:46:40 2001\n"
          "Subject: a\nStatus: RO\nX-Status: F\n\n>From here\n>>From there\n\n"
          "From MAILER-DAEMON Sun Sep  9 01:46:41 2001\n"
          "Subject: b\nStatus: O\n\nno newline at end\n\n");
    eo = {export_format::mbox, t.path() / "mbox-crlf", {}};
    eo.endings = line_endings::crlf;
    st = export_entries(a, eo);
    CHECK(slurp(t.path() / "mbox-crlf" / "work" / "Lists" / "dev.mbox") ==
          "From MAILER-DAEMON Sun Sep  9 01:46:40 2001\n"
          "Subject: a\r\nStatus: RO\r\nX-Status: F\r\n\r\n>From here\r\n>>From there\r\n\n"
          "From MAILER-DAEMON Sun Sep  9 01:46:41 2001\n"
          "Subject: b\r\nStatus: O\r\n\r\nno newline at end\n\n");

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

namespace {

std::string lf_of(std::string_view in, std::size_t cut, std::size_t cut2) {
    crlf_to_lf c;
    std::string out;
    c.feed(in.substr(0, cut), out);
    c.feed(in.substr(cut, cut2 - cut), out);
    c.feed(in.substr(cut2), out);
    c.finish(out);
    return out;
}

std::string mbox_of(std::string_view in, std::string_view flags, bool lf, std::size_t cut,
                    std::size_t cut2, std::size_t max_held = 256 * 1024) {
    mbox_writer w(flags, 1000000000, lf, max_held);
    std::string out;
    w.feed(in.substr(0, cut), out);
    w.feed(in.substr(cut, cut2 - cut), out);
    w.feed(in.substr(cut2), out);
    w.finish(out);
    return out;
}

}  // namespace

TEST_CASE("export: CRLF to LF is the same whatever the split, a lone CR stays",
          "[archive][export]") {
    const std::string in = "a\r\nb\rc\r\r\n\r\n\n\rx\r";
    const std::string expected = "a\nb\rc\r\n\n\n\rx\r";
    for (std::size_t cut = 0; cut <= in.size(); ++cut)
        for (std::size_t cut2 = cut; cut2 <= in.size(); ++cut2) {
            INFO(cut << " " << cut2);
            REQUIRE(lf_of(in, cut, cut2) == expected);
        }
    CHECK(lf_of("", 0, 0).empty());
    CHECK(lf_of("\r", 0, 1) == "\r");
}

TEST_CASE("export: mbox status headers from IMAP flags", "[archive][export]") {
    CHECK(mbox_status_headers("", "\n") == "Status: O\n");
    CHECK(mbox_status_headers("\\Seen", "\n") == "Status: RO\n");
    CHECK(
        mbox_status_headers("$Label1 \\Answered \\Deleted \\Draft \\Flagged \\Seen work", "\r\n") ==
        "Status: RO\r\nX-Status: ADFT\r\nX-Keywords: $Label1 work\r\nX-Label: $Label1 work\r\n");
    CHECK(mbox_status_headers("k", "\n", false) == "Status: O\nX-Keywords: k\n");
    CHECK(mbox_status_headers("\\Recent \\Flagged", "\n") == "Status: O\nX-Status: F\n");
}

TEST_CASE("export: the envelope sender is Return-Path, else From, else MAILER-DAEMON",
          "[archive][export]") {
    CHECK(envelope_sender("<bounce@lists.example>", "Ann <ann@example.org>") ==
          "bounce@lists.example");
    CHECK(envelope_sender("", "\"Doe, Ann\" <ann@example.org>, bob@example.net") ==
          "ann@example.org");
    CHECK(envelope_sender("<>", "ann@example.org (Ann)") == "ann@example.org");
    CHECK(envelope_sender("", "=?utf-8?q?J=C3=B6rg?= <joerg@example.de>") == "joerg@example.de");
    CHECK(envelope_sender("", "undisclosed-recipients:;") == "MAILER-DAEMON");
    CHECK(envelope_sender("", "") == "MAILER-DAEMON");
    CHECK(envelope_sender("", "\"a b\"@example.org") == "MAILER-DAEMON");  // blanks: unusable
    CHECK(mbox_from_line("a@b", 0) == "From a@b Thu Jan  1 00:00:00 1970\n");
    CHECK(mbox_from_line("a@b", 1700000000) == "From a@b Tue Nov 14 22:13:20 2023\n");
}

TEST_CASE("export: an mbox record is the same whatever the split", "[archive][export]") {
    // Status headers of its own are replaced (folded ones too), the sender comes from the
    // folded Return-Path, "From " lines in the body are quoted, CRLF becomes LF.
    const std::string in =
        "Return-Path:\r\n <list-bounce@example.org>\r\nFrom: Ann <ann@example.org>\r\n"
        "Status: RO\r\nX-Status: A\r\nx-keywords: old,\r\n  stale\r\nSubject: hi\r\n"
        "X-Statusbar: kept\r\n\r\nFrom me\r\n>From you\r\nStatus: body\r\n";
    const std::string expected_lf =
        "From list-bounce@example.org Sun Sep  9 01:46:40 2001\n"
        "Return-Path:\n <list-bounce@example.org>\nFrom: Ann <ann@example.org>\n"
        "Subject: hi\nX-Statusbar: kept\nStatus: O\nX-Status: F\nX-Keywords: $x\nX-Label: $x\n\n"
        ">From me\n>>From you\nStatus: body\n\n";
    const std::string expected_crlf =
        "From list-bounce@example.org Sun Sep  9 01:46:40 2001\n"
        "Return-Path:\r\n <list-bounce@example.org>\r\nFrom: Ann <ann@example.org>\r\n"
        "Subject: hi\r\nX-Statusbar: kept\r\nStatus: O\r\nX-Status: F\r\nX-Keywords: $x\r\n"
        "X-Label: $x\r\n\r\n"
        ">From me\r\n>>From you\r\nStatus: body\r\n\n";
    for (std::size_t cut = 0; cut <= in.size(); ++cut)
        for (std::size_t cut2 = cut; cut2 <= in.size(); cut2 += 7) {
            INFO(cut << " " << cut2);
            REQUIRE(mbox_of(in, "\\Flagged $x", true, cut, cut2) == expected_lf);
            REQUIRE(mbox_of(in, "\\Flagged $x", false, cut, cut2) == expected_crlf);
        }
    // No blank line: the status headers go at the end (after a line end).
    CHECK(mbox_of("From: a@b.c\r\nSubject: x", "\\Seen", true, 3, 9) ==
          "From a@b.c Sun Sep  9 01:46:40 2001\nFrom: a@b.c\nSubject: x\nStatus: RO\n\n");
    CHECK(mbox_of("Subject: x\r\nStatus: R", "", false, 0, 0) ==
          "From MAILER-DAEMON Sun Sep  9 01:46:40 2001\nSubject: x\r\nStatus: O\r\n\n");
    // An X-Label of its own stays and gets no second one.
    CHECK(mbox_of("X-Label: mine\nSubject: s\n\nb\n", "k", true, 4, 20) ==
          "From MAILER-DAEMON Sun Sep  9 01:46:40 2001\nX-Label: mine\nSubject: s\nStatus: O\n"
          "X-Keywords: k\n\nb\n\n");
    CHECK(mbox_of("", "", true, 0, 0) ==
          "From MAILER-DAEMON Sun Sep  9 01:46:40 2001\nStatus: O\n\n");
    // A header block larger than what may be held: the "From " line goes out with what was
    // seen, the rest streams, the status headers still land at the end of the header block.
    std::string big = "From: a@b.c\n";
    for (int i = 0; i < 50; ++i) big += "X-Long: " + std::string(40, 'x') + "\n";
    const std::string got = mbox_of(big + "Status: R\n\nbody\n", "", true, 5, 100, 256);
    CHECK(got == "From a@b.c Sun Sep  9 01:46:40 2001\n" + big + "Status: O\n\nbody\n\n");
}

TEST_CASE("export: Maildir++ folder names", "[archive][export]") {
    CHECK(maildirpp_name({"Sent"}) == ".Sent");
    CHECK(maildirpp_name({"Lists", "dev"}) == ".Lists.dev");
    CHECK(maildirpp_name({"v1.2", "a/b\\c"}) == ".v1\\2e2.a\\2fb\\5cc");
    CHECK(maildirpp_name({"~home", "a~"}) == ".\\7ehome.a~");
    CHECK(maildirpp_name({"", "x"}) == "._.x");
    CHECK(maildirpp_name({"Entwürfe"}) == ".Entwürfe");
}

TEST_CASE("export: Maildir++ layout, folder patterns and dates without INTERNALDATE",
          "[archive][export]") {
    temp_dir t;
    options o;
    o.create = true;
    archive a(t.path() / "a.mvault", o);
    auto acc = a.upsert_account({"w", "imap", "h", "u"});
    std::vector<std::string> names = {"INBOX", "INBOX/x", "Lists/dev", "Lists/v1.2", "Sent"};
    std::uint32_t uid = 1;
    for (const auto& n : names) {
        auto mb = a.upsert_mailbox({acc, n, n, "/", std::nullopt});
        a.set_watermarks(mb.id, {7, std::nullopt, std::nullopt, std::nullopt});
        std::string m = "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nSubject: " + n + "\r\n\r\nb\r\n";
        auto h = a.put_content(m).hash;
        // No INTERNALDATE on Sent: the Date: header (from the header index) is the mtime.
        std::optional<std::int64_t> idate;
        if (n != "Sent") idate = 1000;
        a.upsert_entry(
            {mb.id, 7, uid++, std::nullopt, {"\\Seen"}, std::nullopt, idate, m.size(), h});
    }
    a.index_pending();
    export_options eo{export_format::maildir, t.path() / "pp", {}};
    eo.layout = maildir_layout::maildirpp;
    auto st = export_entries(a, eo);
    CHECK(st.messages == 5);
    std::vector<std::string> dirs;
    for (auto& e : fs::directory_iterator(t.path() / "pp" / "w"))
        dirs.push_back(e.path().filename());
    std::sort(dirs.begin(), dirs.end());
    CHECK(dirs == std::vector<std::string>{".INBOX.x", ".Lists.dev", ".Lists.v1\\2e2", ".Sent",
                                           "cur", "new", "tmp"});
    auto only_file = [](const fs::path& d) {
        std::vector<fs::path> f;
        for (auto& e : fs::directory_iterator(d)) f.push_back(e.path());
        REQUIRE(f.size() == 1);
        return f[0];
    };
    CHECK(slurp(only_file(t.path() / "pp/w/cur")).find("Subject: INBOX\n") != std::string::npos);
    const auto sent = only_file(t.path() / "pp/w/.Sent/cur");
    struct stat s {};
    REQUIRE(::stat(sent.c_str(), &s) == 0);
    CHECK(s.st_mtime == 1700000000);
    CHECK(sent.filename().string().rfind("1700000000.", 0) == 0);

    // --folder patterns: a plain name takes its subfolders, % stops at the delimiter.
    auto exported = [&](std::vector<std::string> pats) {
        export_options f{export_format::mbox, t.path() / "f", {}};
        f.folders = std::move(pats);
        fs::remove_all(f.out);
        auto r = export_entries(a, f);
        std::vector<std::string> out;
        if (fs::exists(f.out))
            for (auto& e : fs::recursive_directory_iterator(f.out))
                if (e.is_regular_file()) out.push_back(fs::relative(e.path(), f.out).string());
        std::sort(out.begin(), out.end());
        CHECK(r.selected == static_cast<std::int64_t>(out.size()));
        return out;
    };
    CHECK(exported({"Lists"}) == std::vector<std::string>{"w/Lists/dev.mbox", "w/Lists/v1.2.mbox"});
    CHECK(exported({"inbox"}) == std::vector<std::string>{"w/INBOX.mbox", "w/INBOX/x.mbox"});
    CHECK(exported({"%"}) == std::vector<std::string>{"w/INBOX.mbox", "w/Sent.mbox"});
    CHECK(exported({"*/dev", "Sent"}) ==
          std::vector<std::string>{"w/Lists/dev.mbox", "w/Sent.mbox"});
    CHECK(exported({"Nothing"}).empty());
    CHECK_FALSE(fs::exists(t.path() / "f"));  // nothing selected: nothing written
}
