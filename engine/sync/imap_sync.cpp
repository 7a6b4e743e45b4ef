#include "sync/imap_sync.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive/content_writer.hpp"
#include "archive/hash.hpp"
#include "archive/prepared.hpp"
#include "imap/writer.hpp"
#include "mailvault/crashpoint.hpp"
#include "mailvault/failure_policy.hpp"
#include "mailvault/stop.hpp"
#include "sync/connect.hpp"
#include "sync/fetch_tracker.hpp"
#include "sync/planner.hpp"

namespace mv::sync {

namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t now_epoch() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct folder_job {
    imap::list_entry entry;
    std::string name;  // UTF-8
};

// One message as it arrives from UID FETCH, held until its batch commits.
struct fetched_message {
    std::uint32_t uid = 0;
    std::vector<std::string> flags;
    std::optional<std::int64_t> internaldate;
    std::optional<int> internaldate_tz;  // its zone as sent, minutes east of UTC
    std::optional<std::uint64_t> modseq;
    std::optional<archive::gmail_attrs> gmail;  // X-GM-* when the server sent them
    std::string body;
};

// Gmail (X-GM-EXT-1): the FETCH items that record a message's id, thread and labels. Labels
// change like flags (they bump MODSEQ), so they are asked wherever flags are.
constexpr std::string_view gmail_items = " X-GM-MSGID X-GM-THRID X-GM-LABELS";

bool offers_gmail(const imap_session& s) {
    return s.client->caps().has("X-GM-EXT-1");
}

// "(UID FLAGS MODSEQ)" + the Gmail items when the session has them: "(UID FLAGS MODSEQ X-GM-...)".
std::string with_gmail(std::string items, bool gmail) {
    if (gmail) items.insert(items.size() - 1, gmail_items);
    return items;
}

// The X-GM-* attributes of one FETCH answer, labels decoded to UTF-8 (modified UTF-7 unless
// UTF8=ACCEPT is enabled). nullopt when the answer has none of them.
std::optional<archive::gmail_attrs> gmail_of(const imap::fetch_attrs& a, bool utf8) {
    if (!a.gm_msgid && !a.gm_thrid && !a.gm_labels) return std::nullopt;
    archive::gmail_attrs g;
    g.msgid = a.gm_msgid;
    g.thrid = a.gm_thrid;
    if (a.gm_labels)
        for (const auto& l : *a.gm_labels) {
            auto name = imap::decode_mailbox_name(l, utf8);
            if (std::find(g.labels.begin(), g.labels.end(), name) == g.labels.end())
                g.labels.push_back(std::move(name));
        }
    return g;
}

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

// Collects FETCH answers: bodies into memory (one message at a time) and attributes, and checks
// every body answer against what was asked before anyone sees it: the section must be exactly
// the one requested (no partial <origin>, no HEADER when the whole message was asked for), the
// UID present and non-zero, and the byte count equal to the RFC822.SIZE of the same answer.
// A body that fails is reported to on_reject and never reaches on_message.
//
// Sinks must not throw (the protocol operation above them is sans-io): a callback that fails
// stores its error, the sink drops everything after it, and the caller rethrows after the
// operation returned (sink_error()).
class collecting_sink : public imap::fetch_sink {
public:
    using on_message_fn = std::function<void(fetched_message&&)>;
    using on_attrs_fn = std::function<void(const imap::fetch_attrs&)>;
    using on_reject_fn = std::function<void(std::uint32_t uid, const std::string& why)>;
    on_message_fn on_message;      // a FETCH with the expected body section
    on_attrs_fn on_attrs;          // a FETCH without a streamed body
    on_reject_fn on_reject;        // a body answer that failed the checks
    std::string expected_section;  // "" for BODY.PEEK[], "HEADER" for BODY.PEEK[HEADER]
    bool check_size = true;        // compare with RFC822.SIZE (only when the body is whole)
    // Bodies announced larger than this are not buffered: on_large_begin(size), then
    // on_large_data(bytes)*, then on_large_end(attrs-only message, why) where `why` is empty
    // when the answer passed the checks. 0: every body is buffered.
    std::uint64_t stream_threshold = 0;
    std::function<void(std::uint64_t)> on_large_begin;
    std::function<void(std::string_view)> on_large_data;
    std::function<void(fetched_message&&, const std::string& why)> on_large_end;
    bool utf8 = false;  // UTF8=ACCEPT enabled: X-GM-LABELS arrive in UTF-8, not modified UTF-7

    void section_begin(std::uint32_t, const imap::section_ref& ref, std::uint64_t size) override {
        section_item_ = std::string(ref.item);
        section_binary_ = ref.binary;
        begin(ref.section, size);
    }
    void begin(std::string_view section, std::uint64_t size) {
        body_.clear();
        have_body_ = true;
        extra_body_ = body_count_ > 0;
        ++body_count_;
        received_ = 0;
        streaming_ = false;
        if (failed_ || extra_body_) return;
        if (stream_threshold && size > stream_threshold && on_large_begin &&
            section == expected_section) {
            // Large: straight into the archive as it arrives (bounded memory).
            streaming_ = true;
            guard([&] { on_large_begin(size); });
            return;
        }
        // Reserve what the server announced, within reason: a hostile {4000000000} must not
        // allocate (the framer's literal cap bounds it too).
        body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(size, 64u << 20)));
    }
    void body_data(std::string_view bytes) override {
        if (extra_body_ || failed_) return;
        received_ += bytes.size();
        if (streaming_)
            guard([&] { on_large_data(bytes); });
        else
            body_.append(bytes);
    }
    void body_end() override {}
    void on_fetch(const imap::fetch_attrs& a) override {
        const int bodies = body_count_;
        body_count_ = 0;
        extra_body_ = false;
        if (failed_) {
            have_body_ = false;
            return;
        }
        try {
            if (have_body_ && streaming_) {
                have_body_ = false;
                streaming_ = false;
                fetched_message m = meta(a);
                on_large_end(std::move(m), check(a, bodies));
                return;
            }
            if (have_body_) {
                have_body_ = false;
                std::string why = check(a, bodies);
                if (!why.empty()) {
                    if (on_reject) on_reject(a.uid.value_or(0), why);
                    body_ = std::string();
                    return;
                }
                if (on_message) {
                    fetched_message m = meta(a);
                    m.body = std::move(body_);
                    body_ = std::string();
                    on_message(std::move(m));
                }
                return;
            }
            if (on_attrs) on_attrs(a);
        } catch (...) {
            failed_ = std::current_exception();
        }
    }
    // The first exception a callback raised (archive failure ...), or null. The operation sees
    // it as sink_error() and stops; the caller rethrows it once the operation returned.
    std::exception_ptr sink_failure() const { return failed_; }
    mv::error sink_error() const noexcept override {
        if (!failed_) return {};
        return mv::error(errc::archive, "the archive refused a write; the sync stopped");
    }

private:
    template <class F>
    void guard(F&& f) {
        try {
            f();
        } catch (...) {
            failed_ = std::current_exception();
        }
    }
    fetched_message meta(const imap::fetch_attrs& a) const {
        fetched_message m;
        m.uid = a.uid.value_or(0);
        if (a.flags) m.flags = persistent_flags(*a.flags);
        m.internaldate = a.internaldate;
        m.internaldate_tz = a.internaldate_offset;
        m.modseq = a.modseq;
        m.gmail = gmail_of(a, utf8);
        return m;
    }
    std::string check(const imap::fetch_attrs& a, int bodies) const {
        if (!a.uid) return "body answer without a UID";
        if (*a.uid == 0) return "body answer for UID 0 (RFC 3501 forbids UID 0)";
        const imap::body_section* sec = nullptr;
        for (const auto& b : a.bodies)
            if (b.streamed) sec = &b;
        if (bodies != 1 || !sec) return "answer carries " + std::to_string(bodies) + " bodies";
        if (sec->section != expected_section || sec->origin || section_binary_) {
            // The item exactly as the server named it (BODY[]<0>, BINARY[], BODY[HEADER] ...).
            std::string got = section_item_;
            if (got.empty()) {
                got = "BODY[" + sec->section + "]";
                if (sec->origin) got += "<" + std::to_string(*sec->origin) + ">";
            }
            return "server answered " + got + " where BODY[" + expected_section + "] was asked for";
        }
        if (check_size && a.rfc822_size && *a.rfc822_size != received_)
            return "body is " + std::to_string(received_) + " bytes but RFC822.SIZE says " +
                   std::to_string(*a.rfc822_size) + " (truncated or padded answer)";
        return {};
    }

    std::string body_;
    std::string section_item_;  // the item as the server named it, e.g. "BODY[]<0>"
    bool section_binary_ = false;
    std::uint64_t received_ = 0;  // bytes of the current body
    bool streaming_ = false;      // the current body goes to on_large_data
    bool have_body_ = false;
    bool extra_body_ = false;
    int body_count_ = 0;
    std::exception_ptr failed_;
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

// A failure of one step of a folder's sync, with what was being done: the failure policy
// (mailvault/failure_policy.hpp) decides from both how far it reaches.
struct step_failure : mv::failure {
    operation_kind op;
    step_failure(operation_kind o, mv::error e) : mv::failure(std::move(e)), op(o) {}
};

struct flag_update {
    std::uint32_t uid;
    std::vector<std::string> flags;
    std::optional<std::uint64_t> modseq;
    std::optional<archive::gmail_attrs> gmail = std::nullopt;  // labels refreshed (Gmail)
};

// What one folder's sync knows as it goes through its phases.
struct folder_ctx {
    folder_ctx(const folder_job& j, folder_report& r) : job(j), fr(r) {}
    const folder_job& job;
    folder_report& fr;
    archive::mailbox_state ms;  // the archive's view (current generation)
    archived_folder af;
    imap::select_result sr;  // EXAMINE
    std::uint32_t uidvalidity = 0;
    std::optional<std::uint64_t> server_modseq;
    folder_plan plan;
    bool recover = false;     // match bodies by header hash before downloading
    bool full_check = false;  // the archive's count disagreed with EXISTS: list all UIDs
    std::uint32_t last_known = 0;
    std::vector<flag_update> flag_changes;
    std::vector<std::uint32_t> vanished;
    std::vector<std::uint32_t> server_uids;  // sorted, when a full UID listing was obtained
    bool have_server_uids = false;
    std::vector<std::uint32_t> archived_live;  // sorted, filled with the listing merge
    bool have_archived_live = false;
    std::vector<std::uint32_t> to_fetch;  // sorted
    // Answers that failed verification (written by the fetch and the writer thread).
    std::mutex problems_mu;
    std::int64_t problem_count = 0;
    std::vector<std::string> problems;  // the first few, for the report
    std::string unsettled;              // listed messages the server never delivered
};

class account_sync {
public:
    account_sync(const config::account& acct, shared_archive& ar, const sync_options& opts,
                 account_report& rep)
        : acct_(acct), ar_(ar), opts_(opts), rep_(rep) {}

    void run();
    bool listed() const { return listed_; }

private:
    void log(const std::string& s) {
        if (opts_.log) opts_.log(acct_.name + ": " + s);
    }
    imap_session connect() {
        return opts_.open_session ? opts_.open_session(acct_, password_)
                                  : open_imap(acct_, password_);
    }
    void list_folders(imap_session& s, std::vector<folder_job>& jobs,
                      std::map<std::string, imap::status_info>& statuses);
    void worker(imap_session* first);
    void sync_folder(imap_session& s, const folder_job& job, folder_report& fr);
    bool unchanged(const folder_job& job, folder_report& fr);
    std::int64_t estimate(const folder_job& job);
    void count_expected(const folder_ctx& x);
    // The phases of one folder, in order (sync_folder strings them together).
    void open_folder(folder_ctx& x);
    bool examine(imap_session& s, folder_ctx& x);
    void gather_changes(imap_session& s, folder_ctx& x);
    void flag_listing(imap_session& s, folder_ctx& x);
    void full_listing(imap_session& s, folder_ctx& x);
    void diff_with_archive(folder_ctx& x);
    void apply_changes(folder_ctx& x);
    void recover_bodies(imap_session& s, folder_ctx& x);
    void dry_run_sizes(imap_session& s, folder_ctx& x);
    void fetch_bodies(imap_session& s, folder_ctx& x, fetch_tracker& t);
    void settle_missing(imap_session& s, folder_ctx& x, fetch_tracker& t);
    void finish_folder(folder_ctx& x, const fetch_tracker& t);
    void check_invariant(folder_ctx& x, const fetch_tracker& t, const archive::watermarks& fin);
    void commit(folder_ctx& x, std::vector<fetched_message>& batch, const archive::watermarks& wm,
                archive::preparer& prep);
    void note_problem(folder_ctx& x, std::uint32_t uid, const std::string& why);
    void record_entry(folder_ctx& x, std::uint32_t uidvalidity, const fetched_message& m,
                      std::uint64_t size, const archive::sha256& content);
    [[noreturn]] void fail(const folder_ctx& x, operation_kind op, const mv::error& e,
                           const std::string& what) {
        throw step_failure(op, mv::error(e.code, account_prefix(acct_) + "folder '" + x.job.name +
                                                     "': " + what + ": " + e.message));
    }
    void account_done(imap_session& s) {
        std::lock_guard lk(report_mu_);
        rep_.commands += s.client->state().tag_counter;
        if (s.conn) rep_.bytes_read += s.conn->counters().bytes_read;
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
    std::map<std::string, std::int64_t> estimates_;         // progress: messages guessed per folder
    bool listed_ = false;  // progress: this account's total is in expected_messages
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
        std::vector<std::string> items = {"MESSAGES", "UIDNEXT", "UIDVALIDITY"};
        if (s.condstore) items.push_back("HIGHESTMODSEQ");
        for (const auto& j : jobs) {
            imap::status_info st;
            if (auto e = c.status(j.name, items, st)) {
                // Not fatal: the folder is simply not settled from STATUS and gets EXAMINEd.
                // A dead connection is: the folder workers reconnect.
                log("folder '" + j.name + "': STATUS failed (" + e.message +
                    "); examining it instead");
                if (!c.usable()) break;
                continue;
            }
            statuses[j.entry.name] = st;
        }
    }
}

// Messages the folder probably has that the archive lacks: what the server holds now minus what
// it held at the last completed sync (all of it for a new folder or a new UIDVALIDITY).
std::int64_t account_sync::estimate(const folder_job& job) {
    auto it = statuses_.find(job.entry.name);
    if (it == statuses_.end() || !it->second.messages) return 0;
    const auto now = static_cast<std::int64_t>(*it->second.messages);
    if (!account_id_) return now;
    std::lock_guard lk(ar_.mu);
    auto ms = ar_.a.find_mailbox(account_id_, job.entry.name);
    if (!ms || !ms->server_messages || ms->uidvalidity != it->second.uidvalidity) return now;
    return std::max<std::int64_t>(0, now - *ms->server_messages);
}

void account_sync::count_expected(const folder_ctx& x) {
    if (!opts_.progress) return;
    auto it = estimates_.find(x.job.entry.name);
    const std::int64_t guessed = it == estimates_.end() ? 0 : it->second;
    opts_.progress->expected_messages += static_cast<std::int64_t>(x.to_fetch.size()) - guessed;
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
    if (!dry_ && sf.messages) {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        if (auto ms = ar_.a.find_mailbox(account_id_, job.entry.name))
            ar_.a.set_server_count(ms->id, *sf.messages, now_epoch());
        tx.commit();
    }
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
    spdlog::debug("account '{}': {} folders listed", acct_.name, jobs.size());
    rep_.folders.resize(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        rep_.folders[i].name = jobs[i].name;
        // Unchanged folders are settled here, from LIST-STATUS/STATUS alone: no SELECT, and no
        // extra connection opened for them.
        if (unchanged(jobs[i], rep_.folders[i])) continue;
        queue_.emplace_back(jobs[i], i);
    }
    if (opts_.progress) {
        opts_.progress->folders_total += static_cast<std::int64_t>(jobs.size());
        opts_.progress->folders_done += static_cast<std::int64_t>(jobs.size() - queue_.size());
        // The display knows its total before counting starts: an estimate per folder from the
        // LIST-STATUS counts, replaced by the exact number once the folder knows what it fetches.
        std::int64_t total = 0;
        for (const auto& [job, index] : queue_)
            total += (estimates_[job.entry.name] = estimate(job));
        opts_.progress->expected_messages += total;
        opts_.progress->listed_accounts += 1;
        listed_ = true;
    }

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
            if (stop_requested()) {
                // Ctrl-C: no new folder; the ones not started stay for the next run.
                fatal_ = mv::error(errc::cancelled,
                                   "interrupted before folder '" + queue_.front().first.name + "'");
                break;
            }
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
                // Where the failure happened decides how far it reaches (failure_policy.hpp);
                // failures outside a folder step (connect, login) are account-wide.
                const auto* sf = dynamic_cast<const step_failure*>(&f);
                const auto d = classify_failure(sf ? sf->op : operation_kind::connect, f.err.code);
                if (d.scope == failure_scope::folder || d.scope == failure_scope::message) {
                    // This folder only: report it and go on with the others on the same
                    // session (a NO/BAD leaves the connection usable).
                    fr.err = f.err;
                    log("folder '" + job.first.name + "' skipped: " + f.err.message);
                    break;
                }
                if (s) account_done(*s);
                if (s == first) first = nullptr;
                own.reset();
                s = nullptr;
                if (d.reconnect && reconnects < opts_.max_reconnects && !stop_requested()) {
                    ++reconnects;
                    {
                        std::lock_guard lk(report_mu_);
                        ++rep_.reconnects;
                    }
                    log("connection lost (" + f.err.message + "); reconnecting");
                    std::this_thread::sleep_for(
                        std::chrono::milliseconds(opts_.reconnect_backoff_ms << reconnects));
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

void account_sync::note_problem(folder_ctx& x, std::uint32_t uid, const std::string& why) {
    std::lock_guard lk(x.problems_mu);
    ++x.problem_count;
    if (x.problems.size() < 5)
        x.problems.push_back(uid ? "UID " + std::to_string(uid) + ": " + why : why);
    log("folder '" + x.job.name + "': " + (uid ? "UID " + std::to_string(uid) + ": " : "") + why +
        " -- not archived, kept on the server");
}

// Records the entry of one fetched body (caller holds the lock and a transaction).
void account_sync::record_entry(folder_ctx& x, std::uint32_t uidvalidity, const fetched_message& m,
                                std::uint64_t size, const archive::sha256& content) {
    archive::entry_record e;
    e.mailbox_id = x.ms.id;
    e.uidvalidity = uidvalidity;
    e.uid = m.uid;
    e.flags = m.flags;
    e.modseq = m.modseq;
    e.internaldate = m.internaldate;
    e.internaldate_tz = m.internaldate_tz;
    e.size = size;
    e.content = content;
    e.gmail = m.gmail;
    switch (ar_.a.upsert_entry(e)) {
        case archive::upsert_result::inserted: ++x.fr.new_messages; break;
        case archive::upsert_result::content_conflict:
            // Two different bodies for one UID (a duplicate answer, or a server that reused the
            // UID without changing UIDVALIDITY). Both bodies are kept in the archive's contents;
            // the entry keeps the first; the folder fails loudly.
            note_problem(x, m.uid,
                         "server sent a different body than the one archived for this UID (new "
                         "body kept as content " +
                             content.hex().substr(0, 16) + ")");
            break;
        default: break;
    }
}

// Runs on the batch writer's thread. Hashing, finding attachments and compressing happen
// before the lock (every connection's writer in parallel); under it, only lookups and inserts.
void account_sync::commit(folder_ctx& x, std::vector<fetched_message>& batch,
                          const archive::watermarks& wm, archive::preparer& prep) {
    std::vector<archive::prepared_content> ready;
    ready.reserve(batch.size());
    for (const auto& m : batch) ready.push_back(prep.prepare(m.body));
    std::lock_guard lk(ar_.mu);
    archive::transaction tx(ar_.a);
    for (std::size_t i = 0; i < batch.size(); ++i) {
        auto put = ar_.a.put_prepared(ready[i]);
        record_entry(x, wm.uidvalidity, batch[i], batch[i].body.size(), put.hash);
    }
    ar_.a.set_watermarks(x.ms.id, wm);
    tx.commit();
    crash_point("imap.batch_commit");
    prep.refresh(ar_.a);  // a dictionary trained by this batch serves the next one
    batch.clear();
}

void account_sync::sync_folder(imap_session& s, const folder_job& job, folder_report& fr) {
    folder_ctx x(job, fr);
    open_folder(x);
    if (!examine(s, x)) return;
    gather_changes(s, x);
    apply_changes(x);
    if (x.recover && !x.to_fetch.empty()) recover_bodies(s, x);
    if (dry_) {
        dry_run_sizes(s, x);
        return;
    }
    fetch_tracker t(x.to_fetch, x.af.last_uid.value_or(0));
    fetch_bodies(s, x, t);
    settle_missing(s, x, t);
    // A folder whose archive does not account for every message the server counted (e.g. a hole
    // an older version left below the watermark, which QRESYNC/CONDSTORE never look at again):
    // one full UID listing finds and fetches what is missing.
    if (t.complete() && !x.problem_count && !x.have_server_uids && x.sr.state.exists) {
        std::int64_t live = 0;
        {
            std::lock_guard lk(ar_.mu);
            live = ar_.a.live_count(x.ms.id);
        }
        if (live != static_cast<std::int64_t>(*x.sr.state.exists)) {
            log("folder '" + job.name + "': archive holds " + std::to_string(live) +
                " live messages, server counts " + std::to_string(*x.sr.state.exists) +
                "; checking the full UID list");
            x.full_check = true;
        }
    }
    if (x.full_check) {
        full_listing(s, x);
        apply_changes(x);
        fetch_tracker t2(x.to_fetch, t.watermark());
        fetch_bodies(s, x, t2);
        settle_missing(s, x, t2);
        finish_folder(x, t2);
        return;
    }
    finish_folder(x, t);
}

void account_sync::open_folder(folder_ctx& x) {
    const auto& le = x.job.entry;
    std::lock_guard lk(ar_.mu);
    std::optional<archive::mailbox_state> found;
    if (dry_) {
        if (account_id_) found = ar_.a.find_mailbox(account_id_, le.name);
    } else {
        archive::mailbox_info mi;
        mi.account_id = account_id_;
        mi.wire_name = le.name;
        mi.name = x.job.name;
        if (le.delimiter) mi.delimiter = std::string(1, le.delimiter);
        auto su = special_use_of(le);
        if (!su.empty()) mi.special_use = su;
        found = ar_.a.upsert_mailbox(mi);
    }
    std::int64_t live = 0;
    if (found) {
        x.ms = *found;
        live = ar_.a.live_count(x.ms.id);
    }
    x.af = to_archived(x.ms, live);
}

bool account_sync::examine(imap_session& s, folder_ctx& x) {
    auto& c = *s.client;
    // EXAMINE: read-only, a sync never changes the server.
    imap::select_request sel;
    sel.mailbox = x.job.name;
    sel.read_only = true;
    const bool can_qresync = s.qresync && x.af.uidvalidity && x.af.highestmodseq && x.af.last_uid;
    if (can_qresync) {
        sel.qresync_uidvalidity = x.af.uidvalidity;
        sel.qresync_modseq = *x.af.highestmodseq;
    } else if (s.condstore) {
        sel.condstore = true;
    }
    c.events().clear();
    if (auto e = c.select(sel, x.sr)) fail(x, operation_kind::select, e, "EXAMINE");
    if (!x.sr.state.uidvalidity)
        fail(x, operation_kind::verify_answer,
             mv::error(errc::protocol, "server sent no UIDVALIDITY"), "EXAMINE");
    // UIDVALIDITY 0 or above 2^32-1 never gets here: the parser names it a protocol error.
    x.uidvalidity = *x.sr.state.uidvalidity;
    x.fr.server_messages = x.sr.state.exists.value_or(0);
    x.server_modseq = x.sr.state.nomodseq ? std::nullopt : x.sr.state.highestmodseq;
    x.plan = plan_folder(x.af, x.uidvalidity, x.server_modseq, x.sr.state.nomodseq,
                         {s.condstore, s.qresync});
    if (x.plan.new_generation) {
        x.fr.uidvalidity_changed = true;
        x.fr.strategy = "new-generation";
        log("folder '" + x.job.name + "': UIDVALIDITY changed " +
            std::to_string(x.af.uidvalidity.value_or(0)) + " -> " + std::to_string(x.uidvalidity) +
            "; starting a new generation, reusing archived bodies");
        if (!dry_) {
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            x.ms = ar_.a.begin_generation(x.ms.id, x.uidvalidity);
            ar_.a.audit_append("uidvalidity_change",
                               nlohmann::json{{"account", acct_.name},
                                              {"folder", x.job.name},
                                              {"old_uidvalidity", x.af.uidvalidity.value_or(0)},
                                              {"new_uidvalidity", x.uidvalidity},
                                              {"new_generation", x.ms.generation}}
                                   .dump());
            tx.commit();
            crash_point("imap.new_generation");
        }
        x.af = to_archived(x.ms, 0);
        x.recover = true;
    } else {
        switch (x.plan.flags) {
            case flag_strategy::qresync: x.fr.strategy = "qresync"; break;
            case flag_strategy::condstore: x.fr.strategy = "condstore"; break;
            case flag_strategy::listing: x.fr.strategy = "listing"; break;
            case flag_strategy::none: x.fr.strategy = "first"; break;
        }
        // A new generation that was interrupted before its first watermark: recover again.
        if (x.af.uidvalidity && !x.af.last_uid && x.ms.generation > 1) x.recover = true;
    }
    if (!dry_ && !x.af.uidvalidity) {
        // First sight of this folder: record UIDVALIDITY before any entry.
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        ar_.a.set_watermarks(x.ms.id, {x.uidvalidity, std::nullopt, std::nullopt, std::nullopt});
        tx.commit();
        crash_point("imap.first_uidvalidity");
        x.af.uidvalidity = x.uidvalidity;
    }
    x.last_known = x.af.last_uid.value_or(0);
    return true;
}

void account_sync::gather_changes(imap_session& s, folder_ctx& x) {
    auto& c = *s.client;
    const std::uint32_t last_known = x.last_known;
    const bool gmail = offers_gmail(s);
    const bool utf8 = c.state().utf8;
    // Flags (and, from Gmail, labels) of the messages that changed since HIGHESTMODSEQ.
    auto changed_since = [&](std::uint64_t modseq) {
        collecting_sink sink;
        sink.on_attrs = [&](const imap::fetch_attrs& a) {
            if (a.uid && a.flags && *a.uid <= last_known)
                x.flag_changes.push_back(
                    {*a.uid, persistent_flags(*a.flags), a.modseq, gmail_of(a, utf8)});
        };
        imap::fetch_request fq;
        fq.sets = {range_set(1, last_known)};
        fq.items = with_gmail("(UID FLAGS MODSEQ)", gmail);
        fq.changedsince = modseq;
        if (auto e = c.uid_fetch(fq, sink))
            fail(x, operation_kind::fetch, e, "UID FETCH CHANGEDSINCE");
    };
    if (x.plan.flags == flag_strategy::qresync) {
        for (auto& ch : x.sr.changes)
            if (ch.uid && ch.flags && *ch.uid <= last_known)
                x.flag_changes.push_back(
                    {*ch.uid, persistent_flags(*ch.flags), ch.modseq, gmail_of(ch, utf8)});
        // The changes SELECT (QRESYNC) reports carry no X-GM-LABELS: a Gmail-like server that
        // also offered QRESYNC (Gmail does not) is asked for its label changes separately.
        if (gmail && last_known && x.af.highestmodseq) changed_since(*x.af.highestmodseq);
        // Never expand() a server's set: "1:4294967295" would be 16 GB. Test the archive's live
        // UIDs against it instead.
        if (!x.sr.vanished.empty() && x.ms.id) {
            std::lock_guard lk(ar_.mu);
            for (auto u : ar_.a.live_uids(x.ms.id))
                if (u <= last_known && x.sr.vanished.contains(u)) x.vanished.push_back(u);
        }
    } else if (x.plan.flags == flag_strategy::condstore) {
        // Only what changed since the archived HIGHESTMODSEQ comes back.
        changed_since(*x.af.highestmodseq);
    } else if (x.plan.flags == flag_strategy::listing) {
        flag_listing(s, x);
    }
    if (!x.have_server_uids && x.plan.flags != flag_strategy::qresync) {
        full_listing(s, x);
        return;
    }
    if (x.have_server_uids) {
        diff_with_archive(x);
        return;
    }
    // QRESYNC: new messages are those above the last archived UID (the watermark only ever
    // covers UIDs that are archived or proven absent, so nothing below it is outstanding).
    imap::search_result res;
    if (auto e = c.uid_search("UID " + std::to_string(last_known + 1) + ":*", res))
        fail(x, operation_kind::search, e, "UID SEARCH");
    for (auto u : res.ids)
        if (u > last_known) x.to_fetch.push_back(u);
    std::sort(x.to_fetch.begin(), x.to_fetch.end());
    x.to_fetch.erase(std::unique(x.to_fetch.begin(), x.to_fetch.end()), x.to_fetch.end());
    count_expected(x);
}

// A full UID/FLAGS listing up to the UIDNEXT seen at EXAMINE: it names every message (so also
// the new ones). Kept compact (UID + canonical flags, sorted) and merged with the archive's
// entries in one ordered pass, so only real changes touch SQLite.
void account_sync::flag_listing(imap_session& s, folder_ctx& x) {
    auto& c = *s.client;
    const bool gmail = offers_gmail(s);
    const bool utf8 = c.state().utf8;
    std::vector<std::pair<std::uint32_t, std::string>> listed;
    std::map<std::uint32_t, archive::gmail_attrs> listed_gmail;  // Gmail: labels by UID
    collecting_sink sink;
    sink.on_attrs = [&](const imap::fetch_attrs& a) {
        if (a.uid && *a.uid && a.flags) {
            listed.emplace_back(*a.uid, archive::canonical_flags(persistent_flags(*a.flags)));
            if (auto g = gmail_of(a, utf8)) listed_gmail[*a.uid] = std::move(*g);
        }
    };
    const std::uint32_t upper = std::max(x.last_known, x.sr.state.uidnext.value_or(1) - 1);
    imap::fetch_request fq;
    fq.sets = {range_set(1, std::max<std::uint32_t>(upper, 1))};
    fq.items = with_gmail("(UID FLAGS)", gmail);
    if (upper > 0)
        if (auto e = c.uid_fetch(fq, sink)) fail(x, operation_kind::fetch, e, "UID FETCH FLAGS");
    std::sort(listed.begin(), listed.end());
    listed.erase(std::unique(listed.begin(), listed.end(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                 listed.end());
    x.server_uids.clear();
    x.server_uids.reserve(listed.size());
    for (auto& l : listed) x.server_uids.push_back(l.first);
    x.have_server_uids = true;
    if (x.ms.id && x.af.uidvalidity && !x.plan.new_generation) {
        std::lock_guard lk(ar_.mu);
        std::size_t i = 0;
        ar_.a.for_each_entry(x.ms.id, [&](const archive::entry_view& e) {
            if (!e.uid || e.expunged_at) return;
            x.archived_live.push_back(*e.uid);
            while (i < listed.size() && listed[i].first < *e.uid) ++i;
            if (i >= listed.size() || listed[i].first != *e.uid) return;
            // Gmail: labels compared with the recorded ones (as sets), like the flags.
            std::optional<archive::gmail_attrs> g;
            if (auto lg = listed_gmail.find(*e.uid); lg != listed_gmail.end()) {
                auto had = ar_.a.gmail_of(e.id);
                if (!had ||
                    archive::canonical_labels(had->labels) !=
                        archive::canonical_labels(lg->second.labels) ||
                    (lg->second.msgid && had->msgid != lg->second.msgid))
                    g = lg->second;
            }
            if (listed[i].second != e.flags || g)
                x.flag_changes.push_back({*e.uid, archive::split_flags(listed[i].second), {}, g});
        });
        std::sort(x.archived_live.begin(), x.archived_live.end());
    }
    x.have_archived_live = true;
}

void account_sync::full_listing(imap_session& s, folder_ctx& x) {
    imap::search_result res;
    if (auto e = s.client->uid_search("ALL", res)) fail(x, operation_kind::search, e, "UID SEARCH");
    x.server_uids.clear();
    for (auto u : res.ids)
        if (u) x.server_uids.push_back(u);
    std::sort(x.server_uids.begin(), x.server_uids.end());
    x.server_uids.erase(std::unique(x.server_uids.begin(), x.server_uids.end()),
                        x.server_uids.end());
    x.have_server_uids = true;
    x.have_archived_live = false;
    x.archived_live.clear();
    diff_with_archive(x);
}

void account_sync::diff_with_archive(folder_ctx& x) {
    if (!x.have_archived_live && x.af.uidvalidity && !x.plan.new_generation && x.ms.id) {
        std::lock_guard lk(ar_.mu);
        x.archived_live = ar_.a.live_uids(x.ms.id);
    }
    auto d = diff_uids(x.archived_live, x.server_uids);
    for (auto u : d.vanished) x.vanished.push_back(u);
    x.to_fetch = std::move(d.unknown);  // new UIDs and any hole a killed run left
    count_expected(x);
}

void account_sync::apply_changes(folder_ctx& x) {
    if (!dry_ && (!x.flag_changes.empty() || !x.vanished.empty())) {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        for (auto& u : x.flag_changes) {
            if (ar_.a.update_flags(x.ms.id, u.uid, u.flags, u.modseq)) ++x.fr.flags_updated;
            if (u.gmail && ar_.a.update_gmail(x.ms.id, u.uid, *u.gmail, u.modseq))
                ++x.fr.labels_updated;
        }
        if (!x.vanished.empty()) x.fr.expunged += ar_.a.mark_expunged(x.ms.id, x.vanished);
        tx.commit();
        crash_point("imap.flags_commit");
    }
    x.flag_changes.clear();
    x.vanished.clear();
}

// UIDVALIDITY recovery: record entries for bodies the archive already holds, matched by the
// SHA-256 of their header block and their size, so only really new bodies are downloaded.
void account_sync::recover_bodies(imap_session& s, folder_ctx& x) {
    auto& c = *s.client;
    std::map<std::uint32_t, std::uint64_t> sizes;
    {
        collecting_sink ss;
        ss.on_attrs = [&](const imap::fetch_attrs& a) {
            if (a.uid && a.rfc822_size) sizes[*a.uid] = *a.rfc822_size;
        };
        imap::fetch_request fq;
        fq.sets.push_back(imap::make_uid_set(x.to_fetch));
        fq.items = "(UID RFC822.SIZE)";
        if (auto e = c.uid_fetch(fq, ss))
            fail(x, operation_kind::fetch, e, "UID FETCH RFC822.SIZE");
    }
    std::vector<archive::entry_record> reuse;
    std::vector<std::uint32_t> matched;
    collecting_sink hs;
    hs.expected_section = "HEADER";
    hs.check_size = false;
    hs.utf8 = c.state().utf8;
    hs.on_message = [&](fetched_message&& m) {
        // m.body holds only the header block here.
        if (!std::binary_search(x.to_fetch.begin(), x.to_fetch.end(), m.uid)) return;
        auto sz = sizes.find(m.uid);
        if (sz == sizes.end()) return;
        std::lock_guard lk(ar_.mu);
        for (const auto& h : ar_.a.find_by_header_hash(archive::header_hash(m.body))) {
            auto info = ar_.a.content(h);
            if (!info || info->raw_size != sz->second) continue;
            archive::entry_record e;
            e.mailbox_id = x.ms.id;
            e.uidvalidity = x.uidvalidity;
            e.uid = m.uid;
            e.flags = m.flags;
            e.internaldate = m.internaldate;
            e.internaldate_tz = m.internaldate_tz;
            e.size = sz->second;
            e.content = h;
            e.gmail = m.gmail;
            reuse.push_back(std::move(e));
            matched.push_back(m.uid);
            return;
        }
    };
    imap::fetch_request fq;
    for (auto& chunk : chunk_uids(x.to_fetch, opts_.fetch_chunk))
        fq.sets.push_back(imap::make_uid_set(chunk));
    fq.items = with_gmail("(UID FLAGS INTERNALDATE BODY.PEEK[HEADER])", offers_gmail(s));
    if (auto e = c.uid_fetch(fq, hs)) fail(x, operation_kind::fetch, e, "UID FETCH HEADER");
    if (auto f = hs.sink_failure()) std::rethrow_exception(f);
    if (!dry_ && !reuse.empty()) {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        for (auto& e : reuse)
            if (ar_.a.upsert_entry(e) == archive::upsert_result::inserted) {
                ++x.fr.new_messages;
                ++x.fr.reused_bodies;
            }
        tx.commit();
        crash_point("imap.recovery_commit");
    } else {
        x.fr.reused_bodies += static_cast<std::int64_t>(reuse.size());
    }
    // Whatever was not matched (or whose header did not come back) is downloaded in full.
    std::sort(matched.begin(), matched.end());
    std::vector<std::uint32_t> still;
    std::set_difference(x.to_fetch.begin(), x.to_fetch.end(), matched.begin(), matched.end(),
                        std::back_inserter(still));
    x.to_fetch = std::move(still);
}

void account_sync::dry_run_sizes(imap_session& s, folder_ctx& x) {
    if (x.to_fetch.empty()) return;
    collecting_sink ss;
    ss.on_attrs = [&](const imap::fetch_attrs& a) {
        ++x.fr.would_fetch;
        x.fr.would_fetch_bytes += static_cast<std::int64_t>(a.rfc822_size.value_or(0));
    };
    imap::fetch_request fq;
    fq.sets.push_back(imap::make_uid_set(x.to_fetch));
    fq.items = "(UID RFC822.SIZE)";
    if (auto e = s.client->uid_fetch(fq, ss))
        fail(x, operation_kind::fetch, e, "UID FETCH RFC822.SIZE");
}

// Downloads the bodies of t's outstanding UIDs. Batches are committed by a writer thread while
// the next ones arrive, so the server never waits for SQLite and zstd (at most three batches
// are held in memory). Each batch carries the watermark the tracker allows at that moment: the
// end of the contiguous run of wanted UIDs that arrived, never the highest UID seen.
void account_sync::fetch_bodies(imap_session& s, folder_ctx& x, fetch_tracker& t) {
    const auto wanted = t.missing();
    if (wanted.empty()) return;
    archive::watermarks wm{x.uidvalidity, x.af.uidnext, x.af.highestmodseq, x.af.last_uid};
    // The last_uid a commit may carry now: what the tracker allows (never below the folder's).
    auto allowed = [&]() -> std::optional<std::uint32_t> {
        if (t.watermark()) return t.watermark();
        return x.af.last_uid;
    };
    std::vector<fetched_message> batch;
    std::size_t batch_bytes = 0;
    std::optional<archive::preparer> prep;  // the writer thread's
    {
        std::lock_guard lk(ar_.mu);
        prep.emplace(ar_.a);
    }
    batch_writer writer([&](std::vector<fetched_message>& b, const archive::watermarks& w) {
        commit(x, b, w, *prep);
    });
    collecting_sink sink;
    sink.utf8 = s.client->state().utf8;
    sink.on_reject = [&](std::uint32_t uid, const std::string& why) { note_problem(x, uid, why); };
    sink.on_message = [&](fetched_message&& m) {
        switch (t.arrive(m.uid)) {
            case fetch_tracker::verdict::not_requested:
                note_problem(x, m.uid, "server sent a message that was not asked for; ignored");
                return;
            case fetch_tracker::verdict::duplicate:
                // Committed with the rest: the archive compares it with the first copy and
                // reports a conflict when the bytes differ.
                break;
            case fetch_tracker::verdict::accept: break;
        }
        ++x.fr.bodies_fetched;
        x.fr.bytes_fetched += static_cast<std::int64_t>(m.body.size());
        if (opts_.progress) {
            ++opts_.progress->messages;
            opts_.progress->bytes += static_cast<std::int64_t>(m.body.size());
        }
        batch_bytes += m.body.size();
        wm.last_uid = allowed();
        batch.push_back(std::move(m));
        if (batch.size() >= opts_.batch_messages || batch_bytes >= opts_.batch_bytes) {
            writer.submit(std::move(batch), wm);
            batch.clear();
            batch_bytes = 0;
        }
    };
    // A large body goes straight into the archive while it arrives (content_writer), in its own
    // transaction after every batch before it committed, so memory does not follow its size.
    // The archive stays locked while it streams.
    struct large_body {
        std::unique_lock<measured_mutex> lk;
        std::optional<archive::transaction> tx;
        std::optional<archive::content_writer> w;
        void abort() {
            w.reset();
            tx.reset();  // rolls back
            if (lk.owns_lock()) lk.unlock();
        }
    } big;
    sink.stream_threshold = opts_.stream_threshold;
    sink.on_large_begin = [&](std::uint64_t) {
        if (!batch.empty()) {
            wm.last_uid = allowed();
            writer.submit(std::move(batch), wm);
            batch.clear();
            batch_bytes = 0;
        }
        writer.drain();
        big.lk = std::unique_lock(ar_.mu);
        big.tx.emplace(ar_.a);
        big.w.emplace(ar_.a);
    };
    sink.on_large_data = [&](std::string_view bytes) { big.w->append(bytes); };
    sink.on_large_end = [&](fetched_message&& m, const std::string& why) {
        if (!why.empty()) {
            big.abort();
            note_problem(x, m.uid, why);
            return;
        }
        if (t.arrive(m.uid) == fetch_tracker::verdict::not_requested) {
            big.abort();
            note_problem(x, m.uid, "server sent a message that was not asked for; ignored");
            return;
        }
        const auto size = big.w->size();
        auto put = big.w->finish();
        record_entry(x, x.uidvalidity, m, size, put.hash);
        wm.last_uid = allowed();
        ar_.a.set_watermarks(x.ms.id, wm);
        big.w.reset();
        big.tx->commit();
        big.tx.reset();
        big.lk.unlock();
        crash_point("imap.large_commit");
        ++x.fr.bodies_fetched;
        x.fr.bytes_fetched += static_cast<std::int64_t>(size);
        if (opts_.progress) {
            ++opts_.progress->messages;
            opts_.progress->bytes += static_cast<std::int64_t>(size);
        }
    };
    imap::fetch_request fq;
    for (auto& chunk : chunk_uids(wanted, opts_.fetch_chunk))
        fq.sets.push_back(imap::make_uid_set(chunk));
    fq.items = with_gmail(s.condstore ? "(UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ BODY.PEEK[])"
                                      : "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
                          offers_gmail(s));
    fq.max_in_flight = 4;
    auto e = s.client->uid_fetch(fq, sink);
    big.abort();  // a large body cut off mid-literal is not archived
    // Whatever arrived completely and passed the checks is kept, even if the connection failed.
    if (!sink.sink_failure() && !batch.empty()) {
        wm.last_uid = allowed();
        writer.submit(std::move(batch), wm);
    }
    writer.drain();  // rethrows an archive failure
    if (auto f = sink.sink_failure()) std::rethrow_exception(f);
    if (t.watermark()) x.af.last_uid = t.watermark();
    if (e) fail(x, operation_kind::fetch, e, "UID FETCH");
}

// UIDs that were asked for and did not arrive (or failed the checks): ask the server whether it
// still has them. Gone ones are proven absent (expunged meanwhile); present ones are asked for
// once more; what is still missing after that fails the folder — the messages stay on the
// server, the watermark stays below them, the next run tries again.
void account_sync::settle_missing(imap_session& s, folder_ctx& x, fetch_tracker& t) {
    for (int pass = 0; pass < 2 && !t.complete(); ++pass) {
        const auto missing = t.missing();
        std::vector<std::uint32_t> present;
        for (auto& chunk : chunk_uids(missing, 500)) {
            imap::search_result res;
            auto set = imap::format_uid_set(imap::make_uid_set(chunk));
            if (auto e = s.client->uid_search("UID " + set, res))
                fail(x, operation_kind::search, e, "UID SEARCH (re-check)");
            std::sort(res.ids.begin(), res.ids.end());
            for (auto u : chunk)
                if (std::binary_search(res.ids.begin(), res.ids.end(), u))
                    present.push_back(u);
                else
                    t.absent(u);
        }
        if (present.empty() || pass == 1) break;
        log("folder '" + x.job.name + "': " + std::to_string(present.size()) +
            " listed messages did not arrive; asking again");
        fetch_bodies(s, x, t);
    }
    if (!t.complete()) {
        const auto m = t.missing();
        std::string list;
        for (std::size_t i = 0; i < m.size() && i < 10; ++i)
            list += (i ? "," : "") + std::to_string(m[i]);
        if (m.size() > 10) list += ",...";
        std::lock_guard lk(x.problems_mu);
        x.unsettled = "server did not deliver " + std::to_string(m.size()) +
                      " message(s) it lists (" + (m.size() == 1 ? "UID " : "UIDs ") + list + ")";
    }
}

void account_sync::finish_folder(folder_ctx& x, const fetch_tracker& t) {
    const bool complete = t.complete() && !x.problem_count && x.unsettled.empty();
    archive::watermarks fin;
    if (complete) {
        // The folder is complete: record where the server stood at EXAMINE.
        fin = {x.uidvalidity, x.sr.state.uidnext, x.server_modseq, t.watermark()};
        if (!t.watermark()) fin.last_uid = x.af.last_uid;
        if (x.have_server_uids && !x.server_uids.empty())
            fin.last_uid = std::max(fin.last_uid.value_or(0), x.server_uids.back());
    } else {
        // Something is outstanding: keep the old UIDNEXT/HIGHESTMODSEQ, so the next run looks
        // again, and only the watermark the tracker allows.
        fin = {x.uidvalidity, x.af.uidnext, x.af.highestmodseq, t.watermark()};
        if (!t.watermark()) fin.last_uid = x.af.last_uid;
    }
    check_invariant(x, t, fin);
    {
        std::lock_guard lk(ar_.mu);
        archive::transaction tx(ar_.a);
        ar_.a.set_watermarks(x.ms.id, fin);
        if (complete && x.sr.state.exists)
            ar_.a.set_server_count(x.ms.id, *x.sr.state.exists, now_epoch());
        tx.commit();
    }
    crash_point("imap.folder_complete");
    log("folder '" + x.job.name + "': " + x.fr.strategy + ", " + std::to_string(x.fr.new_messages) +
        " new, " + std::to_string(x.fr.flags_updated) + " flag changes, " +
        (x.fr.labels_updated ? std::to_string(x.fr.labels_updated) + " label changes, " : "") +
        std::to_string(x.fr.expunged) + " expunged");
    if (!complete) {
        std::string why = x.unsettled;
        if (x.problem_count) {
            if (!why.empty()) why += "; ";
            why += std::to_string(x.problem_count) + " server answer(s) failed verification (" +
                   x.problems.front() + ")";
        }
        x.fr.err = mv::error(errc::protocol,
                             "folder '" + x.job.name + "': " + why +
                                 "; those messages were not archived and stay on the server; "
                                 "run sync again, and report the server if it persists");
    }
}

// The folder's own invariant, checked against the archive before the final watermark is
// written: every UID this run archived at or below the watermark has its entry.
void account_sync::check_invariant(folder_ctx& x, const fetch_tracker& t,
                                   const archive::watermarks& fin) {
    if (t.wanted().empty()) return;
    std::vector<std::uint32_t> live;
    {
        std::lock_guard lk(ar_.mu);
        live = ar_.a.live_uids(x.ms.id);
    }
    std::vector<std::uint32_t> holes;
    for (auto u : t.wanted()) {
        if (u > fin.last_uid.value_or(0)) break;
        if (t.has_arrived(u) && !std::binary_search(live.begin(), live.end(), u))
            holes.push_back(u);
    }
    if (!holes.empty())
        throw mv::failure(errc::internal,
                          account_prefix(acct_) + "folder '" + x.job.name +
                              "': sync invariant broken: " + std::to_string(holes.size()) +
                              " UIDs at or below the watermark are not archived (first " +
                              std::to_string(holes.front()) +
                              "); nothing was deleted; please report this bug");
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
    // An account that failed before listing its folders adds nothing more to the total.
    if (opts.progress && !s.listed()) opts.progress->listed_accounts += 1;
    return rep;
}

}  // namespace mv::sync
