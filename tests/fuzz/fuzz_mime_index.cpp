// libFuzzer target: the GMime-based message index (headers, RFC 2047 words, MIME structure, text
// extraction) and the HTML-to-text and UTF-8 repair helpers it uses. Bad mail must never crash,
// hang or throw: parse() returns parsed = false instead.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mime/message_index.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    mv::mime::index_limits lim;
    lim.max_text = 16 * 1024;
    lim.max_part_decode = 256 * 1024;
    auto idx = mv::mime::parse(raw, lim);
    if (idx.text.size() > lim.max_text) __builtin_trap();
    // The index output is shown and stored as UTF-8: repairing it again must change nothing.
    for (const std::string* s : {&idx.subject, &idx.from, &idx.to, &idx.text})
        if (mv::mime::make_valid_utf8(*s) !=
            mv::mime::make_valid_utf8(mv::mime::make_valid_utf8(*s)))
            __builtin_trap();
    auto text = mv::mime::html_to_text(raw, 4096);
    if (text.size() > 4096) __builtin_trap();
    return 0;
}
