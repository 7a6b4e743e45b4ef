// The searcher: query AST (search/query.hpp) -> one SQL statement with bound values, run over
// the search index of schema 0011 (docs/search.md). No user text is ever part of the SQL: terms
// become bound FTS5 strings (double-quoted, quotes doubled) or bound LIKE/instr operands.
//
// Plans (checked with EXPLAIN QUERY PLAN, docs/search.md "How a query runs"):
//   * newest first, common or no text term: walk header_index_by_sort_date from the newest
//     entry, test each candidate (the FTS match is computed once, as an IN list), stop at the
//     page's end: no sort of every match.
//   * newest first, rare text term (fewer than about sqrt(16 N) matches in N messages): start
//     from the FTS matches and sort those few.
//   * relevance: start from the FTS matches with their bm25 rank.
#include "archive/searcher.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <variant>

#include "archive/archive_impl.hpp"

namespace mv::archive {

namespace {

using search::field;
using search::node;

constexpr std::size_t scan_min_chars = 3;  // trigram needs three characters

using binding = std::variant<std::int64_t, std::string>;

enum class fts_table { text, exact, tri };

const char* table_name(fts_table t) {
    switch (t) {
        case fts_table::text: return "search_text";
        case fts_table::exact: return "search_exact";
        case fts_table::tri: return "search_tri";
    }
    return "search_text";
}

const char* column_of(field f) {
    switch (f) {
        case field::from: return "from_addr";
        case field::to: return "to_addr";
        case field::cc: return "cc_addr";
        case field::bcc: return "bcc_addr";
        case field::subject: return "subject";
        case field::body: return "body";
        case field::attachment: return "attachments";
        default: return nullptr;
    }
}

bool is_text_field(field f) {
    return f == field::text || column_of(f) != nullptr;
}

std::size_t code_points(std::string_view s) {
    std::size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

// A text term that needs a scan: a substring term too short for trigrams.
bool needs_scan(const node& t) {
    return t.substring && code_points(t.value) < scan_min_chars;
}

fts_table table_of(const node& t) {
    if (t.substring) return fts_table::tri;
    if (t.exact) return fts_table::exact;
    return fts_table::text;
}

std::string quote_fts(std::string_view v) {
    std::string out = "\"";
    for (char c : v) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

// One term as an FTS5 query string: [column :] "value" [*].
std::string fts_string(const node& t) {
    std::string s;
    if (const char* col = column_of(t.f)) s = std::string(col) + " : ";
    s += quote_fts(t.value);
    if (t.prefix) s += " *";
    return s;
}

std::string like_pattern(std::string_view glob) {  // * -> %, ? -> _, others literal
    std::string out;
    for (char c : glob) {
        if (c == '%' || c == '_' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '*') {
            out += '%';
        } else if (c == '?') {
            out += '_';
        } else {
            out += c;
        }
    }
    return out;
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// Under an active hold: on its account or folder, or by query (schema 0013: the entry the query
// matched or any entry of the same content, browser::query_held_entries).
const char* k_held_sql =
    "(EXISTS (SELECT 1 FROM legal_holds lh WHERE lh.released_at IS NULL AND lh.account_id = "
    "m.account_id AND (lh.mailbox_id IS NULL OR lh.mailbox_id = m.id)) OR EXISTS (SELECT 1 FROM "
    "query_hold_entries qe JOIN query_holds qh ON qh.id = qe.hold_id JOIN entries he ON he.id = "
    "qe.entry_id WHERE he.content_id = e.content_id AND qh.released_at IS NULL))";

const char* k_scan_all =
    "coalesce(s.from_addr,'') || char(10) || coalesce(s.to_addr,'') || char(10) || "
    "coalesce(s.cc_addr,'') || char(10) || coalesce(s.bcc_addr,'') || char(10) || "
    "coalesce(s.subject,'') || char(10) || coalesce(s.body,'') || char(10) || "
    "coalesce(s.attachments,'')";

// Compiles the AST to a WHERE expression over the aliases h (header_index), c (contents),
// e (entries), m (mailboxes), a (accounts).
class compiler {
public:
    std::vector<binding> binds;

    std::string expr(const node& n) {
        switch (n.k) {
            case node::kind::all: return "1";
            case node::kind::term: return term(n);
            case node::kind::not_: return "NOT (" + expr(n.kids.front()) + ")";
            case node::kind::and_:
            case node::kind::or_: return group(n);
        }
        return "1";
    }

    // Adjacent FTS terms of one table under one AND/OR become one MATCH (one index lookup).
    std::string group(const node& n) {
        const bool conj = n.k == node::kind::and_;
        const char* op = conj ? " AND " : " OR ";
        std::string fts[3];
        std::vector<std::string> parts;
        std::vector<binding> part_binds;  // bound after the merged MATCHes, as in the SQL
        for (const auto& k : n.kids) {
            if (k.k == node::kind::term && is_text_field(k.f) && !needs_scan(k)) {
                auto& s = fts[static_cast<int>(table_of(k))];
                s += (s.empty() ? "" : op) + fts_string(k);
            } else {
                compiler sub;
                parts.push_back(sub.expr(k));
                for (auto& b : sub.binds) part_binds.push_back(std::move(b));
            }
        }
        std::vector<std::string> all;
        for (int t = 0; t < 3; ++t)
            if (!fts[t].empty()) all.push_back(match_sql(static_cast<fts_table>(t), fts[t]));
        for (auto& p : parts) all.push_back(std::move(p));
        for (auto& b : part_binds) binds.push_back(std::move(b));
        std::string s = "(";
        for (std::size_t i = 0; i < all.size(); ++i) s += (i ? op : "") + all[i];
        return s + ")";
    }

    std::string match_sql(fts_table t, const std::string& q) {
        binds.emplace_back(q);
        return std::string("c.id IN (SELECT rowid FROM ") + table_name(t) + " WHERE " +
               table_name(t) + " MATCH ?)";
    }

    std::string term(const node& t) {
        if (is_text_field(t.f)) {
            if (!needs_scan(t)) return match_sql(table_of(t), fts_string(t));
            // Short substring in an unspaced script: a probe of the row's text, evaluated only
            // for candidates (bounded by the page when walking newest first).
            binds.emplace_back(ascii_lower(t.value));
            std::string hay = column_of(t.f) ? std::string("coalesce(s.") + column_of(t.f) + ",'')"
                                             : std::string(k_scan_all);
            return "EXISTS (SELECT 1 FROM search_text s WHERE s.rowid = c.id AND instr(lower(" +
                   hay + "), ?) > 0)";
        }
        switch (t.f) {
            case field::message_id: binds.emplace_back(t.value); return "h.message_id = ?";
            case field::account:
                binds.emplace_back(like_pattern(t.value));
                return "a.name LIKE ? ESCAPE '\\'";
            case field::folder:
                binds.emplace_back(like_pattern(t.value));
                return "m.name LIKE ? ESCAPE '\\'";
            case field::flag:
            case field::keyword:
                binds.emplace_back(" " + ascii_lower(t.value) + " ");
                return "instr(lower(' ' || e.flags || ' '), ?) > 0";
            case field::has_attachment: return "h.attachment_count > 0";
            case field::larger: binds.emplace_back(t.lo); return "e.size > ?";
            case field::smaller: binds.emplace_back(t.lo); return "e.size < ?";
            case field::date: {
                std::string s = "(1";
                if (t.lo != std::numeric_limits<std::int64_t>::min()) {
                    binds.emplace_back(t.lo);
                    s += " AND h.sort_date >= ?";
                }
                if (t.hi != std::numeric_limits<std::int64_t>::max()) {
                    binds.emplace_back(t.hi);
                    s += " AND h.sort_date < ?";
                }
                return s + ")";
            }
            case field::expunged:
                return t.lo ? "e.expunged_at IS NOT NULL" : "e.expunged_at IS NULL";
            case field::held:
                return t.lo ? std::string(k_held_sql) : "NOT " + std::string(k_held_sql);
            default: return "1";
        }
    }
};

// The FTS part that can drive a plan: the query itself when it is one text term, or the
// AND-ed text terms of one table among a top-level AND's kids.
struct driver {
    fts_table table = fts_table::text;
    std::string match;
    node rest;  // the query without the driver's terms
};

std::optional<driver> find_driver(const node& root) {
    auto usable = [](const node& k) {
        return k.k == node::kind::term && is_text_field(k.f) && !needs_scan(k);
    };
    if (usable(root)) {
        driver d{table_of(root), fts_string(root), {}};
        d.rest.k = node::kind::all;
        return d;
    }
    if (root.k != node::kind::and_) return std::nullopt;
    const node* first = nullptr;
    for (const auto& k : root.kids)
        if (usable(k)) {
            first = &k;
            break;
        }
    if (!first) return std::nullopt;
    driver d;
    d.table = table_of(*first);
    d.rest.k = node::kind::and_;
    for (const auto& k : root.kids) {
        if (usable(k) && table_of(k) == d.table)
            d.match += (d.match.empty() ? "" : " AND ") + fts_string(k);
        else
            d.rest.kids.push_back(k);
    }
    if (d.rest.kids.empty()) d.rest.k = node::kind::all;
    return d;
}

// Positive text terms (not under NOT), for highlighting.
void collect_highlights(const node& n, std::vector<const node*>& out) {
    if (n.k == node::kind::not_) return;
    if (n.k == node::kind::term) {
        if (is_text_field(n.f)) out.push_back(&n);
        return;
    }
    for (const auto& k : n.kids) collect_highlights(k, out);
}

void bind_all(sql::statement& s, const std::vector<binding>& b, int first = 1) {
    int i = first;
    for (const auto& v : b) {
        if (const auto* n = std::get_if<std::int64_t>(&v))
            s.bind(i++, *n);
        else
            s.bind(i++, std::string_view(std::get<std::string>(v)));
    }
}

constexpr const char* k_cols =
    "SELECT e.id, a.name, m.name, e.uid, e.uidl, coalesce(h.date_epoch, e.internaldate), "
    "e.internaldate, coalesce(h.from_addr, ''), coalesce(h.to_addr, ''), coalesce(h.subject, "
    "''), e.size, e.flags, c.sha256, e.expunged_at IS NOT NULL, ";

constexpr const char* k_joins =
    " CROSS JOIN contents c ON c.id = h.content_id CROSS JOIN entries e ON e.content_id = "
    "h.content_id JOIN mailboxes m ON m.id = e.mailbox_id JOIN accounts a ON a.id = "
    "m.account_id";

// Whitespace runs (newlines included) become one space; at most `max` bytes, cut at a
// character boundary.
std::string tidy(std::string_view s, std::size_t max) {
    std::string out;
    bool space = false;
    for (char c : s) {
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
        if (out.size() > max + 4) break;
    }
    if (out.size() > max) {
        std::size_t cut = max;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
        out.resize(cut);
        out += "…";
    }
    return out;
}

[[noreturn]] void translate(const mv::failure& f) {
    const std::string& m = f.err.message;
    if (f.err.code == errc::archive &&
        (m.find("fts5") != std::string::npos || m.find("syntax") != std::string::npos ||
         m.find("no such") != std::string::npos || m.find("MATCH") != std::string::npos ||
         m.find("malformed") != std::string::npos))
        throw mv::failure(errc::internal,
                          "search: the query could not be run (an internal error; run "
                          "`mailvault index` and try again, or report the query)");
    throw f;
}

}  // namespace

struct searcher_plan {
    std::string sql;
    std::vector<binding> binds;
};

namespace {

searcher_plan plan(archive::impl& d, const node& root, search_sort sort, bool count_only,
                   std::int64_t limit, std::int64_t offset) {
    searcher_plan p;
    compiler cw;
    std::optional<driver> drv = find_driver(root);
    // Which plan (measured in docs/benchmarks.md, "Search (issue #14)"): starting from the FTS
    // matches costs about 12 us per match (joins, then the sort); walking the date index costs
    // about 2 us per match (the IN list) plus 3 us per row walked (limit / fraction matching).
    // They cross near sqrt(16 N) matches for N messages. For very common words (above ~160
    // sqrt(N)) even the IN list costs more than probing each walked row's match directly.
    enum class how { fts, walk_in, walk_probe } mode = how::walk_in;
    if (drv) {
        if (sort == search_sort::relevance || count_only) {
            mode = how::fts;
        } else {
            const double n = static_cast<double>(std::max<std::int64_t>(d.content_count, 1));
            const auto low =
                std::clamp<std::int64_t>(static_cast<std::int64_t>(std::sqrt(16 * n)), 500, 20000);
            const auto high = std::clamp<std::int64_t>(
                static_cast<std::int64_t>(160 * std::sqrt(n)), low + 1, 200000);
            auto s = d.db.prepare(std::string("SELECT count(*) FROM (SELECT rowid FROM ") +
                                  table_name(drv->table) + " WHERE " + table_name(drv->table) +
                                  " MATCH ? LIMIT " + std::to_string(high) + ")");
            s.bind(1, std::string_view(drv->match));
            s.step();
            const std::int64_t matches = s.int64(0);
            s.reset();
            mode = matches < low ? how::fts : matches < high ? how::walk_in : how::walk_probe;
        }
    }
    const bool fts_driven = mode == how::fts;
    if (sort == search_sort::relevance && !drv) sort = search_sort::date;
    std::string from, where;
    if (fts_driven) {
        p.binds.emplace_back(drv->match);
        from = std::string(" FROM (SELECT rowid AS id, rank AS r FROM ") + table_name(drv->table) +
               " WHERE " + table_name(drv->table) + " MATCH ?) f CROSS JOIN header_index h ON " +
               "h.content_id = f.id" + k_joins;
        where = cw.expr(drv->rest);
    } else {
        // A message-id: term finds its few rows by header_index_by_message_id: let SQLite
        // plan that; everything else walks the date index.
        auto by_id = [](const node& k) {
            return k.k == node::kind::term && k.f == field::message_id;
        };
        bool has_id = by_id(root);
        if (root.k == node::kind::and_)
            for (const auto& k : root.kids) has_id = has_id || by_id(k);
        from = std::string(" FROM header_index h") +
               (has_id ? "" : " INDEXED BY header_index_by_sort_date") + k_joins;
        if (mode == how::walk_probe) {
            p.binds.emplace_back(drv->match);
            where = std::string("EXISTS (SELECT 1 FROM ") + table_name(drv->table) + " WHERE " +
                    table_name(drv->table) + " MATCH ? AND rowid = c.id) AND " + cw.expr(drv->rest);
        } else {
            where = cw.expr(root);
        }
    }
    if (count_only && fts_driven && drv->rest.k == node::kind::all) {
        // Counting a text-only query: entries per match, no other join.
        p.sql = std::string("SELECT count(*) FROM (SELECT rowid AS id FROM ") +
                table_name(drv->table) + " WHERE " + table_name(drv->table) +
                " MATCH ?) f CROSS JOIN entries e ON e.content_id = f.id";
        return p;
    }
    for (auto& b : cw.binds) p.binds.push_back(std::move(b));
    if (count_only) {
        p.sql = "SELECT count(*)" + from + " WHERE " + where;
        return p;
    }
    p.sql = std::string(k_cols) + k_held_sql + ", c.id" + from + " WHERE " + where +
            (sort == search_sort::relevance ? " ORDER BY f.r, h.sort_date DESC, e.id DESC"
                                            : " ORDER BY h.sort_date DESC, e.id DESC") +
            " LIMIT " + std::to_string(limit) + " OFFSET " + std::to_string(offset);
    return p;
}

// The snippet of one hit: FTS5's snippet() over the first table whose highlight expression
// matches the row; else the row's text around a scanned substring; else the text's start.
std::string make_snippet(archive::impl& d, std::int64_t content_id,
                         const std::vector<const node*>& hl) {
    std::string per_table[3];
    std::vector<std::string> scans;
    for (const node* t : hl) {
        if (needs_scan(*t)) {
            scans.push_back(t->value);
            continue;
        }
        auto& s = per_table[static_cast<int>(table_of(*t))];
        s += (s.empty() ? "" : " OR ") + fts_string(*t);
    }
    for (int t : {1, 2, 0}) {
        if (per_table[t].empty()) continue;
        const char* tn = table_name(static_cast<fts_table>(t));
        auto s = d.db.prepare(std::string("SELECT snippet(") + tn +
                              ", -1, char(2), char(3), '…', 24) FROM " + tn + " WHERE " + tn +
                              " MATCH ? AND rowid = ?");
        s.bind(1, std::string_view(per_table[t])).bind(2, content_id);
        if (s.step()) {
            std::string out = tidy(s.text(0), 400);
            s.reset();
            if (out.find(snippet_open) != std::string::npos) return out;
        }
    }
    auto s = d.db.prepare("SELECT body, subject FROM search_text WHERE rowid = ?");
    s.bind(1, content_id);
    if (!s.step()) return {};
    std::string body = s.text(0);
    std::string subject = s.text(1);
    s.reset();
    for (const auto& needle : scans) {
        for (const std::string* text : {&body, &subject}) {
            std::size_t at = text->find(needle);
            if (at == std::string::npos) continue;
            std::size_t from = at > 60 ? at - 60 : 0;
            while (from > 0 && (static_cast<unsigned char>((*text)[from]) & 0xC0) == 0x80) --from;
            std::size_t end = std::min(text->size(), at + needle.size() + 120);
            while (end < text->size() && (static_cast<unsigned char>((*text)[end]) & 0xC0) == 0x80)
                ++end;
            std::string out = (from > 0 ? "…" : "") + text->substr(from, at - from) + snippet_open +
                              needle + snippet_close +
                              text->substr(at + needle.size(), end - at - needle.size());
            return tidy(out, 400) + (end < text->size() ? "…" : "");
        }
    }
    return tidy(body, 200);
}

// One row of a plan's SELECT (columns 0-14; 15 is the content id).
entry_hit read_hit(sql::statement& s) {
    entry_hit h;
    h.entry_id = s.int64(0);
    h.account = s.text(1);
    h.folder = s.text(2);
    if (!s.is_null(3)) h.uid = static_cast<std::uint32_t>(s.int64(3));
    h.uidl = s.opt_text(4);
    h.date_epoch = s.opt_int64(5);
    h.internaldate = s.opt_int64(6);
    h.from = s.text(7);
    h.to = s.text(8);
    h.subject = s.text(9);
    h.size = static_cast<std::uint64_t>(s.int64(10));
    h.flags = s.text(11);
    h.content = blob_hash(s.blob(12));
    h.expunged = s.int64(13) != 0;
    h.held = s.int64(14) != 0;
    return h;
}

}  // namespace

void searcher::each(const search_request& r, const std::function<bool(const entry_hit&)>& fn) {
    const node root = search::parse(r.query);
    std::vector<const node*> hl;
    collect_highlights(root, hl);
    try {
        searcher_plan p =
            plan(*a_.d_, root, r.sort, false, -1, static_cast<std::int64_t>(r.offset));
        auto s = a_.d_->db.prepare(p.sql);
        bind_all(s, p.binds);
        while (s.step()) {
            entry_hit h = read_hit(s);
            if (r.snippets) h.snippet = make_snippet(*a_.d_, s.int64(15), hl);
            if (!fn(h)) {
                s.reset();
                return;
            }
        }
    } catch (const mv::failure& f) {
        translate(f);
    }
}

search_page searcher::page(const search_request& r) {
    search_page p;
    const std::size_t limit = std::min<std::size_t>(r.limit, 100000);
    std::size_t n = 0;
    const node root = search::parse(r.query);
    std::vector<const node*> hl;
    collect_highlights(root, hl);
    try {
        searcher_plan pl = plan(*a_.d_, root, r.sort, false, static_cast<std::int64_t>(limit) + 1,
                                static_cast<std::int64_t>(r.offset));
        auto s = a_.d_->db.prepare(pl.sql);
        bind_all(s, pl.binds);
        std::vector<std::int64_t> cids;
        while (s.step()) {
            if (n++ == limit) {
                p.more = true;
                s.reset();
                break;
            }
            entry_hit h = read_hit(s);
            cids.push_back(s.int64(15));
            p.hits.push_back(std::move(h));
        }
        if (r.snippets)
            for (std::size_t i = 0; i < p.hits.size(); ++i)
                p.hits[i].snippet = make_snippet(*a_.d_, cids[i], hl);
        if (r.want_total) {
            searcher_plan c = plan(*a_.d_, root, r.sort, true, 0, 0);
            auto cs = a_.d_->db.prepare(c.sql);
            bind_all(cs, c.binds);
            cs.step();
            p.total = cs.int64(0);
            cs.reset();
        }
    } catch (const mv::failure& f) {
        translate(f);
    }
    return p;
}

std::int64_t searcher::count(std::string_view query) {
    const node root = search::parse(query);
    try {
        searcher_plan c = plan(*a_.d_, root, search_sort::date, true, 0, 0);
        auto cs = a_.d_->db.prepare(c.sql);
        bind_all(cs, c.binds);
        cs.step();
        std::int64_t n = cs.int64(0);
        cs.reset();
        return n;
    } catch (const mv::failure& f) {
        translate(f);
    }
}

std::string searcher::explain(const search_request& r) {
    const node root = search::parse(r.query);
    searcher_plan p = plan(*a_.d_, root, r.sort, false, static_cast<std::int64_t>(r.limit) + 1,
                           static_cast<std::int64_t>(r.offset));
    auto s = a_.d_->db.prepare("EXPLAIN QUERY PLAN " + p.sql);
    bind_all(s, p.binds);
    std::string out = p.sql + "\n";
    while (s.step()) out += s.text(3) + "\n";
    return out;
}

}  // namespace mv::archive
