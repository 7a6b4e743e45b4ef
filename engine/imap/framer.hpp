// IMAP response framer: turns a byte stream into complete responses, without interpreting them.
//
// Flow: the caller hands each chunk it read to feed(); feed() consumes bytes until it has completed
// one response (answers `complete`; take the response with current()/take() before feeding more)
// or the chunk is exhausted (answers `need_more`). Lines are scanned once (only new bytes); a line
// ending in a literal marker `{n}`, `{n+}` or `~{n}` switches to literal mode, where the next n
// bytes are either handed to the literal_sink (which the caller chooses per literal: a 50 MB
// BODY[] is streamed, never buffered) or kept inline in the response text.
//
// The response text is the wire text with line ends removed and each kept literal's bytes placed
// directly after its `{n}` marker; a streamed literal leaves only its marker. Parsers (syntax.hpp)
// read that form. Line ends: servers send CRLF; a bare LF is also accepted as a line end because
// some servers and most recorded transcripts use it.
//
// Lines of status responses (`* OK ...`, `tag NO ...`, `+ ...`) carry free text, so a trailing
// `{5}` there is text, not a literal.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mailvault/error.hpp"

namespace mv::imap {

struct limits {
    std::size_t max_line = std::size_t{1} << 20;           // bytes in one line (between literals)
    std::uint64_t max_literal = std::uint64_t{256} << 20;  // bytes in one literal
    std::size_t max_response = std::size_t{16} << 20;      // non-literal bytes of one response
    std::uint64_t max_inline = std::uint64_t{64} << 20;    // literal bytes kept in one response
};

// Receives the literals the caller chose to stream.
class literal_sink {
public:
    virtual ~literal_sink() = default;
    // A literal of `size` bytes starts. `prefix` is the response text so far (ending with its
    // `{n}` marker). Return true to receive its bytes via literal_data()/literal_end(), false to
    // keep them inline in the response.
    virtual bool literal_begin(std::string_view prefix, std::uint64_t size) = 0;
    virtual void literal_data(std::string_view bytes) = 0;
    virtual void literal_end() = 0;
};

struct literal_info {
    std::size_t text_pos = 0;  // where the data starts in framed_response::text
    std::uint64_t size = 0;
    bool streamed = false;  // bytes went to the sink; text holds none of them
    bool binary = false;    // ~{n}
};

struct framed_response {
    std::string text;
    std::vector<literal_info> literals;
    std::uint64_t stream_offset = 0;  // absolute offset of the first byte in the stream
    // (text position, stream offset) at the start of every line segment, for error offsets.
    std::vector<std::pair<std::size_t, std::uint64_t>> segments;

    std::uint64_t offset_of(std::size_t text_pos) const;
    void clear();
};

// Printable form of bytes for error messages: CR/LF/controls/8-bit as \r \n \xNN, cut at `max`.
std::string escape_bytes(std::string_view bytes, std::size_t max = 60);

class framer {
public:
    enum class status { need_more, complete, error };

    explicit framer(limits lim = {}) : lim_(lim) {}

    void set_sink(literal_sink* s) { sink_ = s; }
    const limits& get_limits() const { return lim_; }

    // Consumes bytes from the front of `in` (advancing it). Stops right after a complete response.
    status feed(std::string_view& in);

    // Valid after feed() answered complete, until the next feed().
    framed_response& current() { return resp_; }
    // Valid after feed() answered error; the framer stays in error.
    const mv::error& error() const { return err_; }
    std::uint64_t offset() const { return offset_; }  // bytes consumed so far
    bool mid_response() const { return started_; }

private:
    status line_end();
    status fail(mv::errc c, std::string msg);

    limits lim_;
    literal_sink* sink_ = nullptr;
    framed_response resp_;
    mv::error err_;
    std::uint64_t offset_ = 0;
    std::size_t seg_start_ = 0;       // text position where the current line segment started
    std::size_t line_bytes_ = 0;      // non-literal bytes of this response
    std::uint64_t inline_bytes_ = 0;  // inline literal bytes of this response
    std::uint64_t lit_left_ = 0;      // bytes left in the current literal
    bool in_literal_ = false;
    bool lit_streamed_ = false;
    bool started_ = false;
    bool first_segment_ = true;
    bool complete_ = false;
};

}  // namespace mv::imap
