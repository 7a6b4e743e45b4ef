// `mailvault search` and `export --query`, the real program on a local archive (no server): the
// issue's failing examples (joe@perches.com, perches.com, 2.6.38-rc4, from:perches, Hà, 日本語),
// the "N of M" summary on stderr, --json fields, --format=files, --count and exit codes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "harness/local.hpp"
#include "harness/testbed.hpp"

namespace fs = std::filesystem;
using namespace mv::test;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

// work/INBOX: the search test messages (UIDs in file order) plus 60 filler messages.
void fill(const fs::path& db) {
    mv::archive::options o;
    o.create = true;
    mv::archive::archive a(db, o);
    auto acc = a.upsert_account({"work", "imap", "h", "u"});
    auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
    mv::archive::transaction tx(a);
    a.set_watermarks(mb.id, {7, std::nullopt, std::nullopt, std::nullopt});
    std::uint32_t uid = 1;
    auto add = [&](const std::string& m, std::vector<std::string> flags) {
        auto h = a.put_content(m).hash;
        a.upsert_entry({mb.id, 7, uid++, std::nullopt, flags, std::nullopt, 1000, m.size(), h});
    };
    const fs::path dir = fs::path(MV_TEST_DATA_DIR) / "search";
    for (const char* n : {"vi-hanoi", "vi-ha", "vi-plain", "ja-shiryo", "en-perches", "en-other"})
        add(slurp(dir / (std::string(n) + ".eml")), std::string(n) == "en-perches"
                                                        ? std::vector<std::string>{"\\Seen"}
                                                        : std::vector<std::string>{});
    for (int i = 0; i < 60; ++i) {
        char date[64];
        std::snprintf(date, sizeof date, "Date: Mon, %d Jan 2018 10:00:00 +0000\r\n", 1 + i % 28);
        add("From: Filler <filler@example.com>\r\nSubject: filler number " + std::to_string(i) +
                "\r\n" + date + "\r\nnothing to see here " + std::to_string(i) + "\r\n",
            {});
    }
    tx.commit();
}

struct cli {
    temp_dir t;
    fs::path db = t.path() / "a.mvault";
    cli() { fill(db); }
    run_result search(std::vector<std::string> args) {
        std::vector<std::string> argv{MV_CLI_PATH, "search", "--archive", db.string()};
        for (auto& a : args) argv.push_back(a);
        return run_command(argv);
    }
    std::vector<nlohmann::json> json(const std::string& q) {
        auto r = search({"--json", q});
        REQUIRE(r.status == 0);
        std::vector<nlohmann::json> out;
        std::istringstream in(r.output);
        for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
        return out;
    }
    std::set<std::string> subjects(const std::string& q) {
        std::set<std::string> out;
        auto r = search({"--json", "--limit", "0", q});
        if (r.status == 1) return out;
        REQUIRE(r.status == 0);
        std::istringstream in(r.output);
        for (std::string line; std::getline(in, line);)
            out.insert(nlohmann::json::parse(line)["subject"].get<std::string>());
        return out;
    }
};

const std::string perches = "[PATCH] checkpatch: fix 2.6.38-rc4 regression";
const std::string other = "Re: perches and other birds";

}  // namespace

TEST_CASE("search cli: the issue's examples", "[search][cli]") {
    cli c;
    using S = std::set<std::string>;
    CHECK(c.subjects("joe@perches.com") == S{perches});
    CHECK(c.subjects("perches.com") == S{perches, other});
    CHECK(c.subjects("2.6.38-rc4") == S{perches});
    CHECK(c.subjects("from:perches") == S{perches});
    CHECK(c.subjects("Hà") == S{"Cuộc họp ở Hà Nội"});
    CHECK(c.subjects("ha") == S{"Cuộc họp ở Hà Nội", "Giá cả", "Ha ha, weekend plans"});
    CHECK(c.subjects("日本語") == S{"資料の件"});
    CHECK(c.subjects("x86:") == S{perches});
    // Several arguments are one query (implicit AND).
    auto r = c.search({"from:perches", "regression"});
    CHECK(r.status == 0);
    CHECK(r.output.find("checkpatch") != std::string::npos);
}

TEST_CASE("search cli: output, summary line, paging", "[search][cli]") {
    cli c;
    auto r = c.search({"filler"});
    CHECK(r.status == 0);
    // Text: two lines per hit (the hit, its snippet), newest first; the summary on stderr.
    std::istringstream in(r.output);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    CHECK(lines.size() == 100);
    CHECK(lines[0].rfind("2018-01-28 10:00  Filler <filler@example.com>  filler number", 0) == 0);
    CHECK(lines[1].find("[filler]") != std::string::npos);
    CHECK(r.errors == "50 of 60 matches (hits 1-50; more with --offset 50, all with --limit 0)\n");
    CHECK(r.output.find("of 60") == std::string::npos);

    r = c.search({"--offset", "50", "filler"});
    CHECK(r.status == 0);
    CHECK(r.errors == "10 matches (hits 51-60)\n");

    r = c.search({"--limit", "0", "--format", "files", "filler OR Hà"});
    CHECK(r.status == 0);
    CHECK(r.errors == "61 matches\n");
    std::istringstream files(r.output);
    std::set<std::string> shas;
    for (std::string l; std::getline(files, l);) {
        CHECK(l.size() == 64);
        shas.insert(l);
    }
    CHECK(shas.size() == 61);

    r = c.search({"--count", "filler"});
    CHECK(r.status == 0);
    CHECK(r.output == "60\n");
    CHECK(r.errors.empty());

    r = c.search({"--sort", "relevance", "perches"});
    CHECK(r.status == 0);
    CHECK(r.errors == "2 matches\n");
}

TEST_CASE("search cli: --json objects", "[search][cli]") {
    cli c;
    auto hits = c.json("from:perches");
    REQUIRE(hits.size() == 1);
    const auto& j = hits[0];
    CHECK(j["version"] == 1);
    CHECK(j["account"] == "work");
    CHECK(j["folder"] == "INBOX");
    CHECK(j["uid"] == 5);
    CHECK(j["uidl"].is_null());
    CHECK(j["date"] == "2011-02-14T18:00:00Z");
    CHECK(j["from"] == "Joe Perches <joe@perches.com>");
    CHECK(j["to"] == "linux-kernel@vger.kernel.org");
    CHECK(j["subject"] == perches);
    CHECK(j["size"].get<std::int64_t>() > 300);
    CHECK(j["flags"] == nlohmann::json::array({"\\Seen"}));
    CHECK(j["sha256"].get<std::string>().size() == 64);
    CHECK(j["expunged"] == false);
    CHECK(j["held"] == false);
    CHECK(j["snippet"].get<std::string>().find("\x02Perches\x03") != std::string::npos);
}

TEST_CASE("search cli: exit codes and errors", "[search][cli]") {
    cli c;
    auto r = c.search({"nothingmatchesthis"});
    CHECK(r.status == 1);
    CHECK(r.output.empty());
    CHECK(r.errors == "no matches\n");
    r = c.search({"--count", "nothingmatchesthis"});
    CHECK(r.status == 1);
    CHECK(r.output == "0\n");
    r = c.search({"hello (world"});
    CHECK(r.status == 2);
    CHECK(r.errors.find("search: unclosed \"(\" at column 7") != std::string::npos);
    CHECK(r.errors.find("SQL") == std::string::npos);
    r = c.search({"date:2024-13"});
    CHECK(r.status == 2);
    CHECK(r.errors.find("month 13 is out of range at column 6") != std::string::npos);
    r = c.search({"larger:abc"});
    CHECK(r.status == 2);
    r = c.search({"--sort", "size", "x"});
    CHECK(r.status == 2);
}

TEST_CASE("export --query selects with the same language", "[search][cli]") {
    cli c;
    const fs::path out = c.t.path() / "out";
    auto r = run_command({MV_CLI_PATH, "export", "--archive", c.db.string(), "--format", "eml",
                          "--out", out.string(), "--query", "ha OR 日本語"});
    CHECK(r.status == 0);
    CHECK(r.output.find("exported 4 messages") != std::string::npos);
    std::size_t files = 0;
    for (auto& e : fs::recursive_directory_iterator(out))
        if (e.is_regular_file()) ++files;
    CHECK(files == 4);
    r = run_command({MV_CLI_PATH, "export", "--archive", c.db.string(), "--format", "eml", "--out",
                     (c.t.path() / "bad").string(), "--query", "(unclosed"});
    CHECK(r.status == 2);
    CHECK(r.errors.find("unclosed \"(\" at column 1") != std::string::npos);
    CHECK_FALSE(fs::exists(c.t.path() / "bad"));
}
