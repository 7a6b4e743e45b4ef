#include "pop3/operations.hpp"

#include <utility>

namespace mv::pop3 {

namespace {

std::string server_text(const status_line& st) {
    std::string s;
    if (!st.code.empty()) s += "[" + st.code + "] ";
    s += st.text.empty() ? std::string("(no text)") : st.text;
    return s;
}

std::string num(std::uint64_t n) {
    return std::to_string(n);
}

}  // namespace

// ---- exchange_op ----------------------------------------------------------------------------

mv::error exchange_op::on_err(std::size_t i, const status_line& st) {
    const auto& rq = requests_[i];
    if (rq.auth) {
        std::string msg = "POP3 " + rq.label + " rejected: -ERR " + server_text(st);
        if (st.code == "IN-USE") msg += " (mailbox locked by another session; try again later)";
        if (st.code.rfind("SYS/TEMP", 0) == 0)
            msg += " (temporary server problem; try again later)";
        return {mv::errc::auth, std::move(msg)};
    }
    return {mv::errc::server_no, "POP3 " + rq.label + " failed: -ERR " + server_text(st)};
}

mv::error exchange_op::on_continuation(std::size_t i, const status_line&, std::string&) {
    return {mv::errc::protocol,
            "POP3: unexpected \"+ \" continuation in reply to " + requests_[i].label};
}

next_action exchange_op::resume(io_result r) {
    if (finished_)
        return next_action::finish({mv::errc::internal, "POP3 operation resumed after done"});
    started_ = true;
    switch (r.kind) {
        case io_kind::start:
        case io_kind::written:
        case io_kind::quiet: break;  // POP3 never asks for a quiet read
        case io_kind::read:
            if (auto e = process(r.bytes)) return fail(std::move(e));
            break;
        case io_kind::failed: {
            mv::error e = std::move(r.err);
            if (e.ok()) e = {mv::errc::network, "I/O failed"};
            if (done_ < requests_.size() && (reading_ || sent_ > done_)) {
                std::string where = "POP3 connection lost during " + requests_[done_].label;
                if (body_open_) where += " after " + num(s_.reader.body_size()) + " body bytes";
                e.message = where + ": " + e.message;
            }
            return fail(std::move(e));
        }
        default: return fail({mv::errc::internal, "POP3 operation got an unexpected I/O result"});
    }
    return step();
}

next_action exchange_op::step() {
    for (;;) {
        if (continuation_due_) {
            continuation_due_ = false;
            out_ = std::move(continuation_);
            return next_action::write(out_);
        }
        if (!stop_sending_ && sent_ < requests_.size() && sent_ - done_ < window_) {
            out_.clear();
            while (sent_ < requests_.size() && sent_ - done_ < window_)
                out_ += requests_[sent_++].line;
            if (!out_.empty()) return next_action::write(out_);
            continue;
        }
        if (done_ < sent_) {
            if (s_.pending.empty()) return next_action::read();
            std::string buf = std::exchange(s_.pending, {});
            if (auto e = process(buf)) return fail(std::move(e));
            continue;
        }
        finished_ = true;
        return next_action::finish(std::move(first_err_));
    }
}

mv::error exchange_op::process(std::string_view in) {
    while (!in.empty() && done_ < sent_ && !continuation_due_) {
        if (!reading_) {
            const auto& rq = requests_[done_];
            adapter_.op = this;
            adapter_.index = done_;
            s_.reader.start(rq.mode, &adapter_, rq.max_body);
            reading_ = true;
        }
        auto r = s_.reader.feed(in);
        in.remove_prefix(r.consumed);
        switch (r.event) {
            case reply_event::need_more: break;
            case reply_event::failed: return std::move(r.err);
            case reply_event::status:
                body_open_ = true;
                if (auto e = on_ok(done_, s_.reader.status())) return e;
                break;
            case reply_event::complete: {
                reading_ = false;
                const status_line& st = s_.reader.status();
                s_.last = st;
                if (body_open_) {
                    body_open_ = false;
                    if (auto e = on_complete(done_)) return e;
                } else if (st.kind == status_kind::ok) {
                    if (auto e = on_ok(done_, st)) return e;
                    if (auto e = on_complete(done_)) return e;
                } else if (st.kind == status_kind::err) {
                    if (auto e = on_err(done_, st)) {
                        if (!first_err_) first_err_ = std::move(e);
                        stop_sending_ = true;
                    }
                } else {
                    if (auto e = on_continuation(done_, st, continuation_)) return e;
                    continuation_due_ = true;
                    break;  // the same request awaits another status line
                }
                ++done_;
                break;
            }
        }
    }
    // Bytes beyond the replies we asked for belong to whatever comes next.
    if (!in.empty()) s_.pending.append(in);
    return {};
}

next_action exchange_op::fail(mv::error e) {
    if (body_open_) {
        body_open_ = false;
        on_abort(done_);
    }
    finished_ = true;
    reading_ = false;
    s_.broken = e;
    return next_action::finish(std::move(e));
}

void exchange_op::cancel(const mv::error& e) {
    if (!started_ || finished_) return;
    fail(e);
}

// ---- greeting -------------------------------------------------------------------------------

greeting_op::greeting_op(session& s) : exchange_op(s, 1) {
    requests_.push_back({"", reply_mode::single, "greeting", false, 0});
}

mv::error greeting_op::on_ok(std::size_t, const status_line& st) {
    s_.greeting = st.text;
    s_.apop_timestamp = find_apop_timestamp(st.text);
    return {};
}

mv::error greeting_op::on_err(std::size_t, const status_line& st) {
    return {mv::errc::server_no, "POP3 server refused the connection: -ERR " + server_text(st)};
}

// ---- CAPA -----------------------------------------------------------------------------------

capa_op::capa_op(session& s) : exchange_op(s, 1), lines_(s.lim.max_line) {
    requests_.push_back({"CAPA\r\n", reply_mode::multi, "CAPA", false, s.lim.max_listing});
}

mv::error capa_op::on_ok(std::size_t, const status_line&) {
    s_.caps = capabilities{};
    s_.caps.advertised = true;
    return {};
}

mv::error capa_op::on_body(std::size_t, std::string_view bytes) {
    return lines_.feed(bytes, [this](std::string_view line) -> mv::error {
        if (!line.empty()) parse_capa_line(line, s_.caps);
        return {};
    });
}

mv::error capa_op::on_complete(std::size_t) {
    if (!lines_.clean()) return {mv::errc::protocol, "POP3: CAPA listing ends inside a line"};
    return {};
}

mv::error capa_op::on_err(std::size_t, const status_line&) {
    s_.caps = capabilities{};  // RFC 2449 §5: a server without CAPA; nothing is known
    return {};
}

// ---- STLS -----------------------------------------------------------------------------------

stls_op::command::command(session& s) : exchange_op(s, 1) {
    requests_.push_back({"STLS\r\n", reply_mode::single, "STLS", false, 0});
}

stls_op::stls_op(session& s) : stls_(s), capa_(s), up_(s, stls_, capa_, "POP3", "STLS") {}

next_action stls_op::resume(io_result r) {
    return up_.resume(std::move(r));
}

void stls_op::cancel(const mv::error& e) {
    stls_.cancel(e);
    capa_.cancel(e);
}

// ---- authentication -------------------------------------------------------------------------

user_pass_op::user_pass_op(session& s, std::string_view user, std::string_view password)
    : exchange_op(s, 1) {
    requests_.push_back(
        {"USER " + std::string(user) + "\r\n", reply_mode::single, "USER", true, 0});
    requests_.push_back(
        {"PASS " + std::string(password) + "\r\n", reply_mode::single, "PASS", true, 0});
}

apop_op::apop_op(session& s, std::string_view user, std::string_view password) : exchange_op(s, 1) {
    requests_.push_back(
        {"APOP " + std::string(user) + " " + apop_digest(s.apop_timestamp, password) + "\r\n",
         reply_mode::single, "APOP", true, 0});
}

auth_op::auth_op(session& s, std::string_view mechanism, std::string initial_response)
    : exchange_op(s, 1), mechanism_(mechanism), initial_response_(std::move(initial_response)) {
    // RFC 5034 §4: an initial response of zero length is sent as "="; one that would make the
    // command longer than 255 octets waits for the server's empty challenge instead.
    std::string ir = initial_response_.empty() ? std::string("=") : initial_response_;
    std::string line = "AUTH " + mechanism_ + " " + ir + "\r\n";
    response_sent_ = line.size() <= 255;
    if (!response_sent_) line = "AUTH " + mechanism_ + "\r\n";
    requests_.push_back({std::move(line), reply_mode::sasl, "AUTH " + mechanism_, true, 0});
}

mv::error auth_op::on_continuation(std::size_t, const status_line& st, std::string& response) {
    if (!response_sent_) {
        response_sent_ = true;
        response = initial_response_ + "\r\n";
        return {};
    }
    if (!challenge_.empty())
        return {mv::errc::protocol, "POP3 AUTH " + mechanism_ +
                                        ": a second challenge after the "
                                        "error challenge"};
    std::string decoded;
    if (!base64_decode(st.text, decoded)) decoded = st.text;
    challenge_ = decoded.empty() ? std::string("(empty challenge)") : decoded;
    // XOAUTH2 wants an empty response to finish with -ERR; other mechanisms are cancelled.
    response = mechanism_ == "XOAUTH2" ? "\r\n" : "*\r\n";
    return {};
}

mv::error auth_op::on_err(std::size_t i, const status_line& st) {
    mv::error e = exchange_op::on_err(i, st);
    if (!challenge_.empty()) e.message += " (server challenge: " + describe_bytes(challenge_) + ")";
    return e;
}

// ---- STAT, LIST, UIDL -----------------------------------------------------------------------

stat_op::stat_op(session& s) : exchange_op(s, 1) {
    requests_.push_back({"STAT\r\n", reply_mode::single, "STAT", false, 0});
}

mv::error stat_op::on_ok(std::size_t, const status_line& st) {
    return parse_stat(st.text, result);
}

list_op::list_op(session& s, std::uint32_t msgno)
    : exchange_op(s, 1), msgno_(msgno), lines_(s.lim.max_line) {
    if (msgno == 0)
        requests_.push_back({"LIST\r\n", reply_mode::multi, "LIST", false, s.lim.max_listing});
    else
        requests_.push_back(
            {"LIST " + num(msgno) + "\r\n", reply_mode::single, "LIST " + num(msgno), false, 0});
}

mv::error list_op::on_ok(std::size_t, const status_line& st) {
    if (msgno_ == 0) return {};
    list_entry e;
    if (auto err = parse_list_line(st.text, e)) return err;
    if (e.msgno != msgno_)
        return {mv::errc::protocol,
                "POP3: LIST " + num(msgno_) + " answered for message " + num(e.msgno)};
    entries.push_back(e);
    return {};
}

mv::error list_op::on_body(std::size_t, std::string_view bytes) {
    return lines_.feed(bytes, [this](std::string_view line) -> mv::error {
        list_entry e;
        if (auto err = parse_list_line(line, e)) return err;
        // Message numbers of deleted messages are skipped (RFC 1939), so gaps are fine, but the
        // listing must be in increasing order without repeats.
        if (!entries.empty() && e.msgno <= entries.back().msgno)
            return {mv::errc::protocol,
                    "POP3: LIST listing out of order at message " + num(e.msgno)};
        entries.push_back(e);
        return {};
    });
}

mv::error list_op::on_complete(std::size_t) {
    if (!lines_.clean()) return {mv::errc::protocol, "POP3: LIST listing ends inside a line"};
    return {};
}

uidl_op::uidl_op(session& s, std::uint32_t msgno)
    : exchange_op(s, 1), msgno_(msgno), lines_(s.lim.max_line) {
    if (msgno == 0)
        requests_.push_back({"UIDL\r\n", reply_mode::multi, "UIDL", false, s.lim.max_listing});
    else
        requests_.push_back(
            {"UIDL " + num(msgno) + "\r\n", reply_mode::single, "UIDL " + num(msgno), false, 0});
}

mv::error uidl_op::on_ok(std::size_t, const status_line& st) {
    if (msgno_ == 0) return {};
    uidl_entry e;
    if (auto err = parse_uidl_line(st.text, e)) return err;
    if (e.msgno != msgno_)
        return {mv::errc::protocol,
                "POP3: UIDL " + num(msgno_) + " answered for message " + num(e.msgno)};
    entries.push_back(std::move(e));
    return {};
}

mv::error uidl_op::on_body(std::size_t, std::string_view bytes) {
    return lines_.feed(bytes, [this](std::string_view line) -> mv::error {
        uidl_entry e;
        if (auto err = parse_uidl_line(line, e)) return err;
        if (!entries.empty() && e.msgno <= entries.back().msgno)
            return {mv::errc::protocol,
                    "POP3: UIDL listing out of order at message " + num(e.msgno)};
        entries.push_back(std::move(e));
        return {};
    });
}

mv::error uidl_op::on_complete(std::size_t) {
    if (!lines_.clean()) return {mv::errc::protocol, "POP3: UIDL listing ends inside a line"};
    return {};
}

// ---- RETR / TOP -----------------------------------------------------------------------------

fetch_op::fetch_op(session& s, std::span<const std::uint32_t> msgnos, long top_lines,
                   message_sink& sink, std::size_t window)
    : exchange_op(s, window), msgnos_(msgnos.begin(), msgnos.end()), sink_(sink) {
    requests_.reserve(msgnos_.size());
    for (auto n : msgnos_) {
        std::string label =
            top_lines < 0 ? "RETR " + num(n)
                          : "TOP " + num(n) + " " + num(static_cast<std::uint64_t>(top_lines));
        std::string line = label + "\r\n";
        requests_.push_back(
            {std::move(line), reply_mode::multi, std::move(label), false, s.lim.max_message});
    }
}

mv::error fetch_op::on_ok(std::size_t i, const status_line&) {
    sink_.begin(msgnos_[i]);
    return {};
}

mv::error fetch_op::on_body(std::size_t, std::string_view bytes) {
    sink_.data(bytes);
    return {};
}

mv::error fetch_op::on_complete(std::size_t) {
    sink_.end();
    return {};
}

void fetch_op::on_abort(std::size_t) {
    sink_.abort();
}

// ---- DELE, RSET, NOOP, QUIT -----------------------------------------------------------------

simple_op::simple_op(session& s, std::vector<std::string> commands, std::size_t window)
    : exchange_op(s, window) {
    for (auto& c : commands) {
        std::string line = c + "\r\n";
        requests_.push_back({std::move(line), reply_mode::single, std::move(c), false, 0});
    }
}

}  // namespace mv::pop3
