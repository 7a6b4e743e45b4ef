// Synchronous POP3 client (RFC 1939, 2449, 2595, 5034) written only against mv::transport: each
// call builds one sans-io operation and lets the transport run it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mailvault/error.hpp"
#include "mailvault/transport.hpp"
#include "pop3/operations.hpp"
#include "pop3/parse.hpp"
#include "pop3/reply.hpp"

namespace mv::pop3 {

// Flow: greeting() -> capa() -> [stls() if !transport.tls_active() and caps().stls] ->
// one of login_user / login_apop / auth_plain / auth_xoauth2 -> stat/list/uidl -> retr/top
// (retr_many) -> dele/dele_many -> quit(). Every call returns an empty mv::error on success.
// -ERR to USER/PASS/APOP/AUTH is mv::errc::auth, any other -ERR mv::errc::server_no; both leave
// the connection usable. Any other failure (I/O, malformed reply, limit) leaves it unusable: later
// calls fail at once with that error.
class client {
public:
    explicit client(mv::transport& t, const limits& l = {});

    mv::error greeting();
    mv::error capa();
    mv::error stls();
    mv::error login_user(std::string_view user, std::string_view password);
    mv::error login_apop(std::string_view user, std::string_view password);
    mv::error auth_plain(std::string_view user, std::string_view password,
                         std::string_view authzid = {});
    mv::error auth_xoauth2(std::string_view user, std::string_view access_token);

    mv::error stat(stat_result& out);
    mv::error list(std::vector<list_entry>& out);
    mv::error list(std::uint32_t msgno, list_entry& out);
    mv::error uidl(std::vector<uidl_entry>& out);
    mv::error uidl(std::uint32_t msgno, uidl_entry& out);
    mv::error top(std::uint32_t msgno, std::uint32_t lines, message_sink& sink);
    mv::error retr(std::uint32_t msgno, message_sink& sink);
    // Several RETRs, pipelined (bounded by limits::pipeline_window) when the server advertises
    // PIPELINING, one at a time otherwise. The sink sees begin/data/end per message, in order.
    // After a -ERR no further RETR is sent; replies already requested are still delivered.
    mv::error retr_many(std::span<const std::uint32_t> msgnos, message_sink& sink);
    // TOP n lines for several messages, pipelined like retr_many (same -ERR rule).
    mv::error top_many(std::span<const std::uint32_t> msgnos, std::uint32_t lines,
                       message_sink& sink);
    mv::error dele(std::uint32_t msgno);
    mv::error dele_many(std::span<const std::uint32_t> msgnos);
    mv::error rset();
    mv::error noop();
    mv::error quit();

    const capabilities& caps() const noexcept { return s_.caps; }
    const std::string& greeting_text() const noexcept { return s_.greeting; }
    const std::string& apop_timestamp() const noexcept { return s_.apop_timestamp; }
    // The last status line received (response code and text), for diagnostics.
    const status_line& last_status() const noexcept { return s_.last; }
    bool usable() const noexcept { return s_.broken.ok(); }

private:
    template <class Op>
    mv::error run(Op& op);
    std::size_t window() const;

    mv::transport& t_;
    session s_;
};

}  // namespace mv::pop3
