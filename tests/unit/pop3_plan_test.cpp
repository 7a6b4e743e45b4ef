// The POP3 session decisions (sync/pop3_plan.hpp), table-driven: no network, no archive.
#include <catch2/catch.hpp>

#include "sync/pop3_plan.hpp"

using namespace mv::sync;
using mv::archive::sha256;
using mv::archive::sha256_of;
using mv::config::pop3_delete;

namespace {

constexpr std::int64_t now = 1'700'000'000;

pop3_policy policy(pop3_delete d, std::int64_t older = 0) {
    pop3_policy p;
    p.del = d;
    p.older_than_seconds = older;
    p.now = now;
    return p;
}

// A message "as RETR returns it": its hash, size, CRLF ending.
pop3_retrieved got(const std::string& body, const std::string& key, bool committed = true,
                   bool reread = true) {
    pop3_retrieved r;
    r.hash = sha256_of(body);
    r.size = body.size();
    r.ends_with_crlf = body.size() >= 2 && body.substr(body.size() - 2) == "\r\n";
    r.committed = committed;
    r.key = key;
    r.reread_ok = reread;
    return r;
}

pop3_archived stored(const std::string& key, const std::string& body, std::int64_t first_seen) {
    return {key, sha256_of(body), body.size(), first_seen, true};
}

std::vector<std::uint32_t> dele_of(const pop3_delete_plan& d) {
    std::vector<std::uint32_t> out;
    for (const auto& x : d.dele) out.push_back(x.msgno);
    return out;
}

const pop3_refusal* refusal(const pop3_delete_plan& d, std::uint32_t msgno) {
    for (const auto& r : d.refusals)
        if (r.msgno == msgno) return &r;
    return nullptr;
}

const std::string A = "Subject: a\r\n\r\nbody a\r\n";
const std::string B = "Subject: b\r\n\r\nbody b\r\n";
const std::string C = "Subject: c\r\n\r\nbody c, longer\r\n";

}  // namespace

TEST_CASE("pop3 plan: LIST size tolerance is exactly Dovecot's added final CRLF") {
    struct row {
        std::uint64_t list, retr;
        bool crlf, ok;
    };
    for (const auto& r : std::vector<row>{{28, 28, true, true},
                                          {26, 28, true, true},  // stored without a final LF
                                          {26, 28, false, false},
                                          {28, 27, true, false},  // shorter than LIST
                                          {28, 29, true, false},
                                          {28, 31, true, false},
                                          {0, 2, true, true},
                                          {0, 0, false, true},
                                          {28, 0, false, false}}) {
        INFO(r.list << " " << r.retr << " " << r.crlf);
        CHECK(pop3_size_agrees(r.list, r.retr, r.crlf) == r.ok);
    }
}

TEST_CASE("pop3 plan: entry keys keep a reused UIDL's second content apart") {
    std::vector<pop3_archived> none;
    CHECK(pop3_entry_key("u1", sha256_of(A), none) == "u1");
    std::vector<pop3_archived> a{stored("u1", A, now)};
    CHECK(pop3_entry_key("u1", sha256_of(A), a) == "u1");  // same content: same entry
    const auto k = pop3_entry_key("u1", sha256_of(B), a);
    CHECK(k == "u1 sha256:" + sha256_of(B).hex());
    CHECK(pop3_identity_of_key(k) == "u1");
    a.push_back(stored(k, B, now));
    CHECK(pop3_entry_key("u1", sha256_of(B), a) == k);
    CHECK(pop3_entry_key("u10", sha256_of(B), a) == "u10");  // prefix is not the identity
}

TEST_CASE("pop3 plan: new, partially archived, and keep policy") {
    std::vector<pop3_listed> l{{1, A.size(), "u1"}, {2, B.size(), "u2"}, {3, C.size(), "u3"}};
    std::vector<pop3_archived> a{stored("u1", A, now - 10), stored("u9", C, now - 10)};
    auto p1 = plan_pop3_fetch(l, a, policy(pop3_delete::keep), nullptr);
    CHECK(p1.fetch == std::vector<std::uint32_t>{2, 3});
    CHECK(p1.fetch_new == std::vector<std::uint32_t>{2, 3});
    CHECK(p1.top == std::vector<std::uint32_t>{1});  // known: identity to confirm
    CHECK(p1.gone == std::vector<std::string>{"u9"});
    std::map<std::uint32_t, pop3_top_answer> tops{{1, {true, {sha256_of(A)}}}};
    auto p2 = plan_pop3_fetch(l, a, policy(pop3_delete::keep), &tops);
    CHECK(p2.fetch == std::vector<std::uint32_t>{2, 3});
    CHECK(p2.top.empty());
    CHECK(p2.no_delete.empty());
    std::map<std::uint32_t, pop3_retrieved> r{{2, got(B, "u2")}, {3, got(C, "u3")}};
    auto d = plan_pop3_delete(l, a, policy(pop3_delete::keep), p2, r);
    CHECK(d.dele.empty());
    CHECK(d.refusals.empty());
}

TEST_CASE("pop3 plan: delete after archive needs this session's RETR of every message") {
    std::vector<pop3_listed> l{{1, A.size(), "u1"}, {2, B.size(), "u2"}};
    std::vector<pop3_archived> a{stored("u1", A, now - 10)};  // archived in an earlier session
    auto pol = policy(pop3_delete::after_archive);
    auto p = plan_pop3_fetch(l, a, pol, nullptr);
    CHECK(p.top.empty());
    CHECK(p.fetch == std::vector<std::uint32_t>{1, 2});  // 1 again: deleted only once re-proved
    a.push_back(stored("u2", B, now));
    std::map<std::uint32_t, pop3_retrieved> r{{1, got(A, "u1")}, {2, got(B, "u2")}};
    CHECK(dele_of(plan_pop3_delete(l, a, pol, p, r)) == std::vector<std::uint32_t>{1, 2});

    SECTION("a RETR that did not complete is refused") {
        r.erase(2);
        auto d = plan_pop3_delete(l, a, pol, p, r);
        CHECK(dele_of(d) == std::vector<std::uint32_t>{1});
        REQUIRE(refusal(d, 2));
        CHECK(refusal(d, 2)->reason == pop3_refusal_reason::not_committed);
    }
    SECTION("a batch that rolled back is refused") {
        r[2].committed = false;
        CHECK(refusal(plan_pop3_delete(l, a, pol, p, r), 2)->reason ==
              pop3_refusal_reason::not_committed);
    }
    SECTION("an archived copy that does not re-read is refused") {
        r[1].reread_ok = false;
        auto d = plan_pop3_delete(l, a, pol, p, r);
        CHECK(dele_of(d) == std::vector<std::uint32_t>{2});
        CHECK(refusal(d, 1)->reason == pop3_refusal_reason::reread_failed);
    }
}

TEST_CASE("pop3 plan: RETR size disagreeing with LIST is never deleted") {
    const std::string truncated = A.substr(0, A.size() - 6) + "\r\n";
    struct row {
        const char* what;
        std::uint64_t list;
        std::string body;
        bool deleted;
    };
    for (const auto& r : std::vector<row>{{"exact", A.size(), A, true},
                                          {"Dovecot's added CRLF", A.size() - 2, A, true},
                                          {"shorter than LIST", A.size(), truncated, false},
                                          {"longer than LIST", A.size() - 1, A, false},
                                          {"another message's bytes", A.size(), C, false}}) {
        INFO(r.what);
        std::vector<pop3_listed> l{{1, r.list, "u1"}};
        std::vector<pop3_archived> a{stored("u1", r.body, now)};
        auto pol = policy(pop3_delete::after_archive);
        auto p = plan_pop3_fetch(l, {}, pol, nullptr);
        std::map<std::uint32_t, pop3_retrieved> got1{{1, got(r.body, "u1")}};
        auto d = plan_pop3_delete(l, a, pol, p, got1);
        CHECK(d.dele.size() == (r.deleted ? 1u : 0u));
        if (!r.deleted) {
            REQUIRE(refusal(d, 1));
            CHECK(refusal(d, 1)->reason == pop3_refusal_reason::size_mismatch);
        }
    }
}

TEST_CASE("pop3 plan: RETR of two messages returning the same bytes deletes neither") {
    // The server answers RETR 2 with message 1's bytes (same size: the size check cannot see it).
    std::vector<pop3_listed> l{{1, A.size(), "u1"}, {2, A.size(), "u2"}, {3, B.size(), "u3"}};
    auto pol = policy(pop3_delete::after_archive);
    auto p = plan_pop3_fetch(l, {}, pol, nullptr);
    std::vector<pop3_archived> a{stored("u1", A, now), stored("u2", A, now), stored("u3", B, now)};
    std::map<std::uint32_t, pop3_retrieved> r{
        {1, got(A, "u1")}, {2, got(A, "u2")}, {3, got(B, "u3")}};
    CHECK(pop3_needs_top_confirmation(r) == std::vector<std::uint32_t>{1, 2});
    auto d = plan_pop3_delete(l, a, pol, p, r);
    CHECK(dele_of(d) == std::vector<std::uint32_t>{3});
    CHECK(refusal(d, 1)->reason == pop3_refusal_reason::duplicate_content);
    CHECK(refusal(d, 2)->reason == pop3_refusal_reason::duplicate_content);
    // TOP 2 0 shows message 2's own header (not A's): still refused; a mailbox really holding
    // A twice shows A's header for both, and both may go.
    r[1].top_confirms = true;
    d = plan_pop3_delete(l, a, pol, p, r);
    CHECK(dele_of(d) == std::vector<std::uint32_t>{1, 3});
    CHECK(refusal(d, 2)->reason == pop3_refusal_reason::duplicate_content);
    r[2].top_confirms = true;
    CHECK(dele_of(plan_pop3_delete(l, a, pol, p, r)) == std::vector<std::uint32_t>{1, 2, 3});
}

TEST_CASE("pop3 plan: a UIDL listed twice is archived twice and deleted never") {
    std::vector<pop3_listed> l{{1, A.size(), "dup"}, {2, B.size(), "dup"}, {3, C.size(), "u3"}};
    for (auto pd : {pop3_delete::after_archive, pop3_delete::older_than, pop3_delete::keep}) {
        auto pol = policy(pd, 0);
        auto p = plan_pop3_fetch(l, {}, pol, nullptr);
        CHECK(p.fetch == std::vector<std::uint32_t>{1, 2, 3});
        CHECK(p.no_delete.size() == 2);
        REQUIRE(p.notes.size() == 1);
        CHECK(p.notes[0].find("UIDL dup is listed for 2 messages (1, 2)") != std::string::npos);
        // The two bodies get two entries.
        std::vector<pop3_archived> a;
        const auto k1 = pop3_entry_key("dup", sha256_of(A), a);
        a.push_back(stored(k1, A, now));
        const auto k2 = pop3_entry_key("dup", sha256_of(B), a);
        a.push_back(stored(k2, B, now));
        a.push_back(stored("u3", C, now));
        CHECK(k1 != k2);
        std::map<std::uint32_t, pop3_retrieved> r{
            {1, got(A, k1)}, {2, got(B, k2)}, {3, got(C, "u3")}};
        auto d = plan_pop3_delete(l, a, pol, p, r);
        if (pd == pop3_delete::keep) {
            CHECK(d.dele.empty());
            CHECK(d.refusals.empty());
        } else {
            CHECK(dele_of(d) == std::vector<std::uint32_t>{3});
            CHECK(refusal(d, 1)->reason == pop3_refusal_reason::duplicate_uidl);
            CHECK(refusal(d, 2)->reason == pop3_refusal_reason::duplicate_uidl);
        }
        // Next session, same listing, both archived: still never a candidate.
        auto again = plan_pop3_fetch(l, a, pol, nullptr);
        CHECK(std::find(again.fetch.begin(), again.fetch.end(), 3u) ==
              (pd == pop3_delete::keep ? again.fetch.end() : again.fetch.begin()));
        CHECK(again.no_delete.size() == 2);
    }
}

TEST_CASE("pop3 plan: a reused UIDL is fetched as a new message and not deleted") {
    // The server lost its UIDL database: "u1" now names message B.
    std::vector<pop3_listed> l{{1, B.size(), "u1"}};
    std::vector<pop3_archived> a{stored("u1", A, now - 86400)};
    SECTION("keep: TOP shows another header") {
        auto pol = policy(pop3_delete::keep);
        auto p1 = plan_pop3_fetch(l, a, pol, nullptr);
        CHECK(p1.top == std::vector<std::uint32_t>{1});
        std::map<std::uint32_t, pop3_top_answer> tops{{1, {true, {sha256_of(B)}}}};
        auto p2 = plan_pop3_fetch(l, a, pol, &tops);
        CHECK(p2.fetch == std::vector<std::uint32_t>{1});
        CHECK(p2.no_delete.at(1).reason == pop3_refusal_reason::reused_uidl);
        CHECK_FALSE(p2.notes.empty());
    }
    SECTION("keep: same header, different size") {
        const std::string a2 = "Subject: a\r\n\r\nbody a, then more text\r\n";
        std::vector<pop3_listed> l2{{1, a2.size(), "u1"}};
        std::map<std::uint32_t, pop3_top_answer> tops{{1, {true, {sha256_of(A)}}}};
        auto p2 = plan_pop3_fetch(l2, a, policy(pop3_delete::keep), &tops);
        CHECK(p2.fetch == std::vector<std::uint32_t>{1});
    }
    SECTION("keep: TOP confirms the archived copy: nothing fetched") {
        std::vector<pop3_listed> l2{{1, A.size(), "u1"}};
        std::map<std::uint32_t, pop3_top_answer> tops{{1, {true, {sha256_of(A)}}}};
        auto p2 = plan_pop3_fetch(l2, a, policy(pop3_delete::keep), &tops);
        CHECK(p2.fetch.empty());
        CHECK(p2.no_delete.empty());
    }
    SECTION("keep: TOP refused: checked by size only") {
        std::vector<pop3_listed> l2{{1, C.size(), "u1"}};
        std::map<std::uint32_t, pop3_top_answer> tops{{1, {false, {}}}};
        auto p2 = plan_pop3_fetch(l2, a, policy(pop3_delete::keep), &tops);
        CHECK(p2.fetch == std::vector<std::uint32_t>{1});  // sizes differ
        CHECK(p2.notes.size() == 2);
        std::vector<pop3_listed> l3{{1, A.size(), "u1"}};
        CHECK(plan_pop3_fetch(l3, a, policy(pop3_delete::keep), &tops).fetch.empty());
    }
    SECTION("after_archive: RETR shows other bytes; archived under its own key, not deleted") {
        auto pol = policy(pop3_delete::after_archive);
        auto p = plan_pop3_fetch(l, a, pol, nullptr);
        CHECK(p.fetch == std::vector<std::uint32_t>{1});
        const auto key = pop3_entry_key("u1", sha256_of(B), a);
        CHECK(key != "u1");
        a.push_back(stored(key, B, now));
        std::map<std::uint32_t, pop3_retrieved> r{{1, got(B, key)}};
        // The RETR proves the bytes; the identity change still forbids deleting this session.
        auto d = plan_pop3_delete(l, a, pol, p, r);
        CHECK(d.dele.empty());
        REQUIRE(refusal(d, 1));
        CHECK(refusal(d, 1)->reason == pop3_refusal_reason::reused_uidl);
        // Next session: the new content is known under that UIDL; it is deleted once re-proved.
        auto p2 = plan_pop3_fetch(l, a, pol, nullptr);
        CHECK(dele_of(plan_pop3_delete(l, a, pol, p2, r)) == std::vector<std::uint32_t>{1});
    }
}

TEST_CASE("pop3 plan: older_than deletes only what was first retrieved long enough ago") {
    std::vector<pop3_listed> l{{1, A.size(), "old"}, {2, B.size(), "young"}, {3, C.size(), "new"}};
    std::vector<pop3_archived> a{stored("old", A, now - 10 * 86400),
                                 stored("young", B, now - 3600)};
    auto pol = policy(pop3_delete::older_than, 7 * 86400);
    auto p1 = plan_pop3_fetch(l, a, pol, nullptr);
    CHECK(p1.fetch == std::vector<std::uint32_t>{1, 3});  // old: re-proved; new: archived
    CHECK(p1.top == std::vector<std::uint32_t>{2});       // young: identity confirmed only
    std::map<std::uint32_t, pop3_top_answer> tops{{2, {true, {sha256_of(B)}}}};
    auto p2 = plan_pop3_fetch(l, a, pol, &tops);
    a.push_back(stored("new", C, now));
    std::map<std::uint32_t, pop3_retrieved> r{{1, got(A, "old")}, {3, got(C, "new")}};
    auto d = plan_pop3_delete(l, a, pol, p2, r);
    CHECK(dele_of(d) == std::vector<std::uint32_t>{1});
    CHECK(d.refusals.empty());
}

TEST_CASE("pop3 plan: without UIDL support") {
    std::vector<pop3_listed> l{{1, A.size(), "hdr-aa-24"}, {2, B.size(), "hdr-bb-24"}};
    std::vector<pop3_archived> a{stored("hdr-aa-24", A, now - 10)};
    auto pol = policy(pop3_delete::after_archive);
    pol.have_uidl = false;
    SECTION("deleting not allowed: nothing is a candidate, nothing deleted") {
        auto p = plan_pop3_fetch(l, a, pol, nullptr);
        CHECK(p.top.empty());  // the identity already is the header hash
        CHECK(p.fetch == std::vector<std::uint32_t>{2});
        std::map<std::uint32_t, pop3_retrieved> r{{2, got(B, "hdr-bb-24")}};
        CHECK(plan_pop3_delete(l, a, pol, p, r).dele.empty());
    }
    SECTION("allow_delete_without_uidl: re-proved by RETR like any other") {
        pol.allow_delete_without_uidl = true;
        auto p = plan_pop3_fetch(l, a, pol, nullptr);
        CHECK(p.fetch == std::vector<std::uint32_t>{1, 2});
        a.push_back(stored("hdr-bb-24", B, now));
        std::map<std::uint32_t, pop3_retrieved> r{{1, got(A, "hdr-aa-24")},
                                                  {2, got(B, "hdr-bb-24")}};
        CHECK(dele_of(plan_pop3_delete(l, a, pol, p, r)) == std::vector<std::uint32_t>{1, 2});
    }
}
