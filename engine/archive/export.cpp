#include "archive/export.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include "archive/searcher.hpp"

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

std::string from_line(const entry_view& e) {
    std::time_t t = static_cast<std::time_t>(e.internaldate.value_or(0));
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    return std::string("From MAILER-DAEMON ") + buf + "\n";
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
    fs::path folder_dir(const std::vector<std::string>& levels) {
        fs::path parent = root_;
        std::string id = "d";
        for (const auto& raw : levels) {
            id += '\0';
            id += raw;
            auto it = ids_.find(id);
            if (it != ids_.end()) {
                parent = it->second;
                continue;
            }
            const std::string base = safe_component(raw);
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

export_stats export_entries(archive& a, const export_options& o, const std::string& query) {
    export_stats st;
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
        st.selected = 0;
        a.for_each_located_entry(o.filter, [&](const located_entry& le) {
            if (chosen->count(le.entry.id)) ++st.selected;
        });
    } else {
        st.selected = a.count_located_entries(o.filter);
    }
    path_claims claims(o.out);
    out_file mbox;
    std::string folder_key;  // account + '\0' + mailbox of the folder being exported
    fs::path dir;            // its directory (maildir, eml)
    std::set<fs::path> dirs_written;
    std::string buf;
    mv::error failed;
    auto stop = [&](mv::error e) {
        failed = std::move(e);
        throw stop_export{};
    };
    if (auto e = make_dirs(o.out)) {
        st.failure = {errc::io, "export failed after 0 of " + thousands(st.selected) +
                                    " messages: " + e.message};
        return st;
    }
    try {
        a.for_each_located_entry(o.filter, [&](const located_entry& le) {
            if (chosen && !chosen->count(le.entry.id)) return;
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
                } else {
                    dir = claims.folder_dir(levels);
                    if (o.format == export_format::maildir)
                        for (auto sub : {"cur", "new", "tmp"}) {
                            claims.reserve(dir / sub, key);
                            if (auto err = make_dirs(dir / sub)) stop(err);
                        }
                    else if (auto err = make_dirs(dir))
                        stop(err);
                }
            }
            const std::string where = le.account + "/" + le.mailbox + " " + entry_name(e);
            if (o.format == export_format::mbox) {
                const off_t start = mbox.offset();
                mv::error werr;
                auto write = [&](std::string_view b) {
                    if (!werr) werr = mbox.write(b);
                };
                write(from_line(e));
                mboxrd_quoter q;
                std::int64_t bytes = 0;
                auto rerr = a.read_content(e.content, [&](std::string_view piece) {
                    buf.clear();
                    q.feed(piece, buf);
                    write(buf);
                    bytes += static_cast<std::int64_t>(piece.size());
                });
                buf.clear();
                q.finish(buf);
                if (!q.ended_with_newline()) buf += '\n';
                buf += '\n';
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
                std::string base = std::to_string(e.internaldate.value_or(0)) + "." +
                                   entry_name(e) + "_" + e.content.hex().substr(0, 16) +
                                   ".mailvault";
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
            auto rerr = a.read_content(e.content, [&](std::string_view piece) {
                if (!werr) werr = f.write(piece);
                bytes += static_cast<std::int64_t>(piece.size());
            });
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
