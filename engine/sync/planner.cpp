#include "sync/planner.hpp"

#include <algorithm>

namespace mv::sync {

bool folder_unchanged(const archived_folder& a, const server_folder& s) {
    if (!a.uidvalidity || !s.uidvalidity || *a.uidvalidity != *s.uidvalidity) return false;
    if (!a.uidnext || !s.uidnext || *a.uidnext != *s.uidnext) return false;
    if (!s.messages || static_cast<std::int64_t>(*s.messages) != a.live_messages) return false;
    // Every message below UIDNEXT must be archived already (a run killed mid-folder leaves
    // last_uid behind uidnext - 1 only if messages are missing).
    if (!s.highestmodseq || !a.highestmodseq) return false;
    return *s.highestmodseq == *a.highestmodseq;
}

folder_plan plan_folder(const archived_folder& a, std::uint32_t server_uidvalidity,
                        std::optional<std::uint64_t> server_highestmodseq, bool server_nomodseq,
                        const server_caps& caps) {
    folder_plan p;
    if (a.uidvalidity && *a.uidvalidity != server_uidvalidity) {
        p.new_generation = true;
        p.flags = flag_strategy::none;
        p.fetch_from_uid = 1;
        return p;
    }
    if (!a.uidvalidity || !a.last_uid || *a.last_uid == 0) {
        // Nothing archived in this generation yet.
        p.flags = flag_strategy::none;
        p.fetch_from_uid = a.last_uid ? *a.last_uid + 1 : 1;
        if (a.live_messages > 0) p.flags = flag_strategy::listing;
        return p;
    }
    p.fetch_from_uid = *a.last_uid + 1;
    const bool modseq_usable = !server_nomodseq && server_highestmodseq && a.highestmodseq;
    if (caps.qresync && modseq_usable)
        p.flags = flag_strategy::qresync;
    else if (caps.condstore && modseq_usable)
        p.flags = flag_strategy::condstore;
    else
        p.flags = flag_strategy::listing;
    return p;
}

std::vector<std::string> persistent_flags(std::vector<std::string> flags) {
    flags.erase(std::remove_if(flags.begin(), flags.end(),
                               [](const std::string& f) {
                                   if (f.size() != 7) return false;
                                   std::string l = f;
                                   for (auto& c : l) c = static_cast<char>(std::tolower(c));
                                   return l == "\\recent";
                               }),
                flags.end());
    std::sort(flags.begin(), flags.end());
    flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
    return flags;
}

uid_diff diff_uids(const std::vector<std::uint32_t>& archived,
                   const std::vector<std::uint32_t>& server) {
    uid_diff d;
    std::set_difference(archived.begin(), archived.end(), server.begin(), server.end(),
                        std::back_inserter(d.vanished));
    std::set_difference(server.begin(), server.end(), archived.begin(), archived.end(),
                        std::back_inserter(d.unknown));
    return d;
}

std::vector<std::vector<std::uint32_t>> chunk_uids(const std::vector<std::uint32_t>& uids,
                                                   std::size_t max_count) {
    std::vector<std::vector<std::uint32_t>> out;
    for (std::size_t i = 0; i < uids.size(); i += max_count)
        out.emplace_back(uids.begin() + static_cast<long>(i),
                         uids.begin() + static_cast<long>(std::min(uids.size(), i + max_count)));
    return out;
}

}  // namespace mv::sync
