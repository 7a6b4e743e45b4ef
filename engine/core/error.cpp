#include "mailvault/error.hpp"

namespace mv {

const char* errc_name(errc c) noexcept {
    switch (c) {
        case errc::ok: return "ok";
        case errc::config: return "config";
        case errc::usage: return "usage";
        case errc::auth: return "auth";
        case errc::network: return "network";
        case errc::timeout: return "timeout";
        case errc::tls_certificate: return "tls-certificate";
        case errc::tls_hostname: return "tls-hostname";
        case errc::tls_handshake: return "tls-handshake";
        case errc::protocol: return "protocol";
        case errc::limit: return "limit";
        case errc::closed: return "closed";
        case errc::server_no: return "server-no";
        case errc::server_bad: return "server-bad";
        case errc::unsupported: return "unsupported";
        case errc::archive: return "archive";
        case errc::archive_corrupt: return "archive-corrupt";
        case errc::cancelled: return "cancelled";
        case errc::io: return "io";
        case errc::internal: return "internal";
    }
    return "unknown";
}

std::string describe_bytes(std::string_view bytes) {
    constexpr std::size_t max_shown = 40;
    std::string out = "\"";
    for (std::size_t i = 0; i < bytes.size() && i < max_shown; ++i) {
        auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    if (bytes.size() > max_shown) out += "...";
    return out;
}

}  // namespace mv
