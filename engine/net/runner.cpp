// The network runner (see mailvault/net.hpp). Asio is used asynchronously under the hood only to
// get timeouts: each step starts one async operation and runs the io_context for at most the
// timeout; a step that does not finish in time is cancelled and the connection declared dead.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mailvault/net.hpp"
#include "mailvault/stop.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace mv::net {

namespace {

std::string hex(const unsigned char* d, unsigned n) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    s.reserve(n * 2);
    for (unsigned i = 0; i < n; ++i) {
        s.push_back(digits[d[i] >> 4]);
        s.push_back(digits[d[i] & 15]);
    }
    return s;
}

std::string cert_fingerprint(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1) return {};
    return hex(md, n);
}

std::mutex seen_mu;
std::vector<mv::net::peer_certificate> seen_certs;  // guarded by seen_mu

std::int64_t asn1_epoch(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<std::int64_t>(timegm(&tm));
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// Inflate/deflate state for IMAP COMPRESS=DEFLATE (RFC 4978: raw deflate, sync flush per write).
struct deflate_layer {
    z_stream in{};
    z_stream out{};
    bool ok = false;
    deflate_layer() {
        ok = inflateInit2(&in, -15) == Z_OK && deflateInit2(&out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                                                            -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    }
    ~deflate_layer() {
        inflateEnd(&in);
        deflateEnd(&out);
    }
    deflate_layer(const deflate_layer&) = delete;
    deflate_layer& operator=(const deflate_layer&) = delete;
};

}  // namespace

struct connection::impl {
    endpoint ep;
    asio::io_context ioc{1};
    asio::ssl::context ssl_ctx{asio::ssl::context::tls_client};
    tcp::socket sock{ioc};
    std::optional<asio::ssl::stream<tcp::socket&>> tls;
    std::unique_ptr<deflate_layer> zlib;
    mv::error dead;  // set once the connection is unusable
    io_counters counters;
    std::atomic<bool> cancelled{false};
    int stop_id = 0;  // mailvault/stop.hpp: a stop request cancels this connection

    std::vector<char> rbuf = std::vector<char>(256 * 1024);
    std::vector<char> zbuf = std::vector<char>(256 * 1024);  // inflated bytes
    std::size_t z_pending = 0;  // compressed bytes in rbuf not yet consumed by inflate
    std::size_t z_offset = 0;
    std::vector<char> wbuf;  // deflated bytes to write

    // What the certificate check saw, to name the failure precisely.
    int verify_error = X509_V_OK;
    int verify_depth = 0;
    std::string peer_fingerprint;

    // Runs one async operation with the timeout. `start` gets a completion handler.
    // `limit` shortens the step below the timeout (the progress deadline, see run()).
    template <class Start>
    error_code step(Start&& start, std::size_t& n,
                    std::optional<std::chrono::milliseconds> limit = std::nullopt) {
        error_code result = asio::error::would_block;
        bool finished = false;
        start([&](const error_code& ec, std::size_t k) {
            result = ec;
            n = k;
            finished = true;
        });
        ioc.restart();
        ioc.run_for(limit ? (quiet_read ? *limit : std::min(*limit, ep.timeout)) : ep.timeout);
        if (!finished) {
            error_code ignore;
            sock.cancel(ignore);
            ioc.restart();
            ioc.run();
            // Completed between the deadline and the cancel: what arrived is not thrown away
            // (a quiet read goes on using the connection).
            if (finished && !result && n > 0) return result;
            return asio::error::timed_out;
        }
        return result;
    }

    mv::error fail(mv::error e) {
        if (rec && !dead) rec->event("connection failed: " + e.message);
        dead = e;
        error_code ignore;
        sock.close(ignore);
        return e;
    }

    std::string where() const { return ep.host + ":" + std::to_string(ep.port); }

    void remember_certificate(SSL* ssl) const {
        X509* cert = SSL_get0_peer_certificate(ssl);
        if (!cert) return;
        mv::net::peer_certificate pc;
        pc.host = ep.host;
        pc.port = ep.port;
        pc.fingerprint = cert_fingerprint(cert);
        pc.not_after = asn1_epoch(X509_get0_notAfter(cert));
        pc.seen = static_cast<std::int64_t>(std::time(nullptr));
        if (char* line = X509_NAME_oneline(X509_get_subject_name(cert), nullptr, 0)) {
            pc.subject = line;
            OPENSSL_free(line);
        }
        std::lock_guard lk(seen_mu);
        for (auto& c : seen_certs)
            if (c.host == pc.host && c.port == pc.port) {
                c = std::move(pc);
                return;
            }
        seen_certs.push_back(std::move(pc));
    }

    std::string tls_event() const {
        if (ep.tls_opts.insecure_skip_verify)
            return "TLS established; certificate NOT verified (tls_insecure_skip_verify)";
        return !ep.tls_opts.fingerprint.empty() ? "TLS established; certificate matches the pin"
                                                : "TLS established; certificate verified";
    }

    mv::error net_error(const error_code& ec, const char* doing) {
        if (cancelled) return mv::error(errc::cancelled, "cancelled while " + std::string(doing));
        if (ec == asio::error::timed_out)
            return mv::error(errc::timeout, std::string("no answer from ") + where() + " within " +
                                                std::to_string(ep.timeout.count() / 1000) +
                                                " s while " + doing +
                                                "; check the server or raise timeout_seconds");
        if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
            ec == asio::error::connection_reset)
            return mv::error(errc::closed,
                             "server " + where() + " closed the connection while " + doing);
        return mv::error(errc::network,
                         "network error with " + where() + " while " + doing + ": " + ec.message());
    }

    mv::error setup_tls_context() {
        error_code ec;
        ssl_ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                            asio::ssl::context::no_tlsv1_1);
        if (ep.tls_opts.insecure_skip_verify) {
            ssl_ctx.set_verify_mode(asio::ssl::verify_none);
            return {};
        }
        ssl_ctx.set_default_verify_paths(ec);
        if (!ep.tls_opts.ca_file.empty()) {
            ssl_ctx.load_verify_file(ep.tls_opts.ca_file, ec);
            if (ec)
                return mv::error(errc::config, "cannot load CA file " + ep.tls_opts.ca_file + ": " +
                                                   ec.message());
        }
        ssl_ctx.set_verify_mode(asio::ssl::verify_peer);
        return {};
    }

    // A failed handshake leaves no TLS stream behind: tls_active() must not report TLS that never
    // started (and the destructor must not send close_notify over it).
    mv::error handshake() {
        mv::error e = try_handshake();
        if (e) tls.reset();
        return e;
    }

    mv::error try_handshake() {
        tls.emplace(sock, ssl_ctx);
        SSL* ssl = tls->native_handle();
        const bool pinned = !ep.tls_opts.fingerprint.empty();
        if (!ep.tls_opts.insecure_skip_verify) {
            if (!is_ip_literal(ep.host)) SSL_set_tlsext_host_name(ssl, ep.host.c_str());
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            if (!pinned) {
                X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                if (is_ip_literal(ep.host))
                    X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str());
                else
                    X509_VERIFY_PARAM_set1_host(param, ep.host.c_str(), 0);
            }
            tls->set_verify_callback(
                [this, pinned](bool preverified, asio::ssl::verify_context& vctx) {
                    X509_STORE_CTX* ctx = vctx.native_handle();
                    int depth = X509_STORE_CTX_get_error_depth(ctx);
                    if (pinned) {
                        // A pin replaces chain trust: only the leaf's fingerprint decides.
                        if (depth != 0) return true;
                        peer_fingerprint = cert_fingerprint(X509_STORE_CTX_get_current_cert(ctx));
                        if (peer_fingerprint == ep.tls_opts.fingerprint) return true;
                        verify_error = -1;
                        return false;
                    }
                    if (!preverified && verify_error == X509_V_OK) {
                        verify_error = X509_STORE_CTX_get_error(ctx);
                        verify_depth = depth;
                        peer_fingerprint = cert_fingerprint(X509_STORE_CTX_get_current_cert(ctx));
                    }
                    return preverified;
                });
        }
        std::size_t n = 0;
        error_code ec = step(
            [&](auto handler) {
                tls->async_handshake(
                    asio::ssl::stream_base::client,
                    [h = std::move(handler)](const error_code& e) mutable { h(e, 0); });
            },
            n);
        if (!ec) {
            if (!ep.tls_opts.insecure_skip_verify) remember_certificate(ssl);
            return {};
        }
        if (verify_error == -1)
            return mv::error(errc::tls_certificate,
                             "TLS certificate of " + where() + " has SHA-256 fingerprint " +
                                 peer_fingerprint + ", not the pinned " + ep.tls_opts.fingerprint +
                                 "; if the server changed its certificate, update `fingerprint`");
        if (verify_error == X509_V_ERR_HOSTNAME_MISMATCH ||
            verify_error == X509_V_ERR_IP_ADDRESS_MISMATCH)
            return mv::error(errc::tls_hostname,
                             "TLS certificate of " + where() + " is not valid for the name '" +
                                 ep.host + "'; connect using a name the certificate lists");
        if (verify_error != X509_V_OK)
            return mv::error(errc::tls_certificate,
                             "TLS certificate of " + where() + " is not trusted (" +
                                 X509_verify_cert_error_string(verify_error) + ", depth " +
                                 std::to_string(verify_depth) + ", SHA-256 " + peer_fingerprint +
                                 "); set ca_file to the issuing CA or pin `fingerprint`");
        if (ec == asio::error::timed_out || ec == asio::error::eof ||
            ec == asio::error::connection_reset)
            return net_error(ec, "doing the TLS handshake");
        return mv::error(errc::tls_handshake,
                         "TLS handshake with " + where() + " failed: " + ec.message() +
                             " (is this port TLS? try tls = \"starttls\" or the right port)");
    }

    // Reads at least one byte from the socket (through TLS) into rbuf, within read_limit.
    error_code read_some(std::size_t& n) {
        return step(
            [&](auto handler) {
                if (tls)
                    tls->async_read_some(asio::buffer(rbuf), std::move(handler));
                else
                    sock.async_read_some(asio::buffer(rbuf), std::move(handler));
            },
            n, read_limit);
    }
    std::optional<std::chrono::milliseconds> read_limit;  // what is left of the progress deadline
    bool quiet_read = false;  // read_limit is an operation's quiet_limit(), not capped by timeout
    std::unique_ptr<trace::recorder> rec;  // --trace: what was written and read, redacted

    error_code write_all(const char* d, std::size_t len) {
        std::size_t n = 0;
        return step(
            [&](auto handler) {
                if (tls)
                    asio::async_write(*tls, asio::buffer(d, len), std::move(handler));
                else
                    asio::async_write(sock, asio::buffer(d, len), std::move(handler));
            },
            n);
    }

    // Next chunk of application bytes: raw, or inflated when COMPRESS is on.
    mv::error next_read(std::string_view& out) {
        if (!zlib) {
            std::size_t n = 0;
            if (auto ec = read_some(n)) return net_error(ec, "reading");
            counters.wire_read += n;
            counters.bytes_read += n;
            out = std::string_view(rbuf.data(), n);
            return {};
        }
        for (;;) {
            if (z_pending == 0) {
                std::size_t n = 0;
                if (auto ec = read_some(n)) return net_error(ec, "reading");
                counters.wire_read += n;
                z_pending = n;
                z_offset = 0;
            }
            z_stream& z = zlib->in;
            z.next_in = reinterpret_cast<Bytef*>(rbuf.data() + z_offset);
            z.avail_in = static_cast<uInt>(z_pending);
            z.next_out = reinterpret_cast<Bytef*>(zbuf.data());
            z.avail_out = static_cast<uInt>(zbuf.size());
            int rc = inflate(&z, Z_SYNC_FLUSH);
            if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
                return mv::error(errc::protocol,
                                 "COMPRESS=DEFLATE stream from " + where() +
                                     " is corrupt (zlib: " + (z.msg ? z.msg : "error") + ")");
            std::size_t consumed = z_pending - z.avail_in;
            z_offset += consumed;
            z_pending -= consumed;
            std::size_t produced = zbuf.size() - z.avail_out;
            if (produced > 0) {
                counters.bytes_read += produced;
                out = std::string_view(zbuf.data(), produced);
                return {};
            }
            if (consumed == 0 && z_pending > 0)
                return mv::error(errc::protocol,
                                 "COMPRESS=DEFLATE stream from " + where() + " made no progress");
        }
    }

    mv::error do_write(std::string_view d) {
        counters.bytes_written += d.size();
        if (!zlib) {
            if (auto ec = write_all(d.data(), d.size())) return net_error(ec, "writing");
            counters.wire_written += d.size();
            return {};
        }
        z_stream& z = zlib->out;
        wbuf.resize(deflateBound(&z, static_cast<uLong>(d.size())) + 64);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(d.data()));
        z.avail_in = static_cast<uInt>(d.size());
        z.next_out = reinterpret_cast<Bytef*>(wbuf.data());
        z.avail_out = static_cast<uInt>(wbuf.size());
        if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in != 0)
            return mv::error(errc::internal, "deflate failed");
        std::size_t len = wbuf.size() - z.avail_out;
        if (auto ec = write_all(wbuf.data(), len)) return net_error(ec, "writing");
        counters.wire_written += len;
        return {};
    }
};

connection::connection(std::unique_ptr<impl> p) : p_(std::move(p)) {
    p_->stop_id = add_stop_callback([this] { cancel(); });
}

connection::~connection() {
    if (p_) remove_stop_callback(p_->stop_id);
    if (p_ && p_->rec) p_->rec->event("closed");
    if (p_ && p_->tls && !p_->dead) {
        // Best effort close_notify, bounded by a short timeout; never throws.
        p_->ep.timeout = std::chrono::milliseconds(200);
        std::size_t n = 0;
        p_->step(
            [&](auto handler) {
                p_->tls->async_shutdown(
                    [h = std::move(handler)](const error_code& e) mutable { h(e, 0); });
            },
            n);
    }
}

std::vector<peer_certificate> seen_certificates() {
    std::lock_guard lk(seen_mu);
    return seen_certs;
}

std::unique_ptr<connection> connection::open(const endpoint& ep, mv::error& err) {
    if (stop_requested()) {
        err = mv::error(errc::cancelled, "stopped before connecting to " + ep.host);
        return nullptr;
    }
    auto p = std::make_unique<impl>();
    p->ep = ep;
    if (ep.tls != tls_mode::plain) {
        if ((err = p->setup_tls_context())) return nullptr;
    }
    tcp::resolver resolver(p->ioc);
    error_code ec;
    const std::string& target = ep.address.empty() ? ep.host : ep.address;
    auto results =
        ep.address.empty()
            ? resolver.resolve(target, std::to_string(ep.port), ec)
            : resolver.resolve(target, std::to_string(ep.port),
                               tcp::resolver::numeric_host | tcp::resolver::numeric_service, ec);
    if (ec) {
        err = mv::error(errc::network, "cannot resolve host '" + target + "': " + ec.message() +
                                           "; check `host` in the config");
        return nullptr;
    }
    std::size_t n = 0;
    ec = p->step(
        [&](auto handler) {
            asio::async_connect(
                p->sock, results,
                [h = std::move(handler)](const error_code& e, const tcp::endpoint&) mutable {
                    h(e, 0);
                });
        },
        n);
    if (ec) {
        if (ec == asio::error::timed_out)
            err = mv::error(errc::timeout, "connecting to " + p->where() + " timed out after " +
                                               std::to_string(ep.timeout.count() / 1000) + " s");
        else
            err = mv::error(errc::network, "cannot connect to " + p->where() + ": " + ec.message() +
                                               "; check host, port and network");
        return nullptr;
    }
    p->sock.set_option(tcp::no_delay(true), ec);
    if (ep.tls == tls_mode::implicit) {
        if ((err = p->handshake())) return nullptr;
    }
    err = {};
    return std::unique_ptr<connection>(new connection(std::move(p)));
}

namespace {

// Bytes of a long line or literal that count as progress on their own (also in imap::op_base).
constexpr std::uint64_t progress_chunk = 16 * 1024;

// The progress deadline of one run(): the endpoint's timeout bounds not only each read but the
// time spent waiting for the server between two steps of *useful progress*, so a server trickling
// bytes (1 byte/s keeps every single read short) cannot keep an operation alive forever. Progress
// is what the operation reports (operation::progress()), else a read containing a line feed or
// another progress_chunk bytes. Only time spent waiting in reads counts: time the operation's
// consumer spends (a sink waiting for the archive) is not the server's. A completed write, TLS
// handshake or deflate start restarts the clock (the server has a new request to answer).
// Flow: construct at the start of run() -> before each read, budget() -> waited(d) and got(bytes)
// after it -> saw(op) after each resume() -> restart() after a write.
class progress_clock {
public:
    explicit progress_clock(std::chrono::milliseconds timeout) : timeout_(timeout) {}

    std::chrono::milliseconds budget() const { return timeout_ - waited_; }
    void restart() {
        waited_ = {};
        stray_ = 0;
    }
    void saw(const operation& op) {
        auto p = op.progress();
        if (p && p != last_) restart();
        last_ = p;
    }
    void waited(std::chrono::steady_clock::duration d) {
        waited_ += std::chrono::duration_cast<std::chrono::milliseconds>(d);
    }
    void got(std::string_view bytes) {
        if (!last_) {
            std::uint64_t before = total_ / progress_chunk;
            total_ += bytes.size();
            if (std::memchr(bytes.data(), '\n', bytes.size()) ||
                total_ / progress_chunk != before) {
                restart();
                return;
            }
        }
        stray_ += bytes.size();
    }
    // Bytes read since the last progress (0: the server said nothing at all).
    std::uint64_t stray() const { return stray_; }

private:
    std::chrono::milliseconds timeout_;
    std::chrono::milliseconds waited_{0};
    std::optional<std::uint64_t> last_;
    std::uint64_t stray_ = 0, total_ = 0;
};

}  // namespace

mv::error connection::run(operation& op) {
    impl& s = *p_;
    if (s.dead) return s.dead;
    progress_clock pc(s.ep.timeout);
    next_action a = op.resume(io_result::start());
    // A server that sends bytes but no progress for the whole timeout: the same errc::timeout as
    // silence, with a message saying what trickled in.
    auto stalled = [&] {
        return mv::error(errc::timeout,
                         "no progress from " + s.where() + " for " +
                             std::to_string(s.ep.timeout.count() / 1000) +
                             " s: " + std::to_string(pc.stray()) +
                             " bytes arrived without completing a response (server too slow "
                             "or stalling); check the server or raise timeout_seconds");
    };
    for (;;) {
        pc.saw(op);
        switch (a.kind) {
            case action_kind::done: return a.err;
            case action_kind::write: {
                if (auto e = s.do_write(a.data)) {
                    s.fail(e);
                    a = op.resume(io_result::failed(e));
                    // The operation must finish on failure; report the network error either way.
                    return a.kind == action_kind::done && a.err ? a.err : e;
                }
                if (s.rec) s.rec->bytes(trace::direction::sent, a.data);
                pc.restart();
                a = op.resume(io_result::written());
                break;
            }
            case action_kind::read: {
                std::string_view got;
                mv::error e;
                if (auto quiet = op.quiet_limit()) {
                    // IDLE: silence is expected; only a stop request or a dead socket ends it.
                    s.read_limit = std::max(*quiet, std::chrono::milliseconds(1));
                    s.quiet_read = true;
                    e = s.next_read(got);
                    s.quiet_read = false;
                    s.read_limit.reset();
                    if (e.code == errc::timeout && !s.cancelled) {
                        a = op.resume(io_result::quiet());
                        break;
                    }
                    if (e) {
                        s.fail(e);
                        a = op.resume(io_result::failed(e));
                        return a.kind == action_kind::done && a.err ? a.err : e;
                    }
                    if (s.rec) s.rec->bytes(trace::direction::received, got);
                    pc.restart();
                    a = op.resume(io_result::read(got));
                    break;
                }
                auto left = pc.budget();
                if (left.count() <= 0 && pc.stray() > 0) {
                    e = stalled();
                } else {
                    s.read_limit = std::max(left, std::chrono::milliseconds(1));
                    const auto t0 = std::chrono::steady_clock::now();
                    e = s.next_read(got);
                    pc.waited(std::chrono::steady_clock::now() - t0);
                    s.read_limit.reset();
                    if (e.code == errc::timeout && pc.stray() > 0) e = stalled();
                }
                if (e) {
                    s.fail(e);
                    a = op.resume(io_result::failed(e));
                    return a.kind == action_kind::done && a.err ? a.err : e;
                }
                if (s.rec) s.rec->bytes(trace::direction::received, got);
                pc.got(got);
                a = op.resume(io_result::read(got));
                break;
            }
            case action_kind::tls_handshake: {
                if (s.tls) return s.fail(mv::error(errc::protocol, "TLS requested twice"));
                if (s.zlib)
                    return s.fail(
                        mv::error(errc::protocol, "STARTTLS after COMPRESS is not allowed"));
                if (auto e = s.setup_tls_context()) return s.fail(e);
                if (auto e = s.handshake()) {
                    s.fail(e);
                    op.resume(io_result::failed(e));
                    return e;
                }
                if (s.rec) s.rec->event(s.tls_event());
                pc.restart();
                a = op.resume(io_result::tls_done());
                break;
            }
            case action_kind::start_deflate: {
                if (!s.zlib) {
                    s.zlib = std::make_unique<deflate_layer>();
                    if (!s.zlib->ok) return s.fail(mv::error(errc::internal, "zlib init failed"));
                }
                if (s.rec) s.rec->event("COMPRESS=DEFLATE started");
                pc.restart();
                a = op.resume(io_result::deflate_started());
                break;
            }
        }
    }
}

bool connection::tls_active() const {
    return p_->tls.has_value();
}

const io_counters& connection::counters() const {
    return p_->counters;
}

void connection::set_recorder(std::unique_ptr<trace::recorder> r) {
    p_->rec = std::move(r);
    if (p_->rec && p_->tls) p_->rec->event(p_->tls_event());
}

void connection::cancel() {
    p_->cancelled = true;
    asio::post(p_->ioc, [s = p_.get()] {
        error_code ignore;
        s->sock.cancel(ignore);
        s->sock.close(ignore);
    });
}

std::string certificate_fingerprint_file(const std::string& pem_path) {
    FILE* f = std::fopen(pem_path.c_str(), "r");
    if (!f) return {};
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!cert) return {};
    std::string fp = cert_fingerprint(cert);
    X509_free(cert);
    return fp;
}

}  // namespace mv::net
