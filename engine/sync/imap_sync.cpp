#include "sync/imap_sync.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive/hash.hpp"
#include "imap/writer.hpp"
#include "sync/connect.hpp"
#include "sync/planner.hpp"

namespace mv::sync {

namespace {

using clock_type = std::chrono::steady_clock;

struct folder_job {
    imap::list_entry entry;
    std::string name;  // UTF-8
};

// One message as it arrives from UID FETCH, held until its batch commits.
struct fetched_message {
    std::uint32_t uid = 0;
    std::vector<std::string> flags;
    std::optional<std::int64_t> internaldate;
    std::optional<std::uint64_t> modseq;
    std::string body;
};

std::string special_use_of(const imap::list_entry& e) {
    for (const char* a : {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
                          "\\Trash", "\\Important"})
        if (e.has_attribute(a)) return a;
    return {};
}

archived_folder to_archived(const archive::mailbox_state& m, std::int64_t live) {
    archived_folder a;
    a.uidvalidity = m.uidvalidity;
    a.uidnext = m.uidnext;
    a.highestmodseq = m.highestmodseq;
    a.last_uid = m.last_uid;
    a.live_messages = live;
    return a;
}

imap::uid_set range_set(std::uint32_t first, std::uint32_t last) {
    imap::uid_set s;
    if (first <= last) s.ranges.push_back({first, last});
    return s;
}

// Collects FETCH answers: bodies into memory (one message at a time) and attributes.
class collecting_sink : public imap::fetch_sink {
public:
    using on_message_fn = std::function<void(fetched_message&&)>;
    using on_attrs_fn = std::function<void(const imap::fetch_attrs&)>;
    on_message_fn on_message;  // a FETCH with a BODY[] (or HEADER) literal
    on_attrs_fn on_attrs;      // a FETCH without a streamed body

    void body_begin(std::uint32_t, std::string_view, std::uint64_t size) override {
        body_.clear();
        body_.reserve(size);
        have_body_ = true;
    }
    void body_data(std::string_view bytes) override { body_.append(bytes); }
    void body_end() override {}
    void on_fetch(const imap::fetch_attrs& a) override {
        if (have_body_ && a.uid && on_message) {
            fetched_message m;
            m.uid = *a.uid;
            if (a.flags) m.flags = persistent_flags(*a.flags);
            m.internaldate = a.internaldate;
            m.modseq = a.modseq;
            m.body = std::move(body_);
            body_ = std::string();
            have_body_ = false;
            on_message(std::move(m));
            return;
        }
        have_body_ = false;
        if (on_attrs) on_attrs(a);
    }

private:
    std::string body_;
    bool have_body_ = false;
};

// Commits batches on its own thread, in order. submit() blocks while a batch is already waiting
// (bounded memory: one batch committing, one waiting, one filling); drain() waits for all of them
// and rethrows the first failure, after which submit() refuses more work by throwing it again.
// Flow: construct (starts the thread) -> submit()* -> drain() -> destruction (joins).
class batch_writer {
public:
    using commit_fn =
        std::function<void(std::vector<fetched_message>&, const archive::watermarks&)>;
    explicit batch_writer(commit_fn fn) : fn_(std::move(fn)), t_([this] { loop(); }) {}
    ~batch_writer() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        t_.join();
    }
    batch_writer(const batch_writer&) = delete;
    batch_writer& operator=(const batch_writer&) = delete;

    void submit(std::vector<fetched_message>&& b, const archive::watermarks& w) {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return q_.empty() || err_; });
        if (err_) std::rethrow_exception(err_);
        q_.emplace_back(std::move(b), w);
        cv_.notify_all();
    }
    void drain() {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return (q_.empty() && !busy_) || err_; });
        if (err_) std::rethrow_exception(err_);
    }

private:
    void loop() {
        std::unique_lock lk(mu_);
        for (;;) {
            cv_.wait(lk, [&] { return !q_.empty() || stop_; });
            if (q_.empty()) return;
            auto job = std::move(q_.front());
            q_.pop_front();
            busy_ = true;
            lk.unlock();
            std::exception_ptr e;
            try {
                if (!err_) fn_(job.first, job.second);
            } catch (...) {
                e = std::current_exception();
            }
            lk.lock();
            busy_ = false;
            if (e && !err_) err_ = e;
            cv_.notify_all();
        }
    }

    commit_fn fn_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::vector<fetched_message>, archive::watermarks>> q_;
    bool busy_ = false, stop_ = false;
    std::exception_ptr err_;
    std::thread t_;
};

class account_sync {
public:
    account_sync(const config::account& acct, shared_archive& ar, const sync_options& opts,
                 account_report& rep)
        : acct_(acct), ar_(ar), opts_(opts), rep_(rep) {}

    void run();

private:
    void log(const std::string& s) {
        if (opts_.log) opts_.log(acct_.name + ": " + s);
    }
    imap_session connect() { return open_imap(acct_, password_); }
    void list_folders(imap_session& s, std::vector<folder_job>& jobs,
                      std::map<std::string, imap::status_info>& statuses);
    void worker(imap_session* first);
    void sync_folder(imap_session& s, const folder_job& job, folder_report& fr);
    bool unchanged(const folder_job& job, folder_report& fr);
    void commit(std::int64_t mailbox_id, std::vector<fetched_message>& batch,
                const archive::watermarks& wm, folder_report& fr);
    void account_done(imap_session& s) {
        std::lock_guard lk(report_mu_);
        rep_.commands += s.client->state().tag_counter;
        rep_.bytes_read += s.conn->counters().bytes_read;
    }

    const config::account& acct_;
    shared_archive& ar_;
    const sync_options& opts_;
    account_report& rep_;
    std::string password_;
    std::int64_t account_id_ = 0;
    bool dry_ = false;

    std::mutex queue_mu_, report_mu_;
    std::deque<std::pair<folder_job, std::size_t>> queue_;  // job, index into rep_.folders
    std::map<std::string, imap::status_info> statuses_;
    mv::error fatal_;  // first account-level error of a worker
};

void account_sync::list_folders(imap_session& s, std::vector<folder_job>& jobs,
                                std::map<std::string, imap::status_info>& statuses) {
    auto& c = *s.client;
    imap::list_request req;
    std::vector<imap::list_entry> entries;
    if (auto e = c.list(req, entries))
        throw mv::failure(e.code, account_prefix(acct_) + "LIST failed: " + e.message);
    const bool utf8 = c.state().utf8;
    for (auto& le : entries) {
        if (le.has_attribute("\\Noselect") || le.has_attribute("\\NonExistent")) continue;
        std::string name = imap::decode_mailbox_name(le.name, utf8);
        if (!opts_.only_folders.empty()) {
            bool want = false;
            for (const auto& f : opts_.only_folders)
                want = want || config::folder_pattern_matches(f, name, le.delimiter);
            if (!want) continue;
        } else if (!config::folder_selected(acct_, name, le.delimiter)) {
            continue;
        }
        if (le.status) statuses[le.name] = *le.status;
        jobs.push_back({le, name});
    }
    // Without LIST-STATUS, ask STATUS per folder: still one round trip each, and far cheaper
    // than selecting an unchanged folder.
    if (!c.caps().has("LIST-STATUS")) {
        std::string items = "(MESSAGES UIDNEXT UIDVALIDITY";
        if (s.condstore) items += " HIGHESTMODSEQ";
        items += ")";
        for (const auto& j : jobs) {
            imap::status_info st;
            if (!c.status(j.name, items, st)) statuses[j.entry.name] = st;
        }
    }
}

bool account_sync::unchanged(const folder_job& job, folder_report& fr) {
    auto it = statuses_.find(job.entry.name);
    if (it == statuses_.end() || !account_id_) return false;
    archived_folder af;
    {
        std::lock_guard lk(ar_.mu);
        auto ms = ar_.a.find_mailbox(account_id_, job.entry.name);
        if (!ms) return false;
        af = to_archived(*ms, ar_.a.live_count(ms->id));
    }
    server_folder sf{it->second.uidvalidity, it->second.uidnext, it->second.messages,
                     it->second.highestmodseq};
    fr.server_messages = sf.messages.value_or(0);
    if (!folder_unchanged(af, sf)) return false;
    fr.skipped = true;
    fr.strategy = "unchanged";
    return true;
}

void account_sync::run() {
    const auto t0 = clock_type::now();
    password_ = config::resolve_password(acct_);
    dry_ = opts_.dry_run;
    auto first = connect();
    {
        std::lock_guard lk(ar_.mu);
        if (dry_) {
            auto id = ar_.a.find_account(acct_.name);
            account_id_ = id.value_or(0);
        } else {
            account_id_ = ar_.a.upsert_account(
                {acct_.name, config::to_string(acct_.protocol), acct_.host, acct_.user});
        }
    }
    std::vector<folder_job> jobs;
    list_folders(first, jobs, statuses_);
    rep_.folders.resize(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        rep_.folders[i].name = jobs[i].name;
        // Unchanged folders are settled here, from LIST-STATUS/STATUS alone: no SELECT, and no
        // extra connection opened for them.
        if (unchanged(jobs[i], rep_.folders[i])) continue;
        queue_.emplace_back(jobs[i], i);
    }
    if (opts_.progress) opts_.progress->folders_total += static_cast<std::int64_t>(jobs.size());
    if (opts_.progress)
        opts_.progress->folders_done += static_cast<std::int64_t>(jobs.size() - queue_.size());

    // The first session works too; extra sessions only when there is more than one folder.
    const std::size_t extra =
        std::min<std::size_t>(static_cast<std::size_t>(std::max(acct_.connections, 1)) - 1,
                              queue_.size() > 1 ? queue_.size() - 1 : 0);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < extra; ++i) threads.emplace_back([this] { worker(nullptr); });
    worker(&first);
    for (auto& t : threads) t.join();
    rep_.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (fatal_) throw mv::failure(fatal_);
}

void account_sync::worker(imap_session* first) {
    std::optional<imap_session> own;
    imap_session* s = first;
    int reconnects = 0;
    for (;;) {
        std::pair<folder_job, std::size_t> job;
        {
            std::lock_guard lk(queue_mu_);
            if (queue_.empty() || fatal_) break;
            job = queue_.front();
            queue_.pop_front();
        }
        folder_report& fr = rep_.folders[job.second];
        for (;;) {
            try {
                if (!s) {
                    own.emplace(connect());
                    s = &*own;
                }
                sync_folder(*s, job.first, fr);
                break;
            } catch (const mv::failure& f) {
                const auto c = f.err.code;
                const bool transient =
                    c == errc::network || c == errc::timeout || c == errc::closed;
                if (s) account_done(*s);
                if (s == first) first = nullptr;
                own.reset();
                s = nullptr;
                if (transient && reconnects < opts_.max_reconnects) {
                    ++reconnects;
                    {
                        std::lock_guard lk(report_mu_);
                        ++rep_.reconnects;
                    }
                    log("connection lost (" + f.err.message + "); reconnecting");
                    std::this_thread::sleep_for(std::chrono::milliseconds(200 << reconnects));
                    continue;  // resume the same folder from its committed watermarks
                }
                std::lock_guard lk(queue_mu_);
                if (!fatal_) fatal_ = f.err;
                fr.err = f.err;
                return;
            }
        }
        if (opts_.progress) ++opts_.progress->folders_done;
    }
    if (s) {
        s->client->logout();
        account_done(*s);
    }
}

void account_sync::commit(std::int64_t mailbox_id, std::vector<fetched_message>& batch,
                          const archive::watermarks& wm, folder_report& fr) {
    std::lock_guard lk(ar_.mu);
    archive::transaction tx(ar_.a);
    for (auto& m : batch) {
        auto put = ar_.a.put_content(m.body);
        archive::entry_record e;
        e.mailbox_id = mailbox_id;
        e.uidvalidity = wm.uidvalidity;
        e.uid = m.uid;
        e.flags = m.flags;
        e.modseq = m.modseq;
        e.internaldate = m.internaldate;
        e.size = m.body.size();
        e.content = put.hash;
        if (ar_.a.upsert_entry(e) == archive::upsert_result::inserted) ++fr.new_messages;
    }
    ar_.a.set_watermarks(mailbox_id, wm);
    tx.commit();
    batch.clear();
}

void account_sync::sync_folder(imap_session& s, const folder_job& job, folder_report& fr) {
    auto& c = *s.client;
    const auto& le = job.entry;
    auto fail = [&](const mv::error& e, const std::string& what) {
        throw mv::failure(e.code, account_prefix(acct_) + "folder '" + job.name + "': " + what +
                                      ": " + e.message);
    };

    // --- what the archive knows
    archive::mailbox_state ms;
    std::int64_t live = 0;
    {
        std::lock_guard lk(ar_.mu);
        std::optional<archive::mailbox_state> found;
        if (dry_) {
            if (account_id_) found = ar_.a.find_mailbox(account_id_, le.name);
        } else {
            archive::mailbox_info mi;
            mi.account_id = account_id_;
            mi.wire_name = le.name;
            mi.name = job.name;
            if (le.delimiter) mi.delimiter = std::string(1, le.delimiter);
            auto su = special_use_of(le);
            if (!su.empty()) mi.special_use = su;
            found = ar_.a.upsert_mailbox(mi);
        }
        if (found) {
            ms = *found;
            live = ar_.a.live_count(ms.id);
        }
    }
    archived_folder af = to_archived(ms, live);

    // --- EXAMINE (read-only: a sync never changes the server)
    imap::select_request sel;
    sel.mailbox = job.name;
    sel.read_only = true;
    const bool can_qresync = s.qresync && af.uidvalidity && af.highestmodseq && af.last_uid;
    if (can_qresync) {
        sel.qresync_uidvalidity = af.uidvalidity;
        sel.qresync_modseq = *af.highestmodseq;
    } else if (s.condstore) {
        sel.condstore = true;
    }
    c.events().clear();
    imap::select_result sr;
    if (auto e = c.select(sel, sr)) {
        if (e.code == errc::server_no) {
            // This folder only: report and go on with the others.
            fr.err = mv::error(e.code, "EXAMINE refused: " + e.message);
            log("folder '" + job.name + "' skipped: " + e.message);
            return;
        }
        fail(e, "EXAMINE");
    }
    if (!sr.state.uidvalidity)
        fail(mv::error(errc::protocol, "server sent no UIDVALIDITY"), "EXAMINE");
    const std::uint32_t uidvalidity = *sr.state.uidvalidity;
    fr.server_messages = sr.state.exists.value_or(0);
    const auto server_modseq = sr.state.nomodseq ? std::nullopt : sr.state.highestmodseq;

    folder_plan plan =
        plan_folder(af, uidvalidity, server_modseq, sr.state.nomodseq, {s.condstore, s.qresync});
    bool recover = false;  // match bodies by header hash before downloading
    if (plan.new_generation) {
        fr.uidvalidity_changed = true;
        fr.strategy = "new-generation";
        log("folder '" + job.name + "': UIDVALIDITY changed " +
            std::to_string(af.uidvalidity.value_or(0)) + " -> " + std::to_string(uidvalidity) +
            "; starting a new generation, reusing archived bodies");
        if (!dry_) {
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            ms = ar_.a.begin_generation(ms.id, uidvalidity);
            ar_.a.audit_append("uidvalidity_change",
                               nlohmann::json{{"account", acct_.name},
                                              {"folder", job.name},
                                              {"old_uidvalidity", af.uidvalidity.value_or(0)},
                                              {"new_uidvalidity", uidvalidity},
                                              {"new_generation", ms.generation}}
                                   .dump());
            tx.commit();
        }
        af = to_archived(ms, 0);
        recover = true;
    } else {
        switch (plan.flags) {
            case flag_strategy::qresync: fr.strategy = "qresync"; break;
            case flag_strategy::condstore: fr.strategy = "condstore"; break;
            case flag_strategy::listing: fr.strategy = "listing"; break;
            case flag_strategy::none: fr.strategy = "first"; break;
        }
        // A new generation that was interrupted before its first watermark: recover again.
        if (af.uidvalidity && !af.last_uid && ms.generation > 1) recover = true;
    }
    if (!dry_ && !af.uidvalidity) {
        // First sight of this folder: record UIDVALIDITY before any entry.
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        ar_.a.set_watermarks(ms.id, {uidvalidity, std::nullopt, std::nullopt, std::nullopt});
        tx.commit();
        af.uidvalidity = uidvalidity;
    }
    // Watermarks written with each batch: the old UIDNEXT/HIGHESTMODSEQ stay until the folder is
    // complete, so a kill mid-folder makes the next run redo flags and skip nothing.
    archive::watermarks wm{uidvalidity, af.uidnext, af.highestmodseq, af.last_uid};
    const std::uint32_t last_known = af.last_uid.value_or(0);

    // --- flags and expunges of what is already archived
    struct flag_update {
        std::uint32_t uid;
        std::vector<std::string> flags;
        std::optional<std::uint64_t> modseq;
    };
    std::vector<flag_update> flag_changes;
    std::vector<std::uint32_t> vanished;
    std::vector<std::uint32_t> server_uids;  // when a full UID listing was obtained
    bool have_server_uids = false;
    std::vector<std::uint32_t> archived_live;  // filled by the listing merge below
    bool have_archived_live = false;
    if (plan.flags == flag_strategy::qresync) {
        for (auto& ch : sr.changes)
            if (ch.uid && ch.flags && *ch.uid <= last_known)
                flag_changes.push_back({*ch.uid, persistent_flags(*ch.flags), ch.modseq});
        for (auto u : sr.vanished.expand())
            if (u <= last_known) vanished.push_back(u);
    } else if (plan.flags == flag_strategy::condstore) {
        // Only what changed since the archived HIGHESTMODSEQ comes back.
        collecting_sink sink;
        sink.on_attrs = [&](const imap::fetch_attrs& a) {
            if (a.uid && a.flags && *a.uid <= last_known)
                flag_changes.push_back({*a.uid, persistent_flags(*a.flags), a.modseq});
        };
        imap::fetch_request fq;
        fq.sets = {range_set(1, last_known)};
        fq.items = "(UID FLAGS MODSEQ)";
        fq.changedsince = *af.highestmodseq;
        if (auto e = c.uid_fetch(fq, sink)) fail(e, "UID FETCH CHANGEDSINCE");
    } else if (plan.flags == flag_strategy::listing) {
        // A full UID/FLAGS listing up to the UIDNEXT seen at EXAMINE: it names every message
        // (so also the new ones). Kept compact (UID + canonical flags, sorted) and merged with
        // the archive's entries in one ordered pass, so only real changes touch SQLite.
        std::vector<std::pair<std::uint32_t, std::string>> listed;
        collecting_sink sink;
        sink.on_attrs = [&](const imap::fetch_attrs& a) {
            if (a.uid && a.flags)
                listed.emplace_back(*a.uid, archive::canonical_flags(persistent_flags(*a.flags)));
        };
        const std::uint32_t upper = std::max(last_known, sr.state.uidnext.value_or(1) - 1);
        imap::fetch_request fq;
        fq.sets = {range_set(1, std::max<std::uint32_t>(upper, 1))};
        fq.items = "(UID FLAGS)";
        if (upper > 0)
            if (auto e = c.uid_fetch(fq, sink)) fail(e, "UID FETCH FLAGS");
        std::sort(listed.begin(), listed.end());
        server_uids.reserve(listed.size());
        for (auto& l : listed) server_uids.push_back(l.first);
        have_server_uids = true;
        if (ms.id && af.uidvalidity && !plan.new_generation) {
            std::lock_guard lk(ar_.mu);
            std::size_t i = 0;
            ar_.a.for_each_entry(ms.id, [&](const archive::entry_view& e) {
                if (!e.uid || e.expunged_at) return;
                archived_live.push_back(*e.uid);
                while (i < listed.size() && listed[i].first < *e.uid) ++i;
                if (i < listed.size() && listed[i].first == *e.uid && listed[i].second != e.flags)
                    flag_changes.push_back({*e.uid, archive::split_flags(listed[i].second), {}});
            });
            std::sort(archived_live.begin(), archived_live.end());
        }
        have_archived_live = true;
    }
    if (!have_server_uids && plan.flags != flag_strategy::qresync) {
        imap::search_result res;
        if (auto e = c.uid_search("ALL", res)) fail(e, "UID SEARCH");
        server_uids = res.ids;
        std::sort(server_uids.begin(), server_uids.end());
        have_server_uids = true;
    }
    std::vector<std::uint32_t> to_fetch;
    if (have_server_uids) {
        if (!have_archived_live && af.uidvalidity && !plan.new_generation && ms.id) {
            std::lock_guard lk(ar_.mu);
            archived_live = ar_.a.live_uids(ms.id);
        }
        auto d = diff_uids(archived_live, server_uids);
        for (auto u : d.vanished) vanished.push_back(u);
        to_fetch = d.unknown;  // new UIDs and any hole a killed run left
    } else {
        // QRESYNC: new messages are those above the last archived UID.
        imap::search_result res;
        if (auto e = c.uid_search("UID " + std::to_string(last_known + 1) + ":*", res))
            fail(e, "UID SEARCH");
        for (auto u : res.ids)
            if (u > last_known) to_fetch.push_back(u);
        std::sort(to_fetch.begin(), to_fetch.end());
    }
    if (opts_.progress)
        opts_.progress->expected_messages += static_cast<std::int64_t>(to_fetch.size());

    if (!dry_ && (!flag_changes.empty() || !vanished.empty())) {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        for (auto& u : flag_changes)
            if (ar_.a.update_flags(ms.id, u.uid, u.flags, u.modseq)) ++fr.flags_updated;
        if (!vanished.empty()) fr.expunged += ar_.a.mark_expunged(ms.id, vanished);
        tx.commit();
    }

    // --- UIDVALIDITY recovery: record entries for bodies the archive already holds, matched by
    // the SHA-256 of their header block and their size, so only really new bodies are downloaded.
    if (recover && !to_fetch.empty()) {
        std::map<std::uint32_t, std::uint64_t> sizes;
        {
            collecting_sink ss;
            ss.on_attrs = [&](const imap::fetch_attrs& a) {
                if (a.uid && a.rfc822_size) sizes[*a.uid] = *a.rfc822_size;
            };
            imap::fetch_request fq;
            fq.sets.push_back(imap::make_uid_set(to_fetch));
            fq.items = "(UID RFC822.SIZE)";
            if (auto e = c.uid_fetch(fq, ss)) fail(e, "UID FETCH RFC822.SIZE");
        }
        std::vector<archive::entry_record> reuse;
        std::vector<std::uint32_t> still_needed;
        collecting_sink hs;
        hs.on_message = [&](fetched_message&& m) {
            // m.body holds only the header block here.
            const auto size = sizes.count(m.uid) ? sizes[m.uid] : 0;
            std::lock_guard lk(ar_.mu);
            for (const auto& h : ar_.a.find_by_header_hash(archive::header_hash(m.body))) {
                auto info = ar_.a.content(h);
                if (!info || info->raw_size != size) continue;
                archive::entry_record e;
                e.mailbox_id = ms.id;
                e.uidvalidity = uidvalidity;
                e.uid = m.uid;
                e.flags = m.flags;
                e.internaldate = m.internaldate;
                e.size = size;
                e.content = h;
                reuse.push_back(std::move(e));
                return;
            }
            still_needed.push_back(m.uid);
        };
        imap::fetch_request fq;
        for (auto& chunk : chunk_uids(to_fetch, opts_.fetch_chunk))
            fq.sets.push_back(imap::make_uid_set(chunk));
        fq.items = "(UID FLAGS INTERNALDATE BODY.PEEK[HEADER])";
        if (auto e = c.uid_fetch(fq, hs)) fail(e, "UID FETCH HEADER");
        if (!dry_ && !reuse.empty()) {
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            for (auto& e : reuse)
                if (ar_.a.upsert_entry(e) == archive::upsert_result::inserted) {
                    ++fr.new_messages;
                    ++fr.reused_bodies;
                }
            tx.commit();
        } else {
            fr.reused_bodies += static_cast<std::int64_t>(reuse.size());
        }
        to_fetch = std::move(still_needed);
        std::sort(to_fetch.begin(), to_fetch.end());
    }

    // --- new messages
    if (dry_) {
        if (!to_fetch.empty()) {
            collecting_sink ss;
            ss.on_attrs = [&](const imap::fetch_attrs& a) {
                ++fr.would_fetch;
                fr.would_fetch_bytes += static_cast<std::int64_t>(a.rfc822_size.value_or(0));
            };
            imap::fetch_request fq;
            fq.sets.push_back(imap::make_uid_set(to_fetch));
            fq.items = "(UID RFC822.SIZE)";
            if (auto e = c.uid_fetch(fq, ss)) fail(e, "UID FETCH RFC822.SIZE");
        }
        return;
    }
    if (!to_fetch.empty()) {
        // Batches are committed by a writer thread while the next ones arrive, so the server
        // never waits for SQLite and zstd (at most three batches are held in memory).
        std::vector<fetched_message> batch;
        std::size_t batch_bytes = 0;
        batch_writer writer([&](std::vector<fetched_message>& b, const archive::watermarks& w) {
            commit(ms.id, b, w, fr);
        });
        collecting_sink sink;
        sink.on_message = [&](fetched_message&& m) {
            ++fr.bodies_fetched;
            fr.bytes_fetched += static_cast<std::int64_t>(m.body.size());
            if (opts_.progress) {
                ++opts_.progress->messages;
                opts_.progress->bytes += static_cast<std::int64_t>(m.body.size());
            }
            batch_bytes += m.body.size();
            // Only a message whose UID is above every UID before it may advance last_uid; holes
            // below it were fetched earlier in this same ascending pass.
            wm.last_uid = std::max(wm.last_uid.value_or(0), m.uid);
            batch.push_back(std::move(m));
            if (batch.size() >= opts_.batch_messages || batch_bytes >= opts_.batch_bytes) {
                writer.submit(std::move(batch), wm);
                batch.clear();
                batch_bytes = 0;
            }
        };
        imap::fetch_request fq;
        for (auto& chunk : chunk_uids(to_fetch, opts_.fetch_chunk))
            fq.sets.push_back(imap::make_uid_set(chunk));
        fq.items = s.condstore ? "(UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ BODY.PEEK[])"
                               : "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])";
        fq.max_in_flight = 4;
        auto e = c.uid_fetch(fq, sink);
        // Whatever arrived completely is kept, even if the connection then failed.
        if (!batch.empty()) writer.submit(std::move(batch), wm);
        writer.drain();  // rethrows an archive failure
        if (e) fail(e, "UID FETCH");
    }

    // --- the folder is complete: record where the server stood at EXAMINE
    archive::watermarks fin{uidvalidity, sr.state.uidnext, server_modseq, wm.last_uid};
    if (!fin.last_uid && !to_fetch.empty()) fin.last_uid = to_fetch.back();
    if (have_server_uids && !server_uids.empty())
        fin.last_uid = std::max(fin.last_uid.value_or(0), server_uids.back());
    {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        ar_.a.set_watermarks(ms.id, fin);
        tx.commit();
    }
    log("folder '" + job.name + "': " + fr.strategy + ", " + std::to_string(fr.new_messages) +
        " new, " + std::to_string(fr.flags_updated) + " flag changes, " +
        std::to_string(fr.expunged) + " expunged");
}

}  // namespace

account_report sync_imap_account(const config::account& acct, shared_archive& ar,
                                 const sync_options& opts) {
    account_report rep;
    rep.name = acct.name;
    rep.protocol = "imap";
    account_sync s(acct, ar, opts, rep);
    try {
        s.run();
    } catch (const mv::failure& f) {
        rep.err = f.err;
    }
    return rep;
}

}  // namespace mv::sync
