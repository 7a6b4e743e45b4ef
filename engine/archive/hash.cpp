#include "archive/hash.hpp"

#include <openssl/evp.h>

#include "mailvault/error.hpp"

namespace mv::archive {

namespace {
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string sha256::hex() const {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(64);
    for (unsigned char b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

std::optional<sha256> sha256::from_hex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    sha256 h;
    for (size_t i = 0; i < 32; ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        h.bytes[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return h;
}

std::optional<sha256> sha256::from_bytes(std::string_view raw) {
    if (raw.size() != 32) return std::nullopt;
    sha256 h;
    for (size_t i = 0; i < 32; ++i) h.bytes[i] = static_cast<unsigned char>(raw[i]);
    return h;
}

sha256_hasher::sha256_hasher() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
        throw mv::failure(errc::internal, "OpenSSL: cannot initialise SHA-256");
}

sha256_hasher::~sha256_hasher() {
    EVP_MD_CTX_free(ctx_);
}

void sha256_hasher::update(std::string_view data) {
    if (!data.empty()) EVP_DigestUpdate(ctx_, data.data(), data.size());
}

sha256 sha256_hasher::final() {
    sha256 h;
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, h.bytes.data(), &n);
    return h;
}

sha256 sha256_of(std::string_view data) {
    sha256_hasher h;
    h.update(data);
    return h.final();
}

std::string_view header_block(std::string_view m) {
    size_t crlf = m.find("\r\n\r\n");
    size_t lf = m.find("\n\n");
    size_t end = std::string_view::npos;
    if (crlf != std::string_view::npos) end = crlf + 4;
    if (lf != std::string_view::npos && (end == std::string_view::npos || lf + 2 < end))
        end = lf + 2;
    if (end == std::string_view::npos) return m;
    return m.substr(0, end);
}

sha256 header_hash(std::string_view message_or_header) {
    return sha256_of(header_block(message_or_header));
}

}  // namespace mv::archive
