// The contract between sans-io protocol state machines and the one network runner.
//
// Flow: the runner calls op.resume(io_result::start()); the operation answers with a next_action.
// The runner performs it (write the bytes, read some bytes, do a TLS handshake) and calls resume()
// again with the outcome, until the operation answers done. Operations never touch sockets; tests
// drive them with scripts (expect this write, feed this read), split at every byte.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "mailvault/error.hpp"

namespace mv {

enum class action_kind {
    read,           // read at least one byte and resume with it
    write,          // write all of `data` and resume with io_result::written()
    tls_handshake,  // upgrade the connection to TLS (STARTTLS/STLS) and resume
    start_deflate,  // from now on, deflate what is written and inflate what is read (RFC 4978)
    done,           // finished; `err` says how
};

struct next_action {
    action_kind kind = action_kind::done;
    std::string_view data;  // write: bytes to send; valid until the next resume()
    mv::error err;          // done: empty on success

    static next_action read() { return {action_kind::read, {}, {}}; }
    static next_action write(std::string_view d) { return {action_kind::write, d, {}}; }
    static next_action tls_handshake() { return {action_kind::tls_handshake, {}, {}}; }
    static next_action start_deflate() { return {action_kind::start_deflate, {}, {}}; }
    static next_action finish(mv::error e = {}) { return {action_kind::done, {}, std::move(e)}; }
};

// quiet: a read asked for under operation::quiet_limit() saw no byte for that long (IMAP IDLE
// waiting for events); the connection is still usable.
enum class io_kind { start, read, written, tls_done, deflate_started, failed, quiet };

struct io_result {
    io_kind kind = io_kind::start;
    std::string_view bytes;  // read: what arrived (never empty; EOF is reported as failed/closed)
    mv::error err;           // failed: what went wrong (network, timeout, closed, tls_*)

    static io_result start() { return {io_kind::start, {}, {}}; }
    static io_result read(std::string_view b) { return {io_kind::read, b, {}}; }
    static io_result written() { return {io_kind::written, {}, {}}; }
    static io_result tls_done() { return {io_kind::tls_done, {}, {}}; }
    static io_result deflate_started() { return {io_kind::deflate_started, {}, {}}; }
    static io_result failed(mv::error e) { return {io_kind::failed, {}, std::move(e)}; }
    static io_result quiet() { return {io_kind::quiet, {}, {}}; }
};

// Anything the runner can drive.
class operation {
public:
    virtual ~operation() = default;
    virtual next_action resume(io_result r) = 0;
    // Liveness: a counter that grows whenever the operation made *useful progress* (for IMAP: a
    // complete response framed, or another 16 KiB of a long line or literal; see op_base). The
    // runner fails the operation with errc::timeout when it has not grown for the endpoint's
    // timeout, however many bytes trickle in meanwhile. nullopt: the operation does not say, and
    // the runner counts a read containing a line feed, or another 16 KiB read, as progress.
    virtual std::optional<std::uint64_t> progress() const noexcept { return std::nullopt; }
    // Waiting on purpose (IMAP IDLE): when set, a `read` waits up to this long for the first
    // byte, without the endpoint's per-step timeout or the progress deadline; if nothing
    // arrives the operation is resumed with io_result::quiet() and the connection stays usable
    // (it may then write DONE). A stop request still ends the wait at once (errc::cancelled).
    virtual std::optional<std::chrono::milliseconds> quiet_limit() const noexcept {
        return std::nullopt;
    }
};

}  // namespace mv
