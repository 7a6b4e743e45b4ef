// mime::view / decode_part (engine/mime/message_view.hpp) over corpus and generated messages.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "mime/message_view.hpp"

namespace {

std::string corpus(const std::string& name) {
    std::ifstream f(std::string(MV_TEST_DATA_DIR) + "/corpora/mimekit/messages/" + name,
                    std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string decoded(const std::string& raw, int n) {
    std::string out;
    auto err = mv::mime::decode_part(raw, n, [&](std::string_view b) { out.append(b); });
    REQUIRE(err.ok());
    return out;
}

}  // namespace

TEST_CASE("message view: a simple multipart message with an attachment", "[mime][view]") {
    const std::string raw = corpus("simple-multipart.eml");
    REQUIRE(!raw.empty());
    auto v = mv::mime::view(raw);
    REQUIRE(v.parsed);
    CHECK(v.subject == "this is a simple multipart message");
    CHECK(v.from == "mimekit@example.com");
    CHECK(v.message_id == "54AD68C9E3B0184CAC6041320424FD1B5B81E74D@localhost.localdomain");
    CHECK(v.text == "This is the message body.\n");
    CHECK(v.html.empty());
    REQUIRE(v.parts.size() == 2);
    CHECK(v.parts[0].number == 1);
    CHECK(v.parts[0].content_type == "text/plain");
    CHECK(v.parts[0].body);
    CHECK(v.parts[1].number == 2);
    CHECK(v.parts[1].content_type == "application/octet-stream");
    CHECK(v.parts[1].filename == "attachment.txt");
    CHECK(v.parts[1].disposition == "attachment");
    CHECK(v.parts[1].size == 38);
    CHECK_FALSE(v.parts[1].body);
    REQUIRE(v.attachments().size() == 1);
    CHECK(v.attachments()[0]->number == 2);
    CHECK(decoded(raw, 2) == "This is the base64 encoded attachment.");
    bool found_mailer = false;
    for (const auto& [k, val] : v.headers)
        found_mailer = found_mailer || (k == "X-Mailer" && val == "Microsoft Office Outlook 12.0");
    CHECK(found_mailer);
}

TEST_CASE("message view: an attached message is one leaf", "[mime][view]") {
    const std::string raw = corpus("simple-embedded-message.eml");
    auto v = mv::mime::view(raw);
    REQUIRE(v.parsed);
    REQUIRE(v.parts.size() == 2);
    CHECK(v.parts[1].content_type == "message/rfc822");
    std::string inner = decoded(raw, 2);
    CHECK(inner.find("Subject:") != std::string::npos);
    CHECK(v.parts[1].size == inner.size());
}

TEST_CASE("message view: ISO-2022-JP subject decoded to UTF-8", "[mime][view]") {
    auto v = mv::mime::view(corpus("japanese.txt"));
    REQUIRE(v.parsed);
    CHECK(v.subject.find("日本語") != std::string::npos);
}

TEST_CASE("message view: HTML body, cid: images, RFC 2231 names", "[mime][view]") {
    const std::string raw =
        "From: a@example.org\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/related; boundary=\"r\"\r\n\r\n"
        "--r\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
        "--a\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: "
        "quoted-printable\r\n\r\nGr=FC=DFe\r\n"
        "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi <img "
        "src=\"cid:img%401\"></p>\r\n"
        "--a--\r\n"
        "--r\r\nContent-Type: image/png\r\nContent-ID: <img@1>\r\nContent-Transfer-Encoding: "
        "base64\r\n\r\naGVsbG8=\r\n"
        "--r\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        "filename*=UTF-8''Bericht%20%C3%BCber.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "JVBERg==\r\n--r--\r\n";
    auto v = mv::mime::view(raw);
    REQUIRE(v.parsed);
    CHECK(v.subject == "Grüße");
    CHECK(v.text == "Grüße");  // the CRLF before a boundary belongs to the boundary
    CHECK(v.html == "<p>Hi <img src=\"cid:img%401\"></p>");
    REQUIRE(v.parts.size() == 4);
    CHECK(v.parts[0].body);
    CHECK(v.parts[1].body);
    CHECK(v.parts[0].charset == "iso-8859-1");
    const auto* img = v.find_cid("cid:img%401");
    REQUIRE(img);
    CHECK(img->number == 3);
    CHECK(v.find_cid("<img@1>") == img);
    CHECK(v.find_cid("cid:other") == nullptr);
    CHECK(decoded(raw, 3) == "hello");
    CHECK(v.parts[3].filename == "Bericht über.pdf");
    CHECK(v.parts[3].size == 4);
    CHECK(v.part(9) == nullptr);
    std::string sink;
    auto err = mv::mime::decode_part(raw, 9, [&](std::string_view b) { sink.append(b); });
    CHECK(err.code == mv::errc::usage);
}

TEST_CASE("message view: garbage does not throw", "[mime][view]") {
    auto v = mv::mime::view("\x01\x02 not a message at all");
    // GMime makes a message of almost anything; what matters is that nothing throws and the
    // text is valid UTF-8.
    CHECK(v.parts.size() <= 1);
}

TEST_CASE("message view: safe file names", "[mime][view]") {
    using mv::mime::safe_filename;
    CHECK(safe_filename("../../etc/passwd", "x") == "passwd");
    CHECK(safe_filename("C:\\Windows\\evil.exe", "x") == "evil.exe");
    CHECK(safe_filename("..", "fallback") == "fallback");
    CHECK(safe_filename(".hidden", "x") == "hidden");
    CHECK(safe_filename("a\nb\"c.txt", "x") == "a_b_c.txt");
    CHECK(safe_filename("", "part-2") == "part-2");
    CHECK(safe_filename("Bericht über.pdf", "x") == "Bericht über.pdf");
}

// The spooled path (show, serve) gives what the in-memory one gives, part for part, on every
// corpus message used above; and a text body over max_body is cut there without being held
// whole (decoded into a bounded temporary file), in its declared charset.
TEST_CASE("message view: a spooled message reads like the same bytes in memory", "[mime][view]") {
    for (const char* name : {"simple-multipart.eml", "simple-embedded-message.eml", "japanese.txt",
                             "multipart-related-mhtml.txt"}) {
        const std::string raw = corpus(name);
        INFO(name);
        REQUIRE(!raw.empty());
        mv::mime::spooled_message sp;
        sp.append(raw.substr(0, raw.size() / 2));
        sp.append(raw.substr(raw.size() / 2));
        CHECK(sp.size() == raw.size());
        auto a = mv::mime::view(raw), b = mv::mime::view(sp);
        CHECK(a.parsed == b.parsed);
        CHECK(a.subject == b.subject);
        CHECK(a.text == b.text);
        CHECK(a.html == b.html);
        CHECK(a.headers == b.headers);
        REQUIRE(a.parts.size() == b.parts.size());
        for (std::size_t i = 0; i < a.parts.size(); ++i) {
            CHECK(a.parts[i].size == b.parts[i].size);
            CHECK(a.parts[i].content_type == b.parts[i].content_type);
            std::string from_spool;
            REQUIRE(mv::mime::decode_part(sp, a.parts[i].number, [&](std::string_view x) {
                        from_spool.append(x);
                    }).ok());
            CHECK(from_spool == decoded(raw, a.parts[i].number));
            CHECK(from_spool.size() == b.parts[i].size);
        }
    }
    mv::mime::spooled_message none;
    CHECK(mv::mime::decode_part(none, 1, [](std::string_view) {}).code == mv::errc::usage);
}

TEST_CASE("message view: a text body longer than max_body is cut, from a spool", "[mime][view]") {
    std::string body;
    for (int i = 0; body.size() < 5000; ++i)
        body +=
            "Gr\xfc\xdf"
            "e Zeile " +
            std::to_string(i) + "\r\n";
    const std::string raw =
        "From: a@example.org\r\nSubject: long\r\nContent-Type: text/plain; "
        "charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
        body;
    mv::mime::spooled_message sp;
    sp.append(raw);
    mv::mime::view_limits lim;
    lim.max_body = 1000;
    auto v = mv::mime::view(sp, lim);
    REQUIRE(v.parsed);
    CHECK(v.text_truncated);
    CHECK(v.text.size() <= 1000);
    CHECK(v.text.size() > 990);
    CHECK(v.text.rfind("Gr\xc3\xbc\xc3\x9f"
                       "e Zeile 0\r\n",
                       0) == 0);  // converted to UTF-8
    // The same through memory (GMime's get_text, then cut): the same prefix.
    auto m = mv::mime::view(raw, lim);
    CHECK(m.text_truncated);
    CHECK(m.text.substr(0, 900) == v.text.substr(0, 900));
}
