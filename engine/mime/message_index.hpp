// GMime-based parsing of one message for the archive's header index and full-text search.
// Never throws on bad mail: a message GMime cannot parse comes back with parsed = false.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mv::mime {

struct index_limits {
    std::size_t max_text = 256 * 1024;              // UTF-8 bytes of body text kept for FTS
    std::size_t max_part_decode = 8 * 1024 * 1024;  // text parts larger than this are skipped
};

struct message_index {
    bool parsed = false;     // false: GMime could not make a message of the bytes
    std::string message_id;  // without <>
    std::string in_reply_to;
    std::vector<std::string> references;
    std::string from, to, cc;  // decoded UTF-8 display form ("Name <addr>, ...")
    std::string bcc;           // same form; present in sent mail and drafts only
    std::string subject;       // decoded UTF-8 (RFC 2047, 8-bit fallback charsets)
    std::string date_raw;
    std::optional<std::int64_t> date_epoch;  // nullopt: absent or unparsable
    std::string text;                        // decoded text body (plain, else HTML reduced to text)
    bool text_truncated = false;
    // Parts that are attachments (Content-Disposition: attachment, or any non-text part, or a
    // part with a file name): their decoded file names ("" when the part has none), in order.
    std::vector<std::string> attachments;
};

// Calls g_mime_init() exactly once, thread-safe. parse() calls it itself.
void ensure_init();

// Parses without copying `raw` (GMime reads it through a stream over the caller's bytes).
message_index parse(std::string_view raw, const index_limits& limits = {});

// Simple HTML to text: drops tags, script/style/head content and comments, decodes entities,
// turns block tags into line breaks, collapses runs of blank space. Output is at most max bytes.
std::string html_to_text(std::string_view html, std::size_t max = static_cast<std::size_t>(-1));

// Replaces invalid UTF-8 sequences with U+FFFD.
std::string make_valid_utf8(std::string_view s);

}  // namespace mv::mime
