// Who may use the web viewer: password hashes (PBKDF2-HMAC-SHA256 via OpenSSL), sessions,
// the login rate limit and the bind-address rule. Pure of network I/O: engine/web/server.cpp
// and pages.cpp call these.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "mailvault/error.hpp"

namespace mv::web {

inline constexpr int default_pbkdf2_iterations = 600000;

// "pbkdf2-sha256$ITERATIONS$SALT$HASH" (salt and hash base64), for [[serve.user]] password_hash.
std::string hash_password(std::string_view password, int iterations = default_pbkdf2_iterations);
// Constant-time comparison of the derived key; false for a malformed hash.
bool verify_password(std::string_view password, std::string_view encoded);
// Checks the form of a stored hash: empty when fine, else what is wrong (for config check).
std::string check_password_hash(std::string_view encoded);

// 32 random bytes (OpenSSL RAND_bytes), hex. Throws errc::internal when there is no entropy.
std::string random_token();
bool equal_constant_time(std::string_view a, std::string_view b);

// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. A name is resolved by the caller first.
bool is_loopback(std::string_view address);

struct bind_decision {
    bool require_login = false;
    mv::error refusal;  // set: do not start (one line saying what to do)
};
// The rule: login is required unless bound to loopback (or asked for); a non-loopback bind
// without TLS is refused unless `allow_insecure_http` (the session cookie is Secure and would
// cross the network in clear); login required with no users configured is refused.
bind_decision decide_bind(std::string_view address, bool tls, bool require_login_flag,
                          bool allow_insecure_http, std::size_t users);

// Flow: login succeeds -> create(user) -> the cookie's token -> user_of(token) on every request
// (sliding idle expiry, absolute lifetime) -> destroy(token) at logout. Thread-safe.
class session_store {
public:
    using clock = std::chrono::steady_clock;
    explicit session_store(std::chrono::seconds idle = std::chrono::hours(2),
                           std::chrono::seconds lifetime = std::chrono::hours(12),
                           std::size_t max_sessions = 1024)
        : idle_(idle), lifetime_(lifetime), max_(max_sessions) {}
    std::string create(std::string_view user, clock::time_point now = clock::now());
    std::optional<std::string> user_of(std::string_view token,
                                       clock::time_point now = clock::now());
    void destroy(std::string_view token);

private:
    struct session {
        std::string user;
        clock::time_point created, last;
    };
    std::mutex m_;
    std::map<std::string, session, std::less<>> sessions_;
    std::chrono::seconds idle_, lifetime_;
    std::size_t max_;
};

// Flow: before checking a password, allowed(client) -> after it, failed(client) or
// succeeded(client). At most `max_failures` failures per client in `window`, and a global
// ceiling of 10x that (a spread-out guess attack). Thread-safe.
class login_limiter {
public:
    using clock = std::chrono::steady_clock;
    explicit login_limiter(int max_failures = 5,
                           std::chrono::seconds window = std::chrono::minutes(5))
        : max_(max_failures), window_(window) {}
    bool allowed(std::string_view client, clock::time_point now = clock::now());
    void failed(std::string_view client, clock::time_point now = clock::now());
    void succeeded(std::string_view client);

private:
    struct record {
        int failures = 0;
        clock::time_point since;
    };
    void expire(clock::time_point now);
    std::mutex m_;
    std::map<std::string, record, std::less<>> clients_;
    record global_;
    int max_;
    std::chrono::seconds window_;
};

}  // namespace mv::web
