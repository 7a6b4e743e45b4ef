// The web viewer's access rules (engine/web/auth.hpp): password hashes, the bind-address rule,
// sessions and the login rate limit.
#include <catch2/catch.hpp>

#include "web/auth.hpp"

using namespace mv::web;
using namespace std::chrono_literals;

TEST_CASE("web auth: PBKDF2 hashes verify the right password only", "[web][auth]") {
    std::string h = hash_password("correct horse", 1000);
    CHECK(h.rfind("pbkdf2-sha256$1000$", 0) == 0);
    CHECK(check_password_hash(h).empty());
    CHECK(verify_password("correct horse", h));
    CHECK_FALSE(verify_password("correct horsf", h));
    CHECK_FALSE(verify_password("", h));
    CHECK(hash_password("correct horse", 1000) != h);  // salted
}

TEST_CASE("web auth: malformed hashes never verify", "[web][auth]") {
    for (std::string bad : {"", "plain-password", "pbkdf2-sha256$10$AAAAAAAAAAA=$AAAA",
                            "pbkdf2-sha256$1000$!!!!$AAAA", "md5$1000$AAAAAAAAAAA=$AAAA",
                            "pbkdf2-sha256$abc$AAAAAAAAAAA=$AAAA"}) {
        CHECK_FALSE(check_password_hash(bad).empty());
        CHECK_FALSE(verify_password("x", bad));
    }
}

TEST_CASE("web auth: loopback addresses", "[web][auth]") {
    CHECK(is_loopback("127.0.0.1"));
    CHECK(is_loopback("127.0.0.2"));
    CHECK(is_loopback("127.255.255.254"));
    CHECK(is_loopback("::1"));
    CHECK(is_loopback("[::1]"));
    CHECK(is_loopback("::ffff:127.0.0.1"));
    CHECK_FALSE(is_loopback("0.0.0.0"));
    CHECK_FALSE(is_loopback("::"));
    CHECK_FALSE(is_loopback("192.168.1.10"));
    CHECK_FALSE(is_loopback("::ffff:10.0.0.1"));
    CHECK_FALSE(is_loopback("localhost"));  // names are resolved by the caller, not trusted
}

TEST_CASE("web auth: the bind rule", "[web][auth]") {
    auto d = decide_bind("127.0.0.1", false, false, false, 0);
    CHECK_FALSE(d.require_login);
    CHECK_FALSE(d.refusal);
    // Loopback with an explicit request: login, which needs users.
    d = decide_bind("127.0.0.1", false, true, false, 0);
    CHECK(d.require_login);
    CHECK(d.refusal.code == mv::errc::config);
    CHECK(decide_bind("127.0.0.1", false, true, false, 1).refusal.ok());
    // Any other address: login always; without TLS refused unless the loud opt-out.
    d = decide_bind("0.0.0.0", false, false, false, 1);
    CHECK(d.require_login);
    CHECK(d.refusal.code == mv::errc::usage);
    CHECK(d.refusal.message.find("--insecure-http-on-network") != std::string::npos);
    d = decide_bind("0.0.0.0", true, false, false, 1);
    CHECK(d.require_login);
    CHECK(d.refusal.ok());
    d = decide_bind("192.168.1.10", false, false, true, 1);
    CHECK(d.require_login);
    CHECK(d.refusal.ok());
    CHECK(decide_bind("::", true, false, false, 0).refusal.code == mv::errc::config);
}

TEST_CASE("web auth: sessions expire when idle and at their lifetime", "[web][auth]") {
    session_store s(10s, 60s, 3);
    auto t0 = session_store::clock::time_point{} + 1000s;
    auto tok = s.create("alice", t0);
    CHECK(tok.size() == 64);
    CHECK(s.user_of(tok, t0 + 5s) == std::optional<std::string>("alice"));
    CHECK(s.user_of(tok, t0 + 14s) == std::optional<std::string>("alice"));  // sliding
    CHECK_FALSE(s.user_of(tok, t0 + 30s));                                   // idle
    auto tok2 = s.create("bob", t0);
    for (int i = 1; i <= 7; ++i) CHECK(s.user_of(tok2, t0 + std::chrono::seconds(i * 8)));
    CHECK_FALSE(s.user_of(tok2, t0 + 64s));  // lifetime
    CHECK_FALSE(s.user_of("not-a-token", t0));
    auto tok3 = s.create("carol", t0);
    s.destroy(tok3);
    CHECK_FALSE(s.user_of(tok3, t0));
}

TEST_CASE("web auth: failed logins are rate limited per client", "[web][auth]") {
    login_limiter l(3, 60s);
    auto t0 = login_limiter::clock::time_point{} + 1000s;
    for (int i = 0; i < 3; ++i) {
        CHECK(l.allowed("10.0.0.1", t0));
        l.failed("10.0.0.1", t0);
    }
    CHECK_FALSE(l.allowed("10.0.0.1", t0 + 1s));
    CHECK(l.allowed("10.0.0.2", t0 + 1s));   // another client
    CHECK(l.allowed("10.0.0.1", t0 + 61s));  // the window passed
    l.failed("10.0.0.3", t0);
    l.succeeded("10.0.0.3");
    CHECK(l.allowed("10.0.0.3", t0));
}

TEST_CASE("web auth: constant-time compare", "[web][auth]") {
    CHECK(equal_constant_time("abc", "abc"));
    CHECK_FALSE(equal_constant_time("abc", "abd"));
    CHECK_FALSE(equal_constant_time("abc", "abcd"));
    CHECK(random_token() != random_token());
}
