// The web viewer's HTML sanitizer (engine/web/sanitize.hpp) against hostile mail: exact output.
#include <catch2/catch.hpp>

#include <string>

#include "web/sanitize.hpp"

using mv::web::sanitize_html;
using mv::web::sanitize_options;

namespace {

sanitize_options with_cid() {
    sanitize_options o;
    o.resolve_cid = [](std::string_view cid) -> std::optional<std::string> {
        if (cid == "cid:logo@x") return std::string("/cid/1/tok/2");
        return std::nullopt;
    };
    return o;
}

std::string body(std::string_view html) {
    return sanitize_html(html, with_cid()).body;
}

}  // namespace

TEST_CASE("sanitizer: script elements are dropped with their content", "[web][sanitize]") {
    CHECK(body("<p>a<script>alert(1)</script>b</p>") == "<p>ab</p>");
    CHECK(body("<script src=\"http://evil/x.js\"></script><p>t</p>") == "<p>t</p>");
    CHECK(body("<p>a</p><noscript><p>n</p></noscript>ok") == "<p>a</p>ok");
}

TEST_CASE("sanitizer: every on* attribute is removed", "[web][sanitize]") {
    CHECK(body("<body onload=\"alert(1)\"><p onclick=\"x()\" ONMOUSEOVER=\"y()\">hi</p></body>") ==
          "<p>hi</p>");
    CHECK(body("<img src=\"cid:logo@x\" onerror=\"alert(1)\">") == "<img src=\"/cid/1/tok/2\">");
}

TEST_CASE("sanitizer: javascript:, vbscript:, data: links lose their href", "[web][sanitize]") {
    CHECK(body("<a href=\"javascript:alert(1)\">x</a>") ==
          "<a target=\"_blank\" rel=\"noopener noreferrer\">x</a>");
    CHECK(body("<a href=\"  JaVaScRiPt:alert(1)\">x</a>") ==
          "<a target=\"_blank\" rel=\"noopener noreferrer\">x</a>");
    CHECK(body("<a href=\"java\tscript:alert(1)\">x</a>") ==
          "<a target=\"_blank\" rel=\"noopener noreferrer\">x</a>");
    CHECK(body("<a href=\"vbscript:msgbox(1)\">x</a>") ==
          "<a target=\"_blank\" rel=\"noopener noreferrer\">x</a>");
    CHECK(body("<a href=\"data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;\">x</a>") ==
          "<a target=\"_blank\" rel=\"noopener noreferrer\">x</a>");
}

TEST_CASE("sanitizer: entity-obfuscated javascript: is decoded before the check",
          "[web][sanitize]") {
    CHECK(body("<a href=\"&#106;&#97;vascript:alert(1)\">x</a>") ==
          "<a target=\"_blank\" rel=\"noopener noreferrer\">x</a>");
    CHECK(body("<a href=\"&#x6A;avascript&colon;alert(1)\">x</a>") ==
          "<a target=\"_blank\" rel=\"noopener noreferrer\">x</a>");
    CHECK(body("<a href=\"jav&#x09;ascript:alert(1)\">x</a>") ==
          "<a target=\"_blank\" rel=\"noopener noreferrer\">x</a>");
}

TEST_CASE("sanitizer: safe links are kept and open in a new tab", "[web][sanitize]") {
    CHECK(body("<a href=\"https://example.org/?a=1&amp;b=2\" title=\"t\">x</a>") ==
          "<a href=\"https://example.org/?a=1&amp;b=2\" title=\"t\" target=\"_blank\" "
          "rel=\"noopener noreferrer\">x</a>");
    CHECK(
        body("<a href=\"mailto:bob@example.org\">bob</a>") ==
        "<a href=\"mailto:bob@example.org\" target=\"_blank\" rel=\"noopener noreferrer\">bob</a>");
}

TEST_CASE("sanitizer: remote images are removed and counted, cid: images rewritten",
          "[web][sanitize]") {
    auto r = sanitize_html(
        "<img src=\"http://tracker.example/p.gif\" width=\"1\"><img "
        "src=\"//cdn.example/x.png\"><img src=\"cid:logo@x\" alt=\"Logo\">"
        "<img src=\"cid:missing@x\">",
        with_cid());
    CHECK(r.body == "<img src=\"/cid/1/tok/2\" alt=\"Logo\">");
    CHECK(r.remote_blocked == 2);
}

TEST_CASE("sanitizer: srcset, background and lowsrc never survive", "[web][sanitize]") {
    auto r = sanitize_html(
        "<img src=\"cid:logo@x\" srcset=\"http://e/x.png 2x\">"
        "<table background=\"http://e/bg.png\"><tr><td>c</td></tr></table>",
        with_cid());
    CHECK(r.body == "<img src=\"/cid/1/tok/2\"><table><tbody><tr><td>c</td></tr></tbody></table>");
    CHECK(r.remote_blocked == 2);
}

TEST_CASE("sanitizer: CSS url() is removed from style attributes", "[web][sanitize]") {
    CHECK(body("<div style=\"color: red; background: url(http://e/x.png); font-weight: "
               "bold\">t</div>") == "<div style=\"color: red; font-weight: bold\">t</div>");
    CHECK(body("<div style=\"background:URL( 'http://e/x' )\">t</div>") == "<div>t</div>");
    CHECK(body("<div style=\"width: expression(alert(1))\">t</div>") == "<div>t</div>");
    CHECK(body("<div style=\"background: u\\72 l(http://e/x)\">t</div>") == "<div>t</div>");
    CHECK(body("<div style=\"behavior: url(x.htc); -moz-binding: url(x)\">t</div>") ==
          "<div>t</div>");
}

TEST_CASE("sanitizer: <style> blocks are kept only without url(), @import, escapes",
          "[web][sanitize]") {
    auto ok = sanitize_html("<style>p { color: #135 }</style><p>x</p>");
    CHECK(ok.head == "<style>p { color: #135 }</style>");
    CHECK(ok.body == "<p>x</p>");
    auto bad = sanitize_html(
        "<style>@import url(http://e/x.css);</style><style>body { background: "
        "url(http://e/b.png) }</style><style>p{color:\\72 ed}</style><p>x</p>");
    CHECK(bad.head.empty());
    CHECK(bad.body == "<p>x</p>");
    CHECK(bad.remote_blocked == 2);
}

TEST_CASE("sanitizer: meta refresh, link, base and title are dropped", "[web][sanitize]") {
    auto r = sanitize_html(
        "<html><head><meta http-equiv=\"refresh\" content=\"0;url=http://e/\"><link "
        "rel=\"stylesheet\" href=\"http://e/x.css\"><base href=\"http://e/\"><title>T</title>"
        "</head><body><p>x</p></body></html>");
    CHECK(r.head.empty());
    CHECK(r.body == "<p>x</p>");
    CHECK(r.remote_blocked == 1);  // the style sheet
}

TEST_CASE("sanitizer: SVG and MathML are dropped whole, scripts inside included",
          "[web][sanitize]") {
    CHECK(body("<p>a</p><svg onload=\"alert(1)\"><script>alert(2)</script><image "
               "href=\"http://e/x\"/><foreignObject><p>f</p></foreignObject></svg><p>b</p>") ==
          "<p>a</p><p>b</p>");
    CHECK(body("<math><mtext><script>alert(1)</script></mtext></math>ok") == "ok");
}

TEST_CASE("sanitizer: forms are unwrapped and their controls dropped", "[web][sanitize]") {
    CHECK(body("<form action=\"http://e/steal\" method=\"post\"><p>Your password:</p><input "
               "type=\"password\" name=\"p\"><button formaction=\"http://e/\">Send</button>"
               "<textarea>t</textarea><select><option>o</option></select></form>") ==
          "<p>Your password:</p>");
}

TEST_CASE("sanitizer: iframe, object, embed, applet, video are dropped", "[web][sanitize]") {
    CHECK(body("<iframe src=\"http://e/\"></iframe><object data=\"http://e/x\"><param name=\"a\" "
               "value=\"b\"></object><embed src=\"http://e/x\"><applet code=\"x\"></applet>"
               "<video poster=\"http://e/p.png\"><source src=\"http://e/v.mp4\"></video>t") == "t");
}

TEST_CASE("sanitizer: attributes outside the allow-list are dropped", "[web][sanitize]") {
    CHECK(body("<p id=\"x\" name=\"n\" data-x=\"1\" xmlns=\"a\" class=\"c\" align=\"center\" "
               "formaction=\"http://e/\">t</p>") == "<p class=\"c\" align=\"center\">t</p>");
}

TEST_CASE("sanitizer: text and attribute values are escaped", "[web][sanitize]") {
    CHECK(body("<p title='a\"b&lt;'>1 &lt; 2 &amp; \"q\"</p>") ==
          "<p title=\"a&quot;b&lt;\">1 &lt; 2 &amp; &quot;q&quot;</p>");
    CHECK(body("x &lt;script&gt;alert(1)&lt;/script&gt;") ==
          "x &lt;script&gt;alert(1)&lt;/script&gt;");
}

TEST_CASE("sanitizer: nested and malformed markup is read as a browser does", "[web][sanitize]") {
    CHECK(body("<b>bold <i>both</b> italic</i>") == "<b>bold <i>both</i></b><i> italic</i>");
    CHECK(body("<p>one<p>two") == "<p>one</p><p>two</p>");
    CHECK(body("<table><tr><td>a<td>b</table>") ==
          "<table><tbody><tr><td>a</td><td>b</td></tr></tbody></table>");
    // An unterminated script swallows the rest of the document, as in a browser.
    CHECK(body("<p>x</p><script>alert(1)<p>y</p>") == "<p>x</p>");
    // Unknown elements are unwrapped, their text kept.
    CHECK(body("<custom-tag onclick=\"x\"><span>k</span></custom-tag>") == "<span>k</span>");
    // Comments and conditional comments go.
    CHECK(body("a<!-- <script>alert(1)</script> -->b<!--[if IE]><script>x</script><![endif]-->") ==
          "ab");
}

TEST_CASE("sanitizer: very deep nesting is flattened, not a crash", "[web][sanitize]") {
    std::string deep;
    for (int i = 0; i < 5000; ++i) deep += "<div>";
    deep += "core";
    auto r = sanitize_html(deep);
    CHECK(r.body.find("core") != std::string::npos);
    CHECK(r.body.find("<div>") != std::string::npos);
    std::size_t opens = 0;
    for (std::size_t p = 0; (p = r.body.find("<div>", p)) != std::string::npos; ++p) ++opens;
    CHECK(opens == 256);
}

TEST_CASE("sanitizer: style attribute parsing", "[web][sanitize]") {
    int removed = 0;
    CHECK(mv::web::sanitize_style("color:red;;  margin : 0 ; background-image:url(x); junk",
                                  &removed) == "color:red; margin : 0");
    CHECK(removed == 2);
}
