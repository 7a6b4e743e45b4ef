// SMTP reply framing and parsing (RFC 5321 §4.2, enhanced status codes RFC 3463): pure,
// incremental, fed arbitrary chunks.
//
// A reply is one or more lines "ddd-text" ending with one "ddd text" (or "ddd"), all with the same
// three-digit code. The reader keeps at most one reply in memory and caps its line length, line
// count and total size, so a hostile server cannot make it allocate without bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mailvault/error.hpp"

namespace mv::smtp {

// Hard caps. A breach is mv::errc::limit with a message naming the cap.
struct limits {
    // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; real servers send longer EHLO
    // lines (AUTH lists, banners), so 1000 (the command/text line limit) plus slack.
    std::size_t max_line = 2048;
    // Lines of one multi-line reply (EHLO lists ~20 extensions; banners a few more).
    std::size_t max_lines = 256;
    // Total bytes of one reply.
    std::size_t max_reply = 64 * 1024;
};

// RFC 3463 class.subject.detail, e.g. {5,7,1}; class 0 when the reply carries none.
struct enhanced_code {
    int cls = 0;
    int subject = 0;
    int detail = 0;
    bool present() const noexcept { return cls != 0; }
    std::string str() const;
};

struct reply {
    int code = 0;                    // 220, 250, 354, 535, ...
    enhanced_code enhanced;          // from the first line, when it starts with one
    std::vector<std::string> lines;  // text of each line after "ddd-"/"ddd " (enhanced code
                                     // stripped from the lines that carry it)

    bool positive() const noexcept { return code >= 200 && code < 300; }
    bool intermediate() const noexcept { return code >= 300 && code < 400; }
    bool transient() const noexcept { return code >= 400 && code < 500; }
    bool permanent() const noexcept { return code >= 500; }
    // "550 5.7.1 Relaying denied" (lines joined with " / "), for messages: one line, printable.
    std::string summary() const;
};

using mv::describe_bytes;  // mailvault/error.hpp

// Parses RFC 3463 "c.s.d" at the start of `text` (c in 2/4/5, 1-3 digits each) followed by a
// space or the end; returns the length consumed including the space, 0 when there is none.
std::size_t parse_enhanced(std::string_view text, enhanced_code& out);

enum class reply_event {
    need_more,  // all input consumed, reply incomplete
    complete,   // a reply is complete: see current()
    failed,     // see result::err; the stream is out of step from now on
};

// Flow: feed(chunk) -> need_more ... -> complete (current() holds the reply; the next feed()
// starts the next reply) ... ; failed ends the stream. Bytes after a complete reply are not
// consumed: the caller feeds them again (they belong to the next reply).
class reply_reader {
public:
    explicit reply_reader(const limits& l = {}) : limits_(l) {}

    struct result {
        std::size_t consumed = 0;
        reply_event event = reply_event::need_more;
        mv::error err;
    };
    result feed(std::string_view in);

    const reply& current() const noexcept { return reply_; }
    std::uint64_t offset() const noexcept { return offset_; }

private:
    mv::error finish_line(std::string_view line, bool& last);

    limits limits_;
    reply reply_;
    bool in_reply_ = false;  // a line of the current reply was taken
    bool complete_ = false;  // current() is complete; the next feed starts a new one
    std::string line_;
    std::size_t reply_bytes_ = 0;
    std::uint64_t line_offset_ = 0;
    std::uint64_t offset_ = 0;
};

}  // namespace mv::smtp
