// SMTP operations as sans-io state machines (mv::operation): greeting, EHLO (HELO fallback),
// STARTTLS, AUTH, one mail transaction (MAIL, RCPT..., DATA, body), RSET, NOOP, QUIT. Each writes
// its commands and reads the replies through the connection's shared smtp::session.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailvault/next_action.hpp"
#include "mailvault/tls_upgrade.hpp"
#include "smtp/reply.hpp"

namespace mv::smtp {

// What EHLO advertised (RFC 5321 §4.1.1.1); all false after HELO (no extensions).
struct capabilities {
    bool esmtp = false;  // EHLO was accepted
    std::string domain;  // first line of the EHLO reply
    bool starttls = false;
    bool pipelining = false;
    bool eightbitmime = false;
    bool smtputf8 = false;
    bool enhanced_status = false;
    bool size = false;
    std::uint64_t max_size = 0;     // SIZE n (0: offered without a limit)
    std::vector<std::string> auth;  // mechanisms, upper case
    std::vector<std::string> keywords;

    bool has_auth(std::string_view mech) const;
    bool has(std::string_view keyword) const;
};

// Parses the lines of a 250 EHLO reply (lines[0] is the server's domain and greeting).
capabilities parse_ehlo(const reply& r);

// State shared by the operations of one connection.
struct session {
    explicit session(const limits& l) : lim(l), reader(l) {}

    limits lim;
    reply_reader reader;
    std::string pending;  // bytes read past the last reply; they belong to the next one
    capabilities caps;
    reply greeting;
    reply last;        // the last complete reply (diagnostics, `report test`)
    mv::error broken;  // set once the stream is out of step: later commands fail fast
};

// Streaming dot-stuffing with CRLF normalisation (RFC 5321 §4.5.2, §2.3.8): bare LF and bare CR
// become CRLF, a line starting with "." gets another "."; finish() ends the last line and adds the
// terminating ".\r\n". Fed in chunks, the output is the same as for the whole input.
class dot_stuffer {
public:
    void feed(std::string_view in, std::string& out);
    void finish(std::string& out);

private:
    bool line_start_ = true;
    bool pending_cr_ = false;
};

// One command and the reply it expects.
struct request {
    std::string line;       // with CRLF; empty: nothing to send (greeting)
    std::string label;      // for messages: "MAIL FROM", "RCPT TO <a@b>", "AUTH PLAIN" (no secrets)
    bool is_body = false;   // the message data after a 354: streamed from `body`
    std::string_view body;  // is_body: the unstuffed message (must outlive the op)
};

// Generic exchange: sends requests_ in order (all that are queued in one write when `pipeline`,
// otherwise each after the previous reply), reads one reply per request (more when the handler
// answers an intermediate reply) and passes each to on_reply().
//
// Flow: start -> write -> read until a reply is complete -> on_reply (may queue more requests,
// may set `response` to answer a 334) -> ... -> done. An error returned by on_reply stops new
// commands; replies to commands already sent are still read (the stream stays in step), then the
// op finishes with the first error. A protocol/limit/I/O failure, or a 421 (the server closes),
// ends the op at once and marks the session broken.
class exchange_op : public mv::operation {
public:
    next_action resume(io_result r) override;
    std::optional<std::uint64_t> progress() const noexcept override { return progress_; }
    // For the client: the transport ended the op without telling it (e.g. it was already dead).
    void cancel(const mv::error& e);

protected:
    exchange_op(session& s, bool pipeline) : s_(s), pipeline_(pipeline) {}
    virtual mv::error on_reply(std::size_t i, const reply& r, std::string& response) = 0;
    // A 421 to this request is an answer, not a failure (QUIT).
    virtual bool accepts_close(std::size_t) const { return false; }
    // "SMTP MAIL FROM rejected: 550 5.7.1 ..." with server_no (or `code`).
    mv::error rejected(std::size_t i, const reply& r, mv::errc code = mv::errc::server_no) const;

    session& s_;
    std::vector<request> requests_;

private:
    next_action step();
    mv::error process(std::string_view in);
    next_action fail(mv::error e);

    bool pipeline_;
    std::size_t sent_ = 0;  // requests written
    std::size_t done_ = 0;  // requests answered
    bool started_ = false;
    bool finished_ = false;
    bool stop_sending_ = false;
    bool body_active_ = false;
    std::size_t body_pos_ = 0;
    dot_stuffer stuffer_;
    std::string out_;
    std::string response_;
    bool response_due_ = false;
    mv::error first_err_;
    std::uint64_t progress_ = 0;
};

// Reads the greeting (220); anything else (554: "no service") is server_no.
class greeting_op final : public exchange_op {
public:
    explicit greeting_op(session& s);

private:
    mv::error on_reply(std::size_t, const reply& r, std::string&) override;
};

// EHLO name; on 500/502/504/550 (a server without ESMTP) HELO name. Fills session::caps.
class ehlo_op final : public exchange_op {
public:
    ehlo_op(session& s, std::string_view name);
    bool used_helo = false;

private:
    mv::error on_reply(std::size_t i, const reply& r, std::string&) override;
    std::string name_;
};

// STARTTLS (RFC 3207), the handshake, then EHLO again: everything learnt before TLS is forgotten.
// Flow: STARTTLS -> 220 -> (no byte may follow the reply: injection guard) -> tls_handshake ->
// EHLO -> done.
class starttls_op final : public mv::operation {
public:
    starttls_op(session& s, std::string_view name);
    next_action resume(io_result r) override;
    void cancel(const mv::error& e);

private:
    struct command final : exchange_op {
        explicit command(session& s);
        mv::error on_reply(std::size_t, const reply& r, std::string&) override;
    };
    command cmd_;
    ehlo_op ehlo_;
    mv::tls_upgrade<session, command, ehlo_op> up_;
};

enum class sasl_mech { plain, login, xoauth2 };
const char* mech_name(sasl_mech m) noexcept;

// AUTH (RFC 4954). PLAIN and XOAUTH2 send their initial response on the command line; LOGIN
// answers the two 334 prompts with the base64 user name and password. A 334 after an XOAUTH2
// response is the server's error report (base64 JSON): answered with an empty line, and the final
// 5xx is errc::auth with the decoded report. Secrets never appear in labels or messages.
class auth_op final : public exchange_op {
public:
    auth_op(session& s, sasl_mech mech, std::string_view user, std::string_view secret);

private:
    mv::error on_reply(std::size_t, const reply& r, std::string& response) override;
    sasl_mech mech_;
    std::string user_;
    std::string secret_;
    int step_ = 0;
    std::string challenge_;
};

struct envelope {
    std::string from;             // reverse-path without brackets ("" for the null sender)
    std::vector<std::string> to;  // forward-paths without brackets
};

struct recipient_result {
    std::string address;
    reply answer;
    bool accepted() const noexcept { return answer.positive(); }
};

// What happened to one transaction, step by step (filled as far as it got).
struct send_result {
    reply mail;
    std::vector<recipient_result> recipients;
    reply data;                    // the reply to DATA (354 when accepted)
    reply final_reply;             // the reply after the message data (250 when accepted)
    bool delivered = false;        // final_reply positive: accepted for the accepted recipients
    bool transient = false;        // the failure was 4xx (try again later) rather than 5xx
    std::size_t accepted() const;  // recipients with a positive RCPT reply
};

// One mail transaction. Flow: MAIL FROM:<a> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8] -> RCPT TO:<b>
// per recipient -> DATA -> 354 -> the message, dot-stuffed, CRLF normalised, streamed -> ".".
// With PIPELINING (RFC 2920), MAIL, every RCPT and DATA go out in one write and the replies are
// read in order. A rejected recipient is recorded and the others still get the message; with no
// recipient accepted no data is sent (if a pipelining server still answered DATA with 354, an
// empty message "." is sent to end the transaction, as RFC 2920 §3.1 asks).
class mail_op final : public exchange_op {
public:
    struct params {
        envelope env;
        std::string_view message;  // the whole message (headers + body)
        bool size = false;         // add SIZE=
        bool eightbit = false;     // add BODY=8BITMIME
        bool smtputf8 = false;     // add SMTPUTF8
    };
    mail_op(session& s, const params& p, bool pipeline, send_result& out);

private:
    mv::error on_reply(std::size_t i, const reply& r, std::string& response) override;
    send_result& out_;
    std::string_view message_;
    std::size_t data_index_ = 0;
    bool empty_data_ = false;
    bool pipelined_;
    mv::error deferred_;
    std::string first_rcpt_err_;
};

// Commands with a plain 2xx answer: RSET, NOOP, QUIT (221; a 421 or the close is fine too).
class simple_op final : public exchange_op {
public:
    simple_op(session& s, std::string command);

private:
    mv::error on_reply(std::size_t i, const reply& r, std::string&) override;
    bool accepts_close(std::size_t) const override { return quit_; }
    bool quit_;
};

}  // namespace mv::smtp
