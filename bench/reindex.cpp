// Indexing benchmark (not a test): measures archive::index_pending() — the MIME parse + header
// index + FTS5 pass that `mailvault sync` runs after fetching — on a copy of an existing archive,
// so the indexing share of a sync can be timed (and profiled) on its own.
//
//   mailvault_bench_reindex ARCHIVE [--copy-dir DIR]
//
// ARCHIVE is never modified: it is copied (checkpointed first) to DIR (default /tmp), where the
// index is dropped (docs/archive-format.md "Search index": the index-only tables told
// 'delete-all', search_text and header_index emptied, contents.indexed = 0) before each pass.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "archive/archive.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

namespace {

void reset_copy(const fs::path& src, const fs::path& dst) {
    for (auto ext : {"", "-wal", "-shm"}) fs::remove(dst.string() + ext);
    fs::copy_file(src, dst);
    if (fs::exists(src.string() + "-wal"))
        fs::copy_file(src.string() + "-wal", dst.string() + "-wal");
    const std::string sql =
        "sqlite3 '" + dst.string() +
        "' \"INSERT INTO search_exact (search_exact) VALUES ('delete-all'); INSERT INTO search_tri "
        "(search_tri) VALUES ('delete-all'); DELETE FROM search_text; DELETE FROM header_index; "
        "UPDATE contents SET indexed = 0; "
        "PRAGMA wal_checkpoint(TRUNCATE);\" >/dev/null";
    if (std::system(sql.c_str()) != 0) std::fprintf(stderr, "reindex: reset failed\n");
}

double pass(const fs::path& db, std::int64_t& n) {
    options o;
    o.defer_index = true;
    archive a(db, o);
    const auto t0 = std::chrono::steady_clock::now();
    n = a.index_pending();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: mailvault_bench_reindex ARCHIVE [--copy-dir DIR]\n");
        return 2;
    }
    const fs::path src = argv[1];
    fs::path dir = "/tmp";
    if (argc >= 4 && std::string(argv[2]) == "--copy-dir") dir = argv[3];
    const fs::path copy = dir / "mailvault-reindex-copy.sqlite";
    reset_copy(src, copy);
    std::int64_t n = 0;
    const double s = pass(copy, n);
    const auto size =
        fs::file_size(copy) +
        (fs::exists(copy.string() + "-wal") ? fs::file_size(copy.string() + "-wal") : 0);
    std::printf("index_pending: %lld msgs  %.2f s  %.0f msg/s  archive file %.1f MB\n",
                static_cast<long long>(n), s, static_cast<double>(n) / s,
                static_cast<double>(size) / 1e6);
    for (auto ext : {"", "-wal", "-shm"}) fs::remove(copy.string() + ext);
    return 0;
}
