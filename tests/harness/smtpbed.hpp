// The SMTP test bed, as a C++ RAII fixture over scripts/smtpbed.py: a private Postfix on free
// loopback ports (submission with STARTTLS + AUTH, implicit TLS, plain) delivering over LMTP into
// a running Dovecot test bed, so tests read what was sent back over IMAP or from the Maildir.
//
// Flow: construct with the Dovecot testbed -> Postfix runs with its own CA, SASL users and
// recipient access table; rcpt() makes the server answer a chosen 4xx/5xx to one recipient; the
// destructor stops it (also when a test fails).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "harness/testbed.hpp"

namespace mv::test {

class smtpbed {
public:
    // `users`: SASL logins (each also a mailbox NAME@localhost); `mailboxes`: more accepted
    // recipients NAME@localhost (each must be a user of the Dovecot test bed to be stored).
    explicit smtpbed(const testbed& imap,
                     std::vector<std::pair<std::string, std::string>> users = {{"alice",
                                                                                "alice-secret"}},
                     std::vector<std::string> mailboxes = {});
    ~smtpbed();
    smtpbed(const smtpbed&) = delete;
    smtpbed& operator=(const smtpbed&) = delete;

    // Postfix installed and this process may start its master (root).
    static bool available();

    std::uint16_t submission_port() const { return submission_; }
    std::uint16_t smtps_port() const { return smtps_; }
    std::uint16_t plain_port() const { return plain_; }
    // Like a domain's MX host on port 25: STARTTLS offered, no AUTH, mail for localhost.
    std::uint16_t mx_port() const { return mx_; }
    std::string ca_file() const { return (dir_.path() / "tls/ca.crt").string(); }
    std::string other_ca_file() const { return (dir_.path() / "tls/other-ca.crt").string(); }
    const std::filesystem::path& dir() const { return dir_.path(); }

    // From now on RCPT TO:<address> is answered with `answer` ("451 4.7.1 later"); "" removes it.
    void rcpt(const std::string& address, const std::string& answer);

private:
    std::string run_script(const std::vector<std::string>& args) const;
    temp_dir dir_;
    std::uint16_t submission_ = 0, smtps_ = 0, plain_ = 0, mx_ = 0;
};

}  // namespace mv::test
