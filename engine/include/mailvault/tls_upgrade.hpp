// The STARTTLS pattern of the line protocols (SMTP STARTTLS, RFC 3207; POP3 STLS, RFC 2595), as
// one sans-io step sequence both cores drive:
//
//   the command's positive reply  -> no byte may already wait in the session (bytes sent before
//   the handshake would be read as if they came over TLS: plaintext command injection,
//   CVE-2011-0411) -> next_action::tls_handshake() -> what was learnt in cleartext forgotten ->
//   the capabilities asked again (EHLO, CAPA) over TLS.
//
// `Session` has `pending` (bytes read past the last reply), `broken` (mv::error) and `caps`
// (reset to a default-constructed value); `Command` and `Again` are operations on it.
#pragma once

#include <string>

#include "mailvault/error.hpp"
#include "mailvault/next_action.hpp"

namespace mv {

template <class Session, class Command, class Again>
class tls_upgrade {
public:
    // `proto` and `command` name the exchange in errors: "SMTP" + "STARTTLS", "POP3" + "STLS".
    tls_upgrade(Session& s, Command& cmd, Again& again, std::string proto, std::string command)
        : s_(s),
          cmd_(cmd),
          again_(again),
          proto_(std::move(proto)),
          command_(std::move(command)),
          what_(proto_ + " " + command_) {}

    // It refers to its owner's members: an operation holding one must not be copied or moved.
    tls_upgrade(const tls_upgrade&) = delete;
    tls_upgrade& operator=(const tls_upgrade&) = delete;

    next_action resume(io_result r) {
        switch (phase_) {
            case phase::command: {
                auto a = cmd_.resume(std::move(r));
                if (a.kind != action_kind::done) return a;
                if (a.err) {
                    phase_ = phase::done;
                    return a;
                }
                if (!s_.pending.empty()) {
                    mv::error e{
                        errc::protocol,
                        proto_ + ": server sent data after the " + command_ +
                            " reply, before the TLS handshake: " + describe_bytes(s_.pending)};
                    s_.broken = e;
                    phase_ = phase::done;
                    return next_action::finish(std::move(e));
                }
                s_.caps = {};
                phase_ = phase::handshake;
                return next_action::tls_handshake();
            }
            case phase::handshake: {
                if (r.kind == io_kind::tls_done) {
                    phase_ = phase::again;
                    return again_.resume(io_result::start());
                }
                phase_ = phase::done;
                mv::error e = r.kind == io_kind::failed
                                  ? std::move(r.err)
                                  : mv::error{errc::internal, what_ + ": expected tls_done"};
                s_.broken = e;
                return next_action::finish(std::move(e));
            }
            case phase::again: {
                auto a = again_.resume(std::move(r));
                if (a.kind == action_kind::done) phase_ = phase::done;
                return a;
            }
            case phase::done: break;
        }
        return next_action::finish({errc::internal, what_ + " resumed after done"});
    }

private:
    enum class phase { command, handshake, again, done };
    Session& s_;
    Command& cmd_;
    Again& again_;
    std::string proto_, command_, what_;
    phase phase_ = phase::command;
};

}  // namespace mv
