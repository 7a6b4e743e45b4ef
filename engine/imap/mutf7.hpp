// Modified UTF-7 mailbox names (RFC 3501 section 5.1.3), both ways.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mv::imap {

// UTF-8 -> modified UTF-7. nullopt if the input is not valid UTF-8.
std::optional<std::string> encode_mutf7(std::string_view utf8);
// Modified UTF-7 -> UTF-8. nullopt if malformed (bad base64, odd length, lone surrogate, ...).
std::optional<std::string> decode_mutf7(std::string_view name);

}  // namespace mv::imap
