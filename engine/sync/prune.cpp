#include "sync/prune.hpp"

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/archive.hpp"
#include "imap/uid_set.hpp"
#include "sync/connect.hpp"
#include "sync/planner.hpp"

namespace mv::sync {

namespace {

std::vector<hold_scope> hold_scopes(const std::vector<archive::legal_hold>& holds) {
    std::vector<hold_scope> out;
    for (const auto& h : holds) out.push_back({h.id, h.account_id, h.mailbox_id, h.active()});
    return out;
}

// Collects (UID FLAGS MODSEQ) answers.
class attrs_sink : public imap::fetch_sink {
public:
    std::map<std::uint32_t, imap::fetch_attrs> got;
    void body_begin(std::uint32_t, std::string_view, std::uint64_t) override {}
    void body_data(std::string_view) override {}
    void body_end() override {}
    void on_fetch(const imap::fetch_attrs& a) override {
        if (a.uid) got[*a.uid] = a;
    }
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
    // Re-reads and re-hashes each candidate's archived copy; returns those that passed.
    std::vector<prune_candidate> verify(std::vector<prune_candidate> in, prune_folder_report& fr);
    void check_capabilities(imap_session& s);
    void prune_folder(imap_session& s, const target& t, prune_folder_report& fr);
    void audit(std::string_view kind, const nlohmann::json& j) {
        ar_.a.audit_append(kind, j.dump());
    }

    const config::account& acct_;
    shared_archive& ar_;
    const prune_options& opts_;
    prune_report& rep_;
    std::int64_t now_ = 0;
    std::string method_;
};

std::vector<prune_candidate> account_prune::candidates(const target& t,
                                                       archive::mailbox_state& fresh) {
    std::lock_guard lk(ar_.mu);
    auto m = ar_.a.mailbox(t.mbox.id);
    fresh = m ? *m : t.mbox;
    std::vector<archived_message> msgs;
    ar_.a.for_each_entry(fresh.id, [&](const archive::entry_view& e) {
        if (!e.uid) return;
        msgs.push_back(
            {*e.uid, e.flags, e.internaldate, e.size, e.content, e.expunged_at.has_value()});
    });
    return select_for_prune(opts_.rules, t.rules, msgs, now_);
}

std::vector<prune_candidate> account_prune::verify(std::vector<prune_candidate> in,
                                                   prune_folder_report& fr) {
    std::vector<prune_candidate> ok;
    std::lock_guard lk(ar_.mu);
    for (auto& c : in) {
        std::uint64_t n = 0;
        auto e = ar_.a.read_content(c.msg.content, [&](std::string_view b) { n += b.size(); });
        std::string why;
        if (e)
            why = "archived copy failed verification: " + e.message;
        else if (n != c.msg.size)
            why = "archived copy has " + std::to_string(n) + " bytes, the server reported " +
                  std::to_string(c.msg.size);
        if (!why.empty()) {
            fr.refused.push_back({c.msg.uid, why});
            log("folder '" + fr.name + "': not deleting UID " + std::to_string(c.msg.uid) + ": " +
                why);
            continue;
        }
        ok.push_back(std::move(c));
    }
    return ok;
}

void account_prune::check_capabilities(imap_session& s) {
    const auto& caps = s.client->caps();
    if (opts_.trash) {
        if (!caps.has("MOVE"))
            throw mv::failure(errc::unsupported, account_prefix(acct_) +
                                                     "the server does not offer MOVE, so --trash " +
                                                     *opts_.trash +
                                                     " cannot be used; nothing was deleted");
        method_ = "move";
    } else if (caps.has("UIDPLUS")) {
        method_ = "uid-expunge";
    } else if (opts_.allow_plain_expunge) {
        method_ = "plain-expunge";
    } else {
        throw mv::failure(
            errc::unsupported,
            account_prefix(acct_) +
                "the server does not offer UIDPLUS: a plain EXPUNGE could remove messages "
                "another client marked \\Deleted; refusing to prune (use --trash FOLDER to move "
                "them to a trash folder, or --allow-plain-expunge); nothing was deleted");
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
        }
    }
    if (!account_id)
        throw mv::failure(errc::usage, account_prefix(acct_) +
                                           "nothing archived for this account; run `mailvault "
                                           "sync` first (only archived messages are pruned)");
    const auto scopes = hold_scopes(holds);

    // --- which folders the rules touch, minus those under a legal hold
    std::vector<target> targets;
    for (const auto& m : boxes) {
        const char delim = m.delimiter && !m.delimiter->empty() ? (*m.delimiter)[0] : '\0';
        if (opts_.trash && m.name == *opts_.trash) continue;  // never prune into itself
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
        for (auto& t : targets) {
            auto& fr = rep_.folders[t.report];
            archive::mailbox_state fresh;
            auto ok = verify(candidates(t, fresh), fr);
            for (const auto& c : ok) {
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
    check_capabilities(s);

    for (auto& t : targets) {
        auto& fr = rep_.folders[t.report];
        fr.method = method_;
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
        } catch (const mv::failure& f) {
            if (f.err.code != errc::server_no && f.err.code != errc::server_bad &&
                f.err.code != errc::unsupported)
                throw;
            fr.err = f.err;
            log("folder '" + fr.name + "': " + f.err.message);
        }
    }
    s.client->logout();
}

void account_prune::prune_folder(imap_session& s, const target& t, prune_folder_report& fr) {
    auto& c = *s.client;
    auto fail = [&](const mv::error& e, const std::string& what) {
        throw mv::failure(
            e.code, account_prefix(acct_) + "folder '" + fr.name + "': " + what + ": " + e.message);
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
    if (auto e = c.select(sel, sr)) fail(e, "SELECT");
    if (sr.state.read_only)
        fail(mv::error(errc::server_no, "the server opened it read-only"), "SELECT");
    if (!sr.state.uidvalidity || sr.state.uidvalidity != ms.uidvalidity)
        fail(mv::error(errc::server_no, "UIDVALIDITY changed since the sync; run it again"),
             "SELECT");
    const std::uint32_t uidvalidity = *sr.state.uidvalidity;
    // Messages changed after the sync have a MODSEQ above the watermark it recorded.
    std::optional<std::uint64_t> since =
        s.condstore && !sr.state.nomodseq ? ms.highestmodseq : std::nullopt;

    // --- the archived copies, re-read and re-hashed now
    cands = verify(std::move(cands), fr);
    if (cands.empty()) return;

    // --- drop what changed on the server since the sync, or is gone
    {
        std::vector<std::uint32_t> uids;
        for (const auto& k : cands) uids.push_back(k.msg.uid);
        attrs_sink sink;
        imap::fetch_request fq;
        fq.sets = {imap::make_uid_set(uids)};
        fq.items = since ? "(UID FLAGS MODSEQ)" : "(UID FLAGS)";
        if (auto e = c.uid_fetch(fq, sink)) fail(e, "UID FETCH FLAGS");
        std::vector<prune_candidate> keep;
        for (auto& k : cands) {
            auto it = sink.got.find(k.msg.uid);
            std::string why;
            if (it == sink.got.end())
                why = "no longer on the server";
            else if (since && it->second.modseq && *it->second.modseq > *since)
                why = "changed on the server since the sync (MODSEQ)";
            else if (it->second.flags &&
                     archive::canonical_flags(persistent_flags(*it->second.flags)) != k.msg.flags)
                why = "flags changed on the server since the sync";
            if (!why.empty()) {
                fr.refused.push_back({k.msg.uid, why});
                log("folder '" + fr.name + "': not deleting UID " + std::to_string(k.msg.uid) +
                    ": " + why);
                continue;
            }
            keep.push_back(std::move(k));
        }
        cands = std::move(keep);
    }
    if (cands.empty()) return;
    std::set<std::uint32_t> ours;
    for (const auto& k : cands) ours.insert(k.msg.uid);

    // --- without UIDPLUS, a plain EXPUNGE is safe only if nobody else marked anything \Deleted
    auto others_deleted = [&]() -> std::vector<std::uint32_t> {
        imap::search_result res;
        if (auto e = c.uid_search("DELETED", res)) fail(e, "UID SEARCH DELETED");
        std::vector<std::uint32_t> other;
        for (auto u : res.ids)
            if (!ours.count(u)) other.push_back(u);
        return other;
    };
    if (method_ == "plain-expunge") {
        auto other = others_deleted();
        if (!other.empty()) {
            fail(mv::error(errc::unsupported,
                           "UIDs " + compress_uids(other) +
                               " are marked \\Deleted by another client and a plain EXPUNGE "
                               "would remove them too; nothing deleted in this folder"),
                 "refused");
        }
    }

    // --- the record exists, durably, before the server is asked to delete anything
    {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        for (const auto& k : cands)
            audit("prune_delete", {{"account", acct_.name},
                                   {"folder", fr.name},
                                   {"uidvalidity", uidvalidity},
                                   {"uid", k.msg.uid},
                                   {"sha256", k.msg.content.hex()},
                                   {"size", k.msg.size},
                                   {"internaldate", k.msg.internaldate.value_or(0)},
                                   {"rule", describe_rule(opts_.rules[k.rule])},
                                   {"method", method_},
                                   {"time", now_}});
        tx.commit(archive::durability::full);
    }
    std::vector<std::uint32_t> cancelled;
    std::string cancel_reason;
    auto uidset = [&] {
        return imap::make_uid_set(std::vector<std::uint32_t>(ours.begin(), ours.end()));
    };

    if (method_ == "move") {
        if (auto e = c.uid_move(uidset(), *opts_.trash)) fail(e, "UID MOVE");
    } else {
        imap::uid_set modified;
        if (auto e =
                c.uid_store(uidset(), imap::store_op::add, {"\\Deleted"}, true, since, &modified))
            fail(e, "UID STORE");
        for (auto u : modified.expand()) {
            if (ours.erase(u)) {
                cancelled.push_back(u);
                fr.refused.push_back({u, "changed on the server meanwhile (UNCHANGEDSINCE)"});
            }
        }
        cancel_reason = "changed on the server meanwhile (UNCHANGEDSINCE)";
        if (method_ == "uid-expunge") {
            if (!ours.empty())
                if (auto e = c.uid_expunge(uidset())) fail(e, "UID EXPUNGE");
        } else {
            auto other = others_deleted();
            if (!other.empty()) {
                // Someone marked a message meanwhile: undo ours and leave the folder alone.
                c.uid_store(uidset(), imap::store_op::remove, {"\\Deleted"}, true, std::nullopt);
                for (auto u : ours) {
                    cancelled.push_back(u);
                    fr.refused.push_back({u, "another client marked messages \\Deleted"});
                }
                ours.clear();
                cancel_reason = "another client marked UIDs " + compress_uids(other) +
                                " \\Deleted; plain EXPUNGE not safe";
            } else if (!ours.empty()) {
                if (auto e = c.expunge()) fail(e, "EXPUNGE");
            }
        }
    }

    // --- gone from the server: still archived, marked expunged
    std::vector<std::uint32_t> gone(ours.begin(), ours.end());
    for (const auto& k : cands)
        if (ours.count(k.msg.uid)) fr.deleted_bytes += k.msg.size;
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
               {"method", method_},
               {"deleted", gone.size()},
               {"uids", compress_uids(gone)},
               {"bytes", fr.deleted_bytes},
               {"trash", opts_.trash ? nlohmann::json(*opts_.trash) : nlohmann::json()},
               {"time", now_}});
        tx.commit(archive::durability::full);
    }
    log("folder '" + fr.name + "': " + std::to_string(gone.size()) + " messages deleted (" +
        method_ + ")");
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
    }
    return rep;
}

}  // namespace mv::sync
