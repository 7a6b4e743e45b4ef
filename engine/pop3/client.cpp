#include "pop3/client.hpp"

namespace mv::pop3 {

namespace {

// Arguments go on a command line: CR, LF or NUL would let them inject commands.
mv::error check_arg(std::string_view what, std::string_view value) {
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
        return {mv::errc::usage, "POP3 " + std::string(what) + " contains CR, LF or NUL"};
    return {};
}

mv::error check_msgno(std::uint32_t msgno) {
    if (msgno == 0) return {mv::errc::usage, "POP3 message numbers start at 1"};
    return {};
}

}  // namespace

client::client(mv::transport& t, const limits& l) : t_(t), s_(l) {}

template <class Op>
mv::error client::run(Op& op) {
    if (s_.broken)
        return {s_.broken.code,
                "POP3 connection unusable after an earlier error: " + s_.broken.message};
    mv::error e = t_.run(op);
    if (e) {
        op.cancel(e);  // no-op when the op already saw the failure
        if (e.code != mv::errc::auth && e.code != mv::errc::server_no && s_.broken.ok())
            s_.broken = e;
    }
    return e;
}

std::size_t client::window() const {
    return s_.caps.pipelining ? s_.lim.pipeline_window : 1;
}

mv::error client::greeting() {
    greeting_op op(s_);
    return run(op);
}

mv::error client::capa() {
    capa_op op(s_);
    return run(op);
}

mv::error client::stls() {
    if (t_.tls_active()) return {mv::errc::usage, "POP3 STLS: TLS is already active"};
    stls_op op(s_);
    if (auto e = run(op)) return e;
    if (!t_.tls_active()) {
        s_.broken = {mv::errc::tls_handshake, "POP3 STLS: the transport did not start TLS"};
        return s_.broken;
    }
    return {};
}

mv::error client::login_user(std::string_view user, std::string_view password) {
    if (auto e = check_arg("user name", user)) return e;
    if (auto e = check_arg("password", password)) return e;
    user_pass_op op(s_, user, password);
    return run(op);
}

mv::error client::login_apop(std::string_view user, std::string_view password) {
    if (auto e = check_arg("user name", user)) return e;
    if (s_.apop_timestamp.empty())
        return {mv::errc::unsupported, "POP3 APOP: the greeting has no <timestamp>"};
    apop_op op(s_, user, password);
    return run(op);
}

mv::error client::auth_plain(std::string_view user, std::string_view password,
                             std::string_view authzid) {
    auth_op op(s_, "PLAIN", sasl_plain(authzid, user, password));
    return run(op);
}

mv::error client::auth_xoauth2(std::string_view user, std::string_view access_token) {
    auth_op op(s_, "XOAUTH2", sasl_xoauth2(user, access_token));
    return run(op);
}

mv::error client::stat(stat_result& out) {
    stat_op op(s_);
    auto e = run(op);
    if (!e) out = op.result;
    return e;
}

mv::error client::list(std::vector<list_entry>& out) {
    list_op op(s_, 0);
    auto e = run(op);
    if (!e) out = std::move(op.entries);
    return e;
}

mv::error client::list(std::uint32_t msgno, list_entry& out) {
    if (auto e = check_msgno(msgno)) return e;
    list_op op(s_, msgno);
    auto e = run(op);
    if (!e) out = op.entries.front();
    return e;
}

mv::error client::uidl(std::vector<uidl_entry>& out) {
    uidl_op op(s_, 0);
    auto e = run(op);
    if (!e) out = std::move(op.entries);
    return e;
}

mv::error client::uidl(std::uint32_t msgno, uidl_entry& out) {
    if (auto e = check_msgno(msgno)) return e;
    uidl_op op(s_, msgno);
    auto e = run(op);
    if (!e) out = std::move(op.entries.front());
    return e;
}

mv::error client::top(std::uint32_t msgno, std::uint32_t lines, message_sink& sink) {
    if (auto e = check_msgno(msgno)) return e;
    fetch_op op(s_, std::span<const std::uint32_t>(&msgno, 1), static_cast<long>(lines), sink, 1);
    return run(op);
}

mv::error client::retr(std::uint32_t msgno, message_sink& sink) {
    if (auto e = check_msgno(msgno)) return e;
    fetch_op op(s_, std::span<const std::uint32_t>(&msgno, 1), -1, sink, 1);
    return run(op);
}

mv::error client::retr_many(std::span<const std::uint32_t> msgnos, message_sink& sink) {
    for (auto n : msgnos)
        if (auto e = check_msgno(n)) return e;
    if (msgnos.empty()) return {};
    fetch_op op(s_, msgnos, -1, sink, window());
    return run(op);
}

mv::error client::top_many(std::span<const std::uint32_t> msgnos, std::uint32_t lines,
                           message_sink& sink) {
    for (auto n : msgnos)
        if (auto e = check_msgno(n)) return e;
    if (msgnos.empty()) return {};
    fetch_op op(s_, msgnos, static_cast<long>(lines), sink, window());
    return run(op);
}

mv::error client::dele(std::uint32_t msgno) {
    if (auto e = check_msgno(msgno)) return e;
    simple_op op(s_, {"DELE " + std::to_string(msgno)}, 1);
    return run(op);
}

mv::error client::dele_many(std::span<const std::uint32_t> msgnos) {
    std::vector<std::string> cmds;
    cmds.reserve(msgnos.size());
    for (auto n : msgnos) {
        if (auto e = check_msgno(n)) return e;
        cmds.push_back("DELE " + std::to_string(n));
    }
    if (cmds.empty()) return {};
    simple_op op(s_, std::move(cmds), window());
    return run(op);
}

mv::error client::rset() {
    simple_op op(s_, {"RSET"}, 1);
    return run(op);
}

mv::error client::noop() {
    simple_op op(s_, {"NOOP"}, 1);
    return run(op);
}

mv::error client::quit() {
    simple_op op(s_, {"QUIT"}, 1);
    return run(op);
}

}  // namespace mv::pop3
