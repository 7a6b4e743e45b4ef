// A GMime-based view of one message for reading it (mailvault show, the web viewer): decoded
// headers, the text and HTML bodies in UTF-8, and every MIME leaf part (attachments, inline
// images, the bodies themselves) numbered in document order. Never throws on bad mail: a message
// GMime cannot parse comes back with parsed = false.
//
// Part numbers are stable for a given content: 1 is the first leaf in a depth-first walk of the
// MIME tree; an attached message (message/rfc822) is one leaf, not descended into.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mailvault/error.hpp"

namespace mv::mime {

struct view_limits {
    std::size_t max_body = 8 * 1024 * 1024;  // decoded bytes kept of the text and of the HTML body
};

struct part_info {
    int number = 0;            // 1-based, depth-first order of leaves
    std::string content_type;  // lower case, e.g. "image/png"
    std::string filename;      // decoded (RFC 2047/2231); empty when none
    std::string content_id;    // without <>
    std::string disposition;   // "attachment", "inline" or "" (lower case)
    std::string charset;       // of text parts, as declared
    std::uint64_t size = 0;    // decoded bytes
    bool body = false;         // the part shown as the text or HTML body
};

struct message_view {
    bool parsed = false;
    // Every header of the top-level message in order, names as written, values decoded UTF-8.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string date, from, to, cc, subject, message_id;  // decoded; message_id without <>
    std::string text;  // the text/plain body, UTF-8 (empty when none)
    std::string html;  // the text/html body, UTF-8, unsanitized (empty when none)
    bool text_truncated = false, html_truncated = false;
    std::vector<part_info> parts;

    // The part whose Content-ID is `cid` (with or without <>), compared case-sensitively as
    // RFC 2392 says, after percent-decoding a cid: URL's value.
    const part_info* find_cid(std::string_view cid) const;
    const part_info* part(int number) const;
    // Parts that are not the body: what a reader calls the attachments.
    std::vector<const part_info*> attachments() const;
};

message_view view(std::string_view raw, const view_limits& limits = {});

// A message spooled to a private temporary file (created 0600 in $TMPDIR, else /tmp, and
// unlinked at once, so nothing is left behind even after a kill). GMime parses a seekable file
// stream without copying the content into memory (parts refer to byte ranges of the file), so
// view() and decode_part() over a spool use memory bounded by view_limits::max_body, not by the
// message's size: `show` and the web viewer go through one for any message.
// Flow: construct -> append() the bytes (archive::read_content's sink) -> view / decode_part,
// as often as wanted. Throws mv::failure(errc::io) when the file cannot be created or written.
class spooled_message {
public:
    spooled_message();
    ~spooled_message();
    spooled_message(const spooled_message&) = delete;
    spooled_message& operator=(const spooled_message&) = delete;

    void append(std::string_view bytes);
    int fd() const { return fd_; }
    std::uint64_t size() const { return size_; }

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

message_view view(const spooled_message& m, const view_limits& limits = {});

// Decodes part `number` (content transfer encoding undone, bytes as the sender attached them)
// to `sink` in chunks. An attached message is written as its bytes. usage error when there is
// no such part or the message does not parse.
mv::error decode_part(std::string_view raw, int number,
                      const std::function<void(std::string_view)>& sink);
mv::error decode_part(const spooled_message& m, int number,
                      const std::function<void(std::string_view)>& sink);

// A file name safe to offer for saving: no directory parts, no control characters, no leading
// dots; `fallback` when nothing is left.
std::string safe_filename(std::string_view name, std::string_view fallback);

}  // namespace mv::mime
