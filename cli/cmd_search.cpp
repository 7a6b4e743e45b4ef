// mailvault search: the query language of docs/search.md over the archive, newest first.
//
// stdout holds only the hits (text lines, JSON Lines or sha256s); the summary line ("50 of
// 1,234 matches ...") goes to stderr, so pipes see hits only. Exit codes like grep: 0 when
// something matched, 1 when nothing did, 2 for a bad query (errc::usage).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>
#include <string>

#include "archive/archive.hpp"
#include "archive/searcher.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "mailvault/units.hpp"
#include "search/query.hpp"

namespace po = boost::program_options;

namespace {

constexpr int exit_no_match = 1;

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

std::string iso_date(const std::optional<std::int64_t>& t) {
    return t ? mv::format_utc(*t, "%Y-%m-%dT%H:%M:%SZ") : std::string();
}

std::string short_date(const std::optional<std::int64_t>& t) {
    return t ? mv::format_utc(*t, "%Y-%m-%d %H:%M") : std::string("(no date)       ");
}

// Marks -> brackets (or bold on a terminal).
std::string render_snippet(std::string_view s, bool tty) {
    std::string out;
    for (char c : s) {
        if (c == mv::archive::snippet_open)
            out += tty ? "\x1b[1m" : "[";
        else if (c == mv::archive::snippet_close)
            out += tty ? "\x1b[0m" : "]";
        else
            out += c;
    }
    return out;
}

std::string json_hit(const mv::archive::entry_hit& h) {
    std::string o = "{\"version\":1";
    o += ",\"account\":" + json_string(h.account);
    o += ",\"folder\":" + json_string(h.folder);
    o += ",\"uid\":" + (h.uid ? std::to_string(*h.uid) : std::string("null"));
    o += ",\"uidl\":" + (h.uidl ? json_string(*h.uidl) : std::string("null"));
    o += ",\"date\":" + (h.date_epoch ? json_string(iso_date(h.date_epoch)) : "null");
    o += ",\"from\":" + json_string(h.from);
    o += ",\"to\":" + json_string(h.to);
    o += ",\"subject\":" + json_string(h.subject);
    o += ",\"size\":" + std::to_string(h.size);
    o += ",\"flags\":[";
    bool first = true;
    for (const auto& f : mv::archive::split_flags(h.flags)) {
        o += (first ? "" : ",") + json_string(f);
        first = false;
    }
    o += "],\"sha256\":" + json_string(h.content.hex());
    o += ",\"expunged\":" + std::string(h.expunged ? "true" : "false");
    o += ",\"held\":" + std::string(h.held ? "true" : "false");
    o += ",\"snippet\":" + json_string(h.snippet);
    return o + "}";
}

int run_search(const std::vector<std::string>& args) {
    po::options_description desc(
        "mailvault search [--archive PATH] [options] QUERY...\n"
        "Query language (man mailvault-search): words, \"phrases\", from: to: cc: bcc: subject: "
        "body:\nattachment: message-id: account: folder: flag: keyword: has:attachment "
        "larger: smaller:\ndate:2024-01..2024-03 before: after: expunged: held:, AND OR NOT -x "
        "( ).\nExit status: 0 matches found, 1 no match, 2 bad query");
    desc.add_options()("help,h", "show this help")(
        "limit", po::value<std::size_t>()->default_value(50), "hits per page (0: all)")(
        "offset", po::value<std::size_t>()->default_value(0), "skip this many hits first")(
        "sort", po::value<std::string>()->default_value("date"),
        "date (newest first) or relevance")("count", "print only the number of matches")(
        "json", "one JSON object per hit (JSON Lines, man mailvault-search)")(
        "format", po::value<std::string>()->default_value("text"),
        "text, json, or files (distinct sha256 of the matching messages)")(
        "explain", "print the SQL plan instead of searching (for debugging)")(
        "query", po::value<std::vector<std::string>>(), "the query");
    po::positional_options_description pos;
    pos.add("query", -1);
    mv::cli::add_archive_options(desc);
    auto vm = mv::cli::parse(args, desc, &pos);
    if (vm.count("help")) {
        std::cout << desc;
        return mv::cli::exit_ok;
    }
    if (!vm.count("query")) throw mv::failure(mv::errc::usage, "search: a query is required");
    std::string q;
    for (const auto& w : vm["query"].as<std::vector<std::string>>())
        q += (q.empty() ? "" : " ") + w;
    std::string format = vm["format"].as<std::string>();
    if (vm.count("json")) format = "json";
    if (format != "text" && format != "json" && format != "files")
        throw mv::failure(mv::errc::usage,
                          "search: --format must be text, json or files, not \"" + format + "\"");
    const std::string sort = vm["sort"].as<std::string>();
    if (sort != "date" && sort != "relevance")
        throw mv::failure(mv::errc::usage,
                          "search: --sort must be date or relevance, not \"" + sort + "\"");
    (void)mv::search::parse(q);  // a bad query fails before the archive is opened (or indexed)

    auto ap = mv::cli::open_indexed(mv::cli::archive_path(vm));
    mv::archive::searcher s(*ap);
    mv::archive::search_request r;
    r.query = q;
    r.sort =
        sort == "relevance" ? mv::archive::search_sort::relevance : mv::archive::search_sort::date;
    r.offset = vm["offset"].as<std::size_t>();
    const std::size_t limit = vm["limit"].as<std::size_t>();
    r.snippets = format != "files";

    if (vm.count("explain")) {
        r.limit = limit ? limit : 50;
        std::cout << s.explain(r);
        return mv::cli::exit_ok;
    }
    if (vm.count("count")) {
        const std::int64_t n = s.count(q);
        std::cout << n << "\n";
        return n > 0 ? mv::cli::exit_ok : exit_no_match;
    }

    const bool tty = isatty(1) == 1;
    std::set<mv::archive::sha256> printed;
    std::int64_t shown = 0;
    bool more = false;
    auto print = [&](const mv::archive::entry_hit& h) {
        ++shown;
        if (format == "files") {
            if (printed.insert(h.content).second) std::cout << h.content.hex() << "\n";
        } else if (format == "json") {
            std::cout << json_hit(h) << "\n";
        } else {
            std::cout << short_date(h.date_epoch) << "  " << h.from << "  " << h.subject << "  ["
                      << h.account << "/" << h.folder << "]" << (h.expunged ? " (expunged)" : "")
                      << "  " << h.content.hex().substr(0, 12) << "\n";
            if (!h.snippet.empty()) std::cout << "    " << render_snippet(h.snippet, tty) << "\n";
        }
    };
    if (limit == 0) {
        s.each(r, [&](const mv::archive::entry_hit& h) {
            print(h);
            return true;
        });
    } else {
        r.limit = limit;
        auto page = s.page(r);
        for (const auto& h : page.hits) print(h);
        more = page.more;
    }
    std::cout.flush();

    // The summary, on stderr. The total is counted only when there is more than one page.
    const std::int64_t first = static_cast<std::int64_t>(r.offset);
    if (more) {
        const std::int64_t total = s.count(q);
        std::fprintf(stderr,
                     "%s of %s matches (hits %s-%s; more with --offset %s, all with "
                     "--limit 0)\n",
                     mv::format_count(shown).c_str(), mv::format_count(total).c_str(),
                     mv::format_count(first + 1).c_str(), mv::format_count(first + shown).c_str(),
                     mv::format_count(first + shown).c_str());
    } else if (shown == 0) {
        std::fprintf(stderr, "no matches%s\n", first > 0 ? " at this --offset" : "");
    } else if (first > 0) {
        std::fprintf(stderr, "%s matches (hits %s-%s)\n", mv::format_count(shown).c_str(),
                     mv::format_count(first + 1).c_str(), mv::format_count(first + shown).c_str());
    } else {
        std::fprintf(stderr, "%s %s\n", mv::format_count(shown).c_str(),
                     shown == 1 ? "match" : "matches");
    }
    return shown > 0 ? mv::cli::exit_ok : exit_no_match;
}

}  // namespace

MV_COMMAND("search",
           "search archived mail: words, \"phrases\", from: subject: date: flag: ... (see "
           "man mailvault-search)",
           run_search);
