// Archive-side retention: listing entries for the retention decision (purge_rows) and deleting
// the chosen entries with their flag history and Gmail rows, then every content no longer
// referenced by any entry, with its chunks and index rows (purge_entries). The decision itself
// (ages, legal holds) is sync/retention.cpp's.
#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "archive/archive.hpp"
#include "archive/archive_impl.hpp"

namespace mv::archive {

std::vector<purge_row> archive::purge_rows(const entry_filter& f) {
    std::vector<purge_row> out;
    auto s = d_->db.prepare(
        "SELECT e.id, a.id, a.name, m.id, m.name, e.uidvalidity, e.uid, e.uidl, e.internaldate, "
        "e.first_seen, e.expunged_at, e.size, c.sha256 FROM entries e JOIN contents c ON c.id = "
        "e.content_id JOIN mailboxes m ON m.id = e.mailbox_id JOIN accounts a ON a.id = "
        "m.account_id WHERE (?1 IS NULL OR a.name = ?1) AND (?2 IS NULL OR m.name = ?2 OR "
        "m.wire_name = ?2) AND (?3 OR e.expunged_at IS NULL) ORDER BY a.name, m.name, "
        "e.generation, e.uid, e.uidl");
    s.bind(1, f.account).bind(2, f.mailbox).bind(3, static_cast<std::int64_t>(f.include_expunged));
    while (s.step()) {
        purge_row r;
        r.entry_id = s.int64(0);
        r.account_id = s.int64(1);
        r.account = s.text(2);
        r.mailbox_id = s.int64(3);
        r.mailbox = s.text(4);
        if (auto v = s.opt_int64(5)) r.uidvalidity = static_cast<std::uint32_t>(*v);
        if (auto v = s.opt_int64(6)) r.uid = static_cast<std::uint32_t>(*v);
        r.uidl = s.opt_text(7);
        r.internaldate = s.opt_int64(8);
        r.first_seen = s.int64(9);
        r.expunged_at = s.opt_int64(10);
        r.size = static_cast<std::uint64_t>(s.int64(11));
        r.content = blob_hash(s.blob(12));
        out.push_back(std::move(r));
    }
    return out;
}

purge_stats archive::purge_entries(std::span<const std::int64_t> entry_ids) {
    d_->require_writable();
    purge_stats st;
    impl::savepoint sp(*d_);
    std::set<std::int64_t> contents;
    for (auto id : entry_ids) {
        {
            auto s = d_->stmt("SELECT content_id FROM entries WHERE id = ?");
            s->bind(1, id);
            if (!s->step()) continue;
            contents.insert(s->int64(0));
        }
        for (const char* q : {"DELETE FROM flag_history WHERE entry_id = ?",
                              "DELETE FROM gmail_label_history WHERE entry_id = ?",
                              "DELETE FROM gmail_entries WHERE entry_id = ?"}) {
            auto s = d_->stmt(q);
            s->bind(1, id);
            s->run();
        }
        auto s = d_->stmt("DELETE FROM entries WHERE id = ?");
        s->bind(1, id);
        s->run();
        st.entries += d_->db.changes();
    }
    for (auto cid : contents) {
        {
            auto s = d_->stmt("SELECT count(*) FROM entries WHERE content_id = ?");
            s->bind(1, cid);
            if (s->step() && s->int64(0) > 0) continue;  // still referenced (dedup)
        }
        {
            auto s = d_->stmt("SELECT raw_size, stored_size FROM contents WHERE id = ?");
            s->bind(1, cid);
            if (!s->step()) continue;
            st.raw_bytes += s->int64(0);
            st.stored_bytes += s->int64(1);
        }
        st.stored_bytes += detail::drop_parts_of(*d_, cid);
        for (const char* q :
             {"DELETE FROM chunks WHERE content_id = ?",
              // Search index (schema 0011): the index-only tables first, while search_text
              // still holds the text they need, and only those that hold the row
              // (header_index.search_tables: 1 exact, 2 trigram); header_index after them.
              "INSERT INTO search_exact (search_exact, rowid, from_addr, to_addr, cc_addr, "
              "bcc_addr, subject, body, attachments) SELECT 'delete', rowid, from_addr, "
              "to_addr, cc_addr, bcc_addr, subject, body, attachments FROM search_text WHERE "
              "rowid = ?1 AND EXISTS (SELECT 1 FROM header_index WHERE content_id = ?1 AND "
              "search_tables & 1)",
              "INSERT INTO search_tri (search_tri, rowid, from_addr, to_addr, cc_addr, "
              "bcc_addr, subject, body, attachments) SELECT 'delete', rowid, from_addr, "
              "to_addr, cc_addr, bcc_addr, subject, body, attachments FROM search_text WHERE "
              "rowid = ?1 AND EXISTS (SELECT 1 FROM header_index WHERE content_id = ?1 AND "
              "search_tables & 2)",
              "DELETE FROM search_text WHERE rowid = ?",
              "DELETE FROM header_index WHERE content_id = ?",
              "DELETE FROM contents WHERE id = ?"}) {
            auto s = d_->stmt(q);
            s->bind(1, cid);
            s->run();
        }
        ++st.contents;
    }
    sp.release();
    d_->content_count = d_->scalar("SELECT coalesce(max(id), 0) FROM contents");
    return st;
}

}  // namespace mv::archive
