// The pure parts of `mailvault import` (sync/import.hpp): mbox splitting (whole, at every byte
// split, one byte at a time, MimeKit's samples with their recorded offsets), Maildir names and
// flags, mbox header flags, Google Takeout labels, dates and their order per format.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sync/import.hpp"

using namespace mv::sync;

namespace {

struct collected : mbox_splitter::events {
    std::vector<std::string> envelopes, bodies;
    bool open = false;
    void begin(std::string_view env) override {
        REQUIRE_FALSE(open);
        open = true;
        envelopes.emplace_back(env);
        bodies.emplace_back();
    }
    void data(std::string_view b) override {
        REQUIRE(open);
        bodies.back().append(b);
    }
    void end() override {
        REQUIRE(open);
        open = false;
    }
};

collected split(std::string_view in, std::vector<std::size_t> cuts,
                mbox_quoting q = mbox_quoting::mboxrd) {
    collected c;
    mbox_splitter s(q);
    std::size_t at = 0;
    for (auto cut : cuts) {
        s.feed(in.substr(at, cut - at), c);
        at = cut;
    }
    s.feed(in.substr(at), c);
    s.finish(c);
    CHECK_FALSE(c.open);
    return c;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// One '>' off every line matching ^>+From (what the splitter does in mboxrd mode).
std::string mboxrd_unquoted(const std::string& in) {
    std::string out;
    std::size_t pos = 0;
    while (pos < in.size()) {
        auto nl = in.find('\n', pos);
        const std::size_t end = nl == std::string::npos ? in.size() : nl + 1;
        std::string line = in.substr(pos, end - pos);
        const auto gt = line.find_first_not_of('>');
        if (gt != std::string::npos && gt > 0 && line.compare(gt, 5, "From ") == 0)
            line.erase(0, 1);
        out += line;
        pos = end;
    }
    return out;
}

// LF and CRLF messages, quoted and unquoted From lines, a message ending without a blank line,
// blank lines inside and at the end of a message.
const std::string sample =
    "From alice@example.org Sat Jan  4 12:34:56 2020\n"
    "From: Alice <alice@example.org>\n"
    "Subject: one\n"
    "\n"
    "From Russia with love\n"
    ">From the quoted line\n"
    ">>From twice quoted\n"
    ">not a from\n"
    "\n"
    "\n"
    "From - Mon Jun  3 12:50:27 1996\n"
    "Subject: two\r\n"
    "\r\n"
    "crlf body\r\n"
    "\r\n"
    "From 1844347792267117879@xxx\n"
    "Subject: three\n"
    "\n"
    "no blank line after me\n"
    "From bob@example.org Sun Feb  2 01:02:03 +0100 2020\n"
    "Subject: four\n"
    "\n"
    "last line without a line end";

}  // namespace

TEST_CASE("import: mbox splitting, envelopes removed, mboxrd unquoting", "[import]") {
    auto c = split(sample, {});
    REQUIRE(c.bodies.size() == 4);
    CHECK(c.envelopes[0] == "From alice@example.org Sat Jan  4 12:34:56 2020");
    CHECK(c.bodies[0] ==
          "From: Alice <alice@example.org>\nSubject: one\n\nFrom Russia with love\n"
          "From the quoted line\n>From twice quoted\n>not a from\n\n");
    CHECK(c.bodies[1] == "Subject: two\r\n\r\ncrlf body\r\n");
    CHECK(c.bodies[2] == "Subject: three\n\nno blank line after me\n");
    CHECK(c.bodies[3] == "Subject: four\n\nlast line without a line end");

    auto o = split(sample, {}, mbox_quoting::mboxo);
    REQUIRE(o.bodies.size() == 4);
    CHECK(o.bodies[0].find("\nFrom the quoted line\n>>From twice quoted\n") != std::string::npos);
}

TEST_CASE("import: mbox splitting gives the same messages at every byte split", "[import]") {
    const auto whole = split(sample, {});
    for (std::size_t i = 0; i <= sample.size(); ++i) {
        INFO("split at " << i);
        auto c = split(sample, {i});
        REQUIRE(c.bodies == whole.bodies);
        REQUIRE(c.envelopes == whole.envelopes);
    }
    for (std::size_t i = 0; i + 7 <= sample.size(); i += 3) {
        INFO("splits at " << i << " and " << i + 7);
        auto c = split(sample, {i, i + 7});
        REQUIRE(c.bodies == whole.bodies);
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < sample.size(); ++i) every.push_back(i);
    auto bytewise = split(sample, every);
    CHECK(bytewise.bodies == whole.bodies);
    CHECK(bytewise.envelopes == whole.envelopes);
}

TEST_CASE("import: a line longer than the look-ahead streams through", "[import]") {
    std::string big = "From a@b Sat Jan  4 12:34:56 2020\nSubject: x\n\n" +
                      std::string(mbox_splitter::max_line_lead * 3, '>') + "From x\n" + "From " +
                      std::string(mbox_splitter::max_line_lead * 2, 'y') + "\n";
    auto c = split(big, {100, 5000, 9000});
    REQUIRE(c.bodies.size() == 1);
    CHECK(c.bodies[0].size() == big.size() - 34);
}

TEST_CASE("import: MimeKit's mbox samples split where MimeKit says", "[import]") {
    const std::string dir = std::string(MV_TEST_DATA_DIR) + "/corpora/mimekit/mbox/";
    for (const char* name : {"content-length", "issue1189"}) {
        INFO(name);
        const std::string data = slurp(dir + name + ".mbox.txt");
        const auto offsets = nlohmann::json::parse(slurp(dir + name + ".unix-offsets.json"));
        auto c = split(data, {data.size() / 3, data.size() / 2});
        REQUIRE(c.bodies.size() == offsets.size());
        for (std::size_t i = 0; i < offsets.size(); ++i) {
            const std::size_t b = offsets[i]["beginOffset"], e = offsets[i]["endOffset"];
            // MimeKit counts the line end before the next "From " into the separator even when
            // no blank line is there; we keep the message's own last line end then.
            std::string exact = data.substr(b, e - b);
            if (e < data.size() && data[e] == '\n' && (e == 0 || data[e - 1] != '\n'))
                exact += '\n';
            // MimeKit leaves ">From " lines as they are; mboxrd takes one '>' off.
            exact = mboxrd_unquoted(exact);
            INFO("message " << i);
            CHECK(c.bodies[i] == exact);
        }
    }
    // Thunderbird leaves "From Russia with love" unquoted; a BOM starts the file.
    auto u = split(slurp(dir + "unmunged.mbox.txt"), {});
    REQUIRE(u.bodies.size() == 2);
    CHECK(u.bodies[0].find("\n\nFrom Russia with love\n\nWhat does Thunderbird do?") !=
          std::string::npos);
    CHECK(split(slurp(dir + "simple.mbox.txt"), {}).bodies.size() == 3);
}

TEST_CASE("import: envelope lines", "[import]") {
    CHECK(is_envelope_line("From a@b Sat Jan  4 12:34:56 2020"));
    CHECK(is_envelope_line("From -"));
    CHECK(is_envelope_line("From - \r"));
    CHECK(is_envelope_line("From 1844347792267117879@xxx"));
    CHECK_FALSE(is_envelope_line("From Russia with love"));
    CHECK_FALSE(is_envelope_line("From: alice@example.org"));
    CHECK_FALSE(is_envelope_line("From alice"));
    CHECK_FALSE(is_envelope_line(">From a@b Sat Jan  4 12:34:56 2020"));
}

TEST_CASE("import: Maildir keys, flags and folder names", "[import]") {
    CHECK(maildir_key("1700000000.M1P2.host:2,FS") == "1700000000.M1P2.host");
    CHECK(maildir_key("1700000000.M1P2.host!2,S") == "1700000000.M1P2.host");
    CHECK(maildir_key("1700000000.M1P2.host") == "1700000000.M1P2.host");
    CHECK(maildir_flags("x:2,DFPRST") == std::vector<std::string>{"\\Draft", "\\Flagged",
                                                                  "$Forwarded", "\\Answered",
                                                                  "\\Seen", "\\Deleted"});
    CHECK(maildir_flags("x").empty());
    CHECK(maildir_flags("x:2,").empty());
    const auto kw = parse_dovecot_keywords("0 $Label1\n1 Work\nbad line\n3 Later\n");
    REQUIRE(kw.size() == 4);
    CHECK(maildir_flags("x:2,Sabcd", kw) ==
          std::vector<std::string>{"\\Seen", "$Label1", "Work", "Later"});
    CHECK(maildirpp_folder("Sub.Folder") == "Sub/Folder");
    CHECK(maildirpp_folder("Caf&AOk-") == "Caf\xC3\xA9");
    CHECK(maildirpp_folder("Bad&-x&") == "Bad&-x&");
}

TEST_CASE("import: flags and keywords from mbox headers", "[import]") {
    CHECK(mbox_header_flags("Status: RO\nX-Status: AF\n") ==
          std::vector<std::string>{"\\Answered", "\\Flagged", "\\Seen"});
    CHECK(mbox_header_flags("Status: O\n").empty());
    CHECK(mbox_header_flags("X-Mozilla-Status: 1003\nX-Mozilla-Keys: $label1 todo\n") ==
          std::vector<std::string>{"$Forwarded", "$label1", "\\Answered", "\\Seen", "todo"});
    CHECK(mbox_header_flags("X-Mozilla-Status: 0008\n") == std::vector<std::string>{"\\Deleted"});
    CHECK(mbox_header_flags("X-Keywords: Work, $Junk\n Later\nX-Status: T\n") ==
          std::vector<std::string>{"$Junk", "Later", "Work", "\\Draft"});
    CHECK(header_values("Subject: a\n b\nsubject:c\n", "SUBJECT") ==
          std::vector<std::string>{"a b", "c"});
    CHECK(header_block("A: 1\r\nB: 2\r\n\r\nbody\r\n") == "A: 1\r\nB: 2\r\n");
    CHECK(looks_like_message("Subject: x\n"));
    CHECK(looks_like_message("From a@b Fri Feb 19 08:41:30 2010\r\nFrom: a@b\r\n"));
    CHECK_FALSE(looks_like_message("From a@b Fri Feb 19 08:41:30 2010\nhello\n"));
    CHECK_FALSE(looks_like_message("hello world\n"));
    CHECK_FALSE(looks_like_message(""));
}

TEST_CASE("import: Google Takeout labels", "[import]") {
    CHECK(parse_takeout_labels("Inbox,Important,\"Work, old\",Opened") ==
          std::vector<std::string>{"Inbox", "Important", "Work, old", "Opened"});
    auto p = place_takeout({"Inbox", "Starred", "Category Updates", "Work/Project", "Opened"});
    CHECK(p.folders == std::vector<takeout_folder>{{"[Gmail]/All Mail", "\\All"},
                                                   {"INBOX", std::nullopt},
                                                   {"[Gmail]/Starred", "\\Flagged"},
                                                   {"Work/Project", std::nullopt}});
    CHECK(p.labels == std::vector<std::string>{"\\Inbox", "\\Starred", "Work/Project"});
    CHECK(p.flags == std::vector<std::string>{"\\Seen", "\\Flagged"});
    auto unread = place_takeout({"Sent", "Unread"});
    CHECK(unread.flags.empty());
    CHECK(unread.folders.back() == takeout_folder{"[Gmail]/Sent Mail", "\\Sent"});
    auto trash = place_takeout({"Trash", "Inbox", "Opened"});
    CHECK(trash.folders == std::vector<takeout_folder>{{"[Gmail]/Trash", "\\Trash"}});
    CHECK(place_takeout({"Archived"}).folders ==
          std::vector<takeout_folder>{{"[Gmail]/All Mail", "\\All"}});
}

TEST_CASE("import: dates and their order per format", "[import]") {
    CHECK(envelope_date("From a@b Sat Jan  4 12:34:56 2020") == 1578141296);
    CHECK(envelope_date("From a@b Sat Jan 04 12:34:56 +0100 2020") == 1578141296 - 3600);
    CHECK(envelope_date("From a@b Sat Jan 04 12:34:56 2020 -0100") == 1578141296 + 3600);
    CHECK(envelope_date("From -") == std::nullopt);
    CHECK(envelope_date("From 1844@xxx") == std::nullopt);
    CHECK(rfc5322_date("Fri, 26 Sep 2025 10:18:40 -0700") == 1758907120);
    CHECK(rfc5322_date("26 Sep 2025 17:18:40 GMT (comment)") == 1758907120);
    CHECK(rfc5322_date("Fri, 26 Sep 25 13:18:40 EDT") == 1758907120);
    CHECK(rfc5322_date("Fri, 23 Aug 2002 2:32:53 -0400") == 1030084373);
    CHECK(rfc5322_date("yesterday") == std::nullopt);
    const std::optional<std::int64_t> env = 1, hdr = 2, mtime = 3, none;
    CHECK(import_date(import_format::mbox, env, hdr, mtime) == 1);
    CHECK(import_date(import_format::mbox, none, hdr, mtime) == 2);
    CHECK(import_date(import_format::mbox, none, none, mtime) == 3);
    CHECK(import_date(import_format::maildir, env, hdr, mtime) == 3);
    CHECK(import_date(import_format::eml, none, hdr, none) == 2);
    CHECK(import_date(import_format::eml, none, none, none) == std::nullopt);
}
