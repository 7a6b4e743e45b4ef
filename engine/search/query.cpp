// The query parser (docs/search.md): a lexer that cuts the text into parentheses, operators and
// terms, then a recursive-descent parser with a depth cap. Every error names the problem and the
// 1-based character column; nothing here knows about SQL.
#include "search/query.hpp"

#include <cctype>
#include <ctime>
#include <limits>
#include <optional>

#include "mailvault/error.hpp"

namespace mv::search {

namespace {

struct field_spec {
    std::string_view name;
    field f;
};

constexpr field_spec k_fields[] = {
    {"from", field::from},
    {"to", field::to},
    {"cc", field::cc},
    {"bcc", field::bcc},
    {"subject", field::subject},
    {"body", field::body},
    {"attachment", field::attachment},
    {"message-id", field::message_id},
    {"msgid", field::message_id},
    {"account", field::account},
    {"folder", field::folder},
    {"flag", field::flag},
    {"is", field::flag},
    {"keyword", field::keyword},
    {"has", field::has_attachment},
    {"larger", field::larger},
    {"smaller", field::smaller},
    {"date", field::date},
    {"before", field::date},
    {"after", field::date},
    {"expunged", field::expunged},
    {"held", field::held},
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// 1-based column in characters (UTF-8 code points) of byte offset `at`.
std::size_t column_of(std::string_view text, std::size_t at) {
    std::size_t col = 1;
    for (std::size_t i = 0; i < at && i < text.size(); ++i)
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++col;
    return col;
}

// One line whatever the query held: control characters (a pasted newline) become '?', and a
// long echoed value is cut.
[[noreturn]] void fail(std::string_view text, std::size_t at, const std::string& what) {
    std::string w;
    for (char c : what) w += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (w.size() > 160) {
        std::size_t cut = 160;
        while (cut > 0 && (static_cast<unsigned char>(w[cut]) & 0xC0) == 0x80) --cut;
        w = w.substr(0, cut) + "...";
    }
    throw mv::failure(errc::usage,
                      "search: " + w + " at column " + std::to_string(column_of(text, at)));
}

// Decodes one UTF-8 code point at s[i] (advancing i); invalid bytes come back as U+FFFD.
std::uint32_t next_cp(std::string_view s, std::size_t& i) {
    auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
        ++i;
        return 0xFFFD;
    }
    std::uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < len; ++k) {
        auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) {
            ++i;
            return 0xFFFD;
        }
        cp = (cp << 6) | (c & 0x3F);
    }
    i += len;
    return cp;
}

// ---- lexer -----------------------------------------------------------------------------------

struct token {
    enum class kind { lparen, rparen, op_and, op_or, op_not, term, end } k = kind::end;
    std::size_t at = 0;  // byte offset
    bool negated = false;
    std::string name;   // field name as typed (lower case), empty for free text
    std::string value;  // unquoted
    bool quoted = false;
    std::size_t value_at = 0;
};

class lexer {
public:
    explicit lexer(std::string_view t) : t_(t) {}

    std::vector<token> run() {
        std::vector<token> out;
        while (true) {
            skip_space();
            if (i_ >= t_.size()) break;
            if (out.size() > 4 * max_terms)
                fail(t_, i_, "too many terms (at most " + std::to_string(max_terms) + ")");
            out.push_back(next());
        }
        token e;
        e.k = token::kind::end;
        e.at = t_.size();
        out.push_back(e);
        return out;
    }

private:
    std::string_view t_;
    std::size_t i_ = 0;

    static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
    static bool stop(char c) { return space(c) || c == '(' || c == ')' || c == '"'; }
    void skip_space() {
        while (i_ < t_.size() && space(t_[i_])) ++i_;
    }

    std::string quoted_text() {  // at '"'
        std::size_t open = i_++;
        std::size_t close = t_.find('"', i_);
        if (close == std::string_view::npos) fail(t_, open, "unclosed quote");
        std::string v(t_.substr(i_, close - i_));
        i_ = close + 1;
        return v;
    }

    token next() {
        token tk;
        tk.at = i_;
        char c = t_[i_];
        if (c == '(') {
            tk.k = token::kind::lparen;
            ++i_;
            return tk;
        }
        if (c == ')') {
            tk.k = token::kind::rparen;
            ++i_;
            return tk;
        }
        tk.k = token::kind::term;
        if (c == '-' && i_ + 1 < t_.size() &&
            (t_[i_ + 1] == '(' || t_[i_ + 1] == '"' ||
             !(space(t_[i_ + 1]) || std::ispunct(static_cast<unsigned char>(t_[i_ + 1]))))) {
            tk.negated = true;
            ++i_;
            if (t_[i_] == '(') {  // -( ... ): NOT applied to a group
                tk.k = token::kind::op_not;
                return tk;
            }
        }
        if (t_[i_] == '"') {
            tk.value_at = i_;
            tk.value = quoted_text();
            tk.quoted = true;
            return tk;
        }
        std::size_t start = i_;
        while (i_ < t_.size() && !stop(t_[i_])) ++i_;
        std::string_view word = t_.substr(start, i_ - start);
        if (!tk.negated) {
            if (word == "AND") tk.k = token::kind::op_and;
            if (word == "OR") tk.k = token::kind::op_or;
            if (word == "NOT") tk.k = token::kind::op_not;
            if (tk.k != token::kind::term) return tk;
        }
        // field:value, when field is a known name; otherwise the whole word is text.
        std::size_t colon = word.find(':');
        if (colon != std::string_view::npos && colon > 0) {
            std::string name = lower(word.substr(0, colon));
            for (const auto& f : k_fields)
                if (f.name == name) {
                    tk.name = name;
                    tk.value_at = start + colon + 1;
                    tk.value = std::string(word.substr(colon + 1));
                    if (tk.value.empty() && i_ < t_.size() && t_[i_] == '"') {
                        tk.value = quoted_text();
                        tk.quoted = true;
                    }
                    if (tk.value.empty() && !tk.quoted)
                        fail(t_, start,
                             name + ": needs a value (e.g. " + name + ":" +
                                 (name == "date"     ? "2024-03"
                                  : name == "larger" ? "10M"
                                                     : "word") +
                                 ")");
                    return tk;
                }
        }
        tk.value_at = start;
        tk.value = std::string(word);
        return tk;
    }
};

// ---- typed values ----------------------------------------------------------------------------

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {  // H. Hinnant
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// YYYY, YYYY-MM or YYYY-MM-DD (also with '/' or '.'): [lo, hi) in epoch seconds, UTC.
std::pair<std::int64_t, std::int64_t> parse_day_range(std::string_view text, std::size_t at,
                                                      std::string_view v, std::string_view name) {
    int parts[3] = {0, 0, 0};
    int n = 0;
    std::size_t i = 0;
    while (true) {
        std::size_t s = i;
        while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
        std::size_t len = i - s;
        if (len == 0 || len > (n == 0 ? 4u : 2u) || (n == 0 && len != 4))
            fail(text, at,
                 std::string(name) + ": expects a date like 2024, 2024-03 or 2024-03-15, got \"" +
                     std::string(v) + "\"");
        parts[n++] = std::stoi(std::string(v.substr(s, len)));
        if (i == v.size()) break;
        if (n == 3 || (v[i] != '-' && v[i] != '/'))
            fail(text, at,
                 std::string(name) + ": expects a date like 2024, 2024-03 or 2024-03-15, got \"" +
                     std::string(v) + "\"");
        ++i;
    }
    int y = parts[0], m = parts[1], d = parts[2];
    if (y < 1900 || y > 9999)
        fail(text, at, std::string(name) + ": year " + std::to_string(y) + " is out of range");
    if (n >= 2 && (m < 1 || m > 12))
        fail(text, at, std::string(name) + ": month " + std::to_string(m) + " is out of range");
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n == 3) {
        int dim = mdays[m - 1] + (m == 2 && leap(y) ? 1 : 0);
        if (d < 1 || d > dim)
            fail(text, at,
                 std::string(name) + ": day " + std::to_string(d) + " is out of range for " +
                     std::to_string(y) + "-" + (m < 10 ? "0" : "") + std::to_string(m));
    }
    std::int64_t lo, hi;
    if (n == 1) {
        lo = days_from_civil(y, 1, 1);
        hi = days_from_civil(y + 1, 1, 1);
    } else if (n == 2) {
        lo = days_from_civil(y, m, 1);
        hi = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
    } else {
        lo = days_from_civil(y, m, d);
        hi = lo + 1;
    }
    return {lo * 86400, hi * 86400};
}

std::int64_t parse_size(std::string_view text, std::size_t at, std::string_view v,
                        std::string_view name) {
    auto bad = [&] {
        fail(text, at,
             std::string(name) + ": expects a size like 500, 20K, 10M or 1G, got \"" +
                 std::string(v) + "\"");
    };
    std::size_t i = 0;
    double num = 0;
    bool digits = false;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
        num = num * 10 + (v[i++] - '0');
        digits = true;
    }
    if (i < v.size() && v[i] == '.') {
        ++i;
        double scale = 0.1;
        while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
            num += (v[i++] - '0') * scale;
            scale /= 10;
            digits = true;
        }
    }
    if (!digits) bad();
    std::string unit = lower(v.substr(i));
    double mult = 1;
    if (unit.empty() || unit == "b")
        mult = 1;
    else if (unit == "k" || unit == "kb" || unit == "kib")
        mult = 1024.0;
    else if (unit == "m" || unit == "mb" || unit == "mib")
        mult = 1024.0 * 1024;
    else if (unit == "g" || unit == "gb" || unit == "gib")
        mult = 1024.0 * 1024 * 1024;
    else
        bad();
    double bytes = num * mult;
    if (bytes > 1e15) bad();
    return static_cast<std::int64_t>(bytes);
}

// ---- parser ----------------------------------------------------------------------------------

class parser {
public:
    parser(std::string_view text, std::vector<token> toks) : t_(text), k_(std::move(toks)) {}

    node run() {
        if (peek().k == token::kind::end) {
            node n;
            n.k = node::kind::all;
            return n;
        }
        node n = or_expr(0);
        refuse_noise(n);
        const token& tk = peek();
        if (tk.k == token::kind::rparen) fail(t_, tk.at, "unmatched \")\"");
        if (tk.k != token::kind::end) fail(t_, tk.at, "unexpected text");
        return n;
    }

private:
    std::string_view t_;
    std::vector<token> k_;
    std::size_t p_ = 0;
    std::size_t terms_ = 0;

    const token& peek() const { return k_[p_]; }

    [[noreturn]] void noise_error(const std::string& v, std::size_t at) {
        fail(t_, at, "\"" + v + "\" has no letters or digits to search for");
    }
    void refuse_noise(const node& n) {
        if (n.k == node::kind::all && n.noise_at) noise_error(n.value, n.noise_at - 1);
    }
    const token& take() { return k_[p_++]; }

    static bool starts_unary(const token& t) {
        return t.k == token::kind::term || t.k == token::kind::lparen || t.k == token::kind::op_not;
    }

    node or_expr(std::size_t depth) {
        node first = and_expr(depth);
        if (peek().k != token::kind::op_or) return first;
        refuse_noise(first);
        node n;
        n.k = node::kind::or_;
        n.column = first.column;
        n.kids.push_back(std::move(first));
        while (peek().k == token::kind::op_or) {
            const token& op = take();
            if (!starts_unary(peek())) fail(t_, op.at, "OR has nothing after it");
            n.kids.push_back(and_expr(depth));
            refuse_noise(n.kids.back());
        }
        return n;
    }

    node and_expr(std::size_t depth) {
        const token& lead = peek();
        if (lead.k == token::kind::op_and || lead.k == token::kind::op_or)
            fail(t_, lead.at,
                 std::string(lead.k == token::kind::op_or ? "OR" : "AND") +
                     " has nothing before it");
        node first = unary(depth);
        node n;
        n.k = node::kind::and_;
        n.column = first.column;
        n.kids.push_back(std::move(first));
        while (true) {
            const token& tk = peek();
            if (tk.k == token::kind::op_and) {
                take();
                if (!starts_unary(peek())) fail(t_, tk.at, "AND has nothing after it");
                n.kids.push_back(unary(depth));
            } else if (starts_unary(tk)) {
                n.kids.push_back(unary(depth));
            } else {
                break;
            }
        }
        std::vector<node> kept;
        for (auto& k : n.kids)
            if (!(k.k == node::kind::all && k.noise_at)) kept.push_back(std::move(k));
        if (kept.empty()) return std::move(n.kids.front());  // all noise: the caller refuses it
        n.kids = std::move(kept);
        if (n.kids.size() == 1) return std::move(n.kids.front());
        return n;
    }

    node unary(std::size_t depth) {
        const token& tk = peek();
        if (depth >= max_depth)
            fail(t_, tk.at, "parentheses or NOT nested deeper than " + std::to_string(max_depth));
        if (tk.k == token::kind::op_not) {
            take();
            if (!starts_unary(peek())) fail(t_, tk.at, "NOT has nothing after it");
            node n;
            n.k = node::kind::not_;
            n.column = column_of(t_, tk.at);
            n.kids.push_back(unary(depth + 1));
            refuse_noise(n.kids.back());
            return n;
        }
        if (tk.k == token::kind::lparen) {
            take();
            if (peek().k == token::kind::rparen) fail(t_, tk.at, "empty parentheses");
            if (peek().k == token::kind::end) fail(t_, tk.at, "unclosed \"(\"");
            node n = or_expr(depth + 1);
            if (peek().k != token::kind::rparen) fail(t_, tk.at, "unclosed \"(\"");
            take();
            return n;
        }
        if (tk.k != token::kind::term) fail(t_, tk.at, "unexpected \")\"");
        take();
        if (++terms_ > max_terms)
            fail(t_, tk.at, "too many terms (at most " + std::to_string(max_terms) + ")");
        node n = make_term(tk);
        if (!tk.negated) return n;
        refuse_noise(n);
        node neg;
        neg.k = node::kind::not_;
        neg.column = column_of(t_, tk.at);
        neg.kids.push_back(std::move(n));
        return neg;
    }

    node make_term(const token& tk) {
        node n;
        n.k = node::kind::term;
        n.column = column_of(t_, tk.negated ? tk.at + 1 : tk.at);
        n.value = tk.value;
        n.phrase = tk.quoted;
        const std::string& name = tk.name;
        const std::string v = lower(tk.value);
        auto bad_choice = [&](std::string_view choices) {
            fail(t_, tk.value_at,
                 name + ": expects " + std::string(choices) + ", got \"" + tk.value + "\"");
        };
        if (name.empty()) {
            n.f = field::text;
        } else {
            for (const auto& f : k_fields)
                if (f.name == name) n.f = f.f;
        }
        switch (n.f) {
            case field::flag: {
                static const std::pair<std::string_view, std::string_view> flags[] = {
                    {"seen", "\\Seen"},        {"read", "\\Seen"},       {"unread", "!\\Seen"},
                    {"flagged", "\\Flagged"},  {"starred", "\\Flagged"}, {"answered", "\\Answered"},
                    {"replied", "\\Answered"}, {"draft", "\\Draft"},     {"deleted", "\\Deleted"}};
                std::string key = v;
                if (!key.empty() && key[0] == '\\') key.erase(0, 1);
                bool found = false;
                for (const auto& [k, canon] : flags)
                    if (k == key) {
                        found = true;
                        if (canon[0] == '!') {  // is:unread == NOT flag:seen
                            node inner = n;
                            inner.value = std::string(canon.substr(1));
                            node neg;
                            neg.k = node::kind::not_;
                            neg.column = n.column;
                            neg.kids.push_back(std::move(inner));
                            return neg;
                        }
                        n.value = std::string(canon);
                    }
                if (!found) bad_choice("seen, flagged, answered, draft or deleted");
                break;
            }
            case field::has_attachment:
                if (v != "attachment" && v != "attachments") bad_choice("attachment");
                break;
            case field::expunged:
            case field::held:
                if (v == "yes" || v == "true" || v == "1")
                    n.lo = 1;
                else if (v == "no" || v == "false" || v == "0")
                    n.lo = 0;
                else
                    bad_choice("yes or no");
                break;
            case field::larger:
            case field::smaller: n.lo = parse_size(t_, tk.value_at, tk.value, name); break;
            case field::date: {
                std::string_view val = tk.value;
                if (name == "before") {
                    n.lo = std::numeric_limits<std::int64_t>::min();
                    n.hi = parse_day_range(t_, tk.value_at, val, name).first;
                } else if (name == "after") {
                    n.lo = parse_day_range(t_, tk.value_at, val, name).second;
                    n.hi = std::numeric_limits<std::int64_t>::max();
                } else {
                    std::size_t dots = val.find("..");
                    if (dots == std::string_view::npos) {
                        auto [lo, hi] = parse_day_range(t_, tk.value_at, val, name);
                        n.lo = lo;
                        n.hi = hi;
                    } else {
                        std::string_view a = val.substr(0, dots), b = val.substr(dots + 2);
                        if (a.empty() && b.empty())
                            fail(t_, tk.value_at, "date: a range needs at least one end");
                        n.lo = a.empty() ? std::numeric_limits<std::int64_t>::min()
                                         : parse_day_range(t_, tk.value_at, a, name).first;
                        n.hi = b.empty()
                                   ? std::numeric_limits<std::int64_t>::max()
                                   : parse_day_range(t_, tk.value_at + dots + 2, b, name).second;
                        if (n.lo >= n.hi)
                            fail(t_, tk.value_at, "date: the range ends before it starts");
                    }
                }
                break;
            }
            case field::message_id: {
                std::string id = tk.value;
                if (id.size() >= 2 && id.front() == '<' && id.back() == '>')
                    id = id.substr(1, id.size() - 2);
                n.value = id;
                break;
            }
            case field::account:
            case field::folder:
            case field::keyword: break;
            default: classify(n, tk); break;
        }
        return n;
    }

    // Text terms: phrase when the word has separators, exact when it has diacritics, substring
    // when it has characters of an unspaced script (or emoji), prefix when it ends in '*'.
    void classify(node& n, const token& tk) {
        std::string& v = n.value;
        if (!n.phrase && v.size() > 1 && v.back() == '*') {
            v.pop_back();
            n.prefix = true;
        }
        bool any_word_char = false;
        bool separators = false;
        std::size_t i = 0;
        while (i < v.size()) {
            std::uint32_t cp = next_cp(v, i);
            switch (char_class_of(cp)) {
                case char_class::separator: separators = true; break;
                case char_class::unspaced:
                    n.substring = true;
                    any_word_char = true;
                    break;
                case char_class::diacritic:
                    n.exact = true;
                    any_word_char = true;
                    break;
                case char_class::word: any_word_char = true; break;
            }
        }
        if (!any_word_char) {
            // Punctuation alone ("-", "&&", "..."): dropped from an AND of other terms (as
            // FTS would drop it from a phrase); an error anywhere else (see noise()).
            if (n.f != field::text || n.phrase) noise_error(tk.value, tk.value_at);
            n.k = node::kind::all;
            n.noise_at = tk.value_at + 1;
            return;
        }
        if (separators && !n.phrase) n.phrase = true;
        if (n.substring) n.prefix = false;
    }
};

}  // namespace

char_class char_class_of(std::uint32_t cp) noexcept {
    if (cp < 0x80) {
        return std::isalnum(static_cast<int>(cp)) ? char_class::word : char_class::separator;
    }
    // Latin-1 letters with diacritics (not × ÷ ß æ ø þ ð, which fold to nothing else).
    if ((cp >= 0xC0 && cp <= 0xFF && cp != 0xD7 && cp != 0xF7 && cp != 0xDF && cp != 0xC6 &&
         cp != 0xE6 && cp != 0xD8 && cp != 0xF8 && cp != 0xDE && cp != 0xFE && cp != 0xD0 &&
         cp != 0xF0) ||
        (cp >= 0x100 && cp <= 0x24F) ||    // Latin Extended-A/B
        (cp >= 0x300 && cp <= 0x36F) ||    // combining marks
        (cp >= 0x1E00 && cp <= 0x1EFF) ||  // Latin Extended Additional (Vietnamese)
        (cp >= 0x386 && cp <= 0x3CE && cp != 0x387 && !(cp >= 0x391 && cp <= 0x3A9) &&
         !(cp >= 0x3B1 && cp <= 0x3C9)))  // Greek with tonos
        return char_class::diacritic;
    if ((cp >= 0x2E80 && cp <= 0x2FDF) ||    // CJK radicals
        (cp >= 0x3040 && cp <= 0x30FF) ||    // Hiragana, Katakana
        (cp >= 0x3100 && cp <= 0x31FF) ||    // Bopomofo, Hangul compat, Katakana ext
        (cp >= 0x3400 && cp <= 0x4DBF) ||    // CJK ext A
        (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK unified
        (cp >= 0xA960 && cp <= 0xA97F) ||    // Hangul Jamo ext A
        (cp >= 0xAC00 && cp <= 0xD7FF) ||    // Hangul syllables, Jamo ext B
        (cp >= 0x1100 && cp <= 0x11FF) ||    // Hangul Jamo
        (cp >= 0xF900 && cp <= 0xFAFF) ||    // CJK compatibility
        (cp >= 0xFF66 && cp <= 0xFFDC) ||    // halfwidth Katakana / Hangul
        (cp >= 0x0E00 && cp <= 0x0EFF) ||    // Thai, Lao
        (cp >= 0x1000 && cp <= 0x109F) ||    // Myanmar
        (cp >= 0x1780 && cp <= 0x17FF) ||    // Khmer
        (cp >= 0x0F00 && cp <= 0x0FFF) ||    // Tibetan
        (cp >= 0x20000 && cp <= 0x3FFFF) ||  // CJK ext B..
        (cp >= 0x1F000 && cp <= 0x1FAFF) ||  // emoji and pictographs
        (cp >= 0x2600 && cp <= 0x27BF))      // misc symbols, dingbats
        return char_class::unspaced;
    if ((cp >= 0x2000 && cp <= 0x206F) ||  // general punctuation
        (cp >= 0x3000 && cp <= 0x303F) ||  // CJK symbols and punctuation
        (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
        (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
        (cp >= 0xA0 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || cp == 0xFFFD || cp == 0xFEFF)
        return char_class::separator;
    return char_class::word;
}

unsigned index_needs(std::string_view text) noexcept {
    unsigned out = 0;
    std::size_t i = 0;
    while (i < text.size() && out != (needs_exact | needs_trigram)) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {  // fast path: ASCII never needs them
            ++i;
            continue;
        }
        switch (char_class_of(next_cp(text, i))) {
            case char_class::diacritic: out |= needs_exact; break;
            case char_class::unspaced: out |= needs_trigram; break;
            default: break;
        }
    }
    return out;
}

const char* field_name(field f) noexcept {
    switch (f) {
        case field::text: return "text";
        case field::from: return "from";
        case field::to: return "to";
        case field::cc: return "cc";
        case field::bcc: return "bcc";
        case field::subject: return "subject";
        case field::body: return "body";
        case field::attachment: return "attachment";
        case field::message_id: return "message-id";
        case field::account: return "account";
        case field::folder: return "folder";
        case field::flag: return "flag";
        case field::keyword: return "keyword";
        case field::has_attachment: return "has";
        case field::larger: return "larger";
        case field::smaller: return "smaller";
        case field::date: return "date";
        case field::expunged: return "expunged";
        case field::held: return "held";
    }
    return "?";
}

node parse(std::string_view text) {
    if (text.size() > max_query_bytes)
        throw mv::failure(errc::usage, "search: the query is longer than " +
                                           std::to_string(max_query_bytes) + " bytes");
    lexer lx(text);
    parser p(text, lx.run());
    return p.run();
}

std::string to_string(const node& n) {
    switch (n.k) {
        case node::kind::all: return "ALL";
        case node::kind::term: {
            std::string s = n.f == field::text ? "" : std::string(field_name(n.f)) + ":";
            switch (n.f) {
                case field::larger:
                case field::smaller:
                case field::expunged:
                case field::held: return s + std::to_string(n.lo);
                case field::date: return s + std::to_string(n.lo) + ".." + std::to_string(n.hi);
                default: break;
            }
            s += "\"" + n.value + "\"";
            if (n.phrase) s += "~phrase";
            if (n.exact) s += "~exact";
            if (n.substring) s += "~substring";
            if (n.prefix) s += "*";
            return s;
        }
        case node::kind::not_: return "(NOT " + to_string(n.kids.front()) + ")";
        case node::kind::and_:
        case node::kind::or_: {
            std::string s = n.k == node::kind::and_ ? "(AND" : "(OR";
            for (const auto& k : n.kids) s += " " + to_string(k);
            return s + ")";
        }
    }
    return "?";
}

}  // namespace mv::search
