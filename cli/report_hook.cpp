#include "report_hook.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace mv::cli {

std::int64_t audit_mark(archive::archive& a) {
    return a.last_audit_seq();
}

report::account_summary& account_of(report::run_summary& s, const std::string& name) {
    for (auto& a : s.accounts)
        if (a.account == name) return a;
    s.accounts.push_back({});
    s.accounts.back().account = name;
    return s.accounts.back();
}

void add_deletions(archive::archive& a, std::int64_t mark, report::run_summary& s) {
    a.for_each_audit(
        [&](const archive::audit_row& r) {
            if (r.kind != "pop3_dele" && r.kind != "prune_delete") return;
            auto j = nlohmann::json::parse(r.payload, nullptr, false);
            if (j.is_discarded() || !j.contains("account")) return;
            auto& acc = account_of(s, j.value("account", std::string()));
            acc.audit_hashes.push_back("audit #" + std::to_string(r.seq) + " " + r.hash.hex() +
                                       ": message " + j.value("sha256", std::string("?")));
        },
        mark);
}

void send_report(const config::config& cfg, const report::run_summary& s) {
    if (!cfg.report.enabled) return;
    auto r = report::send_after(cfg, s);
    if (r.sent > 0) spdlog::debug("report: {} sent ({})", r.sent, r.last_reply);
    if (r.pending > 0)
        spdlog::warn(
            "mailvault: report not sent yet ({} waiting in the spool): {}; it is retried "
            "with the next report or `mailvault report flush`",
            r.pending, r.last_error.message);
}

std::optional<config::config> config_for_report(const po::variables_map& vm) {
    if (vm.count("config")) return load_config(vm);
    std::error_code ec;
    if (!std::filesystem::exists(config::default_config_path(), ec)) return std::nullopt;
    try {
        return load_config(vm);
    } catch (const mv::failure& f) {
        spdlog::warn("mailvault: no run report: {}", f.err.message);
        return std::nullopt;
    }
}

void send_report(const std::optional<config::config>& cfg, const report::run_summary& s) {
    if (cfg) send_report(*cfg, s);
}

}  // namespace mv::cli
