#include "archive/segments.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstring>

namespace mv::archive::segments {

namespace {

// 1: a character of the base64 alphabet; 2: '='; 0: anything else.
constexpr std::array<unsigned char, 256> make_table() {
    std::array<unsigned char, 256> t{};
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = 1;
    for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = 1;
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = 1;
    t['+'] = 1;
    t['/'] = 1;
    t['='] = 2;
    return t;
}
constexpr auto table = make_table();

enum class kind { none, data, padded };

// A line's content (without its line end): base64 data, its padded last line, or neither.
kind classify(const char* p, std::size_t n, std::size_t& pads) {
    pads = 0;
    if (n == 0 || n % 4 != 0) return kind::none;
    std::size_t body = n;
    if (p[n - 1] == '=') body = p[n - 2] == '=' ? n - 2 : n - 1;
    for (std::size_t i = 0; i < body; ++i)
        if (table[static_cast<unsigned char>(p[i])] != 1) return kind::none;
    pads = n - body;
    return pads ? kind::padded : kind::data;
}

struct candidate {
    bool open = false;
    bool last = false;  // its short or padded last line was seen: nothing more joins
    bool crlf = true;
    std::size_t start = 0, end = 0;
    std::uint32_t line_len = 0;
    std::uint64_t decoded = 0;
};

// Decodes the run's lines into `out`; false if OpenSSL refuses one (it should not: the
// characters were checked) or if the run would not re-encode to the same bytes.
//
// Why checking the last line is enough: every other line is exactly line_len characters of the
// alphabet with no '=', a multiple of 4, and for such groups base64 is a bijection (4 x 6 bits
// = 3 bytes, each character one value), so their re-encoding is them. Line lengths and ends are
// those of the run by construction. Only a padded last group drops bits ('xx==' keeps 8 of
// its 12 bits, 'xxx=' 16 of 18): if those are not zero, the bytes decode but do not come back.
// The last line is re-encoded and compared; the unit tests re-encode whole runs.
bool decode_run(std::string_view msg, const candidate& c, std::string& out) {
    out.clear();
    out.reserve(static_cast<std::size_t>(c.decoded));
    std::size_t pos = c.start;
    const std::size_t eol = c.crlf ? 2 : 1;
    while (pos < c.end) {
        const char* nl = static_cast<const char*>(std::memchr(msg.data() + pos, '\n', c.end - pos));
        if (!nl) return false;
        const std::size_t e = static_cast<std::size_t>(nl - msg.data());
        const std::size_t n = e + 1 - eol - pos;
        std::size_t pads = 0;
        if (n > 0 && msg[pos + n - 1] == '=') pads = msg[pos + n - 2] == '=' ? 2 : 1;
        const std::size_t at = out.size();
        out.resize(at + n / 4 * 3);
        int got = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                                  reinterpret_cast<const unsigned char*>(msg.data() + pos),
                                  static_cast<int>(n));
        if (got < 0 || static_cast<std::size_t>(got) != n / 4 * 3) return false;
        out.resize(out.size() - pads);
        if (e + 1 == c.end) {
            std::string again((out.size() - at + 2) / 3 * 4 + 1, '\0');
            const int m = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(again.data()),
                                          reinterpret_cast<const unsigned char*>(out.data() + at),
                                          static_cast<int>(out.size() - at));
            if (static_cast<std::size_t>(m) != n || std::memcmp(again.data(), msg.data() + pos, n))
                return false;
        }
        pos = e + 1;
    }
    return out.size() == c.decoded;
}

}  // namespace

std::vector<run> find_runs(std::string_view msg, std::size_t min_encoded,
                           std::vector<std::string>* decoded) {
    std::vector<run> out;
    candidate c;
    std::string scratch;
    auto flush = [&] {
        if (!c.open) return;
        c.open = false;
        if (c.end - c.start < min_encoded || c.end - c.start == 0) return;
        std::string& d = decoded ? decoded->emplace_back() : scratch;
        if (!decode_run(msg, c, d)) {
            if (decoded) decoded->pop_back();
            return;
        }
        out.push_back({c.start, c.end - c.start, c.line_len, c.crlf, c.decoded});
    };
    std::size_t pos = 0;
    const std::size_t n = msg.size();
    while (pos < n) {
        const char* nl = static_cast<const char*>(std::memchr(msg.data() + pos, '\n', n - pos));
        if (!nl) break;  // a last line without a line end never joins a run
        const std::size_t e = static_cast<std::size_t>(nl - msg.data());
        const bool cr = e > pos && msg[e - 1] == '\r';
        const std::size_t len = e - pos - (cr ? 1 : 0);
        std::size_t pads = 0;
        const kind k = classify(msg.data() + pos, len, pads);
        const std::size_t next = e + 1;
        const std::uint64_t bytes = len / 4 * 3 - pads;
        if (k == kind::none) {
            flush();
        } else if (c.open && !c.last && cr == c.crlf && k == kind::data && len == c.line_len) {
            c.end = next;
            c.decoded += bytes;
        } else if (c.open && !c.last && cr == c.crlf && len <= c.line_len) {
            // The short (or padded) last line.
            c.end = next;
            c.decoded += bytes;
            c.last = true;
        } else {
            flush();
            c = candidate{};
            c.open = true;
            c.last = k == kind::padded;
            c.crlf = cr;
            c.start = pos;
            c.end = next;
            c.line_len = static_cast<std::uint32_t>(len);
            c.decoded = bytes;
        }
        pos = next;
    }
    flush();
    return out;
}

encoder::encoder(std::uint32_t line_len, bool crlf) : group_(line_len / 4 * 3), crlf_(crlf) {
    if (group_ == 0) group_ = 3;
}

void encoder::line(const unsigned char* p, std::size_t n, std::string& out) {
    const std::size_t at = out.size();
    const std::size_t chars = (n + 2) / 3 * 4;
    out.resize(at + chars + 1);  // EVP_EncodeBlock writes a NUL after the characters
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at), p, static_cast<int>(n));
    out.resize(at + chars);
    if (crlf_) out += '\r';
    out += '\n';
}

void encoder::feed(std::string_view decoded, std::string& out) {
    auto p = reinterpret_cast<const unsigned char*>(decoded.data());
    std::size_t n = decoded.size();
    if (!carry_.empty()) {
        const std::size_t take = std::min(n, group_ - carry_.size());
        carry_.append(decoded.substr(0, take));
        p += take;
        n -= take;
        if (carry_.size() < group_) return;
        line(reinterpret_cast<const unsigned char*>(carry_.data()), group_, out);
        carry_.clear();
    }
    while (n >= group_) {
        line(p, group_, out);
        p += group_;
        n -= group_;
    }
    carry_.assign(reinterpret_cast<const char*>(p), n);
}

void encoder::finish(std::string& out) {
    if (carry_.empty()) return;
    line(reinterpret_cast<const unsigned char*>(carry_.data()), carry_.size(), out);
    carry_.clear();
}

}  // namespace mv::archive::segments
