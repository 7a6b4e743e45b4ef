// mailvault search: FTS5 query over subjects, addresses and text bodies.
#include <boost/program_options.hpp>
#include <ctime>
#include <iostream>

#include "archive/archive.hpp"
#include "cli.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace {

int run_search(const std::vector<std::string>& args) {
    po::options_description desc("mailvault search --archive PATH QUERY...");
    desc.add_options()("help,h", "show this help")(
        "limit", po::value<std::size_t>()->default_value(50), "maximum number of results")(
        "query", po::value<std::vector<std::string>>(),
        "FTS5 query (e.g. invoice, subject:report, \"exact phrase\")");
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
    auto ap = mv::cli::open_indexed(mv::cli::archive_path(vm));
    auto& a = *ap;
    for (const auto& h : a.search(q, vm["limit"].as<std::size_t>())) {
        char date[32] = "(no date)       ";
        if (h.date_epoch) {
            std::time_t t = static_cast<std::time_t>(*h.date_epoch);
            std::tm tm{};
            gmtime_r(&t, &tm);
            std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
        }
        std::cout << date << "  " << h.from << "  " << h.subject << "  ["
                  << (h.location.empty() ? "-" : h.location) << "]  "
                  << h.content.hex().substr(0, 12) << "\n";
    }
    return mv::cli::exit_ok;
}

}  // namespace

MV_COMMAND("search", "full-text search over archived subjects, addresses and bodies", run_search);
