// The second server: Cyrus IMAP 3.6 (Debian's cyrus-imapd) in the test bed, and the main
// `mailvault sync` scenario against it (issue #12, "A second server implementation").
//
// What differs from the Dovecot test bed (observed here, Debian 12 packages, Cyrus 3.6.1):
// * Namespace: Cyrus (as Debian configures it: altnamespace no, unixhierarchysep no) answers
//   NAMESPACE (("INBOX." ".")) (("user." ".")) (("" ".")): personal folders live below INBOX
//   ("Archive/2024" is "INBOX.Archive.2024"), and there are other-users and shared namespaces.
//   Dovecot's default here is (("" "/")) NIL NIL. The separator is "." instead of "/", so a "."
//   inside a folder name is impossible on Cyrus.
// * Parents are real folders: creating INBOX.Projets.Été first creates INBOX.Projets (empty),
//   LIST marks \HasChildren / \HasNoChildren. Non-ASCII names are modified UTF-7 on both.
// * Content: Cyrus refuses bare LF in APPEND (the harness sends CRLF; Dovecot stores LF files
//   and serves them as CRLF), refuses some malformed messages outright ("Message contains
//   invalid header": two of the corpus files used here, raw_email_incorrect_header.eml and
//   rfc2822/example13.eml -- Dovecot stores them), and replaces 8-bit bytes in headers by 'X'
//   (munge8bit, e.g. the Hebrew comment of raw_email_string_in_date_field.eml). What Cyrus serves
//   is then stable: BODY[] length == RFC822.SIZE, the archive holds exactly those bytes.
// * Flags: keywords ($Work) are kept like on Dovecot; \Recent shows up for the first session
//   (the harness drops it, the archive does not store it). INTERNALDATE from APPEND is kept.
// * UIDVALIDITY is a time stamp set at CREATE (e.g. 1796147419) and cannot be changed from outside
//   (no doveadm mailbox update): the UIDVALIDITY-change scenarios stay Dovecot-only.
// * Capabilities (before login): IMAP4rev1 LITERAL+ ID ENABLE ACL BINARY CATENATE CHILDREN
//   CONDSTORE QRESYNC ESEARCH LIST-EXTENDED LIST-STATUS MOVE MULTIAPPEND NAMESPACE UIDPLUS
//   UNSELECT SPECIAL-USE CREATE-SPECIAL-USE METADATA QUOTA OBJECTID SAVEDATE STATUS=SIZE XLIST
//   COMPRESS=DEFLATE IDLE APPENDLIMIT=4294967295 STARTTLS AUTH=PLAIN AUTH=LOGIN SASL-IR; Dovecot
//   has no ACL/QUOTA/METADATA/APPENDLIMIT here but SNIPPET/PREVIEW, NOTIFY, SEARCHRES, I18NLEVEL.
//   suppress_capabilities is the Cyrus way to remove one (testbed disabled_caps).
// * Packaging: cyrus-imapd conflicts with dovecot-imapd (and cyrus-pop3d with dovecot-pop3d), so
//   scripts/install-deps.sh unpacks imapd/pop3d into /opt/mailvault/cyrus; master and tools come
//   from cyrus-common. Services do not inherit master's -C (each cmd gets it). Cyrus logs only
//   to syslog (none runs here): failures show up as IMAP replies.
#include <catch2/catch.hpp>

#include "harness/line_op.hpp"
#include "harness/sync_env.hpp"
#include "harness/tls_checks.hpp"
#include "mailvault/net.hpp"

using namespace mv;
using namespace mv::test;

namespace {

net::endpoint ep(std::uint16_t port, net::tls_mode mode, const std::string& ca,
                 const std::string& host = "127.0.0.1") {
    return tb_endpoint(port, mode, ca, host);
}

// Skips (with a WARN, never silently) only when Cyrus is not installed.
#define MV_REQUIRE_CYRUS()                                                               \
    do {                                                                                 \
        if (!mv::test::cyrus_available()) {                                              \
            WARN("Cyrus IMAP is not installed (scripts/install-deps.sh): test not run"); \
            return;                                                                      \
        }                                                                                \
    } while (0)

std::int64_t total(const nlohmann::json& summary, const char* key) {
    std::int64_t n = 0;
    for (const auto& a : summary.at("accounts"))
        for (const auto& f : a.at("folders")) n += f.at(key).get<std::int64_t>();
    return n;
}

}  // namespace

TEST_CASE("cyrus: the test bed starts, logs in with the right password and refuses a wrong one") {
    MV_REQUIRE_CYRUS();
    testbed tb(cyrus_options({{"alice", "alice-secret", ""}, {"bob", "bob-secret", ""}}));
    CHECK(tb.kind() == server_kind::cyrus);
    CHECK(tb.ns_prefix() == "INBOX.");
    CHECK(tb.separator() == '.');
    mv::error err;
    auto c = net::connection::open(ep(tb.imap_port(), net::tls_mode::plain, ""), err);
    REQUIRE_FALSE(err);
    line_op op({"a LOGIN alice wrong-secret", "b LOGIN bob alice-secret",
                "c LOGIN alice alice-secret", "d NAMESPACE", "e LOGOUT"});
    REQUIRE_FALSE(c->run(op));
    REQUIRE(op.replies.size() >= 6);
    CHECK(op.replies[0].rfind("* OK", 0) == 0);
    CHECK(op.replies[1].rfind("a NO", 0) == 0);
    CHECK(op.replies[2].rfind("b NO", 0) == 0);  // another user's password
    CHECK(op.replies[3].find("c OK") != std::string::npos);
    CHECK(op.replies[4].find("(\"INBOX.\" \".\")") != std::string::npos);
    // The users' mailboxes exist: INBOX of each, nothing else yet.
    CHECK(tb.folders("alice") == std::vector<std::string>{"INBOX"});
    CHECK(tb.served("bob", "INBOX").messages.empty());
}

TEST_CASE("cyrus: STARTTLS and IMAPS verify the certificate of the test CA") {
    MV_REQUIRE_CYRUS();
    testbed tb(cyrus_options());
    check_imap_tls(tb, "LOGIN alice alice-secret");
    SECTION("POP3S answers with the same certificate") {
        mv::error err;
        auto c =
            net::connection::open(ep(tb.pop3s_port(), net::tls_mode::implicit, tb.ca_file()), err);
        REQUIRE_FALSE(err);
        line_op op({"USER alice", "PASS alice-secret", "QUIT"});
        REQUIRE_FALSE(c->run(op));
        REQUIRE(op.replies.size() >= 3);
        CHECK(op.replies[2].rfind("+OK", 0) == 0);
    }
}

TEST_CASE(
    "cyrus: mailvault sync mirrors nested and non-ASCII folders byte for byte, then changes") {
    MV_REQUIRE_CYRUS();
    temp_dir seed("mailvault-seed");
    seed_folder(seed, "INBOX", corpus_messages("mikel-mail/emails/plain_emails"));
    seed_folder(seed, "Archive", corpus_messages("mikel-mail/emails/rfc2822"));
    seed_folder(seed, "Archive.2024", corpus_messages("mikel-mail/emails/multi_charset"));
    // UTF-8 here: the harness CREATEs and APPENDs in modified UTF-7 (Projets/&AMk-t&AOk-).
    seed_folder(seed, "Projets.Été", corpus_messages("mailkit/imap/common/message.1"));
    testbed tb(cyrus_options({{"alice", "alice-pw", seed.path().string()}}));
    const std::vector<std::string> folders = {"INBOX", "INBOX.Archive", "INBOX.Archive.2024",
                                              "INBOX.Projets", "INBOX.Projets.Été"};
    CHECK(tb.folders("alice") == std::vector<std::string>{"INBOX", "INBOX.Archive",
                                                          "INBOX.Archive.2024", "INBOX.Projets",
                                                          "INBOX.Projets.Été"});
    CHECK(tb.folder_name("Archive.2024") == "INBOX.Archive.2024");
    sync_env env(tb, MV_CLI_PATH);
    env.write_config({{"alice", "alice", "alice-pw", "imap", "starttls", ""}});

    auto check_all = [&] {
        auto a = env.open_archive();
        std::size_t n = 0;
        for (const auto& f : folders) n += check_mirror_served(*a, tb, "alice", "alice", f);
        env.expect_complete_against_server();
        return n;
    };

    auto first = env.sync();
    const auto seeded = check_all();
    CHECK(seeded > 10);
    CHECK(total(first, "new_messages") == static_cast<std::int64_t>(seeded));
    CHECK(folder_report(first, "alice", "INBOX.Projets.Été").at("new_messages").get<int>() > 0);

    // Nothing changed: nothing fetched.
    auto second = env.sync();
    CHECK(total(second, "bodies_fetched") == 0);
    CHECK(total(second, "new_messages") == 0);

    // Server-side changes: a new message, flags (incl. a keyword), expunges.
    auto extra = corpus_messages("mikel-mail/emails/rfc2822/example01");
    REQUIRE(!extra.empty());
    const auto new_uid = tb.add("alice", "INBOX", extra[0], "\\Seen");
    CHECK(new_uid > 0);
    tb.flags("alice", "INBOX", 1, "add", {"\\Flagged", "$Work"});
    tb.flags("alice", "INBOX.Archive", 2, "replace", {"\\Answered"});
    tb.expunge("alice", "INBOX", {3});
    tb.expunge("alice", "INBOX.Archive.2024", {1});
    auto third = env.sync();
    CHECK(folder_report(third, "alice", "INBOX").at("new_messages") == 1);
    CHECK(folder_report(third, "alice", "INBOX").at("expunged") == 1);
    CHECK(folder_report(third, "alice", "INBOX").at("flags_updated").get<int>() >= 1);
    CHECK(folder_report(third, "alice", "INBOX.Archive").at("flags_updated").get<int>() >= 1);
    CHECK(folder_report(third, "alice", "INBOX.Archive.2024").at("expunged") == 1);
    CHECK(total(third, "bodies_fetched") == 1);
    CHECK(check_all() == seeded - 1);  // +1 new, -2 expunged

    auto a = env.open_archive();
    auto e1 = a->find_entry("alice", "INBOX", 1);
    REQUIRE(e1);
    CHECK(archive::split_flags(e1->flags) ==
          std::vector<std::string>{"$Work", "\\Flagged", "\\Seen"});
    auto e3 = a->find_entry("alice", "INBOX", 3);
    REQUIRE(e3);
    CHECK(e3->expunged_at);  // kept in the archive, marked

    auto fourth = env.sync();
    CHECK(total(fourth, "bodies_fetched") == 0);
}

TEST_CASE("cyrus: without QRESYNC and CONDSTORE the sync falls back to listings and stays exact") {
    MV_REQUIRE_CYRUS();
    temp_dir seed("mailvault-seed");
    seed_folder(seed, "INBOX", corpus_messages("mikel-mail/emails/rfc2822"));
    seed_folder(seed, "Archive.2024", corpus_messages("mikel-mail/emails/multi_charset"));
    testbed tb(cyrus_options({{"alice", "alice-pw", seed.path().string()}}));
    tb.restart({"QRESYNC", "CONDSTORE"});
    sync_env env(tb, MV_CLI_PATH);
    env.write_config({{"alice", "alice", "alice-pw", "imap", "implicit", ""}});
    auto first = env.sync();
    CHECK(total(first, "new_messages") > 0);
    tb.flags("alice", "INBOX.Archive.2024", 2, "add", {"$Later"});
    tb.expunge("alice", "INBOX", {1});
    auto second = env.sync();
    CHECK(folder_report(second, "alice", "INBOX").at("strategy") == "listing");
    CHECK(folder_report(second, "alice", "INBOX").at("expunged") == 1);
    CHECK(folder_report(second, "alice", "INBOX.Archive.2024").at("flags_updated") == 1);
    CHECK(total(second, "bodies_fetched") == 0);
    auto a = env.open_archive();
    CHECK(check_mirror_served(*a, tb, "alice", "alice", "INBOX") > 0);
    CHECK(check_mirror_served(*a, tb, "alice", "alice", "INBOX.Archive.2024") > 0);
    env.expect_complete_against_server();
}

TEST_CASE("cyrus: one config with a Dovecot and a Cyrus account (account_spec.server)") {
    MV_REQUIRE_CYRUS();
    temp_dir seed_d("mailvault-seed"), seed_c("mailvault-seed");
    seed_folder(seed_d, "Archive.2024", corpus_messages("mikel-mail/emails/multi_charset"));
    seed_folder(seed_c, "Archive.2024", corpus_messages("mikel-mail/emails/multi_charset"));
    testbed_options dopts;
    dopts.users = {{"alice", "d-pw", seed_d.path().string()}};
    testbed dovecot(dopts);
    testbed cyrus(cyrus_options({{"alice", "c-pw", seed_c.path().string()}}));
    sync_env env(dovecot, MV_CLI_PATH);
    account_spec on_cyrus{"cyrus-alice", "alice", "c-pw", "imap", "starttls", ""};
    on_cyrus.server = &cyrus;
    env.write_config({{"dovecot-alice", "alice", "d-pw", "imap", "starttls", ""}, on_cyrus});
    auto s = env.sync();
    auto a = env.open_archive();
    const auto n_d = check_mirror(*a, dovecot, "alice", "dovecot-alice", "Archive/2024");
    const auto n_c = check_mirror_served(*a, cyrus, "alice", "cyrus-alice", "INBOX.Archive.2024");
    CHECK(n_d > 0);
    CHECK(n_c == n_d);
    // Same corpus files: Dovecot serves the LF files as CRLF, Cyrus stored them as CRLF; where
    // no header has 8-bit bytes (munged by Cyrus) the two servers serve the same bytes.
    auto d_msgs = dovecot.served("alice", "Archive/2024").messages;
    auto c_msgs = cyrus.served("alice", "INBOX.Archive.2024").messages;
    REQUIRE(d_msgs.size() == c_msgs.size());
    for (const auto& [uid, m] : d_msgs) CHECK(c_msgs.at(uid).content == m.content);
    env.expect_complete_against_server();
}
