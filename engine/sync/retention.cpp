#include "sync/retention.hpp"

#include <algorithm>
#include <cctype>

#include "archive/archive.hpp"
#include "imap/uid_set.hpp"
#include "mailvault/config.hpp"
#include "mailvault/units.hpp"

namespace mv::sync {

namespace {

bool has_all_flags(const std::string& canonical, const std::vector<std::string>& wanted) {
    const auto have = archive::split_flags(canonical);
    for (const auto& w : wanted) {
        bool found = false;
        for (const auto& h : have) {
            // System flags are case-insensitive (RFC 3501 2.3.2); keywords compared the same way.
            if (h.size() == w.size() &&
                std::equal(h.begin(), h.end(), w.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                }))
                found = true;
        }
        if (!found) return false;
    }
    return true;
}

bool rule_selects(const prune_rule& r, const archived_message& m, std::int64_t now) {
    if (m.expunged) return false;
    if (r.older_than) {
        if (!m.internaldate) return false;
        if (*m.internaldate >= now - r.older_than->count()) return false;
    }
    if (r.larger_than && m.size <= *r.larger_than) return false;
    return has_all_flags(m.flags, r.flags);
}

}  // namespace

std::string validate_rule(const prune_rule& r) {
    if (!r.older_than && !r.larger_than && r.flags.empty())
        return "a prune rule needs at least one of older_than, larger_than or flags (a rule "
               "without criteria would select every message)";
    for (const auto& f : r.flags)
        if (f.empty() || f.find_first_of(" ()\"") != std::string::npos)
            return "flag '" + f + "' is not a valid IMAP flag";
    for (const auto& f : r.folders)
        if (f.empty()) return "an empty folder pattern selects nothing";
    return {};
}

std::string describe_rule(const prune_rule& r) {
    if (!r.name.empty()) return r.name;
    std::string out;
    auto add = [&](const std::string& s) {
        if (!out.empty()) out += ' ';
        out += s;
    };
    if (r.account) add("account=" + *r.account);
    if (!r.folders.empty()) {
        std::string f;
        for (const auto& p : r.folders) f += (f.empty() ? "" : ",") + p;
        add("folders=" + f);
    }
    if (r.older_than) add("older_than=" + mv::format_duration(*r.older_than));
    if (!r.flags.empty()) {
        std::string f;
        for (const auto& p : r.flags) f += (f.empty() ? "" : ",") + p;
        add("flags=" + f);
    }
    if (r.larger_than) add("larger_than=" + std::to_string(*r.larger_than));
    return out;
}

bool rule_covers_folder(const prune_rule& r, std::string_view account, std::string_view folder,
                        char delimiter) {
    if (r.account && *r.account != account) return false;
    if (r.folders.empty()) return true;
    for (const auto& p : r.folders)
        if (config::folder_pattern_matches(p, folder, delimiter)) return true;
    return false;
}

std::vector<prune_candidate> select_for_prune(const std::vector<prune_rule>& rules,
                                              const std::vector<std::size_t>& covering,
                                              const std::vector<archived_message>& messages,
                                              std::int64_t now) {
    std::vector<prune_candidate> out;
    for (const auto& m : messages) {
        for (auto i : covering) {
            if (i >= rules.size()) continue;
            if (rule_selects(rules[i], m, now)) {
                out.push_back({m, i});
                break;
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const prune_candidate& a, const prune_candidate& b) {
        return a.msg.uid < b.msg.uid;
    });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const prune_candidate& a, const prune_candidate& b) {
                              return a.msg.uid == b.msg.uid;
                          }),
              out.end());
    return out;
}

std::optional<std::int64_t> covering_hold(const std::vector<hold_scope>& holds,
                                          std::int64_t account_id,
                                          std::optional<std::int64_t> mailbox_id) {
    for (const auto& h : holds) {
        if (!h.active || h.account_id != account_id) continue;
        if (!h.mailbox_id || !mailbox_id || *h.mailbox_id == *mailbox_id) return h.id;
    }
    return std::nullopt;
}

purge_decision select_for_purge(const std::vector<purge_entry>& entries,
                                const std::vector<hold_scope>& holds, std::int64_t cutoff,
                                purge_basis basis) {
    return select_for_purge(entries, holds, {}, cutoff, basis);
}

purge_decision select_for_purge(const std::vector<purge_entry>& entries,
                                const std::vector<hold_scope>& holds,
                                const std::vector<std::int64_t>& query_held, std::int64_t cutoff,
                                purge_basis basis) {
    purge_decision d;
    for (const auto& e : entries) {
        const std::int64_t age_ref = basis == purge_basis::internaldate
                                         ? e.internaldate.value_or(e.first_seen)
                                         : e.first_seen;
        if (age_ref >= cutoff) continue;
        if (!e.expunged_at) {
            ++d.on_server;
            continue;
        }
        if (covering_hold(holds, e.account_id, e.mailbox_id) ||
            std::binary_search(query_held.begin(), query_held.end(), e.entry_id)) {
            ++d.held;
            continue;
        }
        d.purge.push_back(e.entry_id);
    }
    return d;
}

std::string compress_uids(std::vector<std::uint32_t> uids) {
    return imap::format_uid_set(imap::make_uid_set(std::move(uids)));
}

}  // namespace mv::sync
