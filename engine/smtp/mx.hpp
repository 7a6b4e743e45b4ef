// Where mail for a domain goes (RFC 5321 §5.1), for direct delivery without a relay: the MX
// records in preference order, an implicit MX (the domain's own A/AAAA records) when there is
// none, and RFC 7505's null MX ("." with preference 0: the domain takes no mail) as an error.
//
// Flow: query_mx() asks one DNS server (libc's libresolv, res_nquery: the system's resolv.conf,
// or a given server and port, which the tests point at a dnsmasq on loopback) and parses the
// answer with ns_parserr; order_mx() is the pure decision; resolve_mail_hosts() does both and
// looks up the addresses of each host with the same server (A, then AAAA).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "mailvault/error.hpp"

namespace mv::smtp {

struct mx_record {
    std::uint16_t preference = 0;
    std::string host;  // without the trailing dot, lower case
};

struct dns_server {
    std::string address;  // IPv4 address; empty: the system resolver (resolv.conf)
    std::uint16_t port = 53;
    std::chrono::milliseconds timeout{5000};
};

// RFC 5321 §5.1: lower preference first; equal preferences keep the answer's order (servers
// already rotate them). No record: the domain itself (implicit MX). A null MX (RFC 7505) or a
// list of only "." is mv::errc::server_no "domain accepts no mail".
mv::error order_mx(const std::string& domain, std::vector<mx_record> records,
                   std::vector<std::string>& hosts);

// MX records of `domain`. NXDOMAIN is errc::server_no ("no such domain"); an answer without MX
// records gives an empty list (then the implicit MX applies); no answer is errc::network.
mv::error query_mx(const std::string& domain, const dns_server& server,
                   std::vector<mx_record>& out);

// IPv4 (A) then IPv6 (AAAA) addresses of `host`, as text.
mv::error query_addresses(const std::string& host, const dns_server& server,
                          std::vector<std::string>& out);

struct mail_host {
    std::string host;
    std::vector<std::string> addresses;
};

// The hosts to try in order, each with its addresses: by preference, hosts of equal preference
// shuffled (RFC 5321 §5.1 "MUST randomize"); hosts without an address are left out (and an
// error when none is left: a transient one when any lookup failed for now).
mv::error resolve_mail_hosts(const std::string& domain, const dns_server& server,
                             std::vector<mail_host>& out);

}  // namespace mv::smtp
