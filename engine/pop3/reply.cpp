#include "pop3/reply.hpp"

#include "mailvault/line_cut.hpp"

#include <cstring>

namespace mv::pop3 {

namespace {

bool iequal_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (c != prefix[i]) return false;
    }
    return true;
}

mv::error malformed(std::string_view what, std::string_view bytes, std::uint64_t offset) {
    return {mv::errc::protocol, "POP3: " + std::string(what) + " at offset " +
                                    std::to_string(offset) + ": " + describe_bytes(bytes)};
}

// RFC 2449: resp-code = "[" resp-level *("/" resp-level) "]", resp-level = 1*rchar,
// rchar = %x21-2E / %x30-5C / %x5E-7F. Sets `code` and strips it from `text` when well formed;
// anything else stays plain text (servers use brackets in free text too).
void split_resp_code(std::string& text, std::string& code) {
    if (text.empty() || text[0] != '[') return;
    auto close = text.find(']');
    if (close == std::string::npos || close == 1) return;
    for (std::size_t i = 1; i < close; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x21 || c > 0x7f || c == '[') return;
    }
    code = text.substr(1, close - 1);
    std::size_t rest = close + 1;
    while (rest < text.size() && text[rest] == ' ') ++rest;
    text.erase(0, rest);
}

}  // namespace

mv::error parse_status_line(std::string_view line, bool allow_continuation, std::uint64_t offset,
                            status_line& out) {
    out = status_line{};
    std::string_view rest;
    if (iequal_prefix(line, "+OK") && (line.size() == 3 || line[3] == ' ')) {
        out.kind = status_kind::ok;
        rest = line.substr(3);
    } else if (iequal_prefix(line, "-ERR") && (line.size() == 4 || line[4] == ' ')) {
        out.kind = status_kind::err;
        rest = line.substr(4);
    } else if (allow_continuation && !line.empty() && line[0] == '+' &&
               (line.size() == 1 || line[1] == ' ')) {
        out.kind = status_kind::continuation;
        rest = line.substr(1);
    } else {
        return malformed(allow_continuation ? "expected +OK, -ERR or \"+ \" continuation"
                                            : "expected +OK or -ERR",
                         line, offset);
    }
    if (!rest.empty()) rest.remove_prefix(1);  // the separating space
    out.text.assign(rest);
    if (out.kind != status_kind::continuation) split_resp_code(out.text, out.code);
    return {};
}

// ---- multiline_decoder ----------------------------------------------------------------------

void multiline_decoder::reset(std::uint64_t max_bytes) {
    state_ = state::line_start;
    max_ = max_bytes;
    emitted_ = 0;
}

mv::error multiline_decoder::emit(std::string_view run, body_consumer& out) {
    if (run.empty()) return {};
    if (run.size() > max_ - emitted_)
        return {mv::errc::limit,
                "POP3 message body larger than the limit of " + std::to_string(max_) + " bytes"};
    emitted_ += run.size();
    return out.on_body(run);
}

multiline_decoder::result multiline_decoder::feed(std::string_view in, body_consumer& out) {
    const char* const base = in.data();
    const std::size_t n = in.size();
    std::size_t i = 0;
    while (i < n && state_ != state::done) {
        switch (state_) {
            case state::mid_line: {
                const void* nl = std::memchr(base + i, '\n', n - i);
                std::size_t end =
                    nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - base) + 1 : n;
                if (auto e = emit(in.substr(i, end - i), out)) return {i, std::move(e)};
                i = end;
                if (nl) state_ = state::line_start;
                break;
            }
            case state::line_start:
                if (base[i] == '.') {
                    ++i;
                    state_ = state::dot;
                } else {
                    state_ = state::mid_line;
                }
                break;
            case state::dot:
                if (base[i] == '\r') {
                    ++i;
                    state_ = state::dot_cr;
                } else {
                    // ".." is a stuffed "." (the first dot is dropped and the run starts at the
                    // second); anything else is the pass-through quirk described in the header.
                    if (base[i] != '.')
                        if (auto e = emit(".", out)) return {i, std::move(e)};
                    state_ = state::mid_line;
                }
                break;
            case state::dot_cr:
                if (base[i] == '\n') {
                    ++i;
                    state_ = state::done;
                } else {
                    if (auto e = emit(".\r", out)) return {i, std::move(e)};
                    state_ = state::mid_line;
                }
                break;
            case state::done: break;
        }
    }
    return {i, {}};
}

// ---- reply_reader ---------------------------------------------------------------------------

void reply_reader::start(reply_mode mode, body_consumer* body, std::uint64_t max_body) {
    phase_ = phase::status;
    mode_ = mode;
    body_ = body;
    line_.clear();
    line_offset_ = offset_;
    status_ = status_line{};
    decoder_.reset(max_body);
}

reply_reader::result reply_reader::feed(std::string_view in) {
    result r;
    if (phase_ == phase::status) {
        // The cap applies to the line without its CRLF; without LF yet, a final CR may be the
        // first half of the terminator.
        const auto piece = mv::cut_line(in, line_);
        const std::size_t take = piece.take;
        const bool nl = piece.complete;
        if (piece.content > limits_.max_line) {
            r.event = reply_event::failed;
            r.err = {mv::errc::limit, "POP3 status line at offset " + std::to_string(line_offset_) +
                                          " longer than " + std::to_string(limits_.max_line) +
                                          " bytes"};
            return r;
        }
        std::string_view line;
        if (nl && line_.empty()) {
            line = in.substr(0, take);  // common case: the whole line is in this chunk, no copy
        } else {
            line_.append(in.data(), take);
            line = line_;
        }
        r.consumed = take;
        offset_ += take;
        if (!nl) return r;
        line.remove_suffix(1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (auto e = parse_status_line(line, mode_ == reply_mode::sasl, line_offset_, status_)) {
            r.event = reply_event::failed;
            r.err = std::move(e);
            phase_ = phase::idle;
            return r;
        }
        line_.clear();
        if (mode_ == reply_mode::multi && status_.kind == status_kind::ok) {
            phase_ = phase::body;
            r.event = reply_event::status;
        } else {
            phase_ = phase::idle;
            r.event = reply_event::complete;
        }
        return r;
    }
    if (phase_ == phase::body) {
        struct discard final : body_consumer {
            mv::error on_body(std::string_view) override { return {}; }
        } sink;
        auto d = decoder_.feed(in, body_ ? *body_ : static_cast<body_consumer&>(sink));
        r.consumed = d.consumed;
        offset_ += d.consumed;
        if (d.err) {
            r.event = reply_event::failed;
            r.err = std::move(d.err);
            if (r.err.code == mv::errc::protocol)
                r.err.message += " (in the reply at offset " + std::to_string(line_offset_) + ")";
            phase_ = phase::idle;
        } else if (decoder_.done()) {
            r.event = reply_event::complete;
            phase_ = phase::idle;
        }
        return r;
    }
    r.event = reply_event::failed;
    r.err = {mv::errc::internal, "POP3 reply_reader fed without start()"};
    return r;
}

}  // namespace mv::pop3
