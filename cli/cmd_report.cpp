// `mailvault report test [--config PATH]`: sends one test message through the [report] relay and
// prints the server's final reply (mailvault-report(1), docs/reports.md). `mailvault report flush`:
// sends the reports waiting in the spool (those a relay failure kept back).

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "common.hpp"
#include "report/report.hpp"

namespace mv::cli {
namespace {

// Both subcommands take only --config; nullopt when --help was asked (and printed).
std::optional<config::config> report_config(const std::vector<std::string>& args,
                                            const char* usage) {
    po::options_description d(usage);
    d.add_options()("config", po::value<std::string>(), "configuration file")("help,h",
                                                                              "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return std::nullopt;
    }
    return load_config(vm);
}

int run_report_test(const std::vector<std::string>& args) {
    auto loaded = report_config(args, "mailvault report test [--config PATH]");
    if (!loaded) return exit_ok;
    const auto& cfg = *loaded;
    auto res = report::send_test(cfg);
    for (const auto& r : res.rejected) std::cerr << "warning: recipient refused: " << r << "\n";
    for (const auto& r : res.deferred)
        std::cerr << "warning: recipient deferred (try again later): " << r << "\n";
    std::cout << res.reply << "\n";
    return exit_ok;
}

int run_report_flush(const std::vector<std::string>& args) {
    auto loaded = report_config(args, "mailvault report flush [--config PATH]");
    if (!loaded) return exit_ok;
    const auto& cfg = *loaded;
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
