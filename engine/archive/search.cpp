// archive::search (a shortcut over archive/searcher.hpp) and the archive's statistics:
// per-mailbox counts and sizes (stats) and whole-archive totals (totals).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"
#include "archive/archive_impl.hpp"
#include "archive/searcher.hpp"

namespace mv::archive {

std::vector<search_hit> archive::search(std::string_view query, std::size_t limit) {
    std::vector<search_hit> out;
    std::set<sha256> seen;
    search_request r;
    r.query = std::string(query);
    r.snippets = false;
    searcher(*this).each(r, [&](const entry_hit& e) {
        if (!seen.insert(e.content).second) return true;
        search_hit h;
        h.content = e.content;
        h.date_epoch = e.date_epoch;
        h.from = e.from;
        h.subject = e.subject;
        h.location = e.account + "/" + e.folder;
        out.push_back(std::move(h));
        return out.size() < limit;
    });
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
