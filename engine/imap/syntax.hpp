// Generic IMAP response syntax: splits a framed response into its kind, tag, status, response
// code and a tree of values (atoms, numbers, strings, literals, NIL, parenthesized lists).
// Pure functions over the framer's output; typed parsers (parsers.hpp) work on the result.
//
// Values are views into the framed response text: the framed_response must outlive the parsed
// response. Quoted strings with escapes are unescaped into value::owned.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/framer.hpp"
#include "mailvault/error.hpp"

namespace mv::imap {

bool iequals(std::string_view a, std::string_view b);
std::string to_upper(std::string_view s);
std::optional<std::uint64_t> parse_number(std::string_view s);  // digits only, no overflow

struct value {
    enum class kind { atom, string, literal, nil, list };
    kind k = kind::atom;
    std::string_view text;  // atom text, string contents, literal bytes (empty when streamed)
    std::string owned;      // unescaped quoted string (when it had escapes)
    std::vector<value> items;
    std::uint64_t literal_size = 0;
    bool streamed = false;
    std::size_t pos = 0;  // position in the response text, for error offsets

    bool is_atom() const { return k == kind::atom; }
    bool is_list() const { return k == kind::list; }
    bool is_nil() const { return k == kind::nil; }
    bool is_string() const { return k == kind::string || k == kind::literal; }
    // Atom, string or literal contents (atoms included: servers mix them, e.g. LIST names).
    std::string_view str() const { return owned.empty() ? text : std::string_view(owned); }
    bool is(std::string_view atom_upper) const {
        return k == kind::atom && iequals(text, atom_upper);
    }
    std::optional<std::uint64_t> number() const {
        return k == kind::atom ? parse_number(text) : std::nullopt;
    }
};

enum class resp_type { continuation, tagged, untagged };
enum class resp_status { none, ok, no, bad, bye, preauth };

const char* status_name(resp_status s);

struct response {
    resp_type type = resp_type::untagged;
    std::string_view tag;  // tagged only
    resp_status status = resp_status::none;
    // Status responses: [code args] text
    std::string_view code;      // e.g. "UIDVALIDITY" (as sent; compare with iequals)
    std::string_view code_raw;  // everything between the code name and ']'
    std::vector<value> code_args;
    std::string_view text;  // human-readable text (continuation: the rest after "+ ")
    // Data responses: "* [number] NAME args..."
    std::optional<std::uint64_t> number;
    std::string_view name;
    std::vector<value> args;

    const framed_response* framed = nullptr;
    bool is_data(std::string_view n) const {
        return type == resp_type::untagged && status == resp_status::none && iequals(name, n);
    }
    bool has_code(std::string_view c) const { return !code.empty() && iequals(code, c); }
};

// A protocol error naming the offending bytes and their absolute offset in the stream.
mv::error syntax_error(const framed_response& fr, std::size_t pos, std::string_view what);

// Parses a framed response. Never fails on unknown response names or codes; fails on malformed
// structure (unbalanced parentheses, bad literal markers, missing tag).
mv::error parse_response(const framed_response& fr, response& out);

// Parses a sequence of values from text[pos, end) (used for response codes and tests).
mv::error parse_values(const framed_response& fr, std::size_t pos, std::size_t end,
                       std::vector<value>& out);

}  // namespace mv::imap
