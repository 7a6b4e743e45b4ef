// The one network runner: the only code in mailvault that touches sockets, TLS and zlib streams.
//
// Flow: connection::open() resolves, connects (with a timeout), and for implicit TLS performs the
// handshake with certificate and hostname checks. run(op) then executes the operation's
// next_actions: write, read, tls_handshake (STARTTLS/STLS), start_deflate (IMAP COMPRESS), until
// done. Each step has the same timeout; a timeout or network error kills the connection, and every
// later run() fails at once with the same error.
//
// Liveness: the timeout also bounds the time spent waiting for the server between two steps of
// useful progress (operation::progress(): for IMAP a complete response, or 16 KiB of a long line
// or literal; otherwise a line feed or 16 KiB read). A server trickling bytes (1 byte/s) thus
// fails with errc::timeout ("no progress from host:port for N s: K bytes arrived without
// completing a response") after about the timeout, not never. Time the operation's consumer
// spends (e.g. a sink waiting for the archive) does not count; a completed write restarts it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "mailvault/trace.hpp"
#include "mailvault/transport.hpp"

namespace mv::net {

enum class tls_mode { implicit, starttls, plain };

struct tls_options {
    std::string ca_file;      // extra trust anchors (PEM); the system store is always used too
    std::string fingerprint;  // SHA-256 of the server certificate (lowercase hex, no colons):
                              // when set, the certificate must match it, whoever signed it
    bool insecure_skip_verify = false;  // the loudly named opt-out: no certificate checks at all
};

struct endpoint {
    std::string host;     // the name TLS verifies (and, without `address`, the one resolved)
    std::string address;  // connect here instead of resolving `host` (an MX host's address
                          // found through the mail's own DNS lookup); empty: resolve host
    std::uint16_t port = 0;
    tls_mode tls = tls_mode::implicit;
    tls_options tls_opts;
    std::chrono::milliseconds timeout{60000};  // per step, and without progress (see above)
};

// Counters the runner keeps for progress displays and tests (bytes on the wire, after TLS).
struct io_counters {
    std::uint64_t bytes_read = 0;     // after inflate, when COMPRESS is on
    std::uint64_t bytes_written = 0;  // before deflate
    std::uint64_t wire_read = 0;      // as received from the socket (compressed)
    std::uint64_t wire_written = 0;
};

class connection : public mv::transport {
public:
    ~connection() override;
    // Connects; for tls_mode::implicit also completes the TLS handshake.
    static std::unique_ptr<connection> open(const endpoint& ep, mv::error& err);

    mv::error run(operation& op) override;
    bool tls_active() const override;
    const io_counters& counters() const;
    // Closes the socket at once (from any thread); a run() in progress fails with `cancelled`.
    void cancel();
    // From now on, every application-level byte written and read (after TLS, after inflate) and
    // the connection's events go to `r` (the `--trace` file; mailvault/trace.hpp).
    void set_recorder(std::unique_ptr<trace::recorder> r);

    struct impl;

private:
    explicit connection(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

// The leaf certificates this process's TLS handshakes accepted, newest per host:port (for the
// watcher's "certificate expires soon" alert). Recorded after every successful handshake whose
// certificate was checked (not under insecure_skip_verify); thread-safe.
struct peer_certificate {
    std::string host;  // as the endpoint names it
    std::uint16_t port = 0;
    std::string fingerprint;     // SHA-256, lowercase hex
    std::string subject;         // one line, e.g. "CN=imap.example.org"
    std::int64_t not_after = 0;  // UTC epoch
    std::int64_t seen = 0;       // UTC epoch of the handshake
};
std::vector<peer_certificate> seen_certificates();

// The SHA-256 fingerprint (lowercase hex) of a PEM certificate file; empty on error.
std::string certificate_fingerprint_file(const std::string& pem_path);

}  // namespace mv::net
