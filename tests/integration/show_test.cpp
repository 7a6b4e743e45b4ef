// `mailvault show`: where a message is filed, its parts with sizes, --part N --output FILE
// (0600, no overwrite without --force), --uidl for POP3 messages.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "archive/archive.hpp"
#include "harness/local.hpp"
#include "harness/testbed.hpp"

namespace fs = std::filesystem;

namespace {

const std::string message =
    "From: Alice <alice@example.org>\r\nSubject: Minutes\r\nMessage-ID: <m1@example.org>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
    "Content-Type: text/plain\r\n\r\nThe minutes are attached.\r\n--b\r\nContent-Type: "
    "text/csv\r\nContent-Disposition: attachment; filename=\"minutes.csv\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nYSxiCjEsMgo=\r\n--b--\r\n";

void make_archive(const fs::path& p) {
    mv::archive::options o;
    o.create = true;
    mv::archive::archive a(p, o);
    auto put = a.put_content(message);
    auto imap = a.upsert_account({"work", "imap", "imap.example.org", "alice"});
    auto inbox = a.upsert_mailbox({imap, "INBOX", "INBOX", "/", std::nullopt});
    a.set_watermarks(inbox.id, {9, std::nullopt, std::nullopt, std::nullopt});
    mv::archive::entry_record e;
    e.mailbox_id = inbox.id;
    e.uidvalidity = 9;
    e.uid = 5;
    e.flags = {"\\Seen", "\\Flagged"};
    e.size = message.size();
    e.content = put.hash;
    e.internaldate = 1700000000;
    e.internaldate_tz = 60;
    a.upsert_entry(e);
    auto pop = a.upsert_account({"home", "pop3", "pop.example.org", "alice"});
    auto pin = a.upsert_mailbox({pop, "INBOX", "INBOX", std::nullopt, std::nullopt});
    mv::archive::entry_record p3;
    p3.mailbox_id = pin.id;
    p3.uidl = "UIDL-0007";
    p3.size = message.size();
    p3.content = put.hash;
    a.upsert_entry(p3);
}

}  // namespace

TEST_CASE("show: every entry holding the message, and its parts", "[show]") {
    mv::test::temp_dir dir;
    const fs::path db = dir / "a.sqlite";
    make_archive(db);
    auto r = mv::test::run_command({MV_CLI_PATH, "show", "--archive", db.string(), "--account",
                                    "work", "--folder", "INBOX", "--uid", "5"});
    REQUIRE(r.status == 0);
    CHECK(r.output.find("  home / INBOX  UIDL UIDL-0007  flags (none)") != std::string::npos);
    CHECK(r.output.find("  work / INBOX  UID 5 (UIDVALIDITY 9)  flags \\Flagged \\Seen  "
                        "INTERNALDATE 2023-11-14 23:13:20 +0100") != std::string::npos);
    CHECK(r.output.find("  1  text/plain  25 bytes  (body)") != std::string::npos);
    CHECK(r.output.find("  2  text/csv  8 bytes  minutes.csv  attachment") != std::string::npos);
    CHECK(r.output.find("The minutes are attached.") != std::string::npos);
}

TEST_CASE("show: --uidl finds a POP3 message", "[show]") {
    mv::test::temp_dir dir;
    const fs::path db = dir / "a.sqlite";
    make_archive(db);
    auto r = mv::test::run_command({MV_CLI_PATH, "show", "--archive", db.string(), "--account",
                                    "home", "--uidl", "UIDL-0007"});
    REQUIRE(r.status == 0);
    CHECK(r.output.find("Subject:    Minutes") != std::string::npos);
    auto missing = mv::test::run_command(
        {MV_CLI_PATH, "show", "--archive", db.string(), "--account", "home", "--uidl", "nope"});
    CHECK(missing.status == 2);
    CHECK(missing.errors.find("no message with UIDL nope") != std::string::npos);
}

TEST_CASE("show: --part N --output FILE saves the decoded attachment privately", "[show]") {
    mv::test::temp_dir dir;
    const fs::path db = dir / "a.sqlite";
    make_archive(db);
    const fs::path out = dir / "minutes.csv";
    std::vector<std::string> cmd = {MV_CLI_PATH, "show",     "--archive", db.string(), "--account",
                                    "work",      "--folder", "INBOX",     "--uid",     "5",
                                    "--part",    "2",        "--output",  out.string()};
    auto r = mv::test::run_command(cmd);
    REQUIRE(r.status == 0);
    CHECK(mv::test::read_file(out) == "a,b\n1,2\n");
    struct stat st {};
    REQUIRE(::stat(out.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    // An existing file is not replaced without --force.
    { std::ofstream(out) << "keep"; }
    auto again = mv::test::run_command(cmd);
    CHECK(again.status == 2);
    CHECK(again.errors.find("--force") != std::string::npos);
    CHECK(mv::test::read_file(out) == "keep");
    cmd.push_back("--force");
    CHECK(mv::test::run_command(cmd).status == 0);
    CHECK(mv::test::read_file(out) == "a,b\n1,2\n");
    // No such part: usage error, no file left behind.
    auto bad = mv::test::run_command({MV_CLI_PATH, "show", "--archive", db.string(), "--account",
                                      "work", "--folder", "INBOX", "--uid", "5", "--part", "7",
                                      "--output", (dir / "x").string()});
    CHECK(bad.status == 2);
    CHECK_FALSE(fs::exists(dir / "x"));
}

namespace {

std::string base64_lines(const std::string& in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve(in.size() / 3 * 4 + in.size() / 57 * 2 + 8);
    std::size_t col = 0;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
        out += t[(v >> 18) & 63];
        out += t[(v >> 12) & 63];
        out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
        out += i + 2 < in.size() ? t[v & 63] : '=';
        if ((col += 4) == 76) {
            out += "\r\n";
            col = 0;
        }
    }
    return out + "\r\n";
}

}  // namespace

// Issue #14: show and --part stream the message from a private spool file that GMime parses in
// place, so their memory does not follow the message's size. Peak RSS of the child process
// (/usr/bin/time) for a 120 MB message against a small one: before, both copies of the message
// (the string and GMime's memory stream, plus the decoded attachment) were resident: > 300 MB.
TEST_CASE("show: a 120 MB message is shown and its attachment saved in bounded memory",
          "[show][large]") {
    mv::test::temp_dir dir;
    const fs::path db = dir / "a.sqlite";
    make_archive(db);
    std::string attachment(80u << 20, '\0');
    {
        std::mt19937_64 rng(14);
        for (std::size_t i = 0; i + 8 <= attachment.size(); i += 8) {
            const auto v = rng();
            std::memcpy(attachment.data() + i, &v, 8);
        }
    }
    std::string text;
    while (text.size() < (12u << 20))
        text += "Line " + std::to_string(text.size()) + " of the log.\r\n";
    std::string big =
        "From: Bob <bob@example.org>\r\nSubject: Big one\r\nMessage-ID: <big@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" +
        text +
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        "filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
        base64_lines(attachment) + "--b--\r\n";
    REQUIRE(big.size() > (100u << 20));
    {
        mv::archive::archive a(db);
        auto put = a.put_content(big);
        auto acc = a.find_account("work");
        REQUIRE(acc);
        auto inbox = a.find_mailbox(*acc, "INBOX");
        REQUIRE(inbox);
        mv::archive::entry_record e;
        e.mailbox_id = inbox->id;
        e.uidvalidity = 9;
        e.uid = 6;
        e.size = big.size();
        e.content = put.hash;
        e.internaldate = 1700000000;
        a.upsert_entry(e);
        a.index_pending();  // here, so that the measured runs only show
    }
    big.clear();
    big.shrink_to_fit();
    const fs::path spool = dir / "tmp";
    fs::create_directory(spool);
    auto show = [&](const std::string& uid, std::vector<std::string> extra = {}) {
        std::vector<std::string> cmd = {
            "/usr/bin/time", "-f",   "%M",       MV_CLI_PATH, "show",  "--archive", db.string(),
            "--account",     "work", "--folder", "INBOX",     "--uid", uid};
        cmd.insert(cmd.end(), extra.begin(), extra.end());
        return mv::test::run_command(
            cmd, "",
            {{"ASAN_OPTIONS", "quarantine_size_mb=0:detect_leaks=0"}, {"TMPDIR", spool.string()}});
    };
    auto small = show("5");
    REQUIRE(small.status == 0);
    auto r = show("6");
    INFO(r.errors);
    REQUIRE(r.status == 0);
    CHECK(r.output.find("2  application/octet-stream  " + std::to_string(attachment.size()) +
                        " bytes  data.bin  attachment") != std::string::npos);
    CHECK(r.output.find("Line 0 of the log.") != std::string::npos);
    CHECK(r.output.find("[text truncated]") != std::string::npos);
    const fs::path out = dir / "data.bin";
    auto saved = show("6", {"--part", "2", "--output", out.string()});
    INFO(saved.errors);
    REQUIRE(saved.status == 0);
    CHECK(fs::file_size(out) == attachment.size());
    CHECK(mv::test::read_file(out) == attachment);
    const long base = mv::test::peak_rss_kb(small), view_kb = mv::test::peak_rss_kb(r),
               part_kb = mv::test::peak_rss_kb(saved);
    INFO("peak RSS: small message " << base << " KB, show " << view_kb << " KB, --part " << part_kb
                                    << " KB");
    // The body shown is capped at 8 MB (view_limits::max_body): that much, plus GMime's buffers.
    CHECK(view_kb - base < 48 * 1024);
    CHECK(part_kb - base < 48 * 1024);
    // The spool files were unlinked as soon as created: nothing is left in TMPDIR.
    CHECK(fs::is_empty(spool));
}
