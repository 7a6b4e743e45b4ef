// Full-text search (FTS5 over subject, addresses and body text) and the archive's statistics:
// per-mailbox counts and sizes (stats) and whole-archive totals (totals).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"
#include "archive/archive_impl.hpp"

namespace mv::archive {

std::vector<search_hit> archive::search(std::string_view q, std::size_t limit) {
    std::vector<search_hit> out;
    try {
        auto s = d_->db.prepare(
            "SELECT c.sha256, h.date_epoch, h.from_addr, h.subject, (SELECT a.name || '/' || "
            "m.name FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id JOIN accounts a ON "
            "a.id = m.account_id WHERE e.content_id = c.id ORDER BY e.id LIMIT 1) FROM message_fts "
            "f JOIN contents c ON c.id = f.rowid LEFT JOIN header_index h ON h.content_id = c.id "
            "WHERE message_fts MATCH ? ORDER BY f.rank LIMIT ?");
        s.bind(1, q).bind(2, static_cast<std::int64_t>(limit));
        while (s.step()) {
            search_hit h;
            h.content = blob_hash(s.blob(0));
            h.date_epoch = s.opt_int64(1);
            h.from = s.text(2);
            h.subject = s.text(3);
            h.location = s.text(4);
            out.push_back(std::move(h));
        }
    } catch (const mv::failure& f) {
        if (f.err.code == errc::archive && f.err.message.find("fts5") != std::string::npos)
            throw mv::failure(errc::usage, "bad search query: " + f.err.message);
        throw;
    }
    return out;
}

std::vector<mailbox_stats> archive::stats() {
    std::vector<mailbox_stats> out;
    auto s = d_->db.prepare(
        "SELECT a.name, m.name, coalesce(sum(e.id IS NOT NULL AND e.expunged_at IS NULL), 0), "
        "coalesce(sum(e.expunged_at IS NOT NULL), 0), coalesce(sum(c.raw_size), 0), "
        "coalesce(sum(c.stored_size), 0), m.server_messages, m.server_counted_at FROM mailboxes "
        "m JOIN accounts a ON a.id = m.account_id LEFT JOIN entries e ON e.mailbox_id = m.id "
        "LEFT JOIN contents c ON c.id = e.content_id GROUP BY m.id ORDER BY a.name, m.name");
    while (s.step())
        out.push_back({s.text(0), s.text(1), s.int64(2), s.int64(3), s.int64(4), s.int64(5),
                       s.opt_int64(6), s.opt_int64(7)});
    return out;
}

archive_totals archive::totals() {
    archive_totals t;
    auto s = d_->db.prepare(
        "SELECT count(*), coalesce(sum(raw_size), 0), coalesce(sum(stored_size), 0) + (SELECT "
        "coalesce(sum(stored_size), 0) FROM parts), (SELECT count(*) FROM entries), (SELECT "
        "count(*) FROM dictionaries) FROM contents");
    if (s.step()) {
        t.contents = s.int64(0);
        t.raw_bytes = s.int64(1);
        t.stored_bytes = s.int64(2);
        t.entries = s.int64(3);
        t.dictionaries = s.int64(4);
        s.reset();
    }
    return t;
}

}  // namespace mv::archive
