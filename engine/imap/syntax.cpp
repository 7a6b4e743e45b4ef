#include "imap/syntax.hpp"

#include <algorithm>

namespace mv::imap {

namespace {

constexpr int max_depth = 64;

char upper_char(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

class lexer {
public:
    lexer(const framed_response& fr, std::size_t pos, std::size_t end)
        : fr_(fr), t_(fr.text), p_(pos), end_(end) {}

    mv::error values(std::vector<value>& out) {
        while (true) {
            skip_spaces();
            if (p_ >= end_) return {};
            value v;
            if (auto e = one(v, 0)) return e;
            out.push_back(std::move(v));
        }
    }

private:
    void skip_spaces() {
        while (p_ < end_ && t_[p_] == ' ') ++p_;
    }

    mv::error one(value& v, int depth) {
        if (depth > max_depth) return syntax_error(fr_, p_, "lists nested too deeply");
        v.pos = p_;
        char c = t_[p_];
        if (c == '(') {
            v.k = value::kind::list;
            ++p_;
            while (true) {
                skip_spaces();
                if (p_ >= end_) return syntax_error(fr_, v.pos, "unterminated list");
                if (t_[p_] == ')') {
                    ++p_;
                    return {};
                }
                value item;
                if (auto e = one(item, depth + 1)) return e;
                v.items.push_back(std::move(item));
            }
        }
        if (c == '"') return quoted(v);
        if (c == '{' || (c == '~' && p_ + 1 < end_ && t_[p_ + 1] == '{')) return literal(v);
        if (c == ')') return syntax_error(fr_, p_, "unexpected ')'");
        return atom(v);
    }

    mv::error quoted(value& v) {
        v.k = value::kind::string;
        std::size_t start = ++p_;
        bool escaped = false;
        while (p_ < end_ && t_[p_] != '"') {
            if (t_[p_] == '\\') {
                escaped = true;
                ++p_;
            }
            ++p_;
        }
        if (p_ >= end_) return syntax_error(fr_, v.pos, "unterminated quoted string");
        v.text = std::string_view(t_).substr(start, p_ - start);
        ++p_;
        if (escaped) {
            v.owned.reserve(v.text.size());
            for (std::size_t i = 0; i < v.text.size(); ++i) {
                if (v.text[i] == '\\' && i + 1 < v.text.size()) ++i;
                v.owned += v.text[i];
            }
        }
        return {};
    }

    mv::error literal(value& v) {
        v.k = value::kind::literal;
        if (t_[p_] == '~') ++p_;
        ++p_;  // '{'
        std::size_t d = p_;
        std::uint64_t n = 0;
        while (p_ < end_ && t_[p_] >= '0' && t_[p_] <= '9' && p_ - d < 19)
            n = n * 10 + static_cast<std::uint64_t>(t_[p_++] - '0');
        if (p_ < end_ && t_[p_] == '+') ++p_;
        if (p_ == d || p_ >= end_ || t_[p_] != '}') return syntax_error(fr_, v.pos, "bad literal");
        ++p_;
        auto& lits = fr_.literals;
        auto it = std::lower_bound(
            lits.begin(), lits.end(), p_,
            [](const literal_info& l, std::size_t pos) { return l.text_pos < pos; });
        if (it == lits.end() || it->text_pos != p_ || it->size != n)
            return syntax_error(fr_, v.pos, "literal marker not at a line end");
        v.literal_size = n;
        v.streamed = it->streamed;
        if (!it->streamed) {
            if (p_ + n > end_) return syntax_error(fr_, v.pos, "literal runs past the end");
            v.text = std::string_view(t_).substr(p_, static_cast<std::size_t>(n));
            p_ += static_cast<std::size_t>(n);
        }
        return {};
    }

    mv::error atom(value& v) {
        v.k = value::kind::atom;
        std::size_t start = p_;
        int brackets = 0;
        while (p_ < end_) {
            char c = t_[p_];
            if (brackets > 0) {
                if (c == '[') ++brackets;
                if (c == ']') --brackets;
                if (c == '"') {  // quoted string inside a section spec
                    ++p_;
                    while (p_ < end_ && t_[p_] != '"') p_ += (t_[p_] == '\\') ? 2 : 1;
                    if (p_ >= end_) return syntax_error(fr_, start, "unterminated quoted string");
                }
                ++p_;
                continue;
            }
            if (c == ' ' || c == '(' || c == ')' || c == '"' || c == ']' ||
                static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                break;
            if (c == '{' && p_ == start) break;
            if (c == '[') ++brackets;
            ++p_;
        }
        if (brackets > 0) return syntax_error(fr_, start, "unterminated '['");
        if (p_ == start) return syntax_error(fr_, start, "unexpected byte");
        v.text = std::string_view(t_).substr(start, p_ - start);
        if (iequals(v.text, "NIL")) v.k = value::kind::nil;
        return {};
    }

    const framed_response& fr_;
    const std::string& t_;
    std::size_t p_;
    std::size_t end_;
};

bool is_status_word(std::string_view w, resp_status& s) {
    if (iequals(w, "OK"))
        s = resp_status::ok;
    else if (iequals(w, "NO"))
        s = resp_status::no;
    else if (iequals(w, "BAD"))
        s = resp_status::bad;
    else if (iequals(w, "BYE"))
        s = resp_status::bye;
    else if (iequals(w, "PREAUTH"))
        s = resp_status::preauth;
    else
        return false;
    return true;
}

// Parses "[CODE args] text" starting at pos.
mv::error parse_status_tail(const framed_response& fr, std::size_t pos, response& out) {
    std::string_view t = fr.text;
    if (pos < t.size() && t[pos] == '[') {
        std::size_t start = pos + 1, p = start;
        while (p < t.size() && t[p] != ' ' && t[p] != ']') ++p;
        out.code = t.substr(start, p - start);
        if (out.code.empty()) return syntax_error(fr, pos, "empty response code");
        std::size_t args = p < t.size() && t[p] == ' ' ? p + 1 : p;
        int depth = 0;
        bool quoted = false;
        for (p = args; p < t.size(); ++p) {
            char c = t[p];
            if (quoted) {
                if (c == '\\')
                    ++p;
                else if (c == '"')
                    quoted = false;
            } else if (c == '"') {
                quoted = true;
            } else if (c == '[') {
                ++depth;
            } else if (c == ']') {
                if (depth == 0) break;
                --depth;
            }
        }
        if (p >= t.size()) return syntax_error(fr, pos, "unterminated response code");
        out.code_raw = t.substr(args, p - args);
        // Arguments of unknown codes may not follow the value grammar: never fatal.
        if (parse_values(fr, args, p, out.code_args)) out.code_args.clear();
        pos = p + 1;
        if (pos < t.size() && t[pos] == ' ') ++pos;
    }
    out.text = pos < t.size() ? t.substr(pos) : std::string_view{};
    return {};
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (upper_char(a[i]) != upper_char(b[i])) return false;
    return true;
}

std::string to_upper(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = upper_char(c);
    return r;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

const char* status_name(resp_status s) {
    switch (s) {
        case resp_status::none: return "";
        case resp_status::ok: return "OK";
        case resp_status::no: return "NO";
        case resp_status::bad: return "BAD";
        case resp_status::bye: return "BYE";
        case resp_status::preauth: return "PREAUTH";
    }
    return "";
}

mv::error syntax_error(const framed_response& fr, std::size_t pos, std::string_view what) {
    std::string_view near = pos < fr.text.size() ? std::string_view(fr.text).substr(pos) : "";
    return mv::error(mv::errc::protocol, "IMAP: " + std::string(what) + " at offset " +
                                             std::to_string(fr.offset_of(pos)) + " near '" +
                                             escape_bytes(near, 40) + "'");
}

mv::error parse_values(const framed_response& fr, std::size_t pos, std::size_t end,
                       std::vector<value>& out) {
    lexer lx(fr, pos, std::min(end, fr.text.size()));
    return lx.values(out);
}

mv::error parse_response(const framed_response& fr, response& out) {
    out = response{};
    out.framed = &fr;
    std::string_view t = fr.text;
    if (t.empty()) return syntax_error(fr, 0, "empty response line");
    if (t[0] == '+') {
        out.type = resp_type::continuation;
        out.text = t.size() > 2 ? t.substr(2) : std::string_view{};
        return {};
    }
    std::size_t sp = t.find(' ');
    if (sp == 0 || sp == std::string_view::npos)
        return syntax_error(fr, 0, "response without tag and content");
    std::string_view tag = t.substr(0, sp);
    out.type = tag == "*" ? resp_type::untagged : resp_type::tagged;
    if (out.type == resp_type::tagged) out.tag = tag;
    std::size_t p = sp + 1;
    auto word_at = [&](std::size_t at) {
        std::size_t e = at;
        while (e < t.size() && t[e] != ' ' && t[e] != '(' && t[e] != '[') ++e;
        return t.substr(at, e - at);
    };
    std::string_view w = word_at(p);
    if (w.empty()) return syntax_error(fr, p, "missing response name");
    resp_status st;
    if (is_status_word(w, st)) {
        if (out.type == resp_type::tagged && st != resp_status::ok && st != resp_status::no &&
            st != resp_status::bad)
            return syntax_error(fr, p, "tagged response must be OK, NO or BAD");
        out.status = st;
        p += w.size();
        if (p < t.size() && t[p] == ' ') ++p;
        return parse_status_tail(fr, p, out);
    }
    if (out.type == resp_type::tagged)
        return syntax_error(fr, p, "tagged response must be OK, NO or BAD");
    if (auto n = parse_number(w); n && p + w.size() < t.size() && t[p + w.size()] == ' ') {
        out.number = n;
        p += w.size() + 1;
        w = word_at(p);
        if (w.empty()) return syntax_error(fr, p, "missing response name after number");
    }
    out.name = w;
    p += w.size();
    auto e = parse_values(fr, p, t.size(), out.args);
    if (e) {
        // Structure matters for the responses we interpret; others are skipped, never fatal.
        static const char* const known[] = {"FETCH",   "LIST",    "LSUB",     "STATUS",
                                            "SEARCH",  "ESEARCH", "FLAGS",    "CAPABILITY",
                                            "ENABLED", "ID",      "VANISHED", "XLIST"};
        for (auto k : known)
            if (iequals(w, k)) return e;
        out.args.clear();
    }
    return {};
}

}  // namespace mv::imap
