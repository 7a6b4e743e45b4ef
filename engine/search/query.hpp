// The query language of `mailvault search`, `export --query` and the web viewer (docs/search.md):
// text -> a small AST. The parser is the only place that reads what a user typed; everything
// downstream (archive/searcher.cpp) works on the AST, so no user text is ever spliced into SQL.
//
// Grammar (implicit AND binds tighter than OR; NOT / - binds tightest):
//   query   := or_expr
//   or_expr := and_expr ("OR" and_expr)*
//   and_expr:= unary (["AND"] unary)*
//   unary   := ("NOT" | "-") unary | "(" or_expr ")" | term
//   term    := [field ":"] (word | "phrase")
// An unknown field name ("re:", "x86:", "http:") is plain text, as is anything that is not a
// known construct. Errors (unbalanced parenthesis or quote, a bad value for a typed field,
// nesting deeper than max_depth) throw mv::failure{errc::usage} with one line naming the
// problem and the 1-based column (in characters) where it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mv::search {

enum class field {
    text,  // free word / phrase: subject, addresses, body, attachment names
    from,
    to,
    cc,
    bcc,
    subject,
    body,
    attachment,  // attachment file name
    message_id,
    account,  // exact name or * pattern
    folder,   // decoded name, exact or * pattern
    flag,     // value: "\\Seen", "\\Flagged", ... (canonical IMAP form)
    keyword,  // IMAP keyword ("$Label1", "work")
    has_attachment,
    larger,    // size > lo bytes
    smaller,   // size < lo bytes
    date,      // lo <= date < hi (epoch seconds, UTC)
    expunged,  // yes: lo = 1, no: lo = 0
    held,      // yes: lo = 1, no: lo = 0
};

const char* field_name(field f) noexcept;

// How a character of a text term is searched (docs/search.md).
enum class char_class {
    separator,  // splits words (ASCII punctuation, spaces, CJK punctuation)
    word,       // letters and digits of spaced scripts without diacritics
    diacritic,  // a letter with a diacritic, or a combining mark: the word is matched exactly
    unspaced,   // Han, Kana, Hangul, Thai, ... and emoji: the word is matched as a substring
};
char_class char_class_of(std::uint32_t code_point) noexcept;

// Which index-only tables a text needs (schema 0011, docs/search.md): bit 1 (needs_exact) when
// it has a diacritic character, bit 2 (needs_trigram) when it has an unspaced-script character
// or emoji. A query word of that class can only match such a text, so other texts stay out of
// those tables.
inline constexpr unsigned needs_exact = 1, needs_trigram = 2;
unsigned index_needs(std::string_view text) noexcept;

struct node {
    enum class kind { term, all, and_, or_, not_ };
    kind k = kind::term;
    // term:
    field f = field::text;
    std::string value;       // the text as typed (unquoted), or a pattern for account/folder
    bool phrase = false;     // "quoted" (or a word with inner separators, made a phrase)
    bool exact = false;      // has diacritics: matched without folding them ("Hà" is not "ha")
    bool substring = false;  // has unspaced-script characters or emoji: substring match
    bool prefix = false;     // word* : prefix match (text fields, not with substring)
    std::int64_t lo = 0, hi = 0;  // numeric / date bounds (see field)
    std::size_t column = 0;       // 1-based column of the term in the query (characters)
    std::size_t noise_at = 0;     // parser-internal: 1 + byte offset of a punctuation-only word
    // and_/or_: two or more kids; not_: one kid.
    std::vector<node> kids;
};

inline constexpr std::size_t max_depth = 64;  // nesting of ( and NOT
inline constexpr std::size_t max_query_bytes = 16384;
inline constexpr std::size_t max_terms = 256;

// Parses `text`. An empty (or blank) query is kind::all. Throws mv::failure{errc::usage}.
node parse(std::string_view text);

// A readable, stable rendering of the AST for tests and --explain: (AND from:"joe" (NOT x)).
std::string to_string(const node& n);

}  // namespace mv::search
