// `mailvault report test [--config PATH]`: sends one test message through the [report] relay and
// prints the server's final reply (docs/reports.md). `mailvault report flush`: sends the reports
// waiting in the spool (those a relay failure kept back).

#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "common.hpp"
#include "report/report.hpp"

namespace mv::cli {
namespace {

int run_report_test(const std::vector<std::string>& args) {
    po::options_description d("mailvault report test [--config PATH]");
    d.add_options()("config", po::value<std::string>(), "configuration file")("help,h",
                                                                              "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto cfg = load_config(vm);
    auto res = report::send_test(cfg);
    for (const auto& r : res.rejected) std::cerr << "warning: recipient refused: " << r << "\n";
    for (const auto& r : res.deferred)
        std::cerr << "warning: recipient deferred (try again later): " << r << "\n";
    std::cout << res.reply << "\n";
    return exit_ok;
}

int run_report_flush(const std::vector<std::string>& args) {
    po::options_description d("mailvault report flush [--config PATH]");
    d.add_options()("config", po::value<std::string>(), "configuration file")("help,h",
                                                                              "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto cfg = load_config(vm);
    if (!cfg.report.enabled)
        throw mv::failure(
            errc::config,
            cfg.source.string() + ": no [report] section; add one (man mailvault-report)");
    auto fr = report::flush_spool(cfg);
    std::cout << fr.sent << " sent, " << fr.pending << " pending, " << fr.rejected << " rejected ("
              << report::spool_dir(cfg).string() << ")\n";
    if (fr.last_error && fr.pending > 0) throw mv::failure(fr.last_error);
    return exit_ok;
}

}  // namespace
}  // namespace mv::cli

MV_COMMAND("report test", "send one test message through the [report] relay and print its reply",
           mv::cli::run_report_test);
MV_COMMAND("report flush", "send the run reports waiting in the report spool",
           mv::cli::run_report_flush);
