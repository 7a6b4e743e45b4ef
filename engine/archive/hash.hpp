// SHA-256 (OpenSSL EVP) for content addressing, the audit chain and header hashes.
#pragma once

#include <array>
#include <compare>
#include <optional>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace mv::archive {

struct sha256 {
    std::array<unsigned char, 32> bytes{};

    std::string hex() const;
    std::string_view view() const {
        return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    }
    static std::optional<sha256> from_hex(std::string_view hex);
    static std::optional<sha256> from_bytes(std::string_view raw);  // exactly 32 bytes
    auto operator<=>(const sha256&) const = default;
};

// Flow: construct -> update() any number of times -> final() once.
class sha256_hasher {
public:
    sha256_hasher();
    ~sha256_hasher();
    sha256_hasher(const sha256_hasher&) = delete;
    sha256_hasher& operator=(const sha256_hasher&) = delete;

    void update(std::string_view data);
    sha256 final();

private:
    evp_md_ctx_st* ctx_;
};

sha256 sha256_of(std::string_view data);

// The header block of a message: bytes up to and including the first empty line (CRLF CRLF or
// LF LF); the whole input if there is none. Feeding a full message or IMAP BODY[HEADER] gives
// the same hash, which lets the sync engine recognise a message after a UIDVALIDITY change
// without downloading it.
std::string_view header_block(std::string_view message);
sha256 header_hash(std::string_view message_or_header);

}  // namespace mv::archive
