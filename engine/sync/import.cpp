// `mailvault import` (sync/import.hpp, docs/import.md): the pure parts, then the workflow.
#include "sync/import.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "archive/archive.hpp"
#include "archive/content_writer.hpp"
#include "imap/mutf7.hpp"
#include "mailvault/crashpoint.hpp"
#include "mailvault/error.hpp"

namespace mv::sync {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> words(std::string_view s, std::string_view seps = " \t") {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && seps.find(s[i]) != std::string_view::npos) ++i;
        std::size_t j = i;
        while (j < s.size() && seps.find(s[j]) == std::string_view::npos) ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int to_int(std::string_view s) {
    int v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return v;
}

int month_of(std::string_view m) {
    static constexpr std::string_view names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
    if (m.size() < 3) return -1;
    for (int i = 0; i < 12; ++i)
        if (iequals(m.substr(0, 3), names[i])) return i;
    return -1;
}

// "HH:MM" or "HH:MM:SS" -> seconds of the day.
std::optional<int> time_of(std::string_view t) {
    auto parts = words(t, ":");
    if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
    for (auto p : parts)
        if (!all_digits(p) || p.size() > 2) return std::nullopt;
    int h = to_int(parts[0]), m = to_int(parts[1]), s = parts.size() == 3 ? to_int(parts[2]) : 0;
    if (h > 23 || m > 59 || s > 60) return std::nullopt;
    return h * 3600 + m * 60 + s;
}

// "+0100" / "-0530" -> minutes east of UTC; named zones of RFC 5322 section 4.3.
std::optional<int> zone_of(std::string_view z) {
    if (z.size() == 5 && (z[0] == '+' || z[0] == '-') && all_digits(z.substr(1))) {
        int v = to_int(z.substr(1, 2)) * 60 + to_int(z.substr(3, 2));
        return z[0] == '-' ? -v : v;
    }
    static const std::pair<std::string_view, int> named[] = {
        {"UT", 0},     {"UTC", 0},    {"GMT", 0},    {"Z", 0},      {"EST", -300}, {"EDT", -240},
        {"CST", -360}, {"CDT", -300}, {"MST", -420}, {"MDT", -360}, {"PST", -480}, {"PDT", -420}};
    for (auto& [n, v] : named)
        if (iequals(z, n)) return v;
    return std::nullopt;
}

std::optional<std::int64_t> epoch_of(int year, int month0, int day, int secs, int zone_min) {
    if (year < 1970 || year > 9999 || month0 < 0 || day < 1 || day > 31) return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month0;
    tm.tm_mday = day;
    const std::int64_t midnight = ::timegm(&tm);
    return midnight + secs - static_cast<std::int64_t>(zone_min) * 60;
}

std::string hex_of(const archive::sha256& h) {
    return h.hex();
}

}  // namespace

// ---- Maildir ---------------------------------------------------------------------------------

std::string maildir_key(std::string_view name) {
    auto p = name.find(':');
    if (p == std::string_view::npos) p = name.find("!2,");
    return std::string(name.substr(0, p));
}

std::vector<std::string> maildir_flags(std::string_view name,
                                       const std::vector<std::string>& keywords) {
    std::vector<std::string> out;
    auto p = name.rfind(":2,");
    if (p == std::string_view::npos) p = name.rfind("!2,");
    if (p == std::string_view::npos) return out;
    for (char c : name.substr(p + 3)) {
        switch (c) {
            case 'S': out.push_back("\\Seen"); break;
            case 'R': out.push_back("\\Answered"); break;
            case 'F': out.push_back("\\Flagged"); break;
            case 'T': out.push_back("\\Deleted"); break;
            case 'D': out.push_back("\\Draft"); break;
            case 'P': out.push_back("$Forwarded"); break;
            default:
                if (c >= 'a' && c <= 'z' && static_cast<std::size_t>(c - 'a') < keywords.size() &&
                    !keywords[c - 'a'].empty())
                    out.push_back(keywords[c - 'a']);
        }
    }
    return out;
}

std::vector<std::string> parse_dovecot_keywords(std::string_view text) {
    std::vector<std::string> out;
    for (auto line : words(text, "\n")) {
        auto w = words(line);
        if (w.size() != 2 || !all_digits(w[0]) || w[0].size() > 2) continue;
        const auto i = static_cast<std::size_t>(to_int(w[0]));
        if (i >= 26) continue;
        if (out.size() <= i) out.resize(i + 1);
        out[i] = std::string(w[1]);
    }
    return out;
}

std::string maildirpp_folder(std::string_view name) {
    std::string out;
    for (auto part : words(name, ".")) {
        if (!out.empty()) out += '/';
        std::optional<std::string> d;
        if (part.find('&') != std::string_view::npos) d = imap::decode_mutf7(part);
        out += d ? *d : std::string(part);
    }
    return out;
}

// ---- mbox ------------------------------------------------------------------------------------

bool is_envelope_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 5) != "From ") return false;
    auto w = words(line.substr(5));
    if (w.empty()) return false;
    if (w[0] == "-") return true;  // Thunderbird
    if (w.size() == 1) return w[0].find('@') != std::string_view::npos;
    for (std::size_t i = 1; i < w.size(); ++i)
        if (time_of(w[i])) return true;
    return false;
}

void mbox_splitter::emit(events& ev, std::string_view bytes) {
    if (bytes.empty()) return;
    if (in_message_)
        ev.data(bytes);
    else
        preamble_ += bytes.size();
}

void mbox_splitter::flush_blank(events& ev) {
    if (blank_.empty()) return;
    emit(ev, blank_);
    blank_.clear();
}

// lead_ holds a line start that is decided now: `complete` says it holds the whole line (with
// its line end, unless at the end of the input).
void mbox_splitter::line_decided(events& ev, bool complete) {
    line_start_ = complete;  // else: the rest of this line streams through
    std::string_view l = lead_;
    std::string_view bare = l;
    if (!bare.empty() && bare.back() == '\n') bare.remove_suffix(1);
    if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
    if (complete && is_envelope_line(bare)) {
        blank_.clear();  // the separator's blank line belongs to no message
        if (in_message_) ev.end();
        in_message_ = true;
        ++messages_;
        ev.begin(bare);
    } else if (complete && bare.empty() && l.size() > 0 && l.back() == '\n') {
        flush_blank(ev);
        blank_ = l;
    } else {
        flush_blank(ev);
        std::size_t gt = 0;
        while (gt < l.size() && l[gt] == '>') ++gt;
        const bool quoted =
            gt > 0 && l.substr(gt, 5) == "From " && (quoting_ == mbox_quoting::mboxrd || gt == 1);
        emit(ev, quoted ? l.substr(1) : l);
    }
    lead_.clear();
}

void mbox_splitter::feed(std::string_view bytes, events& ev) {
    if (at_start_) {
        // A byte order mark may start a file (one of MimeKit's samples has one); it is split
        // across feeds only when the first feed is shorter than 3 bytes, which we accept.
        if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
        if (!bytes.empty()) at_start_ = false;
    }
    while (!bytes.empty()) {
        if (!line_start_) {
            auto nl = bytes.find('\n');
            if (nl == std::string_view::npos) {
                emit(ev, bytes);
                return;
            }
            emit(ev, bytes.substr(0, nl + 1));
            bytes.remove_prefix(nl + 1);
            line_start_ = true;
            continue;
        }
        // At a line start: collect while the line may still be an envelope, a quoted From or a
        // blank line.
        std::size_t i = 0;
        bool decided = false, complete = false;
        while (i < bytes.size()) {
            const char c = bytes[i++];
            lead_ += c;
            if (c == '\n') {
                decided = complete = true;
                break;
            }
            std::string_view l = lead_;
            std::size_t gt = 0;
            while (gt < l.size() && l[gt] == '>') ++gt;
            std::string_view rest = l.substr(gt);
            const std::string_view from = "From ";
            const bool may_be_from = rest.size() <= from.size()
                                         ? from.substr(0, rest.size()) == rest
                                         : rest.substr(0, from.size()) == from;
            const bool may_be_blank = l == "\r";
            if (!(may_be_from || may_be_blank)) {
                decided = true;
                break;
            }
            // A quoted From is known as soon as its "From " is; only an envelope needs the
            // whole line.
            if (gt > 0 && rest.size() >= from.size()) {
                decided = true;
                break;
            }
            if (lead_.size() >= max_line_lead) {
                decided = true;
                break;
            }
        }
        bytes.remove_prefix(i);
        if (!decided) return;  // need more input
        line_decided(ev, complete);
    }
}

void mbox_splitter::finish(events& ev) {
    if (!lead_.empty()) {
        // The last line has no line end.
        std::string_view bare = lead_;
        if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
        if (is_envelope_line(bare)) {
            line_decided(ev, true);
        } else {
            flush_blank(ev);
            emit(ev, lead_);
            lead_.clear();
        }
    }
    blank_.clear();  // the blank line ending the last message is the writer's, not the message's
    if (in_message_) ev.end();
    in_message_ = false;
    line_start_ = true;
}

std::string_view header_block(std::string_view head) {
    std::size_t pos = 0;
    while (pos < head.size()) {
        auto nl = head.find('\n', pos);
        std::string_view line =
            head.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        if (line.empty() || line == "\r") return head.substr(0, pos);
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    return head;
}

std::vector<std::string> header_values(std::string_view block, std::string_view name) {
    std::vector<std::string> out;
    std::optional<std::string> cur;
    std::size_t pos = 0;
    while (pos < block.size()) {
        auto nl = block.find('\n', pos);
        std::string_view line =
            block.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? block.size() : nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
            if (cur) *cur += " " + std::string(trim(line));
            continue;
        }
        if (cur) out.push_back(std::string(trim(*cur)));
        cur.reset();
        auto colon = line.find(':');
        if (colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), name))
            cur = std::string(line.substr(colon + 1));
    }
    if (cur) out.push_back(std::string(trim(*cur)));
    return out;
}

std::vector<std::string> mbox_header_flags(std::string_view block) {
    std::vector<std::string> out;
    for (const auto& v : header_values(block, "Status"))
        if (v.find('R') != std::string::npos) out.push_back("\\Seen");
    for (const auto& v : header_values(block, "X-Status")) {
        for (char c : v) {
            if (c == 'A') out.push_back("\\Answered");
            if (c == 'F') out.push_back("\\Flagged");
            if (c == 'T') out.push_back("\\Draft");
            if (c == 'D') out.push_back("\\Deleted");
        }
    }
    for (const auto& v : header_values(block, "X-Mozilla-Status")) {
        std::string_view h = trim(v);
        if (h.empty() || h.size() > 8 || !std::all_of(h.begin(), h.end(), [](char c) {
                return std::isxdigit(static_cast<unsigned char>(c));
            }))
            continue;
        const unsigned long bits = std::stoul(std::string(h), nullptr, 16);
        if (bits & 0x0001) out.push_back("\\Seen");
        if (bits & 0x0002) out.push_back("\\Answered");
        if (bits & 0x0004) out.push_back("\\Flagged");
        if (bits & 0x0008) out.push_back("\\Deleted");
        if (bits & 0x1000) out.push_back("$Forwarded");
    }
    for (const auto& v : header_values(block, "X-Keywords"))
        for (auto w : words(v, ", \t")) out.push_back(std::string(w));
    for (const auto& v : header_values(block, "X-Mozilla-Keys"))
        for (auto w : words(v, " \t")) out.push_back(std::string(w));
    // Keywords are atoms in IMAP: drop what could not be one (a stray backslash word).
    std::erase_if(out, [](const std::string& f) {
        if (f.empty()) return true;
        if (f[0] == '\\') return f.find_first_of("\\", 1) != std::string::npos;
        return f.find_first_of("(){%*\"]\\") != std::string::npos;
    });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// ---- Google Takeout --------------------------------------------------------------------------

std::vector<std::string> parse_takeout_labels(std::string_view v) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false, any = false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const char c = v[i];
        if (c == '"') {
            quoted = !quoted;
            any = true;
        } else if (c == '\\' && quoted && i + 1 < v.size()) {
            cur += v[++i];
        } else if (c == ',' && !quoted) {
            auto t = trim(cur);
            if (!t.empty()) out.push_back(std::string(t));
            cur.clear();
            any = false;
        } else {
            cur += c;
        }
    }
    auto t = trim(cur);
    if (!t.empty()) out.push_back(std::string(t));
    (void)any;
    return out;
}

takeout_placement place_takeout(const std::vector<std::string>& in) {
    takeout_placement p;
    bool unread = false, trash = false, spam = false, starred = false, draft = false;
    std::vector<takeout_folder> folders;
    auto add_folder = [&](takeout_folder f) {
        if (std::find(folders.begin(), folders.end(), f) == folders.end())
            folders.push_back(std::move(f));
    };
    auto add_label = [&](std::string l) {
        if (std::find(p.labels.begin(), p.labels.end(), l) == p.labels.end())
            p.labels.push_back(std::move(l));
    };
    for (const auto& l : in) {
        if (iequals(l, "Inbox")) {
            add_label("\\Inbox");
            add_folder({"INBOX", std::nullopt});
        } else if (iequals(l, "Sent")) {
            add_label("\\Sent");
            add_folder({"[Gmail]/Sent Mail", "\\Sent"});
        } else if (iequals(l, "Draft") || iequals(l, "Drafts")) {
            draft = true;
            add_label("\\Draft");
            add_folder({"[Gmail]/Drafts", "\\Drafts"});
        } else if (iequals(l, "Trash")) {
            trash = true;
            add_label("\\Trash");
        } else if (iequals(l, "Spam")) {
            spam = true;
            add_label("\\Spam");
        } else if (iequals(l, "Starred")) {
            starred = true;
            add_label("\\Starred");
            add_folder({"[Gmail]/Starred", "\\Flagged"});
        } else if (iequals(l, "Important")) {
            add_label("\\Important");
            add_folder({"[Gmail]/Important", "\\Important"});
        } else if (iequals(l, "Unread")) {
            unread = true;
        } else if (iequals(l, "Opened") || iequals(l, "Archived") || iequals(l, "Chat") ||
                   (l.size() > 9 && iequals(l.substr(0, 9), "Category "))) {
            // Takeout's markers: no IMAP label or folder.
        } else {
            add_label(l);
            add_folder({l, std::nullopt});
        }
    }
    if (trash)
        p.folders = {{"[Gmail]/Trash", "\\Trash"}};
    else if (spam)
        p.folders = {{"[Gmail]/Spam", "\\Junk"}};
    else {
        p.folders.push_back({"[Gmail]/All Mail", "\\All"});
        for (auto& f : folders) p.folders.push_back(std::move(f));
    }
    if (!unread) p.flags.push_back("\\Seen");
    if (starred) p.flags.push_back("\\Flagged");
    if (draft) p.flags.push_back("\\Draft");
    return p;
}

// ---- dates -----------------------------------------------------------------------------------

std::optional<std::int64_t> envelope_date(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 5) != "From ") return std::nullopt;
    auto w = words(line.substr(5));
    // w[0] is the sender; then [weekday] month day time, year and zone in either order.
    for (std::size_t i = 1; i + 2 < w.size(); ++i) {
        const int mon = month_of(w[i]);
        if (mon < 0 || w[i].size() > 9) continue;
        if (!all_digits(w[i + 1]) || w[i + 1].size() > 2) continue;
        auto t = time_of(w[i + 2]);
        if (!t) continue;
        std::optional<int> year;
        int zone = 0;
        for (std::size_t j = i + 3; j < w.size() && j < i + 5; ++j) {
            if (all_digits(w[j]) && w[j].size() == 4)
                year = to_int(w[j]);
            else if (auto z = zone_of(w[j]))
                zone = *z;
        }
        if (!year) return std::nullopt;
        return epoch_of(*year, mon, to_int(w[i + 1]), *t, zone);
    }
    return std::nullopt;
}

std::optional<std::int64_t> rfc5322_date(std::string_view v) {
    // Comments ("(PST)") and the weekday carry nothing we need.
    std::string clean;
    int depth = 0;
    for (char c : v) {
        if (c == '(')
            ++depth;
        else if (c == ')' && depth > 0)
            --depth;
        else if (depth == 0)
            clean += c == ',' ? ' ' : c;
    }
    auto w = words(clean);
    std::size_t i = 0;
    if (i < w.size() && !all_digits(w[i])) ++i;  // weekday
    if (i + 3 >= w.size()) return std::nullopt;
    if (!all_digits(w[i]) || w[i].size() > 2) return std::nullopt;
    const int day = to_int(w[i]);
    const int mon = month_of(w[i + 1]);
    if (mon < 0 || !all_digits(w[i + 2])) return std::nullopt;
    int year = to_int(w[i + 2]);
    if (w[i + 2].size() <= 2)
        year += year < 50 ? 2000 : 1900;  // RFC 5322 4.3
    else if (w[i + 2].size() == 3)
        year += 1900;
    auto t = time_of(w[i + 3]);
    if (!t) return std::nullopt;
    int zone = 0;
    if (i + 4 < w.size()) {
        if (auto z = zone_of(w[i + 4])) zone = *z;
    }
    return epoch_of(year, mon, day, *t, zone);
}

std::optional<std::int64_t> import_date(import_format f, std::optional<std::int64_t> envelope,
                                        std::optional<std::int64_t> header_date,
                                        std::optional<std::int64_t> file_mtime) {
    if (f == import_format::mbox) {
        if (envelope) return envelope;
        if (header_date) return header_date;
        return file_mtime;
    }
    if (file_mtime) return file_mtime;
    return header_date;
}

bool looks_like_message(std::string_view head) {
    // A file saved out of an mbox often keeps its envelope line ("From a@b Fri Feb 19 ...");
    // it is a message all the same (stored as it is: the bytes of a file are never changed).
    const auto nl = head.find('\n');
    if (nl != std::string_view::npos && is_envelope_line(head.substr(0, nl)))
        return looks_like_message(head.substr(nl + 1));
    std::size_t i = 0;
    while (i < head.size()) {
        const unsigned char c = static_cast<unsigned char>(head[i]);
        if (c == ':') return i > 0;
        if (c <= 32 || c >= 127) return false;
        ++i;
    }
    return false;
}

// ---- the workflow ----------------------------------------------------------------------------

namespace {

// Where one message goes: a folder (mailbox), with its flags and date.
struct target {
    std::size_t folder = 0;  // index into the importer's folders
    std::string key;         // Maildir key; empty: derived from the content hash
    std::vector<std::string> flags;
    std::optional<std::int64_t> internaldate;
    std::optional<archive::gmail_attrs> gmail;
    std::string where;  // the file (and message), for a skip line
};

struct folder_state {
    std::int64_t mailbox_id = 0;
    std::size_t report = 0;                  // index into report.folders
    std::map<std::string, int> occurrences;  // content hex -> copies seen in this run
};

struct source_message {
    std::string where;                  // for skip lines
    std::optional<std::int64_t> mtime;  // of the file
    std::optional<std::int64_t> envelope;
};

// Flow: per message: begin() -> data()* -> end(targets) (small bodies join the batch; past
// stream_threshold the batch is committed and the body continues into a content_writer in its
// own transaction, committed by end()) -> ... -> flush() at the end.
class importer {
public:
    importer(archive::archive& a, const import_options& o, import_report& r)
        : a_(a), o_(o), r_(r) {}

    std::int64_t account_id = 0;

    // The folder of that name (made in the archive the first time). Called while a streamed
    // message's transaction is open too: then the mailbox joins that transaction.
    std::size_t folder(const std::string& name, std::optional<std::string> special_use = {}) {
        auto it = by_name_.find(name);
        if (it != by_name_.end()) return it->second;
        archive::mailbox_state m;
        {
            std::optional<archive::transaction> tx;
            if (!tx_) tx.emplace(a_);
            auto existing = a_.find_mailbox(account_id, name);
            auto su = special_use;
            if (!su && existing) su = existing->special_use;
            m = a_.upsert_mailbox({account_id, name, name, "/", su});
            if (tx) tx->commit();
        }
        folder_state f;
        f.mailbox_id = m.id;
        f.report = r_.folders.size();
        r_.folders.push_back({name});
        folders_.push_back(std::move(f));
        by_name_[name] = folders_.size() - 1;
        return folders_.size() - 1;
    }

    void skip(std::optional<std::size_t> folder_index, std::string where, std::string reason) {
        if (folder_index) ++r_.folders[folders_[*folder_index].report].skipped;
        r_.skipped.push_back({std::move(where), std::move(reason)});
    }

    void begin() {
        body_.clear();
        head_.clear();
        size_ = 0;
    }

    void data(std::string_view bytes) {
        size_ += bytes.size();
        if (head_.size() < head_cap) {
            head_.append(bytes.substr(0, head_cap - head_.size()));
        }
        if (writer_) {
            writer_->append(bytes);
            return;
        }
        if (body_.size() + bytes.size() > o_.stream_threshold) {
            flush();
            tx_.emplace(a_);
            writer_ = std::make_unique<archive::content_writer>(a_);
            writer_->append(body_);
            body_ = std::string();
            writer_->append(bytes);
            return;
        }
        body_.append(bytes);
    }

    // The header block of the message being read (as far as read).
    std::string_view head() const { return header_block(head_); }
    std::string_view head_raw() const { return head_; }
    std::uint64_t size() const { return size_; }

    // Ends the message. `targets` empty or the message not a message: dropped (skipped).
    void end(std::vector<target> targets, const source_message& src,
             std::optional<std::size_t> skip_folder) {
        r_.read_bytes += static_cast<std::int64_t>(size_);
        std::string why;
        if (size_ == 0)
            why = "empty message";
        else if (!looks_like_message(head_))
            why = "not a message (no header field on its first line)";
        if (!why.empty()) {
            drop_stream();
            body_.clear();
            skip(skip_folder, src.where, why);
            return;
        }
        if (writer_) {
            auto put = writer_->finish();
            for (auto& t : targets) record(t, put.hash, writer_->size());
            tx_->commit();
            writer_.reset();
            tx_.reset();
            crash_point("import.batch");
            commit_counts();
            return;
        }
        batch_bytes_ += body_.size();
        batch_.push_back({std::move(body_), std::move(targets)});
        body_ = std::string();
        if (batch_.size() >= o_.batch_messages || batch_bytes_ >= o_.batch_bytes) flush();
    }

    void flush() {
        if (batch_.empty()) return;
        {
            archive::transaction tx(a_);
            for (auto& b : batch_) {
                auto put = a_.put_content(b.body);
                for (auto& t : b.targets) record(t, put.hash, b.body.size());
            }
            tx.commit();
        }
        batch_.clear();
        batch_bytes_ = 0;
        crash_point("import.batch");
        commit_counts();
    }

    // The message being read is dropped (a read error); the batch goes on.
    void abandon_message() noexcept {
        drop_stream();
        body_.clear();
    }

    // The run failed: nothing uncommitted is kept.
    void abandon() noexcept {
        drop_stream();
        batch_.clear();
        pending_.clear();
    }

private:
    static constexpr std::size_t head_cap = 256 * 1024;

    struct batched {
        std::string body;
        std::vector<target> targets;
    };
    struct counted {
        std::size_t report;
        bool added;
        std::uint64_t size;
    };

    void record(const target& t, const archive::sha256& h, std::uint64_t size) {
        auto& f = folders_[t.folder];
        std::string key = t.key;
        if (key.empty()) {
            key = hex_of(h);
            const int n = ++f.occurrences[key];
            if (n > 1) key += "/" + std::to_string(n);
        }
        archive::entry_record e;
        e.mailbox_id = f.mailbox_id;
        e.uidl = key;
        e.flags = t.flags;
        e.internaldate = t.internaldate;
        e.size = size;
        e.content = h;
        e.gmail = t.gmail;
        auto res = a_.upsert_entry(e);
        if (res == archive::upsert_result::content_conflict) {
            // A Maildir file whose bytes changed under the same name: the archived entry stays
            // as it was (the archive never rewrites what it holds).
            skip(t.folder, t.where,
                 "its folder already holds " + key +
                     " with other bytes (the file changed since it was imported); import it "
                     "into another --account or --folder to keep both");
            return;
        }
        pending_.push_back({f.report, res == archive::upsert_result::inserted, size});
    }

    // Counted once committed: a batch that rolls back adds nothing to the report.
    void commit_counts() {
        for (auto& c : pending_) {
            auto& fr = r_.folders[c.report];
            ++r_.messages;
            if (c.added) {
                ++fr.added;
                r_.new_bytes += static_cast<std::int64_t>(c.size);
            } else {
                ++fr.present;
            }
        }
        pending_.clear();
    }

    void drop_stream() noexcept {
        writer_.reset();
        tx_.reset();
    }

    archive::archive& a_;
    const import_options& o_;
    import_report& r_;
    std::vector<folder_state> folders_;
    std::map<std::string, std::size_t> by_name_;
    std::string body_, head_;
    std::uint64_t size_ = 0;
    std::vector<batched> batch_;
    std::size_t batch_bytes_ = 0;
    std::vector<counted> pending_;
    std::optional<archive::transaction> tx_;
    std::unique_ptr<archive::content_writer> writer_;
};

namespace fs = std::filesystem;

std::optional<std::int64_t> mtime_of(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::int64_t>(st.st_mtime);
}

// Reads a whole file through `fn` in 1 MiB pieces. Returns an error text, empty when read.
template <class F>
std::string read_file(const fs::path& p, F&& fn) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::strerror(errno);
    // One buffer for every file: a Maildir of 100,000 small files must not clear 1 MiB each.
    thread_local std::string buf(1u << 20, '\0');
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            const std::string e = std::strerror(errno);
            ::close(fd);
            return e;
        }
        if (n == 0) break;
        fn(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
    ::close(fd);
    return {};
}

std::string join(const std::string& prefix, const std::string& name) {
    if (prefix.empty()) return name;
    if (name.empty()) return prefix;
    return prefix + "/" + name;
}

std::vector<fs::directory_entry> sorted_dir(const fs::path& dir) {
    std::vector<fs::directory_entry> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
        out.push_back(*it);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.path().filename() < b.path().filename();
    });
    return out;
}

bool is_maildir(const fs::path& d) {
    std::error_code ec;
    return fs::is_directory(d / "cur", ec) || fs::is_directory(d / "new", ec);
}

// One message from one file (Maildir, eml).
void import_file(importer& im, const fs::path& file, std::size_t folder, std::string key,
                 std::vector<std::string> flags) {
    source_message src;
    src.where = file.string();
    src.mtime = mtime_of(file);
    im.begin();
    auto err = read_file(file, [&](std::string_view b) { im.data(b); });
    if (!err.empty()) {
        im.abandon_message();
        im.skip(folder, file.string(), "cannot read: " + err);
        return;
    }
    target t;
    t.folder = folder;
    t.where = src.where;
    t.key = std::move(key);
    t.flags = std::move(flags);
    std::optional<std::int64_t> hdate;
    auto dates = header_values(im.head(), "Date");
    if (!dates.empty()) hdate = rfc5322_date(dates.front());
    t.internaldate = import_date(import_format::maildir, std::nullopt, hdate, src.mtime);
    im.end({std::move(t)}, src, folder);
}

void import_maildir_folder(importer& im, const fs::path& dir, const std::string& name) {
    const auto folder = im.folder(name.empty() ? "INBOX" : name);
    std::vector<std::string> keywords;
    {
        std::string text;
        if (fs::exists(dir / "dovecot-keywords") &&
            read_file(dir / "dovecot-keywords", [&](std::string_view b) { text += b; }).empty())
            keywords = parse_dovecot_keywords(text);
    }
    for (const char* sub : {"new", "cur"}) {
        for (const auto& e : sorted_dir(dir / sub)) {
            const std::string fname = e.path().filename().string();
            if (fname.empty() || fname[0] == '.') continue;
            std::error_code ec;
            if (!e.is_regular_file(ec)) continue;
            import_file(im, e.path(), folder, maildir_key(fname),
                        std::string_view(sub) == "cur" ? maildir_flags(fname, keywords)
                                                       : std::vector<std::string>{});
        }
    }
}

// Subfolders of a Maildir tree: Maildir++ ".Sub.Folder" directories and nested directories
// (mbsync "SubFolders Verbatim", OfflineIMAP), each a folder when it has cur/ or new/.
void walk_maildir(importer& im, const fs::path& dir, const std::string& prefix, int depth) {
    if (depth > 64) return;
    for (const auto& e : sorted_dir(dir)) {
        std::error_code ec;
        if (!e.is_directory(ec)) continue;
        const std::string n = e.path().filename().string();
        if (n == "cur" || n == "new" || n == "tmp" || n == "." || n == "..") continue;
        std::string name;
        if (n.size() > 1 && n[0] == '.')
            name = join(prefix, maildirpp_folder(n.substr(1)));
        else
            name = join(prefix, n);
        if (is_maildir(e.path())) import_maildir_folder(im, e.path(), name);
        walk_maildir(im, e.path(), name, depth + 1);
    }
}

class mbox_events : public mbox_splitter::events {
public:
    mbox_events(importer& im, const fs::path& file, std::string folder_name,
                std::optional<std::int64_t> mtime)
        : im_(im), file_(file), folder_name_(std::move(folder_name)), mtime_(mtime) {}
    void begin(std::string_view envelope) override {
        ++n_;
        envelope_ = std::string(envelope);
        im_.begin();
    }
    void data(std::string_view b) override { im_.data(b); }
    void end() override {
        const auto block = im_.head();
        source_message src;
        src.where = file_.string() + ", message " + std::to_string(n_);
        src.mtime = mtime_;
        src.envelope = envelope_date(envelope_);
        std::optional<std::int64_t> hdate;
        auto dates = header_values(block, "Date");
        if (!dates.empty()) hdate = rfc5322_date(dates.front());
        const auto date = import_date(import_format::mbox, src.envelope, hdate, mtime_);
        auto flags = mbox_header_flags(block);
        std::vector<target> targets;
        auto labels = header_values(block, "X-Gmail-Labels");
        if (!labels.empty()) {
            std::vector<std::string> all;
            for (auto& l : labels)
                for (auto& x : parse_takeout_labels(l)) all.push_back(x);
            auto p = place_takeout(all);
            archive::gmail_attrs g;
            g.labels = p.labels;
            for (auto& f : p.flags) flags.push_back(f);
            for (auto& f : p.folders) {
                target t;
                t.folder = im_.folder(f.name, f.special_use);
                t.flags = flags;
                t.internaldate = date;
                t.gmail = g;
                t.where = src.where;
                targets.push_back(std::move(t));
            }
        } else {
            target t;
            t.folder = folder();
            t.flags = flags;
            t.internaldate = date;
            t.where = src.where;
            targets.push_back(std::move(t));
        }
        // A skipped Takeout message is counted in its first label folder, so that the mbox's
        // own folder is not made just to count it.
        const std::size_t skip_in =
            targets.empty() || labels.empty() ? folder() : targets[0].folder;
        im_.end(std::move(targets), src, skip_in);
    }
    std::size_t folder() {
        if (!folder_) folder_ = im_.folder(folder_name_);
        return *folder_;
    }

private:
    importer& im_;
    fs::path file_;
    std::string folder_name_;
    std::optional<std::int64_t> mtime_;
    std::optional<std::size_t> folder_;
    std::string envelope_;
    int n_ = 0;
};

void import_mbox_file(importer& im, const import_options& o, const fs::path& file,
                      const std::string& folder_name, bool explicit_arg) {
    // Is it an mbox at all? (A directory walk meets other files too: Thunderbird's .msf.)
    std::string first;
    {
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            im.skip(std::nullopt, file.string(),
                    std::string("cannot read: ") + std::strerror(errno));
            return;
        }
        char buf[4096];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        ::close(fd);
        if (n > 0) first.assign(buf, static_cast<std::size_t>(n));
    }
    std::string_view f = first;
    if (f.substr(0, 3) == "\xEF\xBB\xBF") f.remove_prefix(3);
    const auto nl = f.find('\n');
    if (!is_envelope_line(f.substr(0, nl))) {
        if (explicit_arg || !first.empty())
            im.skip(std::nullopt, file.string(),
                    first.empty() ? "empty file" : "not an mbox (no \"From \" line at its start)");
        return;
    }
    mbox_events ev(im, file, folder_name, mtime_of(file));
    mbox_splitter sp(o.quoting);
    auto err = read_file(file, [&](std::string_view b) { sp.feed(b, ev); });
    if (!err.empty()) {
        im.abandon_message();
        im.skip(std::nullopt, file.string(), "cannot read (stopped there): " + err);
        return;
    }
    sp.finish(ev);
}

std::string mbox_folder_name(const fs::path& rel) {
    // Thunderbird: "Inbox.sbd/Sub" is the folder "Inbox/Sub"; ".mbox" files (Takeout, Apple
    // Mail exports) are named without the extension.
    std::string out;
    for (const auto& part : rel) {
        std::string s = part.string();
        for (std::string_view ext : {".sbd", ".mbox", ".mbx"})
            if (s.size() > ext.size() && s.compare(s.size() - ext.size(), ext.size(), ext) == 0)
                s.resize(s.size() - ext.size());
        out = join(out, s);
    }
    return out;
}

bool mbox_candidate(const fs::path& p) {
    const std::string ext = p.extension().string();
    const std::string name = p.filename().string();
    if (!name.empty() && name[0] == '.') return false;
    return ext.empty() || ext == ".mbox" || ext == ".mbx";
}

void walk_mbox(importer& im, const import_options& o, const fs::path& root, const fs::path& dir,
               int depth) {
    if (depth > 64) return;
    for (const auto& e : sorted_dir(dir)) {
        std::error_code ec;
        if (e.is_directory(ec)) {
            walk_mbox(im, o, root, e.path(), depth + 1);
        } else if (e.is_regular_file(ec) && mbox_candidate(e.path())) {
            const auto rel = fs::relative(e.path(), root);
            import_mbox_file(im, o, e.path(), join(o.folder, mbox_folder_name(rel)), false);
        }
    }
}

bool is_eml(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return ext == ".eml";
}

void walk_eml(importer& im, const import_options& o, const fs::path& root, const fs::path& dir,
              int depth) {
    if (depth > 64) return;
    for (const auto& e : sorted_dir(dir)) {
        std::error_code ec;
        if (e.is_directory(ec)) {
            walk_eml(im, o, root, e.path(), depth + 1);
        } else if (e.is_regular_file(ec) && is_eml(e.path())) {
            std::string name = o.folder;
            if (name.empty()) {
                name = fs::relative(dir, root).lexically_normal().generic_string();
                if (name == "." || name.empty()) name = "INBOX";
            }
            import_file(im, e.path(), im.folder(name), {}, {});
        }
    }
}

}  // namespace

import_report run_import(archive::archive& a, const import_options& o) {
    if (o.account.empty()) throw mv::failure(errc::usage, "import needs --account NAME");
    if (o.sources.empty()) throw mv::failure(errc::usage, "import needs at least one PATH");
    for (const auto& s : o.sources) {
        std::error_code ec;
        if (!fs::exists(s, ec))
            throw mv::failure(errc::usage, "import: " + s.string() + " does not exist");
    }
    import_report r;
    importer im(a, o, r);
    std::int64_t run = 0;
    {
        for (const auto& [id, info] : a.accounts())
            if (info.name == o.account && info.protocol != "import")
                throw mv::failure(errc::usage, "import: the archive has a " + info.protocol +
                                                   " account named " + o.account +
                                                   "; import into another --account name");
        archive::transaction tx(a);
        im.account_id = a.find_account(o.account).value_or(0);
        if (!im.account_id)
            im.account_id =
                a.upsert_account({o.account, "import", fs::absolute(o.sources[0]).string(), ""});
        run = a.begin_sync_run(im.account_id);
        tx.commit();
    }
    try {
        for (const auto& s : o.sources) {
            std::error_code ec;
            const bool dir = fs::is_directory(s, ec);
            switch (o.format) {
                case import_format::maildir:
                    if (!dir) {
                        im.skip(std::nullopt, s.string(), "not a directory (a Maildir is one)");
                        break;
                    }
                    if (is_maildir(s)) import_maildir_folder(im, s, o.folder);
                    walk_maildir(im, s, o.folder, 0);
                    break;
                case import_format::mbox:
                    if (dir)
                        walk_mbox(im, o, s, s, 0);
                    else
                        import_mbox_file(
                            im, o, s, o.folder.empty() ? mbox_folder_name(s.filename()) : o.folder,
                            true);
                    break;
                case import_format::eml:
                    if (dir)
                        walk_eml(im, o, s, s, 0);
                    else
                        import_file(im, s, im.folder(o.folder.empty() ? "INBOX" : o.folder), {},
                                    {});
                    break;
            }
        }
        im.flush();
    } catch (...) {
        im.abandon();
        throw;
    }
    archive::sync_counters c;
    for (const auto& f : r.folders) c.messages_new += f.added;
    c.bytes_fetched = r.read_bytes;
    c.errors = static_cast<std::int64_t>(r.skipped.size());
    {
        archive::transaction tx(a);
        a.finish_sync_run(run, r.skipped.empty() ? "ok" : "partial", c, "import");
        nlohmann::json sources = nlohmann::json::array();
        for (const auto& s : o.sources) sources.push_back(fs::absolute(s).string());
        a.audit_append("import",
                       nlohmann::json{{"account", o.account},
                                      {"format", o.format == import_format::maildir ? "maildir"
                                                 : o.format == import_format::mbox  ? "mbox"
                                                                                    : "eml"},
                                      {"sources", sources},
                                      {"new", c.messages_new},
                                      {"messages", r.messages},
                                      {"skipped", c.errors}}
                           .dump());
        tx.commit();
    }
    return r;
}

}  // namespace mv::sync
