// Base64 runs stored decoded (archive/segments.hpp) and the two-step store that writes them
// (archive/prepared.hpp): exact re-encoding, every refusal that keeps a run inline, byte-exact
// round trips through the archive, one copy of a repeated attachment, verification of damaged
// parts, and purge keeping a part while another message still carries it.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <openssl/evp.h>

#include "archive/archive.hpp"
#include "archive/prepared.hpp"
#include "archive/segments.hpp"
#include "harness/local.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;
using mv::test::sql_exec;
using mv::test::temp_dir;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

// Base64 of `data` in lines of `line_len` characters (OpenSSL, independent of the encoder under
// test).
std::string b64_lines(std::string_view data, std::size_t line_len, const char* eol) {
    std::string flat((data.size() + 2) / 3 * 4 + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(flat.data()),
                            reinterpret_cast<const unsigned char*>(data.data()),
                            static_cast<int>(data.size()));
    flat.resize(static_cast<std::size_t>(n));
    std::string out;
    for (std::size_t i = 0; i < flat.size(); i += line_len) out += flat.substr(i, line_len) + eol;
    return out;
}

std::string mime_message(std::string_view attachment, const std::string& to,
                         std::size_t line_len = 76, const char* eol = "\r\n") {
    std::string m = std::string("From: a@example.org") + eol + "To: " + to + eol +
                    "Subject: report" + eol + "MIME-Version: 1.0" + eol +
                    "Content-Type: multipart/mixed; boundary=\"b1\"" + eol + eol + "--b1" + eol +
                    "Content-Type: text/plain" + eol + eol + "Please find the report for " + to +
                    " attached." + eol + eol + "--b1" + eol + "Content-Type: application/pdf" +
                    eol + "Content-Transfer-Encoding: base64" + eol + eol;
    m += b64_lines(attachment, line_len, eol);
    m += std::string(eol) + "--b1--" + eol;
    return m;
}

std::string reencode(const segments::run& r, std::string_view decoded, std::size_t piece) {
    segments::encoder enc(r.line_len, r.crlf);
    std::string out;
    for (std::size_t i = 0; i < decoded.size(); i += piece) enc.feed(decoded.substr(i, piece), out);
    enc.finish(out);
    return out;
}

options create_opts(std::size_t part_min = 1024) {
    options o;
    o.create = true;
    o.part_min_size = part_min;
    o.dictionary.enabled = false;
    return o;
}

put_result put_two_step(archive& a, std::string_view raw) {
    preparer p(a);
    auto prepared = p.prepare(raw);
    return a.put_prepared(prepared);
}

std::int64_t count(const fs::path& db, const std::string& q) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, q.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

}  // namespace

TEST_CASE("segments: a base64 attachment is found, decoded and re-encoded exactly",
          "[archive][parts]") {
    for (const char* eol : {"\r\n", "\n"}) {
        for (std::size_t size : {std::size_t{3000}, std::size_t{3001}, std::size_t{3002}}) {
            const std::string att = random_bytes(size, static_cast<unsigned>(size));
            const std::string msg = mime_message(att, "b@example.org", 76, eol);
            std::vector<std::string> decoded;
            auto runs = segments::find_runs(msg, 1024, &decoded);
            REQUIRE(runs.size() == 1);
            REQUIRE(decoded.size() == 1);
            CHECK(decoded[0] == att);
            CHECK(runs[0].decoded_size == att.size());
            CHECK(runs[0].line_len == 76);
            CHECK(runs[0].crlf == (std::string_view(eol) == "\r\n"));
            const std::string encoded = b64_lines(att, 76, eol);
            CHECK(msg.substr(runs[0].offset, runs[0].length) == encoded);
            // The encoder gives back the run whatever pieces the decoded bytes come in.
            for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{56},
                                      std::size_t{57}, std::size_t{58}, std::size_t{1000}})
                CHECK(reencode(runs[0], decoded[0], piece) == encoded);
        }
    }
}

TEST_CASE("segments: what does not re-encode exactly stays inline", "[archive][parts]") {
    const std::string att = random_bytes(4000, 7);
    std::string body = b64_lines(att, 64, "\r\n");
    SECTION("below the minimum size") {
        CHECK(segments::find_runs(body, body.size() + 1).empty());
        CHECK(segments::find_runs(body, body.size()).size() == 1);
    }
    SECTION("non-zero padding bits") {
        // 4000 bytes: one byte in the last group, "xw==" style; make its unused bits non-zero.
        std::string bad = body;
        const std::size_t last = bad.rfind("==");
        REQUIRE(last != std::string::npos);
        char& c = bad[last - 1];
        REQUIRE((c == 'A' || c == 'Q' || c == 'g' || c == 'w'));  // canonical: low bits zero
        c = static_cast<char>(c + 1);
        // Decodes to the same bytes, but cannot be reproduced from them: kept inline.
        std::vector<std::string> dec;
        CHECK(segments::find_runs(bad, 1024, &dec).empty());
        CHECK(dec.empty());
        CHECK(segments::find_runs(body, 1024).size() == 1);
    }
    SECTION("mixed line ends split the run") {
        std::string mixed = body;
        const std::size_t cut = mixed.find("\r\n", 64 * 30);
        mixed.erase(cut, 1);  // one LF-only line end in the middle
        for (const auto& r : segments::find_runs(mixed, 0)) {
            // No run may cross the odd line end, and each one re-encodes exactly.
            CHECK((r.offset + r.length <= cut + 1 || r.offset > cut));
        }
    }
    SECTION("a last line without a line end is left out") {
        std::string open = body.substr(0, body.size() - 2);
        for (const auto& r : segments::find_runs(open, 0))
            CHECK(r.offset + r.length <= open.size() - 1);
    }
    SECTION("text that merely looks like base64 round-trips too") {
        const std::string text = "Hello\r\nabcd\r\nABCDEFGH\r\nnot base64 at all\r\n";
        std::vector<std::string> dec;
        auto runs = segments::find_runs(text, 0, &dec);
        for (std::size_t i = 0; i < runs.size(); ++i)
            CHECK(reencode(runs[i], dec[i], 5) == text.substr(runs[i].offset, runs[i].length));
    }
}

TEST_CASE("segments: random splices re-encode exactly", "[archive][parts]") {
    std::mt19937 rng(42);
    for (int round = 0; round < 200; ++round) {
        const std::size_t len = 4 * (1 + rng() % 40);
        const std::string att = random_bytes(rng() % 5000, static_cast<unsigned>(round));
        std::string msg =
            "X: y\r\n\r\n" + b64_lines(att, len, rng() % 2 ? "\r\n" : "\n") + "--\r\n";
        std::vector<std::string> dec;
        auto runs = segments::find_runs(msg, 0, &dec);
        for (std::size_t i = 0; i < runs.size(); ++i)
            REQUIRE(reencode(runs[i], dec[i], 1 + rng() % 100) ==
                    msg.substr(runs[i].offset, runs[i].length));
    }
}

TEST_CASE("archive: messages with parts round-trip byte-exact and verify", "[archive][parts]") {
    temp_dir t;
    const fs::path db = t.path() / "a.sqlite";
    archive a(db, create_opts());
    const std::string att = random_bytes(200000, 1);
    const std::string text_att(150000, 'x');  // compressible part
    std::vector<std::string> msgs = {
        mime_message(att, "one@example.org"), mime_message(att, "two@example.org", 64),
        mime_message(att, "three@example.org", 76, "\n"), mime_message(text_att, "four@x"),
        "Subject: no parts\r\n\r\nplain\r\n"};
    std::vector<sha256> hashes;
    for (const auto& m : msgs) {
        auto r = put_two_step(a, m);
        CHECK(r.inserted);
        CHECK(r.hash == sha256_of(m));
        hashes.push_back(r.hash);
    }
    // The same message again: nothing new.
    CHECK_FALSE(put_two_step(a, msgs[0]).inserted);
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        std::string back;
        REQUIRE_FALSE(a.read_content(hashes[i], back));
        CHECK(back == msgs[i]);
        // The ordinary path gives the same bytes.
        CHECK(a.content(hashes[i])->raw_size == msgs[i].size());
    }
    // One stored copy of the random attachment for three messages with three encodings.
    CHECK(count(db, "SELECT count(*) FROM parts") == 2);
    CHECK(count(db, "SELECT count(*) FROM content_parts") == 4);
    CHECK(count(db, "SELECT sum(stored_size) FROM parts WHERE codec = 'raw'") == 200000);
    CHECK(count(db, "SELECT count(*) FROM parts WHERE codec = 'zstd'") == 1);
    auto rep = a.verify();
    CHECK(rep.problems.empty());
    CHECK(rep.contents_checked == 5);
}

TEST_CASE("archive: a damaged or missing part fails verification by name", "[archive][parts]") {
    temp_dir t;
    const fs::path db = t.path() / "a.sqlite";
    const std::string msg = mime_message(random_bytes(50000, 3), "x@example.org");
    {
        archive a(db, create_opts());
        put_two_step(a, msg);
    }
    SECTION("flipped byte") {
        sql_exec(db,
                 "UPDATE part_chunks SET data = substr(data, 1, 10) || X'00' || substr(data, 12)");
        archive a(db, {});
        auto rep = a.verify();
        REQUIRE(rep.problems.size() == 1);
        CHECK_THAT(rep.problems[0].what, Catch::Contains("SHA-256 mismatch"));
        std::string back;
        CHECK(a.read_content(sha256_of(msg), back).code == mv::errc::archive_corrupt);
    }
    SECTION("missing part row") {
        sql_exec(db, "PRAGMA foreign_keys = OFF; DELETE FROM part_chunks; DELETE FROM parts");
        archive a(db, {});
        auto rep = a.verify();
        REQUIRE_FALSE(rep.problems.empty());
        bool named = false;
        for (const auto& p : rep.problems)
            named = named || p.what.find("part ") != std::string::npos;
        CHECK(named);
    }
}

TEST_CASE("archive: purge keeps a part while another message carries it", "[archive][parts]") {
    temp_dir t;
    const fs::path db = t.path() / "a.sqlite";
    archive a(db, create_opts());
    const std::string att = random_bytes(80000, 9);
    const std::string m1 = mime_message(att, "one@example.org");
    const std::string m2 = mime_message(att, "two@example.org");
    auto acct = a.upsert_account({"acct", "imap", "h", "u"});
    auto mb = a.upsert_mailbox({acct, "INBOX", "INBOX", "/", std::nullopt});
    a.set_watermarks(mb.id, {1, std::nullopt, std::nullopt, std::nullopt});
    std::uint32_t uid = 0;
    for (const auto* m : {&m1, &m2}) {
        auto r = put_two_step(a, *m);
        entry_record e;
        e.mailbox_id = mb.id;
        e.uidvalidity = 1;
        e.uid = ++uid;
        e.size = m->size();
        e.content = r.hash;
        REQUIRE(a.upsert_entry(e) == upsert_result::inserted);
    }
    const std::vector<std::int64_t> ids = {count(db, "SELECT min(id) FROM entries"),
                                           count(db, "SELECT max(id) FROM entries")};
    auto one = a.purge_entries(std::vector<std::int64_t>{ids[0]});
    CHECK(one.contents == 1);
    CHECK(count(db, "SELECT count(*) FROM parts") == 1);
    std::string back;
    REQUIRE_FALSE(a.read_content(sha256_of(m2), back));
    CHECK(back == m2);
    a.purge_entries(std::vector<std::int64_t>{ids[1]});
    CHECK(count(db, "SELECT count(*) FROM parts") == 0);
    CHECK(count(db, "SELECT count(*) FROM part_chunks") == 0);
    CHECK(count(db, "SELECT count(*) FROM content_parts") == 0);
    CHECK(a.verify().problems.empty());
}
