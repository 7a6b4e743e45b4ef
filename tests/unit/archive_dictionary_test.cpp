// zstd dictionaries: trained from stored mail, used for new mail, applied to old mail by
// recompress; on small messages they beat plain zstd.
#include <stdlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include "harness/testbed.hpp"

#include "archive/archive.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

namespace {

using mv::test::temp_dir;  // removed on destruction (MV_KEEP_TMP keeps it)

std::vector<std::string> small_corpus_messages() {
    std::vector<std::string> out;
    for (auto& e : fs::recursive_directory_iterator(fs::path(MV_TEST_DATA_DIR) / "corpora")) {
        auto ext = e.path().extension();
        if (!e.is_regular_file() || (ext != ".eml" && ext != ".msg")) continue;
        if (e.file_size() > 64 * 1024) continue;
        std::ifstream in(e.path(), std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        out.push_back(ss.str());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("archive: a trained dictionary makes small messages smaller than plain zstd",
          "[archive][dictionary]") {
    temp_dir t;
    auto msgs = small_corpus_messages();
    REQUIRE(msgs.size() > 100);
    options o;
    o.create = true;
    o.dictionary.enabled = false;
    archive a(t.path() / "a.mvault", o);
    {
        transaction tx(a);
        for (const auto& m : msgs) a.put_content(m);
        tx.commit();
    }
    auto plain = a.totals();
    REQUIRE_FALSE(a.current_dictionary());
    auto st = a.recompress({50, true, false});
    REQUIRE(a.current_dictionary());
    auto dict = a.totals();
    std::cout << "dictionary test: " << msgs.size() << " small messages, raw " << plain.raw_bytes
              << " B, zstd " << plain.stored_bytes << " B, zstd+dictionary " << dict.stored_bytes
              << " B (" << st.rewritten << " rewritten)\n";
    CHECK(st.rewritten > 0);
    CHECK(dict.stored_bytes < plain.stored_bytes);
    CHECK(dict.dictionaries == 1);
    // Everything still reads back.
    std::string back;
    for (const auto& m : msgs) {
        REQUIRE_FALSE(a.read_content(sha256_of(m), back));
        REQUIRE(back == m);
    }
    CHECK(a.verify().ok());
}

TEST_CASE("archive: dictionary training triggers at the policy threshold and is used",
          "[archive][dictionary]") {
    temp_dir t;
    auto msgs = small_corpus_messages();
    options o;
    o.create = true;
    o.dictionary.min_messages = 100;
    auto db = t.path() / "a.mvault";
    std::string last;
    {
        archive a(db, o);
        transaction tx(a);
        size_t i = 0;
        for (std::int64_t stored = 0; stored < 100; ++i) stored += a.put_content(msgs[i]).inserted;
        CHECK_FALSE(a.current_dictionary());
        auto r = a.put_content(msgs[i]);
        REQUIRE(r.inserted);
        last = msgs[i];
        REQUIRE(a.current_dictionary());
        CHECK(a.content(r.hash)->dictionary_id == a.current_dictionary());
        tx.commit();
    }
    {
        // A rolled-back training leaves no stale dictionary behind.
        archive a(db, o);
        REQUIRE(a.current_dictionary() == 1);
        {
            transaction tx(a);
            CHECK(a.train_dictionary() == 2);
        }
        CHECK(a.current_dictionary() == 1);
        auto r = a.put_content(msgs.back());
        CHECK(a.content(r.hash)->dictionary_id == 1);
        CHECK(a.verify().ok());
    }
    archive again(db);  // dictionaries are loaded from the file
    std::string back;
    REQUIRE_FALSE(again.read_content(sha256_of(last), back));
    CHECK(back == last);
}
