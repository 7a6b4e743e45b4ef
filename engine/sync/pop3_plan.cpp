#include "sync/pop3_plan.hpp"

#include <algorithm>

namespace mv::sync {

namespace {

std::vector<const pop3_archived*> variants_of(const std::string& identity,
                                              const std::vector<pop3_archived>& archived) {
    std::vector<const pop3_archived*> out;
    for (const auto& a : archived)
        if (pop3_identity_of_key(a.key) == identity) out.push_back(&a);
    return out;
}

std::string msg_name(const pop3_listed& m) {
    return "message " + std::to_string(m.msgno) + " (UIDL " + m.identity + ")";
}

bool deleting(const pop3_policy& p) {
    return p.del != config::pop3_delete::keep && (p.have_uidl || p.allow_delete_without_uidl);
}

}  // namespace

bool pop3_size_agrees(std::uint64_t list_size, std::uint64_t retr_size, bool ends_with_crlf) {
    if (retr_size == list_size) return true;
    return ends_with_crlf && retr_size >= 2 && retr_size - 2 == list_size;
}

std::string pop3_identity_of_key(const std::string& key) {
    auto sp = key.find(' ');
    return sp == std::string::npos ? key : key.substr(0, sp);
}

std::string pop3_entry_key(const std::string& identity, const archive::sha256& content,
                           const std::vector<pop3_archived>& archived) {
    bool plain_taken = false;
    for (const auto* v : variants_of(identity, archived)) {
        if (v->content == content) return v->key;
        if (v->key == identity) plain_taken = true;
    }
    return plain_taken ? identity + " sha256:" + content.hex() : identity;
}

const char* pop3_refusal_name(pop3_refusal_reason r) noexcept {
    switch (r) {
        case pop3_refusal_reason::duplicate_uidl: return "duplicate-uidl";
        case pop3_refusal_reason::reused_uidl: return "reused-uidl";
        case pop3_refusal_reason::size_mismatch: return "size-mismatch";
        case pop3_refusal_reason::duplicate_content: return "duplicate-content";
        case pop3_refusal_reason::not_committed: return "not-archived";
        case pop3_refusal_reason::reread_failed: return "reread-failed";
    }
    return "?";
}

pop3_fetch_plan plan_pop3_fetch(const std::vector<pop3_listed>& listed,
                                const std::vector<pop3_archived>& archived,
                                const pop3_policy& policy,
                                const std::map<std::uint32_t, pop3_top_answer>* tops) {
    pop3_fetch_plan p;
    std::map<std::string, std::vector<std::uint32_t>> by_identity;
    for (const auto& m : listed) by_identity[m.identity].push_back(m.msgno);
    for (const auto& [id, msgnos] : by_identity) {
        if (msgnos.size() < 2) continue;
        std::string list;
        for (auto n : msgnos) list += (list.empty() ? "" : ", ") + std::to_string(n);
        p.notes.push_back("UIDL " + id + " is listed for " + std::to_string(msgnos.size()) +
                          " messages (" + list +
                          "): the server's UIDLs are not unique; they are archived but never "
                          "deleted");
    }
    const bool del = deleting(policy);
    for (const auto& m : listed) {
        const bool dup = by_identity[m.identity].size() > 1;
        if (dup)
            p.no_delete[m.msgno] = {m.msgno, m.identity, pop3_refusal_reason::duplicate_uidl,
                                    "UIDL " + m.identity + " is listed more than once"};
        const auto vs = variants_of(m.identity, archived);
        bool fetch = false;
        if (vs.empty()) {
            fetch = true;
            p.fetch_new.push_back(m.msgno);
        } else {
            auto& known = p.known_contents[m.msgno];
            for (const auto* v : vs) known.insert(v->content);
            bool candidate = del && !dup;
            if (candidate && policy.del == config::pop3_delete::older_than)
                candidate = std::any_of(vs.begin(), vs.end(), [&](const pop3_archived* v) {
                    return policy.now - v->first_seen >= policy.older_than_seconds;
                });
            if (candidate) {
                fetch = true;  // deleted only after this session's RETR proves the copy
            } else if (!policy.have_uidl) {
                // The identity is the header hash and size already: nothing more to confirm.
            } else if (!tops) {
                p.top.push_back(m.msgno);
            } else {
                auto it = tops->find(m.msgno);
                const bool top_ok = it != tops->end() && it->second.ok;
                if (!top_ok)
                    p.notes.push_back("TOP " + std::to_string(m.msgno) +
                                      " 0 failed: the identity of " + msg_name(m) +
                                      " is checked by its size only");
                const bool match = std::any_of(vs.begin(), vs.end(), [&](const pop3_archived* v) {
                    return pop3_size_agrees(m.list_size, v->size, true) &&
                           (!top_ok || it->second.same_header.count(v->content) > 0);
                });
                if (!match) {
                    fetch = true;
                    p.no_delete.try_emplace(
                        m.msgno, pop3_refusal{m.msgno, m.identity, pop3_refusal_reason::reused_uidl,
                                              "UIDL " + m.identity +
                                                  " was archived with different content (the "
                                                  "server reused it)"});
                    p.notes.push_back(msg_name(m) +
                                      " does not match the archived copy of that UIDL (header "
                                      "or size differ): the server reused the UIDL; retrieving "
                                      "it as a new message, not deleting it in this session");
                }
            }
        }
        if (fetch) {
            p.fetch.push_back(m.msgno);
            p.fetch_bytes += m.list_size;
        }
    }
    std::sort(p.fetch.begin(), p.fetch.end());
    for (const auto& a : archived)
        if (a.live && !by_identity.count(pop3_identity_of_key(a.key))) p.gone.push_back(a.key);
    return p;
}

std::vector<std::uint32_t> pop3_needs_top_confirmation(
    const std::map<std::uint32_t, pop3_retrieved>& retrieved) {
    std::map<archive::sha256, int> count;
    for (const auto& [n, r] : retrieved)
        if (r.committed) ++count[r.hash];
    std::vector<std::uint32_t> out;
    for (const auto& [n, r] : retrieved)
        if (r.committed && count[r.hash] > 1) out.push_back(n);
    return out;
}

pop3_delete_plan plan_pop3_delete(const std::vector<pop3_listed>& listed,
                                  const std::vector<pop3_archived>& archived,
                                  const pop3_policy& policy, const pop3_fetch_plan& fetched,
                                  const std::map<std::uint32_t, pop3_retrieved>& retrieved) {
    pop3_delete_plan d;
    if (!deleting(policy)) return d;
    std::map<archive::sha256, std::vector<std::uint32_t>> by_hash;
    for (const auto& [n, r] : retrieved)
        if (r.committed) by_hash[r.hash].push_back(n);
    const std::set<std::uint32_t> was_fetched(fetched.fetch.begin(), fetched.fetch.end());
    auto refuse = [&](const pop3_listed& m, pop3_refusal_reason why, std::string detail) {
        d.refusals.push_back({m.msgno, m.identity, why, std::move(detail)});
    };
    for (const auto& m : listed) {
        if (auto nd = fetched.no_delete.find(m.msgno); nd != fetched.no_delete.end()) {
            d.refusals.push_back(nd->second);
            continue;
        }
        auto r = retrieved.find(m.msgno);
        if (r == retrieved.end() || !r->second.committed) {
            // Not a candidate (kept by older_than, confirmed by TOP): not deleted, silently.
            if (was_fetched.count(m.msgno))
                refuse(m, pop3_refusal_reason::not_committed,
                       "its RETR did not complete or was not committed");
            continue;
        }
        const auto& got = r->second;
        if (!pop3_size_agrees(m.list_size, got.size, got.ends_with_crlf)) {
            refuse(m, pop3_refusal_reason::size_mismatch,
                   "RETR returned " + std::to_string(got.size) + " bytes but LIST said " +
                       std::to_string(m.list_size));
            continue;
        }
        if (const auto& same = by_hash[got.hash]; same.size() > 1 && !got.top_confirms) {
            std::string list;
            for (auto n : same) list += (list.empty() ? "" : ", ") + std::to_string(n);
            refuse(m, pop3_refusal_reason::duplicate_content,
                   "RETR returned identical bytes for messages " + list + " and TOP " +
                       std::to_string(m.msgno) +
                       " 0 did not show their header (the server may be answering RETR with "
                       "another message's bytes)");
            continue;
        }
        if (auto k = fetched.known_contents.find(m.msgno);
            k != fetched.known_contents.end() && !k->second.count(got.hash)) {
            refuse(m, pop3_refusal_reason::reused_uidl,
                   "RETR returned other bytes than the copy archived under this UIDL before (the "
                   "server reused it); archived as a new entry, deleted only once a later session "
                   "confirms it");
            continue;
        }
        if (!got.reread_ok) {
            refuse(m, pop3_refusal_reason::reread_failed,
                   "the archived copy did not re-read to the bytes RETR returned");
            continue;
        }
        if (policy.del == config::pop3_delete::older_than) {
            auto e = std::find_if(archived.begin(), archived.end(),
                                  [&](const pop3_archived& a) { return a.key == got.key; });
            if (e == archived.end() || policy.now - e->first_seen < policy.older_than_seconds)
                continue;
        }
        d.dele.push_back({m.msgno, m.identity, got.key, got.hash, got.size});
    }
    return d;
}

}  // namespace mv::sync
