#include "imap/parsers.hpp"

#include <chrono>

namespace mv::imap {

namespace {

mv::error bad(const response& r, const value* v, std::string_view what) {
    return syntax_error(*r.framed, v ? v->pos : 0, what);
}

std::optional<std::uint32_t> as_u32(const value& v) {
    auto n = v.number();
    if (!n || *n > 0xffffffffu) return std::nullopt;
    return static_cast<std::uint32_t>(*n);
}

// Atoms and strings of a list, e.g. FLAGS (NIL entries are skipped).
bool string_list(const value& v, std::vector<std::string>& out) {
    if (!v.is_list()) return false;
    out.clear();
    for (auto& it : v.items) {
        if (it.is_nil()) continue;
        if (it.is_list()) return false;
        out.emplace_back(it.str());
    }
    return true;
}

// A body section item name: BODY[...]<o>, BINARY[...], BODY.PEEK[...] (servers should not echo
// .PEEK, some do).
bool is_section_item(std::string_view name) {
    auto starts = [&](std::string_view p) {
        return name.size() >= p.size() && iequals(name.substr(0, p.size()), p);
    };
    return starts("BODY[") || starts("BINARY[") || starts("BODY.PEEK[");
}

// A 64-bit unsigned number (Gmail's X-GM-MSGID and X-GM-THRID: up to 20 digits, the full
// range 0..18446744073709551615). Not a number, or beyond the range: errc::protocol naming the
// item and what was sent.
mv::error ranged_u64(const response& r, const value& v, std::string_view name,
                     std::optional<std::uint64_t>& out) {
    out.reset();
    std::string_view t = v.is_atom() ? v.text : std::string_view{};
    bool digits = !t.empty();
    for (char c : t) digits = digits && c >= '0' && c <= '9';
    if (!digits)
        return bad(r, &v,
                   "server sent " + std::string(name) + " '" + escape_bytes(v.str(), 30) +
                       "', not a number");
    std::string_view sig = t;
    while (sig.size() > 1 && sig.front() == '0') sig.remove_prefix(1);
    std::uint64_t n = 0;
    bool fits = sig.size() <= 20;
    for (char c : sig) {
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (!fits || n > (UINT64_MAX - d) / 10) {
            fits = false;
            break;
        }
        n = n * 10 + d;
    }
    if (!fits)
        return bad(r, &v,
                   "server sent " + std::string(name) + " " + escape_bytes(t, 40) +
                       ", out of range (0..18446744073709551615)");
    out = n;
    return {};
}

// A number the server must send in [lo, 4294967295] (UID, UIDVALIDITY, UIDNEXT: nz-number in
// RFC 3501). Out of range or not a number: errc::protocol naming the item and what was sent.
mv::error ranged_u32(const response& r, const value& v, std::string_view name, std::uint32_t lo,
                     std::optional<std::uint32_t>& out) {
    out.reset();
    std::optional<std::uint64_t> n;
    if (auto e = ranged_u64(r, v, name, n)) {
        if (e.message.find("not a number") != std::string::npos) return e;
        n.reset();  // beyond 64 bits: out of range below
    }
    if (!n || *n < lo || *n > 0xffffffffu)
        return bad(r, &v,
                   "server sent " + std::string(name) + " " + escape_bytes(v.text, 40) +
                       ", out of range (" + std::to_string(lo) + "..4294967295)");
    out = static_cast<std::uint32_t>(*n);
    return {};
}

// X-GM-LABELS: a parenthesized list of astrings ("()" when the message has no label). NIL
// entries are skipped (Gmail has been seen sending them); a nested list, a NIL or an atom in
// place of the list is errc::protocol.
mv::error gm_label_list(const response& r, const value& v, std::vector<std::string>& out) {
    out.clear();
    if (!v.is_list()) return bad(r, &v, "malformed X-GM-LABELS (not a list)");
    for (auto& it : v.items) {
        if (it.is_nil()) continue;
        if (it.is_list() || it.streamed || (!it.is_atom() && !it.is_string()))
            return bad(r, &it, "malformed X-GM-LABELS (a label is not a string)");
        out.emplace_back(it.str());
    }
    return {};
}

std::optional<std::uint64_t> as_u64_or_list(const value& v) {
    if (v.is_list()) return v.items.size() == 1 ? v.items[0].number() : std::nullopt;
    return v.number();
}

}  // namespace

bool capabilities::has(std::string_view cap) const {
    for (auto& c : items)
        if (iequals(c, cap)) return true;
    return false;
}

capabilities parse_capability_values(const std::vector<value>& vals) {
    capabilities c;
    for (auto& v : vals)
        if (v.is_atom() || v.is_string()) c.items.push_back(to_upper(v.str()));
    return c;
}

std::vector<std::string> parse_enabled(const response& r) {
    std::vector<std::string> out;
    for (auto& v : r.args)
        if (v.is_atom()) out.push_back(to_upper(v.text));
    return out;
}

std::vector<std::pair<std::string, std::string>> parse_id(const response& r) {
    std::vector<std::pair<std::string, std::string>> out;
    if (r.args.empty() || !r.args[0].is_list()) return out;
    auto& items = r.args[0].items;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2)
        out.emplace_back(std::string(items[i].str()),
                         items[i + 1].is_nil() ? std::string() : std::string(items[i + 1].str()));
    return out;
}

bool list_entry::has_attribute(std::string_view a) const {
    for (auto& x : attributes)
        if (iequals(x, a)) return true;
    return false;
}

mv::error parse_list(const response& r, list_entry& out) {
    out = list_entry{};
    auto& a = r.args;
    if (a.size() < 3 || !a[0].is_list())
        return bad(r, a.empty() ? nullptr : &a[0], "malformed LIST response");
    if (!string_list(a[0], out.attributes)) return bad(r, &a[0], "malformed LIST attributes");
    if (a[1].is_nil() || (a[1].is_string() && a[1].str().empty())) {
        out.delimiter = 0;  // NIL, or "" as some servers send for a flat namespace
    } else if (a[1].is_string() && a[1].str().size() == 1) {
        out.delimiter = a[1].str()[0];
    } else {
        return bad(r, &a[1], "malformed LIST delimiter");
    }
    if (a[2].is_list()) return bad(r, &a[2], "malformed LIST mailbox name");
    out.name = std::string(a[2].str());  // a bare NIL is a mailbox named "NIL" (Dovecot sends it)
    return {};
}

mv::error parse_status(const response& r, status_info& out) {
    out = status_info{};
    auto& a = r.args;
    if (a.size() < 2 || a[0].is_list() || !a[1].is_list())
        return bad(r, a.empty() ? nullptr : &a[0], "malformed STATUS response");
    out.mailbox = std::string(a[0].str());
    auto& items = a[1].items;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
        auto& k = items[i];
        auto& v = items[i + 1];
        auto n = v.number();
        if (!k.is_atom()) return bad(r, &k, "malformed STATUS item");
        if (!n && (k.is("UIDNEXT") || k.is("UIDVALIDITY"))) {
            std::optional<std::uint32_t> ignored;
            return ranged_u32(r, v, "STATUS " + to_upper(k.text), 1, ignored);
        }
        if (!n) {
            if (v.is_nil()) continue;  // e.g. APPENDLIMIT NIL
            if (k.is("MESSAGES") || k.is("UIDNEXT") || k.is("UIDVALIDITY") || k.is("UNSEEN") ||
                k.is("RECENT") || k.is("HIGHESTMODSEQ"))
                return bad(r, &v, "STATUS value is not a number");
            continue;
        }
        if (k.is("UIDNEXT") || k.is("UIDVALIDITY")) {
            std::string name = "STATUS " + to_upper(k.text);
            if (auto e = ranged_u32(r, v, name, 1, k.is("UIDNEXT") ? out.uidnext : out.uidvalidity))
                return e;
            continue;
        }
        if ((k.is("MESSAGES") || k.is("RECENT") || k.is("UNSEEN")) && *n > 0xffffffffu)
            return bad(r, &v, "STATUS count out of range (0..4294967295)");
        auto u32 = static_cast<std::uint32_t>(*n);
        if (k.is("MESSAGES"))
            out.messages = u32;
        else if (k.is("RECENT"))
            out.recent = u32;
        else if (k.is("UNSEEN"))
            out.unseen = u32;
        else if (k.is("HIGHESTMODSEQ"))
            out.highestmodseq = *n;
        else if (k.is("SIZE"))
            out.size = *n;
        else if (k.is("APPENDLIMIT"))
            out.appendlimit = *n;
    }
    return {};
}

bool apply_select_response(const response& r, mailbox_state& st, mv::error* err) {
    if (r.type == resp_type::continuation) return false;
    if (r.status == resp_status::none) {
        if (r.is_data("FLAGS")) {
            if (!r.args.empty()) string_list(r.args[0], st.flags);
            return true;
        }
        if (r.number && r.is_data("EXISTS")) {
            st.exists = static_cast<std::uint32_t>(*r.number);
            return true;
        }
        if (r.number && r.is_data("RECENT")) {
            st.recent = static_cast<std::uint32_t>(*r.number);
            return true;
        }
        return false;
    }
    if (r.status != resp_status::ok || r.code.empty()) return false;
    auto first = r.code_args.empty() ? nullptr : &r.code_args[0];
    if (r.has_code("PERMANENTFLAGS")) {
        if (first) string_list(*first, st.permanent_flags);
    } else if (r.has_code("UNSEEN")) {
        if (first) st.unseen = as_u32(*first);
    } else if (r.has_code("UIDVALIDITY") || r.has_code("UIDNEXT")) {
        bool v = r.has_code("UIDVALIDITY");
        auto& field = v ? st.uidvalidity : st.uidnext;
        if (!first) {
            field.reset();
            if (err && !*err)
                *err = bad(r, nullptr,
                           std::string("server sent ") + (v ? "UIDVALIDITY" : "UIDNEXT") +
                               " without a value");
        } else if (auto e = ranged_u32(r, *first, v ? "UIDVALIDITY" : "UIDNEXT", 1, field)) {
            if (err && !*err) *err = std::move(e);
        }
    } else if (r.has_code("HIGHESTMODSEQ")) {
        if (first) st.highestmodseq = first->number();
    } else if (r.has_code("NOMODSEQ")) {
        st.nomodseq = true;
    } else if (r.has_code("READ-ONLY")) {
        st.read_only = true;
    } else if (r.has_code("READ-WRITE")) {
        st.read_only = false;
    } else {
        return false;
    }
    return true;
}

std::optional<std::int64_t> parse_internaldate(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    // d[d]-Mon-yyyy hh:mm:ss +zzzz
    auto num = [](std::string_view v) { return parse_number(v); };
    auto dash = s.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash > 2) return std::nullopt;
    auto day = num(s.substr(0, dash));
    s.remove_prefix(dash + 1);
    if (s.size() != 3 + 1 + 4 + 1 + 8 + 1 + 5) return std::nullopt;
    static const char* const months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                         "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    unsigned mon = 0;
    for (unsigned i = 0; i < 12; ++i)
        if (iequals(s.substr(0, 3), months[i])) mon = i + 1;
    if (mon == 0 || s[3] != '-') return std::nullopt;
    auto year = num(s.substr(4, 4));
    if (s[8] != ' ' || s[11] != ':' || s[14] != ':' || s[17] != ' ') return std::nullopt;
    auto hh = num(s.substr(9, 2)), mm = num(s.substr(12, 2)), ss = num(s.substr(15, 2));
    char sign = s[18];
    auto zh = num(s.substr(19, 2)), zm = num(s.substr(21, 2));
    if (!day || !year || !hh || !mm || !ss || !zh || !zm || (sign != '+' && sign != '-') ||
        *day < 1 || *day > 31 || *hh > 23 || *mm > 59 || *ss > 60 || *zm > 59)
        return std::nullopt;
    using namespace std::chrono;
    year_month_day ymd{std::chrono::year(static_cast<int>(*year)), month(mon),
                       std::chrono::day(static_cast<unsigned>(*day))};
    if (!ymd.ok()) return std::nullopt;
    std::int64_t t = sys_days(ymd).time_since_epoch().count() * 86400LL +
                     static_cast<std::int64_t>(*hh * 3600 + *mm * 60 + *ss);
    std::int64_t off = static_cast<std::int64_t>(*zh * 3600 + *zm * 60);
    return sign == '+' ? t - off : t + off;
}

std::optional<int> parse_internaldate_offset(std::string_view s) {
    if (!parse_internaldate(s)) return std::nullopt;
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    const auto z = s.substr(s.size() - 5);
    const int minutes = ((z[1] - '0') * 10 + (z[2] - '0')) * 60 + (z[3] - '0') * 10 + (z[4] - '0');
    return z[0] == '-' ? -minutes : minutes;
}

std::string format_internaldate(std::int64_t utc, int offset_minutes) {
    using namespace std::chrono;
    // Zones beyond +-23:59 cannot be written: UTC instead.
    if (offset_minutes <= -24 * 60 || offset_minutes >= 24 * 60) offset_minutes = 0;
    const std::int64_t local = utc + static_cast<std::int64_t>(offset_minutes) * 60;
    std::int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    std::int64_t secs = local - days * 86400;
    year_month_day ymd{sys_days(std::chrono::days(days))};
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const int z = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02u-%s-%04d %02d:%02d:%02d %c%02d%02d",
                  static_cast<unsigned>(ymd.day()), months[static_cast<unsigned>(ymd.month()) - 1],
                  static_cast<int>(ymd.year()), static_cast<int>(secs / 3600),
                  static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60),
                  offset_minutes < 0 ? '-' : '+', z / 60, z % 60);
    return buf;
}

mv::error parse_fetch(const response& r, fetch_attrs& out) {
    out = fetch_attrs{};
    if (!r.number || r.args.empty() || !r.args[0].is_list())
        return bad(r, r.args.empty() ? nullptr : &r.args[0], "malformed FETCH response");
    if (*r.number > 0xffffffffu) return bad(r, nullptr, "FETCH sequence number out of range");
    out.seq = static_cast<std::uint32_t>(*r.number);
    const auto* list = &r.args[0];
    // Quirk (IBM Domino): "* 1 FETCH ((UID 5 FLAGS (\Seen)))", the items in a second list.
    if (list->items.size() == 1 && list->items[0].is_list()) {
        list = &list->items[0];
        out.quirks |= quirk_double_parens;
    }
    auto& items = list->items;
    std::size_t step = 2;  // name and value
    for (std::size_t i = 0; i < items.size(); i += step) {
        step = 2;
        auto& k = items[i];
        if (!k.is_atom()) return bad(r, &k, "FETCH item name expected");
        std::string_view name = k.text;
        // Quirk (Yandex): "BODY[HEADER.FIELDS (X)]" with no value (at the end, or followed by the
        // next item's name). Recorded as missing: absent, never an empty body.
        if (is_section_item(name) &&
            (i + 1 >= items.size() ||
             (items[i + 1].is_atom() && !items[i + 1].is_nil() && !items[i + 1].number()))) {
            out.missing_sections.emplace_back(name);
            out.quirks |= quirk_section_without_value;
            step = 1;  // the next item starts right after the name
            continue;
        }
        if (i + 1 >= items.size()) return bad(r, &k, "FETCH item without a value");
        auto& v = items[i + 1];
        if (k.is("UID")) {
            if (auto e = ranged_u32(r, v, "FETCH UID", 1, out.uid)) return e;
        } else if (k.is("FLAGS")) {
            std::vector<std::string> f;
            if (!string_list(v, f)) return bad(r, &v, "malformed FETCH FLAGS");
            out.flags = std::move(f);
        } else if (k.is("INTERNALDATE")) {
            if (!v.is_string()) return bad(r, &v, "malformed INTERNALDATE");
            out.internaldate = parse_internaldate(v.str());
            if (!out.internaldate) return bad(r, &v, "malformed INTERNALDATE");
            out.internaldate_offset = parse_internaldate_offset(v.str());
        } else if (k.is("RFC822.SIZE")) {
            out.rfc822_size = v.number();
            if (!out.rfc822_size) return bad(r, &v, "RFC822.SIZE is not a number");
        } else if (k.is("MODSEQ")) {
            // Some servers (zoho) send negative or bogus modseqs: ignore rather than fail.
            out.modseq = as_u64_or_list(v);
        } else if (k.is("X-GM-MSGID")) {
            if (auto e = ranged_u64(r, v, "X-GM-MSGID", out.gm_msgid)) return e;
        } else if (k.is("X-GM-THRID")) {
            if (auto e = ranged_u64(r, v, "X-GM-THRID", out.gm_thrid)) return e;
        } else if (k.is("X-GM-LABELS")) {
            std::vector<std::string> l;
            if (auto e = gm_label_list(r, v, l)) return e;
            out.gm_labels = std::move(l);
        } else if (is_section_item(name)) {
            body_section b;
            b.item = std::string(name);
            auto lb = name.find('[');
            auto rb = name.rfind(']');
            if (rb == std::string_view::npos || rb < lb) return bad(r, &k, "malformed section");
            b.section = std::string(name.substr(lb + 1, rb - lb - 1));
            auto rest = name.substr(rb + 1);
            if (!rest.empty()) {
                if (rest.size() < 3 || rest.front() != '<' || rest.back() != '>')
                    return bad(r, &k, "malformed section origin");
                auto o = parse_number(rest.substr(1, rest.size() - 2));
                if (!o || *o > 0xffffffffu) return bad(r, &k, "malformed section origin");
                b.origin = static_cast<std::uint32_t>(*o);
            }
            if (v.is_nil()) {
                b.nil = true;
            } else if (v.is_string()) {
                b.streamed = v.streamed;
                b.size = v.k == value::kind::literal ? v.literal_size : v.str().size();
                if (!v.streamed) b.data = std::string(v.str());
            } else {
                return bad(r, &v, "section value is not a string");
            }
            out.bodies.push_back(std::move(b));
        } else if (k.is("RFC822") || k.is("RFC822.HEADER") || k.is("RFC822.TEXT")) {
            body_section b;
            b.item = std::string(name);
            b.section = k.is("RFC822") ? "" : k.is("RFC822.HEADER") ? "HEADER" : "TEXT";
            if (v.is_nil()) {
                b.nil = true;
            } else if (v.is_string()) {
                b.streamed = v.streamed;
                b.size = v.k == value::kind::literal ? v.literal_size : v.str().size();
                if (!v.streamed) b.data = std::string(v.str());
            }
            out.bodies.push_back(std::move(b));
        }
        // Anything else (BODYSTRUCTURE, ENVELOPE, ANNOTATION, PREVIEW, vendor items): skipped.
    }
    return {};
}

mv::error parse_search(const response& r, search_result& out) {
    out = search_result{};
    for (auto& v : r.args) {
        if (v.is_list()) {  // (MODSEQ n)
            if (v.items.size() == 2 && v.items[0].is("MODSEQ")) out.modseq = v.items[1].number();
            continue;
        }
        std::optional<std::uint32_t> n;
        if (auto e = ranged_u32(r, v, "SEARCH result", 1, n)) return e;
        out.ids.push_back(*n);
    }
    return {};
}

mv::error parse_esearch(const response& r, search_result& out, std::size_t max_ids) {
    out = search_result{};
    auto& a = r.args;
    std::size_t i = 0;
    if (i < a.size() && a[i].is_list()) {
        auto& c = a[i].items;
        if (c.size() == 2 && c[0].is("TAG") && c[1].is_string()) out.tag = std::string(c[1].str());
        ++i;
    }
    if (i < a.size() && a[i].is("UID")) {
        out.uid = true;
        ++i;
    }
    for (; i + 1 < a.size(); i += 2) {
        auto& k = a[i];
        auto& v = a[i + 1];
        if (k.is("MIN") || k.is("MAX")) {
            if (auto e = ranged_u32(r, v, k.is("MIN") ? "ESEARCH MIN" : "ESEARCH MAX", 1,
                                    k.is("MIN") ? out.min : out.max))
                return e;
        } else if (k.is("COUNT")) {
            out.count = v.number();
            if (!out.count) return bad(r, &v, "ESEARCH COUNT is not a number");
        } else if (k.is("MODSEQ")) {
            out.modseq = v.number();
        } else if (k.is("ALL")) {
            auto s = v.is_atom() ? parse_uid_set(v.text) : std::nullopt;
            if (!s) return bad(r, &v, "malformed ESEARCH ALL set");
            for (auto& rg : s->ranges)
                if (rg.first == 0) return bad(r, &v, "server sent UID 0 in ESEARCH ALL");
            if (s->count() > max_ids)
                return mv::error(mv::errc::limit,
                                 "IMAP: ESEARCH ALL lists " + std::to_string(s->count()) +
                                     " UIDs, more than the cap of " + std::to_string(max_ids) +
                                     "; search a narrower UID range");
            out.all = *s;
            out.ids = s->expand();
        }
    }
    return {};
}

mv::error parse_vanished(const response& r, vanished_info& out) {
    out = vanished_info{};
    auto& a = r.args;
    std::size_t i = 0;
    if (i < a.size() && a[i].is_list()) {
        for (auto& t : a[i].items)
            if (t.is("EARLIER")) out.earlier = true;
        ++i;
    }
    if (i >= a.size() || !a[i].is_atom()) return bad(r, nullptr, "malformed VANISHED response");
    auto s = parse_uid_set(a[i].text);
    if (!s) return bad(r, &a[i], "malformed VANISHED set");
    out.uids = std::move(*s);
    return {};
}

std::optional<appenduid_info> parse_appenduid(const response& r) {
    if (!r.has_code("APPENDUID") || r.code_args.size() < 2) return std::nullopt;
    auto v = as_u32(r.code_args[0]);
    auto s = r.code_args[1].is_atom() ? parse_uid_set(r.code_args[1].text) : std::nullopt;
    if (!v || !s) return std::nullopt;
    return appenduid_info{*v, std::move(*s)};
}

std::optional<copyuid_info> parse_copyuid(const response& r) {
    if (!r.has_code("COPYUID") || r.code_args.size() < 3) return std::nullopt;
    auto v = as_u32(r.code_args[0]);
    auto a = r.code_args[1].is_atom() ? parse_uid_set(r.code_args[1].text) : std::nullopt;
    auto b = r.code_args[2].is_atom() ? parse_uid_set(r.code_args[2].text) : std::nullopt;
    if (!v || !a || !b) return std::nullopt;
    return copyuid_info{*v, std::move(*a), std::move(*b)};
}

std::optional<uid_set> parse_modified(const response& r) {
    if (!r.has_code("MODIFIED") || r.code_args.empty() || !r.code_args[0].is_atom())
        return std::nullopt;
    return parse_uid_set(r.code_args[0].text);
}

}  // namespace mv::imap
