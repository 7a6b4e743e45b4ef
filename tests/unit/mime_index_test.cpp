// GMime-based index: decoding of tricky headers and bodies, and no crash on any corpus file.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mime/message_index.hpp"

namespace fs = std::filesystem;
using mv::mime::parse;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

fs::path corpus(const std::string& rel) {
    return fs::path(MV_TEST_DATA_DIR) / "corpora" / rel;
}

bool valid_utf8(const std::string& s) {
    return mv::mime::make_valid_utf8(s) == s;
}

}  // namespace

TEST_CASE("mime: every corpus message parses without crashing, output is valid UTF-8", "[mime]") {
    std::vector<fs::path> files;
    for (auto dir : {corpus("mikel-mail/emails"), corpus("mimekit")})
        for (auto& e : fs::recursive_directory_iterator(dir))
            if (e.is_regular_file()) files.push_back(e.path());
    for (auto& e : fs::directory_iterator(corpus("mailkit/imap/common")))
        if (e.path().filename().string().rfind("message.", 0) == 0) files.push_back(e.path());
    REQUIRE(files.size() > 150);
    size_t parsed = 0, with_text = 0;
    for (const auto& f : files) {
        INFO(f.string());
        std::string raw = slurp(f);
        auto m = parse(raw);
        parsed += m.parsed;
        with_text += !m.text.empty();
        CHECK(valid_utf8(m.subject));
        CHECK(valid_utf8(m.from));
        CHECK(valid_utf8(m.to));
        CHECK(valid_utf8(m.text));
        CHECK(m.text.size() <= mv::mime::index_limits{}.max_text);
        // Every prefix-truncated message must be survivable too.
        auto half = parse(std::string_view(raw).substr(0, raw.size() / 2));
        CHECK(valid_utf8(half.subject));
    }
    CHECK(parsed > files.size() * 9 / 10);
    CHECK(with_text > files.size() / 2);
}

TEST_CASE("mime: Japanese and other charsets are decoded to UTF-8", "[mime]") {
    auto m = parse(slurp(corpus("mikel-mail/emails/multi_charset/japanese.eml")));
    CHECK(m.parsed);
    CHECK(m.subject == "まみむめも");
    auto iso = parse(slurp(corpus("mimekit/messages/japanese.txt")));
    CHECK(iso.subject.find("日本語") != std::string::npos);
    CHECK(iso.subject.find("(testing Japanese emails)") != std::string::npos);
    auto sjis = parse(slurp(corpus("mikel-mail/emails/multi_charset/japanese_shift_jis.eml")));
    CHECK(sjis.text.find("あいうえお") != std::string::npos);
    auto longname =
        parse(slurp(corpus("mikel-mail/emails/multi_charset/japanese_attachment_long_name.eml")));
    CHECK(longname.subject.rfind("まみむめもまみむめもまみむ", 0) == 0);
    CHECK(longname.subject.size() > 100);  // folded encoded words joined
    auto utf8 = parse(slurp(corpus("mikel-mail/emails/rfc6532/utf8_headers.eml")));
    CHECK(utf8.subject == "Säying Hello");
    CHECK(utf8.from.find("Jöhn Doe") != std::string::npos);
}

TEST_CASE("mime: broken dates leave date_epoch empty, good ones parse", "[mime]") {
    auto bad = parse(slurp(corpus("mikel-mail/emails/error_emails/bad_date_header.eml")));
    CHECK(bad.parsed);
    CHECK_FALSE(bad.date_epoch);
    CHECK(bad.subject.find("Eligible") != std::string::npos);
    auto bad2 = parse(slurp(corpus("mikel-mail/emails/error_emails/bad_date_header2.eml")));
    CHECK(bad2.date_raw.find("59:10") != std::string::npos);
    auto good = parse(slurp(corpus("mikel-mail/emails/multi_charset/japanese_attachment.eml")));
    REQUIRE(good.date_epoch);
    CHECK(*good.date_epoch == 1255696774);  // Fri, 16 Oct 2009 23:39:34 +1100
}

TEST_CASE("mime: 8-bit headers, QP and base64 bodies, HTML-only mail", "[mime]") {
    std::string latin1 =
        "From: M\xfcller <m@example.org>\r\nSubject: Gr\xfc\xdf"
        "e\r\nContent-Type: text/plain; "
        "charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nS=FC=DF und "
        "sch=F6n=\r\n fortgesetzt\r\n";
    auto m = parse(latin1);
    CHECK(m.subject == "Grüße");
    CHECK(m.from.find("Müller") != std::string::npos);
    CHECK(m.text.find("Süß und schön fortgesetzt") != std::string::npos);

    std::string b64 =
        "Subject: =?KOI8-R?B?8NLJ18XU?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/"
        "alternative; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>html version</p>\r\n--XX\r\nContent-Type: text/plain; charset=windows-1251\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n7/Do4uXy\r\n--XX--\r\n";
    auto k = parse(b64);
    CHECK(k.subject == "Привет");
    CHECK(k.text.find("привет") != std::string::npos);  // plain preferred over HTML
    CHECK(k.text.find("html version") == std::string::npos);

    std::string html_only =
        "Subject: h\r\nContent-Type: text/html\r\n\r\n<html><head><title>T</title><style>p{}"
        "</style></head><body><script>var x=1;</script><p>Fish &amp; chips</p><br>&#8364;5 "
        "&lt;b&gt;<!-- hidden --></body></html>";
    auto h = parse(html_only);
    CHECK(h.text == "Fish & chips\n\n€5 <b>");

    std::string refs =
        "Message-ID: <a@b>\r\nIn-Reply-To: junk <c@d> more\r\nReferences: <e@f>\r\n  <g@h> "
        "<bad\r\n\r\n";
    auto r = parse(refs);
    CHECK(r.message_id == "a@b");
    CHECK(r.in_reply_to == "c@d");
    REQUIRE(r.references.size() >= 2);
    CHECK(r.references[0] == "e@f");
    CHECK(r.references[1] == "g@h");
}

TEST_CASE("mime: garbage and empty input do not crash", "[mime]") {
    for (std::string s : {std::string(), std::string("\0\0\0", 3), std::string(":\r\n\r\n"),
                          std::string("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n"),
                          std::string(100000, '<'), std::string("Subject: =?utf-8?B?####?=\r\n")}) {
        auto m = parse(s);
        CHECK(valid_utf8(m.subject));
        CHECK(valid_utf8(m.text));
    }
    CHECK(mv::mime::html_to_text("a<b>b</b>c", 2).size() <= 2);
    CHECK(mv::mime::make_valid_utf8("ok\xff") == "ok\xef\xbf\xbd");
}
