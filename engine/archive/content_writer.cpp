#include "archive/content_writer.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "archive/archive_impl.hpp"

namespace mv::archive {

// How the stored format is reached without holding the message (docs/archive-format.md):
// * A message of at most one chunk is kept whole and stored by put() itself: identical result,
//   index included. A full chunk is written only once a byte beyond it arrives.
// * Longer messages: each chunk is compressed with the dictionary current at the first chunk and
//   written at once, under a placeholder contents row (hash unknown yet). Each chunk is written
//   in the form it compresses best in (zstd frame or raw bytes); the content-wide codec decision
//   (zstd unless it saves less than 3%, as put() decides) is made at finish(), and only the
//   chunks written in the other form are rewritten, one at a time. Frames are deterministic, so
//   the chunks are byte-identical to what put() stores. Such contents are left for
//   index_pending() (indexed = 0): the MIME parse needs the whole message.
// * finish() then looks the hash up: already stored -> the placeholder and its chunks are
//   deleted (dedup); else the placeholder becomes the real row.
struct content_writer::impl {
    archive::impl& a;
    const std::size_t chunk;
    sha256_hasher hasher;
    sha256_hasher header_hasher;
    bool header_done = false;
    char tail[3] = {0, 0, 0};  // the last bytes seen, to find the header end across appends
    std::uint64_t total = 0;
    std::string pending;  // raw bytes of the chunk being filled
    std::string frame;    // compression buffer
    std::string convert;  // rewrite buffer (finish)
    // Multi-chunk state.
    std::optional<std::int64_t> id;  // placeholder contents row
    std::optional<std::int64_t> dict;
    std::vector<bool> as_zstd;  // per written chunk: stored as a zstd frame (else raw)
    std::uint64_t compressed_total = 0;
    bool own_tx = false;
    bool finished = false;

    impl(archive::impl& ai) : a(ai), chunk(ai.opts.chunk_size) {}

    void scan_header(std::string_view b) {
        // End of the header block: the first CRLF CRLF or LF LF (archive/hash.cpp header_block).
        std::size_t end = std::string_view::npos;
        for (std::size_t i = b.find('\n'); i != std::string_view::npos; i = b.find('\n', i + 1)) {
            auto at = [&](std::size_t back) -> char {  // byte `back` positions before i
                return back <= i ? b[i - back] : tail[3 - (back - i)];
            };
            if (at(1) == '\n' || (at(1) == '\r' && at(2) == '\n' && at(3) == '\r')) {
                end = i + 1;
                break;
            }
        }
        if (end == std::string_view::npos) {
            header_hasher.update(b);
            for (char c : b.substr(b.size() > 3 ? b.size() - 3 : 0)) {
                tail[0] = tail[1];
                tail[1] = tail[2];
                tail[2] = c;
            }
            return;
        }
        header_hasher.update(b.substr(0, end));
        header_done = true;
    }

    void begin_placeholder() {
        a.maybe_train();
        dict = a.current_dict;
        // A unique stand-in for the hash, replaced in finish(); never committed (the caller's
        // transaction rolls back, or finish()/the destructor remove it).
        std::string placeholder(32, '\0');
        std::string tag = "mailvault-pending";
        std::copy(tag.begin(), tag.end(), placeholder.begin());
        auto s = a.stmt(
            "INSERT INTO contents (sha256, raw_size, stored_size, codec, chunk_size, chunk_count, "
            "created_at) VALUES (?, 0, 0, 'raw', ?, 0, ?)");
        // Distinct per writer: the address of this object and a counter.
        static std::atomic<std::uint64_t> counter{0};
        std::uint64_t n = ++counter, self = reinterpret_cast<std::uintptr_t>(this);
        for (int i = 0; i < 7; ++i) {
            placeholder[17 + i] = static_cast<char>((n >> (8 * i)) & 0xff);
            placeholder[24 + i] = static_cast<char>((self >> (8 * i)) & 0xff);
        }
        s->bind_blob(1, placeholder).bind(2, static_cast<std::int64_t>(chunk)).bind(3, a.now());
        s->run();
        id = a.db.last_insert_rowid();
    }

    void write_chunk(std::string_view piece) {
        if (!id) begin_placeholder();
        a.zstd.compress(piece, dict, frame);
        compressed_total += frame.size();
        const bool z = frame.size() + frame.size() / 32 < piece.size();
        auto ins = a.stmt("INSERT INTO chunks (content_id, seq, data) VALUES (?, ?, ?)");
        ins->bind(1, *id)
            .bind(2, static_cast<std::int64_t>(as_zstd.size()))
            .bind_blob(3, z ? std::string_view(frame) : piece);
        ins->run();
        as_zstd.push_back(z);
    }

    void append(std::string_view b) {
        if (finished) misuse("content_writer: append after finish");
        hasher.update(b);
        if (!header_done) scan_header(b);
        total += b.size();
        while (!b.empty()) {
            if (pending.size() == chunk) {
                write_chunk(pending);
                pending.clear();
            }
            std::size_t n = std::min(b.size(), chunk - pending.size());
            pending.append(b.substr(0, n));
            b.remove_prefix(n);
        }
    }

    void discard() {
        for (const char* q :
             {"DELETE FROM chunks WHERE content_id = ?", "DELETE FROM contents WHERE id = ?"}) {
            auto s = a.stmt(q);
            s->bind(1, *id);
            s->run();
        }
        id.reset();
    }

    put_result finish() {
        if (finished) misuse("content_writer: finish called twice");
        finished = true;
        if (!id) return a.put(pending);  // at most one chunk: put() does exactly the same
        write_chunk(pending);
        pending.clear();
        pending.shrink_to_fit();
        put_result r;
        r.hash = hasher.final();
        if (auto c = a.content_by_hash(r.hash)) {
            discard();
            r.content_id = c->id;
            return r;
        }
        const bool zstd = compressed_total + compressed_total / 32 < total;
        for (std::size_t seq = 0; seq < as_zstd.size(); ++seq) {
            if (as_zstd[seq] == zstd) continue;
            std::int64_t row = 0;
            {
                auto s = a.stmt("SELECT id, data FROM chunks WHERE content_id = ? AND seq = ?");
                s->bind(1, *id).bind(2, static_cast<std::int64_t>(seq));
                if (!s->step())
                    misuse("content_writer: chunk " + std::to_string(seq) + " vanished");
                row = s->int64(0);
                if (zstd) {
                    a.zstd.compress(s->blob(1), dict, convert);
                } else if (auto e = a.zstd.decompress(s->blob(1), dict, chunk, convert)) {
                    throw mv::failure(errc::archive, "content_writer: " + e.message);
                }
            }
            auto u = a.stmt("UPDATE chunks SET data = ? WHERE id = ?");
            u->bind_blob(1, convert).bind(2, row);
            u->run();
        }
        convert.clear();
        convert.shrink_to_fit();
        const sha256 hh = header_hasher.final();
        auto s = a.stmt(
            "UPDATE contents SET sha256 = ?, raw_size = ?, stored_size = ?, codec = ?, "
            "dictionary_id = ?, chunk_count = ?, header_hash = ? WHERE id = ?");
        s->bind_blob(1, r.hash.view())
            .bind(2, static_cast<std::int64_t>(total))
            .bind(3, static_cast<std::int64_t>(zstd ? compressed_total : total))
            .bind(4, zstd ? "zstd" : "raw");
        if (zstd && dict)
            s->bind(5, *dict);
        else
            s->bind_null(5);
        s->bind(6, static_cast<std::int64_t>(as_zstd.size())).bind_blob(7, hh.view()).bind(8, *id);
        s->run();
        r.content_id = *id;
        r.inserted = true;
        ++a.content_count;
        id.reset();
        return r;
    }
};

content_writer::content_writer(archive& a) {
    if (!a.d_) misuse("content_writer on a closed archive");
    a.d_->require_writable();
    d_ = std::make_unique<impl>(*a.d_);
    // Without a caller's transaction the writer is its own: everything it writes lands at
    // finish() or not at all.
    if (!a.d_->db.in_transaction()) {
        a.d_->db.exec("BEGIN IMMEDIATE");
        d_->own_tx = true;
    }
}

content_writer::~content_writer() {
    if (!d_) return;
    auto& a = d_->a;
    if (d_->own_tx) {  // finish() was not called or failed
        if (a.db.in_transaction()) {
            sqlite3_exec(a.db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
            a.after_rollback();
        }
        return;
    }
    if (!d_->id) return;
    // Aborted inside the caller's transaction: remove what was written, so a caller that goes
    // on and commits other messages commits nothing of this one. If that fails, the
    // transaction cannot commit at all.
    try {
        d_->discard();
    } catch (...) {
        a.poisoned = true;
    }
}

void content_writer::append(std::string_view bytes) {
    try {
        d_->append(bytes);
    } catch (const mv::failure& f) {
        d_->finished = true;  // no finish() after a failed write
        if (!d_->own_tx) d_->a.poisoned = true;
        throw mv::failure(f.err.code == errc::internal ? errc::internal : errc::archive,
                          f.err.message);
    }
}

put_result content_writer::finish() {
    try {
        auto r = d_->finish();
        if (d_->own_tx) {
            d_->a.db.exec("COMMIT");
            d_->own_tx = false;
        }
        return r;
    } catch (const mv::failure&) {
        if (!d_->own_tx) d_->a.poisoned = true;
        throw;
    }
}

std::uint64_t content_writer::size() const noexcept {
    return d_->total;
}

}  // namespace mv::archive
