// Base64 runs inside a message, stored decoded and re-encoded byte-exactly on read.
//
// Most of the bytes of real mail with attachments are base64 bodies. Stored as they are, zstd
// spends most of the sync's CPU on them (about 180 MB/s on base64 of random data, for 0.76x),
// and the same attachment sent to fifty people is stored fifty times. Decoded, the same bytes
// are 0.75x at base64 speed, and they can be content-addressed: one copy whatever the number
// of messages (or line lengths) carrying them.
//
// A run is a maximal sequence of lines of the base64 alphabet inside a message: every line but
// the last exactly `line_len` characters (a multiple of 4), the last one at most that, '='
// padding only at the very end, every line ended the same way (CRLF or LF), the end of the last
// line included. This says nothing about MIME structure and needs none: the archive stores
// bytes, and a run is kept only when encode(decode(run)) reproduces it exactly, checked here,
// at store time. Anything else (non-canonical padding bits, mixed line lengths or ends) stays
// inline, stored as it came.
//
// Pure: no I/O, no archive. Base64 itself is OpenSSL's (EVP_EncodeBlock / EVP_DecodeBlock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mv::archive::segments {

struct run {
    std::size_t offset = 0;          // first byte of the run in the message
    std::size_t length = 0;          // encoded bytes, line ends included
    std::uint32_t line_len = 0;      // characters of a full line (a multiple of 4)
    bool crlf = true;                // lines end in CRLF (else LF)
    std::uint64_t decoded_size = 0;  // bytes once decoded
};

// The runs of at least min_encoded bytes that re-encode exactly, in message order, with their
// decoded bytes appended to `decoded` (one string per run) when it is not null.
std::vector<run> find_runs(std::string_view msg, std::size_t min_encoded,
                           std::vector<std::string>* decoded = nullptr);

// Base64 lines of `line_len` characters ended by CRLF or LF, from decoded bytes given in any
// pieces: the exact inverse of what find_runs accepted. Flow: feed()* -> finish().
class encoder {
public:
    encoder(std::uint32_t line_len, bool crlf);
    // Appends the complete lines the bytes so far make to `out`.
    void feed(std::string_view decoded, std::string& out);
    // Appends the last (short or padded) line, if any.
    void finish(std::string& out);

private:
    void line(const unsigned char* p, std::size_t n, std::string& out);
    std::size_t group_;  // decoded bytes per full line
    bool crlf_;
    std::string carry_;  // decoded bytes of an incomplete line
};

}  // namespace mv::archive::segments
