// The archive's private state (archive::impl): the one database handle, its statement cache and
// the zstd codec, shared by the files of engine/archive that work directly on the database:
// archive.cpp (open, create, migrate), catalog.cpp, content_store.cpp, entries.cpp, audit.cpp,
// search.cpp, purge.cpp, verify.cpp, content_writer.cpp and ledger.cpp. Not part of the engine's
// API.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "archive/archive.hpp"
#include "archive/codec.hpp"
#include "archive/prepared.hpp"
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

// The statement cache is keyed by the SQL text itself (equal texts share one statement, whatever
// their address); the transparent hash lets a lookup by string_view go without allocating.
struct sql_text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

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
    std::unordered_map<std::string, sql::statement, detail::sql_text_hash, std::equal_to<>> cache;
    std::optional<std::int64_t> current_dict;
    // Contents stored so far, for the dictionary threshold: max(id) is O(1) where count(*)
    // scans the table on every open (about 0.3 s at 1M messages); ids are dense except after
    // a purge, which only makes the estimate high.
    std::int64_t content_count = 0;
    bool training_attempted = false;
    // Bumped whenever the dictionaries in memory change (load, train): preparers follow it.
    std::uint64_t dict_generation = 0;
    std::unique_ptr<preparer> prep;  // put()'s own (archive/prepared.hpp)
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

    use stmt(std::string_view sql_text) {
        auto it = cache.find(sql_text);
        if (it == cache.end())
            it = cache.emplace(std::string(sql_text), db.prepare(sql_text)).first;
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

    // Opening, creating and migrating the file (archive.cpp).
    void open();
    void create_new();
    static void make_private_dirs(const std::filesystem::path& dir);
    void migrate();

    // The content store: contents, chunks, dictionaries, header index (content_store.cpp).
    void load_dictionaries();
    std::optional<content_info> content_by_hash(const sha256& h);
    void write_chunks(std::int64_t content_id, std::string_view raw, size_t chunk,
                      const std::vector<std::string>& frames);
    static std::uint64_t chunk_count_for(std::uint64_t raw, std::uint64_t chunk) {
        return raw == 0 ? 1 : (raw + chunk - 1) / chunk;
    }
    put_result put(std::string_view raw);
    void index(std::int64_t content_id, std::string_view raw);
    mv::error stream(const content_info& c, const sink_fn& sink);
    void maybe_train();
    std::optional<std::int64_t> train();

    // Mailboxes (catalog.cpp).
    mailbox_state read_mailbox(sql::statement& s);
    std::optional<mailbox_state> mailbox(std::int64_t id);
    mailbox_state must_mailbox(std::int64_t id);

    // Entries (entries.cpp).
    std::int64_t content_id(const sha256& h);
    static entry_view read_entry(sql::statement& s, int base);

    // Where a content is filed, for verify's report (verify.cpp).
    std::vector<entry_location> locations(std::int64_t content_id);
};

}  // namespace mv::archive
