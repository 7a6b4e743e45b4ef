// Fault tests of `mailvault restore` (issue #12) against the real Dovecot test bed: a target
// over its quota, a message over APPENDLIMIT, a target folder deleted mid-run, kill -9 in the
// middle of an APPEND literal, an untrusted target certificate, THROTTLED / UNAVAILABLE answers,
// a connection cut mid-restore. What Dovecot cannot be made to do (APPENDLIMIT, THROTTLED,
// UNAVAILABLE, cutting a connection at a chosen APPEND) is done by
// tests/harness/imap_cut_proxy.py sitting in front of it; the rest is the real server. Last,
// Dovecot special-use folders restored into Cyrus (restore_test.cpp covers the rest of that).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>
#include <thread>

#include "archive/hash.hpp"
#include "archive/ledger.hpp"
#include "harness/sync_env.hpp"
#include "mailvault/config.hpp"
#include "sync/restore.hpp"

using namespace mv::test;
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string hash_of(const std::string& m) {
    return mv::archive::sha256_of(crlf(m)).hex();
}

// SHA-256 of every message of a Dovecot folder (empty when the folder does not exist).
std::multiset<std::string> folder_hashes(const testbed& tb, const std::string& user,
                                         const std::string& folder) {
    std::multiset<std::string> out;
    if (!fs::exists(tb.folder_dir(user, folder) / "dovecot-uidlist")) return out;
    for (auto& [uid, m] : tb.messages(user, folder)) out.insert(hash_of(m));
    return out;
}

// A generated message with CRLF line ends and a body of about `body_bytes` bytes, written to
// `dir`; returns its path.
std::string gen_message(const temp_dir& dir, int n, std::size_t body_bytes,
                        const std::string& extra_headers = "") {
    std::ostringstream m;
    m << "From: Fault Test <fault@example.org>\r\n"
      << "To: Bob <bob@example.org>\r\n"
      << "Subject: restore fault test message " << n << "\r\n"
      << "Date: Mon, 1 Jun 2020 10:" << (10 + n % 50) << ":00 +0000\r\n"
      << "Message-ID: <fault-" << n << "@mailvault.test>\r\n"
      << extra_headers << "MIME-Version: 1.0\r\n"
      << "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
    std::size_t written = 0;
    for (int line = 0; written < body_bytes; ++line) {
        std::string l = "message " + std::to_string(n) + " line " + std::to_string(line) + " ";
        l.resize(72, static_cast<char>('a' + line % 26));
        m << l << "\r\n";
        written += l.size() + 2;
    }
    const auto p = dir / ("gen-" + std::to_string(n) + ".eml");
    write_file(p, m.str());
    return p.string();
}

// Distinct small corpus messages (the twins basic_email / basic_email_lf left out).
std::vector<std::string> small_corpus(std::size_t n) {
    std::vector<std::string> out;
    for (auto& p : corpus_messages("mikel-mail/emails/plain_emails"))
        if (p.find("_lf") == std::string::npos && out.size() < n) out.push_back(p);
    return out;
}

// alice holds the source folders (seeded, then archived by one sync); every target user is
// empty. Folders are named as on the server ("Projets/Été"); the seed names them as Maildir++
// does ("Projets.&AMk-t&AOk-").
struct fault_bed {
    temp_dir seed{"mailvault-seed"};
    std::unique_ptr<testbed> tb;
    std::unique_ptr<sync_env> env;
    std::vector<std::string> folders;
    std::vector<std::string> targets;

    // seeds: {maildir name, imap name, files}.
    struct folder_seed {
        std::string maildir, name;
        std::vector<std::string> files;
    };
    fault_bed(const std::vector<folder_seed>& seeds, std::vector<std::string> target_users,
              std::optional<std::string> quota = std::nullopt)
        : targets(std::move(target_users)) {
        for (const auto& s : seeds) {
            seed_folder(seed, s.maildir, s.files);
            folders.push_back(s.name);
        }
        testbed_options o;
        o.users = {{"alice", "alice-pw", seed.path().string()}};
        for (const auto& t : targets) o.users.push_back({t, t + "-pw", ""});
        o.quota = quota;
        tb = std::make_unique<testbed>(o);
        env = std::make_unique<sync_env>(*tb, MV_CLI_PATH);
        configure();
        env->sync({"--account", "alice"});
    }

    // alice over STARTTLS, every target over implicit TLS -- except `via_proxy`, which goes in
    // plain text to `proxy_port` (the proxy must see the bytes).
    void configure(const std::string& via_proxy = "", std::uint16_t proxy_port = 0) {
        std::vector<account_spec> a = {{"alice", "alice", "alice-pw", "imap", "starttls", ""}};
        for (const auto& t : targets) {
            account_spec s{t, t, t + "-pw", "imap", "implicit", ""};
            if (t == via_proxy) {
                s.tls = "plain";
                s.port = proxy_port;
            }
            a.push_back(s);
        }
        env->write_config(a);
    }

    run_result restore(const std::string& target, std::vector<std::string> extra = {}) const {
        std::vector<std::string> argv = {env->cli_path(), "restore",   "--to",
                                         target,          "--account", "alice",
                                         "--json",        "--config",  env->config_path()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run_command(argv);
    }

    std::size_t total() const {
        std::size_t n = 0;
        for (const auto& f : folders) n += tb->messages("alice", f).size();
        return n;
    }

    // Every source message is on the target exactly once (SHA-256 multisets per folder).
    void check_exactly_once(const std::string& target, const std::string& when) const {
        INFO(when << ", target " << target);
        for (const auto& f : folders) {
            INFO("folder " << f);
            const auto src = folder_hashes(*tb, "alice", f);
            REQUIRE(!src.empty());
            CHECK(folder_hashes(*tb, target, f) == src);
        }
    }

    // No message is on the target more often than in the source.
    void check_no_duplicates(const std::string& target, const std::string& when) const {
        INFO(when << ", target " << target);
        for (const auto& f : folders) {
            INFO("folder " << f);
            const auto src = folder_hashes(*tb, "alice", f);
            const auto dst = folder_hashes(*tb, target, f);
            for (const auto& h : dst) CHECK(dst.count(h) <= src.count(h));
        }
    }

    std::int64_t ledger_count(const std::string& target, mv::archive::ledger_state s) const {
        auto a = env->open_archive();
        mv::archive::ledger l(*a);
        return l.count(target, s);
    }
};

nlohmann::json parse_json(const run_result& r) {
    INFO("exit " << r.status << "\nstdout:\n" << r.output << "\nstderr:\n" << r.errors);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(r.output));
    return j;
}

const nlohmann::json* folder_json(const nlohmann::json& j, const std::string& source_folder) {
    for (const auto& f : j.at("folders"))
        if (f.at("source_folder") == source_folder) return &f;
    return nullptr;
}

// tests/harness/imap_cut_proxy.py in front of the test bed's plain IMAP port; its event log
// is read back with events().
class cut_proxy {
public:
    struct event {
        int n = 0;
        std::size_t size = 0;
        std::string what;  // forwarded, throttled, unavailable, cut, dropped
        std::int64_t ms = 0;
    };

    cut_proxy(std::uint16_t upstream, const fs::path& dir, std::vector<std::string> args)
        : log_((dir / ("proxy-" + std::to_string(++serial_) + ".log")).string()) {
        std::vector<std::string> argv = {
            "python3", std::string(MV_SOURCE_DIR) + "/tests/harness/imap_cut_proxy.py",
            std::to_string(upstream), "--log", log_};
        argv.insert(argv.end(), args.begin(), args.end());
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            close(fds[1]);
            std::vector<char*> v;
            for (auto& s : argv) v.push_back(s.data());
            v.push_back(nullptr);
            execvp(v[0], v.data());
            _exit(127);
        }
        close(fds[1]);
        FILE* f = fdopen(fds[0], "r");
        unsigned p = 0;
        const int got = std::fscanf(f, "PORT %u", &p);
        std::fclose(f);
        REQUIRE(got == 1);
        port_ = static_cast<std::uint16_t>(p);
    }
    ~cut_proxy() {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    cut_proxy(const cut_proxy&) = delete;
    cut_proxy& operator=(const cut_proxy&) = delete;

    std::uint16_t port() const { return port_; }
    int connections() const {
        int n = 0;
        for (const auto& l : lines())
            if (l.rfind("CONN ", 0) == 0) ++n;
        return n;
    }
    std::vector<event> events() const {
        std::vector<event> out;
        for (const auto& l : lines()) {
            if (l.rfind("APPEND ", 0) != 0) continue;
            std::istringstream in(l.substr(7));
            event e;
            in >> e.n >> e.size >> e.what >> e.ms;
            out.push_back(e);
        }
        return out;
    }
    std::string log_text() const { return fs::exists(log_) ? read_file(log_) : ""; }

private:
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        std::istringstream in(log_text());
        for (std::string l; std::getline(in, l);) out.push_back(l);
        return out;
    }
    static inline int serial_ = 0;
    std::string log_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

// `mailvault ARGS` started in the background (stdout and stderr to files), to be killed.
class background_run {
public:
    background_run(const std::vector<std::string>& argv, const fs::path& out_dir)
        : out_(out_dir / "bg.stdout"), err_(out_dir / "bg.stderr") {
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            const int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            const int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (o < 0 || e < 0) _exit(127);
            dup2(o, 1);
            dup2(e, 2);
            std::vector<char*> v;
            for (const auto& s : argv) v.push_back(const_cast<char*>(s.c_str()));
            v.push_back(nullptr);
            execvp(v[0], v.data());
            _exit(127);
        }
    }
    ~background_run() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    background_run(const background_run&) = delete;
    background_run& operator=(const background_run&) = delete;

    // Still running?
    bool running() {
        if (pid_ <= 0) return false;
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            pid_ = -1;
            return false;
        }
        return true;
    }
    // SIGKILL and reap; the exit status (128 + 9 when the signal killed it).
    int kill9() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            int st = 0;
            waitpid(pid_, &st, 0);
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            pid_ = -1;
        }
        return status_;
    }
    std::string output() const {
        return "stdout:\n" + (fs::exists(out_) ? read_file(out_) : "") + "\nstderr:\n" +
               (fs::exists(err_) ? read_file(err_) : "");
    }

private:
    fs::path out_, err_;
    pid_t pid_ = -1;
    int status_ = -1;
};

// Deletes a folder of `user` through a connection of its own (python's imaplib, plain IMAP).
run_result imap_delete(const testbed& tb, const std::string& user, const std::string& password,
                       const std::string& folder) {
    const std::string script =
        "import imaplib, sys\n"
        "m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))\n"
        "m.login(sys.argv[2], sys.argv[3])\n"
        "typ, data = m.delete(sys.argv[4])\n"
        "print(typ, data)\n"
        "m.logout()\n"
        "sys.exit(0 if typ == 'OK' else 1)\n";
    return run_command(
        {"python3", "-c", script, std::to_string(tb.imap_port()), user, password, folder});
}

// The restore in-process (sync::restore_to_account) with the config's target account.
mv::sync::restore_report restore_in_process(const fault_bed& b, const std::string& target,
                                            mv::sync::restore_options opts) {
    const auto cfg = mv::config::load(b.env->config_path());
    const auto* acct = cfg.find(target);
    REQUIRE(acct);
    mv::archive::archive a(b.env->archive_path());
    mv::sync::shared_archive shared(a);
    opts.source_accounts = {"alice"};
    return mv::sync::restore_to_account(*acct, shared, opts);
}

std::string describe(const mv::sync::restore_report& r) {
    std::ostringstream o;
    o << "report: appends " << r.appends;
    if (r.err) o << ", error: " << r.err.message;
    for (const auto& f : r.folders) {
        o << "\n  " << f.source_folder << " -> " << f.target_folder << ": entries " << f.entries
          << ", appended " << f.appended << ", already " << f.already << ", matched " << f.matched
          << ", skipped " << f.skipped.size();
        for (const auto& s : f.skipped)
            o << "\n    skipped entry " << s.entry_id << ": " << s.reason;
        if (f.err) o << "\n    error: " << f.err.message;
    }
    return o.str();
}

const std::string projets_maildir = "Projets.&AMk-t&AOk-";
const std::string projets = "Projets/Été";

}  // namespace

TEST_CASE("restore faults: a target over its quota gets what fits once, the rest is skipped") {
    // Dovecot's quota plugin, 3 messages per user: the 4th APPEND gets NO [OVERQUOTA].
    temp_dir gen("mailvault-gen");
    std::vector<std::string> inbox;
    for (int i = 1; i <= 4; ++i) inbox.push_back(gen_message(gen, i, 600));
    auto pro = corpus_messages("mailkit/imap/common/message.1");
    pro.resize(1);
    pro.push_back(gen_message(gen, 5, 900));
    fault_bed b({{"INBOX", "INBOX", inbox}, {projets_maildir, projets, pro}}, {"bob"},
                std::string("messages=3"));
    const auto total = b.total();
    REQUIRE(total == 6);

    auto r = b.restore("bob");
    auto j = parse_json(r);
    INFO("exit " << r.status << "\n" << r.output << r.errors);
    CHECK(r.status == 1);
    CHECK(j.at("exit_code") == 1);
    std::size_t appended = 0, skipped = 0;
    for (const auto& f : j.at("folders")) {
        appended += f.at("appended").get<std::size_t>();
        skipped += f.at("skipped").size();
        for (const auto& s : f.at("skipped")) {
            INFO("skip reason: " << s.at("reason"));
            CHECK(lower(s.at("reason").get<std::string>()).find("quota") != std::string::npos);
        }
        // What the report calls appended is what the folder holds.
        const auto name = f.at("source_folder").get<std::string>();
        CHECK(folder_hashes(*b.tb, "bob", name).size() == f.at("appended").get<std::size_t>());
    }
    CHECK(appended == 3);
    CHECK(skipped == total - 3);
    // Exactly the messages that fit, each once and byte for byte one of the source's.
    std::size_t on_target = 0;
    for (const auto& f : b.folders) on_target += folder_hashes(*b.tb, "bob", f).size();
    CHECK(on_target == 3);
    b.check_no_duplicates("bob", "after the restore over quota");
    // No intent left for a refused message; the 3 appended are confirmed.
    CHECK(b.ledger_count("bob", mv::archive::ledger_state::intent) == 0);
    CHECK(b.ledger_count("bob", mv::archive::ledger_state::confirmed) == 3);
}

TEST_CASE("restore faults: a message over the target's APPENDLIMIT is skipped as too big") {
    // Dovecot 2.3 does not advertise APPENDLIMIT (RFC 7889): the proxy adds APPENDLIMIT=200000
    // to its capabilities (the corpus message in Projets/Été has 137687 bytes).
    temp_dir gen("mailvault-gen");
    std::vector<std::string> inbox = {gen_message(gen, 1, 500), gen_message(gen, 2, 250000),
                                      gen_message(gen, 3, 700)};
    auto pro = corpus_messages("mailkit/imap/common/message.1");
    pro.resize(1);
    fault_bed b({{"INBOX", "INBOX", inbox}, {projets_maildir, projets, pro}}, {"bob"});
    cut_proxy proxy(b.tb->imap_port(), b.env->dir().path(), {"--appendlimit", "200000"});
    b.configure("bob", proxy.port());

    auto r = b.restore("bob");
    auto j = parse_json(r);
    INFO("exit " << r.status << "\n" << r.output << r.errors);
    CHECK(r.status == 1);
    const auto* in = folder_json(j, "INBOX");
    REQUIRE(in);
    REQUIRE(in->at("skipped").size() == 1);
    const auto reason = in->at("skipped")[0].at("reason").get<std::string>();
    INFO("skip reason: " << reason);
    CHECK(lower(reason).find("too big") != std::string::npos);
    CHECK(in->at("appended") == 2);
    // The big one was never sent.
    for (const auto& e : proxy.events()) CHECK(e.size < 200000);
    // The rest is there, exactly once.
    auto want = folder_hashes(*b.tb, "alice", "INBOX");
    want.erase(want.find(hash_of(read_file(inbox[1]))));
    CHECK(folder_hashes(*b.tb, "bob", "INBOX") == want);
    CHECK(folder_hashes(*b.tb, "bob", projets) == folder_hashes(*b.tb, "alice", projets));
    CHECK(b.ledger_count("bob", mv::archive::ledger_state::intent) == 0);
}

TEST_CASE(
    "restore faults: a target folder deleted mid-run is reported, the other folders complete, "
    "a rerun fills it exactly once") {
    temp_dir gen("mailvault-gen");
    std::vector<std::string> inbox = {gen_message(gen, 1, 500), gen_message(gen, 2, 800)};
    std::vector<std::string> lists;
    for (int i = 10; i < 14; ++i) lists.push_back(gen_message(gen, i, 600));
    auto pro = corpus_messages("mailkit/imap/common/message.1");
    pro.resize(1);
    fault_bed b(
        {{"INBOX", "INBOX", inbox}, {"Lists", "Lists", lists}, {projets_maildir, projets, pro}},
        {"bob"});

    mv::sync::restore_options o;
    o.window_messages = 1;
    o.confirm_batch = 1;
    bool deleted = false;
    std::int64_t deleted_at = -1, lists_total = 0;
    std::string delete_output;
    int delete_status = -1;
    o.progress = [&](const mv::sync::restore_progress& p) {
        if (p.target_folder != "Lists" || deleted) return;
        lists_total = p.total;
        if (p.done >= 1 && p.done < p.total) {
            auto d = imap_delete(*b.tb, "bob", "bob-pw", "Lists");
            delete_status = d.status;
            delete_output = d.output + d.errors;
            deleted = true;
            deleted_at = p.done;
        }
    };
    const auto rep = restore_in_process(b, "bob", o);
    INFO(describe(rep));
    INFO("DELETE Lists: exit " << delete_status << ": " << delete_output);
    REQUIRE(deleted);
    REQUIRE(delete_status == 0);
    CHECK(lists_total == 4);
    CHECK(deleted_at >= 1);
    CHECK_FALSE(rep.err);
    CHECK(rep.anything_skipped());
    std::set<std::string> reported;
    for (const auto& f : rep.folders) {
        INFO("folder " << f.source_folder);
        reported.insert(f.source_folder);
        if (f.source_folder == "Lists") {
            // Either the folder failed, naming it, or what was left of it was skipped.
            const bool err_names_it = f.err && f.err.message.find("Lists") != std::string::npos;
            CHECK((err_names_it || !f.skipped.empty()));
            CHECK(f.appended + static_cast<std::int64_t>(f.skipped.size()) <= f.entries);
        } else {
            CHECK_FALSE(f.err);
            CHECK(f.skipped.empty());
            CHECK(f.appended + f.already + f.matched == f.entries);
            CHECK(folder_hashes(*b.tb, "bob", f.source_folder) ==
                  folder_hashes(*b.tb, "alice", f.source_folder));
        }
    }
    CHECK(reported == std::set<std::string>{"INBOX", "Lists", projets});
    // Lists is not the last folder: the ones after it were restored after the deletion.
    CHECK(rep.folders.size() == 3);
    CHECK((!rep.folders.empty() && rep.folders.back().source_folder != "Lists"));

    // A rerun creates Lists again and puts every message of it there, once.
    auto again = b.restore("bob");
    auto j = parse_json(again);
    INFO("rerun exit " << again.status << "\n" << again.output << again.errors);
    CHECK(again.status == 0);
    b.check_exactly_once("bob", "after the rerun");
    auto third = b.restore("bob");
    CHECK(third.status == 0);
    CHECK(parse_json(third).at("appends") == 0);
}

TEST_CASE(
    "restore faults: kill -9 in the middle of an APPEND literal, then a rerun: every message "
    "exactly once, then zero APPENDs") {
    temp_dir gen("mailvault-gen");
    std::vector<std::string> inbox;
    for (int i = 1; i <= 4; ++i) inbox.push_back(gen_message(gen, i, 700 + 100 * i));
    inbox.push_back(gen_message(gen, 5, 400000));  // a large one: several literal reads
    auto pro = small_corpus(1);
    pro.push_back(gen_message(gen, 6, 900));
    fault_bed b({{"INBOX", "INBOX", inbox}, {projets_maildir, projets, pro}}, {"t1", "t2", "t3"});
    REQUIRE(b.total() == 7);

    struct cut {
        std::string what, target;
        std::vector<std::string> args;
    };
    const std::vector<cut> cuts = {{"the first message", "t1", {"--cut-at", "1"}},
                                   {"a middle message", "t2", {"--cut-at", "3"}},
                                   {"the large message", "t3", {"--cut-min-size", "300000"}}};
    for (const auto& c : cuts) {
        INFO("cut in " << c.what << ", target " << c.target);
        const auto marker = b.env->dir() / ("marker-" + c.target);
        auto args = c.args;
        args.insert(args.end(), {"--marker", marker.string()});
        {
            cut_proxy proxy(b.tb->imap_port(), b.env->dir().path(), args);
            b.configure(c.target, proxy.port());
            background_run run({b.env->cli_path(), "restore", "--to", c.target, "--account",
                                "alice", "--json", "--config", b.env->config_path()},
                               b.env->dir().path());
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
            bool exited = false;
            while (!fs::exists(marker) && std::chrono::steady_clock::now() < until) {
                if (!run.running()) {
                    exited = true;
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            INFO("proxy log:\n" << proxy.log_text());
            INFO("mailvault restore: " << run.output());
            REQUIRE_FALSE(exited);
            REQUIRE(fs::exists(marker));
            CHECK(run.kill9() == 128 + SIGKILL);
            // Half a literal reached the server: nothing of it may be stored.
        }
        b.check_no_duplicates(c.target, "after the kill");
        // The APPEND that was cut left its intent (the rerun looks before appending again).
        CHECK(b.ledger_count(c.target, mv::archive::ledger_state::intent) >= 1);
        b.configure();  // directly to the server now
        auto again = b.restore(c.target);
        auto j = parse_json(again);
        INFO("rerun exit " << again.status << "\n" << again.output << again.errors);
        CHECK(again.status == 0);
        b.check_exactly_once(c.target, "after the rerun");
        auto third = b.restore(c.target);
        auto j3 = parse_json(third);
        CHECK(third.status == 0);
        CHECK(j3.at("appends") == 0);
        CHECK(b.ledger_count(c.target, mv::archive::ledger_state::intent) == 0);
    }
}

TEST_CASE("restore faults: an untrusted target certificate is exit 6 and the ledger stays empty") {
    auto inbox = small_corpus(2);
    fault_bed b({{"INBOX", "INBOX", inbox}}, {"bob"});
    for (const std::string tls : {"implicit", "starttls"}) {
        INFO("tls = " << tls);
        account_spec src{"alice", "alice", "alice-pw", "imap", "starttls", ""};
        account_spec dst{"bob", "bob", "bob-pw", "imap", tls, ""};
        b.env->write_config({src, dst});
        // bob's ca_file: a CA that did not sign the server's certificate.
        auto cfg = read_file(b.env->config_path());
        const auto at = cfg.find("name = \"bob\"");
        REQUIRE(at != std::string::npos);
        const std::string ca = "ca_file = \"" + b.tb->ca_file() + "\"";
        const auto ca_at = cfg.find(ca, at);
        REQUIRE(ca_at != std::string::npos);
        cfg.replace(ca_at, ca.size(), "ca_file = \"" + b.tb->other_ca_file() + "\"");
        write_file(b.env->config_path(), cfg);

        auto r = b.restore("bob");
        auto j = parse_json(r);
        INFO(r.output << r.errors);
        CHECK(r.status == 6);
        CHECK(j.at("status") == "failed");
        CHECK(j.at("appends") == 0);
        CHECK(b.ledger_count("bob", mv::archive::ledger_state::intent) == 0);
        CHECK(b.ledger_count("bob", mv::archive::ledger_state::confirmed) == 0);
        // Never logged in: bob's mailbox was not even opened.
        CHECK_FALSE(fs::exists(b.tb->folder_dir("bob", "INBOX") / "dovecot-uidlist"));
    }
}

TEST_CASE(
    "restore faults: THROTTLED is waited out and the message appended once, UNAVAILABLE every "
    "time is skipped after the retries") {
    temp_dir gen("mailvault-gen");
    std::vector<std::string> inbox = {
        gen_message(gen, 1, 500, "X-Mailvault-Fault: throttled\r\n"),
        gen_message(gen, 2, 1500, "X-Mailvault-Fault: unavailable\r\n"), gen_message(gen, 3, 800)};
    auto pro = corpus_messages("mailkit/imap/common/message.1");
    pro.resize(1);
    fault_bed b({{"INBOX", "INBOX", inbox}, {projets_maildir, projets, pro}}, {"bob"});
    cut_proxy proxy(b.tb->imap_port(), b.env->dir().path(),
                    {"--throttle", "2", "--throttle-match", "X-Mailvault-Fault: throttled",
                     "--unavailable", "X-Mailvault-Fault: unavailable"});
    b.configure("bob", proxy.port());

    mv::sync::restore_options o;
    o.window_messages = 1;
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(200);
    o.max_retries = 2;
    const auto rep = restore_in_process(b, "bob", o);
    INFO(describe(rep));
    INFO("proxy log:\n" << proxy.log_text());
    CHECK_FALSE(rep.err);
    CHECK(rep.anything_skipped());

    const auto ev = proxy.events();
    const auto throttled_size = read_file(inbox[0]).size();
    const auto unavailable_size = read_file(inbox[1]).size();
    std::vector<cut_proxy::event> throttled_msg, unavailable_msg;
    for (const auto& e : ev) {
        if (e.size == throttled_size) throttled_msg.push_back(e);
        if (e.size == unavailable_size) unavailable_msg.push_back(e);
    }
    // The throttled message: THROTTLED twice, then sent on once, after waiting 10 ms and then
    // 20 ms (doubling from backoff_initial).
    REQUIRE(throttled_msg.size() == 3);
    CHECK(throttled_msg[0].what == "throttled");
    CHECK(throttled_msg[1].what == "throttled");
    CHECK(throttled_msg[2].what == "forwarded");
    CHECK(throttled_msg[1].ms - throttled_msg[0].ms >= 9);
    CHECK(throttled_msg[2].ms - throttled_msg[1].ms >= 19);
    // The UNAVAILABLE one: sent once and again max_retries times, then skipped.
    REQUIRE(unavailable_msg.size() == 3);
    for (const auto& e : unavailable_msg) CHECK(e.what == "unavailable");
    CHECK(unavailable_msg[1].ms - unavailable_msg[0].ms >= 9);
    CHECK(unavailable_msg[2].ms - unavailable_msg[1].ms >= 19);
    CHECK(rep.appends == static_cast<std::int64_t>(ev.size()));
    for (const auto& f : rep.folders) {
        INFO("folder " << f.source_folder);
        CHECK_FALSE(f.err);
        if (f.source_folder == "INBOX") {
            REQUIRE(f.skipped.size() == 1);
            CHECK(!f.skipped[0].reason.empty());
            CHECK(f.appended == 2);
        } else {
            CHECK(f.skipped.empty());
            CHECK(f.appended == f.entries);
        }
    }
    // Everything else is on the target exactly once, the throttled message too.
    auto want = folder_hashes(*b.tb, "alice", "INBOX");
    want.erase(want.find(hash_of(read_file(inbox[1]))));
    CHECK(folder_hashes(*b.tb, "bob", "INBOX") == want);
    CHECK(folder_hashes(*b.tb, "bob", projets) == folder_hashes(*b.tb, "alice", projets));
    CHECK(b.ledger_count("bob", mv::archive::ledger_state::intent) == 0);
}

TEST_CASE(
    "restore faults: a connection cut after the third APPEND is reopened and the restore "
    "completes, every message exactly once") {
    temp_dir gen("mailvault-gen");
    std::vector<std::string> inbox;
    for (int i = 1; i <= 6; ++i) inbox.push_back(gen_message(gen, i, 500 + 150 * i));
    auto pro = small_corpus(1);
    fault_bed b({{"INBOX", "INBOX", inbox}, {projets_maildir, projets, pro}}, {"bob"});
    // The proxy forwards the third APPEND, waits for the server's answer, withholds it and
    // closes both connections; the next connection goes through.
    cut_proxy proxy(b.tb->imap_port(), b.env->dir().path(), {"--drop-after", "3"});
    b.configure("bob", proxy.port());

    auto r = b.restore("bob");
    auto j = parse_json(r);
    INFO("exit " << r.status << "\n" << r.output << r.errors);
    INFO("proxy log:\n" << proxy.log_text());
    bool dropped = false;
    for (const auto& e : proxy.events()) dropped = dropped || e.what == "dropped";
    REQUIRE(dropped);
    CHECK(proxy.connections() >= 2);  // it connected again
    CHECK(r.status == 0);
    CHECK(j.at("status") == "ok");
    REQUIRE(j.contains("reconnects"));
    CHECK(j.at("reconnects").get<int>() >= 1);
    // The third APPEND was stored but its answer lost: looked up after the reconnect, found.
    std::int64_t matched = 0;
    for (const auto& f : j.at("folders")) matched += f.at("matched").get<std::int64_t>();
    CHECK(matched >= 1);
    b.check_exactly_once("bob", "after the restore with a dropped connection");
    b.configure();
    auto again = b.restore("bob");
    CHECK(again.status == 0);
    CHECK(parse_json(again).at("appends") == 0);
}

TEST_CASE(
    "restore faults: Dovecot special-use and non-ASCII folders into Cyrus land under its "
    "INBOX. namespace byte for byte") {
    // restore_test.cpp's restore_across covers nested and non-ASCII folders into Cyrus; this
    // adds source folders that carry a special-use attribute (RFC 6154) on Dovecot. They are
    // mapped by name (mapping by attribute is not built yet, docs/restore.md).
    if (!cyrus_available()) {
        FAIL_CHECK(
            "Cyrus is not installed (scripts/install-deps.sh puts it in /opt/mailvault/cyrus)");
        return;
    }
    temp_dir seed("mailvault-seed"), gen("mailvault-gen");
    seed_folder(seed, "INBOX", {gen_message(gen, 1, 400)});
    seed_folder(seed, "Sent", {gen_message(gen, 2, 600), gen_message(gen, 3, 700)});
    seed_folder(seed, "Drafts", {gen_message(gen, 4, 300)});
    seed_folder(seed, projets_maildir, {gen_message(gen, 5, 800)});
    testbed_options so;
    so.users = {{"alice", "alice-pw", seed.path().string()}};
    so.special_use = {{"Sent", "\\Sent"}, {"Drafts", "\\Drafts"}};
    testbed src(so);
    testbed cyrus(cyrus_options({{"bob", "bob-pw", ""}}));
    sync_env env(src, MV_CLI_PATH);
    account_spec a{"alice", "alice", "alice-pw", "imap", "starttls", ""};
    account_spec t{"cyrus", "bob", "bob-pw", "imap", "implicit", ""};
    t.server = &cyrus;
    env.write_config({a, t});
    env.sync({"--account", "alice"});

    auto run = [&] {
        return run_command({env.cli_path(), "restore", "--to", "cyrus", "--account", "alice",
                            "--json", "--config", env.config_path()});
    };
    auto first = run();
    auto j = parse_json(first);
    INFO(first.output << first.errors);
    CHECK(first.status == 0);
    for (const auto& [seed_name, folder] :
         std::vector<std::pair<std::string, std::string>>{{"INBOX", "INBOX"},
                                                          {"Sent", "Sent"},
                                                          {"Drafts", "Drafts"},
                                                          {"Projets.Été", projets}}) {
        INFO("folder " << folder << " as " << cyrus.folder_name(seed_name));
        std::multiset<std::string> want, got;
        for (auto& [uid, m] : src.messages("alice", folder)) want.insert(hash_of(m));
        for (auto& [uid, m] : cyrus.served("bob", cyrus.folder_name(seed_name)).messages)
            got.insert(mv::archive::sha256_of(m.content).hex());
        REQUIRE(!want.empty());
        CHECK(got == want);
        const auto* f = folder_json(j, folder);
        REQUIRE(f);
        CHECK(f->at("target_folder") == cyrus.folder_name(seed_name));
    }
    auto again = run();
    CHECK(again.status == 0);
    CHECK(parse_json(again).at("appends") == 0);
}
