#include "sync/restore.hpp"

#include "sync/folder_mapping.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "archive/archive.hpp"
#include "archive/ledger.hpp"
#include "imap/uid_set.hpp"
#include "imap/writer.hpp"
#include "mailvault/crashpoint.hpp"
#include "mailvault/failure_policy.hpp"

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
    std::map<std::uint32_t, std::vector<std::string>> flags;  // when FLAGS was asked for

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
        if (a.flags) flags[*a.uid] = *a.flags;
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

bool same_ci(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// Gmail's virtual views (All Mail, Important, Starred): every message in them also has its
// labels, so they are not restored as folders of their own (docs/restore.md, "Gmail").
bool is_virtual_use(const std::optional<std::string>& use) {
    return use &&
           (same_ci(*use, "\\All") || same_ci(*use, "\\Important") || same_ci(*use, "\\Flagged"));
}

// Stands for "no folder label" in label_folders() (no label starts with a backslash and a
// space); replaced by the configured archive folder.
const std::string no_label = "\\ no label";

// One entry (current generation) of a Gmail account, with what the restore needs of it.
struct gmail_entry {
    std::int64_t mailbox_id = 0;
    archive::entry_view view;
    std::optional<std::uint64_t> msgid;
    std::vector<std::string> labels;  // recorded labels + the label of its own folder
};

// Every entry of an archived Gmail account (one with a virtual folder whose entries carry
// X-GM attributes), by entry id, and the copies of each Gmail message.
struct gmail_source {
    std::string account;
    std::map<std::int64_t, gmail_entry> entries;
    std::map<std::uint64_t, std::vector<std::int64_t>> by_msgid;  // entry ids, ascending
    std::map<std::int64_t, std::string> folder_of;                // mailbox id -> name
    const gmail_entry* find(std::int64_t id) const {
        auto it = entries.find(id);
        return it == entries.end() ? nullptr : &it->second;
    }
};

// The Gmail accounts among the archived folders `all` (read under the archive lock).
std::map<std::string, gmail_source> index_gmail(archive::archive& a,
                                                const std::vector<source_folder>& all) {
    std::map<std::string, std::vector<const source_folder*>> by_account;
    for (const auto& f : all) by_account[f.account].push_back(&f);
    std::map<std::string, gmail_source> out;
    for (const auto& [account, folders] : by_account) {
        if (std::none_of(folders.begin(), folders.end(),
                         [](const source_folder* f) { return is_virtual_use(f->mb.special_use); }))
            continue;
        gmail_source g;
        g.account = account;
        bool gmail = false;
        for (const auto* f : folders) {
            g.folder_of[f->mb.id] = f->mb.name;
            std::vector<archive::entry_view> views;
            a.for_each_entry(f->mb.id, [&](const archive::entry_view& e) { views.push_back(e); });
            const char d =
                f->mb.delimiter && !f->mb.delimiter->empty() ? (*f->mb.delimiter)[0] : char(0);
            std::string slashed = f->mb.name;  // labels are '/'-separated
            if (d && d != '/') std::replace(slashed.begin(), slashed.end(), d, '/');
            for (auto& v : views) {
                gmail_entry ge;
                ge.mailbox_id = f->mb.id;
                auto attrs = a.gmail_of(v.id);
                if (attrs) {
                    ge.msgid = attrs->msgid;
                    ge.labels = attrs->labels;
                    gmail = gmail || is_virtual_use(f->mb.special_use);
                }
                ge.labels = labels_with_folder(std::move(ge.labels), slashed,
                                               f->mb.special_use.value_or(""));
                if (ge.msgid) g.by_msgid[*ge.msgid].push_back(v.id);
                ge.view = std::move(v);
                g.entries.emplace(ge.view.id, std::move(ge));
            }
        }
        if (!gmail) continue;
        for (auto& [m, ids] : g.by_msgid) std::sort(ids.begin(), ids.end());
        out.emplace(account, std::move(g));
    }
    return out;
}

// An archived folder's name with '/' between levels (how Gmail labels are written).
std::string slashed(const source_folder& f) {
    std::string n = f.mb.name;
    const char d = f.mb.delimiter && !f.mb.delimiter->empty() ? (*f.mb.delimiter)[0] : char(0);
    if (d && d != '/') std::replace(n.begin(), n.end(), d, '/');
    return n;
}

// One report's worth of restoring: an archived folder into its planned target, or (Gmail) the
// messages of the virtual folders whose labels name one target folder.
struct restore_job {
    source_folder src;
    std::string label;                    // the report's source_folder; empty: src.mb.name
    std::optional<folder_choice> choice;  // the target; empty: the plan's for src
    std::optional<std::vector<archive::entry_view>> entries;  // given (already filtered)
    const gmail_source* gmail = nullptr;  // an entry of a Gmail account: once per message
    std::string note;
    // Into Gmail: the labels to set (UID STORE +X-GM-LABELS) once a message is there, by
    // entry id (every entry of a message carries its labels).
    std::map<std::int64_t, std::vector<std::string>> set_labels;
};

struct pending_confirm {
    std::int64_t entry_id = 0;
    archive::sha256 content;
    std::optional<std::uint32_t> uidvalidity, uid;
};

// How the target answered one APPEND that was not OK.
enum class refusal {
    too_big,     // [TOOBIG] / [LIMIT]: skipped
    over_quota,  // [OVERQUOTA]: skipped (smaller ones may still fit)
    later,       // [THROTTLED] / [UNAVAILABLE] / [INUSE]: back off and send it again
    gone,        // [TRYCREATE]: the folder is not there any more
    other,       // anything else: skipped (after one try without keywords)
};

refusal classify_refusal(const mv::error& e) {
    if (contains_code(e, "TOOBIG") || contains_code(e, "LIMIT")) return refusal::too_big;
    if (contains_code(e, "OVERQUOTA")) return refusal::over_quota;
    if (contains_code(e, "THROTTLED") || contains_code(e, "UNAVAILABLE") ||
        contains_code(e, "INUSE"))
        return refusal::later;
    if (contains_code(e, "TRYCREATE") || contains_code(e, "NONEXISTENT")) return refusal::gone;
    return refusal::other;
}

// One message on its way to the target.
struct outgoing {
    std::size_t index = 0;  // into the folder's items
    std::vector<std::string> flags;
    bool keywords_dropped = false;  // sent once more with system flags only
    int attempts = 0;               // sends answered [THROTTLED] / [UNAVAILABLE]
    std::string last_refusal;
};

class restorer {
public:
    restorer(const config::account& target, shared_archive& ar, const restore_options& opts,
             restore_report& rep)
        : target_(target), ar_(ar), opts_(opts), rep_(rep), ledger_(ar.a) {}

    // Opens (or opens again) the target session: login, NAMESPACE, LIST.
    mv::error connect() {
        s_ = imap_session{};
        try {
            const std::string password = config::resolve_password(target_);
            s_ = opts_.open_session ? opts_.open_session(target_, password)
                                    : open_imap(target_, password);
        } catch (const mv::failure& f) {
            return f.err;
        }
        auto& c = *s_.client;
        prefix_.clear();
        delim_ = 0;
        bool ns = false;
        if (c.caps().has("NAMESPACE")) {
            if (auto e = c.personal_namespace(prefix_, delim_)) {
                if (!c.usable()) return e;
            } else {
                ns = true;
            }
        }
        std::vector<imap::list_entry> listing;
        imap::list_request lr;
        lr.special_use = true;  // RETURN (SPECIAL-USE) when offered: folders by attribute
        lr.status = false;
        if (auto e = c.list(lr, listing)) return e;
        existing_.clear();
        layout_ = target_layout{};
        for (const auto& l : listing) {
            auto name = imap::decode_mailbox_name(l.name, c.state().utf8);
            if (!l.has_attribute("\\Noselect") && !l.has_attribute("\\NonExistent"))
                existing_.insert(name);
            layout_.mailboxes.push_back({std::move(name), l.attributes});
            if ((!ns || delim_ == 0) && l.delimiter && delim_ == 0) delim_ = l.delimiter;
        }
        layout_.ns_prefix = prefix_;
        layout_.delim = delim_;
        layout_.create_special_use = c.caps().has("CREATE-SPECIAL-USE");
        limit_ = append_limit(c.caps());
        return {};
    }

    // Where every archived folder of the source accounts goes (folder_mapping.hpp): computed
    // once, from all of them (not only the selected ones), so a rerun places each folder the
    // same way whatever --folder says. Gmail accounts (`gmail`): their virtual folders are no
    // target; the folders their labels name (label_folders) are placed by the same plan, after
    // the archived folders: a label of an archived folder's name goes where that folder goes, a
    // marker (\Sent, ...) where the archived folder with that special use goes, else (as a
    // folder of its own, the default name for a marker) the target's folder with that
    // attribute, a well-known name, or the translated name.
    void plan_folders(const std::vector<source_folder>& all,
                      const std::vector<folder_map_rule>& rules,
                      const std::map<std::string, gmail_source>& gmail) {
        std::vector<mapping_source> ms;
        std::vector<std::int64_t> ids;  // mailbox id per source; 0: a label folder
        std::vector<std::pair<std::string, std::string>> label_of;  // (account, label folder)
        for (const auto& f : all) {
            if (gmail.count(f.account) && is_virtual_use(f.mb.special_use)) continue;
            mapping_source m;
            m.account = f.account;
            m.name = f.mb.name;
            m.delim = f.mb.delimiter && !f.mb.delimiter->empty() ? (*f.mb.delimiter)[0] : char(0);
            m.special_use = f.mb.special_use;
            ms.push_back(std::move(m));
            ids.push_back(f.mb.id);
            label_of.emplace_back();
        }
        std::map<std::pair<std::string, std::string>, std::int64_t> label_folder_id;
        for (const auto& [account, g] : gmail) {
            std::set<std::string> names = {archive_name()};
            for (const auto& [id, e] : g.entries)
                for (const auto& l : e.labels)
                    for (auto& n : label_folders({l}, {label_mode::every_label, no_label}))
                        if (n != no_label) names.insert(std::move(n));
            for (const auto& n : names) {
                // An archived (non-virtual) folder this label names.
                const source_folder* real = nullptr;
                for (const auto& f : all) {
                    if (f.account != account || is_virtual_use(f.mb.special_use)) continue;
                    const bool hit =
                        is_special_use_marker(n)
                            ? f.mb.special_use && same_ci(*f.mb.special_use, n)
                            : (same_ci(n, "INBOX") ? same_ci(f.mb.name, "INBOX") : slashed(f) == n);
                    if (hit) {
                        real = &f;
                        break;
                    }
                }
                if (real) {
                    label_folder_id[{account, n}] = real->mb.id;
                    continue;
                }
                mapping_source m;
                m.account = account;
                m.delim = '/';
                if (is_special_use_marker(n)) {
                    m.special_use = n;
                    m.name = n == sent_marker     ? "Sent"
                             : n == drafts_marker ? "Drafts"
                             : n == trash_marker  ? "Trash"
                             : n == junk_marker   ? "Junk"
                                                  : "Archive";
                } else {
                    m.name = n;
                }
                ms.push_back(std::move(m));
                ids.push_back(0);
                label_of.emplace_back(account, n);
            }
        }
        auto choices = plan_folder_mapping(ms, rules, layout_);
        choice_.clear();
        label_choice_.clear();
        taken_.clear();
        for (std::size_t i = 0; i < ms.size() && i < choices.size(); ++i) {
            taken_.insert(choices[i].name);
            if (ids[i])
                choice_[ids[i]] = std::move(choices[i]);
            else
                label_choice_[label_of[i]] = std::move(choices[i]);
        }
        for (const auto& [key, id] : label_folder_id)
            if (auto c = choice_.find(id); c != choice_.end()) label_choice_[key] = c->second;
    }

    // The configured folder for messages without a folder label.
    std::string archive_name() const {
        return opts_.gmail_archive_folder.empty() ? std::string("Archive")
                                                  : opts_.gmail_archive_folder;
    }

    // The planned target of an archived folder, and of a label folder (label_folders' name, or
    // no_label) of a Gmail account; nullptr when there is none.
    const folder_choice* choice_of(std::int64_t mailbox_id) const {
        auto it = choice_.find(mailbox_id);
        return it == choice_.end() ? nullptr : &it->second;
    }
    const folder_choice* label_choice(const std::string& account, const std::string& n) const {
        auto it = label_choice_.find({account, n == no_label ? archive_name() : n});
        return it == label_choice_.end() ? nullptr : &it->second;
    }
    bool target_is_gmail() { return c().caps().has("X-GM-EXT-1"); }

    // The target folder a job is planned to write (before any fallback name).
    std::string target_name_of(const restore_job& job) const {
        if (const folder_choice* ch = job.choice ? &*job.choice : choice_of(job.src.mb.id))
            return ch->name;
        const auto& d = job.src.mb.delimiter;
        return map_folder_name(job.src.mb.name, d && !d->empty() ? (*d)[0] : char(0), opts_.maps,
                               prefix_, delim_)
            .name;
    }

    // The reports that place the messages of a Gmail account's selected virtual folders by
    // their labels: one per target folder (in the order they first appear), each message once
    // (All Mail's entry stands for it). The labels of a message are the union over its entries
    // the restore takes (labels_with_folder). A label folder that a selected archived folder of
    // the account is restored into gets nothing from here: that folder brings its messages.
    void gmail_jobs(const gmail_source& g, const std::vector<source_folder>& sources,
                    std::vector<restore_job>& jobs) {
        std::set<std::string> real_targets;
        std::vector<const source_folder*> virt;
        for (const auto& s : sources) {
            if (s.account != g.account) continue;
            if (is_virtual_use(s.mb.special_use))
                virt.push_back(&s);
            else if (const auto* ch = choice_of(s.mb.id))
                real_targets.insert(ch->name);
        }
        if (virt.empty()) return;
        std::stable_sort(virt.begin(), virt.end(), [](const auto* a, const auto* b) {
            return same_ci(*a->mb.special_use, "\\All") && !same_ci(*b->mb.special_use, "\\All");
        });
        std::map<std::int64_t, std::int64_t> first_seen;
        {
            std::lock_guard lk(ar_.mu);
            first_seen = first_seen_of(g.account);
        }
        const gmail_restore_options lo{opts_.gmail_mode, no_label};
        std::set<std::uint64_t> done;  // messages placed (or found placed by archived folders)
        std::map<std::string, std::size_t> job_of;  // target folder -> index into jobs
        for (const auto* v : virt) {
            std::int64_t placed = 0, by_folders = 0, again = 0;
            for (const auto& [id, e] : g.entries) {
                if (e.mailbox_id != v->mb.id || !selected(e.view, first_seen)) continue;
                if (e.msgid && !done.insert(*e.msgid).second) {
                    ++again;  // also in an earlier virtual folder (All Mail first)
                    continue;
                }
                std::vector<std::string> labels;
                if (e.msgid) {
                    for (auto other : g.by_msgid.at(*e.msgid)) {
                        const auto* x = g.find(other);
                        if (!x || !selected(x->view, first_seen)) continue;
                        for (const auto& l : x->labels)
                            if (std::find(labels.begin(), labels.end(), l) == labels.end())
                                labels.push_back(l);
                    }
                } else {
                    labels = e.labels;
                }
                bool sent = false;
                for (const auto& n : label_folders(labels, lo)) {
                    const folder_choice* ch = label_choice(g.account, n);
                    if (!ch || real_targets.count(ch->name)) continue;
                    auto [pos, fresh] = job_of.emplace(ch->name, jobs.size());
                    if (fresh) {
                        restore_job j;
                        j.src = *v;
                        const bool none = n == no_label;
                        j.label = v->mb.name + (none ? " (no label)" : " (label " + n + ")");
                        j.choice = *ch;
                        j.entries.emplace();
                        j.gmail = &g;
                        j.note = "Gmail: the messages of " + v->mb.name +
                                 (none ? " without a folder label" : " labelled " + n);
                        jobs.push_back(std::move(j));
                    }
                    jobs[pos->second].entries->push_back(e.view);
                    sent = true;
                }
                ++(sent ? placed : by_folders);
            }
            if (opts_.log)
                opts_.log(g.account + "/" + v->mb.name + ": not restored as a folder (a Gmail " +
                          *v->mb.special_use + " view): " + std::to_string(placed) +
                          " messages placed by their labels, " + std::to_string(by_folders) +
                          " only in label folders restored from their archived folder" +
                          (again ? ", " + std::to_string(again) + " already in another view"
                                 : std::string()));
        }
    }

    imap::client& c() { return *s_.client; }

    // The report of a folder before anything is sent: names and the archived entries.
    // When each entry of the account (of one folder, when given) was first archived, for
    // --as-of (empty otherwise). Call with the archive lock held.
    std::map<std::int64_t, std::int64_t> first_seen_of(const std::string& account,
                                                       const archive::mailbox_state* mb = nullptr) {
        std::map<std::int64_t, std::int64_t> out;
        if (!opts_.as_of) return out;
        archive::entry_filter ef;
        ef.account = account;
        if (mb) ef.mailbox = mb->wire_name;
        for (const auto& r : ar_.a.purge_rows(ef))
            if (!mb || r.mailbox_id == mb->id) out[r.entry_id] = r.first_seen;
        return out;
    }
    // Does the restore take this entry (--exclude-expunged, --as-of)?
    bool selected(const archive::entry_view& e,
                  const std::map<std::int64_t, std::int64_t>& first_seen) const {
        if (opts_.as_of) {
            auto fs = first_seen.find(e.id);
            return fs != first_seen.end() && present_at(fs->second, e.expunged_at, *opts_.as_of);
        }
        return !(opts_.exclude_expunged && e.expunged_at);
    }

    // The report of a folder before anything is sent: names and the archived entries.
    void begin_folder(const restore_job& job, restore_folder_report& fr) {
        const auto& src = job.src;
        fr = restore_folder_report{};
        fr.source_account = src.account;
        fr.source_folder = job.label.empty() ? src.mb.name : job.label;
        const char sdelim =
            src.mb.delimiter && !src.mb.delimiter->empty() ? (*src.mb.delimiter)[0] : char(0);
        create_use_.reset();
        const folder_choice* ch = job.choice ? &*job.choice : choice_of(src.mb.id);
        if (ch) {
            fr.target_folder = ch->name;
            fr.note = ch->note;
            create_use_ = ch->create_use;
        } else {
            auto tn = map_folder_name(src.mb.name, sdelim, opts_.maps, prefix_, delim_);
            fr.target_folder = tn.name;
            fr.note = tn.note;
        }
        if (!job.note.empty()) fr.note = job.note + (fr.note.empty() ? "" : "; " + fr.note);
        gm_ = job.gmail;
        labels_ = job.set_labels.empty() ? nullptr : &job.set_labels;
        counted_.clear();
        confirmed_now_.clear();
        items_.clear();
        flags_.clear();
        uids_.clear();
        // Restoring into the account the folder came from: the same folder (same name, same
        // UIDVALIDITY) still holds what its UIDs say; anywhere else in that account, every
        // message is looked up before it is appended.
        in_place_ = src.account == target_.name;
        same_folder_ = in_place_ && !job.entries && fr.target_folder == src.mb.name;
        source_uidvalidity_ = src.mb.uidvalidity;
        std::lock_guard lk(ar_.mu);
        auto take = [&](const archive::entry_view& e) {
            items_.push_back(
                {e.id, e.content, e.size, e.internaldate, e.internaldate_tz.value_or(0)});
            flags_.push_back(e.flags);
            uids_.push_back(e.uid);
        };
        if (job.entries) {
            for (const auto& e : *job.entries) take(e);
        } else {
            const auto first_seen = first_seen_of(src.account, &src.mb);
            ar_.a.for_each_entry(src.mb.id, [&](const archive::entry_view& e) {
                if (selected(e, first_seen)) take(e);
            });
        }
        // The exact byte count of each archived copy (the entry's size is what the server
        // said): it is the APPEND literal's size and what a lookup on the target compares.
        for (auto& it : items_)
            if (auto ci = ar_.a.content(it.content)) it.size = ci->raw_size;
        fr.entries = static_cast<std::int64_t>(items_.size());
    }

    // false: the connection is gone (rep_.err set; a reconnect may resume the folder).
    bool folder(restore_folder_report& fr) {
        name_ = fr.target_folder;
        fr.err = {};
        return run_folder(fr);
    }

    void log_folder(const restore_folder_report& fr) const {
        if (!opts_.log) return;
        std::string line =
            fr.source_account + "/" + fr.source_folder + " -> " + fr.target_folder + ": ";
        if (opts_.dry_run)
            line += std::to_string(fr.would_append) + " to append, " +
                    std::to_string(fr.to_resolve) + " to look up, " + std::to_string(fr.already) +
                    " already there";
        else
            line += std::to_string(fr.appended) + " appended, " +
                    std::to_string(fr.already + fr.matched) + " already there, " +
                    std::to_string(fr.skipped.size()) + " skipped";
        if (fr.err) line += "; error: " + fr.err.message;
        opts_.log(line);
    }

private:
    bool fail_account(const mv::error& e) {
        if (!rep_.err) rep_.err = e;
        return false;
    }

    // After a failed command: may this connection go on? Only after a NO or BAD on a usable
    // session; anything else (a protocol error: the stream is out of step) ends it.
    bool alive_after(const mv::error& e) {
        if (s_.client && c().usable() && (e.code == errc::server_no || e.code == errc::server_bad))
            return true;
        return fail_account(e);
    }

    // Counts an entry's outcome once per run, however many reconnects it took.
    bool first_time(std::int64_t entry_id) { return counted_.insert(entry_id).second; }

    void skip(restore_folder_report& fr, std::int64_t entry_id, std::string reason) {
        if (first_time(entry_id)) fr.skipped.push_back({entry_id, std::move(reason)});
    }

    bool is_existing(const std::string& n) const {
        if (existing_.count(n)) return true;
        if (n.size() == 5) {
            std::string up;
            for (char ch : n) up += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
            return up == "INBOX";
        }
        return false;
    }

    // CREATE name_ (with USE when the plan says so and the target offers it). A NO to CREATE
    // with USE: created without it (noted). A NO to a plain CREATE (a name this server does
    // not allow): the next fallback name (folder_mapping.hpp), reported, never a silent merge;
    // a fallback that already exists (made by an earlier run) is used as it is.
    mv::error create_folder(restore_folder_report& fr) {
        auto& c = this->c();
        const std::string wanted = name_;
        mv::error first;
        for (int attempt = 0; attempt <= 3; ++attempt) {
            if (attempt > 0) {
                std::set<std::string> others = taken_;
                others.erase(wanted);
                name_ = fallback_folder_name(wanted, prefix_, delim_, attempt, others);
                if (is_existing(name_)) break;
            }
            mv::error e;
            if (attempt == 0 && create_use_) {
                e = c.create(name_, *create_use_);
                if (e && c.usable() && e.code == errc::server_no) {
                    fr.note += std::string(fr.note.empty() ? "" : "; ") + "created without " +
                               *create_use_ + " (the target refused CREATE with USE: " + e.message +
                               ")";
                    e = c.create(name_);
                }
            } else {
                e = c.create(name_);
            }
            if (!e) {
                fr.created = true;
                break;
            }
            if (!c.usable() || (e.code != errc::server_no && e.code != errc::server_bad))
                return mv::error(e.code,
                                 "cannot create '" + name_ + "' on the target: " + e.message);
            // Another session of this restore (or another client) may be creating the same or a
            // neighbouring folder at this moment: a refusal that says so, or a folder that now
            // exists, is not a name the server forbids, and must not send the messages to a
            // fallback name.
            if (e.code == errc::server_no && created_meanwhile(name_, e)) break;
            if (!first) first = e;
            if (attempt == 3)
                return mv::error(e.code,
                                 "cannot create '" + wanted +
                                     "' on the target, nor a fallback name: " + first.message);
        }
        existing_.insert(name_);
        taken_.insert(name_);
        if (name_ != wanted)
            fr.note += std::string(fr.note.empty() ? "" : "; ") + "the target refused '" + wanted +
                       "' (" + first.message + "): restored as '" + name_ + "'";
        return {};
    }

    // After a NO to CREATE name: true when the folder exists after all ([ALREADYEXISTS], or
    // listed now), waiting out a temporary refusal ([INUSE], [UNAVAILABLE]) for a moment first.
    bool created_meanwhile(const std::string& name, const mv::error& refused) {
        auto& c = this->c();
        if (contains_code(refused, "INUSE") || contains_code(refused, "UNAVAILABLE")) {
            for (int i = 1; i <= 3; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100 * i));
                if (!c.create(name)) return true;
                if (!c.usable()) return false;
            }
        }
        if (contains_code(refused, "ALREADYEXISTS")) return true;
        imap::list_request req;
        req.pattern = name;
        req.special_use = false;
        req.status = false;
        std::vector<imap::list_entry> found;
        if (c.list(req, found)) return false;
        for (const auto& le : found)
            if (!le.has_attribute("\\NonExistent") && !le.has_attribute("\\Noselect")) return true;
        return false;
    }

    void report_progress(const restore_folder_report& fr) {
        if (!opts_.progress) return;
        restore_progress p;
        p.source_account = fr.source_account;
        p.source_folder = fr.source_folder;
        p.target_folder = fr.target_folder;
        p.done = static_cast<std::int64_t>(counted_.size());
        p.total = fr.entries;
        p.bytes = fr.bytes;
        opts_.progress(p);
    }

    bool run_folder(restore_folder_report& fr) {
        auto& c = this->c();
        const auto& items = items_;
        std::vector<archive::ledger_row> rows;
        {
            std::lock_guard lk(ar_.mu);
            rows = ledger_.rows(target_.name, name_);
        }
        if (!is_existing(name_)) {
            if (opts_.dry_run) {
                gmail_once(fr, rows);
                count_dry(fr, items, plan_restore_folder(items, rows, std::nullopt, limit_));
                return true;
            }
            if (auto e = create_folder(fr)) {
                fr.err = e;
                return alive_after(e);
            }
            if (name_ != fr.target_folder) {
                fr.target_folder = name_;
                std::lock_guard lk(ar_.mu);
                rows = ledger_.rows(target_.name, name_);
            }
        }
        gmail_once(fr, rows);
        imap::select_request sr;
        sr.mailbox = name_;
        sr.read_only = opts_.dry_run;
        imap::select_result res;
        if (auto e = c.select(sr, res)) {
            fr.err = e;
            return alive_after(e);
        }
        uidvalidity_ = res.state.uidvalidity;
        fr.target_uidvalidity = uidvalidity_;
        permanent_ = res.state.permanent_flags;
        permanent_known_ = !permanent_.empty();
        auto plan = plan_restore_folder(items, rows, uidvalidity_, limit_);
        if (opts_.dry_run) {
            count_dry(fr, items, plan);
            return true;
        }
        if (in_place_) {
            if (!plan_in_place(fr, rows, plan)) return alive_after(fr.err);
            if (fr.err) return true;
        }
        claimed_.clear();
        for (const auto& r : rows)
            if (r.state == archive::ledger_state::confirmed && r.target_uid &&
                r.target_uidvalidity == uidvalidity_)
                claimed_.insert(*r.target_uid);
        for (const auto& b : batch_)
            if (b.uid) claimed_.insert(*b.uid);

        // Already there, too big, to append, or to look up on the target first (never
        // appended blindly). Lookups come after the new messages are sent: an APPEND cut off
        // by a dropped connection may still be stored by the server a moment later, and a
        // lookup that comes too early would append it twice.
        std::vector<outgoing> to_send;
        std::vector<std::size_t> to_resolve;
        for (const auto& p : plan) {
            const auto& it = items[p.index];
            if (p.action == restore_action::already) {
                // With a reason: found on the server in place (counted as matched).
                if (first_time(it.entry_id)) ++(p.reason.empty() ? fr.already : fr.matched);
                continue;
            }
            if (p.action == restore_action::skip_too_big) {
                skip(fr, it.entry_id, p.reason);
                continue;
            }
            if (p.action == restore_action::resolve) {
                to_resolve.push_back(p.index);
                continue;
            }
            to_send.push_back(make_outgoing(fr, p.index));
        }
        flush();
        report_progress(fr);
        if (opts_.update_flags) {
            if (auto e = update_flags(fr, rows, plan)) {
                fr.err = mv::error(e.code, "updating flags on the target: " + e.message);
                if (!c.usable()) return fail_account(e);
            }
        }
        bool alive = send_all(fr, std::move(to_send));
        if (alive && !fr.err && !to_resolve.empty()) {
            std::vector<outgoing> absent;
            for (auto index : to_resolve) {
                const auto& it = items[index];
                std::string msg;
                {
                    std::lock_guard lk(ar_.mu);
                    if (auto e = ar_.a.read_content(it.content, msg)) {
                        skip(fr, it.entry_id, "archived copy unreadable: " + e.message);
                        continue;
                    }
                }
                std::optional<std::uint32_t> uid;
                if (auto e = resolve(it, msg, uid)) {
                    fr.err = mv::error(e.code, "looking up entry " + std::to_string(it.entry_id) +
                                                   " on the target: " + e.message);
                    flush();
                    return alive_after(e);  // never append blindly
                }
                if (uid) {
                    if (first_time(it.entry_id)) ++fr.matched;
                    claimed_.insert(*uid);
                    batch_.push_back({it.entry_id, it.content, uidvalidity_, uid});
                    if (batch_.size() >= opts_.confirm_batch) flush();
                    continue;
                }
                absent.push_back(make_outgoing(fr, index));
            }
            flush();
            alive = send_all(fr, std::move(absent));
        }
        flush();
        report_progress(fr);
        if (alive && !fr.err && labels_) {
            if (auto e = store_gmail_labels(fr)) {
                fr.err = mv::error(e.code, "setting Gmail labels (X-GM-LABELS): " + e.message);
                alive = alive_after(e);
            }
        }
        if (alive && !fr.err && opts_.verify) {
            if (auto e = verify(fr)) {
                fr.err = mv::error(e.code, "verifying the target copy: " + e.message);
                alive = alive_after(e);
            }
        }
        return alive;
    }

    // Into Gmail: every message the ledger confirms here with a UID gets its labels, one
    // UID STORE +X-GM-LABELS per distinct label set (on every run: setting a label twice
    // changes nothing, and a crash between APPEND and STORE leaves no message without them).
    mv::error store_gmail_labels(restore_folder_report& fr) {
        std::vector<archive::ledger_row> rows;
        {
            std::lock_guard lk(ar_.mu);
            rows = ledger_.rows(target_.name, name_);
        }
        std::map<std::int64_t, std::uint32_t> uid_of;
        for (const auto& r : rows)
            if (r.state == archive::ledger_state::confirmed && r.target_uid &&
                r.target_uidvalidity == uidvalidity_)
                uid_of[r.entry_id] = *r.target_uid;
        std::map<std::vector<std::string>, std::vector<std::uint32_t>> stores;
        std::int64_t without_uid = 0;
        for (const auto& it : items_) {
            auto l = labels_->find(it.entry_id);
            if (l == labels_->end() || l->second.empty()) continue;
            auto u = uid_of.find(it.entry_id);
            if (u == uid_of.end()) {
                ++without_uid;
                continue;
            }
            stores[l->second].push_back(u->second);
        }
        std::int64_t n = 0;
        for (const auto& [labels, uids] : stores) {
            if (auto e = c().uid_store_labels(imap::make_uid_set(uids), labels)) return e;
            n += static_cast<std::int64_t>(uids.size());
        }
        fr.note += std::string(fr.note.empty() ? "" : "; ") + "Gmail labels set on " +
                   std::to_string(n) + " messages";
        if (without_uid) fr.note += ", not on " + std::to_string(without_uid) + " (no UID known)";
        return {};
    }

public:
    // The target's selectable folder with this special-use attribute, if any.
    std::optional<std::string> target_folder_with(std::string_view use) const {
        for (const auto& m : layout_.mailboxes) {
            bool has = false, selectable = true;
            for (const auto& a : m.attributes) {
                has = has || same_ci(a, use);
                selectable =
                    selectable && !same_ci(a, "\\Noselect") && !same_ci(a, "\\NonExistent");
            }
            if (has && selectable) return m.name;
        }
        return std::nullopt;
    }

    // Into Gmail: every message of the account's selected folders once (All Mail's entry
    // stands for it), APPENDed into the target's \All folder (a draft into its \Drafts folder),
    // with the union of its labels (labels_for_gmail) to set afterwards.
    void gmail_into_gmail_jobs(const gmail_source& g, const std::vector<source_folder>& sources,
                               const std::string& all_folder,
                               const std::optional<std::string>& drafts_folder,
                               std::vector<restore_job>& jobs) {
        std::vector<const source_folder*> folders;
        for (const auto& s : sources)
            if (s.account == g.account) folders.push_back(&s);
        if (folders.empty()) return;
        auto is_all = [](const source_folder* f) {
            return f->mb.special_use && same_ci(*f->mb.special_use, "\\All");
        };
        std::stable_sort(folders.begin(), folders.end(),
                         [&](const auto* a, const auto* b) { return is_all(a) && !is_all(b); });
        std::map<std::int64_t, std::int64_t> first_seen;
        {
            std::lock_guard lk(ar_.mu);
            first_seen = first_seen_of(g.account);
        }
        std::optional<restore_job> into_all, into_drafts;
        auto job_for = [&](std::optional<restore_job>& j, const source_folder& src,
                           const std::string& target, const std::string& what) -> restore_job& {
            if (!j) {
                j.emplace();
                j->src = src;
                j->label = what;
                folder_choice ch;
                ch.name = target;
                ch.exists = true;
                ch.via = folder_via::special_use;
                j->choice = ch;
                j->entries.emplace();
                j->gmail = &g;
                j->note = "Gmail into Gmail: each message once, into " + target +
                          ", with its labels (X-GM-LABELS)";
            }
            return *j;
        };
        std::set<std::uint64_t> done;
        std::set<std::int64_t> done_entries;
        for (const auto* f : folders) {
            for (const auto& [id, e] : g.entries) {
                if (e.mailbox_id != f->mb.id || !selected(e.view, first_seen)) continue;
                if (e.msgid ? !done.insert(*e.msgid).second : !done_entries.insert(id).second)
                    continue;
                std::vector<std::string> labels;
                std::vector<std::int64_t> copies = {id};
                if (e.msgid) copies = g.by_msgid.at(*e.msgid);
                for (auto other : copies) {
                    const auto* x = g.find(other);
                    if (!x || !selected(x->view, first_seen)) continue;
                    for (const auto& l : x->labels)
                        if (std::find(labels.begin(), labels.end(), l) == labels.end())
                            labels.push_back(l);
                }
                const bool draft = drafts_folder &&
                                   std::any_of(labels.begin(), labels.end(),
                                               [](const auto& l) { return same_ci(l, "\\Draft"); });
                auto& j = draft ? job_for(into_drafts, *f, *drafts_folder, "drafts, with labels")
                                : job_for(into_all, *f, all_folder, "every folder, with labels");
                j.entries->push_back(e.view);
                const auto set = labels_for_gmail(labels);
                for (auto other : copies) j.set_labels[other] = set;
            }
        }
        if (into_all) jobs.push_back(std::move(*into_all));
        if (into_drafts) jobs.push_back(std::move(*into_drafts));
    }

private:
    // A Gmail account: one message (X-GM-MSGID) goes into one target folder once, whichever of
    // its entries (INBOX, a label's folder, All Mail) brings it. When the ledger of this target
    // folder has a row for another entry of the same message, that entry stands for it (its row
    // decides: confirmed, already there; an intent, looked up on the target first); a second
    // item for one entry is dropped (already there). In a dry run, a message an earlier report
    // of this run would send here counts as already there too. Idempotent: a folder resumed
    // after a reconnect runs it again.
    void gmail_once(restore_folder_report& fr, const std::vector<archive::ledger_row>& rows) {
        if (!gm_) return;
        std::map<std::uint64_t, const archive::ledger_row*> row_of;  // by X-GM-MSGID
        for (const auto& r : rows) {
            const auto* g = gm_->find(r.entry_id);
            if (!g || !g->msgid) continue;
            auto& best = row_of[*g->msgid];
            if (!best || (r.state == archive::ledger_state::confirmed &&
                          best->state != archive::ledger_state::confirmed))
                best = &r;
        }
        std::vector<restore_item> items;
        std::vector<std::string> flags;
        std::vector<std::optional<std::uint32_t>> uids;
        std::set<std::int64_t> seen;
        std::map<std::string, std::int64_t> via;  // where the copy standing for it came from
        bool resize = false;
        for (std::size_t i = 0; i < items_.size(); ++i) {
            auto it = items_[i];
            auto fl = flags_[i];
            auto uid = uids_[i];
            const auto* g = gm_->find(it.entry_id);
            if (g && g->msgid) {
                if (opts_.dry_run) {
                    const auto key = std::make_pair(name_, *g->msgid);
                    auto p = placed_.find(key);
                    if (p != placed_.end() && p->second != fr.source_folder) {
                        if (first_time(it.entry_id)) ++fr.already;
                        ++via[p->second];
                        continue;
                    }
                    placed_[key] = fr.source_folder;
                }
                auto r = row_of.find(*g->msgid);
                if (r != row_of.end() && r->second->entry_id != it.entry_id) {
                    const auto* o = gm_->find(r->second->entry_id);
                    auto f = o ? gm_->folder_of.find(o->mailbox_id) : gm_->folder_of.end();
                    ++via[f != gm_->folder_of.end() ? f->second : "another entry"];
                    it.entry_id = r->second->entry_id;
                    if (it.content != r->second->content) {
                        it.content = r->second->content;
                        resize = true;
                    }
                    if (o) {
                        fl = o->view.flags;
                        it.internaldate = o->view.internaldate;
                        uid = o->view.uid;
                    }
                }
            }
            if (!seen.insert(it.entry_id).second) {
                if (first_time(items_[i].entry_id)) ++fr.already;
                continue;
            }
            items.push_back(std::move(it));
            flags.push_back(std::move(fl));
            uids.push_back(uid);
        }
        if (resize) {
            std::lock_guard lk(ar_.mu);
            for (auto& it : items)
                if (auto ci = ar_.a.content(it.content)) it.size = ci->raw_size;
        }
        items_ = std::move(items);
        flags_ = std::move(flags);
        uids_ = std::move(uids);
        for (const auto& [from, n] : via) {
            const std::string what =
                "already there via " + from + " (the same Gmail message): " + std::to_string(n);
            if (fr.note.find("already there via " + from + " ") == std::string::npos)
                fr.note += (fr.note.empty() ? "" : "; ") + what;
        }
    }

    // Messages already on the target (confirmed with a UID under the folder's UIDVALIDITY): one
    // UID FETCH of their FLAGS, and a UID STORE FLAGS (grouped by flag set) for each whose
    // flags differ from the archived ones (as they would be sent by APPEND: plan_flags).
    mv::error update_flags(restore_folder_report& fr, const std::vector<archive::ledger_row>& rows,
                           const std::vector<planned_item>& plan) {
        std::map<std::int64_t, std::uint32_t> uid_of;
        for (const auto& r : rows)
            if (r.state == archive::ledger_state::confirmed && r.target_uid &&
                r.target_uidvalidity == uidvalidity_)
                uid_of[r.entry_id] = *r.target_uid;
        std::map<std::uint32_t, std::vector<std::string>> want;
        for (const auto& p : plan) {
            if (p.action != restore_action::already) continue;
            auto u = uid_of.find(items_[p.index].entry_id);
            if (u == uid_of.end()) continue;
            auto fp = plan_flags(archive::split_flags(flags_[p.index]), permanent_,
                                 permanent_known_, opts_.include_deleted);
            want[u->second] = std::move(fp.send);
        }
        if (want.empty()) return {};
        std::vector<std::uint32_t> uids;
        for (const auto& [u, f] : want) uids.push_back(u);
        candidate_sink sink;
        imap::fetch_request req;
        req.sets = {imap::make_uid_set(uids)};
        req.items = "(UID FLAGS)";
        if (auto e = c().uid_fetch(req, sink)) return e;
        auto norm = [](std::vector<std::string> v) {
            std::vector<std::string> out;
            for (auto& f : v) {
                if (f.size() > 1 && f[0] == '\\') {
                    for (auto& ch : f)
                        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    if (f == "\\recent") continue;
                }
                out.push_back(std::move(f));
            }
            std::sort(out.begin(), out.end());
            out.erase(std::unique(out.begin(), out.end()), out.end());
            return out;
        };
        std::map<std::vector<std::string>, std::vector<std::uint32_t>> stores;
        for (const auto& [u, f] : want) {
            auto got = sink.flags.find(u);
            if (got == sink.flags.end()) continue;  // gone from the target: nothing to update
            if (norm(got->second) != norm(f)) stores[f].push_back(u);
        }
        for (const auto& [f, us] : stores) {
            if (auto e = c().uid_store(imap::make_uid_set(us), imap::store_op::replace, f, true,
                                       std::nullopt))
                return e;
            fr.flags_updated += static_cast<std::int64_t>(us.size());
        }
        return {};
    }

    outgoing make_outgoing(restore_folder_report& fr, std::size_t index) {
        const auto& it = items_[index];
        outgoing o;
        o.index = index;
        auto fp = plan_flags(archive::split_flags(flags_[index]), permanent_, permanent_known_,
                             opts_.include_deleted);
        if (first_time_keywords(it.entry_id))
            for (const auto& k : fp.refused)
                fr.dropped_keywords.push_back("entry " + std::to_string(it.entry_id) + ": " + k);
        o.flags = std::move(fp.send);
        return o;
    }

    bool first_time_keywords(std::int64_t entry_id) {
        return keyword_reported_.insert(entry_id).second;
    }

    // The same folder restored into itself: the server's UID list decides. false: a search
    // failed (fr.err set).
    bool plan_in_place(restore_folder_report& fr, const std::vector<archive::ledger_row>& rows,
                       std::vector<planned_item>& plan) {
        const bool same_generation =
            same_folder_ && source_uidvalidity_ && source_uidvalidity_ == uidvalidity_;
        std::set<std::uint32_t> live;
        if (same_generation) {
            imap::search_result all;
            if (auto e = c().uid_search("ALL", all)) {
                fr.err = e;
                return false;
            }
            live.insert(all.ids.begin(), all.ids.end());
        }
        std::map<std::int64_t, const archive::ledger_row*> row_of;
        for (const auto& r : rows) row_of[r.entry_id] = &r;
        for (auto& p : plan) {
            if (p.action == restore_action::skip_too_big) continue;
            const auto& it = items_[p.index];
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
            if (auto r = row_of.find(it.entry_id); r != row_of.end() && r->second->target_uid &&
                                                   r->second->target_uidvalidity == uidvalidity_)
                ours = r->second->target_uid;
            const bool here = (uid && live.count(*uid)) || (ours && live.count(*ours));
            if (here) {
                if (p.action == restore_action::already) continue;
                p.action = restore_action::already;
                p.reason = "still on the server under its UID";
                batch_.push_back(
                    {it.entry_id, it.content, uidvalidity_, uid && live.count(*uid) ? uid : ours});
            } else if (p.action == restore_action::already) {
                p.action = restore_action::append;  // deleted since: put it back
            }
        }
        return true;
    }

    // Sends `queue` in windows of pipelined APPENDs; what the target asks to send later is sent
    // again after a back-off. false: the connection is gone.
    bool send_all(restore_folder_report& fr, std::vector<outgoing> queue) {
        auto delay = opts_.backoff_initial;
        while (!queue.empty()) {
            std::vector<outgoing> later;
            std::size_t pos = 0;
            while (pos < queue.size()) {
                // One window: up to window_messages and window_bytes (at least one message).
                std::size_t end = pos;
                std::uint64_t bytes = 0;
                while (end < queue.size() &&
                       end - pos < std::max<std::size_t>(1, opts_.window_messages)) {
                    const auto sz = items_[queue[end].index].size;
                    if (end > pos && bytes + sz > opts_.window_bytes) break;
                    bytes += sz;
                    ++end;
                }
                std::vector<outgoing> window(std::make_move_iterator(queue.begin() + pos),
                                             std::make_move_iterator(queue.begin() + end));
                pos = end;
                const auto r = send_window(fr, window, later);
                if (r == window_result::connection_gone) return false;
                if (r == window_result::folder_gone) return true;
            }
            if (later.empty()) break;
            // The target asked us to slow down: wait, then send those again.
            if (opts_.log)
                opts_.log(fr.target_folder + ": the target asked to wait (" +
                          later.front().last_refusal + "); sending " +
                          std::to_string(later.size()) + " again in " +
                          std::to_string(delay.count()) + " ms");
            std::this_thread::sleep_for(delay);
            delay = std::min(opts_.backoff_max, delay * 2);
            queue = std::move(later);
        }
        return true;
    }

    enum class window_result { ok, connection_gone, folder_gone };

    // Does LIST still show name_? (A failed LIST counts as "yes": no conclusion from it.)
    bool folder_listed() {
        imap::list_request lr;
        lr.pattern = name_;
        lr.special_use = false;
        lr.status = false;
        std::vector<imap::list_entry> got;
        if (c().list(lr, got)) return true;
        for (const auto& l : got)
            if (imap::decode_mailbox_name(l.name, c().state().utf8) == name_ &&
                !l.has_attribute("\\NonExistent") && !l.has_attribute("\\Noselect"))
                return true;
        return false;
    }

    window_result send_window(restore_folder_report& fr, std::vector<outgoing>& window,
                              std::vector<outgoing>& later) {
        auto& c = this->c();
        {
            // Every intent of the window is durable before the first byte is sent: after a
            // crash (or a power loss) the next run looks for these on the target first.
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            for (const auto& o : window) {
                const auto& it = items_[o.index];
                ledger_.record_intent(target_.name, name_, it.entry_id, it.content, uidvalidity_);
            }
            tx.commit(archive::durability::full);
        }
        mv::crash_point("restore.intent");
        std::vector<imap::append_request> reqs;
        reqs.reserve(window.size());
        for (const auto& o : window) {
            const auto& it = items_[o.index];
            imap::append_request req;
            req.mailbox = name_;
            req.flags = o.flags;
            req.internaldate = it.internaldate;
            req.internaldate_offset = it.internaldate_tz;
            req.size = it.size;
            const auto content = it.content;
            req.fill = [this, content](std::string& out) {
                // Straight from the archive into the command (re-hashed as it is read).
                std::lock_guard lk(ar_.mu);
                return ar_.a.read_content(content,
                                          [&out](std::string_view chunk) { out.append(chunk); });
            };
            reqs.push_back(std::move(req));
        }
        std::vector<imap::append_outcome> outs;
        rep_.appends += static_cast<std::int64_t>(window.size());
        const auto conn_err = c.append_many(reqs, outs);
        reqs.clear();
        mv::crash_point("restore.appended");
        std::vector<std::int64_t> forget;
        bool gone = false;
        // Refused for no stated reason: is the folder still there? (Deleted under us, some
        // servers answer NO [SERVERBUG] or a bare NO instead of [TRYCREATE].)
        bool vanished = false;
        if (!conn_err) {
            bool unexplained = false;
            for (const auto& out : outs)
                unexplained =
                    unexplained ||
                    (out.sent &&
                     (out.err.code == errc::server_no || out.err.code == errc::server_bad) &&
                     classify_refusal(out.err) == refusal::other);
            if (unexplained && c.usable()) vanished = !folder_listed();
        }
        for (std::size_t i = 0; i < window.size(); ++i) {
            auto& o = window[i];
            const auto& it = items_[o.index];
            const auto& out = outs[i];
            if (!out.sent) {
                rep_.appends -= 1;
                forget.push_back(it.entry_id);
                skip(fr, it.entry_id, "archived copy unreadable: " + out.err.message);
                continue;
            }
            if (!out.err) {
                std::optional<std::uint32_t> v = uidvalidity_, uid;
                if (out.uid && out.uid->uids.count() == 1) {
                    v = out.uid->uidvalidity;
                    uid = out.uid->uids.ranges.front().first;
                    if (v == uidvalidity_) claimed_.insert(*uid);
                }
                if (first_time(it.entry_id)) {
                    ++fr.appended;
                    fr.bytes += static_cast<std::int64_t>(it.size);
                }
                batch_.push_back({it.entry_id, it.content, v, uid});
                continue;
            }
            if (out.err.code != errc::server_no && out.err.code != errc::server_bad) {
                // No answer (the connection ended): the intent stays, the next attempt looks on
                // the target before appending again.
                continue;
            }
            auto why = classify_refusal(out.err);
            if (vanished && why == refusal::other) why = refusal::gone;
            switch (why) {
                case refusal::later:
                    o.last_refusal = out.err.message;
                    if (++o.attempts > opts_.max_retries) {
                        forget.push_back(it.entry_id);
                        skip(fr, it.entry_id,
                             "the target kept refusing it (" + std::to_string(o.attempts) +
                                 " tries): " + out.err.message);
                    } else {
                        later.push_back(std::move(o));  // the intent stays until it is sent
                    }
                    break;
                case refusal::too_big:
                    forget.push_back(it.entry_id);
                    skip(fr, it.entry_id, "too big for the target: " + out.err.message);
                    break;
                case refusal::over_quota:
                    forget.push_back(it.entry_id);
                    skip(fr, it.entry_id,
                         "target over quota (free space there and rerun): " + out.err.message);
                    break;
                case refusal::gone:
                    forget.push_back(it.entry_id);
                    gone = true;
                    break;
                case refusal::other: {
                    std::vector<std::string> system, keywords;
                    for (const auto& f : o.flags) (f[0] == '\\' ? system : keywords).push_back(f);
                    if (!keywords.empty() && !o.keywords_dropped) {
                        // A keyword the target refuses: once more with system flags only.
                        for (const auto& k : keywords)
                            fr.dropped_keywords.push_back("entry " + std::to_string(it.entry_id) +
                                                          ": " + k + " (" + out.err.message + ")");
                        o.flags = system;
                        o.keywords_dropped = true;
                        later_now_.push_back(std::move(o));
                    } else {
                        forget.push_back(it.entry_id);
                        skip(fr, it.entry_id, "refused: " + out.err.message);
                    }
                    break;
                }
            }
        }
        if (!forget.empty()) {
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            for (auto id : forget) ledger_.forget(target_.name, name_, id);  // nothing stored
            tx.commit();
        }
        flush();
        report_progress(fr);
        if (conn_err) {
            // The connection broke (or the stream cannot be trusted): the intents of the
            // unanswered APPENDs stay; the next attempt looks for them on the target.
            fr.err = conn_err;
            later_now_.clear();
            fail_account(conn_err);
            return window_result::connection_gone;
        }
        if (gone) {
            fr.err = mv::error(errc::server_no,
                               "target folder '" + name_ +
                                   "' disappeared during the restore; the rest of it was not "
                                   "sent: rerun to create it again");
            // What was not sent is reported per message too.
            for (const auto& o : window)
                if (!counted_.count(items_[o.index].entry_id))
                    skip(fr, items_[o.index].entry_id,
                         "target folder '" + name_ + "' disappeared during the restore");
            later_now_.clear();
            return window_result::folder_gone;
        }
        if (!later_now_.empty()) {
            // Sent again at once, without their keywords (not a back-off).
            std::vector<outgoing> again = std::move(later_now_);
            later_now_.clear();
            return send_window(fr, again, later);
        }
        return window_result::ok;
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
            // verify_new_only: what this run put there (or found there); the rest was verified
            // by the run that confirmed it.
            if (opts_.verify_new_only && !confirmed_now_.count(r.entry_id)) continue;
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
        if (auto e = c().uid_fetch(req, sink)) return e;
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
        if (auto e = c().uid_search(criteria, sres)) return e;
        std::vector<std::uint32_t> ids;
        for (auto u : sres.ids)
            if (!claimed_.count(u)) ids.push_back(u);
        if (ids.empty()) return {};
        candidate_sink sink;
        imap::fetch_request fr;
        fr.sets = {imap::make_uid_set(ids)};
        fr.items = "(UID RFC822.SIZE INTERNALDATE)";
        if (auto e = c().uid_fetch(fr, sink)) return e;
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
            if (auto e = c().uid_fetch(hr, hs)) return e;
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

    void flush() {
        if (batch_.empty()) return;
        {
            std::lock_guard lk(ar_.mu);
            archive::transaction tx(ar_.a);
            for (const auto& b : batch_)
                ledger_.confirm(target_.name, name_, b.entry_id, b.content, b.uidvalidity, b.uid);
            tx.commit();
        }
        for (const auto& b : batch_) confirmed_now_.insert(b.entry_id);
        batch_.clear();
        mv::crash_point("restore.confirmed");
    }

    const config::account& target_;
    shared_archive& ar_;
    const restore_options& opts_;
    restore_report& rep_;
    archive::ledger ledger_;
    imap_session s_;
    std::string prefix_;
    char delim_ = 0;
    target_layout layout_;
    std::map<std::int64_t, folder_choice> choice_;  // by source mailbox id
    const gmail_source* gm_ = nullptr;              // the folder's account, when it is Gmail
    const std::map<std::int64_t, std::vector<std::string>>* labels_ = nullptr;  // into Gmail
    // Dry run: (target folder, X-GM-MSGID) -> the report that would send it.
    std::map<std::pair<std::string, std::uint64_t>, std::string> placed_;
    // Gmail label folders by (account, label_folders name).
    std::map<std::pair<std::string, std::string>, folder_choice> label_choice_;
    std::set<std::string> taken_;  // target names chosen in this run
    std::optional<std::string> create_use_;
    std::set<std::string> existing_;  // UTF-8 names on the target
    std::optional<std::uint64_t> limit_;
    std::string name_;
    std::optional<std::uint32_t> uidvalidity_;
    std::vector<std::string> permanent_;
    bool permanent_known_ = false;
    std::set<std::uint32_t> claimed_;
    std::vector<pending_confirm> batch_;
    std::vector<outgoing> later_now_;
    // This folder's archived entries (with their flags and source UIDs), and the entries whose
    // outcome (appended, already, matched, skipped) or dropped keywords were already counted.
    std::vector<restore_item> items_;
    std::vector<std::string> flags_;
    std::vector<std::optional<std::uint32_t>> uids_;
    std::set<std::int64_t> counted_, keyword_reported_, confirmed_now_;
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
    std::vector<source_folder> all, sources;  // every archived folder; the selected ones
    {
        std::lock_guard lk(ar.mu);
        for (const auto& [id, info] : ar.a.accounts()) {
            if (opts.source_accounts.empty()
                    ? info.name == target.name
                    : std::find(opts.source_accounts.begin(), opts.source_accounts.end(),
                                info.name) == opts.source_accounts.end())
                continue;
            for (auto& mb : ar.a.mailboxes(id)) {
                bool match = opts.folders.empty();
                const char d =
                    mb.delimiter && !mb.delimiter->empty() ? (*mb.delimiter)[0] : char(0);
                for (const auto& p : opts.folders)
                    match = match || config::folder_pattern_matches(p, mb.name, d);
                if (match) sources.push_back({info.name, mb});
                all.push_back({info.name, std::move(mb)});
            }
        }
    }
    // --map rules first, then the target account's [[account.folder_map]].
    std::vector<folder_map_rule> rules = opts.maps;
    for (const auto& m : target.folder_map) rules.push_back({m.source, m.target});
    auto prefixed = [&](const mv::error& e) {
        if (e.message.rfind(account_prefix(target), 0) == 0) return e;  // already names it
        return mv::error(e.code, account_prefix(target) + e.message);
    };
    // Callbacks may come from several connections' threads: one at a time.
    restore_options wopts = opts;
    std::mutex cb_mu;
    if (opts.log)
        wopts.log = [&](const std::string& l) {
            std::lock_guard g(cb_mu);
            opts.log(l);
        };
    if (opts.progress)
        wopts.progress = [&](const restore_progress& p) {
            std::lock_guard g(cb_mu);
            opts.progress(p);
        };
    restorer r(target, ar, wopts, rep);
    if (auto e = r.connect()) {
        rep.err = prefixed(e);
        return rep;
    }
    // Gmail source accounts: labels instead of the virtual folders (into a target without
    // labels; into Gmail itself, folder by folder as before: labels are not set there yet).
    std::map<std::string, gmail_source> gmail;
    if (opts.gmail_labels) {
        std::lock_guard lk(ar.mu);
        gmail = index_gmail(ar.a, all);
    }
    // Into Gmail itself: each message once into its All Mail, then its labels.
    std::optional<std::string> gmail_all, gmail_drafts;
    if (!gmail.empty() && r.target_is_gmail()) {
        gmail_all = r.target_folder_with("\\All");
        gmail_drafts = r.target_folder_with("\\Drafts");
        if (!gmail_all) {
            if (opts.log)
                opts.log(target.name +
                         ": the target offers X-GM-EXT-1 but lists no \\All folder: restoring "
                         "folder by folder, without labels");
            gmail.clear();
        }
    }
    r.plan_folders(all, rules, gmail_all ? std::map<std::string, gmail_source>{} : gmail);
    std::vector<restore_job> jobs;
    for (const auto& src : sources) {
        auto g = gmail.find(src.account);
        if (g != gmail.end() && (gmail_all || is_virtual_use(src.mb.special_use)))
            continue;  // below
        restore_job j;
        j.src = src;
        j.gmail = g != gmail.end() ? &g->second : nullptr;
        jobs.push_back(std::move(j));
    }
    for (const auto& [account, g] : gmail) {
        if (gmail_all)
            r.gmail_into_gmail_jobs(g, sources, *gmail_all, gmail_drafts, jobs);
        else
            r.gmail_jobs(g, sources, jobs);
    }
    // Jobs grouped by target folder: each folder is written by one connection only (its
    // lookups and UID claims stay consistent), the groups spread over the connections. Gmail
    // sources place one message through several jobs: one connection then.
    std::vector<std::vector<std::size_t>> groups;
    {
        std::map<std::string, std::size_t> group_of;
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            auto [it, fresh] = group_of.try_emplace(r.target_name_of(jobs[i]), groups.size());
            if (fresh) groups.emplace_back();
            groups[it->second].push_back(i);
        }
    }
    int nconn = opts.connections > 0 ? opts.connections : target.connections;
    if (opts.dry_run || !gmail.empty()) nconn = 1;
    nconn = std::clamp(nconn, 1, 16);
    nconn = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(nconn),
                                                   std::max<std::size_t>(groups.size(), 1)));
    std::vector<restore_folder_report> reports(jobs.size());
    std::vector<bool> reported(jobs.size(), false);
    std::mutex mu;
    std::size_t next_group = 0;
    bool stop = false;
    auto work = [&](restorer& w, restore_report& wrep) {
        int reconnects_left = opts.reconnects;
        while (true) {
            std::size_t gi = 0;
            {
                std::lock_guard g(mu);
                if (stop || next_group >= groups.size()) return;
                gi = next_group++;
            }
            for (auto ji : groups[gi]) {
                const auto& job = jobs[ji];
                restore_folder_report fr;
                w.begin_folder(job, fr);
                bool ok = w.folder(fr);
                while (!ok) {
                    // The connection died: open it again and resume this folder from the
                    // ledger (intents without an answer are looked up on the target first).
                    const auto d = classify_failure(operation_kind::append, wrep.err.code);
                    if (!d.reconnect || reconnects_left <= 0 || opts.dry_run) break;
                    --reconnects_left;
                    ++wrep.reconnects;
                    if (wopts.log)
                        wopts.log(target.name + ": connection lost (" + wrep.err.message +
                                  "); reconnecting to resume " + fr.target_folder);
                    // A moment for the server to finish (or drop) what the old connection sent.
                    std::this_thread::sleep_for(opts.backoff_initial);
                    if (auto e = w.connect()) {
                        wrep.err = e;
                        break;
                    }
                    wrep.err = {};
                    ok = w.folder(fr);
                }
                w.log_folder(fr);
                std::lock_guard g(mu);
                reports[ji] = std::move(fr);
                reported[ji] = true;
                if (!ok) {
                    wrep.err = prefixed(wrep.err);
                    stop = true;  // an account-level failure: the other connections stop too
                    return;
                }
            }
        }
    };
    std::vector<std::unique_ptr<restore_report>> extra_reps;
    std::vector<std::unique_ptr<restorer>> extra;
    std::vector<std::thread> threads;
    for (int k = 1; k < nconn; ++k) {
        auto wrep = std::make_unique<restore_report>();
        auto w = std::make_unique<restorer>(target, ar, wopts, *wrep);
        if (auto e = w->connect()) {
            // Fewer connections than configured still do the whole job.
            if (wopts.log)
                wopts.log(target.name + ": connection " + std::to_string(k + 1) +
                          " could not be opened (" + e.message + "); going on with fewer");
            break;
        }
        w->plan_folders(all, rules, {});
        threads.emplace_back(work, std::ref(*w), std::ref(*wrep));
        extra.push_back(std::move(w));
        extra_reps.push_back(std::move(wrep));
    }
    work(r, rep);
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < jobs.size(); ++i)
        if (reported[i]) rep.folders.push_back(std::move(reports[i]));
    for (std::size_t k = 0; k < extra.size(); ++k) {
        rep.appends += extra_reps[k]->appends;
        rep.reconnects += extra_reps[k]->reconnects;
        if (!rep.err && extra_reps[k]->err) rep.err = extra_reps[k]->err;
        if (!extra_reps[k]->err && extra[k]->c().usable()) (void)extra[k]->c().logout();
    }
    if (!rep.err && r.c().usable()) (void)r.c().logout();
    return rep;
}

}  // namespace mv::sync
