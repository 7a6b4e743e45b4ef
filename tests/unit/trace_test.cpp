// The protocol trace's redactors (mailvault/trace.hpp): whatever the split of the bytes, the same
// lines; never a password, a SASL response, or message data.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "mailvault/trace.hpp"

using mv::trace::direction;

namespace {

using script = std::vector<std::pair<direction, std::string>>;
constexpr direction C = direction::sent;
constexpr direction S = direction::received;

std::vector<std::string> run(std::unique_ptr<mv::trace::recorder> (*make)(mv::trace::line_out),
                             const script& sc, std::size_t split) {
    std::vector<std::string> lines;
    auto rec = make([&](std::string_view l) { lines.emplace_back(l); });
    for (const auto& [d, bytes] : sc) {
        // Every chunk in pieces of `split` bytes (0: whole).
        if (split == 0) {
            rec->bytes(d, bytes);
            continue;
        }
        for (std::size_t i = 0; i < bytes.size(); i += split)
            rec->bytes(d, std::string_view(bytes).substr(i, split));
    }
    return lines;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    return all;
}

void check_splits(std::unique_ptr<mv::trace::recorder> (*make)(mv::trace::line_out),
                  const script& sc) {
    const auto whole = run(make, sc, 0);
    for (std::size_t split = 1; split <= 9; ++split) {
        INFO("pieces of " << split << " bytes");
        CHECK(run(make, sc, split) == whole);
    }
}

const std::string body =
    "From: Ann <ann@example.org>\r\nSubject: the merger\r\n\r\nThe secret figure is 4711.\r\n";

}  // namespace

TEST_CASE("trace: IMAP credentials and message data are never written", "[trace]") {
    const script sc = {
        {S, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"},
        {C, "A1 LOGIN alice \"s3cret-pw\"\r\n"},
        {S, "A1 NO [AUTHENTICATIONFAILED] bad\r\n"},
        {C, "A2 LOGIN {5}\r\n"},
        {S, "+ go\r\n"},
        {C, "alice {9}\r\n"},
        {S, "+ go\r\n"},
        {C, "s3cret-pw\r\n"},
        {S, "A2 NO bad\r\n"},
        {C, "A3 AUTHENTICATE PLAIN AGFsaWNlAHMzY3JldC1wdw==\r\n"},
        {S, "A3 NO bad\r\n"},
        {C, "A4 AUTHENTICATE PLAIN\r\n"},
        {S, "+ \r\n"},
        {C, "AGFsaWNlAHMzY3JldC1wdw==\r\n"},
        {S, "A4 OK [CAPABILITY IMAP4rev1] logged in\r\n"},
        {C, "A5 LIST \"\" \"*\"\r\n"},
        {S,
         "* LIST (\\HasNoChildren) \"/\" {12}\r\nProjects/Q&A\r\n* LIST () \"/\" INBOX\r\n"
         "A5 OK done\r\n"},
        {C, "A6 UID FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n"},
        {S, "* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[] {" + std::to_string(body.size()) + "}\r\n" +
                body + ")\r\n* 2 FETCH (UID 8 BODY[HEADER] {10}\r\nSubject: x)\r\nA6 OK\r\n"},
        {C, "A7 APPEND INBOX (\\Seen) {" + std::to_string(body.size()) + "+}\r\n" + body + "\r\n"},
        {S, "A7 OK [APPENDUID 9 3] done\r\n"},
        {C, "A8 IDLE\r\n"},
        {S, "+ idling\r\n* 3 EXISTS\r\n"},
        {C, "DONE\r\n"},
        {S, "A8 OK\r\n"},
    };
    check_splits(&mv::trace::imap_redactor, sc);
    const std::string t = joined(run(&mv::trace::imap_redactor, sc, 0));
    CHECK(t.find("s3cret") == std::string::npos);
    CHECK(t.find("AGFsaWNl") == std::string::npos);
    CHECK(t.find("merger") == std::string::npos);
    CHECK(t.find("4711") == std::string::npos);
    CHECK(t.find("Subject: x") == std::string::npos);
    CHECK(t.find("C: A1 LOGIN <redacted>") != std::string::npos);
    CHECK(t.find("C: A2 LOGIN <redacted>") != std::string::npos);
    CHECK(t.find("C: A3 AUTHENTICATE PLAIN <initial response redacted>") != std::string::npos);
    CHECK(t.find("C: <SASL response, 24 bytes, redacted>") != std::string::npos);
    // The shape of the conversation stays readable.
    CHECK(t.find("S: * LIST (\\HasNoChildren) \"/\" {12}") != std::string::npos);
    CHECK(t.find("S:   [literal] Projects/Q&A") != std::string::npos);
    CHECK(t.find("C: A6 UID FETCH 1:* (UID FLAGS BODY.PEEK[])") != std::string::npos);
    CHECK(t.find("S:   [literal of " + std::to_string(body.size()) + " bytes not shown]") !=
          std::string::npos);
    CHECK(t.find("S: )") != std::string::npos);
    CHECK(t.find("S: A6 OK") != std::string::npos);
    CHECK(t.find("C:   [literal of " + std::to_string(body.size()) + " bytes not shown]") !=
          std::string::npos);
    CHECK(t.find("S: * 3 EXISTS") != std::string::npos);
    CHECK(t.find("C: DONE") != std::string::npos);
    CHECK(t.find("S: A8 OK") != std::string::npos);
}

TEST_CASE("trace: a long IMAP line is cut for people but its literal is still found", "[trace]") {
    std::string flags;
    for (int i = 0; i < 3000; ++i) flags += " kw" + std::to_string(i);
    const script sc = {
        {S, "* OK ready\r\n"},
        {S, "* 1 FETCH (FLAGS (" + flags + ") BODY[] {" + std::to_string(body.size()) + "}\r\n" +
                body + ")\r\n"},
    };
    check_splits(&mv::trace::imap_redactor, sc);
    const auto lines = run(&mv::trace::imap_redactor, sc, 0);
    const std::string t = joined(lines);
    CHECK(t.find("merger") == std::string::npos);
    CHECK(t.find("bytes]...") != std::string::npos);
    for (const auto& l : lines) CHECK(l.size() < 2200);
}

TEST_CASE("trace: POP3 passwords and message bodies are never written", "[trace]") {
    const script sc = {
        {S, "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n"},
        {C, "CAPA\r\n"},
        {S, "+OK\r\nUIDL\r\nSASL PLAIN\r\n.\r\n"},
        {C, "USER alice\r\n"},
        {S, "+OK\r\n"},
        {C, "PASS s3cret-pw\r\n"},
        {S, "-ERR [AUTH] no\r\n"},
        {C, "APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n"},
        {S, "-ERR no\r\n"},
        {C, "AUTH PLAIN\r\n"},
        {S, "+ \r\n"},
        {C, "AGFsaWNlAHMzY3JldC1wdw==\r\n"},
        {S, "+OK logged in\r\n"},
        // Pipelined: the answers come in one read.
        {C, "UIDL\r\nLIST 1\r\nRETR 1\r\nTOP 1 0\r\n"},
        {S, "+OK\r\n1 abc\r\n.\r\n+OK 1 87\r\n+OK 87 octets\r\n" + body +
                "..a dot-stuffed line\r\n.\r\n+OK\r\nSubject: the merger\r\n\r\n.\r\n"},
        {C, "QUIT\r\n"},
        {S, "+OK bye\r\n"},
    };
    check_splits(&mv::trace::pop3_redactor, sc);
    const std::string t = joined(run(&mv::trace::pop3_redactor, sc, 0));
    CHECK(t.find("s3cret") == std::string::npos);
    CHECK(t.find("c4c9334b") == std::string::npos);
    CHECK(t.find("AGFsaWNl") == std::string::npos);
    CHECK(t.find("merger") == std::string::npos);
    CHECK(t.find("dot-stuffed") == std::string::npos);
    CHECK(t.find("C: PASS <redacted>") != std::string::npos);
    CHECK(t.find("C: APOP alice <redacted>") != std::string::npos);
    CHECK(t.find("C: <SASL response, 24 bytes, redacted>") != std::string::npos);
    CHECK(t.find("S: SASL PLAIN") != std::string::npos);  // CAPA listing shown
    CHECK(t.find("S: 1 abc") != std::string::npos);       // UIDL listing shown
    CHECK(t.find("S: +OK 1 87") != std::string::npos);
    CHECK(t.find("S:   [message of ") != std::string::npos);
    CHECK(t.find("C: QUIT") != std::string::npos);
    CHECK(t.find("S: +OK bye") != std::string::npos);
}
