// The IMAP side of the protocol trace (mailvault/trace.hpp): lines and literals, redacted.
#include <cstdint>
#include <optional>

#include "core/trace_lines.hpp"
#include "mailvault/trace.hpp"

namespace mv::trace {
namespace {

using detail::line_buffer;
using detail::word;

// Literals up to this size that are printable are shown (mailbox names, search strings);
// larger or binary ones, and every literal of a FETCH response or an APPEND, are not.
constexpr std::uint64_t shown_literal = 200;

// `{123}`, `{123+}`, `{123-}`, `~{123}` at the end of a line: the literal's size.
std::optional<std::uint64_t> literal_marker(std::string_view end) {
    if (end.empty() || end.back() != '}') return std::nullopt;
    auto open = end.rfind('{');
    if (open == std::string_view::npos) return std::nullopt;
    std::string_view digits = end.substr(open + 1, end.size() - open - 2);
    if (!digits.empty() && (digits.back() == '+' || digits.back() == '-')) digits.remove_suffix(1);
    if (digits.empty() || digits.size() > 19) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

class imap_trace final : public recorder {
public:
    explicit imap_trace(line_out out) : out_(std::move(out)) {}

    void bytes(direction d, std::string_view data) override {
        side& s = d == direction::sent ? client_ : server_;
        while (!data.empty()) {
            if (s.literal_left > 0) {
                auto take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(s.literal_left, data.size()));
                if (!s.literal_hidden) s.literal_text.append(data.substr(0, take));
                s.literal_left -= take;
                data.remove_prefix(take);
                if (s.literal_left == 0) literal_done(s);
                continue;
            }
            data.remove_prefix(s.line.feed(data));
            if (!s.line.complete()) break;
            if (d == direction::sent)
                client_line(s);
            else
                server_line(s);
            s.line.clear();
        }
    }

    void event(std::string_view what) override { out_("-- " + std::string(what)); }

private:
    struct side {
        explicit side(const char* p) : prefix(p) {}
        const char* prefix;
        line_buffer line;
        bool continuing = false;     // the next line continues a command/response after a literal
        bool hide_literals = false;  // FETCH response or APPEND: literals are message data
        bool redact_rest = false;    // LOGIN: everything after the command name
        std::uint64_t literal_left = 0, literal_size = 0;
        bool literal_hidden = false;
        std::string literal_text;
    };

    void client_line(side& s) {
        std::string text;
        if (!s.continuing) {
            const std::string_view b = s.line.begin();
            if (sasl_) {
                // A SASL response (base64 credentials) or "*" to cancel.
                text = s.line.length() == 1 && b[0] == '*'
                           ? "*"
                           : "<SASL response, " + std::to_string(s.line.length()) +
                                 " bytes, redacted>";
                out_("C: " + text);
                return;
            }
            const std::string tag(b.substr(0, std::min(b.find(' '), b.size())));
            const std::string cmd = word(b, 1);
            s.redact_rest = false;
            s.hide_literals = cmd == "APPEND";
            if (cmd == "LOGIN") {
                s.redact_rest = s.hide_literals = true;
                text = tag + " LOGIN <redacted>";
            } else if (cmd == "AUTHENTICATE") {
                sasl_ = true;
                auth_tag_ = tag;
                text = tag + " AUTHENTICATE " + word(b, 2) +
                       (word(b, 3).empty() ? "" : " <initial response redacted>");
            } else {
                text = s.line.shown();
            }
        } else {
            text = s.redact_rest ? "<redacted>" : s.line.shown();
        }
        out_("C: " + text);
        start_literal(s);
    }

    void server_line(side& s) {
        if (!s.continuing) {
            const std::string_view b = s.line.begin();
            s.hide_literals = word(b, 0) == "*" && word(b, 2) == "FETCH";
            const std::string tag(b.substr(0, std::min(b.find(' '), b.size())));
            if (sasl_ && tag == auth_tag_) sasl_ = false;
        }
        out_("S: " + s.line.shown());
        start_literal(s);
    }

    void start_literal(side& s) {
        auto n = literal_marker(s.line.end());
        s.continuing = n.has_value();
        if (!n) return;
        s.literal_size = *n;
        s.literal_left = *n;
        s.literal_hidden = s.hide_literals || *n > shown_literal;
        s.literal_text.clear();
        if (*n == 0) literal_done(s);
    }

    void literal_done(side& s) {
        bool printable = true;
        for (char c : s.literal_text)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) printable = false;
        if (s.literal_hidden || !printable)
            out_(std::string(s.prefix) + ":   [literal of " + std::to_string(s.literal_size) +
                 " bytes not shown]");
        else
            out_(std::string(s.prefix) + ":   [literal] " + s.literal_text);
        s.literal_text.clear();
    }

    line_out out_;
    side client_{"C"};
    side server_{"S"};
    bool sasl_ = false;
    std::string auth_tag_;
};

}  // namespace

std::unique_ptr<recorder> imap_redactor(line_out out) {
    return std::make_unique<imap_trace>(std::move(out));
}

}  // namespace mv::trace
