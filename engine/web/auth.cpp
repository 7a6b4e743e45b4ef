#include "web/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/asio/ip/address.hpp>
#include <vector>

namespace mv::web {

namespace {

constexpr std::size_t salt_bytes = 16;
constexpr std::size_t key_bytes = 32;
constexpr std::string_view scheme = "pbkdf2-sha256";

std::string b64(const unsigned char* d, std::size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), d, static_cast<int>(n));
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::optional<std::string> unb64(std::string_view s) {
    if (s.empty() || s.size() % 4 != 0) return std::nullopt;
    std::string out(3 * s.size() / 4 + 1, '\0');
    int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                              reinterpret_cast<const unsigned char*>(s.data()),
                              static_cast<int>(s.size()));
    if (len < 0) return std::nullopt;
    std::size_t pad = 0;
    if (s.back() == '=') ++pad;
    if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
    out.resize(static_cast<std::size_t>(len) - pad);
    return out;
}

std::string derive(std::string_view password, std::string_view salt, int iterations) {
    std::string key(key_bytes, '\0');
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()),
                          static_cast<int>(salt.size()), iterations, EVP_sha256(),
                          static_cast<int>(key.size()),
                          reinterpret_cast<unsigned char*>(key.data())) != 1)
        throw mv::failure(errc::internal, "PBKDF2 failed in OpenSSL");
    return key;
}

struct parsed_hash {
    int iterations = 0;
    std::string salt, key;
};

std::optional<parsed_hash> parse_hash(std::string_view e, std::string* why) {
    auto fail = [&](const char* w) -> std::optional<parsed_hash> {
        if (why) *why = w;
        return std::nullopt;
    };
    std::vector<std::string_view> f;
    std::size_t start = 0;
    while (true) {
        auto d = e.find('$', start);
        f.push_back(e.substr(start, d == std::string_view::npos ? e.npos : d - start));
        if (d == std::string_view::npos) break;
        start = d + 1;
    }
    if (f.size() != 4 || f[0] != scheme)
        return fail(
            "expected pbkdf2-sha256$ITERATIONS$SALT$HASH (from `mailvault serve --hash-password`)");
    parsed_hash p;
    if (f[1].empty() || f[1].size() > 8) return fail("bad iteration count");
    for (char c : f[1]) {
        if (c < '0' || c > '9') return fail("bad iteration count");
        p.iterations = p.iterations * 10 + (c - '0');
    }
    if (p.iterations < 1000) return fail("iteration count below 1000");
    auto salt = unb64(f[2]);
    auto key = unb64(f[3]);
    if (!salt || salt->size() < 8) return fail("bad salt");
    if (!key || key->size() != key_bytes) return fail("bad hash");
    p.salt = *salt;
    p.key = *key;
    return p;
}

}  // namespace

std::string hash_password(std::string_view password, int iterations) {
    unsigned char salt[salt_bytes];
    if (RAND_bytes(salt, sizeof salt) != 1)
        throw mv::failure(errc::internal, "no random bytes from OpenSSL");
    std::string s(reinterpret_cast<const char*>(salt), sizeof salt);
    std::string key = derive(password, s, iterations);
    return std::string(scheme) + "$" + std::to_string(iterations) + "$" + b64(salt, sizeof salt) +
           "$" + b64(reinterpret_cast<const unsigned char*>(key.data()), key.size());
}

bool verify_password(std::string_view password, std::string_view encoded) {
    auto p = parse_hash(encoded, nullptr);
    if (!p) return false;
    return equal_constant_time(derive(password, p->salt, p->iterations), p->key);
}

std::string check_password_hash(std::string_view encoded) {
    std::string why;
    return parse_hash(encoded, &why) ? std::string() : why;
}

std::string random_token() {
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1)
        throw mv::failure(errc::internal, "no random bytes from OpenSSL");
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_loopback(std::string_view address) {
    std::string a(address);
    if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(a, ec);
    if (ec) return false;
    if (ip.is_v6()) {
        auto v6 = ip.to_v6();
        if (v6.is_v4_mapped())
            return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).is_loopback();
        return v6.is_loopback();
    }
    return ip.to_v4().is_loopback();
}

bind_decision decide_bind(std::string_view address, bool tls, bool require_login_flag,
                          bool allow_insecure_http, std::size_t users) {
    bind_decision d;
    const bool loopback = is_loopback(address);
    d.require_login = require_login_flag || !loopback;
    if (!loopback && !tls && !allow_insecure_http) {
        d.refusal = {errc::usage,
                     "serve: refusing to listen on " + std::string(address) +
                         " without TLS (passwords and session cookies would cross the network "
                         "in clear); set tls_cert and tls_key in [serve], or bind to 127.0.0.1, "
                         "or pass --insecure-http-on-network if you really mean it"};
        return d;
    }
    if (d.require_login && users == 0)
        d.refusal = {errc::config,
                     "serve: login is required on " + std::string(address) +
                         " but the config has no [[serve.user]]; add one with a password_hash "
                         "from `mailvault serve --hash-password`"};
    return d;
}

std::string session_store::create(std::string_view user, clock::time_point now) {
    std::lock_guard lock(m_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (now - it->second.last > idle_ || now - it->second.created > lifetime_)
            it = sessions_.erase(it);
        else
            ++it;
    }
    while (sessions_.size() >= max_) {
        auto oldest = sessions_.begin();
        for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
            if (it->second.last < oldest->second.last) oldest = it;
        sessions_.erase(oldest);
    }
    std::string token = random_token();
    sessions_[token] = {std::string(user), now, now};
    return token;
}

std::optional<std::string> session_store::user_of(std::string_view token, clock::time_point now) {
    std::lock_guard lock(m_);
    // std::map lookup compares keys, which leaks timing about the token; the token is 256 random
    // bits and a guess gives nothing, but compare the found key in constant time anyway.
    auto it = sessions_.find(token);
    if (it == sessions_.end() || !equal_constant_time(it->first, token)) return std::nullopt;
    if (now - it->second.last > idle_ || now - it->second.created > lifetime_) {
        sessions_.erase(it);
        return std::nullopt;
    }
    it->second.last = now;
    return it->second.user;
}

void session_store::destroy(std::string_view token) {
    std::lock_guard lock(m_);
    if (auto it = sessions_.find(token); it != sessions_.end()) sessions_.erase(it);
}

void login_limiter::expire(clock::time_point now) {
    for (auto it = clients_.begin(); it != clients_.end();) {
        if (now - it->second.since > window_)
            it = clients_.erase(it);
        else
            ++it;
    }
    if (now - global_.since > window_) global_ = {0, now};
}

bool login_limiter::allowed(std::string_view client, clock::time_point now) {
    std::lock_guard lock(m_);
    expire(now);
    if (global_.failures >= 10 * max_) return false;
    auto it = clients_.find(client);
    return it == clients_.end() || it->second.failures < max_;
}

void login_limiter::failed(std::string_view client, clock::time_point now) {
    std::lock_guard lock(m_);
    expire(now);
    auto it = clients_.find(client);
    if (it == clients_.end()) {
        if (clients_.size() >= 4096) clients_.erase(clients_.begin());
        it = clients_.emplace(std::string(client), record{0, now}).first;
    }
    ++it->second.failures;
    if (global_.failures == 0) global_.since = now;
    ++global_.failures;
}

void login_limiter::succeeded(std::string_view client) {
    std::lock_guard lock(m_);
    if (auto it = clients_.find(client); it != clients_.end()) clients_.erase(it);
}

}  // namespace mv::web
