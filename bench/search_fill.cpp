// Search benchmark fixture (not a test; bench/search_bench.py drives it): builds an archive of
// N synthetic messages with entries, then times building the search index on its own.
//
//   mailvault_bench_search_fill ARCHIVE N [--seed S]
//
// Messages: 2,000 senders (Zipf-weighted) plus "Joe Perches <joe@perches.com>" on 0.2%, dates
// spread over 2015-2025 independently of the UID order, subjects of 4-8 and bodies of 60-200
// words drawn (Zipf) from a 20,000-word vocabulary; planted words: "invoice" in 5%,
// "zanzibar" in 0.01%; a Japanese sentence in 3%, a German one (diacritics) in 20%. Prints one JSON
// object with the timings.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "archive/archive.hpp"

namespace fs = std::filesystem;
using namespace mv::archive;

namespace {

std::vector<std::string> make_vocabulary(std::mt19937_64& rng, std::size_t n) {
    static const char* common[] = {
        "the",     "and",     "project", "meeting",  "please",   "review", "report",   "update",
        "budget",  "team",    "release", "version",  "schedule", "client", "contract", "draft",
        "quarter", "numbers", "today",   "tomorrow", "week",     "thanks", "regards",  "attached"};
    std::vector<std::string> v(std::begin(common), std::end(common));
    const char* syll[] = {"ka", "ro",  "mi", "ten", "sul", "ba", "dor", "e",  "li",  "an", "pre",
                          "vo", "ste", "qu", "ar",  "ni",  "lo", "gra", "fe", "tor", "is", "mun"};
    std::uniform_int_distribution<int> ns(2, 4), pick(0, 21);
    while (v.size() < n) {
        std::string w;
        for (int k = ns(rng); k > 0; --k) w += syll[pick(rng)];
        v.push_back(w);
    }
    return v;
}

// Zipf(1) over [0, n) by inverse transform on a precomputed CDF.
struct zipf {
    std::vector<double> cdf;
    explicit zipf(std::size_t n) {
        cdf.resize(n);
        double s = 0;
        for (std::size_t i = 0; i < n; ++i) cdf[i] = (s += 1.0 / static_cast<double>(i + 1));
        for (auto& c : cdf) c /= s;
    }
    std::size_t operator()(std::mt19937_64& rng) const {
        double u = std::uniform_real_distribution<double>(0, 1)(rng);
        return static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    }
};

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::int64_t db_size(const fs::path& p) {
    std::error_code ec;
    auto s = fs::file_size(p, ec);
    return ec ? 0 : static_cast<std::int64_t>(s);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: mailvault_bench_search_fill ARCHIVE N [--seed S]\n");
        return 2;
    }
    const fs::path db = argv[1];
    const long n = std::atol(argv[2]);
    std::uint64_t seed = 14;
    for (int i = 3; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--seed") seed = std::strtoull(argv[++i], nullptr, 10);
    std::mt19937_64 rng(seed);
    const auto vocab = make_vocabulary(rng, 20000);
    const zipf words(vocab.size()), senders(2000);
    std::vector<std::string> people;
    const char* first[] = {"Anna", "Ben",   "Chloe", "David", "Emma",  "Felix", "Grace", "Hugo",
                           "Ines", "Jonas", "Kim",   "Lena",  "Marco", "Nina",  "Oscar", "Paula"};
    for (int i = 0; i < 2000; ++i)
        people.push_back(std::string(first[i % 16]) + " " + vocab[100 + i] + " <" + first[i % 16] +
                         "." + vocab[100 + i] + "@" + vocab[3000 + i % 300] + ".example>");
    std::uniform_int_distribution<int> subj_len(4, 8), body_len(60, 200);
    std::uniform_int_distribution<std::int64_t> date(1420070400, 1735689600);  // 2015..2025
    std::uniform_real_distribution<double> u(0, 1);

    std::error_code ec;
    for (auto ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext, ec);
    options o;
    o.create = true;
    o.defer_index = true;
    double ingest_s = 0, index_s = 0;
    std::int64_t before_index = 0;
    {
        archive a(db, o);
        auto acc = a.upsert_account({"bench", "imap", "localhost", "bench"});
        auto mb = a.upsert_mailbox({acc, "INBOX", "INBOX", "/", std::nullopt});
        double t0 = now_s();
        std::string m;
        for (long i = 0; i < n;) {
            transaction tx(a);
            if (i == 0) a.set_watermarks(mb.id, {1, std::nullopt, std::nullopt, std::nullopt});
            for (long end = std::min(n, i + 2000); i < end; ++i) {
                const bool joe = u(rng) < 0.002;
                m = "From: " +
                    (joe ? std::string("Joe Perches <joe@perches.com>") : people[senders(rng)]) +
                    "\r\nTo: " + people[senders(rng)] + "\r\nSubject: ";
                for (int k = subj_len(rng); k > 0; --k) m += vocab[words(rng)] + " ";
                std::time_t t = static_cast<std::time_t>(date(rng));
                std::tm tm{};
                gmtime_r(&t, &tm);
                char d[64];
                std::strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S +0000", &tm);
                m += "\r\nDate: " + std::string(d) + "\r\nMessage-ID: <" + std::to_string(i) +
                     "@bench.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
                int len = body_len(rng);
                for (int k = 0; k < len; ++k) {
                    m += vocab[words(rng)];
                    m += (k % 14 == 13) ? ".\r\n" : " ";
                }
                if (u(rng) < 0.05) m += "\r\nThe invoice is attached.";
                if (u(rng) < 0.0001) m += "\r\nGreetings from zanzibar.";
                if (u(rng) < 0.03) m += "\r\n会議の日本語資料を送ります。";
                if (u(rng) < 0.20) m += "\r\nDie Übersicht für März ist fertig, Grüße.";
                m += "\r\n";
                auto h = a.put_content(m).hash;
                a.upsert_entry({mb.id,
                                1,
                                static_cast<std::uint32_t>(i + 1),
                                std::nullopt,
                                {"\\Seen"},
                                std::nullopt,
                                static_cast<std::int64_t>(t),
                                m.size(),
                                h});
            }
            tx.commit();
        }
        ingest_s = now_s() - t0;
    }
    before_index = db_size(db);
    {
        archive a(db, options{});
        double t0 = now_s();
        a.index_pending();
        index_s = now_s() - t0;
    }
    const std::int64_t after = db_size(db);
    std::printf(
        "{\"messages\": %ld, \"ingest_seconds\": %.1f, \"index_seconds\": %.1f, "
        "\"index_msgs_per_s\": %.0f, \"bytes_before_index\": %lld, \"bytes_after_index\": %lld, "
        "\"index_bytes_per_message\": %.0f}\n",
        n, ingest_s, index_s, static_cast<double>(n) / index_s,
        static_cast<long long>(before_index), static_cast<long long>(after),
        static_cast<double>(after - before_index) / static_cast<double>(n));
    return 0;
}
