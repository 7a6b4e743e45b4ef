// A scripted fake TCP server on 127.0.0.1, for the few things a real server cannot be made to do
// (garbage greetings, stalls, connections dropped mid-literal, injected bytes). Everything else is
// tested against the real Dovecot test bed.
//
// Flow: build a fake_script (send / expect / sleep / trickle / close steps) -> construct
// fake_server with it: it listens on an ephemeral loopback port and its own thread accepts
// connections one at a time, playing the whole script on each -> the test connects to port() with
// the real network runner -> received()/problems() tell what the client sent and where it left the
// script -> the destructor stops the thread at once (sleeps and reads are interruptible) and closes
// every socket.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mv::test {

class fake_script {
public:
    struct step {
        enum class kind { send, expect, sleep, close, trickle };
        kind k = kind::send;
        std::string data;  // send: bytes ("$TAG" becomes the last captured tag); expect: prefix
        bool tagged = false;
        std::chrono::milliseconds ms{0};
    };

    // Sends bytes; every "$TAG" in them is replaced by the tag of the last tagged expect().
    fake_script& send(std::string bytes);
    // Reads one line (CRLF or LF). The first word is captured as the client's tag; the rest must
    // start with `prefix` (case-sensitive), else the script stops and a problem is recorded.
    fake_script& expect_tagged(std::string prefix = "");
    // Reads one line that must start with `prefix` (POP3, continuation data).
    fake_script& expect(std::string prefix = "");
    fake_script& sleep(std::chrono::milliseconds ms);
    // Sends bytes one at a time, `per_byte` apart ("$TAG" replaced as for send()): a server that
    // answers, but too slowly to make progress.
    fake_script& trickle(std::string bytes, std::chrono::milliseconds per_byte);
    // Closes the connection at once (without waiting for the client).
    fake_script& close();

    const std::vector<step>& steps() const { return steps_; }

private:
    std::vector<step> steps_;
};

class fake_server {
public:
    explicit fake_server(fake_script script);
    ~fake_server();
    fake_server(const fake_server&) = delete;
    fake_server& operator=(const fake_server&) = delete;

    std::uint16_t port() const { return port_; }
    // Every line the clients sent, in order (without the line end).
    std::vector<std::string> received() const;
    // Where a client left the script (unexpected line, EOF before an expected line).
    std::vector<std::string> problems() const;
    // Waits until `n` connections have been played to their end (script done and client gone, or
    // the connection closed); false on timeout.
    bool wait_finished(std::size_t n, std::chrono::milliseconds timeout) const;

private:
    void serve();
    void play(int fd);
    bool send_all(int fd, const std::string& bytes);
    // One line from fd into `line`; false on EOF, error or stop.
    bool read_line(int fd, std::string& buf, std::string& line);
    bool interruptible_sleep(std::chrono::milliseconds ms);
    void problem(std::string what);

    fake_script script_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::vector<std::string> received_, problems_;
    std::size_t finished_ = 0;
    std::thread thread_;
};

}  // namespace mv::test
