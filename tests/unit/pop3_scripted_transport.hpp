// Scripted mv::transport for the POP3 tests: expected writes and canned reads, replayed with the
// reads split at a chosen byte offset (or in fixed-size chunks) and, optionally, a failure
// injected in place of one step.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "mailvault/next_action.hpp"
#include "mailvault/transport.hpp"
#include "pop3/operations.hpp"

namespace mv::test {

// Flow: build the script (expect_write / read / expect_tls), set split_at / chunk / fail_step,
// then hand the transport to a client (or call run(op) directly). Each run() drives one operation;
// steps are consumed across runs. Writes are matched as a byte stream, so one write may cover
// several expect_write steps (pipelined commands). When the script has no read left, a read gets
// a "closed" failure, like EOF on a socket.
class pop3_scripted_transport final : public mv::transport {
public:
    enum class kind { write, read, tls };
    struct step {
        kind k;
        std::string bytes;
        std::size_t used = 0;  // bytes already written/read
        bool done = false;
    };

    pop3_scripted_transport& expect_write(std::string b) {
        steps_.push_back({kind::write, std::move(b), 0, false});
        return *this;
    }
    pop3_scripted_transport& read(std::string b) {
        steps_.push_back({kind::read, std::move(b), 0, false});
        return *this;
    }
    pop3_scripted_transport& expect_tls() {
        steps_.push_back({kind::tls, {}, 0, false});
        return *this;
    }

    static constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::size_t split_at = none;   // each read step is delivered as [0, split_at) and the rest
    std::size_t chunk = 0;         // > 0: each read step is delivered in chunks of this size
    std::size_t fail_step = none;  // this step is replaced by a failure
    mv::error injected{mv::errc::closed, "connection closed by peer (injected)"};

    std::size_t steps() const { return steps_.size(); }
    bool finished() const { return pos_ == steps_.size(); }
    const std::string& mismatch() const { return mismatch_; }
    bool injected_failure() const { return failed_; }
    std::size_t reads_delivered() const { return reads_; }

    bool tls_active() const override { return tls_; }

    std::size_t longest_read() const {
        std::size_t n = 0;
        for (const auto& st : steps_)
            if (st.k == kind::read) n = std::max(n, st.bytes.size());
        return n;
    }
    // Offsets of "\r\n.\r\n" inside the reads (where multi-line replies end).
    std::vector<std::size_t> terminator_offsets() const {
        std::vector<std::size_t> out;
        for (const auto& st : steps_) {
            if (st.k != kind::read) continue;
            for (auto p = st.bytes.find("\r\n.\r\n"); p != std::string::npos;
                 p = st.bytes.find("\r\n.\r\n", p + 1))
                out.push_back(p + 5);
        }
        return out;
    }

    mv::error run(mv::operation& op) override {
        if (failed_) return injected;
        next_action a = op.resume(io_result::start());
        for (;;) {
            switch (a.kind) {
                case action_kind::done: return a.err;
                case action_kind::write: {
                    std::string_view data = a.data;
                    bool write_failed = false;
                    while (!data.empty()) {
                        // Replies already scripted do not depend on when a pipelined command goes
                        // out, so a write may come before reads that precede it in the script.
                        std::size_t j = pos_;
                        while (j < steps_.size() && steps_[j].k == kind::read) ++j;
                        if (j == fail_step) {
                            write_failed = true;
                            break;
                        }
                        if (j >= steps_.size() || steps_[j].k != kind::write)
                            return bad(op, "unexpected write " + std::string(data));
                        step& w = steps_[j];
                        std::size_t n = std::min(data.size(), w.bytes.size() - w.used);
                        if (data.substr(0, n) != std::string_view(w.bytes).substr(w.used, n))
                            return bad(op, "write mismatch: got " + std::string(data) +
                                               " expected " + w.bytes.substr(w.used));
                        data.remove_prefix(n);
                        w.used += n;
                        if (w.used == w.bytes.size()) finish_step(j);
                    }
                    a = write_failed ? fail(op, a) : op.resume(io_result::written());
                    break;
                }
                case action_kind::read: {
                    if (pos_ == fail_step) {
                        a = fail(op, a);
                        break;
                    }
                    if (pos_ < steps_.size() && steps_[pos_].k == kind::write)
                        return bad(op, "read while the script expects write " + steps_[pos_].bytes);
                    if (pos_ < steps_.size() && steps_[pos_].k == kind::tls)
                        return bad(op, "read while the script expects a TLS handshake");
                    if (pos_ >= steps_.size()) {
                        failed_ = true;
                        a = op.resume(
                            io_result::failed({mv::errc::closed, "script: end of input"}));
                        break;
                    }
                    step& rd = steps_[pos_];
                    std::size_t n = rd.bytes.size() - rd.used;
                    if (chunk > 0) n = std::min(n, chunk);
                    if (split_at != none && rd.used < split_at && split_at < rd.bytes.size())
                        n = std::min(n, split_at - rd.used);
                    if (n == 0) n = 1;
                    std::string piece = rd.bytes.substr(rd.used, n);
                    rd.used += n;
                    if (rd.used >= rd.bytes.size()) finish_step(pos_);
                    ++reads_;
                    a = op.resume(io_result::read(piece));
                    break;
                }
                case action_kind::tls_handshake:
                    if (pos_ == fail_step) {
                        a = fail(op, a);
                        break;
                    }
                    if (pos_ >= steps_.size() || steps_[pos_].k != kind::tls)
                        return bad(op, "unexpected TLS handshake");
                    finish_step(pos_);
                    tls_ = true;
                    a = op.resume(io_result::tls_done());
                    break;
                case action_kind::start_deflate: return bad(op, "unexpected start_deflate");
            }
        }
    }

private:
    void finish_step(std::size_t j) {
        steps_[j].done = true;
        while (pos_ < steps_.size() && steps_[pos_].done) ++pos_;
    }
    next_action fail(mv::operation& op, const next_action&) {
        failed_ = true;
        return op.resume(io_result::failed(injected));
    }
    mv::error bad(mv::operation& op, std::string what) {
        if (mismatch_.empty()) mismatch_ = what;
        failed_ = true;
        mv::error e{mv::errc::internal, "script: " + what};
        // Let the op release its sink the way a dropped connection would.
        op.resume(io_result::failed(e));
        return e;
    }

    std::vector<step> steps_;
    std::size_t pos_ = 0;  // first step not done
    std::size_t reads_ = 0;
    bool tls_ = false;
    bool failed_ = false;
    std::string mismatch_;
};

// Records what a message_sink is told; `violation` names the first call out of order.
struct recording_sink final : mv::pop3::message_sink {
    struct message {
        std::uint32_t msgno = 0;
        std::string body;
        bool ended = false;
        bool aborted = false;
    };
    std::vector<message> messages;
    bool open = false;
    std::string violation;

    void begin(std::uint32_t msgno) override {
        if (open && violation.empty()) violation = "begin while a message is open";
        messages.push_back({msgno, {}, false, false});
        open = true;
    }
    void data(std::string_view b) override {
        if (!open && violation.empty()) violation = "data outside begin/end";
        if (b.empty() && violation.empty()) violation = "empty data()";
        if (open) messages.back().body.append(b);
    }
    void end() override {
        if (!open && violation.empty()) violation = "end without begin";
        if (open) messages.back().ended = true;
        open = false;
    }
    void abort() override {
        if (!open && violation.empty()) violation = "abort without begin";
        if (open) messages.back().aborted = true;
        open = false;
    }
    // Every message either ended or was aborted, and nothing is open.
    bool balanced() const {
        if (open || !violation.empty()) return false;
        for (const auto& m : messages)
            if (m.ended == m.aborted) return false;
        return true;
    }
};

// Calls body(t) once per way of delivering the reads of the script built by build(t): whole,
// split at every offset of the longest read (or, above `every_limit` bytes, at a sample: the
// first 64 offsets, the last 80, those around each CRLF.CRLF, and a stride), and in chunks of
// 1, 2, 3, 7 and 4096 bytes.
template <class Build, class Body>
void for_each_split(Build build, Body body, std::size_t every_limit = 4096) {
    pop3_scripted_transport probe;
    build(probe);
    std::set<std::size_t> offsets;
    const std::size_t longest = probe.longest_read();
    if (longest <= every_limit) {
        for (std::size_t s = 1; s < longest; ++s) offsets.insert(s);
    } else {
        for (std::size_t s = 1; s < 64; ++s) offsets.insert(s);
        for (std::size_t s = longest > 80 ? longest - 80 : 1; s < longest; ++s) offsets.insert(s);
        for (std::size_t s = 1; s < longest; s += 997) offsets.insert(s);
        for (std::size_t p : probe.terminator_offsets())
            for (std::size_t d = 0; d < 12; ++d)
                if (p + d >= 6 && p + d - 6 > 0) offsets.insert(p + d - 6);
    }
    {
        pop3_scripted_transport t;
        build(t);
        body(t);
    }
    for (std::size_t s : offsets) {
        pop3_scripted_transport t;
        build(t);
        t.split_at = s;
        body(t);
    }
    for (std::size_t c : {1, 2, 3, 7, 4096}) {
        pop3_scripted_transport t;
        build(t);
        t.chunk = c;
        body(t);
    }
}

// Calls body(t) with a failure injected in place of each step in turn.
template <class Build, class Body>
void for_each_failure(Build build, Body body) {
    pop3_scripted_transport probe;
    build(probe);
    for (std::size_t k = 0; k < probe.steps(); ++k) {
        pop3_scripted_transport t;
        build(t);
        t.fail_step = k;
        body(t);
    }
}

}  // namespace mv::test
