// Synchronous SMTP client (RFC 5321, 3207, 4954, 2920, 6152, 6531, 1870) written only against
// mv::transport: each call builds one sans-io operation and lets the transport run it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mailvault/error.hpp"
#include "mailvault/transport.hpp"
#include "smtp/operations.hpp"
#include "smtp/reply.hpp"

namespace mv::smtp {

// What a message needs from the server: 8-bit bytes need 8BITMIME (RFC 6152), non-ASCII
// addresses or header bytes need SMTPUTF8 (RFC 6531).
struct message_needs {
    bool eightbit = false;
    bool smtputf8 = false;
};
message_needs scan_message(const envelope& env, std::string_view message);

// The mechanism to use: PLAIN > LOGIN > XOAUTH2, among those the server offers and `allowed`
// holds (in any order); nullopt when none fits.
std::optional<sasl_mech> choose_mech(const capabilities& caps, std::span<const sasl_mech> allowed);

// Flow: greeting() -> ehlo(name) -> [starttls(name) when the endpoint is not implicit TLS] ->
// [authenticate()] -> send()... -> quit(). Every call returns an empty mv::error on success.
// A 4xx/5xx answer is mv::errc::server_no (auth: errc::auth) quoting the reply ("SMTP RCPT TO
// <a@b> rejected: 550 5.1.1 no such user") and leaves the connection usable; any other failure
// (I/O, malformed reply, limit, 421) leaves it unusable: later calls fail at once.
class client {
public:
    explicit client(mv::transport& t, const limits& l = {});

    mv::error greeting();
    mv::error ehlo(std::string_view name);
    mv::error starttls(std::string_view name);
    mv::error authenticate(sasl_mech mech, std::string_view user, std::string_view secret);
    // One transaction; `out` says per recipient what the server answered. Returns an error when
    // the message was not accepted for any recipient; recipients rejected while others were
    // accepted are only in `out` (the caller decides). Refuses before sending when the message
    // needs 8BITMIME/SMTPUTF8 the server lacks or exceeds its SIZE (errc::unsupported/limit).
    mv::error send(const envelope& env, std::string_view message, send_result& out);
    mv::error rset();
    mv::error noop();
    mv::error quit();

    const capabilities& caps() const noexcept { return s_.caps; }
    const reply& greeting_reply() const noexcept { return s_.greeting; }
    const reply& last_reply() const noexcept { return s_.last; }
    bool usable() const noexcept { return s_.broken.ok(); }

private:
    template <class Op>
    mv::error run(Op& op);

    mv::transport& t_;
    session s_;
};

}  // namespace mv::smtp
