// Archive ingest benchmark (not a test): stores every file of a directory N times into fresh
// archives, with and without a zstd dictionary, and reports messages/s, MB/s and the stored size
// as a fraction of the raw bytes.
//
//   mailvault_bench_ingest [DIR] [--repeat N] [--level L] [--batch B] [--no-index]
//
// DIR defaults to the test corpora. Repeats are made distinct (an X-Bench-Copy header is
// prepended) so dedup does not hide the work.
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "archive/archive.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

namespace {

struct run_result {
    double seconds = 0;
    std::int64_t messages = 0;
    archive_totals totals;
};

run_result ingest(const fs::path& db, const std::vector<std::string>& msgs, int repeat, options o,
                  std::size_t batch) {
    std::error_code ec;
    for (auto ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext, ec);
    o.create = true;
    archive a(db, o);
    run_result r;
    auto t0 = std::chrono::steady_clock::now();
    std::size_t in_batch = 0;
    auto tx = std::make_unique<transaction>(a);
    std::string copy;
    for (int rep = 0; rep < repeat; ++rep) {
        for (const auto& m : msgs) {
            copy = "X-Bench-Copy: " + std::to_string(rep) + "\r\n";
            copy += m;
            a.put_content(rep == 0 ? std::string_view(m) : std::string_view(copy));
            ++r.messages;
            if (++in_batch == batch) {
                tx->commit();
                tx = std::make_unique<transaction>(a);
                in_batch = 0;
            }
        }
    }
    tx->commit();
    tx.reset();
    if (o.defer_index) a.index_pending();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.totals = a.totals();
    return r;
}

void report(const char* label, const run_result& r) {
    double mb = static_cast<double>(r.totals.raw_bytes) / 1e6;
    std::printf(
        "%-22s %8lld msgs  %7.2f s  %9.0f msg/s  %7.1f MB/s  stored %5.1f%% of raw  (%lld dict)\n",
        label, static_cast<long long>(r.messages), r.seconds,
        static_cast<double>(r.messages) / r.seconds, mb / r.seconds,
        100.0 * static_cast<double>(r.totals.stored_bytes) /
            static_cast<double>(std::max<std::int64_t>(1, r.totals.raw_bytes)),
        static_cast<long long>(r.totals.dictionaries));
}

}  // namespace

int main(int argc, char** argv) {
    fs::path dir;
#ifdef MV_TEST_DATA_DIR
    dir = fs::path(MV_TEST_DATA_DIR) / "corpora";
#endif
    int repeat = 3, level = 6;
    std::size_t batch = 500;
    bool index = true;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--repeat" && i + 1 < argc)
            repeat = std::atoi(argv[++i]);
        else if (a == "--level" && i + 1 < argc)
            level = std::atoi(argv[++i]);
        else if (a == "--batch" && i + 1 < argc)
            batch = static_cast<std::size_t>(std::atol(argv[++i]));
        else if (a == "--no-index")
            index = false;
        else if (a == "-h" || a == "--help") {
            std::puts(
                "usage: mailvault_bench_ingest [DIR] [--repeat N] [--level L] [--batch B] "
                "[--no-index]");
            return 0;
        } else
            dir = a;
    }
    if (dir.empty() || !fs::is_directory(dir)) {
        std::fprintf(stderr, "give a directory of messages\n");
        return 2;
    }
    std::vector<std::string> msgs;
    for (auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        msgs.push_back(ss.str());
    }
    std::printf("%zu files from %s, repeated %d times, zstd level %d, batch %zu, index %s\n",
                msgs.size(), dir.c_str(), repeat, level, batch, index ? "on" : "off");
    fs::path tmp = fs::temp_directory_path() / ("mv-bench-" + std::to_string(::getpid()));
    fs::create_directories(tmp);

    options plain;
    plain.zstd_level = level;
    plain.defer_index = !index;
    plain.dictionary.enabled = false;
    report("zstd, no dictionary", ingest(tmp / "plain.mvault", msgs, repeat, plain, batch));

    options dict = plain;
    dict.dictionary.enabled = true;
    dict.dictionary.min_messages =
        std::min<std::int64_t>(1000, static_cast<std::int64_t>(msgs.size()) / 2);
    report("zstd + dictionary", ingest(tmp / "dict.mvault", msgs, repeat, dict, batch));

    std::error_code ec;
    fs::remove_all(tmp, ec);
    return 0;
}
