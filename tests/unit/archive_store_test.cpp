// Archive storage: byte-exact round trips, dedup, chunking, codec choice, verification of damaged
// blobs, migrations, transactions and durability.
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include "harness/testbed.hpp"

#include "archive/archive.hpp"
#include "archive/schema_embedded.hpp"
#include "harness/local.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

namespace {

using mv::test::sql_exec;
using mv::test::temp_dir;  // removed on destruction (MV_KEEP_TMP keeps it)

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<fs::path> corpus_files() {
    std::vector<fs::path> out;
    for (auto& e : fs::recursive_directory_iterator(fs::path(MV_TEST_DATA_DIR) / "corpora"))
        if (e.is_regular_file()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

options create_opts() {
    options o;
    o.create = true;
    return o;
}

std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

}  // namespace

TEST_CASE("archive: every corpus file round-trips byte-exact", "[archive]") {
    temp_dir t;
    auto files = corpus_files();
    REQUIRE(files.size() > 500);
    std::vector<std::pair<fs::path, sha256>> stored;
    {
        archive a(t.path() / "a.mvault", create_opts());
        transaction tx(a);
        for (const auto& f : files) {
            std::string raw = slurp(f);
            auto r = a.put_content(raw);
            REQUIRE(r.hash == sha256_of(raw));
            stored.emplace_back(f, r.hash);
        }
        tx.commit();
    }
    archive a(t.path() / "a.mvault");
    std::string back;
    for (const auto& [f, h] : stored) {
        INFO(f.string());
        REQUIRE_FALSE(a.read_content(h, back));
        REQUIRE(back == slurp(f));
    }
    auto tot = a.totals();
    CHECK(tot.stored_bytes < tot.raw_bytes);
    auto rep = a.verify();
    CHECK(rep.ok());
    CHECK(rep.contents_checked == tot.contents);
}

TEST_CASE("archive: the same message is stored once", "[archive]") {
    temp_dir t;
    archive a(t.path() / "a.mvault", create_opts());
    std::string m = "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n";
    auto r1 = a.put_content(m);
    auto r2 = a.put_content(m);
    auto r3 = a.put_content(m + " ");
    CHECK(r1.inserted);
    CHECK_FALSE(r2.inserted);
    CHECK(r1.content_id == r2.content_id);
    CHECK(r3.inserted);
    CHECK(a.totals().contents == 2);
    CHECK(a.has_content(r1.hash));
    CHECK_FALSE(a.has_content(sha256_of("nope")));
}

TEST_CASE("archive: large messages are chunked and streamed, random data is stored raw",
          "[archive]") {
    temp_dir t;
    options o = create_opts();
    o.chunk_size = 64 * 1024;
    archive a(t.path() / "a.mvault", o);
    std::string text;
    while (text.size() < 1000 * 1000) text += "Line of very compressible mail text, number x.\r\n";
    auto big = a.put_content(text);
    auto info = a.content(big.hash);
    REQUIRE(info);
    CHECK(info->codec == "zstd");
    CHECK(info->chunk_count == (text.size() + o.chunk_size - 1) / o.chunk_size);
    CHECK(info->stored_size < info->raw_size / 4);
    size_t pieces = 0, largest = 0, total = 0;
    REQUIRE_FALSE(a.read_content(big.hash, [&](std::string_view p) {
        ++pieces;
        largest = std::max(largest, p.size());
        total += p.size();
    }));
    CHECK(pieces == info->chunk_count);
    CHECK(largest <= o.chunk_size);
    CHECK(total == text.size());

    std::string noise = random_bytes(200 * 1000, 7);
    auto rnd = a.put_content(noise);
    auto ri = a.content(rnd.hash);
    REQUIRE(ri);
    CHECK(ri->codec == "raw");
    CHECK(ri->stored_size == noise.size());
    std::string back;
    REQUIRE_FALSE(a.read_content(rnd.hash, back));
    CHECK(back == noise);

    auto empty = a.put_content("");
    REQUIRE_FALSE(a.read_content(empty.hash, back));
    CHECK(back.empty());
}

TEST_CASE("archive: a flipped byte in a stored blob is found by verify and named", "[archive]") {
    temp_dir t;
    auto db = t.path() / "a.mvault";
    sha256 victim;
    {
        archive a(db, create_opts());
        std::int64_t acc = a.upsert_account({"work", "imap", "imap.example", "me"});
        auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
        a.set_watermarks(mb.id, {42, 10, std::nullopt, std::nullopt});
        std::string m1 = "Subject: one\r\n\r\n" + std::string(5000, 'a') + "\r\n";
        std::string m2 = "Subject: two\r\n\r\n" + random_bytes(3000, 3);
        auto r1 = a.put_content(m1);
        auto r2 = a.put_content(m2);
        a.upsert_entry(
            {mb.id, 42, 7, std::nullopt, {"\\Seen"}, std::nullopt, 1, m1.size(), r1.hash});
        a.upsert_entry({mb.id, 42, 8, std::nullopt, {}, std::nullopt, 1, m2.size(), r2.hash});
        victim = r2.hash;
        CHECK(a.verify().ok());
    }
    // Flip one byte of the (raw-stored) second message with the sqlite3 API.
    sql_exec(
        db,
        "UPDATE chunks SET data = CAST(substr(data, 1, 100) || CASE WHEN substr(data, 101, 1) "
        "= x'41' THEN x'42' ELSE x'41' END || substr(data, 102) AS BLOB) WHERE content_id = 2");
    {
        sqlite3* h = nullptr;
        sqlite3_open(db.c_str(), &h);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(h, "SELECT typeof(data), length(data) FROM chunks WHERE content_id=2",
                           -1, &st, nullptr);
        REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "blob");
        sqlite3_finalize(st);
        sqlite3_close(h);
    }
    archive a(db);
    auto rep = a.verify();
    REQUIRE(rep.problems.size() == 1);
    const auto& p = rep.problems[0];
    REQUIRE(p.content);
    CHECK(*p.content == victim);
    REQUIRE(p.where.size() == 1);
    CHECK(p.where[0].account == "work");
    CHECK(p.where[0].mailbox == "INBOX");
    CHECK(p.where[0].uid == 8u);
    std::string out;
    auto e = a.read_content(victim, out);
    CHECK(e.code == mv::errc::archive_corrupt);
}

TEST_CASE("archive: a damaged zstd frame is reported, not crashed on", "[archive]") {
    temp_dir t;
    auto db = t.path() / "a.mvault";
    sha256 h;
    {
        archive a(db, create_opts());
        h = a.put_content("Subject: z\r\n\r\n" + std::string(20000, 'z')).hash;
    }
    sql_exec(db, "UPDATE chunks SET data = substr(data, 1, length(data) - 3) || x'000000'");
    archive a(db);
    std::string out;
    CHECK(a.read_content(h, out).code == mv::errc::archive_corrupt);
    CHECK_FALSE(a.verify().ok());
}

TEST_CASE("archive: migrations from an older version, a newer version is refused", "[archive]") {
    temp_dir t;
    auto db = t.path() / "old.mvault";
    const auto& migs = embedded_migrations();
    REQUIRE(migs.size() >= 2);
    REQUIRE(migs[0].version == 1);
    // An archive written by a program that knew only migration 1.
    sql_exec(db, std::string(migs[0].sql) +
                     "; PRAGMA user_version = 1; PRAGMA application_id = 1297501268;"
                     "INSERT INTO accounts (name, protocol, host, username, created_at) VALUES "
                     "('old', 'imap', 'h', 'u', 1);");
    {
        archive a(db);
        CHECK(a.user_version() == archive::schema_version());
        CHECK(a.find_account("old").has_value());
    }
    sql_exec(db, "SELECT count(*) FROM legal_holds");  // created by migration 2

    sql_exec(db, "PRAGMA user_version = 999");
    try {
        archive a(db);
        FAIL("opened an archive from the future");
    } catch (const mv::failure& f) {
        CHECK(f.err.code == mv::errc::archive);
        CHECK(f.err.message.find("newer") != std::string::npos);
    }

    // Not an archive / missing file.
    sql_exec(t.path() / "other.db", "CREATE TABLE x (y)");
    CHECK_THROWS_AS(archive(t.path() / "other.db"), mv::failure);
    CHECK_THROWS_AS(archive(t.path() / "missing.mvault"), mv::failure);
}

TEST_CASE("archive: WAL, foreign keys and read-only mode", "[archive]") {
    temp_dir t;
    auto db = t.path() / "a.mvault";
    sha256 h;
    {
        archive a(db, create_opts());
        h = a.put_content("Subject: x\r\n\r\ny\r\n").hash;
    }
    CHECK(fs::exists(db));
    {
        sqlite3* raw = nullptr;
        sqlite3_open(db.c_str(), &raw);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, nullptr);
        REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
        sqlite3_finalize(st);
        sqlite3_close(raw);
    }
    options ro;
    ro.read_only = true;
    archive a(db, ro);
    std::string back;
    CHECK_FALSE(a.read_content(h, back));
    CHECK(back == "Subject: x\r\n\r\ny\r\n");
    CHECK_THROWS_AS(a.put_content("more"), mv::failure);
}

TEST_CASE("archive: a transaction rolls back unless committed, full durability commits",
          "[archive]") {
    temp_dir t;
    auto db = t.path() / "a.mvault";
    archive a(db, create_opts());
    sha256 h1, h2;
    {
        transaction tx(a);
        h1 = a.put_content("Subject: rolled back\r\n\r\n").hash;
        CHECK(a.has_content(h1));
        CHECK_THROWS_AS(transaction(a), mv::failure);  // no nesting
    }
    CHECK_FALSE(a.has_content(h1));
    {
        transaction tx(a);
        h2 = a.put_content("Subject: kept\r\n\r\n").hash;
        tx.commit(durability::full);
    }
    CHECK(a.has_content(h2));
    archive b(db);
    CHECK(b.has_content(h2));
    CHECK_FALSE(b.has_content(h1));
}

TEST_CASE("archive: interrupt() ends a verify in progress and leaves the archive usable",
          "[archive][verify]") {
    // The watcher's periodic verify is stopped this way on SIGTERM (cli/cmd_watch.cpp).
    temp_dir t("mv-arch");
    archive a(t.path() / "a.mvault", create_opts());
    {
        transaction tx(a);
        for (int i = 0; i < 20; ++i)
            a.put_content("Subject: " + std::to_string(i) + "\r\n\r\nbody " + std::to_string(i) +
                          "\r\n");
        tx.commit();
    }
    int calls = 0;
    CHECK_THROWS(a.verify([&](std::int64_t, std::int64_t) {
        if (++calls == 3) a.interrupt();
    }));
    CHECK(calls == 3);  // the next step of the running statement was interrupted
    auto rep = a.verify();
    CHECK(rep.ok());
    CHECK(rep.contents_checked == 20);
}

TEST_CASE("archive: the audit mark and the rows written after it", "[archive][audit]") {
    temp_dir t("mv-arch");
    archive a(t.path() / "a.mvault", create_opts());
    CHECK(a.last_audit_seq() == 0);
    a.audit_append("one", "{}");
    a.audit_append("two", "{}");
    const auto mark = a.last_audit_seq();
    CHECK(mark >= 2);
    a.audit_append("three", "{}");
    std::vector<std::string> after;
    a.for_each_audit([&](const audit_row& r) { after.push_back(r.kind); }, mark);
    CHECK(after == std::vector<std::string>{"three"});
    std::size_t all = 0;
    a.for_each_audit([&](const audit_row&) { ++all; });
    CHECK(all == static_cast<std::size_t>(a.last_audit_seq()));
}
