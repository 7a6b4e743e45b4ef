// The two-step store (preparer, archive::put_prepared) and the segmented form it writes: a
// message's skeleton in `chunks`, its decoded base64 runs as content-addressed rows of `parts`
// (with `part_chunks`), and where each run goes in `content_parts` (schema 10,
// docs/archive-format.md). Reading splices them back, re-encoded, and proves the whole
// message's SHA-256 as for any other content.
#include "archive/prepared.hpp"

#include "archive/archive_impl.hpp"
#include "archive/segments.hpp"

namespace mv::archive {

namespace {

constexpr std::size_t sample_size = 64u << 10;

// Reads the chunks of one stored object in order, checks their sequence and sizes, and hands
// each decoded piece to fn. `q` selects (seq, data) for one id, ordered by seq. Returns what is
// wrong, or an empty string.
std::string read_chunks(archive::impl& d, const char* q, std::int64_t id, bool zstd,
                        std::optional<std::int64_t> dict, std::uint64_t chunk_size,
                        std::uint64_t chunk_count,
                        const std::function<void(std::string_view)>& fn) {
    auto s = d.db.prepare(q);
    s.bind(1, id);
    std::int64_t expected = 0;
    std::string buf;
    while (s.step()) {
        const std::string at = "chunk " + std::to_string(expected);
        if (s.int64(0) != expected) return at + " is missing";
        ++expected;
        std::string_view piece = s.blob(1);
        if (zstd) {
            if (auto e = d.zstd.decompress(piece, dict, chunk_size, buf))
                return at + ": " + e.message;
            piece = buf;
        }
        const bool last = static_cast<std::uint64_t>(expected) == chunk_count;
        if (piece.size() > chunk_size || (!last && piece.size() != chunk_size))
            return at + " has a wrong size";
        fn(piece);
    }
    if (static_cast<std::uint64_t>(expected) != chunk_count)
        return "has " + std::to_string(expected) + " chunks, expected " +
               std::to_string(chunk_count);
    return {};
}

struct part_ref {
    std::uint64_t at = 0, encoded = 0;
    std::int64_t part_id = 0;
    std::uint32_t line_len = 0;
    bool crlf = true;
};

}  // namespace

preparer::preparer(archive& a) : preparer(*a.d_) {}

preparer::preparer(archive::impl& d) : zstd_(d.opts.zstd_level) {
    chunk_ = d.opts.chunk_size;
    min_part_ = d.opts.part_min_size;
    refresh(d);
}

void preparer::refresh(archive& a) {
    refresh(*a.d_);
}

void preparer::refresh(archive::impl& d) {
    if (synced_ && d.dict_generation == generation_) return;
    synced_ = true;
    generation_ = d.dict_generation;
    dict_ = d.current_dict;
    fingerprint_ = 0;
    if (!dict_) return;
    // A rollback may have taken a dictionary back and a new one may reuse its id: the codec
    // keeps the bytes under the fingerprint they carry, so a stale copy is never used.
    auto s = d.stmt("SELECT data FROM dictionaries WHERE id = ?");
    s->bind(1, *dict_);
    if (!s->step()) misuse("dictionary " + std::to_string(*dict_) + " vanished");
    std::string bytes(s->blob(0));
    fingerprint_ = codec::dictionary_id(bytes);
    zstd_.clear_dictionaries();
    zstd_.add_dictionary(*dict_, std::move(bytes));
}

void preparer::store_part(std::string&& decoded, prepared_part& part) {
    part.hash = sha256_of(decoded);
    part.size = decoded.size();
    // Random, encrypted or already compressed data (most attachments) does not compress: a
    // fast look at its start saves the full attempt.
    bool try_zstd = true;
    if (decoded.size() > sample_size) {
        const int level = zstd_.level();
        zstd_.set_level(1);
        std::string probe;
        zstd_.compress(std::string_view(decoded).substr(0, sample_size), std::nullopt, probe);
        zstd_.set_level(level);
        try_zstd = probe.size() < sample_size - sample_size / 16;
    }
    part.compressed =
        try_zstd && zstd_.compress_chunks(decoded, std::nullopt, chunk_, part.chunks, part.stored);
    if (!part.compressed) {
        part.stored = decoded.size();
        part.data = std::move(decoded);
    }
}

prepared_content preparer::prepare(std::string_view raw, const sha256* known) {
    prepared_content p;
    p.raw = raw;
    p.raw_size = raw.size();
    p.hash = known ? *known : sha256_of(raw);
    p.header_hash = header_hash(raw);
    p.chunk_size = chunk_;
    if (min_part_ && raw.size() >= min_part_) {
        std::vector<std::string> decoded;
        auto runs = segments::find_runs(raw, min_part_, &decoded);
        if (!runs.empty()) {
            std::size_t kept = raw.size();
            for (const auto& r : runs) kept -= r.length;
            p.skeleton_bytes.reserve(kept);
            std::size_t pos = 0;
            for (std::size_t i = 0; i < runs.size(); ++i) {
                const auto& r = runs[i];
                p.skeleton_bytes.append(raw.substr(pos, r.offset - pos));
                pos = r.offset + r.length;
                prepared_part& part = p.parts.emplace_back();
                part.at = r.offset;
                part.encoded = r.length;
                part.line_len = r.line_len;
                part.crlf = r.crlf;
                store_part(std::move(decoded[i]), part);
                decoded[i] = std::string();
            }
            p.skeleton_bytes.append(raw.substr(pos));
        }
    }
    p.compressed = zstd_.compress_chunks(p.skeleton(), dict_, chunk_, p.chunks, p.stored);
    if (p.compressed && dict_) {
        p.dict = dict_;
        p.dict_fingerprint = fingerprint_;
    }
    return p;
}

namespace {

// The id of the part with these bytes, stored now if it is new.
std::int64_t put_part(archive::impl& d, const prepared_part& part) {
    {
        auto s = d.stmt("SELECT id FROM parts WHERE sha256 = ?");
        s->bind_blob(1, part.hash.view());
        if (s->step()) return s->int64(0);
    }
    const std::size_t chunk = d.opts.chunk_size;
    {
        auto s = d.stmt(
            "INSERT INTO parts (sha256, raw_size, stored_size, codec, chunk_size, chunk_count, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
        s->bind_blob(1, part.hash.view())
            .bind(2, static_cast<std::int64_t>(part.size))
            .bind(3, static_cast<std::int64_t>(part.stored))
            .bind(4, part.compressed ? "zstd" : "raw")
            .bind(5, static_cast<std::int64_t>(chunk))
            .bind(6, static_cast<std::int64_t>(archive::impl::chunk_count_for(part.size, chunk)))
            .bind(7, d.now());
        s->run();
    }
    const std::int64_t id = d.db.last_insert_rowid();
    auto ins = d.stmt("INSERT INTO part_chunks (part_id, seq, data) VALUES (?, ?, ?)");
    if (part.compressed) {
        for (std::size_t i = 0; i < part.chunks.size(); ++i) {
            ins->bind(1, id).bind(2, static_cast<std::int64_t>(i)).bind_blob(3, part.chunks[i]);
            ins->run();
        }
    } else {
        std::string_view data = part.data;
        std::int64_t seq = 0;
        for (std::size_t off = 0; off < data.size(); off += chunk) {
            ins->bind(1, id).bind(2, seq++).bind_blob(3, data.substr(off, chunk));
            ins->run();
        }
    }
    return id;
}

// Whether the dictionary the skeleton was compressed with is still the archive's dictionary
// of that id. The archive's codec mirrors the dictionaries rows (train adds to it, a rollback
// reloads it), so this reads memory: no 110 KB row per message.
bool dictionary_holds(const archive::impl& d, const prepared_content& p) {
    return !p.compressed || !p.dict || d.zstd.fingerprint(*p.dict) == p.dict_fingerprint;
}

}  // namespace

put_result archive::put_prepared(const prepared_content& p) {
    if (!d_) misuse("put_prepared on a closed archive");
    return detail::put_prepared(*d_, p);
}

namespace detail {

namespace {
put_result store(archive::impl& d, const prepared_content& p);
}

put_result put_prepared(archive::impl& d, const prepared_content& p) {
    d.require_writable();
    if (p.chunk_size != d.opts.chunk_size) misuse("put_prepared: prepared for another archive");
    put_result r;
    r.hash = p.hash;
    if (auto c = d.content_by_hash(p.hash)) {
        r.content_id = c->id;
        return r;
    }
    return put_unseen(d, p);
}

put_result put_unseen(archive::impl& d, const prepared_content& p) {
    d.maybe_train();
    // Prepared with a dictionary a rollback took back (its id may even name a newer one now):
    // prepared again, here, with the archive's own preparer.
    if (dictionary_holds(d, p)) return store(d, p);
    d.prep = std::make_unique<preparer>(d);
    const prepared_content again = d.prep->prepare(p.raw, &p.hash);
    if (!dictionary_holds(d, again)) misuse("put_prepared: the dictionary changed under it");
    return store(d, again);
}

namespace {

// Inserts a prepared message whose hash is not stored yet.
put_result store(archive::impl& d, const prepared_content& p) {
    put_result r;
    r.hash = p.hash;
    archive::impl::savepoint sp(d);
    std::vector<std::int64_t> part_ids;
    part_ids.reserve(p.parts.size());
    for (const auto& part : p.parts) part_ids.push_back(put_part(d, part));
    const std::string_view skeleton = p.skeleton();
    {
        auto s = d.stmt(
            "INSERT INTO contents (sha256, raw_size, stored_size, codec, dictionary_id, "
            "chunk_size, chunk_count, created_at, header_hash, part_count) VALUES (?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?)");
        s->bind_blob(1, p.hash.view())
            .bind(2, static_cast<std::int64_t>(p.raw_size))
            .bind(3, static_cast<std::int64_t>(p.stored))
            .bind(4, p.compressed ? "zstd" : "raw");
        if (p.compressed && p.dict)
            s->bind(5, *p.dict);
        else
            s->bind_null(5);
        s->bind(6, static_cast<std::int64_t>(p.chunk_size))
            .bind(7, static_cast<std::int64_t>(
                         archive::impl::chunk_count_for(skeleton.size(), p.chunk_size)))
            .bind(8, d.now())
            .bind_blob(9, p.header_hash.view())
            .bind(10, static_cast<std::int64_t>(p.parts.size()));
        s->run();
    }
    r.content_id = d.db.last_insert_rowid();
    d.write_chunks(r.content_id, skeleton, p.chunk_size, p.chunks);
    for (std::size_t i = 0; i < p.parts.size(); ++i) {
        const auto& part = p.parts[i];
        auto s = d.stmt(
            "INSERT INTO content_parts (content_id, seq, at, encoded_size, part_id, line_len, "
            "crlf) VALUES (?, ?, ?, ?, ?, ?, ?)");
        s->bind(1, r.content_id)
            .bind(2, static_cast<std::int64_t>(i))
            .bind(3, static_cast<std::int64_t>(part.at))
            .bind(4, static_cast<std::int64_t>(part.encoded))
            .bind(5, part_ids[i])
            .bind(6, static_cast<std::int64_t>(part.line_len))
            .bind(7, part.crlf ? 1 : 0);
        s->run();
    }
    if (!d.opts.defer_index) d.index(r.content_id, p.raw);
    sp.release();
    r.inserted = true;
    ++d.content_count;
    return r;
}

}  // namespace

mv::error read_skeleton(archive::impl& d, const content_info& c, std::string& out) {
    out.clear();
    const bool zstd = c.codec == "zstd";
    std::string why =
        read_chunks(d, "SELECT seq, data FROM chunks WHERE content_id = ? ORDER BY seq", c.id, zstd,
                    zstd ? c.dictionary_id : std::optional<std::int64_t>{}, c.chunk_size,
                    c.chunk_count, [&](std::string_view piece) { out.append(piece); });
    if (!why.empty()) return {errc::archive_corrupt, "content " + c.hash.hex() + ": " + why};
    return {};
}

mv::error stream_content(archive::impl& d, const content_info& c,
                         const std::function<void(std::string_view)>& sink) {
    auto fail = [&](const std::string& what) {
        return mv::error(errc::archive_corrupt, "content " + c.hash.hex() + ": " + what);
    };
    std::vector<part_ref> refs;
    if (c.part_count > 0) {
        auto s = d.db.prepare(
            "SELECT seq, at, encoded_size, part_id, line_len, crlf FROM content_parts WHERE "
            "content_id = ? ORDER BY seq");
        s.bind(1, c.id);
        while (s.step()) {
            if (s.int64(0) != static_cast<std::int64_t>(refs.size()))
                return fail("part reference " + std::to_string(refs.size()) + " is missing");
            part_ref r;
            r.at = static_cast<std::uint64_t>(s.int64(1));
            r.encoded = static_cast<std::uint64_t>(s.int64(2));
            r.part_id = s.int64(3);
            r.line_len = static_cast<std::uint32_t>(s.int64(4));
            r.crlf = s.int64(5) != 0;
            if ((!refs.empty() && r.at < refs.back().at + refs.back().encoded) || r.line_len == 0 ||
                r.line_len % 4 != 0)
                return fail("part reference " + std::to_string(refs.size()) + " is damaged");
            refs.push_back(r);
        }
    }
    if (refs.size() != static_cast<std::size_t>(c.part_count))
        return fail("has " + std::to_string(refs.size()) + " part references, expected " +
                    std::to_string(c.part_count));

    sha256_hasher hasher;
    std::uint64_t pos = 0;  // bytes of the message given out so far
    std::size_t next = 0;
    std::string problem;
    std::string encoded;
    auto emit = [&](std::string_view piece) {
        hasher.update(piece);
        pos += piece.size();
        if (sink) sink(piece);
    };
    auto emit_part = [&](const part_ref& r) -> std::string {
        const std::string which = "part " + std::to_string(r.part_id);
        auto s = d.db.prepare(
            "SELECT sha256, raw_size, codec, chunk_size, chunk_count FROM parts WHERE id = ?");
        s.bind(1, r.part_id);
        if (!s.step()) return which + " is missing";
        const sha256 want = blob_hash(s.blob(0));
        const auto size = static_cast<std::uint64_t>(s.int64(1));
        const bool zstd = s.text(2) == "zstd";
        const auto chunk = static_cast<std::uint64_t>(s.int64(3));
        const auto count = static_cast<std::uint64_t>(s.int64(4));
        s.reset();
        segments::encoder enc(r.line_len, r.crlf);
        sha256_hasher part_hash;
        std::uint64_t decoded = 0;
        const std::uint64_t start = pos;
        std::string why =
            read_chunks(d, "SELECT seq, data FROM part_chunks WHERE part_id = ? ORDER BY seq",
                        r.part_id, zstd, std::nullopt, chunk, count, [&](std::string_view piece) {
                            part_hash.update(piece);
                            decoded += piece.size();
                            encoded.clear();
                            enc.feed(piece, encoded);
                            emit(encoded);
                        });
        if (!why.empty()) return which + ": " + why;
        encoded.clear();
        enc.finish(encoded);
        emit(encoded);
        if (decoded != size) return which + " has a wrong size";
        if (part_hash.final() != want) return which + ": SHA-256 mismatch (damaged)";
        if (pos - start != r.encoded) return which + " re-encodes to a different length";
        return {};
    };
    // Parts due at the current position.
    auto parts_here = [&]() -> bool {
        while (next < refs.size() && refs[next].at == pos) {
            problem = emit_part(refs[next++]);
            if (!problem.empty()) return false;
        }
        if (next < refs.size() && refs[next].at < pos) {
            problem = "part reference " + std::to_string(next) + " points inside another";
            return false;
        }
        return true;
    };
    const bool zstd = c.codec == "zstd";
    std::optional<std::int64_t> dict = zstd ? c.dictionary_id : std::optional<std::int64_t>{};
    std::string why = read_chunks(
        d, "SELECT seq, data FROM chunks WHERE content_id = ? ORDER BY seq", c.id, zstd, dict,
        c.chunk_size, c.chunk_count, [&](std::string_view piece) {
            while (problem.empty() && !piece.empty()) {
                if (!parts_here()) return;
                const std::uint64_t room = next < refs.size() ? refs[next].at - pos : piece.size();
                const std::size_t take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(room, piece.size()));
                emit(piece.substr(0, take));
                piece.remove_prefix(take);
            }
        });
    if (!why.empty()) return fail(why);
    if (problem.empty()) parts_here();
    if (!problem.empty()) return fail(problem);
    if (next != refs.size()) return fail("a part is placed beyond the message's end");
    if (pos != c.raw_size)
        return fail("size " + std::to_string(pos) + " differs from recorded " +
                    std::to_string(c.raw_size));
    if (hasher.final() != c.hash) return fail("SHA-256 mismatch (stored bytes are damaged)");
    return {};
}

std::int64_t drop_parts_of(archive::impl& d, std::int64_t content_id) {
    std::vector<std::int64_t> ids;
    {
        auto s = d.stmt("SELECT DISTINCT part_id FROM content_parts WHERE content_id = ?");
        s->bind(1, content_id);
        while (s->step()) ids.push_back(s->int64(0));
    }
    {
        auto s = d.stmt("DELETE FROM content_parts WHERE content_id = ?");
        s->bind(1, content_id);
        s->run();
    }
    std::int64_t freed = 0;
    for (auto id : ids) {
        {
            auto s = d.stmt("SELECT 1 FROM content_parts WHERE part_id = ? LIMIT 1");
            s->bind(1, id);
            if (s->step()) continue;  // another message carries it too
        }
        {
            auto s = d.stmt("SELECT stored_size FROM parts WHERE id = ?");
            s->bind(1, id);
            if (s->step()) freed += s->int64(0);
        }
        for (const char* q :
             {"DELETE FROM part_chunks WHERE part_id = ?", "DELETE FROM parts WHERE id = ?"}) {
            auto s = d.stmt(q);
            s->bind(1, id);
            s->run();
        }
    }
    return freed;
}

}  // namespace detail

}  // namespace mv::archive
