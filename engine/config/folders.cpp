// Folder selection: include/exclude patterns with IMAP LIST wildcards (RFC 3501 section 6.3.8).

#include <cctype>
#include <string>

#include "mailvault/config.hpp"

namespace mv::config {

namespace {

// INBOX is case-insensitive in IMAP (RFC 3501 section 5.1), also as the first component of a
// hierarchical name such as "inbox/Sub"; spell it canonically on both sides.
std::string canonical_inbox(std::string_view s, char delimiter) {
    std::size_t end = delimiter ? s.find(delimiter) : std::string_view::npos;
    std::string_view first = s.substr(0, end);
    std::string out(s);
    if (first.size() == 5) {
        bool inbox = true;
        for (std::size_t i = 0; i < 5; ++i)
            if (std::toupper(static_cast<unsigned char>(first[i])) != "INBOX"[i]) inbox = false;
        if (inbox) out.replace(0, 5, "INBOX");
    }
    return out;
}

// `*` matches any run of bytes, `%` any run without the delimiter. Dynamic programming over
// (pattern prefix, name prefix), so patterns like "*a*a*a*" cannot go exponential.
bool wildcard_match(std::string_view p, std::string_view n, char delimiter) {
    // std::string rows: unlike std::vector, never a null buffer (keeps -Wnull-dereference quiet).
    std::string prev(n.size() + 1, 0), cur(n.size() + 1, 0);
    prev[0] = 1;
    for (char c : p) {
        cur[0] = static_cast<char>(prev[0] && (c == '*' || c == '%'));
        for (std::size_t j = 1; j <= n.size(); ++j) {
            char nc = n[j - 1];
            if (c == '*')
                cur[j] = static_cast<char>(prev[j] || cur[j - 1]);
            else if (c == '%')
                cur[j] = static_cast<char>(prev[j] || (cur[j - 1] && nc != delimiter));
            else
                cur[j] = static_cast<char>(prev[j - 1] && nc == c);
        }
        prev.swap(cur);
    }
    return prev[n.size()] != 0;
}

}  // namespace

bool folder_pattern_matches(std::string_view pattern, std::string_view utf8_name, char delimiter) {
    std::string p = canonical_inbox(pattern, delimiter);
    std::string n = canonical_inbox(utf8_name, delimiter);
    if (p.find_first_of("*%") == std::string::npos) {
        // A plain name selects the folder and everything below it.
        if (n == p) return true;
        return delimiter != '\0' && n.size() > p.size() + 1 && n.compare(0, p.size(), p) == 0 &&
               n[p.size()] == delimiter;
    }
    return wildcard_match(p, n, delimiter);
}

bool folder_selected(const account& acct, std::string_view utf8_name, char delimiter) {
    for (const auto& pat : acct.exclude)
        if (folder_pattern_matches(pat, utf8_name, delimiter)) return false;
    for (const auto& pat : acct.folders)
        if (folder_pattern_matches(pat, utf8_name, delimiter)) return true;
    return false;
}

}  // namespace mv::config
