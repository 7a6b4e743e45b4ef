// Run reports and alerts by mail (docs/reports.md).
//
// Flow: a command (sync, prune, purge, verify) fills a run_summary and calls send_after() once
// it has decided its exit code. send_after() checks [report] `when`, builds the message (GMime:
// Date, Message-ID, text/plain UTF-8, RFC 2047 subject), writes it to the spool
// (`<archive>.d/reports/`, 0700, one 0600 file per report, written to a temporary name, fsynced
// and renamed), then flushes the spool: every pending report (older ones first) is sent through
// the relay and its file removed after the server's 250. A report that cannot be sent stays in
// the spool and goes out with the next one; recipients rejected for good (5xx) are dropped from
// that file, and a file left without recipients is renamed *.rejected (kept, not retried).
// Nothing here throws or changes the command's outcome: failures are logged as warnings.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mailvault/config.hpp"
#include "mailvault/error.hpp"

namespace mv::report {

struct account_summary {
    std::string account;
    std::uint64_t new_messages = 0;
    std::uint64_t flag_changes = 0;
    std::uint64_t expunged = 0;             // expunged on the server, marked in the archive
    std::uint64_t deleted_on_server = 0;    // deleted by mailvault (POP3 DELE, prune)
    std::vector<std::string> audit_hashes;  // audit-log row hashes of those deletions
    std::vector<std::string> failures;      // one-line reasons
    std::vector<std::string> notes;         // other lines: "purged 12 entries (3.4 MB)", ...
};

struct run_summary {
    std::string command;  // "sync", "prune", "purge", "verify", "watch", "report test"
    std::chrono::system_clock::time_point start{}, end{};
    int exit_code = 0;
    std::vector<account_summary> accounts;
    std::vector<std::string> failures;  // failures not tied to one account
    std::vector<std::string> notes;     // lines not tied to one account ("verified 42 messages")

    bool failed() const noexcept;
};

// "mailvault sync: 3 accounts, 42 new, 2 failures" (UTF-8).
std::string subject_for(const run_summary& s);
// The text/plain body (UTF-8, LF line ends). The counters shown are those of the command: sync
// shows new/flags/expunged/deleted, prune shows deleted, the others only their notes.
std::string text_for(const run_summary& s);

// A complete RFC 5322 message (CRLF line ends) built with GMime: From, To, Date, Message-ID,
// Subject encoded per RFC 2047 when not ASCII, MIME-Version, a text/plain; charset=utf-8 body
// (quoted-printable when not ASCII, so the message is 7-bit and needs no 8BITMIME).
std::string build_message(const config::report_settings& rs, std::string_view subject,
                          std::string_view text);

// What one SMTP delivery attempt gave.
struct delivery {
    mv::error err;                      // empty: accepted for at least one recipient
    bool transient = false;             // err is worth retrying (4xx, network, timeout)
    std::string reply;                  // the server's final reply, "250 2.0.0 Ok: queued as X"
    std::vector<std::string> accepted;  // recipients accepted
    std::vector<std::string> rejected;  // recipients refused for good (5xx), with the reply
    std::vector<std::string> deferred;  // recipients refused for now (4xx)
};

// Connects to the relay (TLS per rs.tls, the runner's certificate checks), EHLO, STARTTLS,
// AUTH (PLAIN > LOGIN > XOAUTH2 among those offered and allowed by rs.auth; never without TLS
// unless allow_plaintext), one transaction, QUIT. `password` is empty when rs.user is.
delivery deliver(const config::report_settings& rs, const std::string& password,
                 std::string_view message, const std::vector<std::string>& to);

// Where pending reports wait: rs.spool_dir, or `<archive>.d/reports` beside the archive.
std::filesystem::path spool_dir(const config::config& cfg);

struct flush_result {
    std::size_t sent = 0;
    std::size_t pending = 0;   // still in the spool (will be retried)
    std::size_t rejected = 0;  // renamed *.rejected (no recipient would take them)
    std::string last_reply;    // the server's reply to the last report sent
    mv::error last_error;      // the last failure, if any
};

// Writes one message to the spool (private, durable); returns its path.
std::filesystem::path spool_message(const config::config& cfg, std::string_view message,
                                    const std::vector<std::string>& to);
// Sends every pending report, oldest first; stops at the first transient failure.
flush_result flush_spool(const config::config& cfg);

// The hook for the commands. Never throws; returns what happened (for tests and logs).
flush_result send_after(const config::config& cfg, const run_summary& summary) noexcept;

struct alert;  // report/alerts.hpp

// An alert from `watch` into the spool (whatever `when` says: an alert is the failure report
// of a long-running command). Subject "mailvault alert: <what>" or "mailvault: resolved:
// <what>"; the body names the host, the time and the details. The caller flushes the spool
// (the watcher does it on its sender thread). Never throws; false when not spooled (logged).
bool spool_alert(const config::config& cfg, const alert& a) noexcept;

// `mailvault report test`: sends one test message directly (not spooled) and returns what the
// server said; throws mv::failure (auth, network, tls_*, server_no, ...) with the one-line
// reason when it was not accepted. Rejected recipients are listed in the result.
delivery send_test(const config::config& cfg);

}  // namespace mv::report
