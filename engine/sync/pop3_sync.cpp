// POP3 backup with safe deletion (issues #6, #11): the executor of sync/pop3_plan.hpp.
//
// Flow: connect + login -> LIST sizes -> UIDL (or, without UIDL, an identity from TOP n 0 +
// size) -> archived entries -> plan_pop3_fetch -> TOP n 0 for known messages whose identity must
// be confirmed -> plan_pop3_fetch again -> RETR (pipelined when PIPELINING is advertised): small
// bodies are committed in batches, bodies above stream_threshold go through
// archive::content_writer while they arrive (durably when a deletion policy is active) -> mark
// archived messages that left the server -> re-read and re-hash every copy retrieved in this
// session -> plan_pop3_delete -> audit records (durable) -> DELE one by one -> QUIT (POP3 applies
// DELE only at QUIT, so a session that dies before QUIT deletes nothing) -> refusals reported.
// Crash points (mailvault/crashpoint.hpp): after each batch commit and audit commit, before and
// after each DELE and the QUIT.
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "archive/content_writer.hpp"
#include "archive/hash.hpp"
#include "mailvault/crashpoint.hpp"
#include "mailvault/failure_policy.hpp"
#include "sync/connect.hpp"
#include "sync/pop3_plan.hpp"
#include "sync/sync.hpp"

namespace mv::sync {

namespace {

// Bodies larger than this are streamed into the archive as they arrive (issue 11, break 7): the
// peak memory of a session does not grow with the message size.
// (4 MiB: the buffer of a body below it grows by doubling, so it never holds more than 8 MiB.)
constexpr std::size_t stream_threshold = 4u << 20;

std::int64_t now_epoch() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Collects TOP n 0 answers.
class header_sink : public pop3::message_sink {
public:
    std::map<std::uint32_t, std::string> headers;
    void begin(std::uint32_t msgno) override {
        msgno_ = msgno;
        cur_.clear();
    }
    void data(std::string_view bytes) override { cur_.append(bytes); }
    void end() override { headers[msgno_] = std::move(cur_); }
    void abort() override { cur_.clear(); }

private:
    std::uint32_t msgno_ = 0;
    std::string cur_;
};

// Everything the RETR phase needs to store bodies and to know what it stored.
// Flow: begin(n) -> data()* (buffered; past stream_threshold the pending batch is committed and
// the body continues into a content_writer under the archive lock) -> end(): small bodies join
// the batch (committed every batch_messages / batch_bytes), a streamed body is committed at once.
// An archive failure never unwinds through the protocol operation: it is kept in `failed` and
// later bodies are only read, not stored; the executor throws it once RETR returns.
class store_sink : public pop3::message_sink {
public:
    store_sink(shared_archive& ar, const sync_options& opts, folder_report& fr,
               std::int64_t mailbox_id, archive::durability dur,
               const std::map<std::uint32_t, std::string>& identity,
               std::vector<pop3_archived>& archived,
               std::map<std::uint32_t, pop3_retrieved>& retrieved)
        : ar_(ar),
          opts_(opts),
          fr_(fr),
          mailbox_id_(mailbox_id),
          dur_(dur),
          identity_(identity),
          archived_(archived),
          retrieved_(retrieved) {}
    ~store_sink() override { drop_stream(); }

    std::optional<mv::failure> failed;

    void begin(std::uint32_t msgno) override {
        msgno_ = msgno;
        body_.clear();
        size_ = 0;
        tail_.clear();
    }
    void data(std::string_view bytes) override {
        size_ += bytes.size();
        tail_.append(bytes.substr(bytes.size() > 2 ? bytes.size() - 2 : 0));
        if (tail_.size() > 2) tail_.erase(0, tail_.size() - 2);
        if (failed) return;
        try {
            if (writer_) {
                writer_->append(bytes);
                return;
            }
            if (body_.size() + bytes.size() > stream_threshold) {
                start_stream();
                writer_->append(bytes);
                return;
            }
            body_.append(bytes);
        } catch (const mv::failure& f) {
            fail(f);
        }
    }
    void end() override {
        ++fr_.bodies_fetched;
        fr_.bytes_fetched += static_cast<std::int64_t>(size_);
        if (opts_.progress) {
            ++opts_.progress->messages;
            opts_.progress->bytes += static_cast<std::int64_t>(size_);
        }
        if (failed) return;
        try {
            if (writer_) {
                finish_stream();
                return;
            }
            batch_bytes_ += body_.size();
            batch_.push_back({msgno_, std::move(body_)});
            body_ = std::string();
            if (batch_.size() >= opts_.batch_messages || batch_bytes_ >= opts_.batch_bytes)
                commit();
        } catch (const mv::failure& f) {
            fail(f);
        }
    }
    void abort() override {
        body_ = std::string();
        drop_stream();
    }

    // Commits the pending batch (call once RETR returned); throws what failed.
    void flush() {
        if (!failed) {
            try {
                commit();
            } catch (const mv::failure& f) {
                fail(f);
            }
        }
        if (failed) throw *failed;
    }

private:
    struct pending {
        std::uint32_t msgno;
        std::string body;
    };

    bool ends_crlf() const { return tail_ == "\r\n"; }

    // Records one body under its key; call inside a transaction. Returns true if a new entry.
    bool record(std::uint32_t msgno, const archive::sha256& h, std::uint64_t size, bool ends_crlf) {
        const std::string& id = identity_.at(msgno);
        const std::string key = pop3_entry_key(id, h, archived_);
        archive::entry_record e;
        e.mailbox_id = mailbox_id_;
        e.uidl = key;
        e.size = size;
        // POP3 has no INTERNALDATE; the time of first retrieval stands in for it (it is what
        // `delete = "older_than"` measures, like "leave on server for N days").
        const auto now = now_epoch();
        e.internaldate = now;
        e.content = h;
        const auto r = ar_.a.upsert_entry(e);
        if (r == archive::upsert_result::content_conflict)
            throw mv::failure(errc::internal, "entry " + key + " holds other content");
        if (std::none_of(archived_.begin(), archived_.end(),
                         [&](const pop3_archived& a) { return a.key == key; }))
            archived_.push_back({key, h, size, now, true});
        pop3_retrieved& got = retrieved_[msgno];
        got = {h, size, ends_crlf, false, key, false, false};
        return r == archive::upsert_result::inserted;
    }

    void commit() {
        if (batch_.empty()) return;
        std::int64_t inserted = 0;
        std::vector<std::uint32_t> done;
        {
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            for (auto& [msgno, body] : batch_) {
                auto put = ar_.a.put_content(body);
                const bool crlf = body.size() >= 2 && body.compare(body.size() - 2, 2, "\r\n") == 0;
                if (record(msgno, put.hash, body.size(), crlf)) ++inserted;
                done.push_back(msgno);
            }
            tx.commit(dur_);
        }
        // Counted only once committed: a batch that rolls back adds nothing to the report.
        fr_.new_messages += inserted;
        for (auto m : done) retrieved_[m].committed = true;
        batch_.clear();
        batch_bytes_ = 0;
        crash_point("pop3.batch_commit");
    }

    void start_stream() {
        commit();
        lock_.emplace(ar_.mu);
        tx_.emplace(ar_.a);
        writer_ = std::make_unique<archive::content_writer>(ar_.a);
        writer_->append(body_);
        body_ = std::string();
    }

    void finish_stream() {
        auto put = writer_->finish();
        const bool inserted = record(msgno_, put.hash, writer_->size(), ends_crlf());
        tx_->commit(dur_);
        drop_stream();
        if (inserted) ++fr_.new_messages;
        retrieved_[msgno_].committed = true;
        crash_point("pop3.batch_commit");
    }

    void drop_stream() noexcept {
        writer_.reset();
        tx_.reset();  // rolls back unless committed
        lock_.reset();
    }

    void fail(const mv::failure& f) {
        failed = f;
        drop_stream();
        batch_.clear();
        body_ = std::string();
    }

    shared_archive& ar_;
    const sync_options& opts_;
    folder_report& fr_;
    std::int64_t mailbox_id_;
    archive::durability dur_;
    const std::map<std::uint32_t, std::string>& identity_;
    std::vector<pop3_archived>& archived_;
    std::map<std::uint32_t, pop3_retrieved>& retrieved_;

    std::uint32_t msgno_ = 0;
    std::string body_;
    std::uint64_t size_ = 0;
    std::string tail_;
    std::vector<pending> batch_;
    std::size_t batch_bytes_ = 0;
    std::optional<std::unique_lock<measured_mutex>> lock_;
    std::optional<archive::transaction> tx_;
    std::unique_ptr<archive::content_writer> writer_;
};

}  // namespace

account_report sync_pop3_account(const config::account& acct, shared_archive& ar,
                                 const sync_options& opts) {
    account_report rep;
    rep.name = acct.name;
    rep.protocol = "pop3";
    rep.folders.resize(1);
    folder_report& fr = rep.folders[0];
    fr.name = "INBOX";
    const auto t0 = std::chrono::steady_clock::now();
    auto log = [&](const std::string& s) {
        if (opts.log) opts.log(acct.name + ": " + s);
    };
    bool counted = false;  // the progress display's total, once
    try {
        const std::string password = config::resolve_password(acct);
        auto s = open_pop3(acct, password);
        auto& c = *s.client;
        auto fail = [&](const mv::error& e, const std::string& what) {
            throw mv::failure(e.code, account_prefix(acct) + what + ": " + e.message);
        };
        pop3_policy policy;
        policy.del = acct.delete_policy;
        policy.older_than_seconds = acct.delete_older_than.count();
        policy.allow_delete_without_uidl = acct.allow_delete_without_uidl;
        const bool deleting = acct.delete_policy != config::pop3_delete::keep;

        // --- identities of the messages on the server
        std::vector<pop3::list_entry> sizes;
        if (auto e = c.list(sizes)) fail(e, "LIST");
        std::map<std::uint32_t, std::uint64_t> size_of;
        for (auto& l : sizes) size_of[l.msgno] = l.size;
        std::map<std::uint32_t, std::string> ident;  // msgno -> UIDL or fallback identity
        {
            std::vector<pop3::uidl_entry> u;
            auto e = c.uidl(u);
            if (e && e.code == errc::server_no) {
                policy.have_uidl = false;
            } else if (e) {
                fail(e, "UIDL");
            }
            for (auto& x : u) ident[x.msgno] = x.uid;
        }
        if (!policy.have_uidl) {
            if (deleting && !acct.allow_delete_without_uidl)
                throw mv::failure(
                    errc::config,
                    account_prefix(acct) +
                        "the server has no UIDL, so messages cannot be identified reliably "
                        "across sessions; deleting is refused. Set allow_delete_without_uidl = "
                        "true to accept identities made from headers and size");
            // Documented fallback identity: SHA-256 of the header block (TOP n 0) and the size.
            std::vector<std::uint32_t> all;
            for (auto& [msgno, size] : size_of) all.push_back(msgno);
            header_sink hs;
            if (auto e = c.top_many(all, 0, hs)) fail(e, "TOP");
            for (auto& [msgno, size] : size_of)
                ident[msgno] = "hdr-" +
                               archive::header_hash(hs.headers[msgno]).hex().substr(0, 40) + "-" +
                               std::to_string(size);
        }
        std::vector<pop3_listed> listed;
        for (auto& [msgno, id] : ident) {
            auto sz = size_of.find(msgno);
            if (sz == size_of.end())
                fail(mv::error(errc::protocol, "message " + std::to_string(msgno) +
                                                   " is in the UIDL answer but not in LIST"),
                     "LIST");
            listed.push_back({msgno, sz->second, id});
        }
        fr.server_messages = static_cast<std::int64_t>(listed.size());

        // --- what the archive holds
        std::int64_t mailbox_id = 0;
        std::vector<pop3_archived> archived;
        {
            std::lock_guard lk(ar.mu);
            if (!opts.dry_run) {
                archive::transaction tx(ar.a);
                auto aid = ar.a.upsert_account(
                    {acct.name, config::to_string(acct.protocol), acct.host, acct.user});
                archive::mailbox_info mi;
                mi.account_id = aid;
                mi.wire_name = "INBOX";
                mi.name = "INBOX";
                mailbox_id = ar.a.upsert_mailbox(mi).id;
                tx.commit();
            } else if (auto aid = ar.a.find_account(acct.name)) {
                if (auto m = ar.a.find_mailbox(*aid, "INBOX")) mailbox_id = m->id;
            }
            if (mailbox_id)
                ar.a.for_each_entry(mailbox_id, [&](const archive::entry_view& e) {
                    if (!e.uidl) return;
                    archived.push_back(
                        {*e.uidl, e.content, e.size, e.internaldate.value_or(0), !e.expunged_at});
                });
        }
        policy.now = now_epoch();
        auto plan = plan_pop3_fetch(listed, archived, policy, nullptr);
        if (opts.dry_run) {
            fr.would_fetch = static_cast<std::int64_t>(plan.fetch.size());
            fr.would_fetch_bytes = static_cast<std::int64_t>(plan.fetch_bytes);
            c.quit();
            rep.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return rep;
        }

        // --- known messages: confirm with TOP n 0 that the UIDL still names what we archived
        if (!plan.top.empty()) {
            header_sink hs;
            auto e = c.top_many(plan.top, 0, hs);
            if (e && e.code == errc::server_no) {
                // After a -ERR no further TOP was sent: ask for the rest one at a time.
                for (auto n : plan.top)
                    if (!hs.headers.count(n))
                        if (auto e1 = c.top(n, 0, hs); e1 && e1.code != errc::server_no)
                            fail(e1, "TOP");
            } else if (e) {
                fail(e, "TOP");
            }
            std::map<std::uint32_t, pop3_top_answer> tops;
            std::lock_guard lk(ar.mu);
            for (auto n : plan.top) {
                auto& t = tops[n];
                auto h = hs.headers.find(n);
                if (h == hs.headers.end()) continue;
                t.ok = true;
                for (auto& x : ar.a.find_by_header_hash(archive::header_hash(h->second)))
                    t.same_header.insert(x);
            }
            plan = plan_pop3_fetch(listed, archived, policy, &tops);
        }
        for (const auto& n : plan.notes) log(n);
        if (opts.progress && !counted) {
            counted = true;
            opts.progress->folders_total += 1;
            opts.progress->expected_messages += static_cast<std::int64_t>(plan.fetch.size());
            opts.progress->expected_bytes += static_cast<std::int64_t>(plan.fetch_bytes);
            opts.progress->listed_accounts += 1;
        }

        // --- download: new messages, reused UIDLs, and every deletion candidate (re-proved)
        const auto dur = deleting ? archive::durability::full : archive::durability::normal;
        std::map<std::uint32_t, pop3_retrieved> retrieved;
        mv::error fetch_err;
        {
            store_sink sink(ar, opts, fr, mailbox_id, dur, ident, archived, retrieved);
            fetch_err = c.retr_many(plan.fetch, sink);
            sink.flush();  // keep whatever arrived completely; throws an archive failure
        }

        // --- messages that left the server stay archived, marked
        if (!plan.gone.empty()) {
            std::lock_guard lk(ar.mu);
            archive::transaction tx(ar.a);
            fr.expunged += ar.a.mark_expunged_uidl(mailbox_id, plan.gone);
            tx.commit();
        }
        if (!fetch_err && !opts.dry_run) {
            // What this session's listing counted: `status` shows it as "on server".
            std::lock_guard lk(ar.mu);
            archive::transaction tx(ar.a);
            ar.a.set_server_count(mailbox_id, static_cast<std::int64_t>(listed.size()),
                                  now_epoch());
            tx.commit();
        }
        if (fetch_err) {
            // Nothing is deleted after a failed download (failure_policy: the folder's scope at
            // least); end the session cleanly when the connection still allows it.
            const auto d = classify_failure(operation_kind::fetch, fetch_err.code);
            if (c.usable()) c.quit();
            fail(fetch_err, std::string("RETR (") + failure_scope_name(d.scope) +
                                " failure; nothing was deleted)");
        }

        // --- deletion, only for copies this session retrieved, committed and re-read
        std::vector<pop3_refusal> refusals;
        if (deleting) {
            for (auto& [msgno, got] : retrieved) {
                if (!got.committed) continue;
                std::uint64_t n = 0;
                mv::error e;
                {
                    std::lock_guard lk(ar.mu);
                    e = ar.a.read_content(got.hash, [&](std::string_view b) { n += b.size(); });
                }
                got.reread_ok = !e && n == got.size;
            }
            if (auto confirm = pop3_needs_top_confirmation(retrieved); !confirm.empty()) {
                header_sink hs;
                if (auto e = c.top_many(confirm, 0, hs); e && e.code != errc::server_no)
                    fail(e, "TOP");
                std::lock_guard lk(ar.mu);
                for (auto n : confirm) {
                    auto h = hs.headers.find(n);
                    if (h == hs.headers.end()) continue;
                    auto same = ar.a.find_by_header_hash(archive::header_hash(h->second));
                    retrieved[n].top_confirms =
                        std::find(same.begin(), same.end(), retrieved[n].hash) != same.end();
                }
            }
            auto dp = plan_pop3_delete(listed, archived, policy, plan, retrieved);
            refusals = std::move(dp.refusals);
            for (const auto& r : refusals)
                log("not deleting message " + std::to_string(r.msgno) + " (UIDL " + r.identity +
                    "): " + pop3_refusal_name(r.reason) + ": " + r.detail);
            fr.deletions_refused = static_cast<std::int64_t>(refusals.size());
            const std::string rule =
                acct.delete_policy == config::pop3_delete::after_archive
                    ? "delete_after_archive"
                    : "delete_older_than " + std::to_string(acct.delete_older_than.count()) + "s";
            if (!dp.dele.empty()) {
                {
                    // Audit first, durably: the record exists before the server can act on it.
                    std::lock_guard lk(ar.mu);
                    archive::transaction tx(ar.a);
                    for (const auto& d : dp.dele)
                        ar.a.audit_append("pop3_dele", nlohmann::json{{"account", acct.name},
                                                                      {"uidl", d.identity},
                                                                      {"entry", d.key},
                                                                      {"sha256", d.hash.hex()},
                                                                      {"size", d.size},
                                                                      {"rule", rule},
                                                                      {"time", policy.now}}
                                                           .dump());
                    tx.commit(archive::durability::full);
                }
                crash_point("pop3.audit_dele");
                for (const auto& d : dp.dele) {
                    crash_point("pop3.dele.before");
                    if (auto e = c.dele(d.msgno)) fail(e, "DELE");
                    crash_point("pop3.dele.after");
                }
                rep.deleted_on_server = static_cast<std::int64_t>(dp.dele.size());
            }
        }
        crash_point("pop3.quit.before");
        if (auto e = c.quit()) {
            rep.deleted_on_server = 0;  // not known to be applied
            fail(e, "QUIT");
        }
        crash_point("pop3.quit.after");
        if (rep.deleted_on_server > 0) {
            {
                std::lock_guard lk(ar.mu);
                archive::transaction tx(ar.a);
                ar.a.audit_append("pop3_quit", nlohmann::json{{"account", acct.name},
                                                              {"deleted", rep.deleted_on_server},
                                                              {"time", now_epoch()}}
                                                   .dump());
                tx.commit(archive::durability::full);
            }
            crash_point("pop3.audit_quit");
            log(std::to_string(rep.deleted_on_server) + " messages deleted on the server");
        }
        if (!refusals.empty()) {
            std::map<std::string, int> by_reason;
            for (const auto& r : refusals) ++by_reason[pop3_refusal_name(r.reason)];
            std::string why;
            for (const auto& [k, v] : by_reason)
                why += (why.empty() ? "" : ", ") + std::to_string(v) + " " + k;
            throw mv::failure(errc::protocol,
                              account_prefix(acct) + std::to_string(refusals.size()) +
                                  " messages not deleted because the server's answers failed "
                                  "verification (" +
                                  why +
                                  "); they stay on the server, see the "
                                  "log lines above");
        }
        rep.commands = 0;
        rep.bytes_read = s.conn->counters().bytes_read;
    } catch (const mv::failure& f) {
        rep.err = f.err;
    }
    if (opts.progress && counted) opts.progress->folders_done += 1;
    if (opts.progress && !counted) opts.progress->listed_accounts += 1;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

account_report sync_account(const config::account& acct, shared_archive& ar,
                            const sync_options& opts) {
    if (acct.protocol == config::protocol::pop3) return sync_pop3_account(acct, ar, opts);
    return sync_imap_account(acct, ar, opts);
}

}  // namespace mv::sync
