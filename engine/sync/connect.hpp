// Opening an authenticated IMAP or POP3 session for a configured account: endpoint from the
// config (TLS mode, CA file, pin, insecure opt-out, timeout), greeting, STARTTLS/STLS when asked
// (refusing to go on if the server does not offer it), login with the best mechanism offered.
#pragma once

#include <memory>
#include <string>

#include "imap/client.hpp"
#include "mailvault/config.hpp"
#include "mailvault/net.hpp"
#include "pop3/client.hpp"

namespace mv::sync {

net::endpoint endpoint_for(const config::account& acct);

struct imap_session {
    std::unique_ptr<net::connection> conn;     // null when the session runs over another transport
    std::unique_ptr<mv::transport> transport;  // that other transport (tests), or null
    std::unique_ptr<imap::client> client;
    bool qresync = false;    // QRESYNC enabled
    bool condstore = false;  // CONDSTORE available (enabled implicitly by use)
};

// Throws mv::failure (auth, network, tls_*, protocol, unsupported) with a one-line message that
// names the account. The password is used and forgotten; it never appears in a message.
imap_session open_imap(const config::account& acct, const std::string& password);

struct pop3_session {
    std::unique_ptr<net::connection> conn;
    std::unique_ptr<pop3::client> client;
};

pop3_session open_pop3(const config::account& acct, const std::string& password);

// "account 'work' (imap.example.com:993): " — the prefix of every message about an account.
std::string account_prefix(const config::account& acct);

}  // namespace mv::sync
