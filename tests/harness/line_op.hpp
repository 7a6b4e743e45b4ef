// A minimal line-based operation for tests that only need a real conversation (the fixture's own
// tests): read one line (the greeting), then for each command write it and read one line back.
// Optionally upgrades to TLS after a command (STARTTLS / STLS) whose reply starts with `tls_ok`.
#pragma once

#include <string>
#include <vector>

#include "mailvault/next_action.hpp"

namespace mv::test {

class line_op : public mv::operation {
public:
    // Flow: greeting line -> (write command, read reply line)* -> done. After the command at
    // `tls_after` (if >= 0) and a reply starting with `tls_ok`, asks for a TLS handshake.
    explicit line_op(std::vector<std::string> commands, int tls_after = -1, std::string tls_ok = "")
        : commands_(std::move(commands)), tls_after_(tls_after), tls_ok_(std::move(tls_ok)) {}

    std::vector<std::string> replies;  // replies[0] is the greeting

    mv::next_action resume(mv::io_result r) override {
        switch (r.kind) {
            case io_kind::start: return next_action::read();
            case io_kind::failed: return next_action::finish(r.err);
            case io_kind::tls_done: return send_next();
            case io_kind::written:
            case io_kind::quiet: return next_action::read();
            case io_kind::deflate_started:
                return next_action::finish({errc::internal, "no deflate"});
            case io_kind::read: {
                buf_ += r.bytes;
                auto eol = buf_.find("\r\n");
                if (eol == std::string::npos) return next_action::read();
                replies.push_back(buf_.substr(0, eol));
                buf_.erase(0, eol + 2);
                int answered = static_cast<int>(replies.size()) - 2;  // index of command answered
                if (answered >= 0 && answered == tls_after_ &&
                    replies.back().rfind(tls_ok_, 0) == 0)
                    return next_action::tls_handshake();
                return send_next();
            }
        }
        return next_action::finish({errc::internal, "unreachable"});
    }

private:
    next_action send_next() {
        if (next_ >= commands_.size()) return next_action::finish();
        out_ = commands_[next_++] + "\r\n";
        return next_action::write(out_);
    }

    std::vector<std::string> commands_;
    int tls_after_;
    std::string tls_ok_;
    std::size_t next_ = 0;
    std::string buf_, out_;
};

}  // namespace mv::test
