#include "web/server.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace mv::web {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

mv::error parse_listen(std::string_view listen, std::string& host, std::uint16_t& port) {
    auto colon = listen.rfind(':');
    auto bad = [&] {
        return mv::error(errc::usage, "bad listen address '" + std::string(listen) +
                                          "'; write HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080");
    };
    if (colon == std::string_view::npos || colon == 0 || colon + 1 >= listen.size()) return bad();
    std::string_view h = listen.substr(0, colon);
    if (h.front() == '[') {
        if (h.back() != ']') return bad();
        h = h.substr(1, h.size() - 2);
    }
    unsigned long p = 0;
    for (char c : listen.substr(colon + 1)) {
        if (c < '0' || c > '9' || p > 65535) return bad();
        p = p * 10 + static_cast<unsigned long>(c - '0');
    }
    if (p > 65535 || h.empty()) return bad();
    host = std::string(h);
    port = static_cast<std::uint16_t>(p);
    return {};
}

struct server::impl {
    server_options o;
    std::function<std::unique_ptr<handler>()> make_handler;
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    asio::signal_set signals{ioc, SIGINT, SIGTERM};
    std::optional<asio::ssl::context> tls;

    std::mutex m;
    std::condition_variable cv;
    std::deque<tcp::socket::native_handle_type> waiting;  // accepted, not yet served
    std::atomic<bool> stopping{false};
    std::vector<asio::io_context*> worker_ioc;  // to cancel their connections at shutdown
    std::vector<std::thread> workers;

    void accept() {
        acceptor.async_accept([this](error_code ec, tcp::socket s) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
            if (!ec) {
                std::unique_lock lock(m);
                if (waiting.size() >= o.queue) {
                    lock.unlock();
                    static const char busy[] =
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: "
                        "close\r\nRetry-After: 2\r\n\r\n";
                    error_code ignored;
                    s.non_blocking(true, ignored);
                    s.write_some(asio::buffer(busy, sizeof busy - 1), ignored);
                } else {
                    waiting.push_back(s.release());
                    cv.notify_one();
                }
            }
            accept();
        });
    }

    void shutdown() {
        error_code ignored;
        acceptor.close(ignored);
        signals.cancel(ignored);
        std::lock_guard lock(m);
        stopping = true;
        for (auto* w : worker_ioc) w->stop();
        cv.notify_all();
    }

    // Runs one async operation on `w` with the stream's deadline; false when it failed or timed
    // out (the connection is then abandoned).
    template <class Start>
    static bool await(asio::io_context& w, Start&& start) {
        std::optional<error_code> result;
        start([&](error_code ec, auto&&...) { result = ec; });
        w.restart();
        w.run();
        return result && !*result;
    }

    template <class Stream>
    void serve(asio::io_context& w, Stream& stream, beast::tcp_stream& tcp_layer, handler& h,
               const client_info& client) {
        beast::flat_buffer buf(o.max_header + o.max_body);
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(o.max_header));
        parser.body_limit(o.max_body);
        std::optional<error_code> rec;
        if (stopping) return;
        tcp_layer.expires_after(o.request_timeout);
        http::async_read(stream, buf, parser, [&](error_code ec, std::size_t) { rec = ec; });
        w.restart();
        w.run();
        if (!rec) return;  // shutdown
        response res;
        if (*rec) {
            if (*rec == http::error::body_limit || *rec == http::error::header_limit ||
                *rec == http::error::buffer_overflow) {
                res = response(http::status::payload_too_large, 11);
                res.set(http::field::content_type, "text/plain; charset=utf-8");
                res.body() = "request too large\n";
            } else {
                return;  // timeout, reset, garbage: nothing to answer
            }
        } else {
            try {
                res = h.handle(parser.get(), client);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "mailvault serve: %s\n", e.what());
                res = response(http::status::internal_server_error, 11);
                res.set(http::field::content_type, "text/plain; charset=utf-8");
                res.body() = "internal error; see the server's log\n";
            }
        }
        res.keep_alive(false);
        body_stream body = *rec ? body_stream() : h.take_body_stream();
        tcp_layer.expires_after(o.write_timeout);
        if (!body) {
            res.prepare_payload();
            await(w, [&](auto cb) { http::async_write(stream, res, cb); });
            return;
        }
        // Headers (with the handler's Content-Length), then the body as it is produced; each
        // piece gets the write timeout afresh, so a large download is bounded by progress.
        http::response_serializer<http::string_body> sr{res};
        if (!await(w, [&](auto cb) { http::async_write_header(stream, sr, cb); })) return;
        body([&](std::string_view piece) {
            tcp_layer.expires_after(o.write_timeout);
            return await(w, [&](auto cb) {
                asio::async_write(stream, asio::buffer(piece.data(), piece.size()), cb);
            });
        });
    }

    void worker_main(asio::io_context& w) {
        std::unique_ptr<handler> h;
        try {
            h = make_handler();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "mailvault serve: a worker could not start: %s\n", e.what());
            return;
        }
        for (;;) {
            tcp::socket::native_handle_type fd;
            {
                std::unique_lock lock(m);
                cv.wait(lock, [&] { return stopping || !waiting.empty(); });
                if (stopping) return;
                fd = waiting.front();
                waiting.pop_front();
            }
            error_code ec;
            tcp::socket sock(w);
            sock.assign(acceptor.local_endpoint(ec).protocol(), fd, ec);
            if (ec) {
                ::close(fd);
                continue;
            }
            client_info client;
            client.address = sock.remote_endpoint(ec).address().to_string();
            client.tls = tls.has_value();
            beast::tcp_stream ts(std::move(sock));
            if (tls) {
                asio::ssl::stream<beast::tcp_stream&> ss(ts, *tls);
                ts.expires_after(o.request_timeout);
                if (!await(w, [&](auto cb) {
                        ss.async_handshake(asio::ssl::stream_base::server, cb);
                    }))
                    continue;
                serve(w, ss, ts, *h, client);
                ts.expires_after(std::chrono::seconds(2));
                await(w, [&](auto cb) { ss.async_shutdown(cb); });
            } else {
                serve(w, ts, ts, *h, client);
                ts.socket().shutdown(tcp::socket::shutdown_send, ec);
            }
        }
    }
};

server::server(server_options o, std::function<std::unique_ptr<handler>()> make_handler)
    : d_(std::make_unique<impl>()) {
    d_->o = std::move(o);
    d_->make_handler = std::move(make_handler);
    error_code ec;
    auto addr = asio::ip::make_address(d_->o.host, ec);
    if (ec)
        throw mv::failure(errc::usage, "serve: '" + d_->o.host +
                                           "' is not an IP address; listen on an address such as "
                                           "127.0.0.1 or ::1");
    if (!d_->o.tls_cert.empty()) {
        d_->tls.emplace(asio::ssl::context::tls_server);
        d_->tls->set_options(asio::ssl::context::default_workarounds |
                             asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        d_->tls->use_certificate_chain_file(d_->o.tls_cert.string(), ec);
        if (ec)
            throw mv::failure(errc::config, "serve: cannot load tls_cert " +
                                                d_->o.tls_cert.string() + ": " + ec.message());
        d_->tls->use_private_key_file(d_->o.tls_key.string(), asio::ssl::context::pem, ec);
        if (ec)
            throw mv::failure(errc::config, "serve: cannot load tls_key " + d_->o.tls_key.string() +
                                                ": " + ec.message() + " (does it match tls_cert?)");
    }
    tcp::endpoint ep(addr, d_->o.port);
    d_->acceptor.open(ep.protocol(), ec);
    if (!ec) d_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) d_->acceptor.bind(ep, ec);
    if (!ec) d_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw mv::failure(errc::network, "serve: cannot listen on " + d_->o.host + ":" +
                                             std::to_string(d_->o.port) + ": " + ec.message());
}

server::~server() {
    if (d_) {
        for (auto& t : d_->workers)
            if (t.joinable()) t.join();
    }
}

std::uint16_t server::port() const {
    error_code ec;
    return d_->acceptor.local_endpoint(ec).port();
}

void server::stop() {
    asio::post(d_->ioc, [this] { d_->shutdown(); });
}

void server::run() {
    std::vector<std::unique_ptr<asio::io_context>> iocs;
    {
        std::lock_guard lock(d_->m);
        for (std::size_t i = 0; i < std::max<std::size_t>(1, d_->o.workers); ++i) {
            iocs.push_back(std::make_unique<asio::io_context>());
            d_->worker_ioc.push_back(iocs.back().get());
        }
    }
    for (auto& w : iocs) d_->workers.emplace_back([this, p = w.get()] { d_->worker_main(*p); });
    d_->signals.async_wait([this](error_code ec, int) {
        if (!ec) d_->shutdown();
    });
    d_->accept();
    d_->ioc.run();
    for (auto& t : d_->workers) t.join();
    d_->workers.clear();
    {
        std::lock_guard lock(d_->m);
        for (auto fd : d_->waiting) ::close(fd);
        d_->waiting.clear();
        d_->worker_ioc.clear();
    }
}

}  // namespace mv::web
