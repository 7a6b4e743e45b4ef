// Errors as values. Every failure the engine can report carries a code (its class, which decides
// the blast radius and the CLI exit code) and a one-line message saying what went wrong and, where
// possible, what to do. Server text is kept in the message, never passwords.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace mv {

enum class errc {
    ok = 0,
    // configuration and usage
    config,  // bad config file or option
    usage,   // bad command line
    // authentication
    auth,  // server rejected credentials
    // network and TLS
    network,          // connect/read/write failed, connection closed
    timeout,          // no answer within the configured time
    tls_certificate,  // certificate chain not trusted / fingerprint mismatch
    tls_hostname,     // certificate valid but for another name
    tls_handshake,    // handshake failed for another reason (protocol, cipher)
    // protocol
    protocol,     // malformed server output (message names bytes and offset)
    limit,        // a hard cap was exceeded (literal, line, response size)
    closed,       // server closed the connection (incl. mid-literal, BYE)
    server_no,    // tagged NO / -ERR for one command
    server_bad,   // tagged BAD
    unsupported,  // server lacks a required capability
    // archive
    archive,          // archive cannot be opened/written (locked, read-only, disk full)
    archive_corrupt,  // archive content fails verification
    // misc
    cancelled,
    io,  // local file I/O
    internal,
};

const char* errc_name(errc c) noexcept;

struct error {
    errc code = errc::ok;
    std::string message;

    error() = default;
    error(errc c, std::string msg) : code(c), message(std::move(msg)) {}

    explicit operator bool() const noexcept { return code != errc::ok; }
    bool ok() const noexcept { return code == errc::ok; }
};

// Thrown by the layers above the protocol cores (CLI, sync orchestration) where unwinding is the
// simplest way to abort an account.
struct failure : std::exception {
    mv::error err;
    explicit failure(mv::error e) : err(std::move(e)) {}
    failure(errc c, std::string msg) : err(c, std::move(msg)) {}
    const char* what() const noexcept override { return err.message.c_str(); }
};

// Printable rendering of (at most the first 40 bytes of) `bytes` for protocol error messages:
// control and non-ASCII bytes escaped, quoted, "..." when cut.
std::string describe_bytes(std::string_view bytes);

}  // namespace mv
