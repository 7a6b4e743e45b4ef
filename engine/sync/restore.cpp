#include "sync/restore.hpp"

#include <map>
#include <mutex>
#include <set>

#include "archive/archive.hpp"
#include "archive/ledger.hpp"
#include "imap/uid_set.hpp"
#include "imap/writer.hpp"
#include "mailvault/crashpoint.hpp"

namespace mv::sync {

bool restore_report::anything_skipped() const {
    for (const auto& f : folders)
        if (f.err || !f.skipped.empty() || !f.dropped_keywords.empty()) return true;
    return false;
}

bool restore_report::verify_failed() const {
    for (const auto& f : folders)
        if (!f.verify_problems.empty()) return true;
    return false;
}

namespace {

// Collects UID, RFC822.SIZE, INTERNALDATE and, when BODY.PEEK[] was asked for, the SHA-256 of
// the whole body as it streams (nothing of it is kept).
class candidate_sink : public imap::fetch_sink {
public:
    std::map<std::uint32_t, target_candidate> got;

    void section_begin(std::uint32_t seq, const imap::section_ref& s, std::uint64_t) override {
        seq_ = seq;
        hashing_ = s.whole_message() && !s.binary;
        if (hashing_) hasher_.emplace();
    }
    void body_data(std::string_view b) override {
        if (hashing_) hasher_->update(b);
    }
    void body_end() override {
        if (hashing_) pending_[seq_] = hasher_->final();
        hasher_.reset();
        hashing_ = false;
    }
    void on_fetch(const imap::fetch_attrs& a) override {
        std::optional<archive::sha256> streamed;
        if (auto h = pending_.find(a.seq); h != pending_.end()) {
            streamed = h->second;
            pending_.erase(h);
        }
        if (!a.uid || *a.uid == 0) return;
        auto& c = got[*a.uid];
        c.uid = *a.uid;
        if (a.rfc822_size) c.size = a.rfc822_size;
        if (a.internaldate) c.internaldate = a.internaldate;
        for (const auto& b : a.bodies) {
            if (!b.section.empty() || b.origin || b.nil) continue;
            if (b.streamed && streamed)
                c.hash = *streamed;
            else if (!b.streamed)
                c.hash = archive::sha256_of(b.data);
        }
    }

private:
    std::uint32_t seq_ = 0;
    bool hashing_ = false;
    std::optional<archive::sha256_hasher> hasher_;
    std::map<std::uint32_t, archive::sha256> pending_;
};

bool contains_code(const mv::error& e, std::string_view code) {
    return e.message.find("[" + std::string(code)) != std::string::npos;
}

std::optional<std::uint64_t> append_limit(const imap::capabilities& caps) {
    for (const auto& c : caps.items) {
        if (c.rfind("APPENDLIMIT=", 0) != 0) continue;
        try {
            return std::stoull(c.substr(12));
        } catch (...) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

struct source_folder {
    std::string account;
    archive::mailbox_state mb;
};

struct pending_confirm {
    std::int64_t entry_id = 0;
    archive::sha256 content;
    std::optional<std::uint32_t> uidvalidity, uid;
};

class restorer {
public:
    restorer(const config::account& target, shared_archive& ar, const restore_options& opts,
             imap::client& c, restore_report& rep)
        : target_(target), ar_(ar), opts_(opts), c_(c), rep_(rep), ledger_(ar.a) {}

    std::string prefix;
    char delim = 0;
    std::set<std::string> existing;  // UTF-8 names on the target
    std::optional<std::uint64_t> limit;

    // false: the connection is gone (account error set).
    bool folder(const source_folder& src) {
        restore_folder_report fr;
        fr.source_account = src.account;
        fr.source_folder = src.mb.name;
        const char sdelim =
            src.mb.delimiter && !src.mb.delimiter->empty() ? (*src.mb.delimiter)[0] : char(0);
        auto tn = map_folder_name(src.mb.name, sdelim, opts_.maps, prefix, delim);
        fr.target_folder = tn.name;
        fr.note = tn.note;
        name_ = tn.name;

        std::vector<restore_item> items;
        std::vector<std::string> flags;
        uids_.clear();
        // Restoring into the account the folder came from: the same folder (same name, same
        // UIDVALIDITY) still holds what its UIDs say; anywhere else in that account, every
        // message is looked up before it is appended.
        in_place_ = src.account == target_.name;
        same_folder_ = in_place_ && tn.name == src.mb.name;
        source_uidvalidity_ = src.mb.uidvalidity;
        {
            std::lock_guard lk(ar_.mu);
            std::map<std::int64_t, std::int64_t> first_seen;
            if (opts_.as_of) {
                archive::entry_filter ef;
                ef.account = src.account;
                ef.mailbox = src.mb.wire_name;
                for (const auto& r : ar_.a.purge_rows(ef))
                    if (r.mailbox_id == src.mb.id) first_seen[r.entry_id] = r.first_seen;
            }
            ar_.a.for_each_entry(src.mb.id, [&](const archive::entry_view& e) {
                if (opts_.as_of) {
                    auto fs = first_seen.find(e.id);
                    if (fs == first_seen.end() ||
                        !present_at(fs->second, e.expunged_at, *opts_.as_of))
                        return;
                } else if (opts_.exclude_expunged && e.expunged_at) {
                    return;
                }
                items.push_back({e.id, e.content, e.size, e.internaldate});
                flags.push_back(e.flags);
                uids_.push_back(e.uid);
            });
        }
        fr.entries = static_cast<std::int64_t>(items.size());
        bool ok = run_folder(fr, items, flags);
        if (opts_.log) {
            std::string line = src.account + "/" + src.mb.name + " -> " + fr.target_folder + ": ";
            if (opts_.dry_run)
                line += std::to_string(fr.would_append) + " to append, " +
                        std::to_string(fr.to_resolve) + " to look up, " +
                        std::to_string(fr.already) + " already there";
            else
                line += std::to_string(fr.appended) + " appended, " +
                        std::to_string(fr.already + fr.matched) + " already there, " +
                        std::to_string(fr.skipped.size()) + " skipped";
            if (fr.err) line += "; error: " + fr.err.message;
            opts_.log(line);
        }
        rep_.folders.push_back(std::move(fr));
        return ok;
    }

private:
    bool fail_account(const mv::error& e) {
        if (!rep_.err) rep_.err = e;
        return false;
    }

    bool is_existing(const std::string& n) const {
        if (existing.count(n)) return true;
        if (n.size() == 5) {
            std::string up;
            for (char ch : n) up += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
            return up == "INBOX";
        }
        return false;
    }

    bool run_folder(restore_folder_report& fr, const std::vector<restore_item>& items,
                    const std::vector<std::string>& flags) {
        std::vector<archive::ledger_row> rows;
        {
            std::lock_guard lk(ar_.mu);
            rows = ledger_.rows(target_.name, name_);
        }
        if (!is_existing(name_)) {
            if (opts_.dry_run) {
                count_dry(fr, items, plan_restore_folder(items, rows, std::nullopt, limit));
                return true;
            }
            if (auto e = c_.create(name_)) {
                fr.err =
                    mv::error(e.code, "cannot create '" + name_ + "' on the target: " + e.message);
                return c_.usable() || fail_account(e);
            }
            fr.created = true;
            existing.insert(name_);
        }
        imap::select_request sr;
        sr.mailbox = name_;
        sr.read_only = opts_.dry_run;
        imap::select_result res;
        if (auto e = c_.select(sr, res)) {
            fr.err = e;
            return c_.usable() || fail_account(e);
        }
        uidvalidity_ = res.state.uidvalidity;
        fr.target_uidvalidity = uidvalidity_;
        permanent_ = res.state.permanent_flags;
        permanent_known_ = !permanent_.empty();
        auto plan = plan_restore_folder(items, rows, uidvalidity_, limit);
        if (opts_.dry_run) {
            count_dry(fr, items, plan);
            return true;
        }
        if (in_place_) {
            const bool same_generation =
                same_folder_ && source_uidvalidity_ && source_uidvalidity_ == uidvalidity_;
            std::set<std::uint32_t> live;
            if (same_generation) {
                imap::search_result all;
                if (auto e = c_.uid_search("ALL", all)) {
                    fr.err = e;
                    return c_.usable() || fail_account(e);
                }
                live.insert(all.ids.begin(), all.ids.end());
            }
            std::map<std::int64_t, const archive::ledger_row*> row_of;
            for (const auto& r : rows) row_of[r.entry_id] = &r;
            for (auto& p : plan) {
                if (p.action == restore_action::skip_too_big) continue;
                const auto& it = items[p.index];
                if (!same_generation) {
                    if (p.action == restore_action::append) {
                        p.action = restore_action::resolve;
                        p.reason = "restoring into the source account: look before appending";
                    }
                    continue;
                }
                // The same folder: what is gone from it comes back, whatever the ledger says.
                const auto uid = uids_[p.index];
                std::optional<std::uint32_t> ours;
                if (auto r = row_of.find(it.entry_id);
                    r != row_of.end() && r->second->target_uid &&
                    r->second->target_uidvalidity == uidvalidity_)
                    ours = r->second->target_uid;
                const bool here = (uid && live.count(*uid)) || (ours && live.count(*ours));
                if (here) {
                    if (p.action == restore_action::already) continue;
                    p.action = restore_action::already;
                    p.reason = "still on the server under its UID";
                    batch_.push_back({it.entry_id, it.content, uidvalidity_,
                                      uid && live.count(*uid) ? uid : ours});
                } else if (p.action == restore_action::already) {
                    p.action = restore_action::append;  // deleted since: put it back
                }
            }
        }
        claimed_.clear();
        for (const auto& r : rows)
            if (r.state == archive::ledger_state::confirmed && r.target_uid &&
                r.target_uidvalidity == uidvalidity_)
                claimed_.insert(*r.target_uid);
        for (const auto& b : batch_)
            if (b.uid) claimed_.insert(*b.uid);
        bool alive = true;
        for (const auto& p : plan) {
            const auto& it = items[p.index];
            if (p.action == restore_action::already) {
                // With a reason: found on the server in place (counted as matched).
                if (p.reason.empty())
                    ++fr.already;
                else
                    ++fr.matched;
                continue;
            }
            if (p.action == restore_action::skip_too_big) {
                fr.skipped.push_back({it.entry_id, p.reason});
                continue;
            }
            std::string msg;
            {
                std::lock_guard lk(ar_.mu);
                if (auto e = ar_.a.read_content(it.content, msg)) {
                    fr.skipped.push_back({it.entry_id, "archived copy unreadable: " + e.message});
                    continue;
                }
            }
            if (p.action == restore_action::resolve) {
                std::optional<std::uint32_t> uid;
                mv::error e = resolve(it, msg, uid);
                if (e) {
                    fr.err = mv::error(e.code, "looking up entry " + std::to_string(it.entry_id) +
                                                   " on the target: " + e.message);
                    alive = c_.usable() || fail_account(e);
                    break;  // never append blindly
                }
                if (uid) {
                    ++fr.matched;
                    claimed_.insert(*uid);
                    batch_.push_back({it.entry_id, it.content, uidvalidity_, uid});
                    if (batch_.size() >= opts_.confirm_batch) flush();
                    continue;
                }
            }
            if (!append_one(fr, it, flags[p.index], msg)) {
                alive = false;
                break;
            }
        }
        flush();
        if (alive && !fr.err && opts_.verify) {
            if (auto e = verify(fr)) {
                fr.err = mv::error(e.code, "verifying the target copy: " + e.message);
                alive = c_.usable() || fail_account(e);
            }
        }
        return alive;
    }

    mv::error verify(restore_folder_report& fr) {
        std::vector<archive::ledger_row> rows;
        {
            std::lock_guard lk(ar_.mu);
            rows = ledger_.rows(target_.name, name_);
        }
        std::map<std::uint32_t, const archive::ledger_row*> by_uid;
        for (const auto& r : rows) {
            if (r.state != archive::ledger_state::confirmed) continue;
            if (!r.target_uid || r.target_uidvalidity != uidvalidity_) {
                ++fr.unverifiable;
                continue;
            }
            by_uid[*r.target_uid] = &r;
        }
        if (by_uid.empty()) return {};
        std::vector<std::uint32_t> uids;
        for (auto& [u, r] : by_uid) uids.push_back(u);
        candidate_sink sink;
        imap::fetch_request req;
        req.sets = {imap::make_uid_set(uids)};
        req.items = "(UID BODY.PEEK[])";
        if (auto e = c_.uid_fetch(req, sink)) return e;
        for (auto& [u, r] : by_uid) {
            auto got = sink.got.find(u);
            if (got == sink.got.end() || !got->second.hash)
                fr.verify_problems.push_back("entry " + std::to_string(r->entry_id) + ": UID " +
                                             std::to_string(u) + " is not on the target");
            else if (*got->second.hash != r->content)
                fr.verify_problems.push_back("entry " + std::to_string(r->entry_id) + ": UID " +
                                             std::to_string(u) +
                                             " on the target has other bytes than the archive");
            else
                ++fr.verified;
        }
        return {};
    }

    void count_dry(restore_folder_report& fr, const std::vector<restore_item>& items,
                   const std::vector<planned_item>& plan) {
        for (const auto& p : plan) {
            switch (p.action) {
                case restore_action::append: ++fr.would_append; break;
                case restore_action::already: ++fr.already; break;
                case restore_action::resolve: ++fr.to_resolve; break;
                case restore_action::skip_too_big:
                    fr.skipped.push_back({items[p.index].entry_id, p.reason});
                    break;
            }
        }
    }

    // Looks for an earlier APPEND of `it` on the target: uid set when found.
    mv::error resolve(const restore_item& it, std::string_view msg,
                      std::optional<std::uint32_t>& uid) {
        uid.reset();
        const auto mid = header_message_id(msg);
        const auto criteria = resolve_search_criteria(mid, it.size);
        const bool by_id = criteria.rfind("HEADER", 0) == 0;
        imap::search_result sres;
        if (auto e = c_.uid_search(criteria, sres)) return e;
        std::vector<std::uint32_t> ids;
        for (auto u : sres.ids)
            if (!claimed_.count(u)) ids.push_back(u);
        if (ids.empty()) return {};
        candidate_sink sink;
        imap::fetch_request fr;
        fr.sets = {imap::make_uid_set(ids)};
        fr.items = "(UID RFC822.SIZE INTERNALDATE)";
        if (auto e = c_.uid_fetch(fr, sink)) return e;
        std::vector<target_candidate> cands;
        for (auto& [u, c] : sink.got) cands.push_back(c);
        auto m = match_on_target(it, cands, claimed_);
        // Found by size alone (no usable Message-ID): make it certain with the hash.
        if (m.k == match_result::kind::found && !by_id) {
            m.k = match_result::kind::need_hash;
            m.ask = {m.uid};
        }
        if (m.k == match_result::kind::need_hash) {
            candidate_sink hs;
            imap::fetch_request hr;
            hr.sets = {imap::make_uid_set(m.ask)};
            hr.items = "(UID BODY.PEEK[])";
            if (auto e = c_.uid_fetch(hr, hs)) return e;
            for (auto& c : cands)
                if (auto h = hs.got.find(c.uid); h != hs.got.end() && h->second.hash)
                    c.hash = h->second.hash;
            // Asked but no hash came back: that candidate is not ours.
            std::vector<target_candidate> hashed;
            for (auto& c : cands)
                if (c.hash) hashed.push_back(c);
            m = match_on_target(it, hashed, claimed_);
        }
        if (m.k == match_result::kind::found) uid = m.uid;
        return {};
    }

    // false: the connection is gone.
    bool append_one(restore_folder_report& fr, const restore_item& it, const std::string& canonical,
                    const std::string& msg) {
        auto fp = plan_flags(archive::split_flags(canonical), permanent_, permanent_known_,
                             opts_.include_deleted);
        for (const auto& k : fp.refused)
            fr.dropped_keywords.push_back("entry " + std::to_string(it.entry_id) + ": " + k);
        {
            std::lock_guard lk(ar_.mu);
            ledger_.record_intent(target_.name, name_, it.entry_id, it.content, uidvalidity_);
        }
        mv::crash_point("restore.intent");
        imap::append_request req;
        req.mailbox = name_;
        req.flags = fp.send;
        req.internaldate = it.internaldate;
        req.message = msg;
        std::optional<imap::appenduid_info> au;
        ++rep_.appends;
        auto e = c_.append(req, &au);
        const bool too_big = e && (contains_code(e, "TOOBIG") || contains_code(e, "LIMIT"));
        if (e && c_.usable() && e.code == errc::server_no && !too_big) {
            // A keyword the target refuses: once more with system flags only.
            std::vector<std::string> system;
            std::vector<std::string> keywords;
            for (const auto& f : fp.send) (f[0] == '\\' ? system : keywords).push_back(f);
            if (!keywords.empty()) {
                req.flags = system;
                ++rep_.appends;
                au.reset();
                auto e2 = c_.append(req, &au);
                if (!e2) {
                    for (const auto& k : keywords)
                        fr.dropped_keywords.push_back("entry " + std::to_string(it.entry_id) +
                                                      ": " + k + " (" + e.message + ")");
                }
                e = e2;
            }
        }
        if (e) {
            if (!c_.usable()) {
                // The intent stays: the next run looks on the target before appending again.
                fr.err = e;
                return fail_account(e);
            }
            {
                std::lock_guard lk(ar_.mu);
                ledger_.forget(target_.name, name_, it.entry_id);  // refused: nothing was stored
            }
            const bool big = contains_code(e, "TOOBIG") || contains_code(e, "LIMIT");
            fr.skipped.push_back(
                {it.entry_id,
                 std::string(big ? "too big for the target: " : "refused: ") + e.message});
            return true;
        }
        mv::crash_point("restore.appended");
        std::optional<std::uint32_t> v = uidvalidity_, uid;
        if (au && au->uids.count() == 1) {
            v = au->uidvalidity;
            uid = au->uids.ranges.front().first;
            if (v == uidvalidity_) claimed_.insert(*uid);
        }
        ++fr.appended;
        fr.bytes += static_cast<std::int64_t>(msg.size());
        batch_.push_back({it.entry_id, it.content, v, uid});
        if (batch_.size() >= opts_.confirm_batch) flush();
        return true;
    }

    void flush() {
        if (batch_.empty()) return;
        {
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            for (const auto& b : batch_)
                ledger_.confirm(target_.name, name_, b.entry_id, b.content, b.uidvalidity, b.uid);
            tx.commit();
        }
        batch_.clear();
        mv::crash_point("restore.confirmed");
    }

    const config::account& target_;
    shared_archive& ar_;
    const restore_options& opts_;
    imap::client& c_;
    restore_report& rep_;
    archive::ledger ledger_;
    std::string name_;
    std::optional<std::uint32_t> uidvalidity_;
    std::vector<std::string> permanent_;
    bool permanent_known_ = false;
    std::set<std::uint32_t> claimed_;
    std::vector<pending_confirm> batch_;
    std::vector<std::optional<std::uint32_t>> uids_;  // source UID per item
    bool in_place_ = false, same_folder_ = false;
    std::optional<std::uint32_t> source_uidvalidity_;
};

}  // namespace

restore_report restore_to_account(const config::account& target, shared_archive& ar,
                                  const restore_options& opts) {
    restore_report rep;
    rep.target = target.name;
    if (target.protocol != config::protocol::imap) {
        rep.err =
            mv::error(errc::usage, "restore target '" + target.name + "' is not an IMAP account");
        return rep;
    }
    std::vector<source_folder> sources;
    {
        std::lock_guard lk(ar.mu);
        for (const auto& [id, info] : ar.a.accounts()) {
            if (opts.source_accounts.empty()
                    ? info.name == target.name
                    : std::find(opts.source_accounts.begin(), opts.source_accounts.end(),
                                info.name) == opts.source_accounts.end())
                continue;
            for (auto& mb : ar.a.mailboxes(id)) {
                if (!opts.folders.empty()) {
                    const char d =
                        mb.delimiter && !mb.delimiter->empty() ? (*mb.delimiter)[0] : char(0);
                    bool match = false;
                    for (const auto& p : opts.folders)
                        match = match || config::folder_pattern_matches(p, mb.name, d);
                    if (!match) continue;
                }
                sources.push_back({info.name, std::move(mb)});
            }
        }
    }
    imap_session s;
    try {
        const std::string password = config::resolve_password(target);
        s = opts.open_session ? opts.open_session(target, password) : open_imap(target, password);
    } catch (const mv::failure& f) {
        rep.err = f.err;
        return rep;
    }
    auto& c = *s.client;
    restorer r(target, ar, opts, c, rep);
    auto prefixed = [&](const mv::error& e) {
        return mv::error(e.code, account_prefix(target) + e.message);
    };
    bool ns = false;
    if (c.caps().has("NAMESPACE")) {
        if (auto e = c.personal_namespace(r.prefix, r.delim)) {
            if (!c.usable()) {
                rep.err = prefixed(e);
                return rep;
            }
        } else {
            ns = true;
        }
    }
    std::vector<imap::list_entry> listing;
    imap::list_request lr;
    lr.special_use = false;
    lr.status = false;
    if (auto e = c.list(lr, listing)) {
        rep.err = prefixed(e);
        return rep;
    }
    for (const auto& l : listing) {
        r.existing.insert(imap::decode_mailbox_name(l.name, c.state().utf8));
        if ((!ns || r.delim == 0) && l.delimiter && r.delim == 0) r.delim = l.delimiter;
    }
    r.limit = append_limit(c.caps());
    for (const auto& src : sources)
        if (!r.folder(src)) {
            rep.err = prefixed(rep.err);
            break;
        }
    if (!rep.err && c.usable()) (void)c.logout();
    return rep;
}

}  // namespace mv::sync
