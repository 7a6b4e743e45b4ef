#include "report/alerts.hpp"

#include <set>

#include "mailvault/units.hpp"

namespace mv::report {

namespace {

std::string plural(std::int64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::vector<alert> alert_monitor::evaluate(const observation& o) {
    std::vector<alert> out;
    auto start = [&](const std::string& key, const std::string& identity) {
        auto it = active_.find(key);
        if (it != active_.end() && it->second == identity) return false;
        active_[key] = identity;
        return true;
    };
    auto end = [&](const std::string& key) { return active_.erase(key) > 0; };

    // Accounts failing again and again. An account no longer watched (a reload removed it)
    // ends its episode without a note.
    std::set<std::string> watched;
    for (const auto& a : o.accounts) {
        const std::string key = "account:" + a.name;
        watched.insert(key);
        if (s_.after_failures > 0 && a.failures >= s_.after_failures) {
            if (start(key, "failing"))
                out.push_back({key,
                               false,
                               a.name,
                               "account " + a.name + " failing: " +
                                   plural(a.failures, "attempt", "attempts") + " in a row",
                               {"last error: " + a.last_error,
                                "mailvault keeps retrying with a growing pause; once the cause "
                                "is fixed (a changed password, a server down, the network) it "
                                "catches up by itself, with no gap"}});
        } else if (a.failures == 0 && end(key)) {
            out.push_back({key,
                           true,
                           a.name,
                           "account " + a.name + " works again",
                           {"the last sync completed; what arrived meanwhile is archived"}});
        }
    }
    for (auto it = active_.begin(); it != active_.end();)
        it = it->first.rfind("account:", 0) == 0 && !watched.count(it->first) ? active_.erase(it)
                                                                              : std::next(it);

    // Free space where the archive lives; the episode ends with a 10% margin so that hovering
    // around the threshold does not alert on every tick.
    if (s_.disk_free_min > 0 && o.disk_free) {
        const std::uint64_t freeb = *o.disk_free;
        if (freeb < s_.disk_free_min) {
            if (start("disk", "low"))
                out.push_back({"disk",
                               false,
                               {},
                               "disk space low: " + format_size(freeb) + " free for the archive",
                               {format_size(freeb) + " free on the file system of " + o.disk_path +
                                    " (alert_disk_free is " + format_size(s_.disk_free_min) + ")",
                                "when it is full, new mail cannot be archived (nothing archived "
                                "is lost and nothing is deleted on a server meanwhile): free "
                                "space or move the archive"}});
        } else if (freeb >= s_.disk_free_min + s_.disk_free_min / 10 && end("disk")) {
            out.push_back({"disk",
                           true,
                           {},
                           "disk space back: " + format_size(freeb) + " free for the archive",
                           {}});
        }
    }

    // Server certificates about to expire: one episode per endpoint and certificate, so a
    // renewal that is itself close to expiry alerts again, and a good renewal ends it.
    if (s_.cert_expiry.count() > 0) {
        std::set<std::string> seen;
        for (const auto& c : o.certificates) {
            const std::string key = "cert:" + c.endpoint;
            if (!seen.insert(key).second) continue;
            const std::int64_t left = c.not_after - o.now;
            const std::string until = format_utc(c.not_after, "%Y-%m-%d %H:%M UTC");
            if (left < s_.cert_expiry.count()) {
                if (!start(key, c.fingerprint)) continue;
                std::string when =
                    left <= 0 ? "has expired (" + until + ")"
                              : "expires in " +
                                    plural(std::max<std::int64_t>(1, left / 86400), "day", "days") +
                                    " (" + until + ")";
                if (left > 0 && left < 86400) when = "expires within a day (" + until + ")";
                out.push_back({key,
                               false,
                               c.account,
                               "certificate of " + c.endpoint + " " + when,
                               {"server " + c.endpoint + " (account " + c.account + ") presents " +
                                    c.subject + ", SHA-256 " + c.fingerprint,
                                "once it expires every sync of that server fails the "
                                "certificate check: ask its operator to renew it"}});
            } else if (end(key)) {
                out.push_back({key,
                               true,
                               c.account,
                               "certificate of " + c.endpoint + " renewed: valid until " + until,
                               {}});
            }
        }
    }

    // The periodic verify: one that could not run (the archive could not be opened, a lock) is
    // its own episode, not a verdict on the archive.
    if (o.verify && !o.verify->ran) {
        if (start("verify-run", "failed"))
            out.push_back({"verify-run",
                           false,
                           {},
                           "periodic verify could not run",
                           {o.verify->summary,
                            "check that the archive file is readable and the disk healthy; the "
                            "next attempt is after verify_interval"}});
    } else if (o.verify) {
        if (end("verify-run"))
            out.push_back({"verify-run", true, {}, "periodic verify runs again", {}});
        if (!o.verify->ok) {
            if (start("verify", "failed")) {
                alert a{"verify", false, {}, "verify FAILED: the archive has problems", {}};
                a.lines.push_back(o.verify->summary);
                for (const auto& p : o.verify->problems) a.lines.push_back("problem: " + p);
                a.lines.push_back("run `mailvault verify` for the full list");
                out.push_back(std::move(a));
            }
        } else if (end("verify")) {
            out.push_back({"verify", true, {}, "verify passes again", {o.verify->summary}});
        }
    }
    return out;
}

std::vector<std::string> alert_monitor::active() const {
    std::vector<std::string> keys;
    for (const auto& [k, v] : active_) keys.push_back(k);
    return keys;
}

}  // namespace mv::report
