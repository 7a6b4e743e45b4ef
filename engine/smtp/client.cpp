#include "smtp/client.hpp"

#include <algorithm>

namespace mv::smtp {

namespace {

// Arguments go on a command line: CR, LF or NUL would let them inject commands.
mv::error check_arg(std::string_view what, std::string_view value) {
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
        return {mv::errc::usage, "SMTP " + std::string(what) + " contains CR, LF or NUL"};
    return {};
}

mv::error check_address(std::string_view what, std::string_view a, bool may_be_empty) {
    if (a.empty() && !may_be_empty)
        return {mv::errc::usage, "SMTP " + std::string(what) + " is empty"};
    if (a.find_first_of(std::string_view("\r\n\0<> ", 6)) != std::string_view::npos)
        return {mv::errc::usage, "SMTP " + std::string(what) + " \"" + std::string(a) +
                                     "\" contains a space, <, >, CR, LF or NUL"};
    return {};
}

bool has_8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

message_needs scan_message(const envelope& env, std::string_view message) {
    message_needs n;
    auto hdr_end = message.find("\r\n\r\n");
    if (hdr_end == std::string_view::npos) hdr_end = message.find("\n\n");
    std::string_view headers = message.substr(0, hdr_end);
    n.smtputf8 =
        has_8bit(env.from) || has_8bit(headers) ||
        std::any_of(env.to.begin(), env.to.end(), [](const auto& t) { return has_8bit(t); });
    n.eightbit = has_8bit(message);
    return n;
}

std::optional<sasl_mech> choose_mech(const capabilities& caps, std::span<const sasl_mech> allowed) {
    for (auto m : {sasl_mech::plain, sasl_mech::login, sasl_mech::xoauth2})
        if (std::find(allowed.begin(), allowed.end(), m) != allowed.end() &&
            caps.has_auth(mech_name(m)))
            return m;
    return std::nullopt;
}

client::client(mv::transport& t, const limits& l) : t_(t), s_(l) {}

template <class Op>
mv::error client::run(Op& op) {
    if (s_.broken)
        return {s_.broken.code,
                "SMTP connection unusable after an earlier error: " + s_.broken.message};
    mv::error e = t_.run(op);
    if (e) {
        op.cancel(e);  // no-op when the op already saw the failure
        if (e.code != mv::errc::auth && e.code != mv::errc::server_no &&
            e.code != mv::errc::unsupported && s_.broken.ok())
            s_.broken = e;
    }
    return e;
}

mv::error client::greeting() {
    greeting_op op(s_);
    return run(op);
}

mv::error client::ehlo(std::string_view name) {
    if (auto e = check_address("EHLO name", name, false)) return e;
    ehlo_op op(s_, name);
    return run(op);
}

mv::error client::starttls(std::string_view name) {
    if (t_.tls_active()) return {mv::errc::usage, "SMTP STARTTLS: TLS is already active"};
    if (auto e = check_address("EHLO name", name, false)) return e;
    starttls_op op(s_, name);
    if (auto e = run(op)) return e;
    if (!t_.tls_active()) {
        s_.broken = {mv::errc::tls_handshake, "SMTP STARTTLS: the transport did not start TLS"};
        return s_.broken;
    }
    return {};
}

mv::error client::authenticate(sasl_mech mech, std::string_view user, std::string_view secret) {
    if (auto e = check_arg("user name", user)) return e;
    if (auto e = check_arg("password", secret)) return e;
    auth_op op(s_, mech, user, secret);
    return run(op);
}

mv::error client::send(const envelope& env, std::string_view message, send_result& out) {
    out = send_result{};
    if (auto e = check_address("sender", env.from, true)) return e;
    if (env.to.empty()) return {mv::errc::usage, "SMTP: a message needs at least one recipient"};
    for (const auto& t : env.to)
        if (auto e = check_address("recipient", t, false)) return e;
    auto needs = scan_message(env, message);
    if (needs.smtputf8 && !s_.caps.smtputf8)
        return {mv::errc::unsupported,
                "SMTP: the message has non-ASCII addresses or headers and the server does not "
                "offer SMTPUTF8; use ASCII addresses or another relay"};
    if (needs.eightbit && !needs.smtputf8 && !s_.caps.eightbitmime)
        return {mv::errc::unsupported,
                "SMTP: the message has 8-bit data and the server does not offer 8BITMIME; send "
                "it quoted-printable or base64 encoded"};
    if (s_.caps.size && s_.caps.max_size > 0 && message.size() > s_.caps.max_size)
        return {mv::errc::limit, "SMTP: the message (" + std::to_string(message.size()) +
                                     " bytes) is larger than the server's SIZE limit of " +
                                     std::to_string(s_.caps.max_size) + " bytes"};
    mail_op::params p;
    p.env = env;
    p.message = message;
    p.size = s_.caps.size;
    p.eightbit = needs.eightbit && s_.caps.eightbitmime;
    p.smtputf8 = needs.smtputf8;
    mail_op op(s_, p, s_.caps.pipelining, out);
    return run(op);
}

mv::error client::rset() {
    simple_op op(s_, "RSET");
    return run(op);
}

mv::error client::noop() {
    simple_op op(s_, "NOOP");
    return run(op);
}

mv::error client::quit() {
    simple_op op(s_, "QUIT");
    return run(op);
}

}  // namespace mv::smtp
