// `mailvault restore` against the real Dovecot test bed (issue #12): an archived account is
// written into another account, byte for byte with flags and INTERNALDATE; a rerun appends
// nothing; a crash at any durable step of a restore, then a rerun, leaves every message exactly
// once on the target.
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "archive/hash.hpp"
#include "archive/ledger.hpp"
#include "harness/sync_env.hpp"

using namespace mv::test;

namespace {

// (SHA-256 of the bytes as served, sorted flags, INTERNALDATE) of every message of a folder.
using fingerprint = std::tuple<std::string, std::vector<std::string>, std::int64_t>;

std::multiset<fingerprint> folder_prints(const testbed& tb, const std::string& user,
                                         const std::string& folder) {
    std::multiset<fingerprint> out;
    for (auto& [uid, m] : tb.message_infos(user, folder))
        out.insert({mv::archive::sha256_of(crlf(m.content)).hex(), m.flags, m.mtime});
    return out;
}

std::multiset<std::string> folder_hashes(const testbed& tb, const std::string& user,
                                         const std::string& folder) {
    std::multiset<std::string> out;
    for (auto& [uid, m] : tb.messages(user, folder))
        out.insert(mv::archive::sha256_of(crlf(m)).hex());
    return out;
}

struct restore_bed {
    temp_dir seed_a{"mailvault-seed"}, seed_b{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;
    std::vector<std::string> folders;

    explicit restore_bed(bool small) {
        if (small) {
            auto plain = corpus_messages("mikel-mail/emails/plain_emails");
            plain.resize(2);
            seed_folder(seed_a, "INBOX", plain);
            auto one = corpus_messages("mailkit/imap/common/message.1");
            one.resize(1);
            seed_folder(seed_a, "Projets.&AMk-t&AOk-", one);
            folders = {"INBOX", "Projets/Été"};
        } else {
            seed_folder(seed_a, "INBOX", corpus_messages("mikel-mail/emails/plain_emails"));
            seed_folder(seed_a, "Archive", corpus_messages("mikel-mail/emails/rfc2822"));
            seed_folder(seed_a, "Archive.2024", corpus_messages("mikel-mail/emails/multi_charset"));
            seed_folder(seed_a, "Projets.&AMk-t&AOk-",
                        corpus_messages("mailkit/imap/common/message.1"));
            folders = {"INBOX", "Archive", "Archive/2024", "Projets/Été"};
        }
        testbed_options o;
        o.users = {{"alice", "alice-pw", seed_a.path().string()},
                   {"bob", "bob-pw", seed_b.path().string()}};
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        env->write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""},
                           {"bob", "bob", "bob-pw", "imap", "implicit", ""}});
        // Flags worth restoring: system flags and a keyword.
        tb->flags("alice", "INBOX", 1, "add", {"\\Flagged", "$Work"});
        tb->flags("alice", "INBOX", 2, "add", {"\\Seen", "\\Answered"});
        env->sync({"--account", "alice"});
    }

    run_result restore(const std::map<std::string, std::string>& vars = {},
                       std::vector<std::string> extra = {}) const {
        std::vector<std::string> argv = {env->cli_path(), "restore",   "--to",
                                         "bob",           "--account", "alice",
                                         "--json",        "--config",  env->config_path()};
        // A crash walk counts crash points: one connection, so they come in one order.
        if (vars.count("MAILVAULT_CRASH_AT")) extra.insert(extra.begin(), {"--connections", "1"});
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run_command(argv, "", vars);
    }

    // Every source message is on the target exactly once, same bytes, flags and INTERNALDATE.
    void check_equal(const std::string& when) const {
        INFO(when);
        for (const auto& f : folders) {
            INFO("folder " << f);
            const auto src = folder_prints(*tb, "alice", f);
            REQUIRE(!src.empty());
            CHECK(folder_prints(*tb, "bob", f) == src);
        }
    }

    // No message is on the target more often than in the source.
    void check_no_duplicates(const std::string& when) const {
        INFO(when);
        for (const auto& f : folders) {
            INFO("folder " << f);
            const auto src = folder_hashes(*tb, "alice", f);
            std::multiset<std::string> dst;
            if (std::filesystem::exists(tb->folder_dir("bob", f)))
                dst = folder_hashes(*tb, "bob", f);
            for (const auto& h : dst) CHECK(dst.count(h) <= src.count(h));
        }
    }
};

nlohmann::json parse_json(const run_result& r) {
    INFO("exit " << r.status << "\nstdout:\n" << r.output << "\nstderr:\n" << r.errors);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(r.output));
    return j;
}

}  // namespace

TEST_CASE("restore: every archived message lands on the target byte-exact, a rerun appends none") {
    restore_bed b(false);
    std::size_t total = 0;
    for (const auto& f : b.folders) total += b.tb->messages("alice", f).size();
    REQUIRE(total > 10);

    auto dry = b.restore({}, {"--dry-run"});
    auto dj = parse_json(dry);
    CHECK(dry.status == 0);
    CHECK(dj.at("appends") == 0);
    std::int64_t would = 0;
    for (const auto& f : dj.at("folders")) would += f.at("would_append").get<std::int64_t>();
    CHECK(would == static_cast<std::int64_t>(total));
    CHECK_FALSE(std::filesystem::exists(b.tb->folder_dir("bob", "Archive/2024")));

    auto first = b.restore();
    auto j = parse_json(first);
    INFO(first.output << first.errors);
    CHECK(first.status == 0);
    CHECK(j.at("appends").get<std::size_t>() == total);
    b.check_equal("after the restore");
    // The archive's contents are exactly what the target serves.
    {
        auto a = b.env->open_archive();
        for (const auto& f : b.folders) {
            std::multiset<std::string> archived;
            auto acct = a->find_account("alice");
            REQUIRE(acct);
            for (const auto& mb : a->mailboxes(*acct))
                if (mb.name == f)
                    a->for_each_entry(mb.id, [&](const mv::archive::entry_view& e) {
                        archived.insert(e.content.hex());
                    });
            CHECK(folder_hashes(*b.tb, "bob", f) == archived);
        }
    }

    auto second = b.restore({}, {"--verify"});
    auto j2 = parse_json(second);
    CHECK(second.status == 0);
    CHECK(j2.at("appends") == 0);
    for (const auto& f : j2.at("folders")) {
        CHECK(f.at("appended") == 0);
        CHECK(f.at("already") == f.at("entries"));
        // Every message fetched back from the target equals the archived bytes.
        CHECK(f.at("verified") == f.at("entries"));
        CHECK(f.at("verify_problems").empty());
    }
    b.check_equal("after the rerun");
}

TEST_CASE("restore: a target folder with a new UIDVALIDITY is re-matched, not filled again") {
    restore_bed b(true);
    auto first = b.restore();
    REQUIRE(first.status == 0);
    const auto before = folder_prints(*b.tb, "bob", "INBOX");
    b.tb->set_uidvalidity("bob", "INBOX", b.tb->uidvalidity("bob", "INBOX") + 100);
    auto again = b.restore();
    auto j = parse_json(again);
    CHECK(again.status == 0);
    CHECK(j.at("appends") == 0);
    for (const auto& f : j.at("folders")) {
        if (f.at("target_folder") != "INBOX") continue;
        CHECK(f.at("matched") == f.at("entries"));
        CHECK(f.at("appended") == 0);
    }
    CHECK(folder_prints(*b.tb, "bob", "INBOX") == before);
    // The ledger now records the new UIDVALIDITY: the next run trusts it again.
    auto third = b.restore();
    auto j3 = parse_json(third);
    CHECK(j3.at("appends") == 0);
    for (const auto& f : j3.at("folders")) CHECK(f.at("matched") == 0);
    b.check_equal("after the reruns");
}

TEST_CASE("restore: a ledger intent whose APPEND did land is matched on the target, not appended") {
    restore_bed b(true);
    // Crash right after the first APPEND was answered OK, before its confirmation was written.
    const std::string log = (b.env->dir() / "crash.log").string();
    int n_appended = 0;
    {
        auto probe = b.restore({{"MAILVAULT_CRASH_AT", "1000"}, {"MAILVAULT_CRASH_LOG", log}});
        REQUIRE(probe.status == 0);
        std::istringstream in(read_file(log));
        for (std::string line; std::getline(in, line);)
            if (line.find("restore.appended") != std::string::npos) {
                n_appended = std::stoi(line.substr(0, line.find(' ')));
                break;
            }
    }
    REQUIRE(n_appended > 0);
    // That probe restored everything: start again with an empty target.
    restore_bed c(true);
    auto r = c.restore({{"MAILVAULT_CRASH_AT", std::to_string(n_appended)}});
    REQUIRE(r.status == 86);
    auto again = c.restore();
    auto j = parse_json(again);
    CHECK(again.status == 0);
    // The crash came after the first window of pipelined APPENDs (the first folder's messages)
    // was answered: every one of them is found on the target, none appended again.
    std::int64_t matched = 0, appended = 0, entries = 0;
    for (const auto& f : j.at("folders")) {
        matched += f.at("matched").get<std::int64_t>();
        appended += f.at("appended").get<std::int64_t>();
        entries += f.at("entries").get<std::int64_t>();
    }
    CHECK(matched == j.at("folders").at(0).at("entries").get<std::int64_t>());
    CHECK(matched + appended == entries);
    c.check_equal("after the rerun");
}

TEST_CASE(
    "restore crash walk: after a crash at any step a rerun leaves every message exactly once") {
    std::set<std::string> names_seen;
    int crashes = 0;
    for (int n = 1; n <= 40; ++n) {
        INFO("MAILVAULT_CRASH_AT=" << n);
        restore_bed b(true);
        const std::string log = (b.env->dir() / "crash.log").string();
        auto r =
            b.restore({{"MAILVAULT_CRASH_AT", std::to_string(n)}, {"MAILVAULT_CRASH_LOG", log}});
        INFO("exit " << r.status << "\nstdout:\n" << r.output << "\nstderr:\n" << r.errors);
        {
            std::istringstream in(read_file(log));
            for (std::string line; std::getline(in, line);)
                if (auto sp = line.find(' '); sp != std::string::npos)
                    names_seen.insert(line.substr(sp + 1));
        }
        if (r.status == 0) {
            b.check_equal("after the run that did not crash");
            CHECK(crashes == n - 1);
            break;
        }
        REQUIRE(r.status == 86);
        CHECK(r.errors.find("crash point " + std::to_string(n)) != std::string::npos);
        ++crashes;
        b.check_no_duplicates("after the crash");
        auto again = b.restore();
        INFO("rerun exit " << again.status << "\nstdout:\n"
                           << again.output << "\nstderr:\n"
                           << again.errors);
        CHECK(again.status == 0);
        b.check_equal("after the rerun");
        auto third = b.restore();
        CHECK(parse_json(third).at("appends") == 0);
    }
    // Each of the two folders passes every point once (one window each): 2 x 3 crashes.
    CHECK(crashes >= 6);
    for (const char* want : {"restore.intent", "restore.appended", "restore.confirmed"})
        CHECK(names_seen.count(want) == 1);
}

namespace {

bool header_is_7bit(const std::string& m) {
    for (unsigned char c : mv::archive::header_block(m))
        if (c > 127) return false;
    return true;
}

// Restores alice's archive into `target` (another server, user "bob") and compares every folder
// with what that server serves over IMAP, named as it names them. exact: every message arrives
// byte for byte with its flags and INTERNALDATE. Otherwise (Cyrus, whose default munge8bit
// rewrites 8-bit header bytes and which refuses some headers): every source message is on the
// target unchanged, or was reported as skipped, or is one of the messages with 8-bit headers
// the server rewrote -- and there are no more messages on the target than in the source.
void restore_across(const testbed_options& target_opts, bool exact) {
    restore_bed b(false);
    testbed target(target_opts);
    account_spec src{"alice", "alice", "alice-pw", "imap", "starttls", ""};
    account_spec dst{"other", "bob", "bob-pw", "imap", "implicit", ""};
    dst.server = &target;
    b.env->write_config({src, dst});
    auto run = [&] {
        return run_command({b.env->cli_path(), "restore", "--to", "other", "--account", "alice",
                            "--json", "--config", b.env->config_path()});
    };
    auto first = run();
    auto j = parse_json(first);
    INFO(first.output << first.errors);
    const std::vector<std::pair<std::string, std::string>> names = {
        {"INBOX", "INBOX"},
        {"Archive", "Archive"},
        {"Archive.2024", "Archive/2024"},
        {"Projets.Été", "Projets/Été"}};
    std::size_t total = 0, skipped_all = 0, altered = 0;
    for (const auto& [seed, folder] : names) {
        INFO("folder " << folder << " as " << target.folder_name(seed));
        std::size_t skipped = 0;
        for (const auto& f : j.at("folders"))
            if (f.at("source_folder") == folder) skipped = f.at("skipped").size();
        skipped_all += skipped;
        std::multiset<fingerprint> src_prints, dst_prints;
        std::size_t eight_bit = 0;
        for (auto& [uid, m] : b.tb->message_infos("alice", folder)) {
            src_prints.insert({mv::archive::sha256_of(crlf(m.content)).hex(), m.flags, m.mtime});
            if (!header_is_7bit(m.content)) ++eight_bit;
        }
        total += src_prints.size();
        for (auto& [uid, m] : target.served("bob", target.folder_name(seed)).messages)
            dst_prints.insert({mv::archive::sha256_of(crlf(m.content)).hex(), m.flags, m.mtime});
        std::size_t only_src = 0, only_dst = 0;
        std::string diff;
        for (const auto& fp : src_prints)
            if (dst_prints.count(fp) == 0) {
                ++only_src;
                diff += "\n  only in the source: " + std::get<0>(fp);
            }
        for (const auto& fp : dst_prints)
            if (src_prints.count(fp) == 0) {
                ++only_dst;
                diff += "\n  only on the target: " + std::get<0>(fp);
            }
        INFO("differences:" << diff);
        altered += only_dst;
        if (exact) {
            CHECK(dst_prints == src_prints);
        } else {
            CHECK(only_src == skipped + only_dst);
            CHECK(only_dst <= eight_bit);
            CHECK(dst_prints.size() + skipped == src_prints.size());
        }
    }
    if (exact) {
        CHECK(first.status == 0);
        CHECK(skipped_all == 0);
    } else {
        CHECK(first.status == (skipped_all ? 1 : 0));  // anything skipped: exit 1
    }
    CHECK(j.at("appends").get<std::size_t>() == total);
    auto again = run();
    // A rerun sends only what was refused before (and is refused again).
    CHECK(parse_json(again).at("appends").get<std::size_t>() == skipped_all);
    // --verify fetches every restored message back: each one the server rewrote is named.
    auto v = run_command({b.env->cli_path(), "restore", "--to", "other", "--account", "alice",
                          "--json", "--verify", "--config", b.env->config_path()});
    auto vj = parse_json(v);
    std::size_t problems = 0, verified = 0;
    for (const auto& f : vj.at("folders")) {
        problems += f.at("verify_problems").size();
        verified += f.at("verified").get<std::size_t>();
    }
    CHECK(problems == altered);
    CHECK(verified + altered + skipped_all == total);
    CHECK(v.status == (altered ? 9 : skipped_all ? 1 : 0));
}

}  // namespace

TEST_CASE("restore: into a Dovecot with prefix INBOX. and separator . the tree is translated") {
    restore_across(dovecot_inbox_prefix_options({{"bob", "bob-pw", ""}}), true);
}

TEST_CASE(
    "restore: into Cyrus (prefix INBOX., separator .) the tree is translated, 8-bit headers "
    "aside") {
    if (!cyrus_available()) {
        FAIL_CHECK(
            "Cyrus is not installed (scripts/install-deps.sh puts it in /opt/mailvault/cyrus)");
        return;
    }
    restore_across(cyrus_options({{"bob", "bob-pw", ""}}), false);
}

TEST_CASE("restore: a keyword the target refuses is dropped and reported, the message restored") {
    restore_bed b(true);
    const std::string long_kw = "Kw" + std::string(300, 'k');  // over Dovecot's keyword limit
    {
        auto a = std::make_unique<mv::archive::archive>(b.env->archive_path());
        auto acct = a->find_account("alice");
        REQUIRE(acct);
        auto mb = a->find_mailbox(*acct, "INBOX");
        REQUIRE(mb);
        REQUIRE(a->update_flags(mb->id, 1, {"\\Seen", long_kw}, std::nullopt));
    }
    auto r = b.restore();
    auto j = parse_json(r);
    INFO(r.output << r.errors);
    CHECK(r.status == 1);
    std::size_t dropped = 0;
    for (const auto& f : j.at("folders")) {
        dropped += f.at("dropped_keywords").size();
        CHECK(f.at("skipped").empty());
        CHECK(f.at("appended") == f.at("entries"));
    }
    CHECK(dropped == 1);
    // Dovecot offers \* in PERMANENTFLAGS and refuses the keyword with a NO to the APPEND: the
    // message went again with its system flags only.
    CHECK(r.output.find("APPEND failed") != std::string::npos);
    // Every message is there; the one with the refused keyword has \Seen.
    for (const auto& f : b.folders)
        CHECK(folder_hashes(*b.tb, "bob", f) == folder_hashes(*b.tb, "alice", f));
    bool seen = false;
    const auto want = mv::archive::sha256_of(crlf(b.tb->messages("alice", "INBOX").at(1))).hex();
    for (auto& [uid, m] : b.tb->message_infos("bob", "INBOX"))
        if (mv::archive::sha256_of(crlf(m.content)).hex() == want)
            seen = std::find(m.flags.begin(), m.flags.end(), "\\Seen") != m.flags.end();
    CHECK(seen);
    auto again = b.restore();
    CHECK(parse_json(again).at("appends") == 0);
}

TEST_CASE("restore: a wrong target password is exit 4 and writes nothing to the ledger") {
    restore_bed b(true);
    account_spec src{"alice", "alice", "alice-pw", "imap", "starttls", ""};
    account_spec dst{"bob", "bob", "not-bobs-password", "imap", "implicit", ""};
    b.env->write_config({src, dst});
    auto r = b.restore();
    auto j = parse_json(r);
    CHECK(r.status == 4);
    CHECK(j.at("status") == "failed");
    CHECK(j.at("error").at("kind") == "auth");
    CHECK(j.at("appends") == 0);
    auto a = b.env->open_archive();
    mv::archive::ledger l(*a);
    CHECK(l.count("bob", mv::archive::ledger_state::intent) == 0);
    CHECK(l.count("bob", mv::archive::ledger_state::confirmed) == 0);
    // Nobody logged in as bob: his mailbox was never even opened.
    CHECK_FALSE(std::filesystem::exists(b.tb->folder_dir("bob", "INBOX") / "dovecot-uidlist"));
}

TEST_CASE("migrate: sync, restore and verify in one command, a rerun moves only what changed") {
    restore_bed b(true);
    auto migrate = [&] {
        return run_command({b.env->cli_path(), "migrate", "--from", "alice", "--to", "bob",
                            "--json", "--config", b.env->config_path()});
    };
    auto first = migrate();
    auto j = parse_json(first);
    INFO(first.output << first.errors);
    CHECK(first.status == 0);
    CHECK(j.at("sync_exit_code") == 0);
    std::int64_t entries = 0, verified = 0;
    for (const auto& f : j.at("restore").at("folders")) {
        entries += f.at("entries").get<std::int64_t>();
        verified += f.at("verified").get<std::int64_t>();
    }
    CHECK(verified == entries);
    CHECK(j.at("restore").at("appends") == entries);
    b.check_equal("after the migration");

    // Changes on A: one new message, one expunged.
    auto extra = corpus_messages("mikel-mail/emails/rfc2822/example01");
    REQUIRE(!extra.empty());
    b.tb->add("alice", "INBOX", extra[0], "\\Seen");
    const auto expunged = b.tb->messages("alice", "INBOX").at(2);
    // (The corpus has this message twice in INBOX: twins with the same bytes.)
    const auto copies =
        folder_hashes(*b.tb, "alice", "INBOX").count(mv::archive::sha256_of(crlf(expunged)).hex());
    b.tb->expunge("alice", "INBOX", {2});
    // And a flag change on A: carried over to B by the rerun (the archive's flags win).
    const auto flagged = b.tb->messages("alice", "INBOX").at(1);
    b.tb->flags("alice", "INBOX", 1, "add", {"\\Answered"});
    auto second = migrate();
    auto j2 = parse_json(second);
    INFO(second.output << second.errors);
    CHECK(second.status == 0);
    CHECK(j2.at("restore").at("appends") == 1);
    std::int64_t flags_updated = 0;
    for (const auto& f : j2.at("restore").at("folders"))
        flags_updated += f.at("flags_updated").get<std::int64_t>();
    CHECK(flags_updated == 1);
    bool seen_flagged = false;
    for (const auto& [uid, m] : b.tb->message_infos("bob", "INBOX"))
        if (crlf(m.content) == crlf(flagged)) {
            seen_flagged = true;
            CHECK(std::find(m.flags.begin(), m.flags.end(), "\\Answered") != m.flags.end());
        }
    CHECK(seen_flagged);
    // The new message is on B; the one deleted on A stays on B (migrate does not delete).
    const auto on_b = folder_hashes(*b.tb, "bob", "INBOX");
    CHECK(on_b.count(mv::archive::sha256_of(crlf(read_file(extra[0]))).hex()) == 1);
    CHECK(on_b.count(mv::archive::sha256_of(crlf(expunged)).hex()) == copies);
    CHECK(on_b.size() == folder_hashes(*b.tb, "alice", "INBOX").size() + 1);
    auto third = migrate();
    CHECK(third.status == 0);
    CHECK(parse_json(third).at("restore").at("appends") == 0);
}

TEST_CASE("restore --as-of: the folder as archived then, expunged since back, newer ones not") {
    restore_bed b(true);
    const auto before = folder_hashes(*b.tb, "alice", "INBOX");
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    const auto as_of = static_cast<std::int64_t>(std::time(nullptr));
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto extra = corpus_messages("mikel-mail/emails/rfc2822/example01");
    REQUIRE(!extra.empty());
    b.tb->add("alice", "INBOX", extra[0]);
    b.tb->expunge("alice", "INBOX", {1});
    b.env->sync({"--account", "alice"});
    REQUIRE(folder_hashes(*b.tb, "alice", "INBOX") != before);

    auto r = b.restore({}, {"--as-of", "@" + std::to_string(as_of), "--folder", "INBOX"});
    auto j = parse_json(r);
    INFO(r.output << r.errors);
    CHECK(r.status == 0);
    CHECK(folder_hashes(*b.tb, "bob", "INBOX") == before);
    // Now: the current state restores the new message and keeps the expunged one out.
    auto now = b.restore({}, {"--exclude-expunged", "--folder", "INBOX"});
    CHECK(now.status == 0);
    CHECK(parse_json(now).at("appends") == 1);
    CHECK(folder_hashes(*b.tb, "bob", "INBOX")
              .count(mv::archive::sha256_of(crlf(read_file(extra[0]))).hex()) == 1);
    auto bad = b.restore({}, {"--as-of", "last tuesday"});
    CHECK(bad.status == 2);
}

TEST_CASE("restore into the source account puts back only what is gone from it") {
    restore_bed b(true);
    const auto before = folder_hashes(*b.tb, "alice", "INBOX");
    auto in_place = [&] {
        return run_command({b.env->cli_path(), "restore", "--to", "alice", "--account", "alice",
                            "--json", "--config", b.env->config_path()});
    };
    auto first = in_place();
    auto j = parse_json(first);
    CHECK(first.status == 0);
    CHECK(j.at("appends") == 0);  // everything is still there
    const auto uid = b.tb->messages("alice", "INBOX").begin()->first;
    b.tb->expunge("alice", "INBOX", {uid});
    REQUIRE(folder_hashes(*b.tb, "alice", "INBOX") != before);
    auto second = in_place();
    auto j2 = parse_json(second);
    INFO(second.output << second.errors);
    CHECK(second.status == 0);
    CHECK(j2.at("appends") == 1);
    CHECK(folder_hashes(*b.tb, "alice", "INBOX") == before);
    CHECK(parse_json(in_place()).at("appends") == 0);
    // Into another folder of the same account: looked up first, then appended once.
    auto other = run_command({b.env->cli_path(), "restore", "--to", "alice", "--account", "alice",
                              "--folder", "INBOX", "--map", "INBOX=Copy", "--json", "--config",
                              b.env->config_path()});
    CHECK(other.status == 0);
    CHECK(parse_json(other).at("appends").get<std::size_t>() == before.size());
    CHECK(folder_hashes(*b.tb, "alice", "Copy") == before);
}

TEST_CASE("restore: a POP3-archived account goes into the target's INBOX, byte-exact, once") {
    temp_dir seed_a{"mailvault-seed"}, seed_b{"mailvault-seed"};
    auto plain = corpus_messages("mikel-mail/emails/plain_emails");
    plain.resize(3);
    seed_folder(seed_a, "INBOX", plain);
    testbed_options o;
    o.users = {{"alice", "alice-pw", seed_a.path().string()},
               {"bob", "bob-pw", seed_b.path().string()}};
    testbed tb(o);
    sync_env env(tb, MV_CLI_PATH);
    env.write_config({{"alice", "alice", "alice-pw", "pop3", "starttls", ""},
                      {"bob", "bob", "bob-pw", "imap", "implicit", ""}});
    env.sync({"--account", "alice"});
    auto restore = [&] {
        return run_command({env.cli_path(), "restore", "--to", "bob", "--account", "alice",
                            "--json", "--config", env.config_path()});
    };
    auto r = restore();
    auto j = parse_json(r);
    CHECK(r.status == 0);
    REQUIRE(j.at("folders").size() == 1);
    CHECK(j.at("folders").at(0).at("target_folder") == "INBOX");
    CHECK(j.at("appends") == 3);
    // RETR returns the same bytes Dovecot's IMAP serves: the target holds exactly those.
    CHECK(folder_hashes(tb, "bob", "INBOX") == folder_hashes(tb, "alice", "INBOX"));
    auto again = restore();
    CHECK(again.status == 0);
    CHECK(parse_json(again).at("appends") == 0);
}

TEST_CASE("restore --connections 3: folders spread over three sessions, each message once") {
    restore_bed b(false);
    auto r = b.restore({}, {"--connections", "3"});
    auto j = parse_json(r);
    CHECK(r.status == 0);
    std::int64_t entries = 0;
    for (const auto& f : j.at("folders")) entries += f.at("entries").get<std::int64_t>();
    CHECK(j.at("appends") == entries);
    CHECK(j.at("folders").size() == b.folders.size());
    b.check_equal("after a restore over three connections");
    auto again = b.restore({}, {"--connections", "3"});
    CHECK(again.status == 0);
    CHECK(parse_json(again).at("appends") == 0);
}
