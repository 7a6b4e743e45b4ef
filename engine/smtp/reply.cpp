#include "smtp/reply.hpp"

#include "mailvault/line_cut.hpp"

#include <cstring>

namespace mv::smtp {

namespace {

mv::error malformed(std::string_view what, std::string_view bytes, std::uint64_t offset) {
    return {mv::errc::protocol, "SMTP: " + std::string(what) + " at offset " +
                                    std::to_string(offset) + ": " + describe_bytes(bytes)};
}

bool digit(char c) {
    return c >= '0' && c <= '9';
}

// 1-3 digits; returns how many, 0 if none or too many.
std::size_t digits(std::string_view s, std::size_t pos, int& value) {
    std::size_t n = 0;
    value = 0;
    while (pos + n < s.size() && digit(s[pos + n])) {
        if (n == 3) return 0;
        value = value * 10 + (s[pos + n] - '0');
        ++n;
    }
    return n;
}

}  // namespace

std::string enhanced_code::str() const {
    if (!present()) return {};
    return std::to_string(cls) + "." + std::to_string(subject) + "." + std::to_string(detail);
}

std::size_t parse_enhanced(std::string_view text, enhanced_code& out) {
    out = {};
    if (text.size() < 5) return 0;
    if (text[0] != '2' && text[0] != '4' && text[0] != '5') return 0;
    if (text[1] != '.') return 0;
    int subject = 0, detail = 0;
    std::size_t p = 2;
    std::size_t n = digits(text, p, subject);
    if (n == 0) return 0;
    p += n;
    if (p >= text.size() || text[p] != '.') return 0;
    ++p;
    n = digits(text, p, detail);
    if (n == 0) return 0;
    p += n;
    if (p < text.size() && text[p] != ' ') return 0;
    out = {text[0] - '0', subject, detail};
    return p < text.size() ? p + 1 : p;
}

std::string reply::summary() const {
    std::string s = std::to_string(code);
    if (enhanced.present()) s += " " + enhanced.str();
    bool first = true;
    for (const auto& l : lines) {
        if (l.empty()) continue;
        s += first ? " " : " / ";
        first = false;
        // Server text is quoted in one-line messages: no control bytes, bounded length.
        for (char c : l) {
            auto u = static_cast<unsigned char>(c);
            s += (u < 0x20 || u == 0x7f) ? '?' : c;
        }
        if (s.size() > 400) {
            s.resize(400);
            s += "...";
            break;
        }
    }
    return s;
}

mv::error reply_reader::finish_line(std::string_view line, bool& last) {
    // Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF
    if (line.size() < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) || line[0] < '2' ||
        line[0] > '5')
        return malformed("expected a three-digit reply code", line, line_offset_);
    if (line.size() > 3 && line[3] != '-' && line[3] != ' ')
        return malformed("expected \"-\" or a space after the reply code", line, line_offset_);
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (in_reply_ && code != reply_.code)
        return malformed("reply code changes inside a multi-line reply", line, line_offset_);
    if (reply_.lines.size() >= limits_.max_lines)
        return {mv::errc::limit, "SMTP reply at offset " + std::to_string(line_offset_) +
                                     " has more than " + std::to_string(limits_.max_lines) +
                                     " lines"};
    last = line.size() == 3 || line[3] == ' ';
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
    // RFC 3463 §2: the enhanced code's class matches the reply's first digit; a server that
    // sends something else has free text that only looks like one.
    enhanced_code ec;
    std::size_t n = parse_enhanced(text, ec);
    if (n > 0 && ec.cls == line[0] - '0') {
        if (!in_reply_) reply_.enhanced = ec;
        text.remove_prefix(n);
    }
    if (!in_reply_) reply_.code = code;
    reply_.lines.emplace_back(text);
    in_reply_ = true;
    return {};
}

reply_reader::result reply_reader::feed(std::string_view in) {
    result r;
    if (complete_) {
        reply_ = {};
        in_reply_ = false;
        complete_ = false;
        reply_bytes_ = 0;
    }
    while (!in.empty()) {
        if (line_.empty()) line_offset_ = offset_;
        // The line cap counts the line without its CRLF; a final CR may be half the terminator.
        const auto piece = mv::cut_line(in, line_);
        const std::size_t take = piece.take;
        const bool nl = piece.complete;
        if (piece.content > limits_.max_line) {
            r.event = reply_event::failed;
            r.err = {mv::errc::limit, "SMTP reply line at offset " + std::to_string(line_offset_) +
                                          " longer than " + std::to_string(limits_.max_line) +
                                          " bytes"};
            return r;
        }
        if (reply_bytes_ + take > limits_.max_reply) {
            r.event = reply_event::failed;
            r.err = {mv::errc::limit, "SMTP reply at offset " + std::to_string(line_offset_) +
                                          " larger than " + std::to_string(limits_.max_reply) +
                                          " bytes"};
            return r;
        }
        reply_bytes_ += take;
        std::string_view line;
        if (nl && line_.empty()) {
            line = in.substr(0, take);  // the whole line is in this chunk: no copy
        } else {
            line_.append(in.data(), take);
            line = line_;
        }
        r.consumed += take;
        offset_ += take;
        in.remove_prefix(take);
        if (!nl) return r;
        line.remove_suffix(1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        bool last = false;
        mv::error e = finish_line(line, last);
        line_.clear();
        if (e) {
            r.event = reply_event::failed;
            r.err = std::move(e);
            return r;
        }
        if (last) {
            complete_ = true;
            r.event = reply_event::complete;
            return r;
        }
    }
    return r;
}

}  // namespace mv::smtp
