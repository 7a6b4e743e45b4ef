// The archive's private state (archive::impl), shared by the files of engine/archive that work
// directly on the database: archive.cpp and content_writer.cpp. Not part of the engine's API.
#pragma once

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "archive/archive.hpp"
#include "archive/codec.hpp"
#include "archive/schema_embedded.hpp"
#include "archive/sqlite.hpp"

namespace mv::archive {

namespace detail {

inline constexpr std::int64_t application_id = 0x4D564C54;  // 'MVLT'

[[noreturn]] inline void misuse(std::string msg) {
    throw mv::failure(errc::internal, std::move(msg));
}

inline sha256 blob_hash(std::string_view b) {
    auto h = sha256::from_bytes(b);
    return h ? *h : sha256{};
}

inline std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += ' ';
        out += s;
    }
    return out;
}

}  // namespace detail

using detail::application_id;
using detail::blob_hash;
using detail::join;
using detail::misuse;

struct archive::impl {
    std::filesystem::path path;
    options opts;
    sql::database db;
    codec zstd;
    std::unordered_map<const char*, sql::statement> cache;
    std::optional<std::int64_t> current_dict;
    // Contents stored so far, for the dictionary threshold: max(id) is O(1) where count(*)
    // scans the table on every open (about 0.3 s at 1M messages); ids are dense except after
    // a purge, which only makes the estimate high.
    std::int64_t content_count = 0;
    bool training_attempted = false;
    int version = 0;

    impl(const std::filesystem::path& p, options o)
        : path(p), opts(std::move(o)), zstd(opts.zstd_level) {
        zstd.set_level(opts.zstd_level);
        if (!opts.clock) opts.clock = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
        if (opts.chunk_size == 0) opts.chunk_size = default_chunk_size;
    }

    std::int64_t now() const { return opts.clock(); }

    // A cached statement, reset when the guard goes away.
    class use {
    public:
        explicit use(sql::statement& s) : s_(s) {}
        ~use() { s_.reset(); }
        use(const use&) = delete;
        use& operator=(const use&) = delete;
        sql::statement* operator->() { return &s_; }
        sql::statement& operator*() { return s_; }

    private:
        sql::statement& s_;
    };

    use stmt(const char* sql_text) {
        auto it = cache.find(sql_text);
        if (it == cache.end()) it = cache.emplace(sql_text, db.prepare(sql_text)).first;
        return use(it->second);
    }

    void require_writable() const {
        if (opts.read_only) misuse("archive opened read-only");
    }

    // Makes one archive operation atomic. Outside a transaction it is its own transaction.
    // Inside the caller's transaction it costs nothing: a real SAVEPOINT per message would make
    // FTS5 flush its pending terms on every RELEASE (measured: most of the ingest time, and a
    // fragmented index). If the operation fails half-way there, the transaction is poisoned:
    // its commit() refuses and rolls everything back, so no half-written content can land.
    class savepoint {
    public:
        explicit savepoint(impl& i) : i_(i), own_(!i.db.in_transaction()) {
            if (own_) i_.db.exec("BEGIN IMMEDIATE");
        }
        ~savepoint() {
            if (done_) return;
            if (own_) {
                sqlite3_exec(i_.db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
                i_.after_rollback();
            } else {
                i_.poisoned = true;
            }
        }
        savepoint(const savepoint&) = delete;
        savepoint& operator=(const savepoint&) = delete;
        void release() {
            if (own_) i_.db.exec("COMMIT");
            done_ = true;
        }

    private:
        impl& i_;
        bool own_;
        bool done_ = false;
    };
    bool poisoned = false;  // an operation failed inside the current transaction

    // A rollback may have undone a dictionary insert: the cached ids must follow the database.
    void after_rollback() noexcept {
        try {
            load_dictionaries();
            content_count = scalar("SELECT coalesce(max(id), 0) FROM contents");
        } catch (...) {
        }
    }

    std::int64_t scalar(const char* q) {
        auto s = stmt(q);
        return s->step() ? s->int64(0) : 0;
    }

    void load_dictionaries() {
        current_dict.reset();
        auto s = db.prepare("SELECT id, data FROM dictionaries ORDER BY id");
        zstd.clear_dictionaries();
        while (s.step()) {
            std::int64_t id = s.int64(0);
            zstd.add_dictionary(id, std::string(s.blob(1)));
            current_dict = id;
        }
    }

    void open() {
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
            throw mv::failure(errc::archive,
                              "archive " + path.string() +
                                  " was written by a newer mailvault (schema " +
                                  std::to_string(version) + ", this program knows up to " +
                                  std::to_string(known) + "); upgrade mailvault to open it");
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
                throw mv::failure(
                    errc::archive,
                    "archive " + path.string() + ": cannot enable WAL (journal mode " + mode + ")");
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
    void create_new() {
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
    static void make_private_dirs(const std::filesystem::path& dir) {
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
    void migrate() {
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

    std::optional<content_info> content_by_hash(const sha256& h) {
        auto s = stmt(
            "SELECT id, raw_size, stored_size, codec, dictionary_id, chunk_size, chunk_count, "
            "indexed FROM contents WHERE sha256 = ?");
        s->bind_blob(1, h.view());
        if (!s->step()) return std::nullopt;
        content_info c;
        c.id = s->int64(0);
        c.hash = h;
        c.raw_size = static_cast<std::uint64_t>(s->int64(1));
        c.stored_size = static_cast<std::uint64_t>(s->int64(2));
        c.codec = s->text(3);
        c.dictionary_id = s->opt_int64(4);
        c.chunk_size = static_cast<std::uint64_t>(s->int64(5));
        c.chunk_count = static_cast<std::uint64_t>(s->int64(6));
        c.indexed = s->int64(7) != 0;
        return c;
    }

    // Compresses raw into frames; returns false (frames empty) when compression does not help.
    bool compress_all(std::string_view raw, std::optional<std::int64_t> dict, size_t chunk,
                      std::vector<std::string>& frames, std::uint64_t& stored) {
        frames.clear();
        stored = 0;
        for (size_t off = 0; off < raw.size() || (off == 0 && raw.empty()); off += chunk) {
            frames.emplace_back();
            zstd.compress(raw.substr(off, chunk), dict, frames.back());
            stored += frames.back().size();
            if (raw.empty()) break;
        }
        // Not worth it unless it saves at least 3% (decompression costs time on every read).
        if (stored + stored / 32 >= raw.size()) {
            frames.clear();
            return false;
        }
        return true;
    }

    void write_chunks(std::int64_t content_id, std::string_view raw, size_t chunk,
                      const std::vector<std::string>& frames) {
        auto ins = stmt("INSERT INTO chunks (content_id, seq, data) VALUES (?, ?, ?)");
        if (!frames.empty()) {
            for (size_t i = 0; i < frames.size(); ++i) {
                ins->bind(1, content_id)
                    .bind(2, static_cast<std::int64_t>(i))
                    .bind_blob(3, frames[i]);
                ins->run();
            }
            return;
        }
        std::int64_t seq = 0;
        for (size_t off = 0; off < raw.size() || (off == 0 && raw.empty()); off += chunk) {
            ins->bind(1, content_id).bind(2, seq++).bind_blob(3, raw.substr(off, chunk));
            ins->run();
            if (raw.empty()) break;
        }
    }

    static std::uint64_t chunk_count_for(std::uint64_t raw, std::uint64_t chunk) {
        return raw == 0 ? 1 : (raw + chunk - 1) / chunk;
    }

    put_result put(std::string_view raw) {
        require_writable();
        put_result r;
        r.hash = sha256_of(raw);
        if (auto c = content_by_hash(r.hash)) {
            r.content_id = c->id;
            return r;
        }
        maybe_train();
        savepoint sp(*this);
        std::vector<std::string> frames;
        std::uint64_t stored = 0;
        size_t chunk = opts.chunk_size;
        bool compressed = compress_all(raw, current_dict, chunk, frames, stored);
        if (!compressed) stored = raw.size();
        {
            auto s = stmt(
                "INSERT INTO contents (sha256, raw_size, stored_size, codec, dictionary_id, "
                "chunk_size, chunk_count, created_at, header_hash) VALUES (?, ?, ?, ?, ?, ?, ?, "
                "?, ?)");
            s->bind_blob(1, r.hash.view())
                .bind(2, static_cast<std::int64_t>(raw.size()))
                .bind(3, static_cast<std::int64_t>(stored))
                .bind(4, compressed ? "zstd" : "raw");
            if (compressed && current_dict)
                s->bind(5, *current_dict);
            else
                s->bind_null(5);
            s->bind(6, static_cast<std::int64_t>(chunk))
                .bind(7, static_cast<std::int64_t>(chunk_count_for(raw.size(), chunk)))
                .bind(8, now());
            const sha256 hh = header_hash(raw);
            s->bind_blob(9, hh.view());
            s->run();
        }
        r.content_id = db.last_insert_rowid();
        write_chunks(r.content_id, raw, chunk, frames);
        frames.clear();
        if (!opts.defer_index) index(r.content_id, raw);
        sp.release();
        r.inserted = true;
        ++content_count;
        return r;
    }

    void index(std::int64_t content_id, std::string_view raw) {
        mime::message_index mi = mime::parse(raw, opts.index_limits);
        sha256 hh = header_hash(raw);
        {
            auto s = stmt(
                "INSERT OR REPLACE INTO header_index (content_id, parse_status, message_id, "
                "in_reply_to, refs, from_addr, to_addr, cc_addr, subject, date_epoch, date_raw, "
                "header_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
            s->bind(1, content_id).bind(2, mi.parsed ? "ok" : "failed");
            auto opt = [&](int i, const std::string& v) {
                if (v.empty())
                    s->bind_null(i);
                else
                    s->bind(i, std::string_view(v));
            };
            opt(3, mi.message_id);
            opt(4, mi.in_reply_to);
            opt(5, join(mi.references));
            opt(6, mi.from);
            opt(7, mi.to);
            opt(8, mi.cc);
            opt(9, mi.subject);
            s->bind(10, mi.date_epoch);
            opt(11, mi.date_raw);
            s->bind_blob(12, hh.view());
            s->run();
        }
        {
            auto del = stmt("DELETE FROM message_fts WHERE rowid = ?");
            del->bind(1, content_id);
            del->run();
        }
        if (mi.parsed) {
            auto s =
                stmt("INSERT INTO message_fts (rowid, subject, addresses, body) VALUES (?,?,?,?)");
            std::string addrs = mi.from;
            for (const auto* a : {&mi.to, &mi.cc})
                if (!a->empty()) addrs += (addrs.empty() ? "" : ", ") + *a;
            s->bind(1, content_id)
                .bind(2, std::string_view(mi.subject))
                .bind(3, std::string_view(addrs))
                .bind(4, std::string_view(mi.text));
            s->run();
        }
        auto u = stmt("UPDATE contents SET indexed = 1 WHERE id = ?");
        u->bind(1, content_id);
        u->run();
    }

    // Streams one content's bytes: decompress chunk by chunk, re-hash, compare.
    mv::error stream(const content_info& c, const sink_fn& sink) {
        auto s = db.prepare("SELECT seq, data FROM chunks WHERE content_id = ? ORDER BY seq");
        s.bind(1, c.id);
        sha256_hasher hasher;
        std::uint64_t total = 0;
        std::int64_t expected_seq = 0;
        std::string buf;
        std::optional<std::int64_t> dict =
            c.codec == "zstd" ? c.dictionary_id : std::optional<std::int64_t>{};
        auto fail = [&](std::string what) {
            s.reset();
            return mv::error(errc::archive_corrupt, "content " + c.hash.hex() + ": " + what);
        };
        while (s.step()) {
            if (s.int64(0) != expected_seq)
                return fail("chunk " + std::to_string(expected_seq) + " is missing");
            ++expected_seq;
            std::string_view data = s.blob(1);
            std::string_view piece;
            if (c.codec == "zstd") {
                if (auto e = zstd.decompress(data, dict, c.chunk_size, buf))
                    return fail("chunk " + std::to_string(expected_seq - 1) + ": " + e.message);
                piece = buf;
            } else {
                piece = data;
            }
            bool last = static_cast<std::uint64_t>(expected_seq) == c.chunk_count;
            if (piece.size() > c.chunk_size || (!last && piece.size() != c.chunk_size))
                return fail("chunk " + std::to_string(expected_seq - 1) + " has a wrong size");
            total += piece.size();
            hasher.update(piece);
            if (sink) sink(piece);
        }
        if (static_cast<std::uint64_t>(expected_seq) != c.chunk_count)
            return fail("has " + std::to_string(expected_seq) + " chunks, expected " +
                        std::to_string(c.chunk_count));
        if (total != c.raw_size)
            return fail("size " + std::to_string(total) + " differs from recorded " +
                        std::to_string(c.raw_size));
        if (hasher.final() != c.hash) return fail("SHA-256 mismatch (stored bytes are damaged)");
        return {};
    }

    void maybe_train() {
        if (!opts.dictionary.enabled || current_dict || training_attempted) return;
        if (content_count < opts.dictionary.min_messages) return;
        training_attempted = true;
        train();
    }

    std::optional<std::int64_t> train() {
        require_writable();
        std::vector<std::string> samples;
        std::size_t sample_bytes = 0;
        {
            std::vector<std::int64_t> ids;
            auto s = db.prepare("SELECT id FROM contents ORDER BY random() LIMIT ?");
            s.bind(1, static_cast<std::int64_t>(opts.dictionary.max_samples));
            while (s.step()) ids.push_back(s.int64(0));
            for (auto id : ids) {
                auto c = db.prepare(
                    "SELECT c.codec, c.dictionary_id, c.chunk_size, k.data FROM contents c JOIN "
                    "chunks k ON k.content_id = c.id AND k.seq = 0 WHERE c.id = ?");
                c.bind(1, id);
                if (!c.step()) continue;
                std::string piece;
                if (c.text(0) == "zstd") {
                    if (zstd.decompress(c.blob(3), c.opt_int64(1), static_cast<size_t>(c.int64(2)),
                                        piece))
                        continue;
                } else {
                    piece = std::string(c.blob(3));
                }
                c.reset();
                // Only the prefix is kept, in a string of its own size: a 1 MiB chunk's buffer
                // held for each of thousands of samples was most of a sync's peak memory.
                if (piece.size() > opts.dictionary.sample_prefix)
                    piece = piece.substr(0, opts.dictionary.sample_prefix);
                if (piece.empty()) continue;
                sample_bytes += piece.size();
                samples.push_back(std::move(piece));
            }
        }
        if (samples.size() < 16) return std::nullopt;
        std::string dict = codec::train(samples, opts.dictionary.dict_size);
        if (dict.empty()) return std::nullopt;
        savepoint sp(*this);
        auto s = stmt(
            "INSERT INTO dictionaries (zstd_dict_id, created_at, sample_count, sample_bytes, data) "
            "VALUES (?, ?, ?, ?, ?)");
        s->bind(1, static_cast<std::int64_t>(codec::dictionary_id(dict)))
            .bind(2, now())
            .bind(3, static_cast<std::int64_t>(samples.size()))
            .bind(4, static_cast<std::int64_t>(sample_bytes))
            .bind_blob(5, dict);
        s->run();
        std::int64_t id = db.last_insert_rowid();
        sp.release();
        zstd.add_dictionary(id, std::move(dict));
        current_dict = id;
        return id;
    }

    mailbox_state read_mailbox(sql::statement& s) {
        mailbox_state m;
        m.id = s.int64(0);
        m.account_id = s.int64(1);
        m.wire_name = s.text(2);
        m.name = s.text(3);
        m.delimiter = s.opt_text(4);
        m.special_use = s.opt_text(5);
        if (auto v = s.opt_int64(6)) m.uidvalidity = static_cast<std::uint32_t>(*v);
        if (auto v = s.opt_int64(7)) m.uidnext = static_cast<std::uint32_t>(*v);
        if (auto v = s.opt_int64(8)) m.highestmodseq = static_cast<std::uint64_t>(*v);
        if (auto v = s.opt_int64(9)) m.last_uid = static_cast<std::uint32_t>(*v);
        m.generation = s.int64(10);
        m.last_synced = s.opt_int64(11);
        m.server_messages = s.opt_int64(12);
        m.server_counted_at = s.opt_int64(13);
        return m;
    }

#define MV_MAILBOX_COLS                                                               \
    "id, account_id, wire_name, name, delimiter, special_use, uidvalidity, uidnext, " \
    "highestmodseq, last_uid, generation, last_synced, server_messages, server_counted_at"

    std::optional<mailbox_state> mailbox(std::int64_t id) {
        auto s = stmt("SELECT " MV_MAILBOX_COLS " FROM mailboxes WHERE id = ?");
        s->bind(1, id);
        if (!s->step()) return std::nullopt;
        return read_mailbox(*s);
    }

    mailbox_state must_mailbox(std::int64_t id) {
        auto m = mailbox(id);
        if (!m) misuse("no mailbox with id " + std::to_string(id));
        return *m;
    }

    std::int64_t content_id(const sha256& h) {
        auto s = stmt("SELECT id FROM contents WHERE sha256 = ?");
        s->bind_blob(1, h.view());
        if (!s->step()) misuse("content " + h.hex() + " is not in the archive: put_content first");
        return s->int64(0);
    }

    static entry_view read_entry(sql::statement& s, int base) {
        // columns: id, generation, uid, uidl, flags, modseq, internaldate, size, sha256,
        // expunged_at, internaldate_tz
        entry_view e;
        e.id = s.int64(base);
        e.generation = s.int64(base + 1);
        if (auto v = s.opt_int64(base + 2)) e.uid = static_cast<std::uint32_t>(*v);
        e.uidl = s.opt_text(base + 3);
        e.flags = s.text(base + 4);
        if (auto v = s.opt_int64(base + 5)) e.modseq = static_cast<std::uint64_t>(*v);
        e.internaldate = s.opt_int64(base + 6);
        e.size = static_cast<std::uint64_t>(s.int64(base + 7));
        e.content = blob_hash(s.blob(base + 8));
        e.expunged_at = s.opt_int64(base + 9);
        if (auto v = s.opt_int64(base + 10)) e.internaldate_tz = static_cast<int>(*v);
        return e;
    }

#define MV_ENTRY_COLS                                                                          \
    "e.id, e.generation, e.uid, e.uidl, e.flags, e.modseq, e.internaldate, e.size, c.sha256, " \
    "e.expunged_at, e.internaldate_tz"

    std::vector<entry_location> locations(std::int64_t content_id) {
        std::vector<entry_location> out;
        auto s = db.prepare(
            "SELECT a.name, m.name, e.uid, e.uidl FROM entries e JOIN mailboxes m ON m.id = "
            "e.mailbox_id JOIN accounts a ON a.id = m.account_id WHERE e.content_id = ? ORDER BY "
            "e.id");
        s.bind(1, content_id);
        while (s.step()) {
            entry_location l{s.text(0), s.text(1), std::nullopt, s.opt_text(3)};
            if (auto v = s.opt_int64(2)) l.uid = static_cast<std::uint32_t>(*v);
            out.push_back(std::move(l));
        }
        return out;
    }
};

}  // namespace mv::archive
