// Gmail labels on restore (issue #12): an account synced from a Gmail-like server (the in-memory
// one of tests/unit/gmail_fake.hpp: X-GM-EXT-1, [Gmail]/All Mail with \All, labels) is restored
// into the real Dovecot test bed. Checked on the target, by the SHA-256 of the bytes: every
// message exactly once in each folder its labels name, no All Mail / Important / Starred folder,
// unlabelled messages in Archive, a rerun appends nothing, an archive of All Mail only fans out
// to every label folder, and restores of parts (INBOX, then All Mail, then everything) never
// put one Gmail message twice into one folder. Real Gmail cannot run here.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "archive/hash.hpp"
#include "harness/sync_env.hpp"
#include "imap/client.hpp"
#include "imap/debug_parse.hpp"
#include "imap/uid_set.hpp"
#include "mailvault/config.hpp"
#include "sync/imap_sync.hpp"
#include "sync/restore.hpp"
#include "unit/gmail_fake.hpp"
#include "unit/scripted_transport.hpp"

using namespace mv::test;
namespace fs = std::filesystem;

namespace {

// The Gmail-like source: seven messages, each in All Mail and in the folder of every label.
struct gmail_world {
    gm_world w;
    std::vector<std::string> bodies;

    gmail_world() {
        w.f("INBOX");
        w.f("[Gmail]/All Mail").attrs = " \\All";
        w.f("[Gmail]/Sent Mail").attrs = " \\Sent";
        w.f("[Gmail]/Drafts").attrs = " \\Drafts";
        w.f("[Gmail]/Starred").attrs = " \\Flagged";
        w.f("[Gmail]/Important").attrs = " \\Important";
        w.f("Work");
        w.f("Work/Project");
        add(0, {"\\Inbox", "Work"}, "\\Seen", {"INBOX", "Work"});
        add(1, {}, "\\Seen", {});  // archived in Gmail: All Mail only
        add(2, {"\\Sent"}, "\\Seen", {"[Gmail]/Sent Mail"});
        add(3, {"\\Inbox", "\\Starred", "\\Important"}, "\\Flagged",
            {"INBOX", "[Gmail]/Starred", "[Gmail]/Important"});
        add(4, {"Work", "Work/Project"}, "", {"Work", "Work/Project"});
        add(5, {"\\Inbox", "\\Sent"}, "\\Seen", {"INBOX", "[Gmail]/Sent Mail"});
        add(6, {"\\Draft"}, "\\Draft", {"[Gmail]/Drafts"});
    }
    void add(int n, gm_strings labels, const std::string& flags, gm_strings folders) {
        std::ostringstream m;
        m << "From: Gmail Test <gm@example.org>\r\nTo: Bob <bob@example.org>\r\n"
          << "Subject: gmail restore message " << n << "\r\n"
          << "Date: Mon, 1 Jan 2024 10:0" << n << ":00 +0000\r\n"
          << "Message-ID: <gm-restore-" << n << "@mailvault.test>\r\n\r\n"
          << "body of message " << n << "\r\n";
        bodies.push_back(m.str());
        folders.insert(folders.begin() + (folders.empty() ? 0 : 1), "[Gmail]/All Mail");
        w.add(m.str(), std::move(labels), flags, folders);
    }
    std::string hash(int n) const { return mv::archive::sha256_of(bodies.at(n)).hex(); }
};

mv::config::account gm_source(std::vector<std::string> folders = {"*"}) {
    ::setenv("MV_FAKE_GMAIL_RESTORE_PASSWORD", "secret", 1);
    mv::config::account a;
    a.name = "gm";
    a.host = "imap.gmail.invalid";
    a.user = "me@gmail.com";
    a.password.kind = mv::config::password_kind::env;
    a.password.value = "MV_FAKE_GMAIL_RESTORE_PASSWORD";
    a.connections = 1;
    a.folders = std::move(folders);
    return a;
}

// One sync of the Gmail-like world into the archive at `path` (in-process, like the unit tests).
void sync_gmail(gm_world& w, const std::string& path, const mv::config::account& acct) {
    mv::archive::options ao;
    ao.create = true;
    mv::archive::archive a(path, ao);
    mv::sync::shared_archive sa(a);
    mv::sync::sync_options o;
    o.open_session = [&w](const mv::config::account& ac, const std::string& pw) {
        mv::sync::imap_session s;
        s.transport = std::make_unique<gm_transport>(w);
        s.client = std::make_unique<mv::imap::client>(*s.transport);
        if (auto e = s.client->greeting()) throw mv::failure(e);
        if (auto e = s.client->login(ac.user, pw)) throw mv::failure(e);
        s.condstore = s.client->caps().has("CONDSTORE");
        return s;
    };
    auto rep = mv::sync::sync_imap_account(acct, sa, o);
    INFO(rep.err.message);
    REQUIRE(!rep.err);
    for (const auto& f : rep.folders) {
        INFO(f.name << ": " << f.err.message);
        REQUIRE(!f.err);
    }
}

// SHA-256 of every message of a Dovecot folder (empty when the folder does not exist).
std::multiset<std::string> folder_hashes(const testbed& tb, const std::string& user,
                                         const std::string& folder) {
    std::multiset<std::string> out;
    if (!fs::exists(tb.folder_dir(user, folder) / "dovecot-uidlist")) return out;
    for (auto& [uid, m] : tb.messages(user, folder))
        out.insert(mv::archive::sha256_of(crlf(m)).hex());
    return out;
}

std::string describe(const mv::sync::restore_report& r) {
    std::ostringstream o;
    o << "report: appends " << r.appends;
    if (r.err) o << ", error: " << r.err.message;
    for (const auto& f : r.folders) {
        o << "\n  " << f.source_folder << " -> " << f.target_folder << ": entries " << f.entries
          << ", appended " << f.appended << ", already " << f.already << ", matched " << f.matched
          << ", skipped " << f.skipped.size() << ", would append " << f.would_append;
        if (!f.note.empty()) o << "\n    note: " << f.note;
        for (const auto& s : f.skipped)
            o << "\n    skipped entry " << s.entry_id << ": " << s.reason;
        if (f.err) o << "\n    error: " << f.err.message;
    }
    return o.str();
}

struct gmail_bed {
    gmail_world g;
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;

    explicit gmail_bed(std::vector<std::string> synced = {"*"}) {
        testbed_options o;
        o.users = {{"bob", "bob-pw", ""}, {"carol", "carol-pw", ""}};
        // The target's special-use folders: Gmail's Sent Mail and Drafts land there.
        o.special_use = {{"Sent", "\\Sent"}, {"Drafts", "\\Drafts"}};
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"bob", "bob", "bob-pw", "imap", "implicit", ""},
                           {"carol", "carol", "carol-pw", "imap", "implicit", ""}});
        sync_gmail(g.w, env->archive_path(), gm_source(std::move(synced)));
    }

    mv::sync::restore_report restore(mv::sync::restore_options opts = {},
                                     const std::string& target = "bob") const {
        const auto cfg = mv::config::load(env->config_path());
        const auto* acct = cfg.find(target);
        REQUIRE(acct);
        mv::archive::archive a(env->archive_path());
        mv::sync::shared_archive shared(a);
        opts.source_accounts = {"gm"};
        return mv::sync::restore_to_account(*acct, shared, opts);
    }

    // What each target folder must hold: the messages (by number) each label puts there.
    std::multiset<std::string> want(std::initializer_list<int> ns) const {
        std::multiset<std::string> out;
        for (int n : ns) out.insert(g.hash(n));
        return out;
    }
    void check_target(const std::string& when, const std::string& user = "bob") const {
        INFO(when);
        CHECK(folder_hashes(*tb, user, "INBOX") == want({0, 3, 5}));
        CHECK(folder_hashes(*tb, user, "Work") == want({0, 4}));
        CHECK(folder_hashes(*tb, user, "Work/Project") == want({4}));
        CHECK(folder_hashes(*tb, user, "Sent") == want({2, 5}));
        CHECK(folder_hashes(*tb, user, "Drafts") == want({6}));
        CHECK(folder_hashes(*tb, user, "Archive") == want({1}));
        // Gmail's views are no folders on the target; nothing is left under [Gmail].
        for (const auto& f : tb->folders(user)) {
            INFO("target folder " << f);
            CHECK(f.find("[Gmail]") == std::string::npos);
            CHECK(f.find("All Mail") == std::string::npos);
            CHECK(f.find("Starred") == std::string::npos);
            CHECK(f.find("Important") == std::string::npos);
        }
    }
};

const mv::sync::restore_folder_report* report_for(const mv::sync::restore_report& r,
                                                  const std::string& source_folder) {
    for (const auto& f : r.folders)
        if (f.source_folder == source_folder) return &f;
    return nullptr;
}

}  // namespace

TEST_CASE(
    "gmail restore: every folder of a Gmail archive into Dovecot, each message once per label") {
    gmail_bed b;
    {
        mv::sync::restore_options dry;
        dry.dry_run = true;
        auto d = b.restore(dry);
        INFO(describe(d));
        REQUIRE(!d.err);
        std::int64_t would = 0;
        for (const auto& f : d.folders) would += f.would_append;
        CHECK(would == 10);  // INBOX 3, Work 2, Work/Project 1, Sent 2, Drafts 1, Archive 1
        CHECK(d.appends == 0);
    }
    auto first = b.restore();
    INFO(describe(first));
    REQUIRE(!first.err);
    CHECK(!first.anything_skipped());
    CHECK(first.appends == 10);
    b.check_target("after the restore");
    // The archived folders are restored as themselves; only the unlabelled message comes
    // through All Mail, into Archive.
    const auto* none = report_for(first, "[Gmail]/All Mail (no label)");
    REQUIRE(none);
    CHECK(none->target_folder == "Archive");
    CHECK(none->appended == 1);
    for (const auto& f : first.folders) {
        INFO(f.source_folder);
        CHECK(f.source_folder != "[Gmail]/All Mail");
        CHECK(f.source_folder != "[Gmail]/Starred");
        CHECK(f.source_folder != "[Gmail]/Important");
    }
    const auto* sent = report_for(first, "[Gmail]/Sent Mail");
    REQUIRE(sent);
    CHECK(sent->target_folder == "Sent");

    auto again = b.restore();
    INFO(describe(again));
    REQUIRE(!again.err);
    CHECK(again.appends == 0);
    for (const auto& f : again.folders) CHECK(f.already == f.entries);
    b.check_target("after the rerun");
}

TEST_CASE(
    "gmail restore: an archive of All Mail only fans out to INBOX, Sent, Drafts and every label") {
    gmail_bed b({"[Gmail]/All Mail"});
    auto first = b.restore();
    INFO(describe(first));
    REQUIRE(!first.err);
    CHECK(!first.anything_skipped());
    CHECK(first.appends == 10);
    b.check_target("after the restore");
    const auto* work = report_for(first, "[Gmail]/All Mail (label Work)");
    REQUIRE(work);
    CHECK(work->target_folder == "Work");
    CHECK(work->appended == 2);
    const auto* sent = report_for(first, "[Gmail]/All Mail (label \\Sent)");
    REQUIRE(sent);
    CHECK(sent->target_folder == "Sent");
    auto again = b.restore();
    INFO(describe(again));
    CHECK(again.appends == 0);
    b.check_target("after the rerun");
}

TEST_CASE(
    "gmail restore: INBOX, then All Mail, then everything: never one message twice in a folder") {
    gmail_bed b;
    mv::sync::restore_options inbox;
    inbox.folders = {"INBOX"};
    auto r1 = b.restore(inbox);
    INFO(describe(r1));
    REQUIRE(!r1.err);
    CHECK(r1.appends == 3);
    CHECK(folder_hashes(*b.tb, "bob", "INBOX") == b.want({0, 3, 5}));

    // All Mail alone: its messages go to every label folder -- INBOX too, which was not
    // restored from its archived folder in this run; the ledger knows they are there.
    mv::sync::restore_options all_mail;
    all_mail.folders = {"[Gmail]/All Mail"};
    auto r2 = b.restore(all_mail);
    INFO(describe(r2));
    REQUIRE(!r2.err);
    CHECK(r2.appends == 7);
    const auto* in = report_for(r2, "[Gmail]/All Mail (label INBOX)");
    REQUIRE(in);
    CHECK(in->appended == 0);
    CHECK(in->already == 3);
    CHECK(in->note.find("already there via INBOX") != std::string::npos);
    b.check_target("after INBOX, then All Mail");

    auto r3 = b.restore();
    INFO(describe(r3));
    REQUIRE(!r3.err);
    CHECK(r3.appends == 0);
    CHECK(!r3.anything_skipped());
    b.check_target("after everything");
}

TEST_CASE(
    "gmail restore: primary label only, another archive folder, and none (All Mail as a folder)") {
    gmail_bed b({"[Gmail]/All Mail"});
    mv::sync::restore_options p;
    p.gmail_mode = mv::sync::label_mode::primary_only;
    p.gmail_archive_folder = "Old Mail";
    auto r = b.restore(p);
    INFO(describe(r));
    REQUIRE(!r.err);
    CHECK(r.appends == 7);  // each message once
    CHECK(folder_hashes(*b.tb, "bob", "INBOX") == b.want({0, 3, 5}));
    CHECK(folder_hashes(*b.tb, "bob", "Work") == b.want({4}));
    CHECK(folder_hashes(*b.tb, "bob", "Work/Project").empty());
    CHECK(folder_hashes(*b.tb, "bob", "Sent") == b.want({2}));
    CHECK(folder_hashes(*b.tb, "bob", "Drafts") == b.want({6}));
    CHECK(folder_hashes(*b.tb, "bob", "Old Mail") == b.want({1}));
    CHECK(folder_hashes(*b.tb, "bob", "Archive").empty());

    // The command line: --gmail-labels=none restores All Mail as a plain folder (as before).
    auto cli = b.env->cli(
        {"restore", "--to", "carol", "--account", "gm", "--gmail-labels=none", "--json"});
    INFO(cli.output << cli.errors);
    CHECK(cli.status == 0);
    auto j = nlohmann::json::parse(cli.output);
    CHECK(j.at("appends") == 7);
    CHECK(folder_hashes(*b.tb, "carol", "[Gmail]/All Mail") == b.want({0, 1, 2, 3, 4, 5, 6}));
    auto bad = b.env->cli({"restore", "--to", "carol", "--account", "gm", "--gmail-labels=some"});
    CHECK(bad.status != 0);
    CHECK(bad.errors.find("--gmail-labels") != std::string::npos);
}

TEST_CASE("gmail restore: into a Gmail-like target, each message once into All Mail with labels") {
    // Restoring into Gmail (X-GM-EXT-1) itself: the Gmail-like in-memory server is the target
    // too (no Dovecot here). Every message is APPENDed once -- into All Mail, a draft into
    // Drafts -- and its labels are set with UID STORE +X-GM-LABELS.
    gmail_world src;
    temp_dir t("mailvault-gmail");
    const auto path = (t.path() / "a.mvault").string();
    sync_gmail(src.w, path, gm_source());
    gm_world dst;
    dst.f("INBOX");
    dst.f("[Gmail]/All Mail").attrs = " \\All";
    dst.f("[Gmail]/Drafts").attrs = " \\Drafts";
    dst.f("[Gmail]/Sent Mail").attrs = " \\Sent";
    auto target = gm_source();
    target.name = "gmail-target";
    auto run = [&] {
        mv::archive::archive a(path);
        mv::sync::shared_archive sa(a);
        mv::sync::restore_options o;
        o.source_accounts = {"gm"};
        o.open_session = [&dst](const mv::config::account& ac, const std::string& pw) {
            mv::sync::imap_session s;
            s.transport = std::make_unique<gm_transport>(dst);
            s.client = std::make_unique<mv::imap::client>(*s.transport);
            if (auto e = s.client->greeting()) throw mv::failure(e);
            if (auto e = s.client->login(ac.user, pw)) throw mv::failure(e);
            return s;
        };
        return mv::sync::restore_to_account(target, sa, o);
    };
    auto sorted = [](std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        return v;
    };
    const std::map<int, std::vector<std::string>> want = {
        {0, {"Work", "\\Inbox"}},
        {1, {}},
        {2, {"\\Sent"}},
        {3, {"\\Important", "\\Inbox", "\\Starred"}},
        {4, {"Work", "Work/Project"}},
        {5, {"\\Inbox", "\\Sent"}},
        {6, {}},  // a draft: into Drafts, \Draft is no label to set
    };
    auto check = [&](const std::string& when) {
        INFO(when);
        REQUIRE(dst.messages.size() == src.bodies.size());
        for (const auto& [n, labels] : want) {
            INFO("message " << n);
            int copies = 0;
            for (const auto& m : dst.messages)
                if (m.body == src.bodies[n]) {
                    ++copies;
                    CHECK(sorted(m.labels) == sorted(labels));
                }
            CHECK(copies == 1);
        }
        std::size_t in_drafts = 0;
        for (const auto& f : dst.folders)
            if (f.name == "[Gmail]/Drafts") in_drafts = f.uids.size();
        CHECK(in_drafts == 1);
    };
    auto first = run();
    INFO(describe(first));
    REQUIRE(!first.err);
    CHECK(!first.anything_skipped());
    CHECK(first.appends == 7);
    check("after the restore");
    CHECK(!dst.label_stores.empty());
    for (const auto& f : first.folders) CHECK(f.target_folder.rfind("[Gmail]/", 0) == 0);

    auto again = run();
    INFO(describe(again));
    REQUIRE(!again.err);
    CHECK(again.appends == 0);
    check("after the rerun");
}

TEST_CASE("gmail restore: UID STORE +X-GM-LABELS against MailKit's recorded Gmail answers") {
    // The client side of setting labels, against Gmail's recorded CAPABILITY and its answer to
    // a STORE of X-GM-LABELS (MailKit's tests/data/corpora/mailkit/imap/gmail), split at every
    // byte and failed at every step: system labels as atoms, user labels quoted.
    auto recorded = [](const std::string& file, const std::string& tag) {
        auto s = mv::imap::lf_to_crlf(read_file(fs::path(MV_TEST_DATA_DIR) / "corpora" / "mailkit" /
                                                "imap" / "gmail" / file));
        const std::string placeholder = "A########";
        for (std::size_t p = 0; (p = s.find(placeholder, p)) != std::string::npos; p += tag.size())
            s.replace(p, placeholder.size(), tag);
        return s;
    };
    script s;
    s.read(recorded("greeting.txt", ""))
        .write("A0001 CAPABILITY\r\n")
        .read(recorded("capability.txt", "A0001"))
        .write(
            "A0002 UID STORE 1:3,5,7:50 +X-GM-LABELS.SILENT (\\Important \"Custom Label\" "
            "\"Caf&AOk-\")\r\n")
        .read(recorded("add-labels.txt", "A0002"));
    replay_everywhere(s, [](scripted_transport& t) -> mv::error {
        mv::imap::client c(t);
        if (auto e = c.greeting()) return e;
        if (auto e = c.capability()) return e;
        return c.uid_store_labels(mv::imap::parse_uid_set("1:3,5,7:50").value(),
                                  {"\\Important", "Custom Label", "Caf\xc3\xa9"});
    });
    // Without X-GM-EXT-1 nothing is sent.
    script none;
    none.read("* OK [CAPABILITY IMAP4rev1 UIDPLUS] ready\r\n");
    scripted_transport t(none);
    mv::imap::client c(t);
    REQUIRE(!c.greeting());
    CHECK(c.uid_store_labels(mv::imap::parse_uid_set("1").value(), {"Work"}).code ==
          mv::errc::unsupported);
}
