// POP3 operations as sans-io state machines (mv::operation). Each one writes its command(s) and
// reads the replies through the connection's shared pop3::session; none touches a socket.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mailvault/next_action.hpp"
#include "mailvault/tls_upgrade.hpp"
#include "pop3/parse.hpp"
#include "pop3/reply.hpp"

namespace mv::pop3 {

// Receives RETR/TOP bodies: begin(msgno), data()..., then end() when the message is complete, or
// abort() when it is not (connection lost, size limit, malformed reply): the caller must then
// discard everything received since begin(). A sink that cannot store data should remember that
// and report it afterwards; the client keeps reading so the connection stays in step.
class message_sink {
public:
    virtual ~message_sink() = default;
    virtual void begin(std::uint32_t msgno) = 0;
    virtual void data(std::string_view bytes) = 0;
    virtual void end() = 0;
    virtual void abort() = 0;
};

// State shared by the operations of one connection.
struct session {
    explicit session(const limits& l) : lim(l), reader(l) {}

    limits lim;
    reply_reader reader;
    std::string pending;  // bytes read past the last reply; they belong to the next one
    capabilities caps;
    std::string greeting;        // greeting text after "+OK "
    std::string apop_timestamp;  // "<...>" from the greeting, empty if none
    status_line last;            // last complete status line (diagnostics)
    mv::error broken;            // set once the stream is out of step: later commands fail fast
};

// One command line to send and how to read its reply.
struct request {
    std::string line;  // with CRLF; empty for the greeting (nothing to send)
    reply_mode mode = reply_mode::single;
    std::string label;  // for messages: "RETR 3", "PASS" (never a password or token)
    bool auth = false;  // -ERR means rejected credentials (mv::errc::auth)
    std::uint64_t max_body = 0;
};

// Generic exchange: sends `requests_` in order with at most `window` replies outstanding (1 when
// the server does not pipeline), reads each reply in order and hands it to the hooks.
//
// Flow: start -> write as many commands as the window allows (one write) -> read until the oldest
// reply completes (hooks: on_ok for the status line, on_body for unstuffed body runs, on_complete)
// -> refill the window -> ... -> done. After the first -ERR no new command is sent, but replies of
// commands already sent are still read, then the op finishes with that -ERR's error. Any other
// failure (I/O, malformed, limit) ends the op at once, calls on_abort() for an open body and
// marks the session broken.
class exchange_op : public mv::operation {
public:
    next_action resume(io_result r) override;
    // For the client: the transport ended the op without telling it (e.g. it was already dead).
    void cancel(const mv::error& e);

protected:
    exchange_op(session& s, std::size_t window) : s_(s), window_(window ? window : 1) {}

    // +OK status line (for multi replies: before the body).
    virtual mv::error on_ok(std::size_t, const status_line&) { return {}; }
    virtual mv::error on_body(std::size_t, std::string_view) { return {}; }
    // The +OK reply is complete (multi: terminator consumed).
    virtual mv::error on_complete(std::size_t) { return {}; }
    // The body of request i was started but will not complete.
    virtual void on_abort(std::size_t) {}
    // -ERR: returns the error to report (default: auth or server_no with the server text), or an
    // empty error to accept it.
    virtual mv::error on_err(std::size_t i, const status_line& st);
    // "+ " continuation (sasl mode only): sets `response` (a line with CRLF) to send.
    virtual mv::error on_continuation(std::size_t i, const status_line& st, std::string& response);

    session& s_;
    std::vector<request> requests_;

private:
    struct adapter final : body_consumer {
        exchange_op* op = nullptr;
        std::size_t index = 0;
        mv::error on_body(std::string_view b) override { return op->on_body(index, b); }
    };

    next_action step();
    mv::error process(std::string_view in);
    next_action fail(mv::error e);

    std::size_t window_;
    std::size_t sent_ = 0;  // commands written
    std::size_t done_ = 0;  // replies completed
    bool started_ = false;
    bool reading_ = false;
    bool body_open_ = false;
    bool finished_ = false;
    bool stop_sending_ = false;
    std::string out_;
    std::string continuation_;
    bool continuation_due_ = false;
    mv::error first_err_;
    adapter adapter_;
};

// Reads the greeting; stores its text and APOP timestamp in the session.
class greeting_op final : public exchange_op {
public:
    explicit greeting_op(session& s);

private:
    mv::error on_ok(std::size_t, const status_line& st) override;
    mv::error on_err(std::size_t, const status_line& st) override;
};

// CAPA; fills session::caps. A -ERR (server without RFC 2449) leaves caps.advertised false.
class capa_op final : public exchange_op {
public:
    explicit capa_op(session& s);

private:
    mv::error on_ok(std::size_t, const status_line&) override;
    mv::error on_body(std::size_t, std::string_view bytes) override;
    mv::error on_complete(std::size_t) override;
    mv::error on_err(std::size_t, const status_line&) override;
    line_splitter lines_;
};

// STLS, then the TLS handshake, then CAPA again (RFC 2595: forget what was learnt before TLS).
// Flow: STLS -> +OK -> (no byte may follow the reply: injection guard) -> tls_handshake -> CAPA.
class stls_op final : public mv::operation {
public:
    explicit stls_op(session& s);
    next_action resume(io_result r) override;
    void cancel(const mv::error& e);

private:
    struct command final : exchange_op {
        explicit command(session& s);
    };
    command stls_;
    capa_op capa_;
    mv::tls_upgrade<session, command, capa_op> up_;
};

// USER name, PASS secret (one at a time: PASS only after USER is accepted).
class user_pass_op final : public exchange_op {
public:
    user_pass_op(session& s, std::string_view user, std::string_view password);
};

// APOP name digest, using the greeting's timestamp.
class apop_op final : public exchange_op {
public:
    apop_op(session& s, std::string_view user, std::string_view password);
};

// AUTH mechanism with an initial response (RFC 5034).
// Flow: "AUTH mech ir" (or "AUTH mech", "+ ", "ir") -> +OK | -ERR | error challenge -> response ->
// -ERR. The initial response goes on the command
// line when the line fits in 255 octets, otherwise after the server's empty "+ " challenge. A
// challenge after the response is an error report (XOAUTH2 sends base64 JSON): it is answered
// with an empty line (XOAUTH2) or "*" (cancel), and the final -ERR is reported as mv::errc::auth.
class auth_op final : public exchange_op {
public:
    auth_op(session& s, std::string_view mechanism, std::string initial_response);

private:
    mv::error on_continuation(std::size_t, const status_line& st, std::string& response) override;
    mv::error on_err(std::size_t, const status_line& st) override;
    std::string mechanism_;
    std::string initial_response_;
    bool response_sent_;
    std::string challenge_;  // decoded error challenge, for the message
};

class stat_op final : public exchange_op {
public:
    explicit stat_op(session& s);
    stat_result result;

private:
    mv::error on_ok(std::size_t, const status_line& st) override;
};

// LIST (msgno == 0: all messages) / LIST n.
class list_op final : public exchange_op {
public:
    list_op(session& s, std::uint32_t msgno);
    std::vector<list_entry> entries;

private:
    mv::error on_ok(std::size_t, const status_line& st) override;
    mv::error on_body(std::size_t, std::string_view bytes) override;
    mv::error on_complete(std::size_t) override;
    std::uint32_t msgno_;
    line_splitter lines_;
};

// UIDL (msgno == 0: all messages) / UIDL n.
class uidl_op final : public exchange_op {
public:
    uidl_op(session& s, std::uint32_t msgno);
    std::vector<uidl_entry> entries;

private:
    mv::error on_ok(std::size_t, const status_line& st) override;
    mv::error on_body(std::size_t, std::string_view bytes) override;
    mv::error on_complete(std::size_t) override;
    std::uint32_t msgno_;
    line_splitter lines_;
};

// RETR n... or TOP n k..., bodies streamed to the sink; pipelined when window > 1.
// Flow per message: +OK -> sink.begin(n) -> sink.data(run)... -> terminator -> sink.end(); a
// failure after begin -> sink.abort(); -ERR -> no sink call for that message.
class fetch_op final : public exchange_op {
public:
    // top_lines < 0: RETR; otherwise TOP msgno top_lines.
    fetch_op(session& s, std::span<const std::uint32_t> msgnos, long top_lines, message_sink& sink,
             std::size_t window);

private:
    mv::error on_ok(std::size_t i, const status_line&) override;
    mv::error on_body(std::size_t, std::string_view bytes) override;
    mv::error on_complete(std::size_t) override;
    void on_abort(std::size_t) override;
    std::vector<std::uint32_t> msgnos_;
    message_sink& sink_;
};

// Commands with a plain +OK/-ERR answer and no data: DELE n..., RSET, NOOP, QUIT.
class simple_op final : public exchange_op {
public:
    simple_op(session& s, std::vector<std::string> commands, std::size_t window);
};

}  // namespace mv::pop3
