// The pure decisions of `mailvault prune` (sync/prune_plan.hpp), table-driven, no network.
#include "sync/prune_plan.hpp"

#include <catch2/catch.hpp>

#include "archive/archive.hpp"

using namespace mv::sync;
using mv::archive::sha256_of;

namespace {

const std::string header_a = "From: a@example.org\r\nSubject: one\r\n\r\n";
const std::string header_b = "From: a@example.org\r\nSubject: two\r\n\r\n";

prune_candidate cand(std::uint32_t uid, std::uint64_t size, std::size_t rule = 0,
                     std::string flags = "\\Seen") {
    prune_candidate c;
    c.msg.uid = uid;
    c.msg.size = size;
    c.msg.flags = std::move(flags);
    c.msg.content = sha256_of("content " + std::to_string(uid));
    c.rule = rule;
    return c;
}

archived_check copy(std::uint64_t bytes, const std::string& header = header_a) {
    archived_check a;
    a.bytes = bytes;
    a.header_hash = sha256_of(header);
    return a;
}

server_answer answer(std::uint64_t size, const std::string& header = header_a,
                     std::vector<std::string> flags = {"\\Seen"},
                     std::optional<std::uint64_t> modseq = 10) {
    server_answer s;
    s.rfc822_size = size;
    s.header_hash = sha256_of(header);
    s.flags = std::move(flags);
    s.modseq = modseq;
    return s;
}

prune_rule rule(std::optional<std::string> trash = std::nullopt) {
    prune_rule r;
    r.older_than = std::chrono::seconds(86400);
    r.trash = std::move(trash);
    return r;
}

}  // namespace

TEST_CASE("prune plan: each disagreement keeps the message on the server, with its kind") {
    struct row {
        const char* name;
        archived_check archived;
        std::optional<server_answer> server;
        std::optional<refusal_kind> refused;  // nullopt: deleted
        const char* reason_part;
    };
    auto damaged = copy(100);
    damaged.err = mv::error(mv::errc::archive_corrupt, "chunk 0 does not decompress");
    auto no_size = answer(100);
    no_size.rfc822_size.reset();
    auto no_header = answer(100);
    no_header.header_hash.reset();
    auto conflicting = answer(100);
    merge_answer(conflicting, answer(90));
    const std::vector<row> rows = {
        {"everything agrees", copy(100), answer(100), std::nullopt, ""},
        {"archived copy damaged", damaged, answer(100), refusal_kind::archive_damaged,
         "failed verification"},
        {"archived bytes differ from the entry", copy(99), answer(100),
         refusal_kind::archive_damaged, "its entry records 100"},
        // break 3: the archive stored a truncated body and recorded its own length
        {"server reports more bytes than archived", copy(100), answer(4711),
         refusal_kind::size_mismatch, "RFC822.SIZE 4711"},
        {"server reports fewer bytes", copy(100), answer(98), refusal_kind::size_mismatch,
         "RFC822.SIZE 98"},
        {"another message under this UID (same size)", copy(100), answer(100, header_b),
         refusal_kind::header_mismatch, "BODY[HEADER]"},
        {"no RFC822.SIZE in the answer", copy(100), no_size, refusal_kind::unverifiable,
         "RFC822.SIZE"},
        {"no whole BODY[HEADER] in the answer", copy(100), no_header, refusal_kind::unverifiable,
         "BODY[HEADER]"},
        {"two answers with different sizes", copy(100), conflicting, refusal_kind::unverifiable,
         "two different RFC822.SIZE"},
        {"not on the server any more", copy(100), std::nullopt, refusal_kind::gone,
         "no longer on the server"},
        {"MODSEQ above the sync's", copy(100), answer(100, header_a, {"\\Seen"}, 11),
         refusal_kind::changed, "MODSEQ"},
        {"flags changed", copy(100), answer(100, header_a, {"\\Seen", "\\Flagged"}),
         refusal_kind::changed, "flags changed"},
        {"\\Recent alone is not a change", copy(100), answer(100, header_a, {"\\Seen", "\\Recent"}),
         std::nullopt, ""},
    };
    for (const auto& r : rows) {
        INFO(r.name);
        const auto c = cand(7, 100);
        std::map<std::uint32_t, archived_check> archived{{7, r.archived}};
        std::map<std::uint32_t, server_answer> server;
        if (r.server) server[7] = *r.server;
        auto plan = plan_deletions({c}, archived, server, 10, {rule()}, std::nullopt);
        if (!r.refused) {
            CHECK(plan.refused.empty());
            REQUIRE(plan.remove.size() == 1);
            CHECK(plan.remove[0].cand.msg.uid == 7);
            CHECK_FALSE(plan.remove[0].trash);
            continue;
        }
        CHECK(plan.remove.empty());
        REQUIRE(plan.refused.size() == 1);
        CHECK(plan.refused[0].uid == 7);
        CHECK(plan.refused[0].kind == *r.refused);
        CHECK(plan.refused[0].reason.find(r.reason_part) != std::string::npos);
    }
}

TEST_CASE("prune plan: without CONDSTORE the MODSEQ is not compared, the flags still are") {
    const auto c = cand(3, 50);
    std::map<std::uint32_t, archived_check> archived{{3, copy(50)}};
    std::map<std::uint32_t, server_answer> server{{3, answer(50, header_a, {"\\Seen"}, 99)}};
    CHECK(
        plan_deletions({c}, archived, server, std::nullopt, {rule()}, std::nullopt).remove.size() ==
        1);
    server[3].flags = std::vector<std::string>{};
    auto p = plan_deletions({c}, archived, server, std::nullopt, {rule()}, std::nullopt);
    REQUIRE(p.refused.size() == 1);
    CHECK(p.refused[0].kind == refusal_kind::changed);
}

TEST_CASE("prune plan: a candidate whose archived copy was not re-read is refused") {
    auto p =
        plan_deletions({cand(1, 10)}, {}, {{1, answer(10)}}, std::nullopt, {rule()}, std::nullopt);
    REQUIRE(p.refused.size() == 1);
    CHECK(p.refused[0].kind == refusal_kind::archive_damaged);
    CHECK(is_verification_refusal(p.refused[0].kind));
    CHECK_FALSE(is_verification_refusal(refusal_kind::gone));
    CHECK_FALSE(is_verification_refusal(refusal_kind::changed));
}

TEST_CASE("prune plan: each rule's trash folder applies to its own candidates only") {
    // rule 0 moves to Trash, rule 1 expunges, rule 2 moves to Old: the regression was the last
    // rule's trash_folder being applied to every rule.
    const std::vector<prune_rule> rules = {rule("Trash"), rule(), rule("Old")};
    const std::vector<prune_candidate> cands = {cand(1, 10, 0), cand(2, 10, 1), cand(3, 10, 2)};
    std::map<std::uint32_t, archived_check> archived;
    std::map<std::uint32_t, server_answer> server;
    for (auto u : {1u, 2u, 3u}) {
        archived[u] = copy(10);
        server[u] = answer(10);
    }
    auto p = plan_deletions(cands, archived, server, 10, rules, std::nullopt);
    REQUIRE(p.remove.size() == 3);
    CHECK(p.remove[0].trash == std::optional<std::string>("Trash"));
    CHECK_FALSE(p.remove[1].trash);
    CHECK(p.remove[2].trash == std::optional<std::string>("Old"));
    // --trash on the command line applies to every rule.
    auto q = plan_deletions(cands, archived, server, 10, rules, std::string("Bin"));
    for (const auto& d : q.remove) CHECK(d.trash == std::optional<std::string>("Bin"));
}

TEST_CASE("prune plan: results are ascending by UID whatever the input order") {
    const std::vector<prune_candidate> cands = {cand(9, 10), cand(2, 10), cand(5, 10)};
    std::map<std::uint32_t, archived_check> archived{{9, copy(10)}, {2, copy(10)}, {5, copy(10)}};
    std::map<std::uint32_t, server_answer> server{
        {9, answer(10)}, {2, answer(11)}, {5, answer(10)}};
    auto p = plan_deletions(cands, archived, server, 10, {rule()}, std::nullopt);
    REQUIRE(p.remove.size() == 2);
    CHECK(p.remove[0].cand.msg.uid == 5);
    CHECK(p.remove[1].cand.msg.uid == 9);
    REQUIRE(p.refused.size() == 1);
    CHECK(p.refused[0].uid == 2);
}

TEST_CASE("prune plan: merging answers keeps a conflict and the newest flags") {
    server_answer a = answer(10);
    server_answer flags_only;
    flags_only.flags = std::vector<std::string>{"\\Seen", "\\Answered"};
    flags_only.modseq = 12;
    merge_answer(a, flags_only);
    CHECK(a.conflict.empty());
    CHECK(a.rfc822_size == std::optional<std::uint64_t>(10));
    CHECK(a.flags->size() == 2);
    CHECK(a.modseq == std::optional<std::uint64_t>(12));
    merge_answer(a, answer(10, header_b));
    CHECK(a.conflict == "BODY[HEADER]");
}

TEST_CASE("prune plan: the archived size must equal RFC822.SIZE exactly (Dovecot, measured)") {
    CHECK(archived_size_agrees(0, 0));
    CHECK(archived_size_agrees(1234, 1234));
    CHECK_FALSE(archived_size_agrees(1232, 1234));  // a missing final CRLF is not forgiven
    CHECK_FALSE(archived_size_agrees(1234, 1232));
}

TEST_CASE("prune plan: methods from capabilities") {
    struct row {
        bool uidplus, move, needs_move, needs_expunge, allow_plain;
        const char* expunge;
        bool moves;
        bool refused;
    };
    const std::vector<row> rows = {
        {true, true, false, true, false, "uid-expunge", false, false},
        {true, false, false, true, false, "uid-expunge", false, false},
        {false, true, false, true, false, "", false, true},
        {false, true, false, true, true, "plain-expunge", false, false},
        {false, true, true, false, false, "", true, false},
        {true, false, true, false, false, "", false, true},
        {true, true, true, true, false, "uid-expunge", true, false},
        {false, true, true, true, false, "", true, true},
    };
    for (const auto& r : rows) {
        INFO("uidplus " << r.uidplus << " move " << r.move << " needs_move " << r.needs_move
                        << " needs_expunge " << r.needs_expunge << " plain " << r.allow_plain);
        auto m = choose_methods(r.uidplus, r.move, r.needs_move, r.needs_expunge, r.allow_plain);
        CHECK(static_cast<bool>(m.err) == r.refused);
        if (r.refused) {
            CHECK(m.err.code == mv::errc::unsupported);
            CHECK(m.err.message.find("nothing was deleted") != std::string::npos);
            continue;
        }
        CHECK(m.expunge == r.expunge);
        CHECK(m.move == r.moves);
    }
}

TEST_CASE("prune plan: foreign Deleted messages are the ones a plain EXPUNGE must not take") {
    CHECK(foreign_deleted({}, {1, 2}).empty());
    CHECK(foreign_deleted({1, 2}, {1, 2}).empty());
    CHECK(foreign_deleted({5, 1, 2, 5}, {1, 2}) == std::vector<std::uint32_t>{5});
    CHECK(foreign_deleted({3}, {}) == std::vector<std::uint32_t>{3});
}

TEST_CASE("prune plan: the dry-run check of the archived copy alone") {
    auto c = cand(4, 20);
    CHECK_FALSE(check_archived_copy(c, copy(20)));
    auto r = check_archived_copy(c, copy(21));
    REQUIRE(r);
    CHECK(r->kind == refusal_kind::archive_damaged);
}
