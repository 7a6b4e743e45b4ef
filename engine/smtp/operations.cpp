#include "smtp/operations.hpp"

#include <algorithm>
#include <utility>

#include "pop3/parse.hpp"  // base64 and the SASL initial responses are the same for every protocol

namespace mv::smtp {

namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

// Bytes of the message streamed per write: large enough for few syscalls, small enough that the
// runner sees progress often.
constexpr std::size_t body_chunk = 64 * 1024;

}  // namespace

// ---- capabilities ---------------------------------------------------------------------------

bool capabilities::has_auth(std::string_view mech) const {
    auto m = upper(mech);
    return std::find(auth.begin(), auth.end(), m) != auth.end();
}

bool capabilities::has(std::string_view keyword) const {
    auto k = upper(keyword);
    return std::find(keywords.begin(), keywords.end(), k) != keywords.end();
}

capabilities parse_ehlo(const reply& r) {
    capabilities c;
    c.esmtp = true;
    if (!r.lines.empty()) c.domain = r.lines[0];
    for (std::size_t i = 1; i < r.lines.size(); ++i) {
        std::string_view line = r.lines[i];
        auto sp = line.find(' ');
        std::string kw = upper(line.substr(0, sp));
        std::string_view params = sp == std::string_view::npos ? "" : line.substr(sp + 1);
        if (kw.empty()) continue;
        c.keywords.push_back(kw);
        if (kw == "STARTTLS") c.starttls = true;
        if (kw == "PIPELINING") c.pipelining = true;
        if (kw == "8BITMIME") c.eightbitmime = true;
        if (kw == "SMTPUTF8") c.smtputf8 = true;
        if (kw == "ENHANCEDSTATUSCODES") c.enhanced_status = true;
        if (kw == "SIZE") {
            c.size = true;
            std::uint64_t n = 0;
            bool ok = !params.empty();
            for (char ch : params) {
                if (ch < '0' || ch > '9' || n > UINT64_MAX / 10 - 10) {
                    ok = false;
                    break;
                }
                n = n * 10 + static_cast<std::uint64_t>(ch - '0');
            }
            c.max_size = ok ? n : 0;
        }
        // "AUTH=LOGIN PLAIN" is what pre-RFC 4954 servers (and Outlook) sent; same meaning.
        if (kw == "AUTH" || kw.rfind("AUTH=", 0) == 0) {
            std::string_view list = kw == "AUTH" ? params : std::string_view(line).substr(5);
            while (!list.empty()) {
                auto e = list.find(' ');
                auto m = upper(list.substr(0, e));
                if (!m.empty() && std::find(c.auth.begin(), c.auth.end(), m) == c.auth.end())
                    c.auth.push_back(m);
                if (e == std::string_view::npos) break;
                list.remove_prefix(e + 1);
            }
        }
    }
    return c;
}

// ---- dot_stuffer ----------------------------------------------------------------------------

void dot_stuffer::feed(std::string_view in, std::string& out) {
    out.reserve(out.size() + in.size() + in.size() / 32 + 8);
    for (char c : in) {
        if (pending_cr_) {
            pending_cr_ = false;
            out += "\r\n";
            line_start_ = true;
            if (c == '\n') continue;
        }
        if (c == '\r') {
            pending_cr_ = true;
            continue;
        }
        if (c == '\n') {
            out += "\r\n";
            line_start_ = true;
            continue;
        }
        if (line_start_ && c == '.') out += '.';
        out += c;
        line_start_ = false;
    }
}

void dot_stuffer::finish(std::string& out) {
    if (pending_cr_) {
        pending_cr_ = false;
        out += "\r\n";
        line_start_ = true;
    }
    if (!line_start_) out += "\r\n";
    out += ".\r\n";
    line_start_ = true;
}

// ---- exchange_op ----------------------------------------------------------------------------

mv::error exchange_op::rejected(std::size_t i, const reply& r, mv::errc code) const {
    return {code, "SMTP " + requests_[i].label + " rejected: " + r.summary()};
}

next_action exchange_op::resume(io_result r) {
    if (finished_)
        return next_action::finish({mv::errc::internal, "SMTP operation resumed after done"});
    started_ = true;
    switch (r.kind) {
        case io_kind::start: break;
        case io_kind::written: ++progress_; break;
        case io_kind::read:
            if (auto e = process(r.bytes)) return fail(std::move(e));
            break;
        case io_kind::failed: {
            mv::error e = std::move(r.err);
            if (e.ok()) e = {mv::errc::network, "I/O failed"};
            if (done_ < requests_.size())
                e.message =
                    "SMTP connection lost during " + requests_[done_].label + ": " + e.message;
            return fail(std::move(e));
        }
        default: return fail({mv::errc::internal, "SMTP operation got an unexpected I/O result"});
    }
    return step();
}

next_action exchange_op::step() {
    for (;;) {
        if (response_due_) {
            response_due_ = false;
            out_ = std::move(response_);
            response_.clear();
            return next_action::write(out_);
        }
        if (body_active_) {
            const auto& rq = requests_[sent_];
            out_.clear();
            std::size_t n = std::min(body_chunk, rq.body.size() - body_pos_);
            stuffer_.feed(rq.body.substr(body_pos_, n), out_);
            body_pos_ += n;
            if (body_pos_ == rq.body.size()) {
                stuffer_.finish(out_);
                body_active_ = false;
                ++sent_;
            }
            return next_action::write(out_);
        }
        if (!stop_sending_ && sent_ < requests_.size() && (pipeline_ || sent_ == done_)) {
            if (requests_[sent_].is_body) {
                if (sent_ == done_) {
                    body_active_ = true;
                    body_pos_ = 0;
                    stuffer_ = dot_stuffer{};
                    continue;
                }
            } else {
                out_.clear();
                while (sent_ < requests_.size() && !requests_[sent_].is_body &&
                       (pipeline_ || sent_ == done_)) {
                    out_ += requests_[sent_].line;
                    ++sent_;
                }
                if (!out_.empty()) return next_action::write(out_);
                continue;
            }
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
    while (!in.empty() && done_ < sent_ && !response_due_) {
        auto r = s_.reader.feed(in);
        in.remove_prefix(r.consumed);
        if (r.event == reply_event::need_more) continue;
        if (r.event == reply_event::failed) return std::move(r.err);
        ++progress_;
        const reply& rep = s_.reader.current();
        s_.last = rep;
        if (rep.code == 421 && !accepts_close(done_)) {
            // RFC 5321 §3.8: the server is shutting the transmission channel; nothing more will
            // be answered on this connection.
            return {mv::errc::closed, "SMTP server closed the connection during " +
                                          requests_[done_].label + ": " + rep.summary()};
        }
        std::string response;
        if (auto e = on_reply(done_, rep, response)) {
            if (e.code == mv::errc::protocol) return e;
            if (!first_err_) first_err_ = std::move(e);
            stop_sending_ = true;
        }
        if (!response.empty()) {
            response_ = std::move(response);
            response_due_ = true;  // the same request awaits another reply
        } else {
            ++done_;
        }
    }
    // Bytes beyond the replies we asked for belong to whatever comes next.
    if (!in.empty()) s_.pending.append(in);
    return {};
}

next_action exchange_op::fail(mv::error e) {
    finished_ = true;
    s_.broken = e;
    return next_action::finish(std::move(e));
}

void exchange_op::cancel(const mv::error& e) {
    if (!started_ || finished_) return;
    fail(e);
}

// ---- greeting -------------------------------------------------------------------------------

greeting_op::greeting_op(session& s) : exchange_op(s, false) {
    requests_.push_back({"", "greeting", false, {}});
}

mv::error greeting_op::on_reply(std::size_t, const reply& r, std::string&) {
    s_.greeting = r;
    if (r.code == 220) return {};
    return {mv::errc::server_no, "SMTP server refused the connection: " + r.summary()};
}

// ---- EHLO / HELO ----------------------------------------------------------------------------

ehlo_op::ehlo_op(session& s, std::string_view name) : exchange_op(s, false), name_(name) {
    requests_.push_back({"EHLO " + name_ + "\r\n", "EHLO", false, {}});
}

mv::error ehlo_op::on_reply(std::size_t i, const reply& r, std::string&) {
    if (i == 0) {
        if (r.code == 250) {
            s_.caps = parse_ehlo(r);
            return {};
        }
        // RFC 5321 §4.1.4: a server that does not know EHLO answers 500, 502, 504 or 550; an
        // old server then still speaks plain SMTP.
        if (r.code == 500 || r.code == 502 || r.code == 504 || r.code == 550) {
            s_.caps = capabilities{};
            used_helo = true;
            requests_.push_back({"HELO " + name_ + "\r\n", "HELO", false, {}});
            return {};
        }
        return rejected(i, r);
    }
    if (r.code == 250) {
        s_.caps = capabilities{};
        if (!r.lines.empty()) s_.caps.domain = r.lines[0];
        return {};
    }
    return rejected(i, r);
}

// ---- STARTTLS -------------------------------------------------------------------------------

starttls_op::command::command(session& s) : exchange_op(s, false) {
    requests_.push_back({"STARTTLS\r\n", "STARTTLS", false, {}});
}

mv::error starttls_op::command::on_reply(std::size_t i, const reply& r, std::string&) {
    if (r.code == 220) return {};
    return rejected(i, r, mv::errc::tls_handshake);
}

starttls_op::starttls_op(session& s, std::string_view name)
    : cmd_(s), ehlo_(s, name), up_(s, cmd_, ehlo_, "SMTP", "STARTTLS") {}

next_action starttls_op::resume(io_result r) {
    return up_.resume(std::move(r));
}

void starttls_op::cancel(const mv::error& e) {
    cmd_.cancel(e);
    ehlo_.cancel(e);
}

// ---- AUTH -----------------------------------------------------------------------------------

const char* mech_name(sasl_mech m) noexcept {
    switch (m) {
        case sasl_mech::plain: return "PLAIN";
        case sasl_mech::login: return "LOGIN";
        case sasl_mech::xoauth2: return "XOAUTH2";
    }
    return "?";
}

auth_op::auth_op(session& s, sasl_mech mech, std::string_view user, std::string_view secret)
    : exchange_op(s, false), mech_(mech), user_(user), secret_(secret) {
    std::string line = std::string("AUTH ") + mech_name(mech);
    switch (mech) {
        case sasl_mech::plain: line += " " + pop3::sasl_plain("", user_, secret_); break;
        case sasl_mech::xoauth2: line += " " + pop3::sasl_xoauth2(user_, secret_); break;
        case sasl_mech::login: break;
    }
    requests_.push_back({line + "\r\n", std::string("AUTH ") + mech_name(mech), false, {}});
}

mv::error auth_op::on_reply(std::size_t i, const reply& r, std::string& response) {
    if (r.code == 235) return {};
    if (r.code == 334) {
        ++step_;
        std::string text = r.lines.empty() ? std::string() : r.lines[0];
        if (mech_ == sasl_mech::login && step_ <= 2) {
            response = pop3::base64_encode(step_ == 1 ? user_ : secret_) + "\r\n";
            return {};
        }
        if (mech_ == sasl_mech::plain && step_ == 1 && text.empty()) {
            // A server that wants the initial response after an empty challenge (RFC 4954 §4).
            response = pop3::sasl_plain("", user_, secret_) + "\r\n";
            return {};
        }
        if (!challenge_.empty()) {
            response = "*\r\n";  // a second challenge we cannot answer: cancel (RFC 4954 §4)
            return {};
        }
        std::string decoded;
        if (!pop3::base64_decode(text, decoded)) decoded = text;
        challenge_ = decoded.empty() ? std::string("(empty challenge)") : decoded;
        // XOAUTH2's error report wants an empty line to end with 5xx; anything else is cancelled.
        response = mech_ == sasl_mech::xoauth2 ? "\r\n" : "*\r\n";
        return {};
    }
    mv::errc code = r.code == 535 || r.code == 534 || r.code == 530 || r.code == 538 ||
                            (r.enhanced.cls == 5 && r.enhanced.subject == 7)
                        ? mv::errc::auth
                        : mv::errc::server_no;
    if (r.code == 504) code = mv::errc::unsupported;
    mv::error e = rejected(i, r, code);
    if (!challenge_.empty()) e.message += " (server said: " + describe_bytes(challenge_) + ")";
    return e;
}

// ---- mail transaction -----------------------------------------------------------------------

std::size_t send_result::accepted() const {
    std::size_t n = 0;
    for (const auto& r : recipients) n += r.accepted() ? 1 : 0;
    return n;
}

mail_op::mail_op(session& s, const params& p, bool pipeline, send_result& out)
    : exchange_op(s, pipeline), out_(out), message_(p.message), pipelined_(pipeline) {
    out_ = send_result{};
    std::string mail = "MAIL FROM:<" + p.env.from + ">";
    if (p.size) mail += " SIZE=" + std::to_string(p.message.size());
    if (p.eightbit) mail += " BODY=8BITMIME";
    if (p.smtputf8) mail += " SMTPUTF8";
    requests_.push_back({mail + "\r\n", "MAIL FROM", false, {}});
    for (const auto& to : p.env.to) {
        out_.recipients.push_back({to, {}});
        requests_.push_back({"RCPT TO:<" + to + ">\r\n", "RCPT TO <" + to + ">", false, {}});
    }
    data_index_ = requests_.size();
    requests_.push_back({"DATA\r\n", "DATA", false, {}});
}

mv::error mail_op::on_reply(std::size_t i, const reply& r, std::string& response) {
    (void)response;
    // Without pipelining an early failure stops the transaction at once (nothing more is sent);
    // with it, MAIL, RCPTs and DATA are already on the wire and their replies must all be read,
    // so the failure waits for DATA's reply (and, after a 354, for the end of an empty message).
    auto defer = [&](mv::error e) -> mv::error {
        if (!pipelined_) return e;
        if (!deferred_) deferred_ = std::move(e);
        return {};
    };
    if (i == 0) {
        out_.mail = r;
        if (r.positive()) return {};
        out_.transient = r.transient();
        return defer(rejected(i, r));
    }
    if (i < data_index_) {
        auto& rr = out_.recipients[i - 1];
        rr.answer = r;
        if (!r.positive() && first_rcpt_err_.empty()) first_rcpt_err_ = rejected(i, r).message;
        if (i + 1 == data_index_ && out_.accepted() == 0 && out_.mail.positive()) {
            out_.transient = false;
            for (const auto& x : out_.recipients) out_.transient |= x.answer.transient();
            return defer({mv::errc::server_no,
                          "SMTP: no recipient accepted (" + first_rcpt_err_.substr(5) + ")"});
        }
        return {};
    }
    if (i == data_index_) {
        out_.data = r;
        if (r.code == 354) {
            if (deferred_) {
                // RFC 2920 §3.1: a pipelining server accepted DATA for a transaction without a
                // valid sender or recipient; end it with an empty message rather than ours.
                empty_data_ = true;
                requests_.push_back({".\r\n", "end of empty data", false, {}});
                return {};
            }
            requests_.push_back({"", "end of data", true, message_});
            return {};
        }
        // After a rejected MAIL or all recipients rejected (pipelined), DATA's 503/554 only
        // repeats it: report the earlier error.
        if (deferred_) return std::move(deferred_);
        out_.transient = r.transient();
        return rejected(i, r);
    }
    // The reply after the message data.
    if (empty_data_) return std::move(deferred_);
    out_.final_reply = r;
    if (r.positive()) {
        out_.delivered = true;
        return {};
    }
    out_.transient = r.transient();
    return rejected(i, r);
}

// ---- RSET, NOOP, QUIT -----------------------------------------------------------------------

simple_op::simple_op(session& s, std::string command)
    : exchange_op(s, false), quit_(command == "QUIT") {
    requests_.push_back({command + "\r\n", command, false, {}});
}

mv::error simple_op::on_reply(std::size_t i, const reply& r, std::string&) {
    if (r.positive() || (quit_ && r.code == 421)) return {};
    return rejected(i, r);
}

}  // namespace mv::smtp
