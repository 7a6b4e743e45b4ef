#include "harness/fake_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace mv::test {

namespace {

constexpr int poll_ms = 20;  // how often blocked calls look at the stop flag

std::string replace_tag(const std::string& bytes, const std::string& tag) {
    std::string out;
    std::size_t pos = 0;
    for (;;) {
        auto at = bytes.find("$TAG", pos);
        if (at == std::string::npos) break;
        out.append(bytes, pos, at - pos);
        out += tag;
        pos = at + 4;
    }
    out.append(bytes, pos, std::string::npos);
    return out;
}

}  // namespace

// ---------------------------------------------------------------- fake_script

fake_script& fake_script::send(std::string bytes) {
    steps_.push_back({step::kind::send, std::move(bytes), false, {}});
    return *this;
}

fake_script& fake_script::expect_tagged(std::string prefix) {
    steps_.push_back({step::kind::expect, std::move(prefix), true, {}});
    return *this;
}

fake_script& fake_script::expect(std::string prefix) {
    steps_.push_back({step::kind::expect, std::move(prefix), false, {}});
    return *this;
}

fake_script& fake_script::sleep(std::chrono::milliseconds ms) {
    steps_.push_back({step::kind::sleep, {}, false, ms});
    return *this;
}

fake_script& fake_script::trickle(std::string bytes, std::chrono::milliseconds per_byte) {
    steps_.push_back({step::kind::trickle, std::move(bytes), false, per_byte});
    return *this;
}

fake_script& fake_script::close() {
    steps_.push_back({step::kind::close, {}, false, {}});
    return *this;
}

// ---------------------------------------------------------------- fake_server

fake_server::fake_server(fake_script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("fake_server: socket() failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 8) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("fake_server: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
}

fake_server::~fake_server() {
    {
        // Under the lock, so a sleeper cannot miss the wake-up between its check and its wait.
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
}

std::vector<std::string> fake_server::received() const {
    std::lock_guard<std::mutex> lk(mu_);
    return received_;
}

std::vector<std::string> fake_server::problems() const {
    std::lock_guard<std::mutex> lk(mu_);
    return problems_;
}

bool fake_server::wait_finished(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return finished_ >= n; });
}

void fake_server::problem(std::string what) {
    std::lock_guard<std::mutex> lk(mu_);
    problems_.push_back(std::move(what));
}

void fake_server::serve() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, poll_ms) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        play(fd);
        ::close(fd);
        {
            std::lock_guard<std::mutex> lk(mu_);
            ++finished_;
        }
        cv_.notify_all();
    }
}

void fake_server::play(int fd) {
    std::string buf, line, tag;
    for (const auto& st : script_.steps()) {
        switch (st.k) {
            case fake_script::step::kind::send:
                if (!send_all(fd, replace_tag(st.data, tag))) return;
                break;
            case fake_script::step::kind::expect: {
                if (!read_line(fd, buf, line)) {
                    if (!stop_) problem("connection ended while expecting '" + st.data + "'");
                    return;
                }
                std::string rest = line;
                if (st.tagged) {
                    auto sp = line.find(' ');
                    tag = line.substr(0, sp);
                    rest = sp == std::string::npos ? "" : line.substr(sp + 1);
                }
                if (rest.compare(0, st.data.size(), st.data) != 0) {
                    problem("expected '" + st.data + "', got '" + line + "'");
                    return;
                }
                break;
            }
            case fake_script::step::kind::sleep:
                if (!interruptible_sleep(st.ms)) return;
                break;
            case fake_script::step::kind::trickle: {
                std::string bytes = replace_tag(st.data, tag);
                for (char c : bytes) {
                    if (!send_all(fd, std::string(1, c)) || !interruptible_sleep(st.ms)) return;
                }
                break;
            }
            case fake_script::step::kind::close: return;
        }
    }
    // Script done: keep the connection until the client goes away, recording what it sends.
    while (read_line(fd, buf, line)) {
    }
}

bool fake_server::send_all(int fd, const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        if (stop_) return false;
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, poll_ms) <= 0) continue;
        auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

bool fake_server::read_line(int fd, std::string& buf, std::string& line) {
    for (;;) {
        auto eol = buf.find('\n');
        if (eol != std::string::npos) {
            line = buf.substr(0, eol);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            buf.erase(0, eol + 1);
            std::lock_guard<std::mutex> lk(mu_);
            received_.push_back(line);
            return true;
        }
        if (stop_) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, poll_ms) <= 0) continue;
        char chunk[4096];
        auto n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;
        buf.append(chunk, static_cast<std::size_t>(n));
    }
}

bool fake_server::interruptible_sleep(std::chrono::milliseconds ms) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, ms, [&] { return stop_.load(); });
    return !stop_;
}

}  // namespace mv::test
