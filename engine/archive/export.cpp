#include "archive/export.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>

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

fs::path mailbox_dir(const fs::path& root, const located_entry& le) {
    fs::path p = root / safe_component(le.account);
    std::string_view name = le.mailbox;
    std::string delim = le.delimiter.value_or("");
    if (delim.empty()) return p / safe_component(name);
    size_t i = 0;
    while (true) {
        size_t j = name.find(delim, i);
        p /= safe_component(name.substr(i, j == std::string_view::npos ? j : j - i));
        if (j == std::string_view::npos) break;
        i = j + delim.size();
    }
    return p;
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

}  // namespace

export_stats export_entries(archive& a, const export_options& o) {
    export_stats st;
    std::ofstream mbox;
    fs::path mbox_path;
    std::string buf;
    a.for_each_located_entry(o.filter, [&](const located_entry& le) {
        const auto& e = le.entry;
        fs::path dir = mailbox_dir(o.out, le);
        fs::path final_path, write_path;
        std::error_code ec;
        if (o.format == export_format::maildir) {
            for (auto sub : {"cur", "new", "tmp"}) fs::create_directories(dir / sub, ec);
            std::string base = std::to_string(e.internaldate.value_or(0)) + "." + entry_name(e) +
                               "_" + e.content.hex().substr(0, 16) + ".mailvault";
            write_path = dir / "tmp" / base;
            final_path = dir / "cur" / (base + ":2," + maildir_flags(e.flags));
        } else if (o.format == export_format::eml) {
            fs::create_directories(dir, ec);
            write_path = final_path = dir / (entry_name(e) + ".eml");
        } else {
            fs::path p = dir;
            p += ".mbox";
            if (p != mbox_path) {
                mbox.close();
                fs::create_directories(p.parent_path(), ec);
                mbox.open(p, std::ios::binary | std::ios::trunc);
                mbox_path = p;
                if (!mbox) st.errors.push_back("cannot write " + p.string());
            }
        }
        if (o.format == export_format::mbox) {
            if (!mbox) return;
            mbox << from_line(e);
            mboxrd_quoter q;
            auto err = a.read_content(e.content, [&](std::string_view piece) {
                buf.clear();
                q.feed(piece, buf);
                mbox.write(buf.data(), static_cast<std::streamsize>(buf.size()));
                st.bytes += static_cast<std::int64_t>(piece.size());
            });
            buf.clear();
            q.finish(buf);
            if (!q.ended_with_newline()) buf += '\n';
            buf += '\n';
            mbox.write(buf.data(), static_cast<std::streamsize>(buf.size()));
            if (err)
                st.errors.push_back(le.account + "/" + le.mailbox + " " + entry_name(e) + ": " +
                                    err.message);
            else
                ++st.messages;
            return;
        }
        std::ofstream f(write_path, std::ios::binary | std::ios::trunc);
        if (!f) {
            st.errors.push_back("cannot write " + write_path.string());
            return;
        }
        auto err = a.read_content(e.content, [&](std::string_view piece) {
            f.write(piece.data(), static_cast<std::streamsize>(piece.size()));
            st.bytes += static_cast<std::int64_t>(piece.size());
        });
        f.close();
        if (err || !f) {
            fs::remove(write_path, ec);
            st.errors.push_back(le.account + "/" + le.mailbox + " " + entry_name(e) + ": " +
                                (err ? err.message : std::string("write failed")));
            return;
        }
        if (write_path != final_path) fs::rename(write_path, final_path, ec);
        if (ec)
            st.errors.push_back("cannot rename into " + final_path.string() + ": " + ec.message());
        else
            ++st.messages;
    });
    return st;
}

}  // namespace mv::archive
