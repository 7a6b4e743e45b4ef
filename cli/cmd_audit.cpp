// `mailvault audit verify|export`: the hash-chained audit log (docs/archive-format.md).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "common.hpp"

namespace mv::cli {
namespace {

int run_audit_verify(const std::vector<std::string>& args) {
    po::options_description d("mailvault audit verify");
    add_archive_options(d);
    d.add_options()("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto arch = open_archive(archive_path(vm), false, true);
    auto r = arch->audit_verify();
    for (const auto& p : r.problems) std::printf("BAD %s\n", p.c_str());
    std::printf(
        "audit log: %lld rows, %s\n", static_cast<long long>(r.rows),
        r.ok() ? "chain intact" : (std::to_string(r.problems.size()) + " problem(s)").c_str());
    return r.ok() ? exit_ok : exit_verify_failed;
}

int run_audit_export(const std::vector<std::string>& args) {
    po::options_description d("mailvault audit export (JSON lines on stdout)");
    add_archive_options(d);
    d.add_options()("help,h", "this help");
    auto vm = parse(args, d);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    auto arch = open_archive(archive_path(vm), false, true);
    arch->for_each_audit([](const archive::audit_row& r) {
        nlohmann::json payload = nlohmann::json::parse(r.payload, nullptr, false);
        if (payload.is_discarded()) payload = r.payload;  // keep what is there, as text
        nlohmann::json j = {{"seq", r.seq},
                            {"at", r.at},
                            {"kind", r.kind},
                            {"payload", payload},
                            {"prev_hash", r.prev_hash.hex()},
                            {"hash", r.hash.hex()}};
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    });
    return exit_ok;
}

MV_COMMAND("audit verify", "check the audit log's hash chain (exit 9 when broken)",
           run_audit_verify);
MV_COMMAND("audit export", "write the audit log as JSON lines", run_audit_export);

}  // namespace
}  // namespace mv::cli
