// The web viewer's HTTP(S) server (Boost.Beast). The counterpart of engine/net/runner.cpp on
// the serving side, with the same conventions: Asio runs asynchronously under the hood only to
// get timeouts (every connection has one deadline for its TLS handshake and request, another
// for writing the answer), sizes are capped (request header 16 KiB, body 16 KiB: there are no
// uploads), a failure ends that connection only and is never an exception out of run().
//
// One connection carries one request (Connection: close): a worker is never held by an idle
// browser connection, so a few workers serve many users.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "mailvault/error.hpp"

namespace mv::web {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

struct client_info {
    std::string address;  // the peer's IP
    bool tls = false;
};

// Writes a body too large to hold in memory, piece by piece; `write` returns false when the
// client is gone. The producer returns false to cut the body short: with the Content-Length of
// its response the client then sees a truncated (failed) download, never wrong bytes as whole.
using body_write_fn = std::function<bool(std::string_view)>;
using body_stream = std::function<bool(const body_write_fn& write)>;

// One per worker thread: owns what is not thread-safe (the archive handle).
class handler {
public:
    virtual ~handler() = default;
    virtual response handle(const request& r, const client_info& c) = 0;
    // After handle(): a body to stream behind that response's headers (which then carry the
    // Content-Length and an empty body), or an empty function.
    virtual body_stream take_body_stream() { return {}; }
};

struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0: any free port (see server::port)
    std::filesystem::path tls_cert, tls_key;
    std::size_t workers = 4;
    std::size_t queue = 64;  // accepted connections waiting for a worker; beyond: 503
    std::chrono::seconds request_timeout{20};
    std::chrono::seconds write_timeout{120};
    std::size_t max_header = 16 * 1024;
    std::size_t max_body = 16 * 1024;
};

// Splits "HOST:PORT" / "[V6]:PORT". usage error when malformed.
mv::error parse_listen(std::string_view listen, std::string& host, std::uint16_t& port);

// Flow: construct (binds and listens; throws mv::failure on a bad address, a busy port or bad
// TLS files) -> port() -> run() (blocks; serves until SIGINT/SIGTERM or stop()) -> returns after
// every worker finished its connection.
class server {
public:
    server(server_options o, std::function<std::unique_ptr<handler>()> make_handler);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    std::uint16_t port() const;
    void run();
    void stop();  // thread-safe

private:
    struct impl;
    std::unique_ptr<impl> d_;
};

}  // namespace mv::web
