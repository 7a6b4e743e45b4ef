#include "archive/sqlite.hpp"

#include <string>
#include <utility>

namespace mv::archive::sql {

void throw_error(sqlite3* db, int rc, std::string_view what) {
    std::string msg = "archive: ";
    msg += what;
    msg += ": ";
    msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
        throw mv::failure(errc::archive_corrupt, msg);
    throw mv::failure(errc::archive, msg);
}

statement::statement(sqlite3* db, std::string_view sql) : db_(db) {
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) throw_error(db, rc, std::string("prepare ") + std::string(sql));
}

statement::~statement() {
    sqlite3_finalize(stmt_);
}

statement::statement(statement&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), stmt_(std::exchange(o.stmt_, nullptr)) {}

statement& statement::operator=(statement&& o) noexcept {
    if (this != &o) {
        sqlite3_finalize(stmt_);
        db_ = std::exchange(o.db_, nullptr);
        stmt_ = std::exchange(o.stmt_, nullptr);
    }
    return *this;
}

statement& statement::bind(int i, std::int64_t v) {
    int rc = sqlite3_bind_int64(stmt_, i, v);
    if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
    return *this;
}

statement& statement::bind(int i, std::string_view text) {
    int rc = sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
    return *this;
}

statement& statement::bind_blob(int i, std::span<const unsigned char> blob) {
    // A zero-length blob must still be a BLOB, not NULL: pass a non-null pointer.
    static const unsigned char empty = 0;
    const void* p = blob.empty() ? &empty : blob.data();
    int rc = sqlite3_bind_blob64(stmt_, i, p, blob.size(), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
    return *this;
}

statement& statement::bind_blob(int i, std::string_view blob) {
    return bind_blob(i, std::span<const unsigned char>(
                            reinterpret_cast<const unsigned char*>(blob.data()), blob.size()));
}

statement& statement::bind_null(int i) {
    int rc = sqlite3_bind_null(stmt_, i);
    if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
    return *this;
}

bool statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
        reset();
        return false;
    }
    std::string sqltext = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    throw_error(db_, rc, "step " + sqltext.substr(0, 60));
}

void statement::run() {
    while (step()) {
    }
}

void statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool statement::is_null(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t statement::int64(int col) const {
    return sqlite3_column_int64(stmt_, col);
}

std::optional<std::int64_t> statement::opt_int64(int col) const {
    if (is_null(col)) return std::nullopt;
    return int64(col);
}

std::string statement::text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n))
             : std::string();
}

std::optional<std::string> statement::opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return text(col);
}

std::string_view statement::blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    if (!p) return {};
    return {static_cast<const char*>(p), static_cast<size_t>(n)};
}

database::database(const std::string& path, int flags) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = "archive: cannot open " + path + ": " +
                          (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw mv::failure(errc::archive, msg);
    }
    sqlite3_extended_result_codes(db_, 1);
}

database::~database() {
    close();
}

database::database(database&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}

database& database::operator=(database&& o) noexcept {
    if (this != &o) {
        close();
        db_ = std::exchange(o.db_, nullptr);
    }
    return *this;
}

void database::close() noexcept {
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
}

void database::exec(std::string_view sql) {
    std::string s(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        std::string what = "exec " + s.substr(0, 60) + ": " + msg;
        if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
            throw mv::failure(errc::archive_corrupt, "archive: " + what);
        throw mv::failure(errc::archive, "archive: " + what);
    }
}

}  // namespace mv::archive::sql
