// Small helpers shared by unit and integration tests: raw SQL on an archive file (to tamper with
// it or simulate an old schema), a scoped umask, and the peak RSS printed by /usr/bin/time -f %M.
#pragma once

#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "harness/testbed.hpp"

namespace mv::test {

// Runs SQL on the database file directly (not through the archive); fails the test on error.
inline void sql_exec(const std::filesystem::path& db, const std::string& q) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(h, q.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(h);
    REQUIRE(rc == SQLITE_OK);
}

struct umask_guard {
    explicit umask_guard(mode_t m) : old(::umask(m)) {}
    ~umask_guard() { ::umask(old); }
    umask_guard(const umask_guard&) = delete;
    umask_guard& operator=(const umask_guard&) = delete;
    mode_t old;
};

// The last line of a run under `/usr/bin/time -f %M`: the child's peak RSS in KB.
inline long peak_rss_kb(const run_result& r) {
    auto nl = r.errors.find_last_of('\n', r.errors.size() - 2);
    return std::stol(r.errors.substr(nl == std::string::npos ? 0 : nl + 1));
}

}  // namespace mv::test
