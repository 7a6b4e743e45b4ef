// Connection state shared by the IMAP operations of one connection: the framer (which persists
// across operations), capabilities, tag counter, bytes read but not yet consumed, and what the
// server told us without being asked (mailbox events, alerts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imap/framer.hpp"
#include "imap/parsers.hpp"
#include "imap/writer.hpp"

namespace mv::imap {

// Unsolicited mailbox changes seen while running commands (RFC 3501 7.3/7.4, RFC 7162 VANISHED).
struct mailbox_events {
    std::optional<std::uint32_t> exists, recent;
    std::vector<std::uint32_t>
        expunged;      // sequence numbers, in arrival order (each shifts later ones)
    uid_set vanished;  // UIDs from VANISHED (not EARLIER)
    std::vector<fetch_attrs> fetches;  // unsolicited FETCH (flag / modseq changes)
    bool empty() const {
        return !exists && !recent && expunged.empty() && vanished.empty() && fetches.empty();
    }
    void clear() { *this = mailbox_events{}; }
};

struct session {
    explicit session(limits lim = {}) : fr(lim) {}

    framer fr;
    capabilities caps;
    std::vector<std::string> enabled;  // upper-cased
    bool utf8 = false;                 // UTF8=ACCEPT enabled
    bool authenticated = false;
    bool closed = false;  // BYE seen or connection failed
    std::string bye_text;
    std::uint32_t tag_counter = 0;
    std::string pending;   // bytes read past the end of the previous operation
    std::string idle_tag;  // tag of a running IDLE
    mailbox_events events;
    std::vector<std::string> alerts;  // [ALERT] texts, to show the user

    std::string next_tag() { return make_tag(++tag_counter); }
    writer_caps wcaps() const { return make_writer_caps(caps, utf8); }
    bool is_enabled(std::string_view ext) const {
        for (auto& e : enabled)
            if (iequals(e, ext)) return true;
        return false;
    }
};

}  // namespace mv::imap
