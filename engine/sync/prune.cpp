#include "sync/prune.hpp"

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/archive.hpp"
#include "archive/browser.hpp"
#include "archive/searcher.hpp"
#include "imap/uid_set.hpp"
#include "mailvault/crashpoint.hpp"
#include "mailvault/failure_policy.hpp"
#include "sync/connect.hpp"
#include "sync/planner.hpp"

namespace mv::sync {

namespace {

std::vector<hold_scope> hold_scopes(const std::vector<archive::legal_hold>& holds) {
    std::vector<hold_scope> out;
    for (const auto& h : holds) out.push_back({h.id, h.account_id, h.mailbox_id, h.active()});
    return out;
}

// A failure inside one folder, with what was being done (for the failure policy).
struct folder_failure {
    operation_kind op;
    mv::error err;
};

// Collects the answers to UID FETCH (UID FLAGS [MODSEQ] RFC822.SIZE BODY.PEEK[HEADER]): the
// header literal is hashed as it streams (nothing is kept but the hash), and only a whole
// BODY[HEADER] (no partial origin, the section asked for) counts as an answer.
class answers_sink : public imap::fetch_sink {
public:
    std::map<std::uint32_t, server_answer> got;

    void body_begin(std::uint32_t seq, std::string_view section, std::uint64_t) override {
        cur_seq_ = seq;
        hashing_ = section == "HEADER";
        if (hashing_) hasher_.emplace();
    }
    void body_data(std::string_view b) override {
        if (hashing_) hasher_->update(b);
    }
    void body_end() override {
        if (hashing_) pending_[cur_seq_] = hasher_->final();
        hasher_.reset();
        hashing_ = false;
    }
    void on_fetch(const imap::fetch_attrs& a) override {
        auto hash = pending_.find(a.seq);
        std::optional<archive::sha256> streamed;
        if (hash != pending_.end()) {
            streamed = hash->second;
            pending_.erase(hash);
        }
        if (!a.uid || *a.uid == 0) return;  // unasked or nonsense answers decide nothing
        server_answer s;
        s.flags = a.flags;
        s.modseq = a.modseq;
        s.rfc822_size = a.rfc822_size;
        for (const auto& b : a.bodies) {
            if (b.section != "HEADER" || b.origin || b.nil) continue;
            if (b.streamed && streamed)
                s.header_hash = *streamed;
            else if (!b.streamed)
                s.header_hash = archive::sha256_of(b.data);
        }
        auto [it, fresh] = got.try_emplace(*a.uid, s);
        if (!fresh) merge_answer(it->second, s);
    }

private:
    std::uint32_t cur_seq_ = 0;
    bool hashing_ = false;
    std::optional<archive::sha256_hasher> hasher_;
    std::map<std::uint32_t, archive::sha256> pending_;  // seq -> header hash, until its FETCH
};

class account_prune {
public:
    account_prune(const config::account& acct, shared_archive& ar, const prune_options& opts,
                  prune_report& rep)
        : acct_(acct), ar_(ar), opts_(opts), rep_(rep) {
        now_ = opts.now ? opts.now : static_cast<std::int64_t>(std::time(nullptr));
    }

    void run();

private:
    struct target {
        archive::mailbox_state mbox;
        std::vector<std::size_t> rules;
        std::size_t report = 0;
    };

    void log(const std::string& s) {
        if (opts_.log) opts_.log(acct_.name + ": " + s);
    }
    std::vector<prune_candidate> candidates(const target& t, archive::mailbox_state& fresh);
    // Re-reads and re-hashes each candidate's archived copy.
    std::map<std::uint32_t, archived_check> read_archived(const std::vector<prune_candidate>& in);
    void refuse(prune_folder_report& fr, const planned_refusal& r);
    void check_capabilities(imap_session& s, const std::vector<target>& targets);
    void prune_folder(imap_session& s, const target& t, prune_folder_report& fr);
    // Removes our \Deleted again after a step failed or was found unsafe; audits the outcome.
    // Returns the error of the UID STORE (the flags are then still on the server).
    mv::error undo_deleted(imap::client& c, prune_folder_report& fr, std::uint32_t uidvalidity,
                           const std::vector<std::uint32_t>& uids, const std::string& why,
                           std::vector<std::uint32_t>& cancelled);
    void audit(std::string_view kind, const nlohmann::json& j) {
        ar_.a.audit_append(kind, j.dump());
    }
    // One audit row committed durably on its own, then its crash point.
    void audit_durably(std::string_view kind, const nlohmann::json& j, const char* crash) {
        {
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            audit(kind, j);
            tx.commit(archive::durability::full);
        }
        crash_point(crash);
    }

    const config::account& acct_;
    shared_archive& ar_;
    const prune_options& opts_;
    prune_report& rep_;
    std::int64_t now_ = 0;
    prune_methods methods_;
    std::vector<std::int64_t> query_held_;  // entries under an active hold by query, ascending
};

std::vector<prune_candidate> account_prune::candidates(const target& t,
                                                       archive::mailbox_state& fresh) {
    std::lock_guard lk(ar_.mu);
    auto m = ar_.a.mailbox(t.mbox.id);
    fresh = m ? *m : t.mbox;
    // --query, when deleting: the set taken before the run (the one the dry run showed) and what
    // the query matches now, after this run's sync. A query on what can change on the server
    // (flag:, keyword:, expunged:) must not act on flags from before: a message marked unread
    // since no longer matches `flag:seen` and stays.
    std::optional<std::vector<std::int64_t>> now_matching;
    if (opts_.execute && opts_.only_entries && !opts_.query.empty()) {
        archive::search_request q;
        q.query = opts_.query;
        q.snippets = false;
        now_matching.emplace();
        archive::searcher(ar_.a).each(q, [&](const archive::entry_hit& h) {
            now_matching->push_back(h.entry_id);
            return true;
        });
        std::sort(now_matching->begin(), now_matching->end());
    }
    std::vector<archived_message> msgs;
    ar_.a.for_each_entry(fresh.id, [&](const archive::entry_view& e) {
        if (!e.uid) return;
        if (std::binary_search(query_held_.begin(), query_held_.end(), e.id)) {
            log("UID " + std::to_string(*e.uid) + " in '" + fresh.name +
                "' is under a hold by query: kept");
            return;
        }
        if (opts_.only_entries &&
            !std::binary_search(opts_.only_entries->begin(), opts_.only_entries->end(), e.id))
            return;
        if (now_matching && !std::binary_search(now_matching->begin(), now_matching->end(), e.id)) {
            log("UID " + std::to_string(*e.uid) + " in '" + fresh.name +
                "' no longer matches --query after the sync: kept");
            return;
        }
        msgs.push_back(
            {*e.uid, e.flags, e.internaldate, e.size, e.content, e.expunged_at.has_value()});
    });
    return select_for_prune(opts_.rules, t.rules, msgs, now_);
}

std::map<std::uint32_t, archived_check> account_prune::read_archived(
    const std::vector<prune_candidate>& in) {
    std::map<std::uint32_t, archived_check> out;
    std::lock_guard lk(ar_.mu);
    for (const auto& c : in) {
        archived_check a;
        // Only the header block is kept (to hash it); the rest is counted as it streams.
        std::string head;
        bool head_done = false;
        a.err = ar_.a.read_content(c.msg.content, [&](std::string_view b) {
            a.bytes += b.size();
            if (head_done) return;
            head.append(b);
            if (archive::header_block(head).size() < head.size()) head_done = true;
        });
        a.header_hash = archive::header_hash(head);
        out[c.msg.uid] = std::move(a);
    }
    return out;
}

void account_prune::refuse(prune_folder_report& fr, const planned_refusal& r) {
    fr.refused.push_back(
        {r.uid, r.reason, refusal_kind_name(r.kind), is_verification_refusal(r.kind)});
    log("folder '" + fr.name + "': NOT deleting UID " + std::to_string(r.uid) + ": " + r.reason);
}

void account_prune::check_capabilities(imap_session& s, const std::vector<target>& targets) {
    bool needs_move = false, needs_expunge = false;
    std::set<std::string> trashes;
    for (const auto& t : targets)
        for (auto i : t.rules) {
            prune_candidate probe;
            probe.rule = i;
            if (auto tr = trash_for(probe, opts_.rules, opts_.trash)) {
                needs_move = true;
                trashes.insert(*tr);
            } else {
                needs_expunge = true;
            }
        }
    const auto& caps = s.client->caps();
    methods_ = choose_methods(caps.has("UIDPLUS"), caps.has("MOVE"), needs_move, needs_expunge,
                              opts_.allow_plain_expunge);
    if (methods_.err) {
        std::string names;
        for (const auto& t : trashes) names += (names.empty() ? "" : ", ") + t;
        throw mv::failure(methods_.err.code,
                          account_prefix(acct_) + methods_.err.message +
                              (methods_.move || trashes.empty() ? "" : " (trash: " + names + ")"));
    }
}

void account_prune::run() {
    std::optional<std::int64_t> account_id;
    std::vector<archive::mailbox_state> boxes;
    std::vector<archive::legal_hold> holds;
    {
        std::lock_guard lk(ar_.mu);
        account_id = ar_.a.find_account(acct_.name);
        if (account_id) {
            boxes = ar_.a.mailboxes(*account_id);
            holds = ar_.a.holds();
            query_held_ = archive::browser(ar_.a).query_held_entries();
        }
    }
    if (!account_id)
        throw mv::failure(errc::usage, account_prefix(acct_) +
                                           "nothing archived for this account; run `mailvault "
                                           "sync` first (only archived messages are pruned)");
    const auto scopes = hold_scopes(holds);
    // Every folder messages may be moved to: never pruned by this run.
    std::set<std::string> trash_folders;
    if (opts_.trash) trash_folders.insert(*opts_.trash);
    for (const auto& r : opts_.rules)
        if (r.trash) trash_folders.insert(*r.trash);

    // --- which folders the rules touch, minus those under a legal hold
    std::vector<target> targets;
    for (const auto& m : boxes) {
        const char delim = m.delimiter && !m.delimiter->empty() ? (*m.delimiter)[0] : '\0';
        if (trash_folders.count(m.name)) continue;  // never prune into itself
        target t{m, {}, 0};
        for (std::size_t i = 0; i < opts_.rules.size(); ++i)
            if (rule_covers_folder(opts_.rules[i], acct_.name, m.name, delim)) t.rules.push_back(i);
        if (t.rules.empty()) continue;
        prune_folder_report fr;
        fr.name = m.name;
        fr.uidvalidity = m.uidvalidity;
        if (auto h = covering_hold(scopes, *account_id, m.id)) {
            fr.hold_id = h;
            for (const auto& lh : holds)
                if (lh.id == *h) fr.hold_reason = lh.reason;
            log("folder '" + m.name + "' is under legal hold " + std::to_string(*h) + " (" +
                fr.hold_reason + "): skipped, nothing deleted");
            rep_.folders.push_back(std::move(fr));
            continue;
        }
        t.report = rep_.folders.size();
        rep_.folders.push_back(std::move(fr));
        targets.push_back(std::move(t));
    }

    if (!opts_.execute) {
        // The plan from the archive alone: what the server says is checked when deleting.
        for (auto& t : targets) {
            auto& fr = rep_.folders[t.report];
            archive::mailbox_state fresh;
            auto cands = candidates(t, fresh);
            auto checks = read_archived(cands);
            for (const auto& c : cands) {
                if (auto r = check_archived_copy(c, checks[c.msg.uid])) {
                    refuse(fr, *r);
                    continue;
                }
                fr.planned.push_back(c.msg.uid);
                fr.planned_bytes += c.msg.size;
            }
        }
        return;
    }
    if (targets.empty()) return;

    // --- refuse before anything changes if the server cannot delete exactly our messages
    const std::string password = config::resolve_password(acct_);
    imap_session s = open_imap(acct_, password);
    check_capabilities(s, targets);

    for (auto& t : targets) {
        auto& fr = rep_.folders[t.report];
        // Sync this folder first: the selection and the audit use the server's current state.
        sync_options so;
        so.only_folders = {t.mbox.name};
        auto sr = sync_imap_account(acct_, ar_, so);
        if (sr.err) throw mv::failure(sr.err);
        bool synced = false;
        for (const auto& f : sr.folders) {
            if (f.name != t.mbox.name) continue;
            synced = true;
            if (f.err) fr.err = f.err;
        }
        if (fr.err) {
            log("folder '" + fr.name + "': sync failed (" + fr.err.message + "); not pruned");
            continue;
        }
        if (!synced) {
            fr.err = mv::error(errc::server_no, "folder no longer exists on the server");
            continue;
        }
        try {
            prune_folder(s, t, fr);
        } catch (const folder_failure& f) {
            const auto d = classify_failure(f.op, f.err.code);
            if (d.scope != failure_scope::folder && d.scope != failure_scope::message)
                throw mv::failure(f.err);
            fr.err = f.err;
            log("folder '" + fr.name + "': " + f.err.message);
        }
    }
    s.client->logout();
}

mv::error account_prune::undo_deleted(imap::client& c, prune_folder_report& fr,
                                      std::uint32_t uidvalidity,
                                      const std::vector<std::uint32_t>& uids,
                                      const std::string& why,
                                      std::vector<std::uint32_t>& cancelled) {
    if (uids.empty()) return {};
    crash_point("prune.before_undo_store");
    auto e = c.uid_store(imap::make_uid_set(uids), imap::store_op::remove, {"\\Deleted"}, true,
                         std::nullopt);
    crash_point("prune.after_undo_store");
    if (e) {
        // Our \Deleted stays on messages we decided not to delete: any EXPUNGE by anyone removes
        // them. Record it durably and say exactly what to do.
        audit_durably("prune_undo_failed",
                      {{"account", acct_.name},
                       {"folder", fr.name},
                       {"uidvalidity", uidvalidity},
                       {"uids", compress_uids(uids)},
                       {"reason", why},
                       {"error", e.message},
                       {"time", now_}},
                      "prune.audit_undo_failed");
        return e;
    }
    for (auto u : uids) {
        cancelled.push_back(u);
        fr.refused.push_back({u, why, "cancelled", false});
    }
    return {};
}

void account_prune::prune_folder(imap_session& s, const target& t, prune_folder_report& fr) {
    auto& c = *s.client;
    auto fail = [&](operation_kind op, const mv::error& e, const std::string& what) {
        throw folder_failure{op, mv::error(e.code, account_prefix(acct_) + "folder '" + fr.name +
                                                       "': " + what + ": " + e.message)};
    };
    archive::mailbox_state ms;
    auto cands = candidates(t, ms);
    fr.uidvalidity = ms.uidvalidity;
    if (cands.empty()) return;

    // --- SELECT (read-write: we are going to change it)
    imap::select_request sel;
    sel.mailbox = fr.name;
    sel.condstore = s.condstore && !s.qresync;
    imap::select_result sr;
    if (auto e = c.select(sel, sr)) fail(operation_kind::select, e, "SELECT");
    if (sr.state.read_only)
        fail(operation_kind::select, mv::error(errc::server_no, "the server opened it read-only"),
             "SELECT");
    if (!sr.state.uidvalidity || sr.state.uidvalidity != ms.uidvalidity)
        fail(operation_kind::select,
             mv::error(errc::server_no, "UIDVALIDITY changed since the sync; run it again"),
             "SELECT");
    const std::uint32_t uidvalidity = *sr.state.uidvalidity;
    // Messages changed after the sync have a MODSEQ above the watermark it recorded.
    std::optional<std::uint64_t> since =
        s.condstore && !sr.state.nomodseq ? ms.highestmodseq : std::nullopt;

    // --- the archived copies, re-read and re-hashed now; what this session's server says of
    // each (size, header, flags): the plan decides from both
    auto archived = read_archived(cands);
    answers_sink answers;
    {
        std::vector<std::uint32_t> uids;
        for (const auto& k : cands) uids.push_back(k.msg.uid);
        imap::fetch_request fq;
        for (auto& chunk : chunk_uids(uids, 200)) fq.sets.push_back(imap::make_uid_set(chunk));
        fq.items = since ? "(UID FLAGS MODSEQ RFC822.SIZE BODY.PEEK[HEADER])"
                         : "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])";
        if (auto e = c.uid_fetch(fq, answers)) fail(operation_kind::fetch, e, "UID FETCH");
    }
    const auto plan = plan_deletions(cands, archived, answers.got, since, opts_.rules, opts_.trash);
    for (const auto& r : plan.refused) refuse(fr, r);
    if (plan.remove.empty()) return;

    // Groups: "" = expunge, else the trash folder.
    std::map<std::string, std::vector<std::uint32_t>> groups;
    std::map<std::uint32_t, const planned_deletion*> by_uid;
    for (const auto& d : plan.remove) {
        groups[d.trash.value_or("")].push_back(d.cand.msg.uid);
        by_uid[d.cand.msg.uid] = &d;
    }
    auto method_of = [&](const std::string& group) {
        return group.empty() ? methods_.expunge : std::string("move");
    };
    {
        std::string m;
        for (const auto& [g, u] : groups)
            if (m.find(method_of(g)) == std::string::npos)
                m += (m.empty() ? "" : ",") + method_of(g);
        fr.method = m;
    }

    // --- without UIDPLUS, a plain EXPUNGE is safe only if nobody else marked anything \Deleted
    auto others_deleted = [&](const std::vector<std::uint32_t>& ours) {
        imap::search_result res;
        if (auto e = c.uid_search("DELETED", res))
            fail(operation_kind::search, e, "UID SEARCH DELETED");
        return foreign_deleted(res.ids, ours);
    };
    if (groups.count("") && methods_.expunge == "plain-expunge") {
        auto other = others_deleted(groups[""]);
        if (!other.empty()) {
            fr.err = mv::error(errc::unsupported,
                               "UIDs " + compress_uids(other) +
                                   " are marked \\Deleted by another client and a plain EXPUNGE "
                                   "would remove them too; nothing deleted in this folder");
            log("folder '" + fr.name + "': " + fr.err.message);
            return;
        }
    }

    // --- the record exists, durably, before the server is asked to delete anything
    {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        for (const auto& d : plan.remove) {
            const auto& k = d.cand;
            audit("prune_delete",
                  {{"account", acct_.name},
                   {"folder", fr.name},
                   {"uidvalidity", uidvalidity},
                   {"uid", k.msg.uid},
                   {"sha256", k.msg.content.hex()},
                   {"size", k.msg.size},
                   {"server_size", answers.got[k.msg.uid].rfc822_size.value_or(0)},
                   {"internaldate", k.msg.internaldate.value_or(0)},
                   {"rule", describe_rule(opts_.rules[k.rule])},
                   {"query", opts_.query.empty() ? nlohmann::json() : nlohmann::json(opts_.query)},
                   {"method", method_of(d.trash.value_or(""))},
                   {"trash", d.trash ? nlohmann::json(*d.trash) : nlohmann::json()},
                   {"time", now_}});
        }
        tx.commit(archive::durability::full);
    }
    crash_point("prune.audit_delete");

    std::vector<std::uint32_t> gone, cancelled;
    std::string cancel_reason;
    mv::error step_err;  // a step failed: what is gone so far is still recorded below
    operation_kind step_op = operation_kind::expunge;

    for (const auto& [group, uids] : groups) {
        if (step_err) break;
        if (!group.empty()) {
            crash_point("prune.before_uid_move");
            auto e = c.uid_move(imap::make_uid_set(uids), group);
            crash_point("prune.after_uid_move");
            if (e) {
                step_err = mv::error(e.code, "UID MOVE to '" + group + "': " + e.message);
                continue;
            }
            gone.insert(gone.end(), uids.begin(), uids.end());
            continue;
        }
        std::set<std::uint32_t> ours(uids.begin(), uids.end());
        imap::uid_set modified;
        crash_point("prune.before_store_deleted");
        auto e = c.uid_store(imap::make_uid_set(uids), imap::store_op::add, {"\\Deleted"}, true,
                             since, &modified);
        crash_point("prune.after_store_deleted");
        // Test our UIDs against the server's MODIFIED set; never expand() it ("1:4294967295").
        for (auto u : uids) {
            if (modified.contains(u) && ours.erase(u)) {
                cancelled.push_back(u);
                fr.refused.push_back(
                    {u, "changed on the server meanwhile (UNCHANGEDSINCE)", "changed", false});
                cancel_reason = "changed on the server meanwhile (UNCHANGEDSINCE)";
            }
        }
        std::vector<std::uint32_t> mine(ours.begin(), ours.end());
        if (e) {
            step_op = operation_kind::store;
            step_err = mv::error(e.code, "UID STORE: " + e.message);
            // Some may carry our \Deleted now: take it back.
            if (auto u = undo_deleted(c, fr, uidvalidity, mine, "UID STORE failed: " + e.message,
                                      cancelled))
                step_err = mv::error(u.code, "UID STORE failed (" + e.message +
                                                 ") and removing our \\Deleted again failed too (" +
                                                 u.message + "): UIDs " + compress_uids(mine) +
                                                 " may still be marked \\Deleted on the server");
            continue;
        }
        if (mine.empty()) continue;
        if (methods_.expunge == "uid-expunge") {
            crash_point("prune.before_uid_expunge");
            auto x = c.uid_expunge(imap::make_uid_set(mine));
            crash_point("prune.after_uid_expunge");
            if (x) {
                step_err = mv::error(x.code, "UID EXPUNGE: " + x.message);
                if (auto u = undo_deleted(c, fr, uidvalidity, mine,
                                          "UID EXPUNGE failed: " + x.message, cancelled))
                    step_err =
                        mv::error(u.code, "UID EXPUNGE failed (" + x.message +
                                              ") and removing our \\Deleted again failed too (" +
                                              u.message + "): UIDs " + compress_uids(mine) +
                                              " are still marked \\Deleted on the server");
                continue;
            }
            gone.insert(gone.end(), mine.begin(), mine.end());
            continue;
        }
        // plain EXPUNGE: look again, now that ours are marked
        imap::search_result res;
        if (auto se = c.uid_search("DELETED", res)) {
            step_op = operation_kind::search;
            step_err = mv::error(se.code, "UID SEARCH DELETED: " + se.message);
            if (auto u = undo_deleted(c, fr, uidvalidity, mine,
                                      "UID SEARCH DELETED failed: " + se.message, cancelled))
                step_err = mv::error(u.code, "UID SEARCH DELETED failed (" + se.message +
                                                 ") and removing our \\Deleted again failed too (" +
                                                 u.message + "): UIDs " + compress_uids(mine) +
                                                 " are still marked \\Deleted on the server");
            continue;
        }
        auto other = foreign_deleted(res.ids, mine);
        if (!other.empty()) {
            // Someone marked a message meanwhile: undo ours and leave the folder alone.
            const std::string why = "another client marked UIDs " + compress_uids(other) +
                                    " \\Deleted; plain EXPUNGE not safe";
            if (auto u = undo_deleted(c, fr, uidvalidity, mine, why, cancelled)) {
                step_op = operation_kind::store;
                step_err = mv::error(
                    u.code, why + "; removing our \\Deleted again failed (" + u.message +
                                "): UIDs " + compress_uids(mine) +
                                " are still marked \\Deleted on the server; remove the flag "
                                "(UID STORE " +
                                compress_uids(mine) +
                                " -FLAGS (\\Deleted)) before anyone expunges");
            } else {
                cancel_reason = why;
                fr.err = mv::error(errc::unsupported, why + "; nothing deleted in this folder");
            }
            continue;
        }
        crash_point("prune.before_expunge");
        auto x = c.expunge();
        crash_point("prune.after_expunge");
        if (x) {
            step_err = mv::error(x.code, "EXPUNGE: " + x.message);
            if (auto u = undo_deleted(c, fr, uidvalidity, mine, "EXPUNGE failed: " + x.message,
                                      cancelled))
                step_err = mv::error(u.code, "EXPUNGE failed (" + x.message +
                                                 ") and removing our \\Deleted again failed too (" +
                                                 u.message + "): UIDs " + compress_uids(mine) +
                                                 " may still be marked \\Deleted on the server");
            continue;
        }
        gone.insert(gone.end(), mine.begin(), mine.end());
    }

    // --- gone from the server: still archived, marked expunged
    std::sort(gone.begin(), gone.end());
    for (auto u : gone) fr.deleted_bytes += by_uid[u]->cand.msg.size;
    fr.deleted = gone;
    {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        if (!gone.empty()) ar_.a.mark_expunged(ms.id, gone);
        for (auto u : cancelled)
            audit("prune_cancelled", {{"account", acct_.name},
                                      {"folder", fr.name},
                                      {"uidvalidity", uidvalidity},
                                      {"uid", u},
                                      {"reason", cancel_reason},
                                      {"time", now_}});
        audit("prune_folder",
              {{"account", acct_.name},
               {"folder", fr.name},
               {"uidvalidity", uidvalidity},
               {"method", fr.method},
               {"deleted", gone.size()},
               {"uids", compress_uids(gone)},
               {"bytes", fr.deleted_bytes},
               {"trash", opts_.trash ? nlohmann::json(*opts_.trash) : nlohmann::json()},
               {"error", step_err ? nlohmann::json(step_err.message) : nlohmann::json()},
               {"time", now_}});
        tx.commit(archive::durability::full);
    }
    crash_point("prune.folder_commit");
    if (step_err) fail(step_op, step_err, "not finished");
    log("folder '" + fr.name + "': " + std::to_string(gone.size()) + " messages deleted (" +
        fr.method + ")");
}

}  // namespace

prune_report prune_imap_account(const config::account& acct, shared_archive& ar,
                                const prune_options& opts) {
    prune_report rep;
    rep.account = acct.name;
    if (acct.protocol != config::protocol::imap) {
        rep.err = mv::error(errc::usage, account_prefix(acct) +
                                             "prune works on IMAP accounts; POP3 deletion is "
                                             "the account's `delete` setting");
        return rep;
    }
    account_prune p(acct, ar, opts, rep);
    try {
        p.run();
    } catch (const mv::failure& f) {
        rep.err = f.err;
    } catch (const folder_failure& f) {
        rep.err = f.err;
    }
    return rep;
}

}  // namespace mv::sync
