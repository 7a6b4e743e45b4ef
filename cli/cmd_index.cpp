// `mailvault index`: build the header index and full-text search index for every stored message
// that does not have one yet (sync stores messages unindexed, so that fetching stays fast).
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "common.hpp"

namespace mv::cli {
namespace {

int run_index(const std::vector<std::string>& args) {
    po::options_description d("mailvault index [options]");
    add_archive_options(d);
    d.add_options()("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto a = open_archive(archive_path(vm), false, false);
    const auto t0 = std::chrono::steady_clock::now();
    const auto n = a->index_pending();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("indexed %lld messages in %.1f s\n", static_cast<long long>(n), secs);
    return exit_ok;
}

MV_COMMAND("index", "build the search index for messages stored since the last index", run_index);

}  // namespace
}  // namespace mv::cli
