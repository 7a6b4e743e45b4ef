#include "imap/mutf7.hpp"

#include <openssl/evp.h>

#include <cstdint>
#include <vector>

namespace mv::imap {

namespace {

bool utf8_to_utf16be(std::string_view s, std::string& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp;
        int extra;
        if (c < 0x80) {
            cp = c;
            extra = 0;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            extra = 1;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            extra = 2;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            extra = 3;
        } else {
            return false;
        }
        if (i + static_cast<std::size_t>(extra) >= s.size() && extra > 0) return false;
        for (int k = 1; k <= extra; ++k) {
            auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static const std::uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += static_cast<std::size_t>(extra) + 1;
        auto put = [&](std::uint32_t u) {
            out += static_cast<char>(u >> 8);
            out += static_cast<char>(u & 0xFF);
        };
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put(0xD800 + (cp >> 10));
            put(0xDC00 + (cp & 0x3FF));
        } else {
            put(cp);
        }
    }
    return true;
}

void put_utf8(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

bool direct(unsigned char c) {
    return c >= 0x20 && c <= 0x7E && c != '&';
}

void flush(std::string& utf16, std::string& out) {
    if (utf16.empty()) return;
    std::vector<unsigned char> b64(4 * ((utf16.size() + 2) / 3) + 1);
    int n = EVP_EncodeBlock(b64.data(), reinterpret_cast<const unsigned char*>(utf16.data()),
                            static_cast<int>(utf16.size()));
    out += '&';
    for (int i = 0; i < n; ++i) {
        char c = static_cast<char>(b64[static_cast<std::size_t>(i)]);
        if (c == '=') break;
        out += c == '/' ? ',' : c;
    }
    out += '-';
    utf16.clear();
}

}  // namespace

std::optional<std::string> encode_mutf7(std::string_view utf8) {
    std::string out, utf16;
    std::size_t i = 0;
    while (i < utf8.size()) {
        auto c = static_cast<unsigned char>(utf8[i]);
        if (direct(c)) {
            flush(utf16, out);
            out += static_cast<char>(c);
            ++i;
        } else if (c == '&') {
            flush(utf16, out);
            out += "&-";
            ++i;
        } else {
            std::size_t j = i + 1;
            while (j < utf8.size() && (static_cast<unsigned char>(utf8[j]) & 0xC0) == 0x80) ++j;
            if (!utf8_to_utf16be(utf8.substr(i, j - i), utf16)) return std::nullopt;
            i = j;
        }
    }
    flush(utf16, out);
    return out;
}

std::optional<std::string> decode_mutf7(std::string_view name) {
    std::string out;
    std::size_t i = 0;
    while (i < name.size()) {
        auto c = static_cast<unsigned char>(name[i]);
        if (c != '&') {
            if (!direct(c)) return std::nullopt;
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        auto end = name.find('-', i + 1);
        if (end == std::string_view::npos) return std::nullopt;
        if (end == i + 1) {
            out += '&';
            i = end + 1;
            continue;
        }
        std::string b64(name.substr(i + 1, end - i - 1));
        for (auto& ch : b64) {
            if (ch == ',')
                ch = '/';
            else if (ch == '/' || ch == '=')
                return std::nullopt;
        }
        std::size_t pad = (4 - b64.size() % 4) % 4;
        if (pad == 3) return std::nullopt;
        b64.append(pad, '=');
        std::vector<unsigned char> raw(b64.size() / 4 * 3 + 1);
        int n = EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
        if (n < 0) return std::nullopt;
        std::size_t len = static_cast<std::size_t>(n) - pad;
        if (len % 2 != 0 || len == 0) return std::nullopt;
        for (std::size_t k = 0; k < len; k += 2) {
            std::uint32_t u = (std::uint32_t{raw[k]} << 8) | raw[k + 1];
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (k + 3 >= len) return std::nullopt;
                std::uint32_t lo = (std::uint32_t{raw[k + 2]} << 8) | raw[k + 3];
                if (lo < 0xDC00 || lo > 0xDFFF) return std::nullopt;
                put_utf8(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00), out);
                k += 2;
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                return std::nullopt;
            } else {
                if (direct(static_cast<unsigned char>(u < 0x80 ? u : 0)) || u == '&')
                    return std::nullopt;  // must have been written directly
                put_utf8(u, out);
            }
        }
        i = end + 1;
    }
    return out;
}

}  // namespace mv::imap
