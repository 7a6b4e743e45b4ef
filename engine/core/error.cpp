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

}  // namespace mv
