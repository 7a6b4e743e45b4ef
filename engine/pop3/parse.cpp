#include "pop3/parse.hpp"

#include <openssl/evp.h>

#include <charconv>

#include "pop3/reply.hpp"

namespace mv::pop3 {

namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Next space-separated word; advances `s`.
std::string_view next_word(std::string_view& s) {
    s = trim(s);
    auto sp = s.find_first_of(" \t");
    auto w = s.substr(0, sp);
    s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp);
    return w;
}

template <class T>
bool to_number(std::string_view w, T& out) {
    if (w.empty()) return false;
    auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), out);
    return ec == std::errc{} && p == w.data() + w.size();
}

mv::error bad(std::string_view what, std::string_view text) {
    return {mv::errc::protocol,
            "POP3: malformed " + std::string(what) + ": " + describe_bytes(text)};
}

}  // namespace

bool capabilities::has_sasl(std::string_view mech) const {
    auto m = upper(mech);
    for (const auto& s : sasl)
        if (s == m) return true;
    return false;
}

void parse_capa_line(std::string_view line, capabilities& caps) {
    caps.lines.emplace_back(line);
    std::string_view rest = line;
    auto name = upper(next_word(rest));
    rest = trim(rest);
    if (name == "TOP") {
        caps.top = true;
    } else if (name == "USER") {
        caps.user = true;
    } else if (name == "UIDL") {
        caps.uidl = true;
    } else if (name == "STLS") {
        caps.stls = true;
    } else if (name == "PIPELINING") {
        caps.pipelining = true;
    } else if (name == "RESP-CODES") {
        caps.resp_codes = true;
    } else if (name == "AUTH-RESP-CODE") {
        caps.auth_resp_code = true;
    } else if (name == "UTF8") {
        caps.utf8 = true;
    } else if (name == "SASL") {
        while (!rest.empty()) {
            auto mech = next_word(rest);
            if (!mech.empty()) caps.sasl.push_back(upper(mech));
        }
    } else if (name == "EXPIRE") {
        caps.expire = std::string(rest);
    } else if (name == "LOGIN-DELAY") {
        caps.login_delay = std::string(rest);
    } else if (name == "IMPLEMENTATION") {
        caps.implementation = std::string(rest);
    }
}

mv::error parse_stat(std::string_view text, stat_result& out) {
    std::string_view rest = text;
    auto a = next_word(rest);
    auto b = next_word(rest);
    // RFC 1939 allows nothing after the size, but "+OK 2 320 messages" style text is harmless.
    if (!to_number(a, out.count) || !to_number(b, out.size)) return bad("STAT reply", text);
    return {};
}

mv::error parse_list_line(std::string_view text, list_entry& out) {
    std::string_view rest = text;
    auto a = next_word(rest);
    auto b = next_word(rest);
    if (!to_number(a, out.msgno) || out.msgno == 0 || !to_number(b, out.size))
        return bad("LIST line", text);
    return {};
}

mv::error parse_uidl_line(std::string_view text, uidl_entry& out) {
    std::string_view rest = text;
    auto a = next_word(rest);
    auto b = next_word(rest);
    if (!to_number(a, out.msgno) || out.msgno == 0 || b.empty() || b.size() > 70 ||
        !trim(rest).empty())
        return bad("UIDL line", text);
    for (char c : b)
        if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
            return bad("UIDL line", text);
    out.uid.assign(b);
    return {};
}

std::string find_apop_timestamp(std::string_view text) {
    auto open = text.find('<');
    while (open != std::string_view::npos) {
        auto close = text.find('>', open + 1);
        if (close == std::string_view::npos) return {};
        auto inner = text.substr(open + 1, close - open - 1);
        if (!inner.empty() && inner.find_first_of(" \t<") == std::string_view::npos)
            return std::string(text.substr(open, close - open + 1));
        open = text.find('<', open + 1);
    }
    return {};
}

std::string apop_digest(std::string_view timestamp, std::string_view secret) {
    std::string input;
    input.reserve(timestamp.size() + secret.size());
    input.append(timestamp).append(secret);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(input.data(), input.size(), md, &len, EVP_md5(), nullptr) != 1) return {};
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::string base64_encode(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool base64_decode(std::string_view in, std::string& out) {
    out.clear();
    if (in.size() % 4 != 0) return false;
    if (in.empty()) return true;
    out.resize(in.size() / 4 * 3);
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    if (n < 0) return false;
    std::size_t pad = (in.back() == '=') + (in[in.size() - 2] == '=');
    out.resize(static_cast<std::size_t>(n) - pad);
    return true;
}

std::string sasl_plain(std::string_view authzid, std::string_view user, std::string_view password) {
    std::string s;
    s.append(authzid).push_back('\0');
    s.append(user).push_back('\0');
    s.append(password);
    return base64_encode(s);
}

std::string sasl_xoauth2(std::string_view user, std::string_view token) {
    std::string s = "user=";
    s.append(user)
        .append(
            "\x01"
            "auth=Bearer ")
        .append(token)
        .append("\x01\x01");
    return base64_encode(s);
}

}  // namespace mv::pop3
