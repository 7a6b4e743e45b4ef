// The configuration file (TOML): global settings plus one [[account]] table per mail account.
//
// Loading validates everything that can be validated without touching the network or running a
// program: types, enums, ranges, unknown keys (typos), duplicate account names, TLS policy, the
// existence of ca_file. Every error is one line naming the file, the line:column, the key
// (e.g. `account[1].tls`), what is wrong and what to do. Passwords are never loaded here: the
// account only says where the password comes from; resolve_password() fetches it on demand.
// See docs/configuration.md for every key.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailvault/error.hpp"

namespace mv::config {

enum class protocol { imap, pop3 };
enum class tls_mode { implicit, starttls, plain };
enum class auth_mech { automatic, plain, login, xoauth2, oauthbearer, apop, user };
enum class password_kind { command, file, env };
enum class pop3_delete { keep, after_archive, older_than };
enum class compress_mode { automatic, always, never };
enum class log_level { trace, debug, info, warn, error, off };

// Config-file spelling of each enum value ("imap", "starttls", "auto", "after_archive", ...).
const char* to_string(protocol v) noexcept;
const char* to_string(tls_mode v) noexcept;
const char* to_string(auth_mech v) noexcept;
const char* to_string(password_kind v) noexcept;  // "password_command", "password_file", ...
const char* to_string(pop3_delete v) noexcept;
const char* to_string(compress_mode v) noexcept;
const char* to_string(log_level v) noexcept;

inline constexpr std::uint64_t default_max_message_bytes = 256ull * 1024 * 1024;

struct password_source {
    password_kind kind = password_kind::env;
    // password_command: the shell command line; password_file: the expanded absolute path;
    // password_env: the variable name. Never the password itself.
    std::string value;
    // "FILE:LINE:COL: account[N].password_file", the start of messages about this source.
    std::string origin;
};

// One [[account.folder_map]] table: when this account is the TARGET of `mailvault restore`, the
// archived folder `source` (and its subfolders) is restored as `target`. Both UTF-8 with '/'
// between levels, like --map (whose rules come first); the first matching rule wins.
struct folder_map_entry {
    std::string source, target;
};

struct account {
    std::string name;
    mv::config::protocol protocol = protocol::imap;
    std::string host;
    std::uint16_t port = 993;  // defaulted from protocol + tls when absent
    tls_mode tls = tls_mode::implicit;
    std::string user;
    auth_mech auth = auth_mech::automatic;
    password_source password;

    // IMAP folder selection (see folder_selected()).
    std::vector<std::string> folders{"*"};
    std::vector<std::string> exclude;
    int connections = 2;  // IMAP 1..16 (default 2); POP3 always 1

    std::filesystem::path ca_file;  // empty: system trust store
    std::string fingerprint;        // empty or 64 lowercase hex chars (SHA-256 of the certificate)
    bool tls_insecure_skip_verify = false;
    bool allow_plaintext = false;
    std::chrono::seconds timeout{60};
    std::uint64_t max_message_bytes = default_max_message_bytes;
    // `mailvault watch` (docs/watch.md): IMAP: a full sync this often besides IDLE/NOTIFY;
    // POP3: the poll interval.
    std::chrono::seconds watch_interval{900};
    std::vector<std::string> watch_folders{"INBOX"};  // IMAP: IDLE on these without NOTIFY

    // POP3 only.
    pop3_delete delete_policy = pop3_delete::keep;
    std::chrono::seconds delete_older_than{0};  // > 0 iff delete_policy == older_than
    bool allow_delete_without_uidl = false;

    // IMAP only.
    compress_mode compress = compress_mode::never;
    bool enable_qresync = true;
    std::vector<folder_map_entry> folder_map;  // [[account.folder_map]], in file order
};

// One [[prune_rule]] table (see docs/retention.md): which archived IMAP messages `mailvault prune`
// deletes from the server. At least one of older_than, larger_than, flags is required.
struct prune_rule {
    std::string name;                    // for the audit log; empty: described from the criteria
    std::string account;                 // empty: every IMAP account
    std::vector<std::string> folders;    // patterns as in `folders`; empty: every archived folder
    std::chrono::seconds older_than{0};  // 0: no age criterion (INTERNALDATE)
    std::vector<std::string> flags;      // all must be set, e.g. \Seen
    std::optional<std::uint64_t> larger_than;  // bytes
    std::optional<std::string> trash_folder;   // UID MOVE here instead of expunging
};

// One [[serve.user]] table: who may log in to `mailvault serve` (docs/web.md).
struct serve_user {
    std::string name;
    std::string password_hash;  // "pbkdf2-sha256$..." from `mailvault serve --hash-password`
};

// The [serve] section: the web viewer (`mailvault serve`, docs/web.md).
struct serve_settings {
    std::string listen = "127.0.0.1:8080";    // HOST:PORT ([::1]:8080 for IPv6)
    std::filesystem::path tls_cert, tls_key;  // both or neither; PEM
    bool require_login = false;               // also on loopback (always on other addresses)
    std::vector<serve_user> users;
};

// The [report] section: run reports and alerts by mail (docs/reports.md). Absent: no reports.
enum class report_when { always, failure };
struct report_settings {
    bool enabled = false;  // the section is present
    // "relay" (the default): through `host`, a submission server. "direct": no relay, to each
    // recipient domain's MX hosts (RFC 5321 §5) on direct_port, found through dns_server.
    bool direct = false;
    std::string host;  // the relay (submission server); empty with direct delivery
    std::uint16_t port = 587;
    std::uint16_t direct_port = 25;
    std::string dns_server;             // direct: "ADDRESS" or "ADDRESS:PORT"; empty: resolv.conf
    std::uint16_t dns_port = 53;        // from dns_server
    tls_mode tls = tls_mode::starttls;  // "starttls" | "implicit" | "none" (plain)
    bool allow_plaintext = false;       // required for tls = "none" (and for AUTH without TLS)
    std::string user;                   // empty: no AUTH
    auth_mech auth = auth_mech::automatic;  // auto, plain, login, xoauth2
    password_source password;               // only with user
    std::filesystem::path ca_file;
    std::string fingerprint;
    bool tls_insecure_skip_verify = false;
    std::chrono::seconds timeout{60};
    std::string from;
    std::vector<std::string> to;
    report_when when = report_when::always;
    std::string helo;                 // EHLO name; empty: this host's name
    std::filesystem::path spool_dir;  // empty: <archive>.d/reports
    // Alerts from `mailvault watch` (docs/reports.md); 0 turns one off.
    int alert_after_failures = 3;                        // an account failing this often in a row
    std::uint64_t alert_disk_free = 1ull << 30;          // free bytes where the archive lives
    std::chrono::seconds alert_cert_expiry{14 * 86400};  // a server certificate expiring within
    std::chrono::seconds verify_interval{0};             // watch re-verifies the archive this often
};

struct config {
    std::filesystem::path source;   // the file it was loaded from
    std::filesystem::path archive;  // expanded, absolute
    int parallel_accounts = 4;
    int zstd_level = 3;
    mv::config::log_level log_level = log_level::info;
    std::vector<account> accounts;
    std::vector<prune_rule> prune;  // [[prune_rule]] tables, in file order
    serve_settings serve;           // [serve]
    report_settings report;         // [report]

    // nullptr when no account has that name.
    const account* find(std::string_view account_name) const noexcept;
};

// $XDG_CONFIG_HOME/mailvault/config.toml, or ~/.config/mailvault/config.toml.
std::filesystem::path default_config_path();
// $XDG_DATA_HOME/mailvault/archive.sqlite, or ~/.local/share/mailvault/archive.sqlite.
std::filesystem::path default_archive_path();

// Reads and validates a config file. Throws mv::failure{errc::config, one-line message}.
config load(const std::filesystem::path& path);
// The same, as a value: on failure returns the error and leaves `out` unspecified.
mv::error try_load(const std::filesystem::path& path, config& out);
// Parses TOML text; `source` names it in messages and anchors relative paths (its directory).
config parse(std::string_view toml_text, const std::filesystem::path& source);

// Runs password_command (/bin/sh -c, first line of stdout), reads password_file (first line; the
// file must not be group/world accessible) or reads password_env. Throws
// mv::failure{errc::config, message naming the account, never containing the password}.
std::string resolve_password(const account& acct);

// What `config check` verifies without obtaining the password: password_file exists, is readable
// and has a safe mode; password_env is set and non-empty; password_command's program exists and
// is executable (looked up in $PATH). Returns an ok error when all is well.
mv::error check_password_source(const account& acct);

// One line for `config check`: name, protocol, host:port, tls, user, auth, password source kind.
std::string describe(const account& acct);

// True when the folder is archived: it matches an include pattern and no exclude pattern (exclude
// wins). `*` matches any characters including the hierarchy delimiter, `%` any characters except
// the delimiter (as in IMAP LIST). A pattern without wildcards matches the folder and all its
// descendants ("Trash" also matches "Trash/sub"). INBOX is matched case-insensitively.
// `delimiter` is the server's hierarchy delimiter, '\0' for a flat namespace.
bool folder_selected(const account& acct, std::string_view utf8_name, char delimiter);
// A single pattern, same rules.
bool folder_pattern_matches(std::string_view pattern, std::string_view utf8_name, char delimiter);

}  // namespace mv::config
