#include "mailvault/units.hpp"

#include <array>
#include <cstdio>
#include <ctime>

namespace mv {

namespace {

std::optional<std::uint64_t> parse_digits(std::string_view s, std::uint64_t max) {
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
        if (n > max) return std::nullopt;
    }
    return n;
}

struct unit {
    std::string_view suffix;
    std::int64_t seconds;
};

// Longest suffix first ("mo" before "m"); format_duration walks it from the largest unit.
constexpr std::array<unit, 7> duration_units{{{"mo", 31 * 86400},
                                              {"y", 366 * 86400},
                                              {"w", 7 * 86400},
                                              {"d", 86400},
                                              {"h", 3600},
                                              {"m", 60},
                                              {"s", 1}}};

}  // namespace

std::optional<std::chrono::seconds> parse_duration(std::string_view s) {
    for (const auto& u : duration_units) {
        if (s.size() <= u.suffix.size() || !s.ends_with(u.suffix)) continue;
        auto n = parse_digits(s.substr(0, s.size() - u.suffix.size()),
                              static_cast<std::uint64_t>(max_duration_seconds));
        if (!n || *n == 0) return std::nullopt;
        const auto total = static_cast<std::int64_t>(*n) * u.seconds;
        if (static_cast<std::int64_t>(*n) > max_duration_seconds / u.seconds ||
            total > max_duration_seconds)
            return std::nullopt;
        return std::chrono::seconds(total);
    }
    return std::nullopt;
}

std::string_view duration_grammar() {
    return "write a positive whole number and a unit s, m, h, d, w, mo or y, e.g. \"30d\", "
           "\"12h\", \"6mo\", \"7y\" (at most 100 years)";
}

std::string format_duration(std::chrono::seconds d) {
    const auto s = d.count();
    for (std::string_view want : {"y", "mo", "w", "d", "h", "m"})
        for (const auto& u : duration_units)
            if (u.suffix == want && s != 0 && s % u.seconds == 0)
                return std::to_string(s / u.seconds) + std::string(u.suffix);
    return std::to_string(s) + "s";
}

std::optional<std::uint64_t> parse_size(std::string_view s) {
    if (!s.empty() && (s.back() == 'B' || s.back() == 'b')) s.remove_suffix(1);
    if (s.empty()) return std::nullopt;
    std::uint64_t mult = 1;
    switch (s.back()) {
        case 'k':
        case 'K': mult = 1ull << 10; break;
        case 'm':
        case 'M': mult = 1ull << 20; break;
        case 'g':
        case 'G': mult = 1ull << 30; break;
        case 't':
        case 'T': mult = 1ull << 40; break;
        default: break;
    }
    if (mult != 1) s.remove_suffix(1);
    auto n = parse_digits(s, (std::uint64_t{1} << 50) / mult);
    if (!n) return std::nullopt;
    return *n * mult;
}

std::string_view size_grammar() {
    return "write bytes or a whole number with k, M, G or T (powers of 1024), e.g. \"5M\"";
}

std::string format_size(std::uint64_t bytes) {
    static constexpr const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) return std::to_string(bytes) + " B";
    double v = static_cast<double>(bytes);
    int i = 0;
    while (v >= 1024 && i < 5) {
        v /= 1024;
        ++i;
    }
    char buf[32];
    if (v < 10)
        std::snprintf(buf, sizeof buf, "%.1f %s", v, names[i]);
    else
        std::snprintf(buf, sizeof buf, "%.0f %s", v, names[i]);
    return buf;
}

std::string format_count(std::int64_t n) {
    std::string d = std::to_string(n);
    const std::size_t first = n < 0 ? 1 : 0;
    for (std::size_t i = d.size(); i > first + 3; i -= 3) d.insert(i - 3, ",");
    return d;
}

std::string format_utc(std::int64_t epoch, const char* strftime_format) {
    const std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    // The formats are the callers' string literals (units.hpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    const std::size_t n = std::strftime(buf, sizeof buf, strftime_format, &tm);
#pragma GCC diagnostic pop
    return std::string(buf, n);
}

}  // namespace mv
