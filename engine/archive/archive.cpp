// The archive object itself: opening an archive file (checks, WAL, migrations), creating a new
// one without ever leaving a half-made file at its path, closing it, and the write transaction.
// What the archive holds is handled elsewhere, on the same archive::impl (archive_impl.hpp):
// catalog.cpp, content_store.cpp, entries.cpp, audit.cpp, search.cpp, purge.cpp, verify.cpp.
#include "archive/archive.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "archive/archive_impl.hpp"
#include "archive/schema_embedded.hpp"
#include "archive/sqlite.hpp"

namespace mv::archive {

transaction::transaction(archive& a) : a_(&a) {
    if (!a.d_) misuse("transaction on a closed archive");
    a.d_->require_writable();
    if (a.d_->db.in_transaction()) misuse("transactions do not nest");
    a.d_->db.exec("BEGIN IMMEDIATE");
    a.d_->poisoned = false;
}

transaction::~transaction() {
    if (done_ || !a_->d_) return;
    sqlite3_exec(a_->d_->db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    a_->d_->poisoned = false;
    a_->d_->after_rollback();
}

void transaction::commit(durability d) {
    if (done_) misuse("transaction committed twice");
    auto& i = *a_->d_;
    if (i.poisoned) {
        i.poisoned = false;
        done_ = true;
        sqlite3_exec(i.db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        i.after_rollback();
        throw mv::failure(errc::archive,
                          "an archive write failed inside this transaction; it was rolled back");
    }
    i.db.exec("COMMIT");
    done_ = true;
    if (d == durability::full) {
        // synchronous cannot change inside a transaction; a second, tiny commit made with
        // synchronous=FULL fsyncs the WAL, and with it every frame before it (ours included).
        i.db.exec("PRAGMA synchronous = FULL");
        try {
            i.db.exec("BEGIN IMMEDIATE");
            auto s = i.stmt(
                "INSERT INTO meta (key, value) VALUES ('last_durable_commit', ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value");
            s->bind(1, std::to_string(i.now()));
            s->run();
            i.db.exec("COMMIT");
        } catch (...) {
            sqlite3_exec(i.db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
            i.db.exec("PRAGMA synchronous = NORMAL");
            throw;
        }
        i.db.exec("PRAGMA synchronous = NORMAL");
    }
}

// ---------------------------------------------------------------------------------------------

archive::archive(const std::filesystem::path& path, options opts)
    : d_(std::make_unique<impl>(path, std::move(opts))) {
    d_->open();
}

archive::~archive() {
    close();
}
archive::archive(archive&&) noexcept = default;
archive& archive::operator=(archive&&) noexcept = default;

void archive::close() noexcept {
    if (!d_) return;
    d_->cache.clear();
    d_->db.close();
    d_.reset();
}

int archive::schema_version() {
    int v = 0;
    for (const auto& m : embedded_migrations()) v = std::max(v, m.version);
    return v;
}

int archive::user_version() const {
    return d_->version;
}
const std::filesystem::path& archive::path() const {
    return d_->path;
}

std::string exposure_warning(const std::filesystem::path& p) {
    struct stat self {};
    // No archive there (or an empty file, refused when opened): nothing exposed.
    if (::stat(p.c_str(), &self) != 0 || self.st_size == 0) return {};
    std::vector<std::string> files;
    std::string modes;
    auto check = [&](const std::filesystem::path& f, mode_t bad) {
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0 || (st.st_mode & bad) == 0) return false;
        char m[8];
        std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        modes += (modes.empty() ? "" : ", ") + f.filename().string() + " " + m;
        return true;
    };
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::path f = p;
        f += suffix;
        if (check(f, S_IRWXG | S_IRWXO)) files.push_back(f.string());
    }
    const std::filesystem::path dir = p.parent_path().empty() ? "." : p.parent_path();
    const bool dir_open = check(dir, S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH);
    if (files.empty() && !dir_open) return {};
    std::string fix;
    if (!files.empty()) fix = "`chmod 600 " + join(files) + "`";
    if (dir_open) fix += (fix.empty() ? "`" : " and `") + ("chmod 700 " + dir.string() + "`");
    return "the archive " + p.string() + " can be read by other users (" + modes +
           "); mail is private: run " + fix;
}

// ---- opening, creating, migrating ----------------------------------------------------------

void archive::impl::open() {
    struct stat st {};
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (!exists && (!opts.create || opts.read_only))
        throw mv::failure(errc::archive, "no archive at " + path.string() +
                                             (opts.read_only ? "" : " (create it first)"));
    // A new archive is never an empty file (see create_new), so an empty file is something
    // else: quite possibly the real archive lost by a failed copy or restore. Never make it
    // a new archive silently.
    if (exists && S_ISREG(st.st_mode) && st.st_size == 0)
        throw mv::failure(errc::archive,
                          path.string() +
                              " is empty (0 bytes): not a mailvault archive; if you mean to "
                              "start a new archive, remove it first");
    if (!exists) create_new();
    // Read-only use of a writable file still opens it read-write (with query_only on): after a
    // crash, SQLite must be able to recover the WAL, which a read-only handle cannot do.
    const bool writable_file =
        ::access(path.c_str(), W_OK) == 0 &&
        ::access(path.parent_path().empty() ? "." : path.parent_path().c_str(), W_OK) == 0;
    int flags = opts.read_only && !writable_file
                    ? SQLITE_OPEN_READONLY
                    : (SQLITE_OPEN_READWRITE | (opts.create ? SQLITE_OPEN_CREATE : 0));
    db = sql::database(path.string(), flags);
    sqlite3_busy_timeout(db.handle(), opts.busy_timeout_ms);
    db.exec("PRAGMA foreign_keys = ON");
    if (opts.read_only) db.exec("PRAGMA query_only = ON");

    try {
        version = static_cast<int>(scalar("PRAGMA user_version"));
    } catch (const mv::failure& f) {
        throw mv::failure(
            f.err.code == errc::archive_corrupt ? errc::archive_corrupt : errc::archive,
            path.string() + " is not a readable mailvault archive (" + f.err.message +
                "); check the path, or restore the file from a backup");
    }
    const int known = schema_version();
    if (version > known)
        throw mv::failure(errc::archive, "archive " + path.string() +
                                             " was written by a newer mailvault (schema " +
                                             std::to_string(version) +
                                             ", this program knows up to " + std::to_string(known) +
                                             "); upgrade mailvault to open it");
    if (version == 0 && scalar("SELECT count(*) FROM sqlite_master") > 0)
        throw mv::failure(errc::archive,
                          path.string() + " is an SQLite file but not a mailvault archive");
    if (version > 0 && scalar("PRAGMA application_id") != application_id)
        throw mv::failure(errc::archive, path.string() + " is not a mailvault archive");

    if (opts.read_only) {
        if (version < known)
            throw mv::failure(errc::archive, "archive " + path.string() + " has schema " +
                                                 std::to_string(version) +
                                                 "; open it once read-write to upgrade it");
    } else {
        auto s = db.prepare("PRAGMA journal_mode = WAL");
        std::string mode = s.step() ? s.text(0) : "";
        s.reset();
        if (mode != "wal")
            throw mv::failure(errc::archive, "archive " + path.string() +
                                                 ": cannot enable WAL (journal mode " + mode + ")");
        db.exec("PRAGMA synchronous = NORMAL");
        // 16 MB of page cache (bounded memory) and a checkpoint every ~64 MB of WAL instead of
        // 4 MB: fewer fsyncs during bulk ingest; readers are not affected.
        db.exec("PRAGMA cache_size = -16384");
        db.exec("PRAGMA wal_autocheckpoint = 16384");
        migrate();
    }
    cache.clear();
    load_dictionaries();
    content_count = scalar("SELECT coalesce(max(id), 0) FROM contents");
}

// Builds a new archive under a temporary name in the same directory, then moves it to `path`
// only if nothing is there: the path never holds a half-made (empty) archive, even after a
// kill. The file is created 0600 whatever the umask; SQLite gives -wal and -shm the
// database file's permissions. Missing parent directories are created 0700.
void archive::impl::create_new() {
    make_private_dirs(path.parent_path());
    const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
    const std::filesystem::path tmp =
        dir / ("." + path.filename().string() + ".creating-" + std::to_string(::getpid()));
    ::unlink(tmp.c_str());  // a leftover of an earlier crash of this pid number
    int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        throw mv::failure(errc::archive, "cannot create archive " + path.string() + ": " +
                                             std::strerror(errno) +
                                             "; check the directory exists and is writable");
    ::fchmod(fd, 0600);
    ::close(fd);
    try {
        db = sql::database(tmp.string(), SQLITE_OPEN_READWRITE);
        auto s = db.prepare("PRAGMA journal_mode = WAL");
        s.step();
        s.reset();
        migrate();
        cache.clear();
        db.close();  // checkpoints and removes tmp's -wal and -shm
        version = 0;
    } catch (...) {
        cache.clear();
        db.close();
        ::unlink(tmp.c_str());
        throw;
    }
    int rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
        // A file system without RENAME_NOREPLACE: link() fails the same way if path exists.
        rc = ::link(tmp.c_str(), path.c_str());
    }
    const int err = errno;
    ::unlink(tmp.c_str());
    // EEXIST: another process created the archive meanwhile; open that one.
    if (rc != 0 && err != EEXIST)
        throw mv::failure(errc::archive,
                          "cannot create archive " + path.string() + ": " + std::strerror(err));
}

// Creates the missing directories of `dir`, each 0700 whatever the umask; existing ones are
// left as they are.
void archive::impl::make_private_dirs(const std::filesystem::path& dir) {
    if (dir.empty()) return;
    std::filesystem::path p;
    for (const auto& part : dir) {
        p /= part;
        if (::mkdir(p.c_str(), 0700) == 0) {
            ::chmod(p.c_str(), 0700);
            continue;
        }
        const int err = errno;
        struct stat st {};
        if (err == EEXIST && ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
        throw mv::failure(errc::archive, "cannot create directory " + p.string() + ": " +
                                             std::strerror(err == EEXIST ? ENOTDIR : err));
    }
}

// Every pending migration in ONE transaction: a kill or a failure at any point leaves the
// archive at its old version, never between two migrations.
void archive::impl::migrate() {
    bool pending = false;
    for (const auto& m : embedded_migrations()) pending = pending || m.version > version;
    if (!pending) return;
    db.exec("BEGIN IMMEDIATE");
    const char* current = "";
    try {
        // Another process may have migrated while we waited for the lock.
        int v = static_cast<int>(scalar("PRAGMA user_version"));
        cache.clear();
        for (const auto& m : embedded_migrations()) {
            if (m.version <= v) continue;
            current = m.name.data();
            db.exec(m.sql);
            db.exec("PRAGMA user_version = " + std::to_string(m.version));
            v = m.version;
        }
        db.exec("PRAGMA application_id = " + std::to_string(application_id));
        db.exec("COMMIT");
        version = v;
    } catch (const mv::failure& f) {
        sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        cache.clear();
        throw mv::failure(errc::archive, "archive migration " + std::string(current) +
                                             " failed (nothing was changed): " + f.err.message);
    }
}

}  // namespace mv::archive
