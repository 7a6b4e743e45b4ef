// `mailvault debug parse-imap FILE`: runs the framer and the typed parsers over recorded server
// output and prints one line per response, or the first error with its byte offset.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

#include "imap/syntax.hpp"

namespace mv::imap {

// Reads server output (LF or CRLF line ends; bare LF becomes CRLF, as recorded transcripts are
// LF-only while their literal sizes count CRLF), prints "kind tag key=value..." per response.
// Returns 0 on success, 1 on the first error (printed as "error: <message>").
int debug_parse(std::istream& in, std::ostream& out);

// Converts bare LF to CRLF (existing CRLF kept).
std::string lf_to_crlf(std::string_view in);

// One-line description of a parsed response; runs the typed parser for the kinds it knows and
// returns its error, if any.
mv::error describe_response(const response& r, std::string& line);

}  // namespace mv::imap
