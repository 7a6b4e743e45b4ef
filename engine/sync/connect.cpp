#include "sync/connect.hpp"

#include <arpa/inet.h>

#include <spdlog/spdlog.h>
#include <algorithm>

#include "mailvault/trace.hpp"

namespace mv::sync {

std::string account_prefix(const config::account& acct) {
    return "account '" + acct.name + "' (" + acct.host + ":" + std::to_string(acct.port) + "): ";
}

net::endpoint endpoint_for(const config::account& acct) {
    net::endpoint ep;
    ep.host = acct.host;
    ep.port = acct.port;
    switch (acct.tls) {
        case config::tls_mode::implicit: ep.tls = net::tls_mode::implicit; break;
        case config::tls_mode::starttls: ep.tls = net::tls_mode::starttls; break;
        case config::tls_mode::plain: ep.tls = net::tls_mode::plain; break;
    }
    ep.tls_opts.ca_file = acct.ca_file.string();
    ep.tls_opts.fingerprint = acct.fingerprint;
    ep.tls_opts.insecure_skip_verify = acct.tls_insecure_skip_verify;
    ep.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(acct.timeout);
    return ep;
}

namespace {

// Loopback, private or link-local: a fast link, where COMPRESS=DEFLATE only costs (see
// docs/benchmarks.md). Host names other than localhost count as remote.
bool is_local_network_host(const std::string& host) {
    std::string h = host;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (h == "localhost") return true;
    unsigned char a[16];
    if (inet_pton(AF_INET, h.c_str(), a) == 1) {
        return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
               (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
               (a[0] == 169 && a[1] == 254);
    }
    if (inet_pton(AF_INET6, h.c_str(), a) == 1) {
        static const unsigned char loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        return std::equal(a, a + 16, loop) || (a[0] & 0xfe) == 0xfc ||
               (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
    }
    return false;
}

[[noreturn]] void raise(const config::account& acct, const mv::error& e, const char* doing) {
    std::string hint;
    if (e.code == errc::auth) hint = "; check `user` and the password source of this account";
    throw mv::failure(e.code, account_prefix(acct) + doing + ": " + e.message + hint);
}

std::unique_ptr<net::connection> connect(const config::account& acct, bool pop3) {
    mv::error err;
    spdlog::debug("{}connecting ({})", account_prefix(acct),
                  acct.tls == config::tls_mode::implicit   ? "TLS"
                  : acct.tls == config::tls_mode::starttls ? "STARTTLS"
                                                           : "plain");
    auto conn = net::connection::open(endpoint_for(acct), err);
    if (!conn) throw mv::failure(err.code, account_prefix(acct) + err.message);
    if (trace::enabled()) {
        const std::string label = "account '" + acct.name + "' " + (pop3 ? "pop3 " : "imap ") +
                                  acct.host + ":" + std::to_string(acct.port);
        conn->set_recorder(pop3 ? trace::for_pop3(label) : trace::for_imap(label));
    }
    spdlog::debug("{}connected{}", account_prefix(acct),
                  conn->tls_active() ? ", TLS verified" : "");
    return conn;
}

}  // namespace

imap_session open_imap(const config::account& acct, const std::string& password) {
    imap_session s;
    s.conn = connect(acct, false);
    imap::limits lim;
    lim.max_literal = acct.max_message_bytes;
    s.client = std::make_unique<imap::client>(*s.conn, lim);
    auto& c = *s.client;
    if (auto e = c.greeting()) raise(acct, e, "greeting");
    if (c.caps().empty())
        if (auto e = c.capability()) raise(acct, e, "CAPABILITY");
    if (acct.tls == config::tls_mode::starttls) {
        if (!c.caps().has("STARTTLS"))
            throw mv::failure(errc::unsupported,
                              account_prefix(acct) +
                                  "server does not offer STARTTLS; use tls = \"implicit\" with "
                                  "the IMAPS port, or plain only on a trusted network");
        if (auto e = c.starttls()) raise(acct, e, "STARTTLS");
    }
    if (!c.state().authenticated) {
        const auto mech = acct.auth;
        mv::error e;
        switch (mech) {
            case config::auth_mech::plain:
                e = c.authenticate(imap::sasl_mech::plain, acct.user, password);
                break;
            case config::auth_mech::login:
                e = c.authenticate(imap::sasl_mech::login, acct.user, password);
                break;
            case config::auth_mech::xoauth2:
                e = c.authenticate(imap::sasl_mech::xoauth2, acct.user, password);
                break;
            case config::auth_mech::oauthbearer:
                e = c.authenticate(imap::sasl_mech::oauthbearer, acct.user, password);
                break;
            case config::auth_mech::automatic:
            case config::auth_mech::user:
            case config::auth_mech::apop:
                // AUTHENTICATE PLAIN handles any password bytes; LOGIN is the fallback.
                if (c.caps().has_auth("PLAIN"))
                    e = c.authenticate(imap::sasl_mech::plain, acct.user, password);
                else if (!c.caps().has("LOGINDISABLED"))
                    e = c.login(acct.user, password);
                else
                    e = mv::error(errc::unsupported,
                                  "server offers neither AUTH=PLAIN nor LOGIN (LOGINDISABLED); "
                                  "set `auth` to a mechanism it offers");
                break;
        }
        if (e) raise(acct, e, "login");
        spdlog::debug("{}logged in as {}", account_prefix(acct), acct.user);
        // Servers may send new capabilities with the login OK; ask if they did not.
        if (!c.caps().has("IMAP4REV1") && !c.caps().has("IMAP4REV2"))
            if (auto ce = c.capability()) raise(acct, ce, "CAPABILITY");
    }
    std::vector<std::string> want;
    if (acct.enable_qresync && c.caps().has("QRESYNC")) want.push_back("QRESYNC");
    if (c.caps().has("CONDSTORE")) want.push_back("CONDSTORE");
    if (!want.empty() && c.caps().has("ENABLE"))
        if (auto e = c.enable(want)) raise(acct, e, "ENABLE");
    s.qresync = c.state().is_enabled("QRESYNC");
    spdlog::debug("{}QRESYNC {}, CONDSTORE {}", account_prefix(acct), s.qresync ? "on" : "off",
                  c.caps().has("CONDSTORE") ? "offered" : "not offered");
    s.condstore = c.caps().has("CONDSTORE") || s.qresync;
    // COMPRESS=DEFLATE trades server CPU for bytes on the wire: it pays on slow links and costs
    // on fast ones (on loopback it only adds deflate time). `auto` uses it unless the server is
    // on this machine. See docs/benchmarks.md for the measurements.
    const bool offers_compress = c.caps().has("COMPRESS=DEFLATE");
    const bool want_compress =
        acct.compress == config::compress_mode::always ||
        (acct.compress == config::compress_mode::automatic && !is_local_network_host(acct.host));
    if (acct.compress == config::compress_mode::always && !offers_compress)
        throw mv::failure(errc::unsupported,
                          account_prefix(acct) +
                              "compress = \"always\" but the server does not offer "
                              "COMPRESS=DEFLATE; use \"auto\" or \"never\"");
    if (offers_compress && want_compress)
        if (auto e = c.compress()) raise(acct, e, "COMPRESS");
    return s;
}

pop3_session open_pop3(const config::account& acct, const std::string& password) {
    pop3_session s;
    s.conn = connect(acct, true);
    pop3::limits lim;
    lim.max_message = acct.max_message_bytes;
    s.client = std::make_unique<pop3::client>(*s.conn, lim);
    auto& c = *s.client;
    if (auto e = c.greeting()) raise(acct, e, "greeting");
    // CAPA is optional (RFC 2449); a -ERR just means nothing is advertised.
    if (auto e = c.capa(); e && e.code != errc::server_no) raise(acct, e, "CAPA");
    if (acct.tls == config::tls_mode::starttls) {
        if (!c.caps().stls)
            throw mv::failure(errc::unsupported,
                              account_prefix(acct) +
                                  "server does not offer STLS; use tls = \"implicit\" with the "
                                  "POP3S port");
        if (auto e = c.stls()) raise(acct, e, "STLS");
    }
    mv::error e;
    auto has_sasl = [&](const char* m) {
        for (const auto& x : c.caps().sasl)
            if (x == m) return true;
        return false;
    };
    switch (acct.auth) {
        case config::auth_mech::apop: e = c.login_apop(acct.user, password); break;
        case config::auth_mech::plain: e = c.auth_plain(acct.user, password); break;
        case config::auth_mech::xoauth2: e = c.auth_xoauth2(acct.user, password); break;
        case config::auth_mech::user:
        case config::auth_mech::login:
        case config::auth_mech::oauthbearer: e = c.login_user(acct.user, password); break;
        case config::auth_mech::automatic:
            if (has_sasl("PLAIN"))
                e = c.auth_plain(acct.user, password);
            else
                e = c.login_user(acct.user, password);
            break;
    }
    if (e) raise(acct, e, "login");
    return s;
}

}  // namespace mv::sync
