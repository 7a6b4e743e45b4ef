#include "archive/export.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include <gmime/gmime.h>

#include "archive/searcher.hpp"
#include "mailvault/config.hpp"
#include "mime/message_index.hpp"

namespace fs = std::filesystem;

namespace mv::archive {

std::string maildir_flags(std::string_view canonical) {
    std::string letters;
    for (const auto& f : split_flags(canonical)) {
        if (f == "\\Draft")
            letters += 'D';
        else if (f == "\\Flagged")
            letters += 'F';
        else if (f == "$Forwarded" || f == "Forwarded")
            letters += 'P';
        else if (f == "\\Answered")
            letters += 'R';
        else if (f == "\\Seen")
            letters += 'S';
        else if (f == "\\Deleted")
            letters += 'T';
    }
    std::sort(letters.begin(), letters.end());
    return letters;
}

line_endings effective_line_endings(const export_options& o) {
    if (o.endings) return *o.endings;
    return o.format == export_format::eml ? line_endings::crlf : line_endings::lf;
}

std::string mbox_status_headers(std::string_view canonical, std::string_view eol, bool with_label) {
    bool seen = false;
    std::string x, keywords;
    for (const auto& f : split_flags(canonical)) {
        if (f == "\\Seen")
            seen = true;
        else if (f == "\\Answered")
            x += 'A';
        else if (f == "\\Deleted")
            x += 'D';
        else if (f == "\\Flagged")
            x += 'F';
        else if (f == "\\Draft")
            x += 'T';
        else if (!f.empty() && f[0] != '\\') {  // a keyword; \Recent and unknown system flags go
            if (!keywords.empty()) keywords += ' ';
            keywords += f;
        }
    }
    std::sort(x.begin(), x.end());
    std::string out = seen ? "Status: RO" : "Status: O";
    out += eol;
    if (!x.empty()) {
        out += "X-Status: " + x;
        out += eol;
    }
    if (!keywords.empty()) {
        out += "X-Keywords: " + keywords;
        out += eol;
        if (with_label) {
            out += "X-Label: " + keywords;
            out += eol;
        }
    }
    return out;
}

namespace {

// An address fit for the "From " line: not empty, no blanks, no control characters (readers
// split the line on blanks; a local address like "root" is fine).
bool usable_sender(std::string_view a) {
    if (a.empty() || a.size() > 512) return false;
    for (unsigned char c : a)
        if (c <= ' ' || c == 0x7f) return false;
    return true;
}

std::string first_address(std::string_view value) {
    if (value.empty()) return {};
    mime::ensure_init();
    const std::string v(value);
    InternetAddressList* list = internet_address_list_parse(nullptr, v.c_str());
    if (!list) return {};
    std::string out;
    const int n = internet_address_list_length(list);
    for (int i = 0; i < n && out.empty(); ++i) {
        InternetAddress* ia = internet_address_list_get_address(list, i);
        if (!INTERNET_ADDRESS_IS_MAILBOX(ia)) continue;
        const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        if (addr && usable_sender(addr)) out = addr;
    }
    g_object_unref(list);
    return out;
}

}  // namespace

std::string envelope_sender(std::string_view return_path, std::string_view from) {
    if (auto a = first_address(return_path); !a.empty()) return a;
    if (auto a = first_address(from); !a.empty()) return a;
    return "MAILER-DAEMON";
}

std::string mbox_from_line(std::string_view sender, std::int64_t epoch) {
    std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    std::string out = "From ";
    out += sender;
    out += ' ';
    out += buf;
    out += '\n';
    return out;
}

std::string maildirpp_name(const std::vector<std::string>& parts) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const auto& part : parts) {
        out += '.';
        if (part.empty()) {
            out += '_';  // "a//b": an empty level would merge with its neighbours
            continue;
        }
        for (std::size_t i = 0; i < part.size(); ++i) {
            const unsigned char c = static_cast<unsigned char>(part[i]);
            if (c == '.' || c == '/' || c == '\\' || c == '\0' || (c == '~' && i == 0)) {
                out += '\\';
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out;
}

void crlf_to_lf::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    if (cr_ && !in.empty()) {
        cr_ = false;
        if (in[0] != '\n') out += '\r';  // a lone CR stays
    }
    while (i < in.size()) {
        const std::size_t cr = in.find('\r', i);
        if (cr == std::string_view::npos) {
            out.append(in.substr(i));
            return;
        }
        out.append(in.substr(i, cr - i));
        if (cr + 1 == in.size()) {  // the next piece decides
            cr_ = true;
            return;
        }
        if (in[cr + 1] != '\n') out += '\r';
        i = cr + 1;
    }
}

void crlf_to_lf::finish(std::string& out) {
    if (cr_) out += '\r';
    cr_ = false;
}

void mboxrd_quoter::feed(std::string_view in, std::string& out) {
    size_t i = 0;
    while (i < in.size()) {
        if (!deciding_) {
            size_t nl = in.find('\n', i);
            if (nl == std::string_view::npos) {
                out.append(in.substr(i));
                last_ = in.back();
                return;
            }
            out.append(in.substr(i, nl + 1 - i));
            last_ = '\n';
            i = nl + 1;
            deciding_ = true;
            continue;
        }
        char c = in[i++];
        pending_ += c;
        size_t gt = pending_.find_first_not_of('>');
        std::string_view rest =
            gt == std::string::npos ? std::string_view() : std::string_view(pending_).substr(gt);
        static constexpr std::string_view from = "From ";
        if (rest.size() < from.size() && from.substr(0, rest.size()) == rest) continue;
        if (rest == from) out += '>';
        out += pending_;
        last_ = pending_.back();
        pending_.clear();
        deciding_ = c == '\n';
    }
}

void mboxrd_quoter::finish(std::string& out) {
    if (!pending_.empty()) {
        out += pending_;
        last_ = pending_.back();
        pending_.clear();
    }
}

namespace {

// Enough bytes of a header line to tell its field name from ours ("X-Keywords:" is 11 bytes).
constexpr std::size_t judge_bytes = 12;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Whether a header line starts a field this export writes itself.
bool replaced_field(std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    return iequals(name, "Status") || iequals(name, "X-Status") || iequals(name, "X-Keywords");
}

bool label_field(std::string_view line) {
    return line.size() > 8 && iequals(line.substr(0, 8), "X-Label:");
}

}  // namespace

mbox_writer::mbox_writer(std::string_view canonical_flags, std::int64_t epoch, bool lf,
                         std::size_t max_held)
    : flags_(canonical_flags), epoch_(epoch), lf_(lf), max_held_(max_held) {}

void mbox_writer::feed(std::string_view in, std::string& out) {
    if (!lf_) {
        process(in, out);
        return;
    }
    conv_buf_.clear();
    conv_.feed(in, conv_buf_);
    process(conv_buf_, out);
}

void mbox_writer::process(std::string_view in, std::string& out) {
    if (in.empty()) return;
    if (in_headers_)
        header_bytes(in, out);
    else
        quoter_.feed(in, out);
}

// Header lines pass or are dropped (with their continuation lines) as a whole; a line is judged
// on its first judge_bytes bytes, the rest streams.
void mbox_writer::header_bytes(std::string_view in, std::string& out) {
    std::size_t i = 0;
    while (i < in.size() && in_headers_) {
        if (!line_judged_) {
            const char c = in[i++];
            if (c == '\n') crlf_ = prev_ == '\r';
            prev_ = c;
            line_ += c;
            if (c == '\n' || line_.size() >= judge_bytes) decide_line(out);
            continue;
        }
        const std::size_t nl = in.find('\n', i);
        const std::size_t end = nl == std::string_view::npos ? in.size() : nl + 1;
        if (current_ == field::keep) header_out(in.substr(i, end - i), out);
        if (nl != std::string_view::npos) {
            crlf_ = (nl > i ? in[nl - 1] : prev_) == '\r';
            line_judged_ = false;
        }
        prev_ = in[end - 1];
        i = end;
    }
    if (i < in.size()) quoter_.feed(in.substr(i), out);
}

void mbox_writer::decide_line(std::string& out) {
    std::string line = std::move(line_);
    line_.clear();
    if (line == "\n" || line == "\r\n") {
        header_end(line, out);
        return;
    }
    start_field(line);
    if (current_ == field::keep) header_out(line, out);
    line_judged_ = line.back() != '\n';
}

// A continuation line (leading blank) shares its field's fate; a new field is judged by name.
void mbox_writer::start_field(std::string_view line) {
    if (line[0] == ' ' || line[0] == '\t') return;
    current_ = replaced_field(line) ? field::drop : field::keep;
    has_label_ = has_label_ || label_field(line);
    capture_ = nullptr;
    if (released_) return;
    if (rp_.empty() && line.size() >= 12 && iequals(line.substr(0, 12), "Return-Path:"))
        capture_ = &rp_;
    else if (from_.empty() && line.size() >= 5 && iequals(line.substr(0, 5), "From:"))
        capture_ = &from_;
}

// Header bytes that stay; Return-Path and From are kept aside (bounded) for the sender.
void mbox_writer::header_out(std::string_view b, std::string& out) {
    if (capture_ && capture_->size() < 4096) capture_->append(b);
    emit(b, out);
}

void mbox_writer::header_end(std::string_view blank, std::string& out) {
    in_headers_ = false;
    current_ = field::keep;
    emit(mbox_status_headers(flags_, blank == "\r\n" ? "\r\n" : "\n", !has_label_), out);
    emit(blank, out);
    release(out);
}

// The "From " line (its sender needs the headers), then what was held back.
void mbox_writer::release(std::string& out) {
    if (released_) return;
    released_ = true;
    // The field values, unfolded (a line break before a blank is not part of the value).
    auto value = [](std::string_view f) {
        std::string v;
        const std::size_t colon = f.find(':');
        if (colon == std::string_view::npos) return v;
        for (char c : f.substr(colon + 1))
            if (c != '\r' && c != '\n') v += c;
        return v;
    };
    out += mbox_from_line(envelope_sender(value(rp_), value(from_)), epoch_);
    out += held_;
    held_.clear();
    held_.shrink_to_fit();
    capture_ = nullptr;
}

void mbox_writer::emit(std::string_view b, std::string& out) {
    if (released_) {
        quoter_.feed(b, out);
        return;
    }
    quoter_.feed(b, held_);
    if (held_.size() >= max_held_) release(out);
}

void mbox_writer::finish(std::string& out) {
    if (lf_) {
        conv_buf_.clear();
        conv_.finish(conv_buf_);
        process(conv_buf_, out);
    }
    if (in_headers_) {
        // The message ended inside its header block: the status headers go at its end.
        if (!line_.empty()) {
            std::string line = std::move(line_);
            line_.clear();
            start_field(line);
            if (current_ == field::keep) header_out(line, out);
            line_judged_ = true;
        }
        const bool crlf = !lf_ && crlf_;
        if (line_judged_ && current_ == field::keep) emit(crlf ? "\r\n" : "\n", out);
        in_headers_ = false;
        emit(mbox_status_headers(flags_, crlf ? "\r\n" : "\n", !has_label_), out);
        release(out);
    }
    quoter_.finish(out);
    if (!quoter_.ended_with_newline()) out += '\n';
    out += '\n';
}

namespace {

std::string safe_component(std::string_view s) {
    std::string out;
    for (char c : s) out += (c == '/' || c == '\\' || c == '\0') ? '_' : c;
    if (out.empty() || out == "." || out == "..") out = "_" + out;
    return out;
}

std::string entry_name(const entry_view& e) {
    std::string id = e.uid ? std::to_string(*e.uid) : safe_component(e.uidl.value_or("x"));
    return std::to_string(e.generation) + "_" + id;
}

std::string thousands(std::int64_t n) {
    std::string d = std::to_string(n), out;
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (i > 0 && (d.size() - i) % 3 == 0 && d[i - 1] != '-') out += ',';
        out += d[i];
    }
    return out;
}

mv::error io_error(const fs::path& p, int err) {
    return {errc::io, std::string(std::strerror(err)) + " (" + p.string() + ")"};
}

bool is_dir(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists_not_dir(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

// Creates the missing directories of `dir`, each 0700 whatever the umask.
mv::error make_dirs(const fs::path& dir) {
    fs::path p;
    for (const auto& part : dir) {
        p /= part;
        if (::mkdir(p.c_str(), 0700) == 0) {
            ::chmod(p.c_str(), 0700);
            continue;
        }
        const int err = errno;
        if (err == EEXIST && is_dir(p)) continue;
        return io_error(p, err == EEXIST ? ENOTDIR : err);
    }
    return {};
}

mv::error sync_fs(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error(dir, errno);
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return io_error(dir, err);
    return {};
}

mv::error sync_dir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error(dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0 && err != EINVAL) return io_error(dir, err);
    return {};
}

// One output file, created 0600 whatever the umask. Every write, the fsync and the close are
// checked; the first failure is returned and kept.
// Flow: open() -> write()* [-> truncate()] -> finish(sync) (fsync, close); destruction closes.
class out_file {
public:
    out_file() = default;
    ~out_file() {
        if (fd_ >= 0) ::close(fd_);
    }
    out_file(const out_file&) = delete;
    out_file& operator=(const out_file&) = delete;

    mv::error open(const fs::path& p) {
        close_quietly();
        path_ = p;
        off_ = 0;
        fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0) return io_error(p, errno);
        if (::fchmod(fd_, 0600) != 0) return fail();  // an older export's file may be 0644
        return {};
    }
    mv::error write(std::string_view b) {
        while (!b.empty()) {
            ssize_t n = ::write(fd_, b.data(), b.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return fail();
            if (n == 0) return io_error(path_, EIO);
            b.remove_prefix(static_cast<std::size_t>(n));
            off_ += n;
        }
        return {};
    }
    // Sets the file's access and modification times (the message's arrival).
    mv::error set_times(std::int64_t epoch) {
        struct timespec ts[2];
        ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(epoch);
        ts[0].tv_nsec = ts[1].tv_nsec = 0;
        if (::futimens(fd_, ts) != 0) return fail();
        return {};
    }
    // Drops everything after `offset` (a message written only in part).
    mv::error truncate(off_t offset) {
        if (::ftruncate(fd_, offset) != 0 || ::lseek(fd_, offset, SEEK_SET) < 0) return fail();
        off_ = offset;
        return {};
    }
    // Closes the file; with `sync`, fsyncs it first.
    mv::error finish(bool sync) {
        if (fd_ < 0) return {};
        if (sync && ::fsync(fd_) != 0) return fail();
        int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) return io_error(path_, errno);
        return {};
    }
    void close_quietly() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    bool is_open() const { return fd_ >= 0; }
    off_t offset() const { return off_; }
    const fs::path& path() const { return path_; }

private:
    mv::error fail() { return io_error(path_, errno); }
    int fd_ = -1;
    fs::path path_;
    off_t off_ = 0;
};

// Output paths are unique within one export. Two folders whose names map to one path (`a/b`
// with delimiter "." and a folder `a_b`; accounts alike), a folder named like a message file or
// an mbox file, or two POP3 UIDLs that map to one file name: the later one gets "~2", "~3" ...
// instead of overwriting the other. Directories and mbox files are remembered for the whole
// run (there are few); message file names only for the current folder and only where they can
// collide (UIDL names; IMAP names are unique by construction).
// Flow: folder_dir() / mbox_file() when a folder starts -> message_file() per entry.
class path_claims {
public:
    explicit path_claims(fs::path root) : root_(std::move(root)) {}

    // The directory of a chain of raw names: account, then the folder's levels.
    // With `last_verbatim`, the last level is a name made safe already (a Maildir++ name).
    fs::path folder_dir(const std::vector<std::string>& levels, bool last_verbatim = false) {
        fs::path parent = root_;
        std::string id = "d";
        for (std::size_t l = 0; l < levels.size(); ++l) {
            const auto& raw = levels[l];
            const bool verbatim = last_verbatim && l + 1 == levels.size();
            id += verbatim ? '\1' : '\0';
            id += raw;
            auto it = ids_.find(id);
            if (it != ids_.end()) {
                parent = it->second;
                continue;
            }
            const std::string base = verbatim ? raw : safe_component(raw);
            fs::path p = parent / base;
            for (int n = 2; owners_.count(p) || exists_not_dir(p); ++n)
                p = parent / (base + "~" + std::to_string(n));
            owners_[p] = id;
            ids_[id] = p;
            parent = p;
        }
        return parent;
    }

    // Claims a name inside a folder's directory that nothing else may use (Maildir cur/new/tmp).
    void reserve(const fs::path& p, const std::string& id) { owners_.emplace(p, id); }

    // The mbox file of a folder: beside its directory, named LEVEL.mbox.
    fs::path mbox_file(const std::vector<std::string>& levels) {
        std::vector<std::string> parents(levels.begin(), levels.end() - 1);
        fs::path dir = folder_dir(parents);
        const std::string base = safe_component(levels.back());
        fs::path p = dir / (base + ".mbox");
        for (int n = 2; owners_.count(p) || is_dir(p); ++n)
            p = dir / (base + "~" + std::to_string(n) + ".mbox");
        owners_[p] = "m";
        return p;
    }

    // A message file `stem` + `ext` in `dir` (the folder currently exported).
    fs::path message_file(const fs::path& dir, const std::string& stem, const std::string& ext,
                          bool may_collide) {
        if (dir != files_dir_) {
            files_.clear();
            files_dir_ = dir;
        }
        std::string name = stem + ext;
        for (int n = 2; files_.count(name) || owners_.count(dir / name) || is_dir(dir / name); ++n)
            name = stem + "~" + std::to_string(n) + ext;
        if (may_collide) files_.insert(name);
        return dir / name;
    }

private:
    fs::path root_;
    std::map<std::string, fs::path> ids_;     // raw-name chain -> directory
    std::map<fs::path, std::string> owners_;  // directory or mbox file -> who has it
    std::set<std::string> files_;
    fs::path files_dir_;
};

std::vector<std::string> folder_levels(const located_entry& le) {
    std::vector<std::string> out{le.account};
    std::string_view name = le.mailbox;
    std::string delim = le.delimiter.value_or("");
    if (delim.empty()) {
        out.emplace_back(name);
        return out;
    }
    size_t i = 0;
    while (true) {
        size_t j = name.find(delim, i);
        out.emplace_back(name.substr(i, j == std::string_view::npos ? j : j - i));
        if (j == std::string_view::npos) break;
        i = j + delim.size();
    }
    return out;
}

// Thrown out of the entry loop when a local write failed: the export stops there.
struct stop_export {};

}  // namespace

export_stats export_entries(archive& a, const export_options& o) {
    return export_entries(a, o, std::string());
}

namespace {

bool is_inbox(const std::vector<std::string>& levels) {
    return levels.size() == 2 && iequals(levels[1], "INBOX");
}

// The folder filter: patterns as in `sync --folder`, with the folder's own delimiter.
bool folder_wanted(const export_options& o, const located_entry& le) {
    if (o.folders.empty()) return true;
    const char delim = le.delimiter && !le.delimiter->empty() ? (*le.delimiter)[0] : '\0';
    for (const auto& p : o.folders)
        if (config::folder_pattern_matches(p, le.mailbox, delim)) return true;
    return false;
}

// When the message arrived: INTERNALDATE, else the Date: header from the header index, else
// unknown (nullopt).
std::optional<std::int64_t> arrival(archive& a, const entry_view& e) {
    if (e.internaldate) return e.internaldate;
    if (auto h = a.headers(e.content); h && h->date_epoch) return h->date_epoch;
    return std::nullopt;
}

}  // namespace

export_stats export_entries(archive& a, const export_options& o, const std::string& query) {
    export_stats st;
    const bool lf = effective_line_endings(o) == line_endings::lf;
    // --query: the matching entry ids first (ids only, no text), then the usual folder-ordered
    // walk skips the others.
    std::optional<std::unordered_set<std::int64_t>> chosen;
    if (!query.empty()) {
        chosen.emplace();
        search_request r;
        r.query = query;
        r.snippets = false;
        searcher(a).each(r, [&](const entry_hit& h) {
            chosen->insert(h.entry_id);
            return true;
        });
    }
    // The folder filter is decided once per folder.
    std::string wanted_key;
    bool wanted = true;
    auto selected = [&](const located_entry& le) {
        if (chosen && !chosen->count(le.entry.id)) return false;
        if (o.folders.empty()) return true;
        std::string key = le.account + std::string(1, '\0') + le.mailbox;
        if (key != wanted_key) {
            wanted_key = std::move(key);
            wanted = folder_wanted(o, le);
        }
        return wanted;
    };
    if (chosen || !o.folders.empty()) {
        a.for_each_located_entry(o.filter, [&](const located_entry& le) {
            if (selected(le)) ++st.selected;
        });
    } else {
        st.selected = a.count_located_entries(o.filter);
    }
    if (st.selected == 0) return st;  // nothing to write: no directory either
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    path_claims claims(o.out);
    out_file mbox;
    std::string folder_key;  // account + '\0' + mailbox of the folder being exported
    fs::path dir;            // its directory (maildir, eml)
    std::set<fs::path> dirs_written;
    std::set<std::string> maildir_roots;  // Maildir++ account roots made already
    std::string buf;
    mv::error failed;
    auto stop = [&](mv::error e) {
        failed = std::move(e);
        throw stop_export{};
    };
    auto make_maildir = [&](const fs::path& d, const std::string& key) {
        for (auto sub : {"cur", "new", "tmp"}) {
            claims.reserve(d / sub, key);
            if (auto err = make_dirs(d / sub)) stop(err);
        }
    };
    if (auto e = make_dirs(o.out)) {
        st.failure = {errc::io, "export failed after 0 of " + thousands(st.selected) +
                                    " messages: " + e.message};
        return st;
    }
    try {
        a.for_each_located_entry(o.filter, [&](const located_entry& le) {
            if (!selected(le)) return;
            const auto& e = le.entry;
            std::string key = le.account + std::string(1, '\0') + le.mailbox;
            if (key != folder_key) {
                folder_key = key;
                auto levels = folder_levels(le);
                if (o.format == export_format::mbox) {
                    if (auto err = mbox.finish(true)) stop(err);
                    if (!mbox.path().empty()) dirs_written.insert(mbox.path().parent_path());
                    fs::path p = claims.mbox_file(levels);
                    if (auto err = make_dirs(p.parent_path())) stop(err);
                    if (auto err = mbox.open(p)) stop(err);
                } else if (o.format == export_format::maildir &&
                           o.layout == maildir_layout::maildirpp) {
                    // One Maildir per account: INBOX is its root, other folders .A.B beside it.
                    fs::path root = claims.folder_dir({le.account});
                    if (maildir_roots.insert(le.account).second)
                        make_maildir(root, std::string(1, '\0') + le.account);
                    if (is_inbox(levels)) {
                        dir = root;
                    } else {
                        dir = claims.folder_dir(
                            {le.account, maildirpp_name({levels.begin() + 1, levels.end()})}, true);
                        make_maildir(dir, key);
                    }
                } else {
                    dir = claims.folder_dir(levels);
                    if (o.format == export_format::maildir)
                        make_maildir(dir, key);
                    else if (auto err = make_dirs(dir))
                        stop(err);
                }
            }
            const std::string where = le.account + "/" + le.mailbox + " " + entry_name(e);
            // Only what needs it looks the date up (the header index, for entries without
            // INTERNALDATE): eml keeps the export time.
            std::optional<std::int64_t> date;
            if (o.format != export_format::eml) date = arrival(a, e);
            if (o.format == export_format::mbox) {
                const off_t start = mbox.offset();
                mv::error werr;
                auto write = [&](std::string_view b) {
                    if (!werr && !b.empty()) werr = mbox.write(b);
                };
                mbox_writer w(e.flags, date.value_or(now), lf);
                std::int64_t bytes = 0;
                auto rerr = a.read_content(e.content, [&](std::string_view piece) {
                    buf.clear();
                    w.feed(piece, buf);
                    write(buf);
                    bytes += static_cast<std::int64_t>(piece.size());
                });
                buf.clear();
                w.finish(buf);
                write(buf);
                if (werr || rerr) {
                    // The mbox holds exactly the messages counted: drop the partial one.
                    if (auto terr = mbox.truncate(start); terr && !werr) werr = terr;
                }
                if (werr) stop(werr);
                if (rerr) {
                    st.errors.push_back(where + ": " + rerr.message);
                    return;
                }
                st.bytes += bytes;
                ++st.messages;
                return;
            }
            fs::path write_path, final_path;
            if (o.format == export_format::maildir) {
                // <time>.<unique>.<host>:2,<flags>: the time is the arrival (0 when unknown, so
                // the name stays the same on every export), the unique part the entry and its
                // content, the "host" mailvault.
                std::string base = std::to_string(date.value_or(0)) + "." + entry_name(e) + "_" +
                                   e.content.hex().substr(0, 16) + ".mailvault";
                final_path =
                    claims.message_file(dir / "cur", base, ":2," + maildir_flags(e.flags), !e.uid);
                std::string name = final_path.filename().string();
                write_path = dir / "tmp" / name.substr(0, name.rfind(":2,"));
            } else {
                write_path = final_path = claims.message_file(dir, entry_name(e), ".eml", !e.uid);
            }
            out_file f;
            if (auto err = f.open(write_path)) stop(err);
            mv::error werr;
            std::int64_t bytes = 0;
            crlf_to_lf conv;
            auto rerr = a.read_content(e.content, [&](std::string_view piece) {
                bytes += static_cast<std::int64_t>(piece.size());
                if (werr) return;
                if (!lf) {
                    werr = f.write(piece);
                    return;
                }
                buf.clear();
                conv.feed(piece, buf);
                werr = f.write(buf);
            });
            if (lf && !werr && !rerr) {
                buf.clear();
                conv.finish(buf);
                werr = f.write(buf);
            }
            // Maildir readers (mbsync, mutt's sort by date-received, notmuch) take the arrival
            // from the mtime; rename() keeps it.
            if (!werr && !rerr && date && o.format == export_format::maildir)
                werr = f.set_times(*date);
            if (!werr) werr = f.finish(false);  // one syncfs at the end instead (2.5 ms each)
            if (werr || rerr) {
                f.close_quietly();
                ::unlink(write_path.c_str());
            }
            if (werr) stop(werr);
            if (rerr) {
                st.errors.push_back(where + ": " + rerr.message);
                return;
            }
            if (write_path != final_path && ::rename(write_path.c_str(), final_path.c_str()) != 0) {
                const int err = errno;
                ::unlink(write_path.c_str());
                stop(io_error(final_path, err));
            }
            dirs_written.insert(final_path.parent_path());
            st.bytes += bytes;
            ++st.messages;
        });
        if (auto err = mbox.finish(true)) stop(err);
        if (!mbox.path().empty()) dirs_written.insert(mbox.path().parent_path());
        // Message files are closed (checked) without an fsync each; one syncfs() flushes them
        // all and reports any writeback error, then the directories are synced.
        if (o.format != export_format::mbox)
            if (auto err = sync_fs(o.out)) stop(err);
        for (const auto& d : dirs_written)
            if (auto err = sync_dir(d)) stop(err);
    } catch (const stop_export&) {
        st.failure = {errc::io, "export failed after " + thousands(st.messages) + " of " +
                                    thousands(st.selected) + " messages: " + failed.message};
    }
    return st;
}

}  // namespace mv::archive
