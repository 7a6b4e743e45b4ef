#include "report_hook.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace mv::cli {

std::int64_t audit_mark(archive::archive& a) {
    std::int64_t last = 0;
    a.for_each_audit([&](const archive::audit_row& r) { last = r.seq; });
    return last;
}

report::account_summary& account_of(report::run_summary& s, const std::string& name) {
    for (auto& a : s.accounts)
        if (a.account == name) return a;
    s.accounts.push_back({});
    s.accounts.back().account = name;
    return s.accounts.back();
}

void add_deletions(archive::archive& a, std::int64_t mark, report::run_summary& s) {
    a.for_each_audit([&](const archive::audit_row& r) {
        if (r.seq <= mark || (r.kind != "pop3_dele" && r.kind != "prune_delete")) return;
        auto j = nlohmann::json::parse(r.payload, nullptr, false);
        if (j.is_discarded() || !j.contains("account")) return;
        auto& acc = account_of(s, j.value("account", std::string()));
        acc.audit_hashes.push_back("audit #" + std::to_string(r.seq) + " " + r.hash.hex() +
                                   ": message " + j.value("sha256", std::string("?")));
    });
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

}  // namespace mv::cli
