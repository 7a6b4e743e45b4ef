// POP3 backup with safe deletion (issue #6).
//
// Flow: connect + login -> UIDL (or, without UIDL, an identity from TOP n 0 + size) -> LIST
// sizes -> RETR every message whose identity is not archived (pipelined when PIPELINING is
// advertised), committed in batches (durably when a deletion policy is active) -> mark archived
// messages that left the server -> deletion: for each candidate, read the archived copy back and
// re-hash it in this run, write an audit record (durable), then DELE -> QUIT (POP3 applies DELE
// only at QUIT, so a session that dies before QUIT deletes nothing).
#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/hash.hpp"
#include "sync/connect.hpp"
#include "sync/sync.hpp"

namespace mv::sync {

namespace {

class batch_sink : public pop3::message_sink {
public:
    std::function<void(std::uint32_t, std::string&&)> on_message;
    void begin(std::uint32_t msgno) override {
        msgno_ = msgno;
        body_.clear();
    }
    void data(std::string_view bytes) override { body_.append(bytes); }
    void end() override {
        if (on_message) on_message(msgno_, std::move(body_));
        body_ = std::string();
    }
    void abort() override { body_.clear(); }

private:
    std::uint32_t msgno_ = 0;
    std::string body_;
};

std::int64_t now_epoch() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

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
    try {
        const std::string password = config::resolve_password(acct);
        auto s = open_pop3(acct, password);
        auto& c = *s.client;
        auto fail = [&](const mv::error& e, const std::string& what) {
            throw mv::failure(e.code, account_prefix(acct) + what + ": " + e.message);
        };
        const bool deleting = acct.delete_policy != config::pop3_delete::keep;

        // --- identities of the messages on the server
        std::vector<pop3::list_entry> sizes;
        if (auto e = c.list(sizes)) fail(e, "LIST");
        std::map<std::uint32_t, std::uint64_t> size_of;
        for (auto& l : sizes) size_of[l.msgno] = l.size;
        std::map<std::uint32_t, std::string> ident;  // msgno -> UIDL or fallback identity
        bool have_uidl = true;
        {
            std::vector<pop3::uidl_entry> u;
            auto e = c.uidl(u);
            if (e && e.code == errc::server_no) {
                have_uidl = false;
            } else if (e) {
                fail(e, "UIDL");
            }
            for (auto& x : u) ident[x.msgno] = x.uid;
        }
        if (!have_uidl) {
            if (deleting && !acct.allow_delete_without_uidl)
                throw mv::failure(
                    errc::config,
                    account_prefix(acct) +
                        "the server has no UIDL, so messages cannot be identified reliably "
                        "across sessions; deleting is refused. Set allow_delete_without_uidl = "
                        "true to accept identities made from headers and size");
            // Documented fallback identity: SHA-256 of the header block (TOP n 0) and the size.
            for (auto& [msgno, size] : size_of) {
                batch_sink hs;
                std::string header;
                hs.on_message = [&](std::uint32_t, std::string&& b) { header = std::move(b); };
                if (auto e = c.top(msgno, 0, hs)) fail(e, "TOP");
                ident[msgno] = "hdr-" + archive::header_hash(header).hex().substr(0, 40) + "-" +
                               std::to_string(size);
            }
        }
        fr.server_messages = static_cast<std::int64_t>(ident.size());

        // --- what the archive holds
        std::int64_t mailbox_id = 0;
        std::map<std::string, archive::sha256> archived;  // identity -> content (live or not)
        std::set<std::string> live;
        {
            std::lock_guard lk(ar.mu);
            if (!opts.dry_run) {
                auto aid = ar.a.upsert_account(
                    {acct.name, config::to_string(acct.protocol), acct.host, acct.user});
                archive::mailbox_info mi;
                mi.account_id = aid;
                mi.wire_name = "INBOX";
                mi.name = "INBOX";
                mailbox_id = ar.a.upsert_mailbox(mi).id;
            } else if (auto aid = ar.a.find_account(acct.name)) {
                if (auto m = ar.a.find_mailbox(*aid, "INBOX")) mailbox_id = m->id;
            }
            if (mailbox_id)
                ar.a.for_each_entry(mailbox_id, [&](const archive::entry_view& e) {
                    if (!e.uidl) return;
                    archived[*e.uidl] = e.content;
                    if (!e.expunged_at) live.insert(*e.uidl);
                });
        }
        std::vector<std::uint32_t> to_fetch;
        std::set<std::string> on_server;
        for (auto& [msgno, id] : ident) {
            on_server.insert(id);
            if (!archived.count(id)) to_fetch.push_back(msgno);
        }
        if (opts.dry_run) {
            fr.would_fetch = static_cast<std::int64_t>(to_fetch.size());
            for (auto m : to_fetch) fr.would_fetch_bytes += static_cast<std::int64_t>(size_of[m]);
            c.quit();
            rep.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return rep;
        }

        // --- download what is new, in batches
        const auto dur = deleting ? archive::durability::full : archive::durability::normal;
        std::vector<std::pair<std::uint32_t, std::string>> batch;
        std::size_t batch_bytes = 0;
        auto commit = [&] {
            if (batch.empty()) return;
            std::lock_guard lk(ar.mu);
            archive::transaction tx(ar.a);
            for (auto& [msgno, body] : batch) {
                auto put = ar.a.put_content(body);
                archive::entry_record e;
                e.mailbox_id = mailbox_id;
                e.uidl = ident[msgno];
                e.size = body.size();
                // POP3 has no INTERNALDATE; the time of retrieval stands in for it (it is what
                // `delete = "older_than"` measures, like "leave on server for N days").
                e.internaldate = now_epoch();
                e.content = put.hash;
                if (ar.a.upsert_entry(e) == archive::upsert_result::inserted) ++fr.new_messages;
                archived[ident[msgno]] = put.hash;
                live.insert(ident[msgno]);
            }
            tx.commit(dur);
            batch.clear();
            batch_bytes = 0;
        };
        batch_sink sink;
        sink.on_message = [&](std::uint32_t msgno, std::string&& body) {
            ++fr.bodies_fetched;
            fr.bytes_fetched += static_cast<std::int64_t>(body.size());
            if (opts.progress) {
                ++opts.progress->messages;
                opts.progress->bytes += static_cast<std::int64_t>(body.size());
            }
            batch_bytes += body.size();
            batch.emplace_back(msgno, std::move(body));
            if (batch.size() >= opts.batch_messages || batch_bytes >= opts.batch_bytes) commit();
        };
        auto fetch_err = c.retr_many(to_fetch, sink);
        commit();  // keep whatever arrived completely
        if (fetch_err) fail(fetch_err, "RETR");

        // --- messages that left the server stay archived, marked
        {
            std::vector<std::string> gone;
            for (auto& id : live)
                if (!on_server.count(id)) gone.push_back(id);
            if (!gone.empty()) {
                std::lock_guard lk(ar.mu);
                archive::transaction tx(ar.a);
                fr.expunged += ar.a.mark_expunged_uidl(mailbox_id, gone);
                tx.commit();
            }
        }

        // --- deletion, only for verified archived copies
        if (deleting) {
            std::vector<std::uint32_t> dele;
            std::map<std::string, std::int64_t> first_seen;
            if (acct.delete_policy == config::pop3_delete::older_than) {
                std::lock_guard lk(ar.mu);
                ar.a.for_each_entry(mailbox_id, [&](const archive::entry_view& e) {
                    // POP3 has no INTERNALDATE: entries record when we first retrieved them.
                    if (e.uidl && e.internaldate) first_seen[*e.uidl] = *e.internaldate;
                });
            }
            const std::int64_t now = now_epoch();
            const std::string rule =
                acct.delete_policy == config::pop3_delete::after_archive
                    ? "delete_after_archive"
                    : "delete_older_than " + std::to_string(acct.delete_older_than.count()) + "s";
            for (auto& [msgno, id] : ident) {
                auto it = archived.find(id);
                if (it == archived.end()) continue;  // not archived: never deleted
                if (acct.delete_policy == config::pop3_delete::older_than) {
                    auto fs = first_seen.find(id);
                    if (fs == first_seen.end() || now - fs->second < acct.delete_older_than.count())
                        continue;
                }
                // Re-read and re-hash the archived copy in this run.
                std::uint64_t n = 0;
                mv::error e;
                {
                    std::lock_guard lk(ar.mu);
                    e = ar.a.read_content(it->second, [&](std::string_view b) { n += b.size(); });
                }
                // (LIST sizes are not compared: RFC 1939 lets servers report an approximate
                // size, and Dovecot counts a message without a final line end differently.)
                if (e || n == 0) {
                    log("not deleting message " + id + ": archived copy failed verification (" +
                        (e ? e.message : "empty") + ")");
                    ++fr.deletions_refused;
                    continue;
                }
                dele.push_back(msgno);
            }
            if (!dele.empty()) {
                {
                    // Audit first, durably: the record exists before the server can act on it.
                    std::lock_guard lk(ar.mu);
                    archive::transaction tx(ar.a);
                    for (auto m : dele)
                        ar.a.audit_append("pop3_dele",
                                          nlohmann::json{{"account", acct.name},
                                                         {"uidl", ident[m]},
                                                         {"sha256", archived[ident[m]].hex()},
                                                         {"size", size_of[m]},
                                                         {"rule", rule},
                                                         {"time", now}}
                                              .dump());
                    tx.commit(archive::durability::full);
                }
                if (auto e = c.dele_many(dele)) fail(e, "DELE");
                rep.deleted_on_server = static_cast<std::int64_t>(dele.size());
            }
        }
        if (auto e = c.quit()) fail(e, "QUIT");
        if (rep.deleted_on_server > 0) {
            std::lock_guard lk(ar.mu);
            archive::transaction tx(ar.a);
            ar.a.audit_append("pop3_quit", nlohmann::json{{"account", acct.name},
                                                          {"deleted", rep.deleted_on_server},
                                                          {"time", now_epoch()}}
                                               .dump());
            tx.commit(archive::durability::full);
            log(std::to_string(rep.deleted_on_server) + " messages deleted on the server");
        }
        rep.commands = 0;
        rep.bytes_read = s.conn->counters().bytes_read;
    } catch (const mv::failure& f) {
        rep.err = f.err;
    }
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

account_report sync_account(const config::account& acct, shared_archive& ar,
                            const sync_options& opts) {
    if (acct.protocol == config::protocol::pop3) return sync_pop3_account(acct, ar, opts);
    return sync_imap_account(acct, ar, opts);
}

}  // namespace mv::sync
