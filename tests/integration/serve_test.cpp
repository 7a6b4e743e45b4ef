// `mailvault serve` over HTTP: security headers, downloads, audit rows, request limits, the login
// flow (CSRF token, wrong password, rate limit, session cookie attributes), the bind rule and a
// clean stop on SIGTERM. The browser half is tests/web/test_browser.py.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "archive/archive.hpp"
#include "harness/testbed.hpp"
#include "web/auth.hpp"

#include <openssl/ssl.h>

namespace fs = std::filesystem;

namespace {

const std::string attachment = std::string("%PDF-1.4\n") + std::string("\0\x01\xff binary", 10);

std::string b64(const std::string& s) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < s.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(s[i]) << 16) |
                     (static_cast<unsigned char>(s[i + 1]) << 8) |
                     static_cast<unsigned char>(s[i + 2]);
        for (int k = 18; k >= 0; k -= 6) out += t[(v >> k) & 63];
    }
    if (i < s.size()) {
        unsigned v = static_cast<unsigned char>(s[i]) << 16;
        if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
        out += t[(v >> 18) & 63];
        out += t[(v >> 12) & 63];
        out += i + 1 < s.size() ? t[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// An archive with one IMAP message carrying an attachment; returns its entry id.
std::int64_t make_archive(const fs::path& p) {
    mv::archive::options o;
    o.create = true;
    mv::archive::archive a(p, o);
    auto acct = a.upsert_account({"work", "imap", "imap.example.org", "alice"});
    auto mb = a.upsert_mailbox({acct, "INBOX", "INBOX", "/", std::nullopt});
    a.set_watermarks(mb.id, {7, std::nullopt, std::nullopt, std::nullopt});
    std::string raw =
        "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Budget 2024\r\n"
        "Message-ID: <b1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
        "boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the budget.\r\n--b\r\n"
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"budget.pdf\""
        "\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
        b64(attachment) + "\r\n--b--\r\n";
    auto put = a.put_content(raw);
    mv::archive::entry_record e;
    e.mailbox_id = mb.id;
    e.uidvalidity = 7;
    e.uid = 42;
    e.size = raw.size();
    e.content = put.hash;
    e.internaldate = 1700000000;
    a.upsert_entry(e);
    a.index_pending();
    auto v = a.find_entry("work", "INBOX", 42);
    return v->id;
}

struct http_reply {
    int status = 0;
    std::multimap<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

http_reply http(std::uint16_t port, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    std::size_t off = 0;
    while (off < request.size()) {
        ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;  // the server may close early (a request too large)
        off += static_cast<std::size_t>(n);
    }
    std::string in;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) in.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    http_reply r;
    auto end = in.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    std::string head = in.substr(0, end);
    r.body = in.substr(end + 4);
    r.status = std::stoi(head.substr(9, 3));
    std::size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
        auto next = head.find("\r\n", pos + 2);
        std::string line =
            head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string k = line.substr(0, colon);
            for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.headers.emplace(k, line.substr(colon + 2));
        }
        pos = next;
    }
    return r;
}

http_reply get(std::uint16_t port, const std::string& path, const std::string& extra = "") {
    return http(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra +
                          "Connection: close\r\n\r\n");
}

http_reply post(std::uint16_t port, const std::string& path, const std::string& body,
                const std::string& extra = "") {
    return http(port, "POST " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/x-www-form-urlencoded\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n" + extra +
                          "Connection: close\r\n\r\n" + body);
}

// mailvault serve in the background on a free port; SIGTERM and a zero exit at the end.
class serve_process {
public:
    serve_process(const fs::path& dir, std::vector<std::string> args) : log_(dir / "serve.log") {
        args.insert(args.begin(), {MV_CLI_PATH, "serve", "--listen", "127.0.0.1:0"});
        std::ofstream(log_).flush();  // exists before the child writes to it
        pid_ = ::fork();
        if (pid_ == 0) {
            int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            for (auto& s : args) argv.push_back(s.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        std::regex re("listening on http://127\\.0\\.0\\.1:([0-9]+)/");
        for (int i = 0; i < 300 && port_ == 0; ++i) {
            std::smatch m;
            std::string text = mv::test::read_file(log_);
            if (std::regex_search(text, m, re))
                port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        REQUIRE(port_ != 0);
    }
    ~serve_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    std::uint16_t port() const { return port_; }
    // Peak resident memory of the server so far (VmHWM, KB).
    long peak_rss_kb() const {
        std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
        for (std::string line; std::getline(f, line);)
            if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
        return -1;
    }
    int stop() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    fs::path log_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

std::vector<std::string> audit_rows(const fs::path& db, const std::string& kind) {
    std::vector<std::string> out;
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(h, "SELECT payload FROM audit_log WHERE kind = ? ORDER BY seq", -1, &st,
                       nullptr);
    sqlite3_bind_text(st, 1, kind.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW)
        out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
}

std::string cookie_value(const http_reply& r, const std::string& name) {
    auto range = r.headers.equal_range("set-cookie");
    for (auto it = range.first; it != range.second; ++it)
        if (it->second.rfind(name + "=", 0) == 0) {
            auto semi = it->second.find(';');
            return it->second.substr(name.size() + 1, semi - name.size() - 1);
        }
    return {};
}

std::string set_cookie(const http_reply& r, const std::string& name) {
    auto range = r.headers.equal_range("set-cookie");
    for (auto it = range.first; it != range.second; ++it)
        if (it->second.rfind(name + "=", 0) == 0) return it->second;
    return {};
}

}  // namespace

TEST_CASE("serve: loopback pages, headers, downloads and audit rows", "[serve]") {
    mv::test::temp_dir dir;
    fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::replace);
    const fs::path db = dir / "a.sqlite";
    const auto id = std::to_string(make_archive(db));
    serve_process srv(dir.path(), {"--archive", db.string()});

    auto home = get(srv.port(), "/");
    CHECK(home.status == 200);
    CHECK(home.header("content-security-policy").find("default-src 'none'") != std::string::npos);
    CHECK(home.header("content-security-policy").find("frame-ancestors 'none'") !=
          std::string::npos);
    CHECK(home.header("x-content-type-options") == "nosniff");
    CHECK(home.header("referrer-policy") == "no-referrer");
    CHECK(home.header("cache-control") == "no-store");
    CHECK(home.body.find("INBOX") != std::string::npos);

    auto results = get(srv.port(), "/search?q=budget");
    CHECK(results.status == 200);
    CHECK(results.body.find("/m/" + id + "\"") != std::string::npos);

    CHECK(audit_rows(db, "web_view").empty());
    auto msg = get(srv.port(), "/m/" + id);
    CHECK(msg.status == 200);
    CHECK(msg.body.find("See the budget.") != std::string::npos);
    CHECK(msg.body.find("UID 42") != std::string::npos);
    auto views = audit_rows(db, "web_view");
    REQUIRE(views.size() == 1);
    CHECK(views[0].find("\"uid\":42") != std::string::npos);
    CHECK(views[0].find("\"remote\":\"127.0.0.1\"") != std::string::npos);

    auto part = get(srv.port(), "/m/" + id + "/part/2");
    CHECK(part.status == 200);
    CHECK(part.body == attachment);
    CHECK(part.header("content-type") == "application/octet-stream");
    CHECK(part.header("content-disposition").find("filename=\"budget.pdf\"") != std::string::npos);
    CHECK(audit_rows(db, "web_download_part").size() == 1);

    auto raw = get(srv.port(), "/m/" + id + "/raw");
    CHECK(raw.status == 200);
    CHECK(raw.header("content-type") == "message/rfc822");
    CHECK(raw.header("content-disposition").find("filename=\"Budget 2024.eml\"") !=
          std::string::npos);
    CHECK(raw.body.rfind("From: Alice", 0) == 0);
    CHECK(audit_rows(db, "web_download_raw").size() == 1);

    auto frame = get(srv.port(), "/m/" + id + "/html");
    CHECK(frame.header("content-security-policy").rfind("sandbox", 0) == 0);

    CHECK(get(srv.port(), "/m/999999").status == 404);
    CHECK(get(srv.port(), "/nope").status == 404);
    CHECK(http(srv.port(), "DELETE / HTTP/1.1\r\nHost: x\r\n\r\n").status == 405);
    // Bounded request size: a 1 MB body is refused, the server keeps serving.
    auto big = post(srv.port(), "/login", std::string(1024 * 1024, 'x'));
    CHECK(big.status == 413);
    CHECK(get(srv.port(), "/").status == 200);
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: login required, CSRF-safe, rate limited", "[serve]") {
    mv::test::temp_dir dir;
    fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::replace);
    const fs::path db = dir / "a.sqlite";
    const auto id = std::to_string(make_archive(db));
    {
        std::ofstream cfg(dir / "config.toml");
        cfg << "archive = \"" << db.string() << "\"\n[serve]\nrequire_login = true\n"
            << "[[serve.user]]\nname = \"auditor\"\npassword_hash = \""
            << mv::web::hash_password("right one", 1000) << "\"\n";
    }
    serve_process srv(dir.path(), {"--config", (dir / "config.toml").string()});

    auto home = get(srv.port(), "/");
    CHECK(home.status == 303);
    CHECK(home.header("location") == "/login?next=%2F");
    CHECK(get(srv.port(), "/m/" + id).status == 303);
    CHECK(get(srv.port(), "/m/" + id + "/raw").status == 303);
    CHECK(audit_rows(db, "web_view").empty());
    CHECK(audit_rows(db, "web_download_raw").empty());

    auto form = get(srv.port(), "/login");
    CHECK(form.status == 200);
    const std::string csrf = cookie_value(form, "mv_csrf");
    REQUIRE(csrf.size() == 64);
    CHECK(form.body.find("value=\"" + csrf + "\"") != std::string::npos);
    const std::string jar = "Cookie: mv_csrf=" + csrf + "\r\n";

    // Without the token, or with a token that is not the cookie's: refused before any check.
    CHECK(post(srv.port(), "/login", "user=auditor&password=right+one", jar).status == 403);
    CHECK(post(srv.port(), "/login",
               "csrf=" + std::string(64, 'a') + "&user=auditor&password=right+one", jar)
              .status == 403);
    // A foreign Origin is refused.
    CHECK(post(srv.port(), "/login", "csrf=" + csrf + "&user=auditor&password=right+one",
               jar + "Origin: http://evil.example\r\n")
              .status == 403);
    // Wrong password.
    auto wrong = post(srv.port(), "/login", "csrf=" + csrf + "&user=auditor&password=nope", jar);
    CHECK(wrong.status == 401);
    CHECK(cookie_value(wrong, "mv_session").empty());
    // Right password: a session cookie with every attribute.
    auto ok = post(srv.port(), "/login",
                   "csrf=" + csrf + "&user=auditor&password=right+one&next=%2Fm%2F" + id, jar);
    CHECK(ok.status == 303);
    CHECK(ok.header("location") == "/m/" + id);
    const std::string sc = set_cookie(ok, "mv_session");
    CHECK(sc.find("HttpOnly") != std::string::npos);
    CHECK(sc.find("Secure") != std::string::npos);
    CHECK(sc.find("SameSite=Strict") != std::string::npos);
    const std::string session = "Cookie: mv_session=" + cookie_value(ok, "mv_session") + "\r\n";
    auto msg = get(srv.port(), "/m/" + id, session);
    CHECK(msg.status == 200);
    auto views = audit_rows(db, "web_view");
    REQUIRE(views.size() == 1);
    CHECK(views[0].find("\"user\":\"auditor\"") != std::string::npos);
    auto logins = audit_rows(db, "web_login");
    REQUIRE(logins.size() == 2);
    CHECK(logins[0].find("\"ok\":false") != std::string::npos);
    CHECK(logins[1].find("\"ok\":true") != std::string::npos);
    // An open redirect is not possible.
    auto evil =
        post(srv.port(), "/login",
             "csrf=" + csrf + "&user=auditor&password=right+one&next=%2F%2Fevil.example", jar);
    CHECK(evil.header("location") == "/");

    // Rate limit: after 5 failures from this client, even the right password waits.
    for (int i = 0; i < 5; ++i)
        post(srv.port(), "/login", "csrf=" + csrf + "&user=auditor&password=bad", jar);
    auto limited =
        post(srv.port(), "/login", "csrf=" + csrf + "&user=auditor&password=right+one", jar);
    CHECK(limited.status == 429);

    // Logout ends the session.
    post(srv.port(), "/logout", "", session);
    CHECK(get(srv.port(), "/m/" + id, session).status == 303);
    CHECK(srv.stop() == 0);
}

TEST_CASE("serve: refuses a network address without TLS, in one line", "[serve]") {
    mv::test::temp_dir dir;
    const fs::path db = dir / "a.sqlite";
    make_archive(db);
    auto r = mv::test::run_command(
        {MV_CLI_PATH, "serve", "--archive", db.string(), "--listen", "0.0.0.0:0"});
    CHECK(r.status == 2);
    CHECK(r.errors.find("without TLS") != std::string::npos);
    CHECK(std::count(r.errors.begin(), r.errors.end(), '\n') == 1);
    // With the loud opt-out it still needs users to log in.
    r = mv::test::run_command({MV_CLI_PATH, "serve", "--archive", db.string(), "--listen",
                               "0.0.0.0:0", "--insecure-http-on-network"});
    CHECK(r.status == 3);
    CHECK(r.errors.find("[[serve.user]]") != std::string::npos);
}

TEST_CASE("serve: --hash-password reads stdin and prints a config line", "[serve]") {
    auto r = mv::test::run_command({MV_CLI_PATH, "serve", "--hash-password"}, "pass word\n");
    REQUIRE(r.status == 0);
    std::regex line("password_hash = \"(pbkdf2-sha256\\$[0-9]+\\$[^\"]+)\"\n");
    std::smatch m;
    REQUIRE(std::regex_match(r.output, m, line));
    CHECK(mv::web::verify_password("pass word", m[1].str()));
    CHECK(r.output.find("pass word") == std::string::npos);
    auto empty = mv::test::run_command({MV_CLI_PATH, "serve", "--hash-password"}, "");
    CHECK(empty.status == 2);
}

TEST_CASE("serve: TLS with tls_cert and tls_key", "[serve]") {
    mv::test::temp_dir dir;
    fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::replace);
    const fs::path db = dir / "a.sqlite";
    make_archive(db);
    auto gen =
        mv::test::run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-keyout", (dir / "k.pem").string(), "-out",
                               (dir / "c.pem").string(), "-days", "1", "-subj", "/CN=127.0.0.1"});
    REQUIRE(gen.status == 0);
    {
        std::ofstream cfg(dir / "config.toml");
        cfg << "archive = \"" << db.string() << "\"\n[serve]\ntls_cert = \""
            << (dir / "c.pem").string() << "\"\ntls_key = \"" << (dir / "k.pem").string() << "\"\n";
    }
    // serve_process waits for an http:// line; this one is https://.
    std::vector<std::string> args = {MV_CLI_PATH,   "serve",    "--listen",
                                     "127.0.0.1:0", "--config", (dir / "config.toml").string()};
    std::string text;
    const fs::path log = dir / "serve.log";
    std::ofstream(log).flush();
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(log.c_str(), O_WRONLY | O_TRUNC, 0600);
        ::dup2(fd, 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    std::uint16_t port = 0;
    std::regex re("listening on https://127\\.0\\.0\\.1:([0-9]+)/");
    for (int i = 0; i < 300 && port == 0; ++i) {
        std::smatch m;
        text = mv::test::read_file(log);
        if (std::regex_search(text, m, re))
            port = static_cast<std::uint16_t>(std::stoi(m[1]));
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(port != 0);
    // A TLS client (no verification: the point is that the server speaks TLS with this key).
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    REQUIRE(SSL_connect(ssl) == 1);
    const std::string req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    SSL_write(ssl, req.data(), static_cast<int>(req.size()));
    std::string in;
    char buf[8192];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) in.append(buf, static_cast<std::size_t>(n));
    SSL_free(ssl);
    ::close(fd);
    SSL_CTX_free(ctx);
    CHECK(in.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(in.find("Strict-Transport-Security: max-age=31536000") != std::string::npos);
    // Plain HTTP on the TLS port gets no page.
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string plain;
    while ((n = static_cast<int>(::recv(fd, buf, sizeof buf, 0))) > 0)
        plain.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    CHECK(plain.find("HTTP/1.1 200") == std::string::npos);
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("serve: a large message downloads byte-exact in chunks, a damaged one is cut short",
          "[serve]") {
    mv::test::temp_dir dir;
    fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::replace);
    const fs::path db = dir / "a.sqlite";
    make_archive(db);
    // 3.5 MB of text lines: four 1 MiB chunks in the archive, no base64 run to split off.
    std::string big = "From: Carol <carol@example.org>\r\nSubject: Big report\r\n\r\n";
    for (int i = 0; big.size() < 3'500'000; ++i)
        big += "line " + std::to_string(i * 7919 % 100003) + " of the big report\r\n";
    std::string id;
    {
        mv::archive::options o;
        mv::archive::archive a(db, o);
        auto acct = a.find_account("work");
        REQUIRE(acct);
        auto mb = a.find_mailbox(*acct, "INBOX");
        REQUIRE(mb);
        auto put = a.put_content(big);
        mv::archive::entry_record e;
        e.mailbox_id = mb->id;
        e.uidvalidity = 7;
        e.uid = 43;
        e.size = big.size();
        e.content = put.hash;
        e.internaldate = 1700000100;
        a.upsert_entry(e);
        id = std::to_string(a.find_entry("work", "INBOX", 43)->id);
    }
    {
        serve_process srv(dir.path(), {"--archive", db.string()});
        auto raw = get(srv.port(), "/m/" + id + "/raw");
        CHECK(raw.status == 200);
        CHECK(raw.header("content-length") == std::to_string(big.size()));
        CHECK(raw.body.size() == big.size());
        CHECK(raw.body == big);
    }
    // Damage the message's third chunk: the download stops before its end, so the client sees
    // fewer bytes than Content-Length (a failed download), never a whole wrong message.
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h,
                         "UPDATE chunks SET data = zeroblob(length(data)) WHERE content_id = "
                         "(SELECT max(id) FROM contents) AND seq = 2",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(sqlite3_changes(h) == 1);
    sqlite3_close(h);
    serve_process srv(dir.path(), {"--archive", db.string()});
    auto cut = get(srv.port(), "/m/" + id + "/raw");
    CHECK(cut.header("content-length") == std::to_string(big.size()));
    CHECK(cut.body.size() < big.size());
    CHECK(big.rfind(cut.body, 0) == 0);  // what came is a true prefix
}

// Issue #14: the message page and a part download of a 110 MB message go through a spool file
// (mime::spooled_message) and stream the part: the server's peak RSS grows by a bounded amount,
// not by the message (before: the message, GMime's copy and the decoded part: > 250 MB).
TEST_CASE("serve: a 110 MB message's page and attachment download in bounded memory",
          "[serve][large]") {
    mv::test::temp_dir dir;
    fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::replace);
    const fs::path db = dir / "a.sqlite";
    make_archive(db);
    std::string attachment(80u << 20, '\0');
    for (std::size_t i = 0; i < attachment.size(); ++i)
        attachment[i] = static_cast<char>((i * 2654435761u) >> 13);
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    b64.reserve(attachment.size() / 3 * 4 + attachment.size() / 28 + 8);
    for (std::size_t i = 0, col = 0; i + 3 <= attachment.size(); i += 3) {
        const unsigned v = static_cast<unsigned char>(attachment[i]) << 16 |
                           static_cast<unsigned char>(attachment[i + 1]) << 8 |
                           static_cast<unsigned char>(attachment[i + 2]);
        for (int k = 18; k >= 0; k -= 6) b64 += t[(v >> k) & 63];
        if ((col += 4) == 76) b64 += "\r\n", col = 0;
    }
    attachment.resize(attachment.size() / 3 * 3);  // what the base64 above encodes
    std::string big =
        "From: Dan <dan@example.org>\r\nSubject: Scans\r\nMIME-Version: 1.0\r\nContent-Type: "
        "multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nScans "
        "attached.\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        "filename=\"scans.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
        b64 + "\r\n--b--\r\n";
    b64.clear();
    b64.shrink_to_fit();
    std::string id;
    {
        mv::archive::archive a(db);
        auto acct = a.find_account("work");
        REQUIRE(acct);
        auto mb = a.find_mailbox(*acct, "INBOX");
        REQUIRE(mb);
        auto put = a.put_content(big);
        mv::archive::entry_record e;
        e.mailbox_id = mb->id;
        e.uidvalidity = 7;
        e.uid = 44;
        e.size = big.size();
        e.content = put.hash;
        e.internaldate = 1700000200;
        a.upsert_entry(e);
        a.index_pending();
        id = std::to_string(a.find_entry("work", "INBOX", 44)->id);
    }
    big.clear();
    big.shrink_to_fit();
    const char* old = std::getenv("ASAN_OPTIONS");
    const std::string saved = old ? old : "";
    ::setenv("ASAN_OPTIONS", "quarantine_size_mb=0:detect_leaks=0", 1);
    serve_process srv(dir.path(), {"--archive", db.string()});
    if (old)
        ::setenv("ASAN_OPTIONS", saved.c_str(), 1);
    else
        ::unsetenv("ASAN_OPTIONS");
    CHECK(get(srv.port(), "/").status == 200);
    const long base = srv.peak_rss_kb();
    auto page = get(srv.port(), "/m/" + id);
    CHECK(page.status == 200);
    CHECK(page.body.find("scans.pdf") != std::string::npos);
    const long after_page = srv.peak_rss_kb();
    auto part = get(srv.port(), "/m/" + id + "/part/2");
    CHECK(part.status == 200);
    CHECK(part.header("content-length") == std::to_string(attachment.size()));
    CHECK(part.body.size() == attachment.size());
    CHECK(part.body == attachment);
    const long after_part = srv.peak_rss_kb();
    INFO("serve peak RSS: " << base << " KB, after the page " << after_page
                            << " KB, after the download " << after_part << " KB");
    REQUIRE(base > 0);
    CHECK(after_page - base < 48 * 1024);
    CHECK(after_part - base < 48 * 1024);
}
