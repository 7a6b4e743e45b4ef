// Alerts from `mailvault watch` (docs/reports.md): the decision of when to tell someone, apart
// from how (report::send_after) and from gathering what is observed (cli/cmd_watch.cpp).
//
// Flow: every tick the watcher gathers an `observation` (each account's consecutive failures,
// free space where the archive lives, the server certificates its handshakes accepted, the
// outcome of a periodic verify) and hands it to alert_monitor::evaluate(), which returns what
// to send now. Each condition is an episode with a key: an alert goes out when the episode
// starts, once; a note that it ended goes out when it ends (the account syncs again, space is
// back with a 10% margin, the certificate was renewed); nothing is repeated in between, so a
// server down for a week sends two messages, not thousands. Pure: no clock, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mv::report {

struct alert_settings {
    int after_failures = 3;               // 0: off
    std::uint64_t disk_free_min = 0;      // bytes; 0: off
    std::chrono::seconds cert_expiry{0};  // 0: off
};

struct observation {
    std::int64_t now = 0;  // UTC epoch
    struct account {
        std::string name;
        int failures = 0;        // consecutive failures (0: the last attempt worked)
        std::string last_error;  // one line
    };
    std::vector<account> accounts;
    std::string disk_path;                   // where the archive lives
    std::optional<std::uint64_t> disk_free;  // bytes available to us; nullopt: unknown
    struct certificate {
        std::string account;
        std::string endpoint;     // host:port
        std::string fingerprint;  // SHA-256
        std::string subject;
        std::int64_t not_after = 0;
    };
    std::vector<certificate> certificates;
    struct verify_outcome {
        bool ran = true;  // false: it could not run (summary says why); not a verdict
        bool ok = true;
        std::string summary;                // "verified 1234 messages (56 MB), 78 audit rows"
        std::vector<std::string> problems;  // the first few, one line each
    };
    std::optional<verify_outcome> verify;  // a verify that finished since the last evaluation
};

struct alert {
    std::string key;                 // "account:NAME", "disk", "cert:HOST:PORT", "verify"
    bool resolved = false;           // the note that an episode ended
    std::string account;             // the account it concerns, if any
    std::string subject;             // a short line: "account work failing: ..."
    std::vector<std::string> lines;  // the details
};

class alert_monitor {
public:
    explicit alert_monitor(alert_settings s) : s_(std::move(s)) {}
    // New thresholds (a reload); episodes in progress go on.
    void set_settings(alert_settings s) { s_ = std::move(s); }
    std::vector<alert> evaluate(const observation& o);
    // The keys of the episodes in progress (for status and tests).
    std::vector<std::string> active() const;

private:
    alert_settings s_;
    std::map<std::string, std::string> active_;  // key -> what identifies the episode
};

}  // namespace mv::report
