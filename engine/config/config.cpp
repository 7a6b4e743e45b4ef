// Loading and validating the TOML configuration file (toml++ parses; this file checks).
//
// Flow: read the file -> toml::parse (syntax errors carry line:column) -> reject unknown
// top-level keys -> read the global settings -> for each [[account]]: reject unknown keys, read
// the required keys, then the optional ones with defaults that depend on protocol and tls, then
// cross-key rules (password source, plaintext policy, POP3 deletion) -> duplicate-name check.
// The first problem found aborts with one line: "FILE:LINE:COL: KEY: what is wrong; what to do".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

#include "mailvault/config.hpp"
#include "mailvault/units.hpp"

namespace mv::config {

namespace fs = std::filesystem;

namespace {

// Empty when the file holds at least one PEM certificate OpenSSL can read (what the TLS client
// will load from ca_file); otherwise why not, so `config check` fails where `sync` would.
std::string pem_certificates_problem(const fs::path& p) {
    BIO* bio = BIO_new_file(p.c_str(), "r");
    if (!bio) return "cannot be read";
    STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    int certs = 0;
    if (infos) {
        for (int i = 0; i < sk_X509_INFO_num(infos); ++i)
            if (sk_X509_INFO_value(infos, i)->x509) ++certs;
        sk_X509_INFO_pop_free(infos, X509_INFO_free);
    }
    ERR_clear_error();
    return certs > 0 ? std::string() : std::string("holds no certificate");
}

}  // namespace

const char* to_string(protocol v) noexcept {
    switch (v) {
        case protocol::imap: return "imap";
        case protocol::pop3: return "pop3";
    }
    return "?";
}

const char* to_string(tls_mode v) noexcept {
    switch (v) {
        case tls_mode::implicit: return "implicit";
        case tls_mode::starttls: return "starttls";
        case tls_mode::plain: return "plain";
    }
    return "?";
}

const char* to_string(auth_mech v) noexcept {
    switch (v) {
        case auth_mech::automatic: return "auto";
        case auth_mech::plain: return "plain";
        case auth_mech::login: return "login";
        case auth_mech::xoauth2: return "xoauth2";
        case auth_mech::oauthbearer: return "oauthbearer";
        case auth_mech::apop: return "apop";
        case auth_mech::user: return "user";
    }
    return "?";
}

const char* to_string(password_kind v) noexcept {
    switch (v) {
        case password_kind::command: return "password_command";
        case password_kind::file: return "password_file";
        case password_kind::env: return "password_env";
    }
    return "?";
}

const char* to_string(pop3_delete v) noexcept {
    switch (v) {
        case pop3_delete::keep: return "keep";
        case pop3_delete::after_archive: return "after_archive";
        case pop3_delete::older_than: return "older_than";
    }
    return "?";
}

const char* to_string(compress_mode v) noexcept {
    switch (v) {
        case compress_mode::automatic: return "auto";
        case compress_mode::always: return "always";
        case compress_mode::never: return "never";
    }
    return "?";
}

const char* to_string(log_level v) noexcept {
    switch (v) {
        case log_level::trace: return "trace";
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warn: return "warn";
        case log_level::error: return "error";
        case log_level::off: return "off";
    }
    return "?";
}

const account* config::find(std::string_view account_name) const noexcept {
    for (const auto& a : accounts)
        if (a.name == account_name) return &a;
    return nullptr;
}

namespace {
namespace detail {

std::string home_dir() {
    if (const char* h = std::getenv("HOME"); h && *h) return h;
    // No $HOME (e.g. started by a service manager): ask the password database.
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* result = nullptr;
    if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &result) == 0 && result &&
        result->pw_dir && *result->pw_dir)
        return result->pw_dir;
    return {};
}

std::string env_or_xdg_default(std::string_view var) {
    // XDG base directories: an unset, empty or relative value means the default.
    std::string name(var);
    const char* v = std::getenv(name.c_str());
    if (var.starts_with("XDG_") && (!v || v[0] != '/')) {
        std::string home = home_dir();
        if (home.empty()) return {};
        if (var == "XDG_DATA_HOME") return home + "/.local/share";
        if (var == "XDG_CONFIG_HOME") return home + "/.config";
        if (var == "XDG_STATE_HOME") return home + "/.local/state";
        if (var == "XDG_CACHE_HOME") return home + "/.cache";
        return {};
    }
    if (var == "HOME") return home_dir();
    return v ? std::string(v) : std::string();
}

}  // namespace detail
}  // namespace

fs::path default_config_path() {
    std::string base = detail::env_or_xdg_default("XDG_CONFIG_HOME");
    if (base.empty())
        throw mv::failure(errc::config,
                          "cannot find the configuration directory: neither $XDG_CONFIG_HOME nor "
                          "$HOME is set; pass --config PATH");
    return fs::path(base) / "mailvault" / "config.toml";
}

fs::path default_archive_path() {
    std::string base = detail::env_or_xdg_default("XDG_DATA_HOME");
    if (base.empty())
        throw mv::failure(errc::config,
                          "cannot find the data directory: neither $XDG_DATA_HOME nor $HOME is "
                          "set; set archive = \"/path/archive.sqlite\" in the config file");
    return fs::path(base) / "mailvault" / "archive.sqlite";
}

namespace {

// ---------------------------------------------------------------------------------------------
// Key tables. EXTENSION POINT: a new top-level setting or section (e.g. [[prune]] rules of a later
// issue) is added to top_level_keys plus a reader in parser::run(); a new account key to
// account_keys (with the protocol it applies to) plus a line in parser::read_account(). Unknown
// keys stay errors, so typos are always caught, and error messages list these tables.

enum class applies { any, imap, pop3 };

struct key_spec {
    std::string_view name;
    applies to = applies::any;
};

constexpr key_spec top_level_keys[] = {
    {"archive"}, {"parallel_accounts"}, {"zstd_level"}, {"log_level"},
    {"account"}, {"prune_rule"},        {"serve"},      {"report"},
};

constexpr key_spec report_keys[] = {
    {"host"},
    {"port"},
    {"tls"},
    {"allow_plaintext"},
    {"user"},
    {"auth"},
    {"password_command"},
    {"password_file"},
    {"password_env"},
    {"ca_file"},
    {"fingerprint"},
    {"tls_insecure_skip_verify"},
    {"timeout_seconds"},
    {"from"},
    {"to"},
    {"when"},
    {"helo"},
    {"spool_dir"},
    {"delivery"},
    {"direct_port"},
    {"dns_server"},
    {"alert_after_failures"},
    {"alert_disk_free"},
    {"alert_cert_expiry"},
    {"verify_interval"},
};

constexpr key_spec serve_keys[] = {
    {"listen"}, {"tls_cert"}, {"tls_key"}, {"require_login"}, {"user"},
};

constexpr key_spec serve_user_keys[] = {{"name"}, {"password_hash"}};

constexpr key_spec prune_keys[] = {
    {"name"},  {"account"},     {"folders"},      {"older_than"},
    {"flags"}, {"larger_than"}, {"trash_folder"},
};

constexpr key_spec account_keys[] = {
    {"name"},
    {"protocol"},
    {"host"},
    {"port"},
    {"tls"},
    {"user"},
    {"auth"},
    {"password_command"},
    {"password_file"},
    {"password_env"},
    {"folders", applies::imap},
    {"exclude", applies::imap},
    {"connections"},
    {"ca_file"},
    {"fingerprint"},
    {"tls_insecure_skip_verify"},
    {"allow_plaintext"},
    {"timeout_seconds"},
    {"max_message_bytes"},
    {"delete", applies::pop3},
    {"delete_older_than", applies::pop3},
    {"allow_delete_without_uidl", applies::pop3},
    {"compress", applies::imap},
    {"enable_qresync", applies::imap},
    {"folder_map", applies::imap},
    {"watch_interval"},
    {"watch_folders", applies::imap},
};

constexpr key_spec folder_map_keys[] = {{"source"}, {"target"}};

template <typename E>
struct enum_name {
    std::string_view name;
    E value;
};

constexpr enum_name<protocol> protocol_names[] = {{"imap", protocol::imap},
                                                  {"pop3", protocol::pop3}};
constexpr enum_name<tls_mode> tls_names[] = {
    {"implicit", tls_mode::implicit}, {"starttls", tls_mode::starttls}, {"plain", tls_mode::plain}};
constexpr enum_name<auth_mech> auth_names[] = {{"auto", auth_mech::automatic},
                                               {"plain", auth_mech::plain},
                                               {"login", auth_mech::login},
                                               {"xoauth2", auth_mech::xoauth2},
                                               {"oauthbearer", auth_mech::oauthbearer},
                                               {"apop", auth_mech::apop},
                                               {"user", auth_mech::user}};
constexpr enum_name<pop3_delete> delete_names[] = {{"keep", pop3_delete::keep},
                                                   {"after_archive", pop3_delete::after_archive},
                                                   {"older_than", pop3_delete::older_than}};
constexpr enum_name<compress_mode> compress_names[] = {{"auto", compress_mode::automatic},
                                                       {"always", compress_mode::always},
                                                       {"never", compress_mode::never}};
constexpr enum_name<log_level> log_level_names[] = {
    {"trace", log_level::trace}, {"debug", log_level::debug}, {"info", log_level::info},
    {"warn", log_level::warn},   {"error", log_level::error}, {"off", log_level::off}};

const char* type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::none: return "nothing";
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
    }
    return "a value";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            out += '?';
            continue;
        }
        out += c;
    }
    return out + "\"";
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

class parser {
public:
    parser(std::string_view text, const fs::path& source)
        : text_(text), source_(source), file_(source.string()) {
        base_dir_ = source.has_parent_path() ? source.parent_path() : fs::path(".");
        std::error_code ec;
        if (fs::path abs = fs::absolute(base_dir_, ec); !ec) base_dir_ = abs.lexically_normal();
    }

    config run() {
        toml::table root;
        try {
            root = toml::parse(text_, file_);
        } catch (const toml::parse_error& e) {
            fail_at(e.source(), "", std::string(e.description()) + "; fix the TOML syntax");
        }

        config cfg;
        cfg.source = source_;
        check_keys(root, "", top_level_keys, nullptr);

        if (auto s = get_string(root, "archive", "archive")) {
            cfg.archive = expand_path(*s, root, "archive", "archive");
        } else {
            try {
                cfg.archive = default_archive_path();
            } catch (const mv::failure& f) {
                fail_at(root.source(), "archive", f.err.message);
            }
        }
        if (auto v = get_int(root, "parallel_accounts", "parallel_accounts", 1, 64))
            cfg.parallel_accounts = static_cast<int>(*v);
        if (auto v = get_int(root, "zstd_level", "zstd_level", 1, 22))
            cfg.zstd_level = static_cast<int>(*v);
        if (auto v = get_enum(root, "log_level", "log_level", log_level_names)) cfg.log_level = *v;

        if (const toml::node* n = root.get("account")) {
            const toml::array* arr = n->as_array();
            if (!arr || !arr->is_array_of_tables()) {
                fail_at(n->source(), "account",
                        std::string("expected an array of tables, found ") +
                            (arr ? "an array of other values" : type_name(*n)) +
                            "; write each account as a [[account]] section");
            }
            std::set<std::string> names;
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const toml::table& t = *arr->get(i)->as_table();
                account a = read_account(t, "account[" + std::to_string(i) + "]");
                if (!names.insert(a.name).second) {
                    const toml::node* nn = t.get("name");
                    fail_at(nn->source(), "account[" + std::to_string(i) + "].name",
                            "duplicate account name " + quote(a.name) +
                                "; every [[account]] needs a unique name");
                }
                cfg.accounts.push_back(std::move(a));
            }
        }
        if (const toml::node* n = root.get("prune_rule")) {
            const toml::array* arr = n->as_array();
            if (!arr || !arr->is_array_of_tables())
                fail_at(n->source(), "prune_rule",
                        std::string("expected an array of tables, found ") +
                            (arr ? "an array of other values" : type_name(*n)) +
                            "; write each rule as a [[prune_rule]] section");
            for (std::size_t i = 0; i < arr->size(); ++i)
                cfg.prune.push_back(read_prune(*arr->get(i)->as_table(),
                                               "prune_rule[" + std::to_string(i) + "]", cfg));
        }
        if (const toml::node* n = root.get("serve")) {
            if (!n->is_table())
                fail_at(n->source(), "serve",
                        std::string("expected a table, found ") + type_name(*n) +
                            "; write the web viewer's settings in a [serve] section");
            cfg.serve = read_serve(*n->as_table());
        }
        if (const toml::node* n = root.get("report")) {
            if (!n->is_table())
                fail_at(n->source(), "report",
                        std::string("expected a table, found ") + type_name(*n) +
                            "; write the report settings in a [report] section");
            cfg.report = read_report(*n->as_table());
        }
        return cfg;
    }

private:
    // [report] (docs/reports.md): the relay, its TLS and login, sender, recipients, when.
    report_settings read_report(const toml::table& t) {
        report_settings r;
        r.enabled = true;
        check_keys(t, "report.", report_keys, nullptr);
        if (auto v = get_string(t, "delivery", "report.delivery")) {
            if (*v == "direct")
                r.direct = true;
            else if (*v != "relay")
                fail_at(t.get("delivery")->source(), "report.delivery",
                        quote(*v) + " is not a valid value; use one of: relay, direct");
        }
        if (r.direct) {
            if (t.get("host"))
                fail_at(t.get("host")->source(), "report.host",
                        "delivery = \"direct\" sends to the recipients' MX hosts, not to a "
                        "relay; remove host or use delivery = \"relay\"");
        } else {
            r.host = require_string(t, "host", "report.host");
        }
        if (auto v = get_int(t, "direct_port", "report.direct_port", 1, 65535))
            r.direct_port = static_cast<std::uint16_t>(*v);
        if (auto v = get_string(t, "dns_server", "report.dns_server")) {
            std::string addr = *v;
            int port = 53;
            if (auto colon = addr.rfind(':'); colon != std::string::npos) {
                const std::string ps = addr.substr(colon + 1);
                port = ps.empty() || ps.size() > 5 ||
                               ps.find_first_not_of("0123456789") != std::string::npos
                           ? 0
                           : std::stoi(ps);
                addr.resize(colon);
            }
            in_addr probe{};
            if (port < 1 || port > 65535 || ::inet_pton(AF_INET, addr.c_str(), &probe) != 1)
                fail_at(t.get("dns_server")->source(), "report.dns_server",
                        quote(*v) +
                            " is not an IPv4 ADDRESS or ADDRESS:PORT, e.g. "
                            "\"127.0.0.1:53\"");
            r.dns_server = addr;
            r.dns_port = static_cast<std::uint16_t>(port);
        }
        if (auto v = get_int(t, "alert_after_failures", "report.alert_after_failures", 0, 1000000))
            r.alert_after_failures = static_cast<int>(*v);
        if (const toml::node* n = t.get("alert_disk_free")) {
            std::string sv =
                get_string(t, "alert_disk_free", "report.alert_disk_free").value_or("");
            auto b = sv == "0" ? std::optional<std::uint64_t>(0) : mv::parse_size(sv);
            if (!b)
                fail_at(n->source(), "report.alert_disk_free",
                        quote(sv) + " is not a size; " + std::string(mv::size_grammar()));
            r.alert_disk_free = *b;
        }
        if (t.get("alert_cert_expiry"))
            r.alert_cert_expiry =
                get_string(t, "alert_cert_expiry", "report.alert_cert_expiry") == "0"
                    ? std::chrono::seconds(0)
                    : parse_duration(t, "alert_cert_expiry", "report.alert_cert_expiry");
        if (t.get("verify_interval"))
            r.verify_interval =
                get_string(t, "verify_interval", "report.verify_interval") == "0"
                    ? std::chrono::seconds(0)
                    : parse_duration(t, "verify_interval", "report.verify_interval");
        if (auto v = get_string(t, "tls", "report.tls")) {
            if (*v == "starttls")
                r.tls = tls_mode::starttls;
            else if (*v == "implicit")
                r.tls = tls_mode::implicit;
            else if (*v == "none")
                r.tls = tls_mode::plain;
            else
                fail_at(t.get("tls")->source(), "report.tls",
                        quote(*v) + " is not a valid value; use one of: starttls, implicit, none");
        }
        r.port = r.tls == tls_mode::implicit ? 465 : 587;
        if (auto v = get_int(t, "port", "report.port", 1, 65535))
            r.port = static_cast<std::uint16_t>(*v);
        if (r.direct && t.get("port"))
            fail_at(t.get("port")->source(), "report.port",
                    "is the relay's port; with delivery = \"direct\" write direct_port (the MX "
                    "hosts' port, 25 by default)");
        if (r.direct && r.tls == tls_mode::implicit)
            fail_at(t.get("tls")->source(), "report.tls",
                    "MX hosts take mail on port 25 with STARTTLS, not implicit TLS; use tls = "
                    "\"starttls\" with delivery = \"direct\"");
        if (!r.direct)
            for (const char* k : {"direct_port", "dns_server"})
                if (t.get(k))
                    fail_at(t.get(k)->source(), std::string("report.") + k,
                            "only applies to delivery = \"direct\"; remove it or add delivery "
                            "= \"direct\" (and remove host)");
        if (auto v = get_bool(t, "allow_plaintext", "report.allow_plaintext"))
            r.allow_plaintext = *v;
        if (r.tls == tls_mode::plain && !r.allow_plaintext)
            fail_at(t.get("tls")->source(), "report.tls",
                    "\"none\" sends the report (and any password) unencrypted; use starttls or "
                    "implicit, or add allow_plaintext = true for a trusted local relay");
        if (auto v = get_string(t, "user", "report.user")) r.user = *v;
        if (auto v = get_enum(t, "auth", "report.auth", auth_names)) {
            if (*v == auth_mech::oauthbearer || *v == auth_mech::apop || *v == auth_mech::user)
                fail_at(t.get("auth")->source(), "report.auth",
                        "not an SMTP mechanism here; use auto, plain, login or xoauth2");
            r.auth = *v;
        }
        int sources = 0;
        for (password_kind kind :
             {password_kind::command, password_kind::file, password_kind::env}) {
            const char* k = to_string(kind);
            std::string path = std::string("report.") + k;
            auto s = get_string(t, k, path);
            if (!s) continue;
            if (++sources > 1)
                fail_at(key_source(t, k), path,
                        "more than one password source; keep exactly one of password_command, "
                        "password_file, password_env");
            r.password.kind = kind;
            r.password.value =
                kind == password_kind::file ? expand_path(*s, t, k, path).string() : *s;
            r.password.origin = position_prefix(key_source(t, k), path);
        }
        if (r.direct && !r.user.empty())
            fail_at(t.get("user")->source(), "report.user",
                    "delivery = \"direct\" hands the report to the recipients' MX hosts, which "
                    "take no login; remove user or use delivery = \"relay\" with host");
        if (sources > 0 && r.user.empty())
            fail_at(t.source(), "report", "a password source without user; add user = \"...\"");
        if (sources == 0 && !r.user.empty())
            fail_at(t.source(), "report",
                    "user without a password source; add password_command, password_file or "
                    "password_env");
        if (auto s = get_string(t, "ca_file", "report.ca_file")) {
            r.ca_file = expand_path(*s, t, "ca_file", "report.ca_file");
            std::error_code ec;
            if (!fs::is_regular_file(r.ca_file, ec))
                fail_at(t.get("ca_file")->source(), "report.ca_file",
                        r.ca_file.string() +
                            " does not exist or is not a file; fix the path or "
                            "remove the key to use the system trust store");
        }
        if (auto s = get_string(t, "fingerprint", "report.fingerprint")) {
            std::string hex;
            for (char c : *s)
                if (c != ':') hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
                fail_at(t.get("fingerprint")->source(), "report.fingerprint",
                        "not a SHA-256 fingerprint; expected 64 hex digits (colons allowed)");
            r.fingerprint = std::move(hex);
        }
        if (auto v = get_bool(t, "tls_insecure_skip_verify", "report.tls_insecure_skip_verify"))
            r.tls_insecure_skip_verify = *v;
        if (auto v = get_int(t, "timeout_seconds", "report.timeout_seconds", 1, 3600))
            r.timeout = std::chrono::seconds(*v);
        r.from = require_string(t, "from", "report.from");
        auto to = get_string_list(t, "to", "report.to");
        if (!to || to->empty())
            fail_at(t.source(), "report.to",
                    "no recipient; add to = [\"you@example.org\"] to the [report] section");
        r.to = std::move(*to);
        for (const auto& a : r.to)
            if (a.find('@') == std::string::npos || a.find_first_of(" <>\r\n") != std::string::npos)
                fail_at(t.get("to")->source(), "report.to",
                        quote(a) + " is not a mail address; write user@domain");
        if (r.from.find('@') == std::string::npos ||
            r.from.find_first_of(" <>\r\n") != std::string::npos)
            fail_at(t.get("from")->source(), "report.from",
                    quote(r.from) + " is not a mail address; write user@domain");
        if (auto v = get_string(t, "when", "report.when")) {
            if (*v == "always")
                r.when = report_when::always;
            else if (*v == "failure")
                r.when = report_when::failure;
            else
                fail_at(t.get("when")->source(), "report.when",
                        quote(*v) + " is not a valid value; use one of: always, failure");
        }
        if (auto v = get_string(t, "helo", "report.helo")) r.helo = *v;
        if (auto v = get_string(t, "spool_dir", "report.spool_dir"))
            r.spool_dir = expand_path(*v, t, "spool_dir", "report.spool_dir");
        return r;
    }

    serve_settings read_serve(const toml::table& t) {
        serve_settings s;
        check_keys(t, "serve.", serve_keys, nullptr);
        if (auto v = get_string(t, "listen", "serve.listen")) {
            auto colon = v->rfind(':');
            bool ok = colon != std::string::npos && colon > 0 && colon + 1 < v->size();
            int port = 0;
            for (std::size_t i = ok ? colon + 1 : v->size(); i < v->size(); ++i) {
                ok = ok && std::isdigit(static_cast<unsigned char>((*v)[i])) && port < 100000;
                port = port * 10 + ((*v)[i] - '0');
            }
            if (!ok || port < 1 || port > 65535)
                fail_at(t.get("listen")->source(), "serve.listen",
                        "expected HOST:PORT, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"");
            s.listen = *v;
        }
        for (auto [k, member] : {std::pair{"tls_cert", &s.tls_cert}, {"tls_key", &s.tls_key}}) {
            std::string path = std::string("serve.") + k;
            if (auto v = get_string(t, k, path)) {
                *member = expand_path(*v, t, k, path);
                std::error_code ec;
                if (!fs::is_regular_file(*member, ec))
                    fail_at(t.get(k)->source(), path,
                            member->string() + " is not a readable file; give the PEM file's path");
            }
        }
        if (s.tls_cert.empty() != s.tls_key.empty())
            fail_at(t.source(), "serve",
                    "tls_cert and tls_key go together; set both (PEM files) or neither");
        if (auto v = get_bool(t, "require_login", "serve.require_login")) s.require_login = *v;
        if (const toml::node* n = t.get("user")) {
            const toml::array* arr = n->as_array();
            if (!arr || !arr->is_array_of_tables())
                fail_at(n->source(), "serve.user",
                        "expected an array of tables; write each user as a [[serve.user]] section "
                        "with name and password_hash");
            std::set<std::string> names;
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const toml::table& u = *arr->get(i)->as_table();
                const std::string prefix = "serve.user[" + std::to_string(i) + "]";
                check_keys(u, prefix + ".", serve_user_keys, nullptr);
                serve_user su;
                su.name = require_string(u, "name", prefix + ".name");
                su.password_hash = require_string(u, "password_hash", prefix + ".password_hash");
                if (!su.password_hash.starts_with("pbkdf2-sha256$"))
                    fail_at(u.get("password_hash")->source(), prefix + ".password_hash",
                            "not a password hash; paste the line printed by `mailvault serve "
                            "--hash-password` (never the password itself)");
                if (!names.insert(su.name).second)
                    fail_at(u.get("name")->source(), prefix + ".name",
                            "duplicate user " + quote(su.name) +
                                "; every [[serve.user]] needs a "
                                "unique name");
                s.users.push_back(std::move(su));
            }
        }
        return s;
    }

    prune_rule read_prune(const toml::table& t, const std::string& prefix, const config& cfg) {
        prune_rule r;
        auto key = [&](std::string_view k) { return prefix + "." + std::string(k); };
        check_keys(t, prefix + ".", prune_keys, nullptr);
        if (auto v = get_string(t, "name", key("name"))) r.name = *v;
        if (auto v = get_string(t, "account", key("account"))) {
            const account* a = cfg.find(*v);
            if (!a)
                fail_at(t.get("account")->source(), key("account"),
                        "no [[account]] named " + quote(*v) + "; use one of the account names");
            if (a->protocol != protocol::imap)
                fail_at(t.get("account")->source(), key("account"),
                        "account " + quote(*v) +
                            " is POP3; prune works on IMAP accounts (POP3 uses `delete`)");
            r.account = *v;
        }
        if (auto v = get_string_list(t, "folders", key("folders"))) r.folders = std::move(*v);
        if (t.get("older_than")) r.older_than = parse_duration(t, "older_than", key("older_than"));
        if (auto v = get_string_list(t, "flags", key("flags"))) r.flags = std::move(*v);
        if (const toml::node* n = t.get("larger_than")) {
            if (n->is_integer()) {
                if (n->as_integer()->get() < 0)
                    fail_at(n->source(), key("larger_than"), "must not be negative");
                r.larger_than = static_cast<std::uint64_t>(n->as_integer()->get());
            } else {
                std::string s = get_string(t, "larger_than", key("larger_than")).value_or("");
                r.larger_than = mv::parse_size(s);
                if (!r.larger_than)
                    fail_at(n->source(), key("larger_than"),
                            "is not a size; " + std::string(mv::size_grammar()));
            }
        }
        if (auto v = get_string(t, "trash_folder", key("trash_folder"))) r.trash_folder = *v;
        if (r.older_than.count() == 0 && !r.larger_than && r.flags.empty())
            fail_at(t.source(), prefix,
                    "a prune rule needs at least one of older_than, larger_than or flags; a "
                    "rule without criteria would select every message");
        return r;
    }

    // [[account.folder_map]] tables: source = "...", target = "...", '/'-separated folder names.
    std::vector<folder_map_entry> read_folder_map(const toml::node& n, const std::string& path) {
        std::vector<folder_map_entry> out;
        const toml::array* arr = n.as_array();
        if (arr && arr->empty()) return out;
        if (!arr || !arr->is_array_of_tables())
            fail_at(n.source(), path,
                    std::string("expected an array of tables, found ") +
                        (arr ? "an array of other values" : type_name(n)) +
                        "; write each rule as a [[account.folder_map]] section with source = "
                        "\"...\" and target = \"...\"");
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::table& t = *arr->get(i)->as_table();
            const std::string prefix = path + "[" + std::to_string(i) + "]";
            check_keys(t, prefix + ".", folder_map_keys, nullptr);
            folder_map_entry e;
            e.source = require_string(t, "source", prefix + ".source");
            e.target = require_string(t, "target", prefix + ".target");
            check_folder_path(t, "source", prefix + ".source", e.source);
            check_folder_path(t, "target", prefix + ".target", e.target);
            for (std::size_t j = 0; j < out.size(); ++j)
                if (out[j].source == e.source)
                    fail_at(t.get("source")->source(), prefix + ".source",
                            "duplicate source " + quote(e.source) + ": " + path + "[" +
                                std::to_string(j) +
                                "] already maps it and the first rule wins; remove one of them");
            out.push_back(std::move(e));
        }
        return out;
    }

    // A folder name in a folder_map rule: levels separated by single '/', no control characters.
    void check_folder_path(const toml::table& t, std::string_view key, const std::string& path,
                           const std::string& v) const {
        const toml::source_region& where = t.get(key)->source();
        for (char c : v)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                fail_at(where, path,
                        quote(v) +
                            " contains a control character; write the folder name as "
                            "`mailvault status` shows it");
        if (v.front() == '/' || v.back() == '/' || v.find("//") != std::string::npos)
            fail_at(where, path,
                    quote(v) +
                        " has an empty level; separate folder levels with a single /, "
                        "e.g. \"Archive/2024\", whatever the server's delimiter is");
    }

    [[noreturn]] void fail_at(const toml::source_region& where, std::string_view key,
                              std::string_view what) const {
        std::string msg = file_;
        if (where.begin) {
            msg +=
                ':' + std::to_string(where.begin.line) + ':' + std::to_string(where.begin.column);
        }
        msg += ": ";
        if (!key.empty()) {
            msg += key;
            msg += ": ";
        }
        msg += what;
        if (!account_name_.empty()) msg += " (account " + quote(account_name_) + ")";
        throw mv::failure(errc::config, std::move(msg));
    }

    // Source position of a key (the key itself, not its value), for errors about the key.
    static const toml::source_region& key_source(const toml::table& t, std::string_view key) {
        auto it = t.find(key);
        return it != t.end() ? it->first.source() : t.source();
    }

    template <std::size_t N>
    void check_keys(const toml::table& t, std::string_view prefix, const key_spec (&spec)[N],
                    const protocol* proto) {
        for (auto&& [k, v] : t) {
            std::string_view key = k.str();
            std::string path = std::string(prefix) + std::string(key);
            const key_spec* found = nullptr;
            for (const auto& s : spec)
                if (s.name == key) found = &s;
            if (!found) {
                std::string what = "unknown key";
                std::string_view best;
                std::size_t best_d = std::numeric_limits<std::size_t>::max();
                for (const auto& s : spec) {
                    std::size_t d = edit_distance(lower(key), s.name);
                    if (d < best_d) best_d = d, best = s.name;
                }
                if (best_d <= std::max<std::size_t>(2, key.size() / 4))
                    what += " (did you mean " + std::string(best) + "?)";
                what += "; valid keys are:";
                bool first = true;
                for (const auto& s : spec) {
                    what += first ? " " : ", ";
                    what += s.name;
                    first = false;
                }
                fail_at(k.source(), path, what);
            }
            if (proto && found->to != applies::any) {
                protocol needed = found->to == applies::imap ? protocol::imap : protocol::pop3;
                if (needed != *proto)
                    fail_at(k.source(), path,
                            std::string("only valid for protocol = \"") + to_string(needed) +
                                "\", this account uses \"" + to_string(*proto) + "\"; remove it");
            }
        }
    }

    const toml::node* typed(const toml::table& t, std::string_view key, std::string_view path,
                            toml::node_type want, const char* want_name) const {
        const toml::node* n = t.get(key);
        if (!n) return nullptr;
        if (n->type() != want)
            fail_at(n->source(), path,
                    std::string("expected ") + want_name + ", found " + type_name(*n));
        return n;
    }

    std::optional<std::string> get_string(const toml::table& t, std::string_view key,
                                          std::string_view path) const {
        const toml::node* n = typed(t, key, path, toml::node_type::string, "a string");
        if (!n) return std::nullopt;
        std::string s = n->as_string()->get();
        if (s.empty())
            fail_at(n->source(), path, "must not be empty; remove the key or set a value");
        return s;
    }

    std::string require_string(const toml::table& t, std::string_view key,
                               std::string_view path) const {
        auto s = get_string(t, key, path);
        if (!s)
            fail_at(t.source(), path,
                    "missing required key; add " + std::string(key) + " = \"...\" to this section");
        return *s;
    }

    std::optional<bool> get_bool(const toml::table& t, std::string_view key,
                                 std::string_view path) const {
        const toml::node* n =
            typed(t, key, path, toml::node_type::boolean, "a boolean (true/false)");
        if (!n) return std::nullopt;
        return n->as_boolean()->get();
    }

    std::optional<std::int64_t> get_int(const toml::table& t, std::string_view key,
                                        std::string_view path, std::int64_t lo,
                                        std::int64_t hi) const {
        const toml::node* n = typed(t, key, path, toml::node_type::integer, "an integer");
        if (!n) return std::nullopt;
        std::int64_t v = n->as_integer()->get();
        if (v < lo || v > hi)
            fail_at(n->source(), path,
                    std::to_string(v) + " is out of range; use a value from " + std::to_string(lo) +
                        " to " + std::to_string(hi));
        return v;
    }

    template <typename E, std::size_t N>
    std::optional<E> get_enum(const toml::table& t, std::string_view key, std::string_view path,
                              const enum_name<E> (&names)[N]) const {
        auto s = get_string(t, key, path);
        if (!s) return std::nullopt;
        for (const auto& e : names)
            if (e.name == *s) return e.value;
        std::string what = quote(*s) + " is not a valid value; use one of:";
        bool first = true;
        for (const auto& e : names) {
            what += first ? " " : ", ";
            what += e.name;
            first = false;
        }
        fail_at(t.get(key)->source(), path, what);
    }

    std::optional<std::vector<std::string>> get_string_list(const toml::table& t,
                                                            std::string_view key,
                                                            std::string_view path) const {
        const toml::node* n =
            typed(t, key, path, toml::node_type::array, "an array of strings, e.g. [\"INBOX\"]");
        if (!n) return std::nullopt;
        std::vector<std::string> out;
        const toml::array& arr = *n->as_array();
        for (std::size_t i = 0; i < arr.size(); ++i) {
            const toml::node& e = *arr.get(i);
            std::string epath = std::string(path) + "[" + std::to_string(i) + "]";
            if (!e.is_string())
                fail_at(e.source(), epath, std::string("expected a string, found ") + type_name(e));
            std::string s = e.as_string()->get();
            if (s.empty()) fail_at(e.source(), epath, "empty folder pattern; remove it");
            out.push_back(std::move(s));
        }
        return out;
    }

    // "~", "~/x", "$VAR", "${VAR}"; relative results are taken relative to the config file.
    fs::path expand_path(const std::string& raw, const toml::table& t, std::string_view key,
                         std::string_view path) const {
        const toml::source_region& where = t.get(key)->source();
        std::string out;
        std::size_t i = 0;
        if (raw == "~" || raw.starts_with("~/")) {
            std::string home = detail::home_dir();
            if (home.empty())
                fail_at(where, path, "cannot expand ~: $HOME is not set; use an absolute path");
            out = home;
            i = 1;
        } else if (raw.starts_with("~")) {
            fail_at(where, path, "~user is not supported; write ~/... or an absolute path");
        }
        while (i < raw.size()) {
            if (raw[i] != '$') {
                out += raw[i++];
                continue;
            }
            std::size_t start = i + 1;
            std::string var;
            if (start < raw.size() && raw[start] == '{') {
                std::size_t end = raw.find('}', start);
                if (end == std::string::npos)
                    fail_at(where, path, "unterminated ${ in " + quote(raw) + "; close it with }");
                var = raw.substr(start + 1, end - start - 1);
                i = end + 1;
            } else {
                std::size_t end = start;
                while (end < raw.size() &&
                       (std::isalnum(static_cast<unsigned char>(raw[end])) || raw[end] == '_'))
                    ++end;
                var = raw.substr(start, end - start);
                i = end;
            }
            if (var.empty())
                fail_at(where, path, "a lone $ in " + quote(raw) + "; write ${NAME} or remove it");
            std::string value = detail::env_or_xdg_default(var);
            if (value.empty())
                fail_at(
                    where, path,
                    "environment variable $" + var + " is not set; set it or use an absolute path");
            out += value;
        }
        fs::path p(out);
        if (p.is_relative()) p = base_dir_ / p;
        return p.lexically_normal();
    }

    static bool is_loopback(std::string_view host) {
        std::string h = lower(host);
        if (h == "localhost" || h == "localhost.") return true;
        in_addr a4{};
        if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
        in6_addr a6{};
        if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
            if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
            if (IN6_IS_ADDR_V4MAPPED(&a6)) return a6.s6_addr[12] == 127;
        }
        return false;
    }

    void check_host(const std::string& host, const toml::table& t, std::string_view path) const {
        const toml::source_region& where = t.get("host")->source();
        if (host.front() == '[')
            fail_at(where, path, "write IPv6 addresses without brackets, e.g. host = \"::1\"");
        for (char c : host) {
            if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '@')
                fail_at(where, path,
                        quote(host) +
                            " is not a host name; write only the name or address "
                            "(the port goes in port = ...)");
        }
        if (host.find(':') != std::string::npos) {
            in6_addr a6{};
            if (inet_pton(AF_INET6, host.c_str(), &a6) != 1)
                fail_at(
                    where, path,
                    quote(host) + " is not a host name; put the port in port = ..., not in host");
        }
    }

    static bool valid_name_char(char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
               c == '@' || c == '+';
    }

    std::chrono::seconds parse_duration(const toml::table& t, std::string_view key,
                                        std::string_view path) const {
        std::string s = *get_string(t, key, path);
        const toml::source_region& where = t.get(key)->source();
        auto bad = [&]() {
            fail_at(where, path,
                    quote(s) + " is not a duration; " + std::string(mv::duration_grammar()));
        };
        auto d = mv::parse_duration(s);
        if (!d) bad();
        return *d;
    }

    std::string position_prefix(const toml::source_region& where, std::string_view path) const {
        std::string msg = file_;
        if (where.begin)
            msg +=
                ':' + std::to_string(where.begin.line) + ':' + std::to_string(where.begin.column);
        return msg + ": " + std::string(path);
    }

    account read_account(const toml::table& t, const std::string& prefix) {
        account_name_.clear();
        account a;
        auto key = [&](std::string_view k) { return prefix + "." + std::string(k); };

        check_keys(t, prefix + ".", account_keys, nullptr);

        a.name = require_string(t, "name", key("name"));
        for (char c : a.name)
            if (!valid_name_char(c))
                fail_at(t.get("name")->source(), key("name"),
                        quote(a.name) + " contains " +
                            (c == ' ' ? std::string("a space") : quote(std::string(1, c))) +
                            "; use letters, digits and . _ - @ +");
        if (a.name.size() > 64)
            fail_at(t.get("name")->source(), key("name"), "longer than 64 characters; shorten it");
        account_name_ = a.name;

        if (!t.get("protocol"))
            fail_at(t.source(), key("protocol"),
                    "missing required key; add protocol = \"imap\" or protocol = \"pop3\"");
        a.protocol = *get_enum(t, "protocol", key("protocol"), protocol_names);
        check_keys(t, prefix + ".", account_keys, &a.protocol);

        a.host = require_string(t, "host", key("host"));
        check_host(a.host, t, key("host"));
        a.user = require_string(t, "user", key("user"));

        if (auto v = get_enum(t, "tls", key("tls"), tls_names)) a.tls = *v;
        if (auto v = get_int(t, "port", key("port"), 1, 65535)) {
            a.port = static_cast<std::uint16_t>(*v);
        } else {
            bool implicit = a.tls == tls_mode::implicit;
            a.port = a.protocol == protocol::imap ? (implicit ? 993 : 143) : (implicit ? 995 : 110);
        }

        if (auto v = get_enum(t, "auth", key("auth"), auth_names)) {
            a.auth = *v;
            if (a.protocol == protocol::imap &&
                (a.auth == auth_mech::apop || a.auth == auth_mech::user))
                fail_at(t.get("auth")->source(), key("auth"),
                        std::string("\"") + to_string(a.auth) +
                            "\" is a POP3 mechanism; for IMAP use auto, plain, login, xoauth2 or "
                            "oauthbearer");
            // POP3 has no LOGIN or OAUTHBEARER exchange here: accepting them would send the
            // secret (an OAuth token, for oauthbearer) as a USER/PASS password.
            if (a.protocol == protocol::pop3 &&
                (a.auth == auth_mech::login || a.auth == auth_mech::oauthbearer))
                fail_at(t.get("auth")->source(), key("auth"),
                        std::string("\"") + to_string(a.auth) +
                            "\" is not supported for POP3; use auto, user, apop, plain or xoauth2");
        }

        // Exactly one password source.
        int sources = 0;
        for (password_kind kind :
             {password_kind::command, password_kind::file, password_kind::env}) {
            const char* k = to_string(kind);
            auto s = get_string(t, k, key(k));
            if (!s) continue;
            if (++sources > 1)
                fail_at(key_source(t, k), key(k),
                        "more than one password source; keep exactly one of password_command, "
                        "password_file, password_env");
            a.password.kind = kind;
            if (kind == password_kind::file) {
                a.password.value = expand_path(*s, t, k, key(k)).string();
            } else {
                a.password.value = *s;
            }
            a.password.origin = position_prefix(key_source(t, k), key(k));
        }
        if (sources == 0)
            fail_at(t.source(), prefix,
                    "no password source; add one of password_command = \"...\", password_file = "
                    "\"...\", password_env = \"...\"");

        if (a.protocol == protocol::imap) {
            if (auto v = get_string_list(t, "folders", key("folders"))) {
                if (v->empty())
                    fail_at(t.get("folders")->source(), key("folders"),
                            "empty list selects no folder; use [\"*\"] for all folders");
                a.folders = std::move(*v);
            }
            if (auto v = get_string_list(t, "exclude", key("exclude"))) a.exclude = std::move(*v);
            if (auto v = get_int(t, "connections", key("connections"), 1, 16))
                a.connections = static_cast<int>(*v);
            if (auto v = get_enum(t, "compress", key("compress"), compress_names)) a.compress = *v;
            if (auto v = get_bool(t, "enable_qresync", key("enable_qresync")))
                a.enable_qresync = *v;
            if (const toml::node* n = t.get("folder_map"))
                a.folder_map = read_folder_map(*n, key("folder_map"));
            if (auto v = get_string_list(t, "watch_folders", key("watch_folders"))) {
                if (v->empty())
                    fail_at(t.get("watch_folders")->source(), key("watch_folders"),
                            "empty list; name at least one folder to IDLE on, e.g. [\"INBOX\"]");
                a.watch_folders = std::move(*v);
            }
        } else {
            a.folders = {"INBOX"};
            // A POP3 server locks the maildrop for the one session that opened it.
            if (auto v = get_int(t, "connections", key("connections"), 1, 16); v && *v != 1)
                fail_at(t.get("connections")->source(), key("connections"),
                        "POP3 allows one session per mailbox; remove it or set connections = 1");
            a.connections = 1;
            if (auto v = get_enum(t, "delete", key("delete"), delete_names)) a.delete_policy = *v;
            if (t.get("delete_older_than")) {
                if (a.delete_policy != pop3_delete::older_than)
                    fail_at(key_source(t, "delete_older_than"), key("delete_older_than"),
                            "only used with delete = \"older_than\"; set that or remove this key");
                a.delete_older_than =
                    parse_duration(t, "delete_older_than", key("delete_older_than"));
            } else if (a.delete_policy == pop3_delete::older_than) {
                fail_at(key_source(t, "delete"), key("delete_older_than"),
                        "missing; delete = \"older_than\" needs delete_older_than = \"30d\" (s, m, "
                        "h, d or w)");
            }
            if (auto v = get_bool(t, "allow_delete_without_uidl", key("allow_delete_without_uidl")))
                a.allow_delete_without_uidl = *v;
        }

        if (auto s = get_string(t, "ca_file", key("ca_file"))) {
            a.ca_file = expand_path(*s, t, "ca_file", key("ca_file"));
            std::error_code ec;
            if (!fs::is_regular_file(a.ca_file, ec))
                fail_at(t.get("ca_file")->source(), key("ca_file"),
                        a.ca_file.string() +
                            " does not exist or is not a file; fix the path or "
                            "remove the key to use the system trust store");
            if (const std::string why = pem_certificates_problem(a.ca_file); !why.empty())
                fail_at(t.get("ca_file")->source(), key("ca_file"),
                        a.ca_file.string() + " " + why +
                            "; give a file of PEM certificates (-----BEGIN CERTIFICATE-----)");
        }
        if (auto s = get_string(t, "fingerprint", key("fingerprint"))) {
            std::string hex;
            bool ok = true;
            for (char c : *s) {
                if (c == ':') continue;
                if (!std::isxdigit(static_cast<unsigned char>(c))) ok = false;
                hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            if (!ok || hex.size() != 64)
                fail_at(t.get("fingerprint")->source(), key("fingerprint"),
                        "not a SHA-256 fingerprint; expected 64 hex digits (colons allowed), e.g. "
                        "from: openssl x509 -noout -fingerprint -sha256 -in cert.pem");
            a.fingerprint = std::move(hex);
        }
        if (auto v = get_bool(t, "tls_insecure_skip_verify", key("tls_insecure_skip_verify")))
            a.tls_insecure_skip_verify = *v;
        if (auto v = get_bool(t, "allow_plaintext", key("allow_plaintext"))) a.allow_plaintext = *v;

        if (a.tls == tls_mode::plain) {
            if (!a.allow_plaintext && !is_loopback(a.host))
                fail_at(t.get("tls")->source(), key("tls"),
                        "tls = \"plain\" would send the password unencrypted to " + a.host +
                            "; use \"implicit\" or \"starttls\", or set allow_plaintext = true if "
                            "you really mean it");
            for (std::string_view k : {"ca_file", "fingerprint", "tls_insecure_skip_verify"})
                if (t.get(k))
                    fail_at(key_source(t, k), key(k),
                            "has no effect with tls = \"plain\"; remove it or enable TLS");
        }

        if (auto v = get_int(t, "timeout_seconds", key("timeout_seconds"), 1, 3600))
            a.timeout = std::chrono::seconds(*v);
        if (auto v = get_int(t, "max_message_bytes", key("max_message_bytes"), 1024,
                             std::int64_t{16} * 1024 * 1024 * 1024))
            a.max_message_bytes = static_cast<std::uint64_t>(*v);

        if (t.get("watch_interval")) {
            a.watch_interval = parse_duration(t, "watch_interval", key("watch_interval"));
            if (a.watch_interval.count() < 1)
                fail_at(t.get("watch_interval")->source(), key("watch_interval"),
                        "must be at least 1s; e.g. watch_interval = \"15m\"");
        }

        account_name_.clear();
        return a;
    }

    std::string_view text_;
    fs::path source_;
    std::string file_;
    fs::path base_dir_;
    std::string account_name_;  // appended to messages while reading an account
};

}  // namespace

config parse(std::string_view toml_text, const fs::path& source) {
    return parser(toml_text, source).run();
}

config load(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int e = errno;
        std::string what = std::strerror(e);
        throw mv::failure(errc::config,
                          path.string() + ": cannot read the configuration file (" + what +
                              "); create it (see `man 5 mailvault-config`) or pass --config PATH");
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad())
        throw mv::failure(errc::config,
                          path.string() + ": read error; check the file and its permissions");
    fs::path abs = path;
    std::error_code ec;
    if (auto a = fs::absolute(path, ec); !ec) abs = a.lexically_normal();
    config cfg = parse(ss.str(), path);
    cfg.source = abs;
    return cfg;
}

mv::error try_load(const fs::path& path, config& out) {
    try {
        out = load(path);
        return {};
    } catch (const mv::failure& f) {
        return f.err;
    } catch (const std::exception& e) {
        return {errc::config, path.string() + ": " + e.what()};
    }
}

std::string describe(const account& a) {
    std::string s = a.name + ": " + to_string(a.protocol) + " " + a.host + ":" +
                    std::to_string(a.port) + " tls=" + to_string(a.tls) + " user=" + a.user +
                    " auth=" + to_string(a.auth) + " password=" + to_string(a.password.kind);
    if (a.protocol == protocol::imap) {
        s += " connections=" + std::to_string(a.connections) + " folders=";
        for (std::size_t i = 0; i < a.folders.size(); ++i) s += (i ? "," : "") + a.folders[i];
        if (!a.exclude.empty()) {
            s += " exclude=";
            for (std::size_t i = 0; i < a.exclude.size(); ++i) s += (i ? "," : "") + a.exclude[i];
        }
        if (!a.folder_map.empty()) s += " folder_map=" + std::to_string(a.folder_map.size());
    } else {
        s += std::string(" delete=") + to_string(a.delete_policy);
    }
    if (!a.fingerprint.empty()) s += " fingerprint=pinned";
    if (a.tls_insecure_skip_verify) s += " INSECURE-SKIP-VERIFY";
    return s;
}

}  // namespace mv::config
