// Certificate checks every IMAP server of the test bed must pass (Dovecot and Cyrus alike):
// STARTTLS and IMAPS with the test CA, by name and by address, and refusal of an untrusted CA on
// both. Called from a TEST_CASE; each check is its own SECTION.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "harness/line_op.hpp"
#include "harness/testbed.hpp"
#include "mailvault/net.hpp"

namespace mv::test {

inline net::endpoint tb_endpoint(std::uint16_t port, net::tls_mode mode, const std::string& ca,
                                 const std::string& host = "127.0.0.1") {
    net::endpoint e;
    e.host = host;
    e.port = port;
    e.tls = mode;
    e.tls_opts.ca_file = ca;
    e.timeout = std::chrono::milliseconds(10000);
    return e;
}

// `login` is an IMAP LOGIN command tail for a test bed user, e.g. "LOGIN alice alice-secret".
inline void check_imap_tls(const testbed& tb, const std::string& login) {
    SECTION("STARTTLS") {
        mv::error err;
        auto c = net::connection::open(
            tb_endpoint(tb.imap_port(), net::tls_mode::starttls, tb.ca_file()), err);
        REQUIRE_FALSE(err);
        line_op op({"a STARTTLS", "b " + login}, 0, "a OK");
        REQUIRE_FALSE(c->run(op));
        CHECK(c->tls_active());
        REQUIRE(op.replies.size() == 3);
        CHECK(op.replies[2].find("b OK") != std::string::npos);
    }
    SECTION("IMAPS by name and by address") {
        for (const char* host : {"localhost", "127.0.0.1"}) {
            mv::error err;
            auto c = net::connection::open(
                tb_endpoint(tb.imaps_port(), net::tls_mode::implicit, tb.ca_file(), host), err);
            INFO(host << ": " << err.message);
            REQUIRE_FALSE(err);
            CHECK(c->tls_active());
            line_op op({"a " + login});
            REQUIRE_FALSE(c->run(op));
            REQUIRE(op.replies.size() == 2);
            CHECK(op.replies[1].find("a OK") != std::string::npos);
        }
    }
    SECTION("an untrusted CA is refused on IMAPS, and the message says so") {
        mv::error err;
        auto c = net::connection::open(
            tb_endpoint(tb.imaps_port(), net::tls_mode::implicit, tb.other_ca_file()), err);
        CHECK(c == nullptr);
        CHECK(err.code == errc::tls_certificate);
        CHECK(err.message.find("not trusted") != std::string::npos);
    }
    SECTION("an untrusted CA is refused after STARTTLS too") {
        mv::error err;
        auto c = net::connection::open(
            tb_endpoint(tb.imap_port(), net::tls_mode::starttls, tb.other_ca_file()), err);
        REQUIRE_FALSE(err);
        line_op op({"a STARTTLS", "b " + login}, 0, "a OK");
        CHECK(c->run(op).code == errc::tls_certificate);
        CHECK(op.replies.size() == 2);  // greeting + STARTTLS reply; LOGIN never sent
    }
}

}  // namespace mv::test
