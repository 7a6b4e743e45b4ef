// Typed POP3 parsers: pure functions over the text of status lines and listing lines.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailvault/error.hpp"

namespace mv::pop3 {

// RFC 2449 CAPA (plus STLS from RFC 2595). Names are matched case-insensitively.
struct capabilities {
    bool advertised = false;  // CAPA answered +OK (old servers answer -ERR: nothing is known)
    bool top = false;
    bool user = false;
    bool uidl = false;
    bool stls = false;
    bool pipelining = false;
    bool resp_codes = false;
    bool auth_resp_code = false;
    bool utf8 = false;
    std::vector<std::string> sasl;           // mechanism names, upper-case
    std::optional<std::string> expire;       // "NEVER", a day count, possibly followed by "USER"
    std::optional<std::string> login_delay;  // seconds, possibly followed by "USER"
    std::string implementation;
    std::vector<std::string> lines;  // every capability line as sent

    bool has_sasl(std::string_view mech) const;
};

// Adds one CAPA listing line to `caps`.
void parse_capa_line(std::string_view line, capabilities& caps);

struct stat_result {
    std::uint32_t count = 0;
    std::uint64_t size = 0;
};

struct list_entry {
    std::uint32_t msgno = 0;
    std::uint64_t size = 0;
};

struct uidl_entry {
    std::uint32_t msgno = 0;
    std::string uid;  // RFC 1939: 1-70 characters in 0x21-0x7E
};

// "+OK 7 1800662" text part -> stat; errors are mv::errc::protocol naming the text.
mv::error parse_stat(std::string_view text, stat_result& out);
// "1 1024" (a LIST listing line or the text of "+OK 1 1024").
mv::error parse_list_line(std::string_view text, list_entry& out);
// "1 101" (a UIDL listing line or the text of "+OK 1 101").
mv::error parse_uidl_line(std::string_view text, uidl_entry& out);

// The APOP timestamp "<...>" of a greeting text (including the brackets), or empty.
std::string find_apop_timestamp(std::string_view greeting_text);
// Lower-case hex MD5 of timestamp + secret (RFC 1939 APOP).
std::string apop_digest(std::string_view timestamp, std::string_view secret);

// Base64 (OpenSSL EVP), no line breaks.
std::string base64_encode(std::string_view in);
// False on malformed input.
bool base64_decode(std::string_view in, std::string& out);

// SASL initial responses.
std::string sasl_plain(std::string_view authzid, std::string_view user, std::string_view password);
std::string sasl_xoauth2(std::string_view user, std::string_view token);

}  // namespace mv::pop3
