// `mailvault export` read back by the tools people use next to it (issue 15): notmuch indexes the
// Maildir export (unread = not \Seen), mutt opens the mbox and the Maildir and counts unread,
// flagged, replied and labelled messages, and Python's mailbox module reads flags, envelope
// lines, keywords and Maildir dates (the file mtimes) back. A local archive, no server. mutt
// needs a terminal: it runs under script(1) with a pushed command sequence that tags what a
// pattern matches and copies it to an mbox, whose subjects say what mutt selected.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "harness/testbed.hpp"

namespace fs = std::filesystem;
using namespace mv::test;

namespace {

struct sample {
    std::string folder;
    std::uint32_t uid;
    std::vector<std::string> flags;
    std::int64_t internaldate;
    std::string extra_headers;  // CRLF-ended lines
    std::string body;
};

// 8 messages, 3 unseen (2, 5, 7), 2 flagged (3, 5), 1 answered (4), 1 draft (6), keywords on 4.
const std::vector<sample>& samples() {
    static const std::vector<sample> s = {
        {"INBOX",
         1,
         {"\\Seen"},
         1600000000,
         "Return-Path: <bounce@lists.example>\r\n",
         "From the start of a line\r\n>From quoted\r\n"},
        // An unseen message that carries a stale Status of its own: the export replaces it.
        {"INBOX", 2, {}, 1600000100, "Status: RO\r\nX-Status: F\r\n", "unseen\r\n"},
        {"INBOX", 3, {"\\Seen", "\\Flagged"}, 1600000200, "", "flagged\r\n"},
        {"INBOX", 4, {"\\Seen", "\\Answered", "$work", "Project"}, 1600000300, "", "answered\r\n"},
        {"INBOX", 5, {"\\Flagged"}, 1600000400, "", "flagged, unseen\r\n"},
        {"INBOX", 6, {"\\Seen", "\\Draft"}, 1600000500, "", "draft\r\n"},
        {"Lists/dev", 1, {}, 1600000600, "", "a lone CR\rstays\r\n"},
        {"Lists/dev", 2, {"\\Seen"}, 1600000700, "", "seen\r\n"},
    };
    return s;
}

std::string raw_of(const sample& m) {
    const std::string id = m.folder.substr(0, 5) + std::to_string(m.uid);
    return m.extra_headers + "From: Ann Example <ann@example.org>\r\nTo: bob@example.net\r\n" +
           "Subject: " + id + "\r\nMessage-ID: <" + id + "@example.org>\r\n" +
           "Date: Sun, 13 Sep 2020 12:26:40 +0000\r\n\r\n" + m.body;
}

void fill(const fs::path& db) {
    mv::archive::options o;
    o.create = true;
    mv::archive::archive a(db, o);
    auto acc = a.upsert_account({"w", "imap", "h", "u"});
    std::map<std::string, std::int64_t> boxes;
    for (std::string f : {"INBOX", "Lists/dev"}) {
        boxes[f] = a.upsert_mailbox({acc, f, f, "/", std::nullopt}).id;
        a.set_watermarks(boxes[f], {7, std::nullopt, std::nullopt, std::nullopt});
    }
    for (const auto& m : samples()) {
        const std::string raw = raw_of(m);
        a.upsert_entry({boxes[m.folder], 7, m.uid, std::nullopt, m.flags, std::nullopt,
                        m.internaldate, raw.size(), a.put_content(raw).hash});
    }
}

run_result export_to(const fs::path& db, const fs::path& out, std::vector<std::string> extra) {
    std::vector<std::string> argv = {MV_CLI_PATH, "export", "--archive",
                                     db.string(), "--out",  out.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_command(argv);
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    REQUIRE(r.output.rfind("exported ", 0) == 0);
    return r;
}

// Python's mailbox module over an mbox file or a Maildir (optionally one Maildir++ folder).
const char* const py_reader = R"PY(
import json, mailbox, sys
kind, path = sys.argv[1], sys.argv[2]
res = []
if kind == "mbox":
    for m in mailbox.mbox(path, create=False):
        res.append({"subject": m["Subject"], "flags": "".join(sorted(m.get_flags())),
                    "from": m.get_from(), "keywords": m.get("X-Keywords", ""),
                    "status_lines": len(m.get_all("Status") or []),
                    "body": m.get_payload()})
else:
    md = mailbox.Maildir(path, factory=None, create=False)
    box = md.get_folder(sys.argv[3]) if len(sys.argv) > 3 else md
    for key, m in box.iteritems():
        res.append({"subject": m["Subject"], "flags": m.get_flags(), "date": int(m.get_date()),
                    "subdir": m.get_subdir(), "folders": sorted(md.list_folders())})
print(json.dumps(sorted(res, key=lambda x: x["subject"])))
)PY";

nlohmann::json python_read(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/python3", "-c", py_reader});
    auto r = run_command(args);
    INFO(r.errors);
    REQUIRE(r.status == 0);
    return nlohmann::json::parse(r.output);
}

// mutt opens `box` read-only, tags the messages matching `pattern` (mutt's own reading of the
// flags) and copies them to an mbox (tag-prefix-cond: nothing at all when nothing matched);
// returns their subjects, sorted.
std::vector<std::string> mutt_select(const fs::path& tmp, const fs::path& box,
                                     const std::string& pattern) {
    const fs::path rc = tmp / "muttrc", picked = tmp / "picked.mbox";
    fs::remove(picked);
    fs::create_directories(tmp / "Mail");  // else mutt's first start asks to create it
    write_file(rc, "set confirmcreate=no\nset mbox_type=mbox\npush \"<tag-pattern>" + pattern +
                       "<enter><tag-prefix-cond><copy-message>" + picked.string() +
                       "<enter><end-cond><quit>\"\n");
    auto r = run_command({"/usr/bin/timeout", "30", "/usr/bin/script", "-qec",
                          "mutt -n -F " + rc.string() + " -R -f " + box.string(), "/dev/null"},
                         "", {{"TERM", "vt100"}, {"HOME", tmp.string()}});
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    std::vector<std::string> out;
    if (!fs::exists(picked)) return out;  // nothing matched: nothing copied
    std::istringstream lines(read_file(picked));
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("Subject: ", 0) == 0) out.push_back(line.substr(9));
    std::sort(out.begin(), out.end());
    return out;
}

using names = std::vector<std::string>;

bool has_crlf_below(const fs::path& root) {
    for (auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file() && read_file(e.path()).find("\r\n") != std::string::npos)
            return true;
    return false;
}

}  // namespace

TEST_CASE("export: notmuch indexes the Maildir export, unread = not seen",
          "[integration][export]") {
    temp_dir t;
    const auto db = t.path() / "a.mvault";
    fill(db);
    const auto md = t.path() / "md";
    export_to(db, md, {"--format", "maildir"});
    const auto cfg = t.path() / "notmuch-config";
    write_file(cfg, "[database]\npath=" + md.string() +
                        "\n[new]\ntags=unread;inbox;\n[maildir]\nsynchronize_flags=true\n");
    const std::map<std::string, std::string> env = {{"NOTMUCH_CONFIG", cfg.string()},
                                                    {"HOME", t.path().string()}};
    auto r = run_command({"/usr/bin/notmuch", "new"}, "", env);
    INFO(r.output << r.errors);
    REQUIRE(r.status == 0);
    auto count = [&](const std::string& q) {
        auto c = run_command({"/usr/bin/notmuch", "count", q}, "", env);
        INFO(c.errors);
        REQUIRE(c.status == 0);
        return std::stoi(c.output);
    };
    CHECK(count("*") == 8);
    CHECK(count("tag:unread") == 3);
    CHECK(count("tag:flagged") == 2);
    CHECK(count("tag:replied") == 1);
    CHECK(count("tag:draft") == 1);
    CHECK(count("folder:w/Lists/dev") == 2);
    CHECK(count("tag:unread and subject:INBOX2") == 1);
}

TEST_CASE("export: mutt and Python read the mbox flags, senders and keywords back",
          "[integration][export]") {
    temp_dir t;
    const auto db = t.path() / "a.mvault";
    fill(db);
    const auto out = t.path() / "mbox";
    export_to(db, out, {"--format", "mbox"});
    const auto inbox = out / "w" / "INBOX.mbox";
    CHECK_FALSE(has_crlf_below(out));  // LF by default

    CHECK(mutt_select(t.path(), inbox, "~A").size() == 6);
    // INBOX2 carried a stale "Status: RO" of its own: replaced, it is unread.
    CHECK(mutt_select(t.path(), inbox, "~U") == names{"INBOX2", "INBOX5"});
    CHECK(mutt_select(t.path(), inbox, "~N").empty());  // Status: O: old, as mutt keeps mail
    CHECK(mutt_select(t.path(), inbox, "~F") == names{"INBOX3", "INBOX5"});
    CHECK(mutt_select(t.path(), inbox, "~Q") == names{"INBOX4"});
    CHECK(mutt_select(t.path(), inbox, "~y Project") == names{"INBOX4"});  // keywords as X-Label
    CHECK(mutt_select(t.path(), out / "w" / "Lists" / "dev.mbox", "~U") == names{"Lists1"});

    auto j = python_read({"mbox", inbox.string()});
    REQUIRE(j.size() == 6);
    CHECK(j[0]["subject"] == "INBOX1");
    CHECK(j[0]["flags"] == "OR");
    CHECK(j[0]["from"] == "bounce@lists.example Sun Sep 13 12:26:40 2020");
    CHECK(j[0]["body"] == ">From the start of a line\n>>From quoted\n");  // mboxrd
    CHECK(j[1]["flags"] == "O");
    CHECK(j[1]["status_lines"] == 1);
    CHECK(j[1]["from"] == "ann@example.org Sun Sep 13 12:28:20 2020");
    CHECK(j[2]["flags"] == "FOR");
    CHECK(j[3]["flags"] == "AOR");
    CHECK(j[3]["keywords"] == "$work Project");
    CHECK(j[4]["flags"] == "FO");
    CHECK(j[5]["flags"] == "ORT");
}

TEST_CASE("export: Maildir flags, mtimes and Maildir++ folders as mutt and Python see them",
          "[integration][export]") {
    temp_dir t;
    const auto db = t.path() / "a.mvault";
    fill(db);
    std::map<std::string, std::int64_t> dates;
    for (const auto& m : samples())
        dates[m.folder.substr(0, 5) + std::to_string(m.uid)] = m.internaldate;

    const auto fsd = t.path() / "fs";
    export_to(db, fsd, {"--format", "maildir"});
    CHECK_FALSE(has_crlf_below(fsd));
    auto j = python_read({"maildir", (fsd / "w" / "INBOX").string()});
    REQUIRE(j.size() == 6);
    for (auto& m : j) {
        INFO(m.dump());
        CHECK(m["date"] == dates[m["subject"]]);  // the file mtime = INTERNALDATE
        CHECK(m["subdir"] == "cur");
    }
    CHECK(j[0]["flags"] == "S");
    CHECK(j[1]["flags"] == "");
    CHECK(j[3]["flags"] == "RS");
    CHECK(j[5]["flags"] == "DS");
    CHECK(mutt_select(t.path(), fsd / "w" / "INBOX", "~A").size() == 6);
    CHECK(mutt_select(t.path(), fsd / "w" / "INBOX", "~U") == names{"INBOX2", "INBOX5"});
    CHECK(mutt_select(t.path(), fsd / "w" / "INBOX", "~F") == names{"INBOX3", "INBOX5"});
    CHECK(mutt_select(t.path(), fsd / "w" / "INBOX", "~Q") == names{"INBOX4"});
    auto lists = python_read({"maildir", (fsd / "w" / "Lists" / "dev").string()});
    REQUIRE(lists.size() == 2);
    CHECK(lists[0]["date"] == 1600000600);

    const auto pp = t.path() / "pp";
    export_to(db, pp, {"--format", "maildir", "--layout", "maildir++"});
    j = python_read({"maildir", (pp / "w").string()});
    REQUIRE(j.size() == 6);
    CHECK(j[0]["folders"] == nlohmann::json::array({"Lists.dev"}));
    auto sub = python_read({"maildir", (pp / "w").string(), "Lists.dev"});
    REQUIRE(sub.size() == 2);
    CHECK(sub[0]["date"] == 1600000600);
    CHECK(sub[0]["flags"] == "");
    CHECK(mutt_select(t.path(), pp / "w" / ".Lists.dev", "~U") == names{"Lists1"});
    CHECK(mutt_select(t.path(), pp / "w", "~U") == names{"INBOX2", "INBOX5"});
}

TEST_CASE("export: --line-endings crlf is byte-exact, lf changes only CRLF",
          "[integration][export]") {
    temp_dir t;
    const auto db = t.path() / "a.mvault";
    fill(db);
    std::map<std::string, std::string> raw;
    for (const auto& m : samples()) raw[m.folder.substr(0, 5) + std::to_string(m.uid)] = raw_of(m);
    auto subject_of = [](const std::string& text) {
        auto i = text.find("Subject: ");
        return text.substr(i + 9, text.find_first_of("\r\n", i) - i - 9);
    };
    for (std::string le : {"crlf", "lf"}) {
        const auto out = t.path() / le;
        export_to(db, out, {"--format", "maildir", "--line-endings", le});
        std::size_t n = 0;
        for (auto& e : fs::recursive_directory_iterator(out)) {
            if (!e.is_regular_file()) continue;
            ++n;
            const std::string got = read_file(e.path());
            std::string want = raw.at(subject_of(got));
            if (le == "lf") want = std::regex_replace(want, std::regex("\r\n"), "\n");
            CHECK(got == want);
        }
        CHECK(n == 8);
    }
    // eml keeps the archived bytes by default.
    export_to(db, t.path() / "eml", {"--format", "eml"});
    CHECK(read_file(t.path() / "eml" / "w" / "INBOX" / "1_1.eml") == raw.at("INBOX1"));
}

TEST_CASE("export: a filter that matches nothing is exit 1 and writes nothing",
          "[integration][export]") {
    temp_dir t;
    const auto db = t.path() / "a.mvault";
    fill(db);
    auto r = run_command({MV_CLI_PATH, "export", "--archive", db.string(), "--out",
                          (t.path() / "o").string(), "--folder", "Nope", "--folder", "Lists/x"});
    CHECK(r.status == 1);
    CHECK(r.errors ==
          "mailvault: export: no message matches --folder 'Nope' --folder 'Lists/x'; "
          "`mailvault status` lists the accounts and folders archived\n");
    CHECK_FALSE(fs::exists(t.path() / "o"));
    // The same patterns as sync: `Lists` takes Lists/dev, `%` only top-level folders.
    r = run_command({MV_CLI_PATH, "export", "--archive", db.string(), "--out",
                     (t.path() / "l").string(), "--format", "mbox", "--folder", "Lists"});
    CHECK(r.status == 0);
    CHECK(r.output.rfind("exported 2 messages", 0) == 0);
    r = run_command({MV_CLI_PATH, "export", "--archive", db.string(), "--out",
                     (t.path() / "p").string(), "--format", "mbox", "--folder", "%"});
    CHECK(r.output.rfind("exported 6 messages", 0) == 0);
    r = run_command({MV_CLI_PATH, "export", "--archive", db.string(), "--out",
                     (t.path() / "b").string(), "--format", "mbox", "--layout", "maildir++"});
    CHECK(r.status == 2);
}
