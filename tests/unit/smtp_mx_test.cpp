// MX ordering for direct delivery (RFC 5321 §5.1, RFC 7505): pure decisions, table-driven.
// The DNS queries themselves are tested against a dnsmasq on loopback in
// tests/integration/smtp_test.cpp.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "smtp/mx.hpp"

using mv::smtp::mx_record;
using mv::smtp::order_mx;

TEST_CASE("smtp mx: preference order, implicit MX, null MX", "[smtp][mx]") {
    std::vector<std::string> hosts;
    REQUIRE(order_mx("example.org",
                     {{20, "b.example.org."}, {10, "A.example.org"}, {20, "c.example.org"}}, hosts)
                .ok());
    // Lower preference first; equal ones keep the answer's order; names lower-cased, no dot.
    CHECK(hosts == std::vector<std::string>{"a.example.org", "b.example.org", "c.example.org"});
    REQUIRE(order_mx("example.org", {{5, "mx.example.org"}, {7, "mx.example.org."}}, hosts).ok());
    CHECK(hosts == std::vector<std::string>{"mx.example.org"});  // listed once
    REQUIRE(order_mx("Example.ORG.", {}, hosts).ok());
    CHECK(hosts == std::vector<std::string>{"example.org"});  // implicit MX: the domain's A/AAAA
    auto e = order_mx("nomail.example", {{0, "."}}, hosts);
    CHECK(e.code == mv::errc::server_no);
    CHECK(e.message ==
          "domain nomail.example accepts no mail (null MX, RFC 7505); use another "
          "address");
    CHECK(hosts.empty());
}
