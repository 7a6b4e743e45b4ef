// Searching the archive with the query language (engine/search/query.hpp, docs/search.md).
// One searcher serves `mailvault search`, `export --query`, prune/hold selections and the web
// viewer (`mailvault serve`); none of them builds SQL of its own and no SQL text ever reaches
// a user (a bad query is errc::usage with one line pointing at the offending character).
//
// A hit is one entry (a message in one folder of one account); the same content in two folders
// is two hits. Pages stream: no call loads every hit into memory.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"
#include "search/query.hpp"

namespace mv::archive {

enum class search_sort { date, relevance };  // date: newest first

struct search_request {
    std::string query;  // the user's text, parsed by mv::search::parse
    search_sort sort = search_sort::date;
    std::size_t limit = 50;
    std::size_t offset = 0;
    bool snippets = true;     // fill entry_hit::snippet (costs a read of each hit's text)
    bool want_total = false;  // fill search_page::total (a count of every match)
};

// Marks around the matched words in entry_hit::snippet; renderers replace them (the CLI with
// brackets or bold, the web viewer with <mark> after escaping the rest).
inline constexpr char snippet_open = '\x02';
inline constexpr char snippet_close = '\x03';

struct entry_hit {
    std::int64_t entry_id = 0;
    std::string account;
    std::string folder;  // decoded name
    std::optional<std::uint32_t> uid;
    std::optional<std::string> uidl;
    std::optional<std::int64_t> date_epoch;  // Date: header, else INTERNALDATE
    std::optional<std::int64_t> internaldate;
    std::string from, to, subject;  // decoded UTF-8
    std::uint64_t size = 0;
    std::string flags;  // canonical form (archive.hpp canonical_flags)
    sha256 content;
    std::string snippet;  // UTF-8, matches between snippet_open and snippet_close
    bool expunged = false;
    bool held = false;
};

struct search_page {
    std::vector<entry_hit> hits;
    std::optional<std::int64_t> total;  // set when search_request::want_total
    bool more = false;                  // another page exists after this one
};

// Flow: construct over an open archive (indexed: cli::open_indexed) -> page()/count()/each() as
// often as wanted. Not thread-safe (like the archive it reads).
class searcher {
public:
    explicit searcher(archive& a) : a_(a) {}

    search_page page(const search_request& r);
    std::int64_t count(std::string_view query);
    // Every match in the request's order, from its offset, ignoring limit; stop by returning
    // false. For export --query and selections.
    void each(const search_request& r, const std::function<bool(const entry_hit&)>& fn);
    // The SQL the request runs and SQLite's plan for it (EXPLAIN QUERY PLAN), for tests and
    // `mailvault search --explain`; never shown for a normal search.
    std::string explain(const search_request& r);

private:
    archive& a_;
};

}  // namespace mv::archive
