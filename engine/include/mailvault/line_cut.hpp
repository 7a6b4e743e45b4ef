// Cutting CRLF-terminated lines out of a byte stream that arrives in pieces, as the line
// protocols' reply readers (SMTP, POP3 status lines) do: how much of the input belongs to the
// line being built, whether that ends it, and how long the line is without its terminator, so a
// cap on line length is checked before the bytes are kept. Pure; split-anywhere safe.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace mv {

struct line_piece {
    std::size_t take = 0;     // bytes of `in` that belong to the current line (LF included)
    bool complete = false;    // those bytes end the line (an LF was found)
    std::size_t content = 0;  // the line's length so far without CRLF / LF; a final CR with no
                              // LF yet counts as the first half of the terminator
};

// `held`: what is already kept of the current line (from earlier pieces).
inline line_piece cut_line(std::string_view in, std::string_view held) {
    line_piece p;
    const void* nl = in.empty() ? nullptr : std::memchr(in.data(), '\n', in.size());
    p.complete = nl != nullptr;
    p.take =
        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - in.data()) + 1 : in.size();
    p.content = held.size() + p.take;
    if (nl) {
        --p.content;
        const char before = p.take >= 2 ? in[p.take - 2] : (held.empty() ? '\0' : held.back());
        if (before == '\r') --p.content;
    } else if (p.take > 0 && in[p.take - 1] == '\r') {
        --p.content;
    }
    return p;
}

}  // namespace mv
