// Typed parsers: pure functions from a parsed response (syntax.hpp) to the facts the sync engine
// needs. Unknown FETCH items, response codes and list attributes are skipped, never fatal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/syntax.hpp"
#include "imap/uid_set.hpp"
#include "mailvault/error.hpp"

namespace mv::imap {

// ---- CAPABILITY / ENABLED ----
struct capabilities {
    std::vector<std::string> items;  // upper-cased, e.g. "IMAP4REV1", "AUTH=PLAIN", "LITERAL+"
    bool has(std::string_view cap) const;  // case-insensitive
    bool has_auth(std::string_view mech) const { return has("AUTH=" + std::string(mech)); }
    bool empty() const { return items.empty(); }
};
// From "* CAPABILITY ..." (args) or a [CAPABILITY ...] code (code_args).
capabilities parse_capability_values(const std::vector<value>& vals);
// "* ENABLED X Y": the names, upper-cased.
std::vector<std::string> parse_enabled(const response& r);

// ---- ID ----
std::vector<std::pair<std::string, std::string>> parse_id(const response& r);  // NIL value -> ""

// ---- LIST / LSUB / XLIST ----
struct status_info {
    std::string mailbox;  // as sent (modified UTF-7 unless UTF8=ACCEPT), see decode_mailbox_name
    std::optional<std::uint32_t> messages, recent, uidnext, uidvalidity, unseen;
    std::optional<std::uint64_t> highestmodseq, size, appendlimit;
};
struct list_entry {
    std::vector<std::string> attributes;  // as sent, e.g. "\HasNoChildren", "\Sent"
    char delimiter = 0;                   // 0 when NIL (flat namespace)
    std::string name;                     // raw name as sent
    std::optional<status_info> status;    // filled by the list operation from LIST-STATUS answers
    bool has_attribute(std::string_view a) const;
};
mv::error parse_list(const response& r, list_entry& out);
mv::error parse_status(const response& r, status_info& out);

// ---- SELECT / EXAMINE ----
struct mailbox_state {
    std::vector<std::string> flags, permanent_flags;
    std::optional<std::uint32_t> exists, recent, unseen, uidvalidity, uidnext;
    std::optional<std::uint64_t> highestmodseq;
    bool nomodseq = false;
    bool read_only = false;
};
// Applies one response of the SELECT/EXAMINE answer (untagged data, untagged OK codes, tagged OK
// with READ-ONLY/READ-WRITE). Returns true if it was one of them. A UIDVALIDITY or UIDNEXT the
// server must not send (0, or beyond 4294967295) is not dropped silently: the item stays unset
// and, when `err` is given, *err (if still empty) gets an errc::protocol error naming the value.
bool apply_select_response(const response& r, mailbox_state& st, mv::error* err = nullptr);

// ---- FETCH ----
struct body_section {
    std::string item;     // the item name exactly as sent: "BODY[]", "BODY[]<0>", "RFC822", ...
    std::string section;  // what is between [ ], e.g. "", "HEADER", "1.MIME" (RFC822.HEADER:
                          // "HEADER"); compare `item`/`origin` too: BODY[]<0> is a partial body
    std::optional<std::uint32_t> origin;  // <n> partial origin
    bool nil = false;
    bool streamed = false;  // bytes went to the literal sink
    std::uint64_t size = 0;
    std::string data;  // when not streamed
};
// Deviations from RFC 3501 tolerated in FETCH responses (recorded, not fatal).
enum fetch_quirk : std::uint32_t {
    // "* 1 FETCH ((UID 5 FLAGS (\Seen)))": the item list wrapped in a second list (IBM Domino).
    quirk_double_parens = 1u << 0,
    // "* 1 FETCH (UID 5 BODY[HEADER.FIELDS (X)])": a section named with no value (Yandex). The
    // section is *absent* (listed in missing_sections), never an empty body.
    quirk_section_without_value = 1u << 1,
};
struct fetch_attrs {
    std::uint32_t seq = 0;
    std::optional<std::uint32_t> uid;
    std::optional<std::vector<std::string>> flags;
    std::optional<std::int64_t> internaldate;  // UTC seconds since the epoch
    std::optional<int> internaldate_offset;    // its zone as sent, minutes east of UTC
    std::optional<std::uint64_t> rfc822_size;
    std::optional<std::uint64_t> modseq;
    // Gmail (capability X-GM-EXT-1): X-GM-MSGID and X-GM-THRID, unsigned 64-bit; X-GM-LABELS
    // as sent (modified UTF-7 unless UTF8=ACCEPT is enabled; system labels such as \Inbox
    // keep their backslash; NIL entries dropped; empty for "()"). A value of the wrong type or
    // out of range is an errc::protocol error of parse_fetch.
    std::optional<std::uint64_t> gm_msgid, gm_thrid;
    std::optional<std::vector<std::string>> gm_labels;
    std::vector<body_section> bodies;
    std::vector<std::string> missing_sections;  // items named without a value (quirk)
    std::uint32_t quirks = 0;                   // fetch_quirk bits
};
mv::error parse_fetch(const response& r, fetch_attrs& out);
// "17-Jul-1996 02:44:25 -0700" -> UTC epoch seconds.
std::optional<std::int64_t> parse_internaldate(std::string_view s);
// The zone of an INTERNALDATE ("+0200" -> 120, "-0530" -> -330): minutes east of UTC.
std::optional<int> parse_internaldate_offset(std::string_view s);
// "dd-Mon-yyyy hh:mm:ss +zzzz": the moment `utc_epoch` written in the zone `offset_minutes`
// east of UTC (0: +0000), as the server sent it.
std::string format_internaldate(std::int64_t utc_epoch, int offset_minutes = 0);

// ---- SEARCH / ESEARCH ----
struct search_result {
    std::vector<std::uint32_t> ids;  // SEARCH answer, or ESEARCH ALL expanded
    uid_set all;                     // ESEARCH ALL as sent (empty for SEARCH)
    std::optional<std::uint32_t> min, max;
    std::optional<std::uint64_t> count, modseq;
    std::string tag;  // ESEARCH (TAG "x")
    bool uid = false;
};
// UIDs 0 or beyond 4294967295 are errc::protocol errors; an ESEARCH ALL set is expanded into
// `ids` only up to max_ids UIDs (more: errc::limit, nothing allocated).
mv::error parse_search(const response& r, search_result& out);  // "* SEARCH 1 2 (MODSEQ n)"
mv::error parse_esearch(const response& r, search_result& out,
                        std::size_t max_ids = 16u << 20);  // "* ESEARCH ..."

// ---- VANISHED / response codes ----
struct vanished_info {
    bool earlier = false;
    uid_set uids;
};
mv::error parse_vanished(const response& r, vanished_info& out);

struct appenduid_info {
    std::uint32_t uidvalidity = 0;
    uid_set uids;
};
struct copyuid_info {
    std::uint32_t uidvalidity = 0;
    uid_set source, dest;
};
std::optional<appenduid_info> parse_appenduid(const response& r);  // [APPENDUID v uids]
std::optional<copyuid_info> parse_copyuid(const response& r);      // [COPYUID v src dst]
std::optional<uid_set> parse_modified(const response& r);          // [MODIFIED set]

}  // namespace mv::imap
