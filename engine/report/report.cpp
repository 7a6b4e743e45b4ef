#include "report/report.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmime/gmime.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "mailvault/net.hpp"
#include "mime/message_index.hpp"
#include "report/alerts.hpp"
#include "smtp/client.hpp"
#include "smtp/mx.hpp"

namespace fs = std::filesystem;

namespace mv::report {

namespace {

std::string utc(std::chrono::system_clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
    return buf;
}

std::string domain_of(const std::string& addr) {
    auto at = addr.rfind('@');
    return at == std::string::npos ? std::string("localhost") : addr.substr(at + 1);
}

// GObject references released on scope exit.
template <class T>
struct gref {
    T* p = nullptr;
    explicit gref(T* x) : p(x) {}
    ~gref() {
        if (p) g_object_unref(p);
    }
    gref(const gref&) = delete;
    gref& operator=(const gref&) = delete;
};

bool ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

mv::error io_error(const std::string& what, const fs::path& p) {
    return {mv::errc::io, what + " " + p.string() + ": " + std::strerror(errno)};
}

// mkdir -p with 0700 for what we create, whatever the umask.
void make_private_dir(const fs::path& d) {
    std::error_code ec;
    if (fs::is_directory(d, ec)) return;
    if (d.has_parent_path() && d.parent_path() != d) make_private_dir(d.parent_path());
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST)
        throw mv::failure(io_error("cannot create the report spool", d));
    ::chmod(d.c_str(), 0700);
}

void write_durable(const fs::path& path, std::string_view data) {
    fs::path tmp = path;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw mv::failure(io_error("cannot write", tmp));
    ::fchmod(fd, 0600);
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            auto e = io_error("cannot write", tmp);
            ::close(fd);
            throw mv::failure(e);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto e = io_error("cannot fsync", tmp);
        ::close(fd);
        throw mv::failure(e);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw mv::failure(io_error("cannot rename", tmp));
    int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

// Spool file: "mailvault-report 1 <rcpt> <rcpt>...\n" then the message, byte for byte.
constexpr std::string_view spool_magic = "mailvault-report 1";

std::string spool_text(std::string_view message, const std::vector<std::string>& to) {
    std::string s(spool_magic);
    for (const auto& t : to) s += " " + t;
    s += "\n";
    s.append(message);
    return s;
}

bool parse_spool(const std::string& text, std::vector<std::string>& to, std::string_view& msg) {
    auto nl = text.find('\n');
    if (nl == std::string::npos || text.compare(0, spool_magic.size(), spool_magic) != 0)
        return false;
    std::istringstream in(text.substr(spool_magic.size(), nl - spool_magic.size()));
    to.clear();
    for (std::string a; in >> a;) to.push_back(a);
    msg = std::string_view(text).substr(nl + 1);
    return !to.empty();
}

net::endpoint endpoint_for(const config::report_settings& rs) {
    net::endpoint ep;
    ep.host = rs.host;
    ep.port = rs.port;
    switch (rs.tls) {
        case config::tls_mode::implicit: ep.tls = net::tls_mode::implicit; break;
        case config::tls_mode::starttls: ep.tls = net::tls_mode::starttls; break;
        case config::tls_mode::plain: ep.tls = net::tls_mode::plain; break;
    }
    ep.tls_opts.ca_file = rs.ca_file.string();
    ep.tls_opts.fingerprint = rs.fingerprint;
    ep.tls_opts.insecure_skip_verify = rs.tls_insecure_skip_verify;
    ep.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(rs.timeout);
    return ep;
}

std::string prefix(const config::report_settings& rs) {
    return "report relay " + rs.host + ":" + std::to_string(rs.port) + ": ";
}

bool transient_error(mv::errc c) {
    return c == mv::errc::network || c == mv::errc::timeout || c == mv::errc::closed ||
           c == mv::errc::cancelled;
}

std::string resolve_report_password(const config::report_settings& rs) {
    if (rs.user.empty()) return {};
    config::account a;
    a.name = "[report]";
    a.user = rs.user;
    a.password = rs.password;
    return config::resolve_password(a);
}

}  // namespace

// ---- summary and message --------------------------------------------------------------------

bool run_summary::failed() const noexcept {
    if (exit_code != 0 || !failures.empty()) return true;
    for (const auto& a : accounts)
        if (!a.failures.empty()) return true;
    return false;
}

std::string subject_for(const run_summary& s) {
    std::uint64_t fresh = 0, deleted = 0, nfail = s.failures.size();
    for (const auto& a : s.accounts) {
        fresh += a.new_messages;
        deleted += a.deleted_on_server;
        nfail += a.failures.size();
    }
    std::vector<std::string> parts;
    if (!s.accounts.empty())
        parts.push_back(std::to_string(s.accounts.size()) +
                        (s.accounts.size() == 1 ? " account" : " accounts"));
    if (fresh) parts.push_back(std::to_string(fresh) + " new");
    if (deleted) parts.push_back(std::to_string(deleted) + " deleted on server");
    if (nfail) parts.push_back(std::to_string(nfail) + (nfail == 1 ? " failure" : " failures"));
    std::string subj = "mailvault " + s.command + ": ";
    subj += s.failed() ? "FAILED" : "ok";
    for (std::size_t i = 0; i < parts.size(); ++i) subj += (i == 0 ? " — " : ", ") + parts[i];
    return subj;
}

std::string text_for(const run_summary& s) {
    std::string t;
    t += "mailvault " + s.command + " on " + host_name() + "\n";
    t += "started  " + utc(s.start) + "\n";
    t += "finished " + utc(s.end) + "\n";
    t += "exit code " + std::to_string(s.exit_code) + (s.failed() ? " (failed)" : " (ok)") + "\n";
    for (const auto& f : s.failures) t += "failure: " + f + "\n";
    for (const auto& n : s.notes) t += n + "\n";
    const bool sync_counters = s.command == "sync" || s.command == "watch";
    const bool deletions = sync_counters || s.command == "prune";
    for (const auto& a : s.accounts) {
        t += "\naccount " + a.account + "\n";
        if (sync_counters) {
            t += "  new messages:      " + std::to_string(a.new_messages) + "\n";
            t += "  flag changes:      " + std::to_string(a.flag_changes) + "\n";
            t += "  expunged:          " + std::to_string(a.expunged) + "\n";
        }
        if (deletions || a.deleted_on_server)
            t += "  deleted on server: " + std::to_string(a.deleted_on_server) + "\n";
        for (const auto& h : a.audit_hashes) t += "    audit " + h + "\n";
        for (const auto& n : a.notes) t += "  " + n + "\n";
        for (const auto& f : a.failures) t += "  failure: " + f + "\n";
    }
    return t;
}

std::string build_message(const config::report_settings& rs, std::string_view subject,
                          std::string_view text) {
    mime::ensure_init();
    gref<GMimeMessage> msg(g_mime_message_new(TRUE));
    g_mime_message_add_mailbox(msg.p, GMIME_ADDRESS_TYPE_FROM, "mailvault", rs.from.c_str());
    for (const auto& to : rs.to)
        g_mime_message_add_mailbox(msg.p, GMIME_ADDRESS_TYPE_TO, nullptr, to.c_str());
    std::string subj(subject);
    // GMime folds and encodes (RFC 2047) the subject when it is not plain ASCII.
    g_mime_message_set_subject(msg.p, subj.c_str(), "utf-8");
    GDateTime* now = g_date_time_new_now_utc();
    g_mime_message_set_date(msg.p, now);
    g_date_time_unref(now);
    char* id = g_mime_utils_generate_message_id(domain_of(rs.from).c_str());
    g_mime_message_set_message_id(msg.p, id);
    g_free(id);
    gref<GMimeTextPart> part(g_mime_text_part_new_with_subtype("plain"));
    std::string body(text);
    // The body stays UTF-8 (g_mime_text_part_set_text would pick and convert to the smallest
    // charset, e.g. ISO-8859-1): raw content plus the charset parameter.
    gref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(body.data(), body.size()));
    gref<GMimeDataWrapper> content(
        g_mime_data_wrapper_new_with_stream(stream.p, GMIME_CONTENT_ENCODING_DEFAULT));
    g_mime_part_set_content(GMIME_PART(part.p), content.p);
    g_mime_text_part_set_charset(part.p, "utf-8");
    g_mime_part_set_content_encoding(
        GMIME_PART(part.p),
        ascii(body) ? GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    g_mime_message_set_mime_part(msg.p, GMIME_OBJECT(part.p));
    GMimeFormatOptions* opts = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(opts, GMIME_NEWLINE_FORMAT_DOS);
    char* raw = g_mime_object_to_string(GMIME_OBJECT(msg.p), opts);
    g_mime_format_options_free(opts);
    std::string out = raw ? raw : "";
    g_free(raw);
    return out;
}

// ---- delivery -------------------------------------------------------------------------------

namespace {

// One SMTP session with one server: the relay (`relay`: AUTH when configured) or one MX host of
// a recipient domain (direct delivery: never AUTH). `label` starts every error line.
// `in_transaction` (when given) is set once MAIL FROM was sent: a failure from then on is the
// server's answer about this message; before it (connect, TLS, EHLO, AUTH) it is about the server.
delivery deliver_one(const config::report_settings& rs, const net::endpoint& ep, bool relay,
                     const std::string& label, const std::string& password,
                     std::string_view message, const std::vector<std::string>& to,
                     bool* in_transaction = nullptr) {
    delivery d;
    if (in_transaction) *in_transaction = false;
    auto fail = [&](mv::error e, bool transient) {
        d.err = {e.code, label + e.message};
        d.transient = transient;
        return d;
    };
    mv::error err;
    auto conn = net::connection::open(ep, err);
    if (!conn) {
        if (relay && (err.code == mv::errc::network || err.code == mv::errc::timeout))
            err.message +=
                " (is the relay reachable? a firewall blocking outgoing SMTP looks "
                "like this)";
        return fail(err, transient_error(err.code));
    }
    smtp::client c(*conn);
    const std::string helo = rs.helo.empty() ? host_name() : rs.helo;
    auto step = [&](mv::error e) -> bool {
        if (!e) return true;
        fail(e, transient_error(e.code) ||
                    (c.last_reply().transient() && e.code == mv::errc::server_no));
        return false;
    };
    if (!step(c.greeting())) return d;
    if (!step(c.ehlo(helo))) return d;
    if (rs.tls == config::tls_mode::starttls) {
        if (!c.caps().starttls)
            return fail({mv::errc::unsupported,
                         relay ? "the relay does not offer STARTTLS; use tls = \"implicit\" with "
                                 "its port 465, or tls = \"none\" with allow_plaintext on a "
                                 "trusted network"
                               : "this MX host does not offer STARTTLS; send through a relay "
                                 "(delivery = \"relay\"), or tls = \"none\" with "
                                 "allow_plaintext to deliver unencrypted"},
                        false);
        if (!step(c.starttls(helo))) return d;
    }
    if (relay && !rs.user.empty()) {
        if (!conn->tls_active() && !rs.allow_plaintext)
            return fail({mv::errc::config,
                         "refusing to send the password without TLS; use tls = \"starttls\" or "
                         "\"implicit\" (or allow_plaintext = true on a trusted network)"},
                        false);
        std::vector<smtp::sasl_mech> allowed;
        switch (rs.auth) {
            case config::auth_mech::plain: allowed = {smtp::sasl_mech::plain}; break;
            case config::auth_mech::login: allowed = {smtp::sasl_mech::login}; break;
            case config::auth_mech::xoauth2: allowed = {smtp::sasl_mech::xoauth2}; break;
            default: allowed = {smtp::sasl_mech::plain, smtp::sasl_mech::login}; break;
        }
        auto mech = smtp::choose_mech(c.caps(), allowed);
        if (!mech) {
            std::string offered;
            for (const auto& m : c.caps().auth) offered += (offered.empty() ? "" : " ") + m;
            return fail(
                {mv::errc::unsupported, "the relay offers no usable AUTH mechanism (offered: " +
                                            (offered.empty() ? std::string("none") : offered) +
                                            "); set report.auth to one it offers"},
                false);
        }
        if (auto e = c.authenticate(*mech, rs.user, password)) {
            if (e.code == mv::errc::auth)
                e.message += "; check report.user and its password source";
            return fail(e, c.last_reply().transient());
        }
    }
    smtp::send_result res;
    smtp::envelope env{rs.from, to};
    if (in_transaction) *in_transaction = true;
    auto e = c.send(env, message, res);
    for (const auto& r : res.recipients) {
        if (r.accepted())
            d.accepted.push_back(r.address);
        else if (r.answer.transient() || r.answer.code == 0)
            d.deferred.push_back(r.address);
        else
            d.rejected.push_back(r.address + ": " + r.answer.summary());
    }
    if (e) {
        // Nothing was accepted: every recipient is still pending (or refused for good).
        d.accepted.clear();
        fail(e, res.transient || transient_error(e.code));
        if (c.usable()) (void)c.quit();
        return d;
    }
    d.reply = res.final_reply.summary();
    (void)c.quit();  // the message is accepted; a failing QUIT changes nothing
    return d;
}

std::string domain_part(const std::string& address) {
    auto at = address.rfind('@');
    std::string d = at == std::string::npos ? std::string() : address.substr(at + 1);
    std::transform(d.begin(), d.end(), d.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return d;
}

// Direct delivery (RFC 5321 §5.1): per recipient domain, the MX hosts in preference order
// (equal preferences shuffled, the domain itself without MX), each address in turn, at most
// max_direct_attempts connections per domain. Only the server's answer about the message ends a
// domain: accepted (2xx, for some or all recipients) or refused for good (5xx to MAIL, RCPT or
// DATA). Anything else (no connection, TLS refused or untrusted, no STARTTLS, a 4xx, a 5xx to
// the greeting or EHLO) moves on to the next host; when none answered, the recipients wait in
// the spool. What a host that did not answer said about single recipients is not kept: the next
// host is asked about all of them. When no host could even be reached, the error says what that
// usually means: outgoing port 25 blocked.
constexpr int max_direct_attempts = 5;

delivery deliver_direct(const config::report_settings& rs, std::string_view message,
                        const std::vector<std::string>& to) {
    std::vector<std::pair<std::string, std::vector<std::string>>> domains;
    for (const auto& r : to) {
        const std::string dom = domain_part(r);
        auto it = std::find_if(domains.begin(), domains.end(),
                               [&](const auto& p) { return p.first == dom; });
        if (it == domains.end()) {
            domains.push_back({dom, {}});
            it = std::prev(domains.end());
        }
        it->second.push_back(r);
    }
    smtp::dns_server dns;
    dns.address = rs.dns_server;
    dns.port = rs.dns_port;
    dns.timeout = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(rs.timeout),
        std::chrono::milliseconds(10000));
    delivery all;
    std::vector<std::string> errors;  // one per domain that did not take its recipients
    bool any_transient = false;
    for (const auto& [domain, rcpts] : domains) {
        std::vector<smtp::mail_host> hosts;
        if (auto e = smtp::resolve_mail_hosts(domain, dns, hosts)) {
            const bool transient = e.code != mv::errc::server_no;
            errors.push_back("direct delivery to " + domain + ": " + e.message);
            any_transient = any_transient || transient;
            for (const auto& r : rcpts)
                (transient ? all.deferred : all.rejected)
                    .push_back(transient ? r : r + ": " + e.message);
            continue;
        }
        std::vector<std::string> tried;  // "MX mx1.example.org (192.0.2.1 port 25): timed out"
        bool unreachable_only = true;    // every attempt failed to connect at all
        bool answered = false;
        int attempts = 0;
        for (const auto& h : hosts) {
            for (const auto& addr : h.addresses) {
                if (answered || attempts == max_direct_attempts) break;
                ++attempts;
                net::endpoint ep = endpoint_for(rs);
                ep.host = h.host;
                ep.address = addr;
                ep.port = rs.direct_port;
                const std::string label = "MX " + h.host + " (" + addr + " port " +
                                          std::to_string(rs.direct_port) + "): ";
                bool in_transaction = false;
                delivery d = deliver_one(rs, ep, false, label, {}, message, rcpts, &in_transaction);
                const bool final = !d.err || (in_transaction && !d.transient);
                if (!final) {
                    if (d.err.code != mv::errc::network && d.err.code != mv::errc::timeout)
                        unreachable_only = false;
                    tried.push_back(d.err.message);
                    continue;
                }
                answered = true;
                for (const auto& a : d.accepted) all.accepted.push_back(a);
                for (const auto& a : d.rejected) all.rejected.push_back(a);
                for (const auto& a : d.deferred) all.deferred.push_back(a);
                if (!d.err) {
                    if (all.reply.empty()) all.reply = d.reply;
                } else {
                    // Refused for good: every recipient the server did not name is refused with
                    // the transaction's error.
                    errors.push_back(d.err.message);
                    for (const auto& r : rcpts) {
                        const bool named = std::any_of(
                            d.rejected.begin(), d.rejected.end(),
                            [&](const std::string& x) { return x.rfind(r + ":", 0) == 0; });
                        if (!named) all.rejected.push_back(r + ": " + d.err.message);
                    }
                }
            }
            if (answered || attempts == max_direct_attempts) break;
        }
        if (answered) continue;
        any_transient = true;
        for (const auto& r : rcpts) all.deferred.push_back(r);
        std::string list;
        for (const auto& t : tried) list += (list.empty() ? "" : "; ") + t;
        std::string why = "direct delivery to " + domain + ": no MX host took the message (" +
                          (list.empty() ? std::string("none tried") : list) + ")";
        if (unreachable_only)
            why += "; outgoing port " + std::to_string(rs.direct_port) +
                   " looks blocked (common on residential and cloud networks): send through "
                   "a relay instead (delivery = \"relay\", host = your provider's submission "
                   "server)";
        errors.push_back(why);
    }
    if (!all.accepted.empty()) {
        if (!errors.empty()) spdlog::warn("report: {}", errors.front());
        return all;
    }
    all.err = {any_transient ? mv::errc::network : mv::errc::server_no,
               errors.empty() ? std::string("direct delivery: no recipient") : errors.front()};
    all.transient = any_transient;
    return all;
}

}  // namespace

delivery deliver(const config::report_settings& rs, const std::string& password,
                 std::string_view message, const std::vector<std::string>& to) {
    if (rs.direct) return deliver_direct(rs, message, to);
    return deliver_one(rs, endpoint_for(rs), true, prefix(rs), password, message, to);
}

// ---- spool ----------------------------------------------------------------------------------

fs::path spool_dir(const config::config& cfg) {
    if (!cfg.report.spool_dir.empty()) return cfg.report.spool_dir;
    fs::path p = cfg.archive;
    p += ".d";
    return p / "reports";
}

fs::path spool_message(const config::config& cfg, std::string_view message,
                       const std::vector<std::string>& to) {
    fs::path dir = spool_dir(cfg);
    make_private_dir(dir);
    // Names sort by creation time, so the oldest report goes first.
    auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    std::random_device rd;
    char name[64];
    std::snprintf(name, sizeof name, "%020lld-%08x.eml", static_cast<long long>(now), rd());
    fs::path p = dir / name;
    write_durable(p, spool_text(message, to));
    return p;
}

flush_result flush_spool(const config::config& cfg) {
    flush_result fr;
    const auto& rs = cfg.report;
    fs::path dir = spool_dir(cfg);
    // One sender at a time per spool (a watcher's sender thread, a cron `sync`, `report flush`):
    // two would send the same file twice and race on rewriting one. The second waits for the
    // first (bounded by the relay timeouts), then finds what is left.
    const int lock_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock_fd < 0) return fr;  // no spool yet: nothing waits
    struct unlock {
        int fd;
        ~unlock() { ::close(fd); }  // closing releases the flock
    } unlocker{lock_fd};
    while (::flock(lock_fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) return fr;
    std::string password;
    try {
        password = resolve_report_password(rs);
    } catch (const mv::failure& f) {
        fr.last_error = f.err;
        fr.pending = files.size();
        return fr;
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto& p = files[i];
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string text = ss.str();
        std::vector<std::string> to;
        std::string_view msg;
        if (!parse_spool(text, to, msg)) {
            spdlog::warn("report spool: {} is not a spooled report; left alone", p.string());
            continue;
        }
        delivery d = deliver(rs, password, msg, to);
        for (const auto& r : d.rejected)
            spdlog::warn("report: recipient refused for good, dropped: {}", r);
        if (!d.err && d.deferred.empty()) {
            fs::remove(p, ec);
            ++fr.sent;
            fr.last_reply = d.reply;
            spdlog::info("report sent to {}: {}",
                         to.size() == 1 ? to[0] : std::to_string(to.size()) + " recipients",
                         d.reply);
            continue;
        }
        if (!d.err) {
            // Accepted for some; keep it for the deferred ones only.
            ++fr.sent;
            fr.last_reply = d.reply;
            write_durable(p, spool_text(msg, d.deferred));
            ++fr.pending;
            spdlog::warn("report sent, but {} recipient(s) deferred it (4xx); kept in {} for them",
                         d.deferred.size(), dir.string());
            continue;
        }
        fr.last_error = d.err;
        if (d.transient) {
            // A relay down, 4xx, timeout: everything waits for the next attempt.
            fr.pending += files.size() - i;
            spdlog::warn("report not sent, kept in {} for the next run: {}", dir.string(),
                         d.err.message);
            return fr;
        }
        // A permanent failure. Refused recipients are dropped; if none would take it (or the
        // failure is in the relay settings), the report stays in the spool for the next attempt
        // after a config fix, unless every recipient refused it for good.
        std::vector<std::string> keep = d.deferred;
        if (d.rejected.empty() && keep.empty()) keep = to;
        if (keep.empty()) {
            fs::path bad = p;
            bad.replace_extension(".rejected");
            fs::rename(p, bad, ec);
            ++fr.rejected;
            spdlog::warn("report refused by every recipient, kept as {}: {}", bad.string(),
                         d.err.message);
        } else {
            if (keep != to) write_durable(p, spool_text(msg, keep));
            ++fr.pending;
            spdlog::warn("report not sent, kept in {}: {}", dir.string(), d.err.message);
        }
    }
    return fr;
}

flush_result send_after(const config::config& cfg, const run_summary& summary) noexcept {
    flush_result fr;
    try {
        const auto& rs = cfg.report;
        if (!rs.enabled) return fr;
        if (rs.when == config::report_when::failure && !summary.failed()) {
            // Nothing new to say, but reports that failed earlier still go out.
            return flush_spool(cfg);
        }
        spool_message(cfg, build_message(rs, subject_for(summary), text_for(summary)), rs.to);
        return flush_spool(cfg);
    } catch (const mv::failure& f) {
        fr.last_error = f.err;
        spdlog::warn("report not sent: {}", f.err.message);
    } catch (const std::exception& e) {
        fr.last_error = {mv::errc::internal, e.what()};
        spdlog::warn("report not sent: {}", e.what());
    }
    return fr;
}

bool spool_alert(const config::config& cfg, const alert& a) noexcept {
    if (!cfg.report.enabled) return false;
    try {
        const std::string subject =
            (a.resolved ? "mailvault: resolved: " : "mailvault alert: ") + a.subject;
        std::string text = subject + "\n\nhost     " + host_name() + "\ntime     " +
                           utc(std::chrono::system_clock::now()) + "\n";
        if (!a.account.empty()) text += "account  " + a.account + "\n";
        if (!a.lines.empty()) text += "\n";
        for (const auto& l : a.lines) text += l + "\n";
        spool_message(cfg, build_message(cfg.report, subject, text), cfg.report.to);
        return true;
    } catch (const std::exception& e) {
        spdlog::warn("alert not spooled ({}): {}", a.subject, e.what());
        return false;
    }
}

delivery send_test(const config::config& cfg) {
    if (!cfg.report.enabled)
        throw mv::failure(mv::errc::config, cfg.source.string() +
                                                ": no [report] section; add one with host, from "
                                                "and to (see man mailvault-report)");
    std::string text = "This is a test message from `mailvault report test` on " + host_name() +
                       ".\nIf you read this, reports from mailvault reach you.\n";
    std::string msg = build_message(cfg.report, "mailvault report test", text);
    delivery d = deliver(cfg.report, resolve_report_password(cfg.report), msg, cfg.report.to);
    if (d.err) throw mv::failure(d.err);
    return d;
}

}  // namespace mv::report
