#include "smtp/mx.hpp"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace mv::smtp {

namespace {

std::string lower(std::string s) {
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

std::string strip_dot(std::string s) {
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

// One resolver state per query, pointed at `server` when given; closed on scope exit.
struct resolver_state {
    struct __res_state st {};
    bool ok = false;
    explicit resolver_state(const dns_server& server) {
        std::memset(&st, 0, sizeof st);
        if (res_ninit(&st) != 0) return;
        ok = true;
        auto secs = std::max<long>(1, static_cast<long>(server.timeout.count() / 1000));
        st.retrans = static_cast<int>(secs);
        st.retry = 2;
        if (!server.address.empty()) {
            sockaddr_in sa{};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(server.port);
            if (inet_pton(AF_INET, server.address.c_str(), &sa.sin_addr) != 1) {
                ok = false;
                return;
            }
            st.nsaddr_list[0] = sa;
            st.nscount = 1;
            // Only the name asked: no search domains appended from resolv.conf.
            st.options &= ~(RES_DEFNAMES | RES_DNSRCH);
        }
    }
    ~resolver_state() {
        if (ok) res_nclose(&st);
    }
};

// Runs one query; `answer` holds the reply. Returns the rcode problem as an error.
mv::error query(const std::string& name, int type, const dns_server& server, ns_msg& msg,
                std::vector<unsigned char>& answer) {
    resolver_state rs(server);
    if (!rs.ok)
        return {mv::errc::config,
                "DNS: cannot set up the resolver" +
                    (server.address.empty() ? std::string() : " for " + server.address)};
    answer.assign(NS_PACKETSZ * 16, 0);
    int n = res_nquery(&rs.st, name.c_str(), ns_c_in, type, answer.data(),
                       static_cast<int>(answer.size()));
    if (n < 0) {
        // h_errno of this state: HOST_NOT_FOUND is NXDOMAIN, NO_DATA an empty answer.
        int h = rs.st.res_h_errno;
        if (h == HOST_NOT_FOUND)
            return {mv::errc::server_no, "DNS: no such domain " + name + " (NXDOMAIN)"};
        if (h == NO_DATA) {
            answer.clear();
            return {};
        }
        std::string where = server.address.empty()
                                ? std::string("the system resolver")
                                : server.address + ":" + std::to_string(server.port);
        return {mv::errc::network, "DNS: no answer for " + name + " from " + where};
    }
    answer.resize(static_cast<std::size_t>(n));
    if (ns_initparse(answer.data(), n, &msg) != 0)
        return {mv::errc::protocol, "DNS: malformed answer for " + name};
    return {};
}

}  // namespace

mv::error order_mx(const std::string& domain, std::vector<mx_record> records,
                   std::vector<std::string>& hosts) {
    hosts.clear();
    if (records.empty()) {
        hosts.push_back(lower(strip_dot(domain)));  // implicit MX (RFC 5321 §5.1)
        return {};
    }
    std::stable_sort(records.begin(), records.end(), [](const mx_record& a, const mx_record& b) {
        return a.preference < b.preference;
    });
    for (const auto& r : records) {
        std::string h = lower(strip_dot(r.host));
        if (h.empty()) continue;  // "." : the null MX
        if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
    }
    if (hosts.empty())
        return {mv::errc::server_no,
                "domain " + domain + " accepts no mail (null MX, RFC 7505); use another address"};
    return {};
}

mv::error query_mx(const std::string& domain, const dns_server& server,
                   std::vector<mx_record>& out) {
    out.clear();
    ns_msg msg{};
    std::vector<unsigned char> answer;
    if (auto e = query(domain, ns_t_mx, server, msg, answer)) return e;
    if (answer.empty()) return {};
    int count = ns_msg_count(msg, ns_s_an);
    for (int i = 0; i < count; ++i) {
        ns_rr rr{};
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0)
            return {mv::errc::protocol, "DNS: malformed MX answer for " + domain};
        if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3) continue;
        const unsigned char* rd = ns_rr_rdata(rr);
        mx_record m;
        m.preference = static_cast<std::uint16_t>((rd[0] << 8) | rd[1]);
        char name[NS_MAXDNAME];
        if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), rd + 2, name, sizeof name) < 0)
            return {mv::errc::protocol, "DNS: malformed MX host name for " + domain};
        m.host = lower(strip_dot(name));
        out.push_back(std::move(m));
    }
    return {};
}

mv::error query_addresses(const std::string& host, const dns_server& server,
                          std::vector<std::string>& out) {
    out.clear();
    mv::error failed;
    for (int type : {static_cast<int>(ns_t_a), static_cast<int>(ns_t_aaaa)}) {
        ns_msg msg{};
        std::vector<unsigned char> answer;
        // A failed AAAA query after a good A answer (a server that refuses or drops AAAA) does
        // not lose the IPv4 addresses: only when neither gives one is it an error.
        if (auto e = query(host, type, server, msg, answer)) {
            if (!failed) failed = e;
            continue;
        }
        if (answer.empty()) continue;
        int count = ns_msg_count(msg, ns_s_an);
        for (int i = 0; i < count; ++i) {
            ns_rr rr{};
            if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) break;
            char text[INET6_ADDRSTRLEN] = {};
            if (type == ns_t_a && ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4)
                inet_ntop(AF_INET, ns_rr_rdata(rr), text, sizeof text);
            else if (type == ns_t_aaaa && ns_rr_type(rr) == ns_t_aaaa && ns_rr_rdlen(rr) == 16)
                inet_ntop(AF_INET6, ns_rr_rdata(rr), text, sizeof text);
            if (text[0]) out.emplace_back(text);
        }
    }
    return out.empty() ? failed : mv::error{};
}

mv::error resolve_mail_hosts(const std::string& domain, const dns_server& server,
                             std::vector<mail_host>& out) {
    out.clear();
    std::vector<mx_record> records;
    if (auto e = query_mx(domain, server, records)) return e;
    // RFC 5321 §5.1: hosts of equal preference MUST be tried in random order (load spreading);
    // order_mx's stable sort keeps the shuffled order within each preference.
    std::stable_sort(records.begin(), records.end(), [](const mx_record& a, const mx_record& b) {
        return a.preference < b.preference;
    });
    std::mt19937 rng{std::random_device{}()};
    for (auto first = records.begin(); first != records.end();) {
        auto last = std::find_if(first, records.end(), [&](const mx_record& r) {
            return r.preference != first->preference;
        });
        std::shuffle(first, last, rng);
        first = last;
    }
    std::vector<std::string> hosts;
    if (auto e = order_mx(domain, records, hosts)) return e;
    // A lookup that failed for now (no answer, a timeout) outranks one that failed for good
    // (NXDOMAIN): a host that may answer later must not turn the domain into "no mail".
    mv::error failed;
    for (const auto& h : hosts) {
        mail_host mh{h, {}};
        if (auto e = query_addresses(h, server, mh.addresses)) {
            if (!failed || (failed.code == mv::errc::server_no && e.code != mv::errc::server_no))
                failed = e;
            continue;
        }
        if (!mh.addresses.empty()) out.push_back(std::move(mh));
    }
    if (out.empty())
        return failed ? failed
                      : mv::error{mv::errc::server_no,
                                  "no mail host of " + domain + " has an address (A or AAAA)"};
    return {};
}

}  // namespace mv::smtp
