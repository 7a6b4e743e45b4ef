#include "harness/fake_pop3.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <stdexcept>

namespace mv::test {

namespace {

constexpr int poll_ms = 20;

bool send_all(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
        auto n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// Dot-stuffed multi-line body with its terminator.
std::string stuffed(const std::string& body) {
    std::string out;
    out.reserve(body.size() + 8);
    bool line_start = true;
    for (char c : body) {
        if (line_start && c == '.') out.push_back('.');
        out.push_back(c);
        line_start = c == '\n';
    }
    if (!line_start) out += "\r\n";
    out += ".\r\n";
    return out;
}

}  // namespace

fake_pop3::fake_pop3(std::vector<fake_pop3_message> mailbox, fake_pop3_options o)
    : mailbox_(std::move(mailbox)), opts_(std::move(o)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("fake_pop3: socket() failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 8) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("fake_pop3: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
}

fake_pop3::~fake_pop3() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
}

std::vector<std::string> fake_pop3::dele_log() const {
    std::lock_guard lk(mu_);
    return dele_log_;
}
std::vector<std::string> fake_pop3::deleted_bodies() const {
    std::lock_guard lk(mu_);
    return deleted_;
}
std::vector<fake_pop3_message> fake_pop3::mailbox() const {
    std::lock_guard lk(mu_);
    return mailbox_;
}
void fake_pop3::set_mailbox(std::vector<fake_pop3_message> m) {
    std::lock_guard lk(mu_);
    mailbox_ = std::move(m);
}
void fake_pop3::set_options(fake_pop3_options o) {
    std::lock_guard lk(mu_);
    opts_ = std::move(o);
}
std::vector<std::string> fake_pop3::commands() const {
    std::lock_guard lk(mu_);
    return commands_;
}

void fake_pop3::serve() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, poll_ms) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        session(fd);
        ::close(fd);
    }
}

void fake_pop3::session(int fd) {
    std::vector<fake_pop3_message> box;
    fake_pop3_options o;
    {
        std::lock_guard lk(mu_);
        box = mailbox_;
        o = opts_;
    }
    std::set<std::size_t> marked;  // indexes DELE'd in this session
    auto msg = [&](const std::string& arg) -> fake_pop3_message* {
        std::size_t n = 0;
        try {
            n = std::stoul(arg);
        } catch (...) {
            return nullptr;
        }
        if (n == 0 || n > box.size() || marked.count(n - 1)) return nullptr;
        return &box[n - 1];
    };
    auto list_size = [](const fake_pop3_message& m) {
        return m.list_size ? *m.list_size : m.body.size();
    };
    if (!send_all(fd, "+OK fake POP3 ready\r\n")) return;
    std::string buf;
    bool authed = false;
    std::string user;
    while (!stop_) {
        auto nl = buf.find('\n');
        if (nl == std::string::npos) {
            pollfd p{fd, POLLIN, 0};
            int r = ::poll(&p, 1, poll_ms);
            if (r == 0) continue;
            char tmp[4096];
            auto n = ::recv(fd, tmp, sizeof tmp, 0);
            if (n <= 0) return;  // the client went away: nothing is applied
            buf.append(tmp, static_cast<std::size_t>(n));
            continue;
        }
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::istringstream in(line);
        std::string cmd, arg;
        in >> cmd >> arg;
        for (auto& c : cmd) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        {
            std::lock_guard lk(mu_);
            commands_.push_back(cmd == "PASS" ? "PASS ***" : line);
        }
        std::string out;
        if (cmd == "CAPA") {
            out = "+OK\r\nUSER\r\nUIDL\r\nTOP\r\nPIPELINING\r\nRESP-CODES\r\n.\r\n";
        } else if (cmd == "USER") {
            user = arg;
            out = "+OK\r\n";
        } else if (cmd == "PASS") {
            authed = user == o.user && arg == o.password;
            out = authed ? "+OK logged in\r\n" : "-ERR [AUTH] bad credentials\r\n";
        } else if (!authed && cmd != "QUIT") {
            out = "-ERR log in first\r\n";
        } else if (cmd == "STAT") {
            std::uint64_t total = 0, count = 0;
            for (std::size_t i = 0; i < box.size(); ++i)
                if (!marked.count(i)) total += list_size(box[i]), ++count;
            out = "+OK " + std::to_string(count) + " " + std::to_string(total) + "\r\n";
        } else if ((cmd == "LIST" || cmd == "UIDL") && arg.empty()) {
            out = "+OK\r\n";
            for (std::size_t i = 0; i < box.size(); ++i)
                if (!marked.count(i))
                    out += std::to_string(i + 1) + " " +
                           (cmd == "LIST" ? std::to_string(list_size(box[i])) : box[i].uidl) +
                           "\r\n";
            out += ".\r\n";
        } else if (cmd == "LIST" || cmd == "UIDL") {
            auto* m = msg(arg);
            out = !m ? "-ERR no such message\r\n"
                     : "+OK " + arg + " " +
                           (cmd == "LIST" ? std::to_string(list_size(*m)) : m->uidl) + "\r\n";
        } else if (cmd == "RETR" || cmd == "TOP") {
            auto* m = msg(arg);
            if (!m || (cmd == "RETR" && m->retr_err)) {
                out = "-ERR [SYS/TEMP] cannot read that message now\r\n";
            } else {
                const std::string& b = cmd == "RETR" && m->retr_body ? *m->retr_body : m->body;
                std::string part = b;
                if (cmd == "TOP") {
                    auto h = b.find("\r\n\r\n");
                    part = h == std::string::npos ? b : b.substr(0, h + 4);
                }
                out = "+OK\r\n" + stuffed(part);
            }
        } else if (cmd == "DELE") {
            auto* m = msg(arg);
            if (!m) {
                out = "-ERR no such message\r\n";
            } else {
                marked.insert(static_cast<std::size_t>(m - box.data()));
                std::lock_guard lk(mu_);
                dele_log_.push_back(m->uidl);
                out = "+OK marked\r\n";
            }
        } else if (cmd == "RSET") {
            marked.clear();
            out = "+OK\r\n";
        } else if (cmd == "NOOP") {
            out = "+OK\r\n";
        } else if (cmd == "QUIT") {
            if (o.drop_at_quit) return;
            if (authed && !marked.empty()) {
                std::lock_guard lk(mu_);
                std::vector<fake_pop3_message> rest;
                for (std::size_t i = 0; i < box.size(); ++i) {
                    if (marked.count(i))
                        deleted_.push_back(box[i].body);
                    else
                        rest.push_back(box[i]);
                }
                mailbox_ = std::move(rest);
            }
            send_all(fd, "+OK bye\r\n");
            return;
        } else {
            out = "-ERR unknown command\r\n";
        }
        if (!send_all(fd, out)) return;
    }
}

}  // namespace mv::test
