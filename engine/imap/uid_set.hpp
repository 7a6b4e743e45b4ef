// UID / sequence sets: "1:5,7,9:12". Parsing (server output: COPYUID, VANISHED, ESEARCH ALL,
// MODIFIED), formatting with ranges, and splitting a long set so no command line exceeds a limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mv::imap {

struct uid_range {
    std::uint32_t first = 0;
    std::uint32_t last = 0;  // inclusive, first <= last
    bool operator==(const uid_range&) const = default;
};

struct uid_set {
    std::vector<uid_range> ranges;  // in the order given (servers keep COPYUID order meaningful)

    bool empty() const { return ranges.empty(); }
    std::uint64_t count() const;
    std::vector<std::uint32_t> expand() const;  // every UID, in order (beware huge sets)
    bool contains(std::uint32_t uid) const;
    bool operator==(const uid_set&) const = default;
};

// Parses a set of numbers and ranges ("*" is rejected: servers never send it). nullopt on error.
std::optional<uid_set> parse_uid_set(std::string_view s);

// Compresses UIDs (any order, duplicates allowed) into sorted ranges.
uid_set make_uid_set(std::vector<std::uint32_t> uids);

std::string format_uid_set(const uid_set& set);

// Formats the set in pieces no longer than max_len bytes each (max_len >= 21 so one range fits).
std::vector<std::string> split_uid_set(const uid_set& set, std::size_t max_len);

}  // namespace mv::imap
