// Durations and sizes as users write them, in one grammar for the config file, every command
// line option and the query language (docs/configuration.md, "Durations and sizes").
//
//   duration: a positive whole number and a unit: s m h d w mo y ("90m", "30d", "2w", "6mo",
//             "7y"). A month counts as 31 days and a year as 366 days, so that a deletion by age
//             (prune, purge, delete_older_than) never comes early; at most 100 years.
//   size:     a whole number of bytes, optionally with k, M, G or T (powers of 1024, any case)
//             and an optional trailing B: "1048576", "200k", "10M", "1GB".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mv {

inline constexpr std::int64_t max_duration_seconds = 100LL * 366 * 86400;

// nullopt when malformed, zero or over 100 years.
std::optional<std::chrono::seconds> parse_duration(std::string_view s);
// The one-line explanation to print next to a value parse_duration refused.
std::string_view duration_grammar();
// The largest unit that divides d exactly: 604800 s -> "1w", 5400 s -> "90m".
std::string format_duration(std::chrono::seconds d);

// nullopt when malformed or over 2^50 bytes.
std::optional<std::uint64_t> parse_size(std::string_view s);
std::string_view size_grammar();
// Human form with one decimal below 10 of a unit: 512 -> "512 B", 1536 -> "1.5 KiB",
// 734003200 -> "700 MiB".
std::string format_size(std::uint64_t bytes);

// 1234567 -> "1,234,567" (for counts shown to people).
std::string format_count(std::int64_t n);
// Epoch seconds as UTC with a strftime format, e.g. "%Y-%m-%d %H:%M".
std::string format_utc(std::int64_t epoch, const char* strftime_format);

}  // namespace mv
