// A transport that replays a script instead of a network: "expect this write, give this read".
//
// Flow: run(op) resumes the operation and answers each next_action from the script. Writes must
// match the concatenated write steps exactly; a write step may only start once every earlier read
// step was delivered (unless added with write_pipelined, for commands the client may send before
// earlier answers arrive). A read step is only served once every earlier write step was written
// (the server cannot answer what it has not received). Reads can be split at a given offset or
// delivered byte by byte; a failure can be injected at the n-th I/O action.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "imap/framer.hpp"
#include "mailvault/transport.hpp"

namespace mv::test {

class script {
public:
    enum class kind { write, read, tls, deflate, quiet };
    struct step {
        kind k;
        std::string bytes;
        bool pipelined = false;
        std::size_t pos = 0;  // bytes consumed so far
        bool done() const {
            return k == kind::write || k == kind::read ? pos == bytes.size() : pos == 1;
        }
    };

    script& write(std::string_view b) { return add(kind::write, b, false); }
    script& write_pipelined(std::string_view b) { return add(kind::write, b, true); }
    script& read(std::string_view b) { return add(kind::read, b, false); }
    script& tls() { return add(kind::tls, "", false); }
    script& deflate() { return add(kind::deflate, "", false); }
    // The server stays silent through a read under operation::quiet_limit() (IDLE).
    script& quiet() { return add(kind::quiet, "", false); }

    std::vector<step> steps;

private:
    script& add(kind k, std::string_view b, bool p) {
        steps.push_back({k, std::string(b), p, 0});
        return *this;
    }
};

class scripted_transport : public mv::transport {
public:
    static constexpr std::size_t none = static_cast<std::size_t>(-1);

    explicit scripted_transport(script s) : steps_(std::move(s.steps)) {}

    std::size_t split_at = none;  // split each read step at this offset
    bool byte_by_byte = false;
    std::size_t fail_at = none;  // inject a network failure at this I/O action (0-based)

    std::string mismatch;     // first script violation
    std::size_t actions = 0;  // I/O actions performed so far

    bool finished() const {
        return std::all_of(steps_.begin(), steps_.end(), [](auto& s) { return s.done(); });
    }
    bool tls_active() const override { return tls_; }

    mv::error run(mv::operation& op) override {
        if (dead_) return mv::error(mv::errc::network, "transport is dead");
        auto a = op.resume(mv::io_result::start());
        for (int guard = 0; guard < 10000000; ++guard) {
            if (a.kind == mv::action_kind::done) return a.err;
            if (actions++ == fail_at) {
                dead_ = true;
                a = op.resume(
                    mv::io_result::failed(mv::error(mv::errc::network, "injected failure")));
                if (a.kind != mv::action_kind::done) fail("operation went on after a failure");
                return a.err;
            }
            switch (a.kind) {
                case mv::action_kind::write:
                    if (!take_write(a.data)) return bad();
                    a = op.resume(mv::io_result::written());
                    break;
                case mv::action_kind::read: {
                    if (auto* q = first_open(); q && q->k == script::kind::quiet) {
                        if (!op.quiet_limit()) {
                            fail("script expects a quiet read, the operation asks for data");
                            return bad();
                        }
                        q->pos = 1;
                        a = op.resume(mv::io_result::quiet());
                        break;
                    }
                    auto* s = next(script::kind::read);
                    if (!s) {
                        dead_ = true;
                        a = op.resume(mv::io_result::failed(
                            mv::error(mv::errc::closed, "script: server closed the connection")));
                        break;
                    }
                    if (!prior_done(s, script::kind::write)) {
                        fail("operation reads before writing everything the script expects first");
                        return bad();
                    }
                    std::size_t n = s->bytes.size() - s->pos;
                    if (byte_by_byte)
                        n = 1;
                    else if (split_at != none && split_at > s->pos && split_at < s->bytes.size())
                        n = split_at - s->pos;
                    std::string_view chunk = std::string_view(s->bytes).substr(s->pos, n);
                    s->pos += n;
                    a = op.resume(mv::io_result::read(chunk));
                    break;
                }
                case mv::action_kind::tls_handshake:
                case mv::action_kind::start_deflate: {
                    auto k = a.kind == mv::action_kind::tls_handshake ? script::kind::tls
                                                                      : script::kind::deflate;
                    auto* s = first_open();
                    if (!s || s->k != k) {
                        fail("unexpected TLS handshake / deflate request");
                        return bad();
                    }
                    s->pos = 1;
                    if (k == script::kind::tls) tls_ = true;
                    a = op.resume(k == script::kind::tls ? mv::io_result::tls_done()
                                                         : mv::io_result::deflate_started());
                    break;
                }
                case mv::action_kind::done: break;
            }
        }
        fail("operation does not finish");
        return bad();
    }

private:
    void fail(std::string m) {
        if (mismatch.empty()) mismatch = std::move(m);
    }
    mv::error bad() {
        dead_ = true;
        return mv::error(mv::errc::internal, "script mismatch: " + mismatch);
    }
    script::step* first_open() {
        for (auto& s : steps_)
            if (!s.done()) return &s;
        return nullptr;
    }
    script::step* next(script::kind k) {
        for (auto& s : steps_)
            if (s.k == k && !s.done()) return &s;
        return nullptr;
    }
    bool prior_done(const script::step* upto, script::kind k) const {
        for (auto& s : steps_) {
            if (&s == upto) return true;
            if (s.k == k && !s.done()) return false;
            if ((s.k == script::kind::tls || s.k == script::kind::deflate ||
                 s.k == script::kind::quiet) &&
                !s.done())
                return false;
        }
        return true;
    }
    bool take_write(std::string_view data) {
        while (!data.empty()) {
            auto* s = next(script::kind::write);
            if (!s) {
                fail("unexpected write: '" + mv::imap::escape_bytes(data, 200) + "'");
                return false;
            }
            if (!s->pipelined && !prior_done(s, script::kind::read)) {
                fail("write before the expected reply was read: '" +
                     mv::imap::escape_bytes(data, 200) + "'");
                return false;
            }
            std::size_t n = std::min(data.size(), s->bytes.size() - s->pos);
            if (data.substr(0, n) != std::string_view(s->bytes).substr(s->pos, n)) {
                fail("write mismatch: expected '" +
                     mv::imap::escape_bytes(std::string_view(s->bytes).substr(s->pos), 200) +
                     "' got '" + mv::imap::escape_bytes(data, 200) + "'");
                return false;
            }
            s->pos += n;
            data.remove_prefix(n);
        }
        return true;
    }

    std::vector<script::step> steps_;
    bool tls_ = false;
    bool dead_ = false;
};

// Replays `s` whole, split at every offset of every read step, byte by byte, and with a failure
// injected at every I/O action. `f(transport)` runs the client code and checks its results when
// it returns no error; it is called once per replay with a fresh transport.
template <class F>
void replay_everywhere(const script& s, F f, bool check_finished = true) {
    std::size_t max_read = 0;
    for (auto& st : s.steps) max_read = std::max(max_read, st.bytes.size());
    std::size_t clean_actions = 0;
    auto once = [&](auto setup, bool expect_ok) {
        scripted_transport t(s);
        setup(t);
        mv::error e = f(t);
        INFO("mismatch: " << t.mismatch << " error: " << e.message);
        REQUIRE(t.mismatch.empty());
        if (expect_ok) {
            REQUIRE(e.ok());
            if (check_finished) REQUIRE(t.finished());
        }
        return std::pair<mv::error, std::size_t>(e, t.actions);
    };
    clean_actions = once([](scripted_transport&) {}, true).second;
    for (std::size_t k = 1; k < max_read; ++k)
        once([k](scripted_transport& t) { t.split_at = k; }, true);
    once([](scripted_transport& t) { t.byte_by_byte = true; }, true);
    for (std::size_t k = 0; k < clean_actions; ++k) {
        auto [e, n] = once([k](scripted_transport& t) { t.fail_at = k; }, false);
        (void)n;
        INFO("failure injected at action " << k);
        REQUIRE(e.code == mv::errc::network);
    }
}

}  // namespace mv::test
