// A transport runs sans-io operations to completion. The network runner (engine/net) is the real
// one; tests use a scripted transport. Protocol clients (imap::client, pop3::client) are written
// against this interface only, so they never see a socket.
#pragma once

#include "mailvault/error.hpp"
#include "mailvault/next_action.hpp"

namespace mv {

class transport {
public:
    virtual ~transport() = default;
    // Drives `op` until it answers done; returns its error (or the transport's, e.g. a timeout).
    // After a network error the transport is dead: every later run() fails at once.
    virtual mv::error run(operation& op) = 0;
    // True once TLS is active (implicit TLS or after a STARTTLS/STLS handshake).
    virtual bool tls_active() const = 0;
};

}  // namespace mv
