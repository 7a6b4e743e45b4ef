// `mailvault show`: where a message is filed, its parts with sizes, --part N --output FILE
// (0600, no overwrite without --force), --uidl for POP3 messages.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "archive/archive.hpp"
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
