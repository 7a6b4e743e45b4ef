// A config + archive beside a test bed, and the `mailvault` program run as a real subprocess,
// for integration tests of whole workflows (sync, prune, POP3 backup).
//
// Flow: construct over a running testbed -> write_config(accounts) (password files mode 600)
// -> cli({"sync", "--json"}) as often as needed -> open_archive() to inspect the result ->
// check_mirror() compares a folder of the archive with the server's Maildir byte for byte.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "archive/archive.hpp"
#include "harness/testbed.hpp"

namespace mv::test {

struct account_spec {
    std::string name;
    std::string user;
    std::string password;
    std::string protocol = "imap";
    std::string tls = "starttls";  // implicit | starttls | plain
    std::string extra;             // more TOML lines for this account
    std::uint16_t port = 0;        // 0: the test bed's port for protocol + tls
    // Another test bed than the sync_env's (e.g. a Cyrus restore target beside a Dovecot
    // source): its ports and its CA. nullptr: the sync_env's test bed.
    const testbed* server = nullptr;
};

class sync_env {
public:
    sync_env(testbed& tb, std::string cli_path);

    void write_config(const std::vector<account_spec>& accounts, const std::string& extra_top = "");
    // Runs `mailvault ARGS --config <ours>`.
    run_result cli(std::vector<std::string> args) const;
    // Runs `mailvault sync --json ARGS`; the JSON summary (fails the test if it is not JSON).
    nlohmann::json sync(std::vector<std::string> args = {}, int expect_status = 0) const;
    std::unique_ptr<archive::archive> open_archive() const;
    // `mailvault verify --against-server`: fails the test unless it exits 0 (nothing on the
    // server is missing from the archive, no size disagrees).
    void expect_complete_against_server() const;

    const std::string& config_path() const { return config_; }
    const std::string& archive_path() const { return archive_; }
    const std::string& cli_path() const { return cli_; }
    testbed& server() { return tb_; }
    const temp_dir& dir() const { return dir_; }

private:
    testbed& tb_;
    temp_dir dir_;
    std::string cli_, config_, archive_;
};

// Every message of the server folder is in the archive's current generation of that mailbox:
// same UID, byte-identical content, same flags and INTERNALDATE; no archived live entry is
// missing from the server. Returns the number of messages compared.
std::size_t check_mirror(archive::archive& a, const testbed& tb, const std::string& user,
                         const std::string& account, const std::string& folder);

// check_mirror against what the server serves over IMAP (testbed::served: BODY.PEEK[], FLAGS,
// INTERNALDATE, UIDVALIDITY) instead of its files: for Cyrus, and for any server as a restore
// target. Same checks, same return value.
std::size_t check_mirror_served(archive::archive& a, const testbed& tb, const std::string& user,
                                const std::string& account, const std::string& folder);

// Bare LF -> CRLF (what Dovecot does when it serves a Maildir file written with LF).
std::string crlf(std::string_view in);

// The folder report of `folder` in a `sync --json` summary (fails the test if absent).
nlohmann::json folder_report(const nlohmann::json& summary, const std::string& account,
                             const std::string& folder);

// Builds a seed directory for the test bed from corpus files: {"Folder.Sub": {files...}}.
void seed_folder(const temp_dir& seed, const std::string& maildir_folder,
                 const std::vector<std::string>& corpus_files);

// Paths of corpus messages (tests/data/corpora/...), sorted, filtered by a path fragment.
std::vector<std::string> corpus_messages(const std::string& fragment);

}  // namespace mv::test
