#include "sync/reconcile.hpp"

#include "sync/pop3_plan.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "imap/uid_set.hpp"
#include "imap/writer.hpp"
#include "mailvault/failure_policy.hpp"
#include "sync/connect.hpp"
#include "sync/prune_plan.hpp"

namespace mv::sync {

namespace {

// Keeps UID and RFC822.SIZE of each answer, nothing else (bodies are not asked for).
class sizes_sink : public imap::fetch_sink {
public:
    std::vector<listed_message> got;
    std::uint64_t without_size = 0;
    void body_begin(std::uint32_t, std::string_view, std::uint64_t) override {}
    void body_data(std::string_view) override {}
    void body_end() override {}
    void on_fetch(const imap::fetch_attrs& a) override {
        if (!a.uid || *a.uid == 0) return;
        if (!a.rfc822_size) {
            // An unsolicited FETCH (flag update) carries no size; the answer to ours follows.
            ++without_size;
            return;
        }
        got.push_back({std::to_string(*a.uid), *a.rfc822_size});
    }
};

bool id_less(const std::string& a, const std::string& b, bool numeric) {
    if (numeric && a.size() != b.size()) return a.size() < b.size();
    return a < b;
}

}  // namespace

listing_comparison compare_listing(std::vector<listed_message> server,
                                   std::vector<listed_message> archived, bool numeric,
                                   std::size_t limit, size_rule sizes) {
    listing_comparison out;
    auto less = [numeric](const listed_message& a, const listed_message& b) {
        return id_less(a.id, b.id, numeric);
    };
    std::stable_sort(server.begin(), server.end(), less);
    std::stable_sort(archived.begin(), archived.end(), less);
    // Duplicates on the server side: one counted, the rest reported.
    {
        std::vector<listed_message> uniq;
        uniq.reserve(server.size());
        for (auto& m : server) {
            if (!uniq.empty() && uniq.back().id == m.id) {
                if (out.duplicate_ids.empty() || out.duplicate_ids.back() != m.id) {
                    ++out.duplicates;
                    if (out.duplicate_ids.size() < limit) out.duplicate_ids.push_back(m.id);
                }
                // Two different sizes for one identity: also a size disagreement below.
                if (uniq.back().size != m.size) uniq.back().size = ~std::uint64_t{0};
                continue;
            }
            uniq.push_back(std::move(m));
        }
        server = std::move(uniq);
    }
    archived.erase(std::unique(archived.begin(), archived.end(),
                               [](const auto& a, const auto& b) { return a.id == b.id; }),
                   archived.end());
    out.on_server = server.size();
    out.archived = archived.size();
    std::size_t i = 0, j = 0;
    while (i < server.size() || j < archived.size()) {
        if (j == archived.size() || (i < server.size() && less(server[i], archived[j]))) {
            ++out.missing;
            if (out.missing_ids.size() < limit) out.missing_ids.push_back(server[i].id);
            ++i;
        } else if (i == server.size() || less(archived[j], server[i])) {
            ++out.extra;
            if (out.extra_ids.size() < limit) out.extra_ids.push_back(archived[j].id);
            ++j;
        } else {
            // Archived POP3 bodies always end with CRLF (the RETR terminator starts a line).
            const bool agrees = sizes == size_rule::pop3
                                    ? pop3_size_agrees(server[i].size, archived[j].size, true)
                                    : archived_size_agrees(archived[j].size, server[i].size);
            if (!agrees) {
                ++out.size_mismatches;
                if (out.mismatches.size() < limit)
                    out.mismatches.push_back({server[i].id, server[i].size, archived[j].size});
            }
            ++i;
            ++j;
        }
    }
    return out;
}

bool reconcile_report::complete() const {
    if (err) return false;
    for (const auto& f : folders)
        if (f.err || f.uidvalidity_differs || !f.cmp.complete()) return false;
    return true;
}

bool reconcile_report::gaps() const {
    for (const auto& f : folders)
        if (f.uidvalidity_differs || !f.cmp.complete()) return true;
    return false;
}

namespace {

class account_reconcile {
public:
    account_reconcile(const config::account& acct, archive::archive& ar,
                      const reconcile_options& opts, reconcile_report& rep)
        : acct_(acct), ar_(ar), opts_(opts), rep_(rep) {}

    void run_imap();
    void run_pop3();

private:
    void log(const std::string& s) {
        if (opts_.log) opts_.log(acct_.name + ": " + s);
    }
    // Live entries of the current generation (IMAP: by UID; POP3: by UIDL).
    std::vector<listed_message> archived_live(std::int64_t mailbox_id, bool by_uid) {
        std::vector<listed_message> out;
        ar_.for_each_entry(mailbox_id, [&](const archive::entry_view& e) {
            if (e.expunged_at) return;
            if (by_uid && e.uid) out.push_back({std::to_string(*e.uid), e.size});
            if (!by_uid && e.uidl) out.push_back({*e.uidl, e.size});
        });
        return out;
    }
    // A failure the policy scopes to the folder is recorded there; anything wider ends the
    // account (thrown).
    void folder_error(reconcile_folder& f, operation_kind op, const mv::error& e,
                      const std::string& what) {
        mv::error named(e.code, account_prefix(acct_) + "folder '" + f.name + "': " + what +
                                    " failed: " + e.message);
        const auto d = classify_failure(op, e.code);
        if (d.scope != failure_scope::folder && d.scope != failure_scope::message)
            throw mv::failure(named);
        f.err = named;
        log(named.message);
    }

    const config::account& acct_;
    archive::archive& ar_;
    const reconcile_options& opts_;
    reconcile_report& rep_;
};

void account_reconcile::run_imap() {
    const std::string password = config::resolve_password(acct_);
    imap_session s = open_imap(acct_, password);
    auto& c = *s.client;
    const auto account_id = ar_.find_account(acct_.name);

    imap::list_request req;
    req.status = false;
    std::vector<imap::list_entry> entries;
    if (auto e = c.list(req, entries))
        throw mv::failure(e.code, account_prefix(acct_) + "LIST failed: " + e.message);
    const bool utf8 = c.state().utf8;
    std::set<std::string> listed;
    for (const auto& le : entries) {
        if (le.has_attribute("\\Noselect") || le.has_attribute("\\NonExistent")) continue;
        const std::string name = imap::decode_mailbox_name(le.name, utf8);
        if (!config::folder_selected(acct_, name, le.delimiter)) continue;
        listed.insert(name);
        reconcile_folder f;
        f.name = name;
        std::optional<archive::mailbox_state> mb;
        if (account_id) mb = ar_.find_mailbox(*account_id, le.name);

        imap::select_request sel;
        sel.mailbox = name;
        sel.read_only = true;  // EXAMINE: never changes anything, not even \Recent or \Seen
        imap::select_result sr;
        if (auto e = c.select(sel, sr)) {
            folder_error(f, operation_kind::select, e, "EXAMINE");
            rep_.folders.push_back(std::move(f));
            continue;
        }
        f.server_uidvalidity = sr.state.uidvalidity;
        if (mb) f.archive_uidvalidity = mb->uidvalidity;
        sizes_sink sink;
        if (sr.state.exists.value_or(1) > 0) {
            sink.got.reserve(sr.state.exists.value_or(0));
            imap::fetch_request fq;
            imap::uid_set all;
            all.ranges.push_back({1, 0xffffffffu});  // every UID (1:* without the star)
            fq.sets = {all};
            fq.items = "(UID RFC822.SIZE)";
            if (auto e = c.uid_fetch(fq, sink)) {
                folder_error(f, operation_kind::fetch, e, "UID FETCH (UID RFC822.SIZE)");
                rep_.folders.push_back(std::move(f));
                continue;
            }
        }
        std::vector<listed_message> archived;
        if (mb && f.server_uidvalidity && mb->uidvalidity == f.server_uidvalidity)
            archived = archived_live(mb->id, true);
        else if (mb && mb->uidvalidity)
            f.uidvalidity_differs = true;  // what is archived belongs to another generation
        f.cmp = compare_listing(std::move(sink.got), std::move(archived), true, opts_.limit);
        rep_.folders.push_back(std::move(f));
    }
    // Archived folders this account selects that the server no longer lists.
    if (account_id)
        for (const auto& m : ar_.mailboxes(*account_id)) {
            const char delim = m.delimiter && !m.delimiter->empty() ? (*m.delimiter)[0] : '\0';
            if (listed.count(m.name) || !config::folder_selected(acct_, m.name, delim)) continue;
            reconcile_folder f;
            f.name = m.name;
            f.on_server_listed = false;
            f.archive_uidvalidity = m.uidvalidity;
            f.cmp = compare_listing({}, archived_live(m.id, true), true, opts_.limit);
            if (f.cmp.archived == 0) continue;
            rep_.folders.push_back(std::move(f));
        }
    c.logout();
}

void account_reconcile::run_pop3() {
    const std::string password = config::resolve_password(acct_);
    pop3_session s = open_pop3(acct_, password);
    auto& c = *s.client;
    reconcile_folder f;
    f.name = "INBOX";
    std::vector<pop3::uidl_entry> ids;
    std::vector<pop3::list_entry> sizes;
    if (auto e = c.uidl(ids)) {
        if (e.code == errc::server_no)
            e = mv::error(errc::unsupported,
                          "the server has no UIDL, so its messages cannot be matched with the "
                          "archive (" +
                              e.message + ")");
        folder_error(f, operation_kind::list, e, "UIDL");
    } else if (auto le = c.list(sizes)) {
        folder_error(f, operation_kind::list, le, "LIST");
    } else {
        std::map<std::uint32_t, std::uint64_t> size_of;
        for (const auto& l : sizes) size_of[l.msgno] = l.size;
        std::vector<listed_message> server;
        server.reserve(ids.size());
        for (const auto& u : ids) {
            auto it = size_of.find(u.msgno);
            // A message UIDL lists but LIST does not is a disagreement: size 0 never matches.
            server.push_back({u.uid, it == size_of.end() ? 0 : it->second});
        }
        std::vector<listed_message> archived;
        if (auto aid = ar_.find_account(acct_.name))
            if (auto mb = ar_.find_mailbox(*aid, "INBOX")) archived = archived_live(mb->id, false);
        f.cmp = compare_listing(std::move(server), std::move(archived), false, opts_.limit,
                                size_rule::pop3);
    }
    rep_.folders.push_back(std::move(f));
    c.quit();
}

}  // namespace

reconcile_report reconcile_account(const config::account& acct, archive::archive& ar,
                                   const reconcile_options& opts) {
    reconcile_report rep;
    rep.account = acct.name;
    rep.protocol = acct.protocol == config::protocol::imap ? "imap" : "pop3";
    account_reconcile r(acct, ar, opts, rep);
    try {
        if (acct.protocol == config::protocol::imap)
            r.run_imap();
        else
            r.run_pop3();
    } catch (const mv::failure& f) {
        rep.err = f.err;
    }
    return rep;
}

}  // namespace mv::sync
