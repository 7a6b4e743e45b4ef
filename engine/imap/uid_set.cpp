#include "imap/uid_set.hpp"

#include <algorithm>

#include "imap/syntax.hpp"

namespace mv::imap {

std::uint64_t uid_set::count() const {
    std::uint64_t n = 0;
    for (auto& r : ranges) n += std::uint64_t{r.last} - r.first + 1;
    return n;
}

std::vector<std::uint32_t> uid_set::expand() const {
    std::vector<std::uint32_t> out;
    for (auto& r : ranges)
        for (std::uint64_t u = r.first; u <= r.last; ++u)
            out.push_back(static_cast<std::uint32_t>(u));
    return out;
}

bool uid_set::contains(std::uint32_t uid) const {
    for (auto& r : ranges)
        if (uid >= r.first && uid <= r.last) return true;
    return false;
}

std::optional<uid_set> parse_uid_set(std::string_view s) {
    uid_set out;
    if (s.empty()) return std::nullopt;
    while (!s.empty()) {
        auto comma = s.find(',');
        auto part = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
        if (comma != std::string_view::npos && s.empty()) return std::nullopt;
        auto colon = part.find(':');
        auto a = parse_number(part.substr(0, colon));
        auto b = colon == std::string_view::npos ? a : parse_number(part.substr(colon + 1));
        if (!a || !b || *a > 0xffffffffu || *b > 0xffffffffu) return std::nullopt;
        auto lo = static_cast<std::uint32_t>(std::min(*a, *b));
        auto hi = static_cast<std::uint32_t>(std::max(*a, *b));
        out.ranges.push_back({lo, hi});
    }
    return out;
}

uid_set make_uid_set(std::vector<std::uint32_t> uids) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    uid_set out;
    for (auto u : uids) {
        if (!out.ranges.empty() && out.ranges.back().last + 1 == u &&
            out.ranges.back().last != 0xffffffffu)
            out.ranges.back().last = u;
        else
            out.ranges.push_back({u, u});
    }
    return out;
}

namespace {
void append_range(std::string& s, const uid_range& r) {
    s += std::to_string(r.first);
    if (r.last != r.first) {
        s += ':';
        s += std::to_string(r.last);
    }
}
}  // namespace

std::string format_uid_set(const uid_set& set) {
    std::string s;
    for (auto& r : set.ranges) {
        if (!s.empty()) s += ',';
        append_range(s, r);
    }
    return s;
}

std::vector<std::string> split_uid_set(const uid_set& set, std::size_t max_len) {
    std::vector<std::string> out;
    std::string cur, piece;
    for (auto& r : set.ranges) {
        piece.clear();
        append_range(piece, r);
        if (!cur.empty() && cur.size() + 1 + piece.size() > max_len) {
            out.push_back(std::move(cur));
            cur.clear();
        }
        if (!cur.empty()) cur += ',';
        cur += piece;
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

}  // namespace mv::imap
