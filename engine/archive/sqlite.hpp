// A thin RAII layer over the SQLite C API, used only inside engine/archive. Failures throw
// mv::failure{errc::archive} carrying SQLite's message; a statement is reset when a step loop
// ends so cached statements can be reused.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mailvault/error.hpp"

namespace mv::archive::sql {

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view what);

class statement {
public:
    statement() = default;
    statement(sqlite3* db, std::string_view sql);
    ~statement();
    statement(statement&& o) noexcept;
    statement& operator=(statement&& o) noexcept;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    // Binding (1-based indexes, as in SQLite).
    statement& bind(int i, std::int64_t v);
    statement& bind(int i, std::string_view text);
    statement& bind_blob(int i, std::span<const unsigned char> blob);
    statement& bind_blob(int i, std::string_view blob);
    statement& bind_null(int i);
    template <class T>
    statement& bind(int i, const std::optional<T>& v) {
        if (v) return bind(i, *v);
        return bind_null(i);
    }

    // true: a row is available; false: done (the statement is reset and bindings cleared).
    bool step();
    // Runs to completion (for INSERT/UPDATE/DELETE), then resets.
    void run();
    void reset();

    bool is_null(int col) const;
    std::int64_t int64(int col) const;
    std::optional<std::int64_t> opt_int64(int col) const;
    std::string text(int col) const;
    std::optional<std::string> opt_text(int col) const;
    std::string_view blob(int col) const;  // valid until the next step/reset

    sqlite3_stmt* handle() const { return stmt_; }

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

class database {
public:
    database() = default;
    database(const std::string& path, int flags);
    ~database();
    database(database&& o) noexcept;
    database& operator=(database&& o) noexcept;
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    void exec(std::string_view sql);
    statement prepare(std::string_view sql) { return statement(db_, sql); }
    std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
    int changes() const { return sqlite3_changes(db_); }
    bool in_transaction() const { return db_ && !sqlite3_get_autocommit(db_); }
    sqlite3* handle() const { return db_; }
    void close() noexcept;

private:
    sqlite3* db_ = nullptr;
};

}  // namespace mv::archive::sql
