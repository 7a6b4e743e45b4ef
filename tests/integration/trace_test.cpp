// `--trace FILE` against the real Dovecot (issue #15): every IMAP and POP3 command and response
// is in the file, the file is private, and no password and no byte of a message is.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "harness/local.hpp"
#include "harness/sync_env.hpp"

using namespace mv::test;

TEST_CASE("trace: a sync's IMAP and POP3 conversations are written redacted",
          "[integration][trace]") {
    temp_dir seed_imap{"mailvault-seed"}, seed_pop{"mailvault-seed"};
    const auto imap_mail = corpus_messages("mikel-mail/emails/plain_emails");
    const auto pop_mail = corpus_messages("mikel-mail/emails/rfc2822");
    REQUIRE(!imap_mail.empty());
    REQUIRE(!pop_mail.empty());
    seed_folder(seed_imap, "INBOX", imap_mail);
    seed_folder(seed_pop, "INBOX", pop_mail);
    testbed_options o;
    o.users = {{"alice", "alice-Tr4ce-pw", seed_imap.path().string()},
               {"carol", "carol-Tr4ce-pw", seed_pop.path().string()}};
    testbed tb(o);
    sync_env env(tb, MV_CLI_PATH);
    env.write_config({{"alice", "alice", "alice-Tr4ce-pw", "imap", "starttls", ""},
                      {"carol", "carol", "carol-Tr4ce-pw", "pop3", "implicit", ""}});
    const auto trace = env.dir() / "trace.log";
    ::umask(022);
    auto r = env.cli({"sync", "--trace", trace.string()});
    INFO(r.errors);
    REQUIRE(r.status == 0);

    struct stat st {};
    REQUIRE(::stat(trace.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const std::string t = read_file(trace);

    // Both conversations, with their shape.
    CHECK(t.find("open account 'alice' imap ") != std::string::npos);
    CHECK(t.find("open account 'carol' pop3 ") != std::string::npos);
    CHECK(t.find("STARTTLS") != std::string::npos);
    CHECK(t.find("-- TLS established; certificate verified") != std::string::npos);
    CHECK(t.find("UID FETCH") != std::string::npos);
    CHECK(t.find("[literal of ") != std::string::npos);
    CHECK(t.find("C: RETR 1") != std::string::npos);
    CHECK(t.find("S:   [message of ") != std::string::npos);
    CHECK(t.find("-- closed") != std::string::npos);

    // Nothing secret: the passwords in any form, and no line of any message.
    CHECK(t.find("Tr4ce") == std::string::npos);
    CHECK(t.find("AGFsaWNl") == std::string::npos);  // base64 of "\0alice..." (SASL PLAIN)
    std::size_t checked = 0;
    for (const auto& files : {imap_mail, pop_mail})
        for (const auto& f : files) {
            std::istringstream in(read_file(f));
            for (std::string line; std::getline(in, line);) {
                if (!line.empty() && line.back() == '\r') line.pop_back();
                // Lines long enough to be the message's own (not "}" or a bare header name).
                if (line.size() < 24) continue;
                ++checked;
                INFO(f << ": " << line);
                CHECK(t.find(line) == std::string::npos);
            }
        }
    CHECK(checked > 20);
}
