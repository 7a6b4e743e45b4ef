// A scripted fake POP3 server on 127.0.0.1 that misbehaves on purpose, for the hostile POP3
// tests (issue 11): UIDLs reused or shared, RETR answering with other bytes or a short body, a
// -ERR in the middle, a connection dropped at QUIT. It answers CAPA, USER/PASS, STAT, LIST, UIDL,
// TOP, RETR, DELE, RSET, NOOP and QUIT (pipelined commands too), dot-stuffs bodies, and applies
// DELE only at a QUIT it answers with +OK, like a real server.
//
// Flow: construct with a mailbox -> it listens on an ephemeral loopback port; its own thread
// serves one connection at a time -> the test runs `mailvault sync` against port() -> dele_log()
// tells which DELEs arrived (by UIDL, every session), mailbox() what is left after committed
// QUITs -> set_mailbox() changes what the next session sees (e.g. a server that lost its UIDL
// database) -> the destructor stops the thread and closes every socket.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mv::test {

struct fake_pop3_message {
    std::string uidl;
    std::string body;                        // the message as stored (CRLF line ends)
    std::optional<std::string> retr_body;    // what RETR sends instead (a lie)
    std::optional<std::uint64_t> list_size;  // what LIST says instead of body.size()
    bool retr_err = false;                   // RETR answers -ERR
};

struct fake_pop3_options {
    std::string user = "u";
    std::string password = "pw";
    bool drop_at_quit = false;  // close the connection when QUIT arrives: nothing is applied
};

class fake_pop3 {
public:
    explicit fake_pop3(std::vector<fake_pop3_message> mailbox, fake_pop3_options o = {});
    ~fake_pop3();
    fake_pop3(const fake_pop3&) = delete;
    fake_pop3& operator=(const fake_pop3&) = delete;

    std::uint16_t port() const { return port_; }
    // UIDL of every DELE received (accepted with +OK), in order, over all sessions.
    std::vector<std::string> dele_log() const;
    // Bodies deleted by committed QUITs (the true stored body, not retr_body).
    std::vector<std::string> deleted_bodies() const;
    std::vector<fake_pop3_message> mailbox() const;
    void set_mailbox(std::vector<fake_pop3_message> m);
    void set_options(fake_pop3_options o);
    std::vector<std::string> commands() const;  // every command line received

private:
    void serve();
    void session(int fd);

    mutable std::mutex mu_;
    std::vector<fake_pop3_message> mailbox_;
    fake_pop3_options opts_;
    std::vector<std::string> dele_log_, deleted_, commands_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace mv::test
