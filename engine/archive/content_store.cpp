// The content store: each distinct message once, keyed by the SHA-256 of its bytes, in chunks
// (zstd frames with the archive's trained dictionary, or raw when compression does not help).
// Owns storing (put), reading and re-hashing (stream), the header index and FTS5 rows (index,
// index_pending, headers), dictionary training and recompress, and the lookups by hash or hash
// prefix. archive::impl's content members are defined here; content_writer.cpp shares them.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archive/archive.hpp"
#include "archive/archive_impl.hpp"
#include "archive/codec.hpp"
#include "archive/hash.hpp"
#include "archive/prepared.hpp"
#include "mime/message_index.hpp"
#include "search/query.hpp"

namespace mv::archive {

void archive::impl::load_dictionaries() {
    current_dict.reset();
    ++dict_generation;
    auto s = db.prepare("SELECT id, data FROM dictionaries ORDER BY id");
    zstd.clear_dictionaries();
    while (s.step()) {
        std::int64_t id = s.int64(0);
        zstd.add_dictionary(id, std::string(s.blob(1)));
        current_dict = id;
    }
}

std::optional<content_info> archive::impl::content_by_hash(const sha256& h) {
    auto s = stmt(
        "SELECT id, raw_size, stored_size, codec, dictionary_id, chunk_size, chunk_count, "
        "indexed, part_count FROM contents WHERE sha256 = ?");
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
    c.part_count = s->int64(8);
    return c;
}

void archive::impl::write_chunks(std::int64_t content_id, std::string_view raw, size_t chunk,
                                 const std::vector<std::string>& frames) {
    auto ins = stmt("INSERT INTO chunks (content_id, seq, data) VALUES (?, ?, ?)");
    if (!frames.empty()) {
        for (size_t i = 0; i < frames.size(); ++i) {
            ins->bind(1, content_id).bind(2, static_cast<std::int64_t>(i)).bind_blob(3, frames[i]);
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

put_result archive::impl::put(std::string_view raw) {
    require_writable();
    const sha256 h = sha256_of(raw);
    if (auto c = content_by_hash(h)) {
        put_result r;
        r.hash = h;
        r.content_id = c->id;
        return r;
    }
    maybe_train();
    // One way to store, whoever calls: the same as a sync's writer thread (prepared.cpp).
    if (!prep)
        prep = std::make_unique<preparer>(*this);
    else
        prep->refresh(*this);
    return detail::put_unseen(*this, prep->prepare(raw, &h));
}

void archive::impl::index(std::int64_t content_id, std::string_view raw) {
    mime::message_index mi = mime::parse(raw, opts.index_limits);
    sha256 hh = header_hash(raw);
    std::string names;  // attachment file names, one per line
    for (const auto& n : mi.attachments)
        if (!n.empty()) names += (names.empty() ? "" : "\n") + n;
    // Search index (schema 0011, docs/search.md): search_text holds the text; search_exact and
    // search_tri index the same row only when it has characters a query for them could match
    // (header_index.search_tables says which), and are told the old text before it goes.
    unsigned tables = 0;
    if (mi.parsed)
        for (const std::string* t :
             {&mi.from, &mi.to, &mi.cc, &mi.bcc, &mi.subject, &mi.text, &names})
            tables |= search::index_needs(*t);
    {
        auto old = stmt("SELECT search_tables FROM header_index WHERE content_id = ?");
        old->bind(1, content_id);
        const std::int64_t was = old->step() ? old->int64(0) : 0;
        old->reset();
        const char* del_exact =
            "INSERT INTO search_exact (search_exact, rowid, from_addr, to_addr, cc_addr, bcc_addr, "
            "subject, body, attachments) SELECT 'delete', rowid, from_addr, to_addr, cc_addr, "
            "bcc_addr, subject, body, attachments FROM search_text WHERE rowid = ?";
        const char* del_tri =
            "INSERT INTO search_tri (search_tri, rowid, from_addr, to_addr, cc_addr, bcc_addr, "
            "subject, body, attachments) SELECT 'delete', rowid, from_addr, to_addr, cc_addr, "
            "bcc_addr, subject, body, attachments FROM search_text WHERE rowid = ?";
        for (const char* q : {(was & search::needs_exact) ? del_exact : nullptr,
                              (was & search::needs_trigram) ? del_tri : nullptr,
                              "DELETE FROM search_text WHERE rowid = ?"}) {
            if (!q) continue;
            auto del = stmt(q);
            del->bind(1, content_id);
            del->run();
        }
    }
    {
        // sort_date (schema 0011): Date:, else the earliest INTERNALDATE, else archive time.
        auto s = stmt(
            "INSERT OR REPLACE INTO header_index (content_id, parse_status, message_id, "
            "in_reply_to, refs, from_addr, to_addr, cc_addr, subject, date_epoch, date_raw, "
            "header_hash, attachment_count, search_tables, sort_date) VALUES (?1,?2,?3,?4,?5,?6,"
            "?7,?8,?9,?10,?11,?12,?13,?14,coalesce(?10,(SELECT min(internaldate) FROM entries "
            "WHERE content_id = ?1),(SELECT created_at FROM contents WHERE id = ?1)))");
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
        s->bind(13, static_cast<std::int64_t>(mi.attachments.size()));
        s->bind(14, static_cast<std::int64_t>(tables));
        s->run();
    }
    if (mi.parsed) {
        for (const char* q :
             {"INSERT INTO search_text (rowid, from_addr, to_addr, cc_addr, bcc_addr, subject, "
              "body, attachments) VALUES (?,?,?,?,?,?,?,?)",
              (tables & search::needs_exact)
                  ? "INSERT INTO search_exact (rowid, from_addr, to_addr, cc_addr, bcc_addr, "
                    "subject, body, attachments) VALUES (?,?,?,?,?,?,?,?)"
                  : nullptr,
              (tables & search::needs_trigram)
                  ? "INSERT INTO search_tri (rowid, from_addr, to_addr, cc_addr, bcc_addr, "
                    "subject, body, attachments) VALUES (?,?,?,?,?,?,?,?)"
                  : nullptr}) {
            if (!q) continue;
            auto s = stmt(q);
            s->bind(1, content_id)
                .bind(2, std::string_view(mi.from))
                .bind(3, std::string_view(mi.to))
                .bind(4, std::string_view(mi.cc))
                .bind(5, std::string_view(mi.bcc))
                .bind(6, std::string_view(mi.subject))
                .bind(7, std::string_view(mi.text))
                .bind(8, std::string_view(names));
            s->run();
        }
    }
    auto u = stmt("UPDATE contents SET indexed = 1 WHERE id = ?");
    u->bind(1, content_id);
    u->run();
}

// Streams one content's bytes: decompress chunk by chunk, re-hash, compare.
mv::error archive::impl::stream(const content_info& c, const sink_fn& sink) {
    return detail::stream_content(*this, c, sink);
}

void archive::impl::maybe_train() {
    if (!opts.dictionary.enabled || current_dict || training_attempted) return;
    if (content_count < opts.dictionary.min_messages) return;
    training_attempted = true;
    train();
}

std::optional<std::int64_t> archive::impl::train() {
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
    ++dict_generation;
    return id;
}

// ---------------------------------------------------------------------------------------------

put_result archive::put_content(std::string_view raw) {
    return d_->put(raw);
}

bool archive::has_content(const sha256& h) {
    return d_->content_by_hash(h).has_value();
}

std::optional<content_info> archive::content(const sha256& h) {
    return d_->content_by_hash(h);
}

mv::error archive::read_content(const sha256& h, const sink_fn& sink) {
    auto c = d_->content_by_hash(h);
    if (!c) return {errc::archive, "content " + h.hex() + " is not in the archive"};
    return d_->stream(*c, sink);
}

mv::error archive::read_content(const sha256& h, std::string& out) {
    out.clear();
    auto c = d_->content_by_hash(h);
    if (!c) return {errc::archive, "content " + h.hex() + " is not in the archive"};
    out.reserve(c->raw_size);
    auto e = d_->stream(*c, [&](std::string_view p) { out += p; });
    if (e) out.clear();
    return e;
}

std::vector<sha256> archive::find_contents_by_prefix(std::string_view hex_prefix,
                                                     std::size_t limit) {
    std::vector<sha256> out;
    std::string p;
    for (char ch : hex_prefix) {
        if (!std::isxdigit(static_cast<unsigned char>(ch))) return out;
        p += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    if (p.empty() || p.size() > 64) return out;
    // hex(sha256) is upper case in SQLite. A range scan on the blob key would be faster; the
    // prefix lookup is for interactive use only.
    auto s = d_->db.prepare("SELECT sha256 FROM contents WHERE hex(sha256) LIKE ? || '%' LIMIT ?");
    s.bind(1, std::string_view(p)).bind(2, static_cast<std::int64_t>(limit));
    while (s.step()) out.push_back(blob_hash(s.blob(0)));
    return out;
}

std::int64_t archive::index_pending(std::int64_t limit) {
    d_->require_writable();
    std::vector<std::pair<std::int64_t, sha256>> todo;
    {
        auto s =
            d_->db.prepare("SELECT id, sha256 FROM contents WHERE indexed = 0 ORDER BY id LIMIT ?");
        s.bind(1, limit);
        while (s.step()) todo.emplace_back(s.int64(0), blob_hash(s.blob(1)));
    }
    std::int64_t n = 0;
    std::string raw;
    // Batches of 500 per transaction: FTS5 then merges its terms once per batch.
    // Inside a caller's transaction, everything goes into that one.
    const bool own = !d_->db.in_transaction();
    for (std::size_t i = 0; i < todo.size();) {
        std::optional<transaction> tx;
        if (own) tx.emplace(*this);
        for (std::size_t end = std::min(todo.size(), i + 500); i < end; ++i) {
            const auto& [id, h] = todo[i];
            if (read_content(h, raw)) continue;  // damaged: verify reports it
            d_->index(id, raw);
            ++n;
        }
        if (tx) tx->commit();
    }
    return n;
}

std::optional<header_row> archive::headers(const sha256& h) {
    auto s = d_->stmt(
        "SELECT h.parse_status, h.message_id, h.in_reply_to, h.refs, h.from_addr, h.to_addr, "
        "h.cc_addr, h.subject, h.date_raw, h.date_epoch FROM header_index h JOIN contents c ON "
        "c.id = h.content_id WHERE c.sha256 = ?");
    s->bind_blob(1, h.view());
    if (!s->step()) return std::nullopt;
    header_row r;
    r.parse_status = s->text(0);
    r.message_id = s->text(1);
    r.in_reply_to = s->text(2);
    r.references = s->text(3);
    r.from = s->text(4);
    r.to = s->text(5);
    r.cc = s->text(6);
    r.subject = s->text(7);
    r.date_raw = s->text(8);
    r.date_epoch = s->opt_int64(9);
    return r;
}

std::optional<std::int64_t> archive::current_dictionary() const {
    return d_->current_dict;
}

std::optional<std::int64_t> archive::train_dictionary() {
    return d_->train();
}

recompress_stats archive::recompress(const recompress_options& o, const progress_fn& progress) {
    d_->require_writable();
    recompress_stats st;
    if (o.retrain || (o.train_if_missing && !d_->current_dict)) d_->train();
    auto dict = d_->current_dict;
    std::int64_t total = 0;
    {
        auto s = d_->db.prepare("SELECT count(*) FROM contents WHERE dictionary_id IS NOT ?");
        s.bind(1, dict);
        if (s.step()) total = s.int64(0);
    }
    std::int64_t cursor = 0;
    std::size_t batch = std::max<std::size_t>(1, o.batch);
    std::string raw;
    std::vector<std::string> frames;
    while (true) {
        std::vector<std::pair<std::int64_t, sha256>> ids;
        {
            auto s = d_->db.prepare(
                "SELECT id, sha256 FROM contents WHERE id > ? AND dictionary_id IS NOT ? ORDER "
                "BY id LIMIT ?");
            s.bind(1, cursor).bind(2, dict).bind(3, static_cast<std::int64_t>(batch));
            while (s.step()) ids.emplace_back(s.int64(0), blob_hash(s.blob(1)));
        }
        if (ids.empty()) break;
        transaction tx(*this);
        for (const auto& [id, h] : ids) {
            cursor = id;
            ++st.examined;
            auto c = d_->content_by_hash(h);
            // A content with parts keeps its skeleton in chunks: that is what gets recompressed.
            if (!c || (c->part_count ? detail::read_skeleton(*d_, *c, raw) : read_content(h, raw)))
                continue;  // damaged contents are left for verify
            std::uint64_t stored = 0;
            if (!d_->zstd.compress_chunks(raw, dict, c->chunk_size, frames, stored)) continue;
            if (stored >= c->stored_size) continue;
            {
                auto del = d_->stmt("DELETE FROM chunks WHERE content_id = ?");
                del->bind(1, id);
                del->run();
            }
            d_->write_chunks(id, raw, c->chunk_size, frames);
            auto u = d_->stmt(
                "UPDATE contents SET codec = 'zstd', dictionary_id = ?, stored_size = ? WHERE id = "
                "?");
            u->bind(1, dict).bind(2, static_cast<std::int64_t>(stored)).bind(3, id);
            u->run();
            ++st.rewritten;
            st.bytes_before += static_cast<std::int64_t>(c->stored_size);
            st.bytes_after += static_cast<std::int64_t>(stored);
        }
        tx.commit();
        if (progress) progress(st.examined, total);
    }
    return st;
}

}  // namespace mv::archive
