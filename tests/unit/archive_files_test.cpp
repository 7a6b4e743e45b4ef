// The archive file itself: created private (0600 file, -wal/-shm alike, 0700 directories) under
// any umask, an empty file refused instead of silently becoming a new archive, the warning for
// an exposed archive, and migration 6 (server counts, last completed sync) on an old archive.
#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "archive/archive.hpp"
#include "archive/schema_embedded.hpp"
#include "harness/local.hpp"
#include "harness/testbed.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;
using mv::test::sql_exec;
using mv::test::temp_dir;
using mv::test::umask_guard;

namespace {

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

options create_at(std::int64_t* clock) {
    options o;
    o.create = true;
    o.clock = [clock] { return *clock; };
    return o;
}

}  // namespace

TEST_CASE("archive files: created 0600 in 0700 directories whatever the umask",
          "[archive][files]") {
    umask_guard g(022);
    temp_dir t;
    const auto db = t.path() / "new" / "deeper" / "a.mvault";
    std::int64_t now = 5;
    {
        archive a(db, create_at(&now));
        auto acc = a.upsert_account({"w", "imap", "h", "u"});
        a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
        a.put_content("Subject: x\r\n\r\ny");
        // While open, SQLite has created -wal and -shm with the database file's permissions.
        REQUIRE(fs::exists(db.string() + "-wal"));
        REQUIRE(fs::exists(db.string() + "-shm"));
        CHECK(mode_of(db) == 0600);
        CHECK(mode_of(db.string() + "-wal") == 0600);
        CHECK(mode_of(db.string() + "-shm") == 0600);
        CHECK(mode_of(t.path() / "new") == 0700);
        CHECK(mode_of(t.path() / "new" / "deeper") == 0700);
        CHECK(exposure_warning(db).empty());
    }
    // Nothing but the archive was left in its directory (the temporary name is gone).
    for (const auto& e : fs::directory_iterator(db.parent_path()))
        CHECK(e.path().filename().string().find("creating") == std::string::npos);
    archive again(db, {});
    CHECK(again.user_version() == archive::schema_version());
}

TEST_CASE("archive files: an archive readable by others is warned about, with the fix",
          "[archive][files]") {
    temp_dir t;
    const auto dir = t.path() / "d";
    const auto db = dir / "a.mvault";
    std::int64_t now = 5;
    { archive a(db, create_at(&now)); }
    CHECK(exposure_warning(db).empty());
    ::chmod(db.c_str(), 0644);
    auto w = exposure_warning(db);
    CHECK(w.find("can be read by other users") != std::string::npos);
    CHECK(w.find("chmod 600 " + db.string()) != std::string::npos);
    CHECK(w.find("0644") != std::string::npos);
    CHECK(w.find('\n') == std::string::npos);
    ::chmod(db.c_str(), 0600);
    ::chmod(dir.c_str(), 0755);
    w = exposure_warning(db);
    CHECK(w.find("chmod 700 " + dir.string()) != std::string::npos);
    CHECK(w.find("chmod 600") == std::string::npos);
    ::chmod(dir.c_str(), 0711);  // others may traverse but not list: private enough
    CHECK(exposure_warning(db).empty());
    CHECK(exposure_warning(dir / "missing.mvault").empty());
}

TEST_CASE("archive files: an empty file is refused, not made a new archive", "[archive][files]") {
    temp_dir t;
    const auto db = t.path() / "a.mvault";
    mv::test::write_file(db, "");
    options o;
    o.create = true;
    try {
        archive a(db, o);
        FAIL("an empty file was opened as an archive");
    } catch (const mv::failure& f) {
        CHECK(f.err.code == mv::errc::archive);
        CHECK(f.err.message ==
              db.string() +
                  " is empty (0 bytes): not a mailvault archive; if you mean to start a new "
                  "archive, remove it first");
    }
    CHECK(fs::file_size(db) == 0);  // left as it was
    options ro;
    ro.read_only = true;
    CHECK_THROWS_AS(archive(db, ro), mv::failure);
    // A path where nothing exists still makes a new archive.
    fs::remove(db);
    archive a(db, o);
    CHECK(a.user_version() == archive::schema_version());
}

TEST_CASE("archive files: migration 6 upgrades an old archive, server counts and last sync",
          "[archive][files]") {
    temp_dir t;
    const auto db = t.path() / "old.mvault";
    // An archive as schema 5 left it, with an account, a folder and sync runs.
    std::string sql;
    for (const auto& m : embedded_migrations())
        if (m.version <= 5) sql += std::string(m.sql) + "\n";
    sql_exec(db, sql +
                     "PRAGMA user_version = 5; PRAGMA application_id = 1297501268;"
                     "INSERT INTO accounts VALUES (1, 'w', 'imap', 'h', 'u', 1);"
                     "INSERT INTO accounts VALUES (2, 'p', 'pop3', 'h', 'u', 1);"
                     "INSERT INTO mailboxes (id, account_id, wire_name, name) VALUES (1, 1, "
                     "'INBOX', 'INBOX');"
                     "INSERT INTO sync_runs (account_id, started_at, finished_at, status) VALUES "
                     "(1, 90, 100, 'ok'), (1, 190, 200, 'failed'), (1, 290, NULL, 'running'),"
                     "(2, 50, 60, 'failed');");
    std::int64_t now = 1000;
    options o = create_at(&now);
    o.create = false;
    archive a(db, o);
    CHECK(a.user_version() >= 6);  // migration 6 ran (later ones may follow)
    auto mb = a.mailbox(1);
    REQUIRE(mb);
    CHECK_FALSE(mb->server_messages);
    CHECK_FALSE(mb->server_counted_at);
    // Last completed = the latest run that finished ok; failed and unfinished runs do not count.
    CHECK(a.last_completed_sync(1) == std::optional<std::int64_t>(100));
    CHECK_FALSE(a.last_completed_sync(2));
    {
        transaction tx(a);
        a.set_server_count(1, 1700, 999);
        tx.commit();
    }
    {
        transaction tx(a);  // rolled back: the count follows the transaction
        a.set_server_count(1, 5, 1001);
    }
    mb = a.mailbox(1);
    CHECK(mb->server_messages == std::optional<std::int64_t>(1700));
    CHECK(mb->server_counted_at == std::optional<std::int64_t>(999));
    auto st = a.stats();  // folders with no archived entry are listed too
    REQUIRE(st.size() == 1);
    CHECK(st[0].messages == 0);
    CHECK(st[0].server_messages == std::optional<std::int64_t>(1700));
    auto run = a.begin_sync_run(2);
    now = 1234;
    a.finish_sync_run(run, "ok", {});
    CHECK(a.last_completed_sync(2) == std::optional<std::int64_t>(1234));
    auto accs = a.accounts();
    REQUIRE(accs.size() == 2);
    CHECK(accs[0].second.name == "p");
    CHECK(accs[1].second.name == "w");
    CHECK(a.verify().ok());
}
