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

// How much of what the server sends unasked is kept per response class. A server may send
// millions of untagged responses (5M `* OK [ALERT]` lines once grew RSS to 277 MB): beyond these
// caps responses are counted or flagged, never stored, so memory stays bounded whatever arrives.
struct retention_limits {
    std::size_t alerts = 32;            // [ALERT] texts kept (the rest counted)
    std::size_t events = 100000;        // per kind: EXPUNGE numbers, FETCH changes, VANISHED ranges
    std::size_t enabled = 64;           // distinct ENABLED names
    std::size_t capabilities = 1024;    // capability names kept from one CAPABILITY answer
    std::size_t list_entries = 200000;  // LIST answers (more: errc::limit)
    std::size_t search_ids = 16u << 20;    // UIDs in one UID SEARCH answer (more: errc::limit)
    std::size_t select_changes = 1000000;  // QRESYNC FETCH changes kept by SELECT (more: flagged)
    std::size_t vanished_ranges =
        1000000;  // VANISHED (EARLIER) ranges of one command (errc::limit)
};

// Unsolicited mailbox changes seen while running commands (RFC 3501 7.3/7.4, RFC 7162 VANISHED).
struct mailbox_events {
    std::optional<std::uint32_t> exists, recent;
    std::vector<std::uint32_t>
        expunged;      // sequence numbers, in arrival order (each shifts later ones)
    uid_set vanished;  // UIDs from VANISHED (not EARLIER)
    std::vector<fetch_attrs> fetches;  // unsolicited FETCH (flag / modseq changes)
    // More events arrived than retention_limits::events: some were dropped, so what is kept is
    // incomplete (resynchronize the mailbox instead of trusting it).
    bool overflowed = false;
    bool empty() const {
        return !exists && !recent && expunged.empty() && vanished.empty() && fetches.empty() &&
               !overflowed;
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
    std::vector<std::string> alerts;   // [ALERT] texts, to show the user (first retain.alerts)
    std::uint64_t alerts_dropped = 0;  // [ALERT]s beyond retain.alerts: counted, not kept
    retention_limits retain;
    std::uint64_t responses = 0;  // complete responses framed (liveness: op_base::progress)
    std::uint32_t quirks = 0;     // fetch_quirk bits seen on this connection (parsers.hpp)
    // Set when an operation was abandoned with answers still pending (a fetch_sink reported an
    // error mid-stream): the response stream is out of step, so every later operation fails at
    // once with this error (errc::closed: reconnect).
    mv::error unusable;

    std::string next_tag() { return make_tag(++tag_counter); }
    writer_caps wcaps() const { return make_writer_caps(caps, utf8); }
    bool is_enabled(std::string_view ext) const {
        for (auto& e : enabled)
            if (iequals(e, ext)) return true;
        return false;
    }
};

}  // namespace mv::imap
