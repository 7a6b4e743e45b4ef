#include "sync/prune_plan.hpp"

#include <algorithm>
#include <set>

#include "archive/archive.hpp"
#include "sync/planner.hpp"

namespace mv::sync {

namespace {

template <class T>
void merge_field(std::optional<T>& into, const std::optional<T>& more, const char* what,
                 std::string& conflict) {
    if (!more) return;
    if (into && *into != *more) {
        if (conflict.empty()) conflict = what;
        return;
    }
    into = more;
}

}  // namespace

void merge_answer(server_answer& into, const server_answer& more) {
    // Flags may legitimately change between two answers (an unsolicited update): the last wins;
    // the flag check below compares with the archive anyway.
    if (more.flags) into.flags = more.flags;
    if (more.modseq && (!into.modseq || *more.modseq > *into.modseq)) into.modseq = more.modseq;
    merge_field(into.rfc822_size, more.rfc822_size, "RFC822.SIZE", into.conflict);
    merge_field(into.header_hash, more.header_hash, "BODY[HEADER]", into.conflict);
    if (into.conflict.empty() && !more.conflict.empty()) into.conflict = more.conflict;
}

const char* refusal_kind_name(refusal_kind k) noexcept {
    switch (k) {
        case refusal_kind::archive_damaged: return "archive-damaged";
        case refusal_kind::size_mismatch: return "size-mismatch";
        case refusal_kind::header_mismatch: return "header-mismatch";
        case refusal_kind::unverifiable: return "unverifiable";
        case refusal_kind::gone: return "gone";
        case refusal_kind::changed: return "changed";
    }
    return "unknown";
}

bool is_verification_refusal(refusal_kind k) noexcept {
    return k == refusal_kind::archive_damaged || k == refusal_kind::size_mismatch ||
           k == refusal_kind::header_mismatch || k == refusal_kind::unverifiable;
}

bool archived_size_agrees(std::uint64_t archived, std::uint64_t server) noexcept {
    return archived == server;
}

std::optional<planned_refusal> check_archived_copy(const prune_candidate& c,
                                                   const archived_check& a) {
    if (a.err)
        return planned_refusal{c.msg.uid, refusal_kind::archive_damaged,
                               "archived copy failed verification: " + a.err.message};
    if (a.bytes != c.msg.size)
        return planned_refusal{c.msg.uid, refusal_kind::archive_damaged,
                               "archived copy has " + std::to_string(a.bytes) +
                                   " bytes, its entry records " + std::to_string(c.msg.size) +
                                   " (archived copy failed verification)"};
    return std::nullopt;
}

std::optional<std::string> trash_for(const prune_candidate& c, const std::vector<prune_rule>& rules,
                                     const std::optional<std::string>& cli_trash) {
    if (cli_trash) return cli_trash;
    if (c.rule < rules.size()) return rules[c.rule].trash;
    return std::nullopt;
}

deletion_plan plan_deletions(const std::vector<prune_candidate>& cands,
                             const std::map<std::uint32_t, archived_check>& archived,
                             const std::map<std::uint32_t, server_answer>& server,
                             std::optional<std::uint64_t> since,
                             const std::vector<prune_rule>& rules,
                             const std::optional<std::string>& cli_trash) {
    deletion_plan plan;
    auto refuse = [&](std::uint32_t uid, refusal_kind k, std::string why) {
        plan.refused.push_back({uid, k, std::move(why)});
    };
    for (const auto& c : cands) {
        const auto uid = c.msg.uid;
        auto ai = archived.find(uid);
        if (ai == archived.end()) {
            refuse(uid, refusal_kind::archive_damaged,
                   "archived copy was not re-read (archived copy failed verification)");
            continue;
        }
        if (auto r = check_archived_copy(c, ai->second)) {
            plan.refused.push_back(std::move(*r));
            continue;
        }
        auto si = server.find(uid);
        if (si == server.end()) {
            refuse(uid, refusal_kind::gone, "no longer on the server");
            continue;
        }
        const auto& s = si->second;
        if (!s.conflict.empty()) {
            refuse(uid, refusal_kind::unverifiable,
                   "the server sent two different " + s.conflict + " answers for it");
            continue;
        }
        if (!s.rfc822_size) {
            refuse(uid, refusal_kind::unverifiable,
                   "the server did not send its RFC822.SIZE, so the archived copy cannot be "
                   "compared");
            continue;
        }
        if (!archived_size_agrees(ai->second.bytes, *s.rfc822_size)) {
            refuse(uid, refusal_kind::size_mismatch,
                   "archived copy has " + std::to_string(ai->second.bytes) +
                       " bytes, the server reports RFC822.SIZE " + std::to_string(*s.rfc822_size) +
                       " (truncated or different message; run `mailvault sync` and check it)");
            continue;
        }
        if (!s.header_hash) {
            refuse(uid, refusal_kind::unverifiable,
                   "the server did not send its whole BODY[HEADER], so the archived copy cannot "
                   "be compared");
            continue;
        }
        if (*s.header_hash != ai->second.header_hash) {
            refuse(uid, refusal_kind::header_mismatch,
                   "archived header block differs from the server's BODY[HEADER] (a different "
                   "message under this UID)");
            continue;
        }
        if (since && s.modseq && *s.modseq > *since) {
            refuse(uid, refusal_kind::changed, "changed on the server since the sync (MODSEQ)");
            continue;
        }
        if (s.flags && archive::canonical_flags(persistent_flags(*s.flags)) != c.msg.flags) {
            refuse(uid, refusal_kind::changed, "flags changed on the server since the sync");
            continue;
        }
        plan.remove.push_back({c, trash_for(c, rules, cli_trash)});
    }
    std::sort(plan.remove.begin(), plan.remove.end(),
              [](const auto& a, const auto& b) { return a.cand.msg.uid < b.cand.msg.uid; });
    std::sort(plan.refused.begin(), plan.refused.end(),
              [](const auto& a, const auto& b) { return a.uid < b.uid; });
    return plan;
}

prune_methods choose_methods(bool has_uidplus, bool has_move, bool needs_move, bool needs_expunge,
                             bool allow_plain_expunge) {
    prune_methods m;
    if (needs_move) {
        if (!has_move) {
            m.err = mv::error(errc::unsupported,
                              "the server does not offer MOVE, so a trash folder cannot be used; "
                              "nothing was deleted");
            return m;
        }
        m.move = true;
    }
    if (needs_expunge) {
        if (has_uidplus) {
            m.expunge = "uid-expunge";
        } else if (allow_plain_expunge) {
            m.expunge = "plain-expunge";
        } else {
            m.err = mv::error(
                errc::unsupported,
                "the server does not offer UIDPLUS: a plain EXPUNGE could remove messages "
                "another client marked \\Deleted; refusing to prune (use --trash FOLDER to move "
                "them to a trash folder, or --allow-plain-expunge); nothing was deleted");
        }
    }
    return m;
}

std::vector<std::uint32_t> foreign_deleted(const std::vector<std::uint32_t>& deleted_on_server,
                                           const std::vector<std::uint32_t>& ours) {
    const std::set<std::uint32_t> mine(ours.begin(), ours.end());
    std::set<std::uint32_t> out;
    for (auto u : deleted_on_server)
        if (!mine.count(u)) out.insert(u);
    return {out.begin(), out.end()};
}

}  // namespace mv::sync
