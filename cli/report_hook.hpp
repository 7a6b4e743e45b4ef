// The run report a command mails when [report] is configured (engine/report/report.hpp): the
// CLI's side — what the command did, per account, including the audit records of every deletion
// it performed on a server, handed to report::send_after once the exit code is decided.
//
// Flow: mark = audit_mark(archive) before the work -> the command runs -> build the summary
// (add_deletions(archive, mark, summary) collects the deletion records written since) ->
// send_report(config, summary), which never throws and never changes the exit code.
#pragma once

#include <chrono>
#include <cstdint>

#include <optional>

#include "archive/archive.hpp"
#include "common.hpp"
#include "mailvault/config.hpp"
#include "report/report.hpp"

namespace mv::cli {

// The sequence number of the newest audit row (0 for an empty log).
std::int64_t audit_mark(archive::archive& a);

// Adds, per account, "audit #SEQ ROWHASH: message SHA256" for every deletion record
// (pop3_dele, prune_delete) written after `mark`; creates account entries as needed.
void add_deletions(archive::archive& a, std::int64_t mark, report::run_summary& s);

report::account_summary& account_of(report::run_summary& s, const std::string& name);

// Sends (or spools) the report when the config has a [report] section; logs what happened.
void send_report(const config::config& cfg, const report::run_summary& s);

// For commands that can run from --archive alone (verify, purge): the config whose [report]
// applies — --config when given (errors propagate: the user asked for it), else the default
// config file when it exists and loads (a broken one is a warning, not a failed command).
std::optional<config::config> config_for_report(const po::variables_map& vm);
void send_report(const std::optional<config::config>& cfg, const report::run_summary& s);

}  // namespace mv::cli
