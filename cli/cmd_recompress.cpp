// mailvault recompress: re-compress stored messages with the current zstd dictionary.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "archive/archive.hpp"
#include "cli.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace {

int run_recompress(const std::vector<std::string>& args) {
    po::options_description desc(
        "mailvault recompress --archive PATH [--level N] [--batch N] [--retrain]");
    desc.add_options()("help,h", "show this help")("level", po::value<int>()->default_value(6),
                                                   "zstd level")(
        "batch", po::value<std::size_t>()->default_value(200), "messages per transaction")(
        "retrain", "train a new dictionary from the stored messages first");
    mv::cli::add_archive_options(desc);
    auto vm = mv::cli::parse(args, desc);
    if (vm.count("help")) {
        std::cout << desc;
        return mv::cli::exit_ok;
    }
    auto ap = mv::cli::open_archive(mv::cli::archive_path(vm), false, false, vm["level"].as<int>());
    auto& a = *ap;
    mv::archive::recompress_options ro;
    ro.batch = vm["batch"].as<std::size_t>();
    ro.retrain = vm.count("retrain") != 0;
    bool tty = mv::cli::stderr_is_tty();
    auto st = a.recompress(ro, [&](std::int64_t done, std::int64_t total) {
        if (tty)
            std::fprintf(stderr, "\rrecompress: %lld/%lld", static_cast<long long>(done),
                         static_cast<long long>(total));
    });
    if (tty) std::fputc('\n', stderr);
    if (!a.current_dictionary()) std::cout << "no dictionary yet (too few messages to train one)\n";
    std::cout << "examined " << st.examined << ", rewrote " << st.rewritten
              << " messages: " << st.bytes_before << " -> " << st.bytes_after << " stored bytes\n";
    return mv::cli::exit_ok;
}

}  // namespace

MV_COMMAND("recompress", "re-compress archived messages with the current zstd dictionary",
           run_recompress);
