// The query parser (engine/search/query.hpp): every construct, every error with its column,
// hostile inputs.
#include <catch2/catch.hpp>

#include <fstream>
#include <limits>
#include <string>

#include "mailvault/error.hpp"
#include "search/query.hpp"

using mv::search::field;
using mv::search::node;
using mv::search::parse;

namespace {

std::string ast(const std::string& q) {
    return mv::search::to_string(parse(q));
}

std::string error_of(const std::string& q) {
    try {
        parse(q);
    } catch (const mv::failure& f) {
        CHECK(f.err.code == mv::errc::usage);
        CHECK(f.err.message.find('\n') == std::string::npos);
        return f.err.message;
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("query: free words, phrases, implicit AND", "[search][query]") {
    CHECK(ast("") == "ALL");
    CHECK(ast("   ") == "ALL");
    CHECK(ast("invoice") == "\"invoice\"");
    CHECK(ast("invoice march") == "(AND \"invoice\" \"march\")");
    CHECK(ast("\"exact phrase\"") == "\"exact phrase\"~phrase");
    CHECK(ast("a AND b") == "(AND \"a\" \"b\")");
    CHECK(ast("perch*") == "\"perch\"*");
    // Lower-case operators are words.
    CHECK(ast("cats and dogs") == "(AND \"cats\" \"and\" \"dogs\")");
    CHECK(ast("not or") == "(AND \"not\" \"or\")");
}

TEST_CASE("query: words with separators are phrases, unknown fields are text", "[search][query]") {
    CHECK(ast("joe@perches.com") == "\"joe@perches.com\"~phrase");
    CHECK(ast("perches.com") == "\"perches.com\"~phrase");
    CHECK(ast("2.6.38-rc4") == "\"2.6.38-rc4\"~phrase");
    CHECK(ast("re:") == "\"re:\"~phrase");
    CHECK(ast("x86: fix") == "(AND \"x86:\"~phrase \"fix\")");
    CHECK(ast("https://lkml.org/lkml/2011/2/14") == "\"https://lkml.org/lkml/2011/2/14\"~phrase");
    CHECK(ast("SELECT * FROM entries; --") == "(AND \"SELECT\" \"FROM\" \"entries;\"~phrase)");
}

TEST_CASE("query: diacritics, unspaced scripts", "[search][query]") {
    CHECK(ast("Hà") == "\"Hà\"~exact");
    CHECK(ast("resume") == "\"resume\"");
    CHECK(ast("résumé") == "\"résumé\"~exact");
    CHECK(ast("Müller") == "\"Müller\"~exact");
    CHECK(ast("Straße") == "\"Straße\"");  // ß is not a diacritic
    CHECK(ast("日本語") == "\"日本語\"~substring");
    CHECK(ast("회의") == "\"회의\"~substring");
    CHECK(ast("ภาษาไทย") == "\"ภาษาไทย\"~substring");
    CHECK(ast("🎉") == "\"🎉\"~substring");
    CHECK(ast("Привет") == "\"Привет\"");
    CHECK(ast("مرحبا") == "\"مرحبا\"");
    CHECK(ast("日本*") == "\"日本\"~substring");  // no prefix on substrings
}

TEST_CASE("query: fields", "[search][query]") {
    CHECK(ast("from:perches") == "from:\"perches\"");
    CHECK(ast("FROM:perches") == "from:\"perches\"");
    CHECK(ast("from:joe@perches.com") == "from:\"joe@perches.com\"~phrase");
    CHECK(ast("from:\"Joe Perches\"") == "from:\"Joe Perches\"~phrase");
    CHECK(ast("to:a cc:b bcc:c") == "(AND to:\"a\" cc:\"b\" bcc:\"c\")");
    CHECK(ast("subject:report body:zahlen") == "(AND subject:\"report\" body:\"zahlen\")");
    CHECK(ast("attachment:invoice.pdf") == "attachment:\"invoice.pdf\"~phrase");
    CHECK(ast("message-id:<a@b>") == "message-id:\"a@b\"");
    CHECK(ast("account:work folder:Arch*") == "(AND account:\"work\" folder:\"Arch*\")");
    CHECK(ast("flag:seen") == "flag:\"\\Seen\"");
    CHECK(ast("flag:Flagged flag:answered flag:draft flag:deleted") ==
          "(AND flag:\"\\Flagged\" flag:\"\\Answered\" flag:\"\\Draft\" flag:\"\\Deleted\")");
    CHECK(ast("is:unread") == "(NOT flag:\"\\Seen\")");
    CHECK(ast("keyword:$Label1") == "keyword:\"$Label1\"");
    CHECK(ast("has:attachment") == "has:\"attachment\"");
    CHECK(ast("larger:10M") == "larger:10485760");
    CHECK(ast("smaller:20k") == "smaller:20480");
    CHECK(ast("larger:1.5K") == "larger:1536");
    CHECK(ast("larger:500") == "larger:500");
    CHECK(ast("expunged:yes expunged:no") == "(AND expunged:1 expunged:0)");
    CHECK(ast("held:yes") == "held:1");
}

TEST_CASE("query: dates", "[search][query]") {
    // 2024-01-01 = 1704067200, 2024-04-01 = 1711929600, 2024-03-15 = 1710460800
    CHECK(ast("date:2024-01..2024-03") == "date:1704067200..1711929600");
    CHECK(ast("date:2024") == "date:1704067200..1735689600");
    CHECK(ast("date:2024-02") == "date:1706745600..1709251200");  // leap February
    CHECK(ast("date:2024-03-15") == "date:1710460800..1710547200");
    CHECK(ast("date:2024-02-29") == "date:1709164800..1709251200");
    auto b = parse("before:2024-03-15");
    CHECK(b.f == field::date);
    CHECK(b.hi == 1710460800);
    auto a = parse("after:2024-03-15");
    CHECK(a.lo == 1710547200);
    auto open = parse("date:2024-03..");
    CHECK(open.lo == 1709251200);
    CHECK(open.hi == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("query: NOT, -, OR, parentheses, precedence", "[search][query]") {
    CHECK(ast("-spam") == "(NOT \"spam\")");
    CHECK(ast("NOT spam") == "(NOT \"spam\")");
    CHECK(ast("a OR b") == "(OR \"a\" \"b\")");
    CHECK(ast("a b OR c") == "(OR (AND \"a\" \"b\") \"c\")");
    CHECK(ast("a (b OR c)") == "(AND \"a\" (OR \"b\" \"c\"))");
    CHECK(ast("-(a OR b) c") == "(AND (NOT (OR \"a\" \"b\")) \"c\")");
    CHECK(ast("-from:joe") == "(NOT from:\"joe\")");
    CHECK(ast("rc4-fix") == "\"rc4-fix\"~phrase");  // inner '-' is not NOT
    // Punctuation-only words are dropped from an AND, refused elsewhere.
    CHECK(ast("a - b") == "(AND \"a\" \"b\")");
    CHECK(ast("Re: foo -- bar") == "(AND \"Re:\"~phrase \"foo\" \"bar\")");
}

TEST_CASE("query: errors name the problem and the column", "[search][query]") {
    CHECK(error_of("hello (world") == "search: unclosed \"(\" at column 7");
    CHECK(error_of("hello world)") == "search: unmatched \")\" at column 12");
    CHECK(error_of("say \"hello") == "search: unclosed quote at column 5");
    CHECK(error_of("larger:abc") ==
          "search: larger: expects a size like 500, 20K, 10M or 1G, got \"abc\" at column 8");
    CHECK(error_of("date:2024-13") == "search: date: month 13 is out of range at column 6");
    CHECK(error_of("date:2023-02-29") ==
          "search: date: day 29 is out of range for 2023-02 at column 6");
    CHECK(error_of("date:yesterday").find("expects a date like 2024") != std::string::npos);
    CHECK(error_of("date:2024-03..2024-01") ==
          "search: date: the range ends before it starts at column 6");
    CHECK(error_of("flag:purple") ==
          "search: flag: expects seen, flagged, answered, draft or deleted, got \"purple\" at "
          "column 6");
    CHECK(error_of("has:pdf") == "search: has: expects attachment, got \"pdf\" at column 5");
    CHECK(error_of("expunged:maybe") ==
          "search: expunged: expects yes or no, got \"maybe\" at column 10");
    CHECK(error_of("from:") == "search: from: needs a value (e.g. from:word) at column 1");
    CHECK(error_of("a OR") == "search: OR has nothing after it at column 3");
    CHECK(error_of("OR a") == "search: OR has nothing before it at column 1");
    CHECK(error_of("a AND") == "search: AND has nothing after it at column 3");
    CHECK(error_of("NOT") == "search: NOT has nothing after it at column 1");
    CHECK(error_of("a ()") == "search: empty parentheses at column 3");
    CHECK(error_of("&&") == "search: \"&&\" has no letters or digits to search for at column 1");
    CHECK(error_of("a OR &&") ==
          "search: \"&&\" has no letters or digits to search for at column 6");
    CHECK(error_of("from:--") ==
          "search: \"--\" has no letters or digits to search for at column 6");
    CHECK(error_of("\"...\"") ==
          "search: \"...\" has no letters or digits to search for at column 1");
    // Columns count characters, not bytes.
    CHECK(error_of("日本語 (x") == "search: unclosed \"(\" at column 5");
}

TEST_CASE("query: hostile inputs", "[search][query]") {
    // Deep nesting is refused with a clear error, not a stack overflow.
    std::string deep(100000, '(');
    CHECK(error_of(deep).find("longer than") != std::string::npos);
    std::string nested = std::string(200, '(') + "a" + std::string(200, ')');
    CHECK(error_of(nested).find("nested deeper than 64") != std::string::npos);
    std::string nots;
    for (int i = 0; i < 100; ++i) nots += "NOT ";
    CHECK(error_of(nots + "a").find("nested deeper than 64") != std::string::npos);
    std::string ok = std::string(30, '(') + "a" + std::string(30, ')');
    CHECK(ast(ok) == "\"a\"");
    // Many terms.
    std::string many;
    for (int i = 0; i < 300; ++i) many += "w" + std::to_string(i) + " ";
    CHECK(error_of(many).find("too many terms") != std::string::npos);
    // Invalid UTF-8 and control bytes do not crash and are text.
    CHECK_NOTHROW(parse("\xff\xfe abc \x01"));
    CHECK_NOTHROW(parse(std::string("a\0b", 3)));
    // Control characters and long values in an error stay one short line (found by fuzz_query).
    CHECK(error_of(std::string("((\"\x00\x04\n\"", 7)) ==
          "search: \"???\" has no letters or digits to search for at column 3");
    CHECK(error_of("larger:" + std::string(1000, 'x')).size() < 220);
    // A long single word is fine.
    CHECK_NOTHROW(parse(std::string(10000, 'x')));
}

TEST_CASE("query: every fuzz seed parses or fails with one usage line", "[search][query]") {
    std::ifstream in(std::string(MV_TEST_DATA_DIR) + "/search/queries.txt");
    REQUIRE(in);
    int n = 0, errors = 0;
    for (std::string line; std::getline(in, line); ++n) {
        try {
            parse(line);
        } catch (const mv::failure& f) {
            ++errors;
            CHECK(f.err.code == mv::errc::usage);
            CHECK(f.err.message.find(" at column ") != std::string::npos);
        }
    }
    CHECK(n >= 30);
    CHECK(errors == 8);  // the last eight seeds are the error examples
}
