#include "sync/restore_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

namespace mv::sync {

const char* to_string(restore_action a) noexcept {
    switch (a) {
        case restore_action::append: return "append";
        case restore_action::already: return "already";
        case restore_action::resolve: return "resolve";
        case restore_action::skip_too_big: return "too-big";
    }
    return "?";
}

std::vector<planned_item> plan_restore_folder(std::span<const restore_item> items,
                                              std::span<const archive::ledger_row> ledger,
                                              std::optional<std::uint32_t> target_uidvalidity,
                                              std::optional<std::uint64_t> append_limit) {
    std::map<std::int64_t, const archive::ledger_row*> by_entry;
    for (const auto& r : ledger) by_entry[r.entry_id] = &r;
    std::vector<planned_item> out;
    out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        planned_item p;
        p.index = i;
        auto row = by_entry.find(it.entry_id);
        if (row != by_entry.end()) {
            const auto& r = *row->second;
            if (r.content != it.content) {
                p.action = restore_action::resolve;
                p.reason = "ledger row names another content";
            } else if (r.state == archive::ledger_state::intent) {
                p.action = restore_action::resolve;
                p.reason = "APPEND intended but not confirmed";
            } else if (target_uidvalidity && r.target_uidvalidity &&
                       *r.target_uidvalidity != *target_uidvalidity) {
                p.action = restore_action::resolve;
                p.reason = "target UIDVALIDITY changed from " +
                           std::to_string(*r.target_uidvalidity) + " to " +
                           std::to_string(*target_uidvalidity);
            } else {
                p.action = restore_action::already;
            }
        } else if (append_limit && it.size > *append_limit) {
            p.action = restore_action::skip_too_big;
            p.reason = "too big for the target: " + std::to_string(it.size) +
                       " bytes is over its APPENDLIMIT of " + std::to_string(*append_limit);
        } else {
            p.action = restore_action::append;
        }
        out.push_back(std::move(p));
    }
    return out;
}

namespace {
bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto l = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
               return l(x) == l(y);
           });
}
}  // namespace

flag_plan plan_flags(const std::vector<std::string>& archived,
                     const std::vector<std::string>& permanent_flags, bool permanent_known,
                     bool include_deleted) {
    flag_plan out;
    bool any_keyword = false;
    for (const auto& f : permanent_flags)
        if (f == "\\*") any_keyword = true;
    for (const auto& f : archived) {
        if (f.empty()) continue;
        if (iequal(f, "\\Recent")) continue;
        if (iequal(f, "\\Deleted") && !include_deleted) continue;
        if (f[0] != '\\' && permanent_known && !any_keyword) {
            bool listed = false;
            for (const auto& p : permanent_flags) listed = listed || iequal(p, f);
            if (!listed) {
                out.refused.push_back(f);
                continue;
            }
        }
        out.send.push_back(f);
    }
    return out;
}

std::optional<folder_map_rule> parse_map_rule(std::string_view s) {
    auto eq = s.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == s.size()) return std::nullopt;
    return folder_map_rule{std::string(s.substr(0, eq)), std::string(s.substr(eq + 1))};
}

std::vector<std::string> split_levels(std::string_view s, char delim) {
    std::vector<std::string> parts;
    if (delim == 0) {
        parts.emplace_back(s);
        return parts;
    }
    std::size_t start = 0;
    for (;;) {
        auto p = s.find(delim, start);
        parts.emplace_back(s.substr(start, p == std::string_view::npos ? p : p - start));
        if (p == std::string_view::npos) break;
        start = p + 1;
    }
    return parts;
}

target_name map_folder_name(std::string_view source_name, char source_delim,
                            std::span<const folder_map_rule> rules, std::string_view ns_prefix,
                            char target_delim) {
    target_name out;
    auto parts = split_levels(source_name, source_delim);
    // Explicit rules ('/'-separated on both sides) on the '/'-joined source name.
    std::string slash;
    for (std::size_t i = 0; i < parts.size(); ++i) slash += (i ? "/" : "") + parts[i];
    for (const auto& r : rules) {
        if (slash == r.source ||
            (slash.size() > r.source.size() && slash.compare(0, r.source.size(), r.source) == 0 &&
             slash[r.source.size()] == '/')) {
            parts = split_levels(r.target + slash.substr(r.source.size()), '/');
            break;
        }
    }
    const bool inbox = !parts.empty() && iequal(parts[0], "INBOX");
    if (inbox) parts[0] = "INBOX";
    for (auto& p : parts) {
        if (target_delim == 0 || p.find(target_delim) == std::string::npos) continue;
        std::string was = p;
        std::replace(p.begin(), p.end(), target_delim, '_');
        out.note += (out.note.empty() ? "" : "; ") + std::string("'") + was +
                    "' contains the target's hierarchy delimiter: restored as '" + p + "'";
    }
    std::string name;
    if (!inbox && !ns_prefix.empty()) name = std::string(ns_prefix);
    const std::string joiner = target_delim ? std::string(1, target_delim) : std::string("/");
    for (std::size_t i = 0; i < parts.size(); ++i) name += (i ? joiner : "") + parts[i];
    out.name = std::move(name);
    return out;
}

std::optional<std::string> header_message_id(std::string_view message) {
    const auto header = archive::header_block(message);
    std::size_t pos = 0;
    while (pos < header.size()) {
        auto eol = header.find('\n', pos);
        std::size_t end = eol == std::string_view::npos ? header.size() : eol + 1;
        std::string_view line = header.substr(pos, end - pos);
        pos = end;
        if (line.size() < 11 || !iequal(line.substr(0, 11), "message-id:")) continue;
        std::string value(line.substr(11));
        // Unfold continuation lines.
        while (pos < header.size() && (header[pos] == ' ' || header[pos] == '\t')) {
            auto e2 = header.find('\n', pos);
            std::size_t end2 = e2 == std::string_view::npos ? header.size() : e2 + 1;
            value += header.substr(pos, end2 - pos);
            pos = end2;
        }
        std::string clean;
        for (char c : value)
            if (c != '\r' && c != '\n') clean += c;
        auto b = clean.find_first_not_of(" \t");
        if (b == std::string::npos) return std::nullopt;
        auto e = clean.find_last_not_of(" \t");
        return clean.substr(b, e - b + 1);
    }
    return std::nullopt;
}

std::string resolve_search_criteria(const std::optional<std::string>& message_id,
                                    std::uint64_t size) {
    if (message_id && !message_id->empty() && message_id->size() < 900) {
        bool quotable = true;
        for (unsigned char c : *message_id)
            if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') quotable = false;
        if (quotable) return "HEADER Message-ID \"" + *message_id + "\"";
    }
    // LARGER/SMALLER are strict: n-1 < size < n+1.
    const std::uint64_t lo = size == 0 ? 0 : size - 1;
    return "LARGER " + std::to_string(lo) + " SMALLER " + std::to_string(size + 1);
}

match_result match_on_target(const restore_item& item, std::span<const target_candidate> cands,
                             const std::set<std::uint32_t>& claimed) {
    std::vector<const target_candidate*> left;
    for (const auto& c : cands) {
        if (claimed.count(c.uid)) continue;
        if (c.size && *c.size != item.size) continue;
        if (c.internaldate && item.internaldate && *c.internaldate != *item.internaldate) continue;
        if (c.hash && *c.hash != item.content) continue;
        left.push_back(&c);
    }
    match_result r;
    if (left.empty()) return r;
    std::sort(left.begin(), left.end(), [](auto* a, auto* b) { return a->uid < b->uid; });
    bool all_hashed = true;
    for (auto* c : left) all_hashed = all_hashed && c->hash.has_value();
    if (left.size() == 1 || all_hashed) {
        r.k = match_result::kind::found;
        r.uid = left.front()->uid;
        return r;
    }
    r.k = match_result::kind::need_hash;
    for (auto* c : left)
        if (!c->hash) r.ask.push_back(c->uid);
    return r;
}

bool present_at(std::int64_t first_seen, std::optional<std::int64_t> expunged_at,
                std::int64_t as_of) {
    return first_seen <= as_of && (!expunged_at || *expunged_at > as_of);
}

std::optional<std::int64_t> parse_as_of(std::string_view s) {
    if (!s.empty() && s[0] == '@') {
        if (s.size() < 2 || s.size() > 20) return std::nullopt;
        std::int64_t v = 0;
        for (char c : s.substr(1)) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + (c - '0');
        }
        return v;
    }
    std::string t(s);
    if (!t.empty() && (t.back() == 'Z' || t.back() == 'z')) t.pop_back();
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    char sep = 0;
    int n = 0, used = 0;
    if (t.size() == 10) {
        n = std::sscanf(t.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used);
        if (n != 3) return std::nullopt;
    } else if (t.size() == 19) {
        n = std::sscanf(t.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &se,
                        &used);
        if (n != 7 || (sep != 'T' && sep != 't' && sep != ' ')) return std::nullopt;
    } else {
        return std::nullopt;
    }
    if (static_cast<std::size_t>(used) != t.size()) return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    const std::time_t v = timegm(&tm);
    if (tm.tm_mday != d) return std::nullopt;  // 2024-02-31 normalised to March
    return static_cast<std::int64_t>(v);
}

}  // namespace mv::sync
