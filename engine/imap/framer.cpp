#include "imap/framer.hpp"

#include <algorithm>
#include <cstring>

namespace mv::imap {

namespace {

char upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (upper(a[i]) != upper(b[i])) return false;
    return true;
}

// True for lines whose tail is free text: continuation requests and status responses.
bool is_text_line(std::string_view line) {
    if (!line.empty() && line[0] == '+') return true;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return false;
    auto rest = line.substr(sp + 1);
    auto end = rest.find(' ');
    auto word = rest.substr(0, end);
    return iequals(word, "OK") || iequals(word, "NO") || iequals(word, "BAD") ||
           iequals(word, "BYE") || iequals(word, "PREAUTH");
}

}  // namespace

std::string escape_bytes(std::string_view bytes, std::size_t max) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
        auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\\') {
            out += "\\\\";
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (bytes.size() > max) out += "...";
    return out;
}

std::uint64_t framed_response::offset_of(std::size_t text_pos) const {
    if (segments.empty()) return stream_offset + text_pos;
    auto it = std::upper_bound(segments.begin(), segments.end(), text_pos,
                               [](std::size_t p, const auto& seg) { return p < seg.first; });
    if (it != segments.begin()) --it;
    return it->second + (text_pos - it->first);
}

void framed_response::clear() {
    text.clear();
    literals.clear();
    segments.clear();
    stream_offset = 0;
}

framer::status framer::fail(mv::errc c, std::string msg) {
    err_ = mv::error(c, std::move(msg));
    return status::error;
}

framer::status framer::feed(std::string_view& in) {
    if (err_) return status::error;
    if (complete_) {
        resp_.clear();
        complete_ = false;
        started_ = false;
        first_segment_ = true;
        seg_start_ = 0;
        line_bytes_ = 0;
        inline_bytes_ = 0;
    }
    while (!in.empty()) {
        if (!started_) {
            started_ = true;
            resp_.stream_offset = offset_;
            resp_.segments.emplace_back(0, offset_);
        }
        if (in_literal_) {
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(lit_left_, in.size()));
            if (lit_streamed_)
                sink_->literal_data(in.substr(0, n));
            else
                resp_.text.append(in.data(), n);
            in.remove_prefix(n);
            offset_ += n;
            lit_left_ -= n;
            if (lit_left_ == 0) {
                in_literal_ = false;
                if (lit_streamed_) sink_->literal_end();
                seg_start_ = resp_.text.size();
                resp_.segments.emplace_back(seg_start_, offset_);
            }
            continue;
        }
        const void* nl = std::memchr(in.data(), '\n', in.size());
        std::size_t take =
            nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - in.data()) + 1 : in.size();
        std::string_view part = in.substr(0, nl ? take - 1 : take);
        if (const void* z = std::memchr(part.data(), '\0', part.size())) {
            auto at = offset_ + static_cast<std::size_t>(static_cast<const char*>(z) - part.data());
            return fail(mv::errc::protocol,
                        "IMAP: NUL byte in a response line at offset " + std::to_string(at));
        }
        std::size_t seg_len = resp_.text.size() - seg_start_;
        if (seg_len + part.size() > lim_.max_line)
            return fail(mv::errc::limit, "IMAP: response line longer than " +
                                             std::to_string(lim_.max_line) +
                                             " bytes (line starts at offset " +
                                             std::to_string(offset_ - seg_len) + ")");
        if (line_bytes_ + part.size() > lim_.max_response)
            return fail(mv::errc::limit, "IMAP: response larger than " +
                                             std::to_string(lim_.max_response) +
                                             " bytes excluding literals (starts at offset " +
                                             std::to_string(resp_.stream_offset) + ")");
        resp_.text.append(part);
        line_bytes_ += take;
        in.remove_prefix(take);
        offset_ += take;
        if (nl) {
            auto st = line_end();
            if (st != status::need_more) return st;
        }
    }
    return status::need_more;
}

framer::status framer::line_end() {
    auto& text = resp_.text;
    if (text.size() > seg_start_ && text.back() == '\r') text.pop_back();
    std::string_view seg(text.data() + seg_start_, text.size() - seg_start_);
    bool text_line = first_segment_ && is_text_line(seg);
    first_segment_ = false;

    // Literal marker at the end of the line: {digits} or {digits+}, optionally preceded by ~.
    std::size_t n = seg.size();
    bool literal = false;
    std::uint64_t size = 0;
    bool binary = false;
    if (!text_line && n >= 3 && seg[n - 1] == '}') {
        std::size_t end = n - 1;
        if (seg[end - 1] == '+') --end;
        std::size_t b = end;
        while (b > 0 && seg[b - 1] >= '0' && seg[b - 1] <= '9') --b;
        if (b > 0 && b < end && seg[b - 1] == '{') {
            literal = true;
            binary = b >= 2 && seg[b - 2] == '~';
            auto digits = seg.substr(b, end - b);
            std::uint64_t marker_at = resp_.offset_of(seg_start_ + b - 1);
            if (digits.size() > 19)
                return fail(mv::errc::protocol, "IMAP: literal size '" + escape_bytes(digits) +
                                                    "' too large at offset " +
                                                    std::to_string(marker_at));
            for (char c : digits) size = size * 10 + static_cast<std::uint64_t>(c - '0');
            if (size > lim_.max_literal)
                return fail(mv::errc::limit,
                            "IMAP: literal of " + std::to_string(size) +
                                " bytes exceeds the limit of " + std::to_string(lim_.max_literal) +
                                " bytes (offset " + std::to_string(marker_at) + ")");
        }
    }
    if (!literal) {
        complete_ = true;
        started_ = false;
        return status::complete;
    }

    literal_info li;
    li.text_pos = text.size();
    li.size = size;
    li.binary = binary;
    li.streamed = sink_ != nullptr && sink_->literal_begin(text, size);
    if (!li.streamed) {
        if (inline_bytes_ + size > lim_.max_inline)
            return fail(mv::errc::limit, "IMAP: literals of one response exceed " +
                                             std::to_string(lim_.max_inline) +
                                             " bytes (response at offset " +
                                             std::to_string(resp_.stream_offset) + ")");
        inline_bytes_ += size;
        text.reserve(text.size() + static_cast<std::size_t>(size));
    }
    resp_.literals.push_back(li);
    resp_.segments.emplace_back(text.size(), offset_);
    lit_streamed_ = li.streamed;
    lit_left_ = size;
    in_literal_ = true;
    if (size == 0) {
        in_literal_ = false;
        if (lit_streamed_) sink_->literal_end();
        seg_start_ = text.size();
        resp_.segments.emplace_back(seg_start_, offset_);
    }
    return status::need_more;
}

}  // namespace mv::imap
