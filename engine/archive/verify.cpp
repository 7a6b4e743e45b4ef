// The full check of an archive: SQLite's integrity_check and foreign_key_check, every content
// read back chunk by chunk, decompressed and re-hashed (naming where each damaged content is
// filed), and the audit chain.
#include <cstdint>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "archive/archive_impl.hpp"

namespace mv::archive {

std::vector<entry_location> archive::impl::locations(std::int64_t content_id) {
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

void archive::interrupt() noexcept {
    sqlite3_interrupt(d_->db.handle());
}

verify_report archive::verify(const progress_fn& progress) {
    verify_report r;
    {
        auto s = d_->db.prepare("PRAGMA integrity_check");
        while (s.step()) {
            std::string line = s.text(0);
            if (line != "ok") r.problems.push_back({"integrity_check: " + line, std::nullopt, {}});
        }
    }
    {
        auto s = d_->db.prepare("PRAGMA foreign_key_check");
        while (s.step())
            r.problems.push_back(
                {"foreign key broken in table " + s.text(0) + " row " + std::to_string(s.int64(1)),
                 std::nullopt,
                 {}});
    }
    std::int64_t total = 0;
    {
        auto s = d_->db.prepare("SELECT count(*) FROM contents");
        if (s.step()) total = s.int64(0);
        s.reset();
    }
    auto s = d_->db.prepare(
        "SELECT id, sha256, raw_size, stored_size, codec, dictionary_id, chunk_size, chunk_count, "
        "indexed, part_count FROM contents ORDER BY id");
    while (s.step()) {
        content_info c;
        c.id = s.int64(0);
        c.hash = blob_hash(s.blob(1));
        c.raw_size = static_cast<std::uint64_t>(s.int64(2));
        c.stored_size = static_cast<std::uint64_t>(s.int64(3));
        c.codec = s.text(4);
        c.dictionary_id = s.opt_int64(5);
        c.chunk_size = static_cast<std::uint64_t>(s.int64(6));
        c.chunk_count = static_cast<std::uint64_t>(s.int64(7));
        c.part_count = s.int64(9);
        if (auto e = d_->stream(c, {}))
            r.problems.push_back({e.message, c.hash, d_->locations(c.id)});
        ++r.contents_checked;
        r.bytes_checked += static_cast<std::int64_t>(c.raw_size);
        if (progress) progress(r.contents_checked, total);
    }
    auto a = audit_verify();
    r.audit_rows = a.rows;
    for (auto& p : a.problems) r.problems.push_back({std::move(p), std::nullopt, {}});
    return r;
}

}  // namespace mv::archive
