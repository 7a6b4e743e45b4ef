// The POP3 side of the protocol trace (mailvault/trace.hpp): lines, redacted.
#include <deque>

#include "core/trace_lines.hpp"
#include "mailvault/trace.hpp"

namespace mv::trace {
namespace {

using detail::line_buffer;
using detail::word;

class pop3_trace final : public recorder {
public:
    explicit pop3_trace(line_out out) : out_(std::move(out)) {}

    void bytes(direction d, std::string_view data) override {
        line_buffer& l = d == direction::sent ? client_ : server_;
        while (!data.empty()) {
            data.remove_prefix(l.feed(data));
            if (!l.complete()) break;
            if (d == direction::sent)
                client_line();
            else
                server_line();
            l.clear();
        }
    }

    void event(std::string_view what) override { out_("-- " + std::string(what)); }

private:
    enum class body { none, shown, hidden };

    void client_line() {
        const std::string_view b = client_.begin();
        if (sasl_) {
            out_(client_.length() == 1 && b[0] == '*'
                     ? std::string("C: *")
                     : "C: <SASL response, " + std::to_string(client_.length()) +
                           " bytes, redacted>");
            return;
        }
        const std::string cmd = word(b, 0);
        const bool has_arg = !word(b, 1).empty();
        body expect = body::none;
        if (cmd == "RETR" || cmd == "TOP")
            expect = body::hidden;
        else if (cmd == "CAPA" || ((cmd == "LIST" || cmd == "UIDL") && !has_arg))
            expect = body::shown;
        pending_.push_back(expect);
        if (cmd == "PASS") {
            out_("C: PASS <redacted>");
        } else if (cmd == "APOP") {
            out_("C: APOP " + std::string(b.substr(5, std::min(b.find(' ', 5), b.size()) - 5)) +
                 " <redacted>");
        } else if (cmd == "AUTH") {
            sasl_ = has_arg;
            out_("C: AUTH " + word(b, 1) +
                 (word(b, 2).empty() ? "" : " <initial response redacted>"));
        } else {
            out_("C: " + client_.shown());
        }
    }

    void server_line() {
        if (in_body_ != body::none) {
            if (server_.length() == 1 && server_.begin()[0] == '.') {
                if (in_body_ == body::hidden)
                    out_("S:   [message of " + std::to_string(body_bytes_) + " bytes in " +
                         std::to_string(body_lines_) + " lines not shown]");
                out_("S: .");
                in_body_ = body::none;
                return;
            }
            if (in_body_ == body::shown) {
                out_("S: " + server_.shown());
            } else {
                body_bytes_ += server_.length() + 2;
                ++body_lines_;
            }
            return;
        }
        const std::string_view b = server_.begin();
        out_("S: " + server_.shown());
        if (!greeted_) {
            greeted_ = true;
            return;
        }
        const bool ok = b.substr(0, 3) == "+OK";
        if (sasl_) {
            if (!ok && b.substr(0, 4) != "-ERR") return;  // "+ challenge": still in SASL
            sasl_ = false;
        }
        if (pending_.empty()) return;  // unasked-for: the client will say so
        body expect = pending_.front();
        pending_.pop_front();
        if (ok && expect != body::none) {
            in_body_ = expect;
            body_bytes_ = 0;
            body_lines_ = 0;
        }
    }

    line_out out_;
    line_buffer client_, server_;
    std::deque<body> pending_;  // what each command sent and not yet answered expects
    body in_body_ = body::none;
    std::uint64_t body_bytes_ = 0, body_lines_ = 0;
    bool greeted_ = false;
    bool sasl_ = false;
};

}  // namespace

std::unique_ptr<recorder> pop3_redactor(line_out out) {
    return std::make_unique<pop3_trace>(std::move(out));
}

}  // namespace mv::trace
