// A Gmail-like IMAP server in memory for whole-sync tests (tests/unit/gmail_test.cpp) and the
// Gmail restore test (tests/integration/gmail_restore_test.cpp). Real Gmail cannot run here.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "imap/uid_set.hpp"
#include "mailvault/transport.hpp"

namespace mv::test {

using gm_strings = std::vector<std::string>;

// A Gmail-like IMAP server in memory: messages exist once (X-GM-MSGID, labels, flags, MODSEQ),
// folders list them under their own UIDs; CAPABILITY has X-GM-EXT-1 (and CONDSTORE unless
// turned off); LIST has "[Gmail]" (\Noselect) and "[Gmail]/All Mail" (\All). Understands what
// the sync sends: CAPABILITY, LOGIN, LIST, STATUS, EXAMINE, UID SEARCH, UID FETCH (with the
// X-GM items and CHANGEDSINCE), NOOP, LOGOUT; and, as a restore target, SELECT, APPEND (a
// synchronizing or non-synchronizing literal; the new message lands in the folder and in All
// Mail, answered with APPENDUID) and UID STORE +X-GM-LABELS.
struct gm_world {
    struct message {
        std::uint64_t msgid = 0, thrid = 0;
        std::string body, flags;
        gm_strings labels;  // as on the wire: atoms for system labels, mUTF-7 for the others
        std::uint64_t modseq = 0;
    };
    struct folder {
        std::string name, attrs;
        std::uint32_t uidvalidity = 1, uidnext = 1;
        std::vector<std::pair<std::uint32_t, std::size_t>> uids;  // UID -> message index
    };
    std::vector<message> messages;
    std::vector<folder> folders;
    bool condstore = true;
    bool qresync = false;  // also offer ENABLE + QRESYNC (Gmail does not; a Gmail-like server may)
    std::uint64_t modseq = 100;
    std::size_t actions = 0, fail_at = static_cast<std::size_t>(-1);
    bool failed = false;
    gm_strings commands;      // every command line received
    gm_strings label_stores;  // every UID STORE +X-GM-LABELS received

    folder& f(const std::string& name) {
        for (auto& x : folders)
            if (x.name == name) return x;
        folders.push_back({name, "", static_cast<std::uint32_t>(folders.size() + 1), 1, {}});
        return folders.back();
    }
    std::size_t add(std::string body, gm_strings labels, std::string flags,
                    const gm_strings& in_folders) {
        const auto i = messages.size();
        messages.push_back({1500000000000000000u + i, 1400000000000000000u + i / 2, std::move(body),
                            std::move(flags), std::move(labels), ++modseq});
        for (const auto& name : in_folders) {
            auto& fo = f(name);
            fo.uids.emplace_back(fo.uidnext++, i);
        }
        return i;
    }
    void relabel(std::size_t i, gm_strings labels) {
        messages[i].labels = std::move(labels);
        messages[i].modseq = ++modseq;
    }
    std::string caps() const {
        std::string c = "IMAP4rev1 UIDPLUS X-GM-EXT-1";
        if (condstore) c += " CONDSTORE";
        if (qresync) c += " ENABLE QRESYNC";
        return c;
    }
};

class gm_transport : public mv::transport {
public:
    explicit gm_transport(gm_world& w) : w_(w) {
        out_ = "* OK Gimap ready for requests from 127.0.0.1 test\r\n";
    }
    bool tls_active() const override { return false; }

    mv::error run(mv::operation& op) override {
        if (dead_) return mv::error(mv::errc::network, "fake connection is dead");
        auto a = op.resume(mv::io_result::start());
        for (;;) {
            if (a.kind == mv::action_kind::done) return a.err;
            if (w_.actions++ == w_.fail_at) {
                dead_ = true;
                w_.failed = true;
                a = op.resume(mv::io_result::failed(
                    mv::error(mv::errc::network, "injected connection failure")));
                return a.kind == mv::action_kind::done
                           ? a.err
                           : mv::error(mv::errc::internal, "operation went on after a failure");
            }
            if (a.kind == mv::action_kind::write) {
                in_.append(a.data);
                feed();
                a = op.resume(mv::io_result::written());
            } else if (a.kind == mv::action_kind::read) {
                if (out_.empty()) {
                    dead_ = true;
                    a = op.resume(mv::io_result::failed(
                        mv::error(mv::errc::closed, "fake server has nothing more to say")));
                    continue;
                }
                const auto n = std::min<std::size_t>(out_.size(), 97);
                piece_ = out_.substr(0, n);
                out_.erase(0, n);
                a = op.resume(mv::io_result::read(piece_));
            } else {
                dead_ = true;
                a = op.resume(mv::io_result::failed(
                    mv::error(mv::errc::unsupported, "fake server: no TLS/COMPRESS")));
            }
        }
    }

private:
    static std::string upper(std::string s) {
        for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return s;
    }
    static std::string word(const std::string& s, std::size_t& p) {
        while (p < s.size() && s[p] == ' ') ++p;
        const std::size_t b = p;
        if (p < s.size() && s[p] == '"') {
            ++p;
            while (p < s.size() && s[p] != '"') ++p;
            return s.substr(b + 1, p++ - b - 1);
        }
        while (p < s.size() && s[p] != ' ') ++p;
        return s.substr(b, p - b);
    }
    std::uint64_t highest(const gm_world::folder& f) const {
        std::uint64_t m = 1;
        for (const auto& [uid, i] : f.uids) m = std::max(m, w_.messages[i].modseq);
        return m;
    }
    static std::string labels_wire(const gm_strings& labels) {
        std::string s;
        for (const auto& l : labels)
            s += (s.empty() ? "" : " ") + (l.front() == '\\' ? l : "\"" + l + "\"");
        return "(" + s + ")";
    }

    void handle(const std::string& line) {
        w_.commands.push_back(line);
        std::size_t p = 0;
        const std::string tag = word(line, p);
        std::string cmd = upper(word(line, p));
        if (cmd == "UID") cmd += " " + upper(word(line, p));
        const std::string rest = p < line.size() ? line.substr(p + 1) : "";
        if (cmd == "CAPABILITY") {
            out_ += "* CAPABILITY " + w_.caps() + "\r\n" + tag + " OK Thats all she wrote!\r\n";
        } else if (cmd == "LOGIN") {
            out_ += tag + " OK [CAPABILITY " + w_.caps() + "] me@gmail.com authenticated\r\n";
        } else if (cmd == "ENABLE" && w_.qresync) {
            // No VANISHED and no FETCH in the SELECT answers: label changes are not reported there.
            out_ += "* ENABLED QRESYNC CONDSTORE\r\n" + tag + " OK Success\r\n";
        } else if (cmd == "LIST") {
            out_ += "* LIST (\\HasChildren \\Noselect) \"/\" \"[Gmail]\"\r\n";
            for (const auto& f : w_.folders)
                out_ += "* LIST (\\HasNoChildren" + f.attrs + ") \"/\" \"" + f.name + "\"\r\n";
            out_ += tag + " OK Success\r\n";
        } else if (cmd == "STATUS" || cmd == "EXAMINE" || cmd == "SELECT") {
            std::size_t q = 0;
            const auto name = word(rest, q);
            const gm_world::folder* f = nullptr;
            for (const auto& x : w_.folders)
                if (x.name == name) f = &x;
            if (!f) {
                out_ += tag + " NO [NONEXISTENT] Unknown Mailbox\r\n";
                return;
            }
            if (cmd == "STATUS") {
                out_ += "* STATUS \"" + name + "\" (MESSAGES " + std::to_string(f->uids.size()) +
                        " UIDNEXT " + std::to_string(f->uidnext) + " UIDVALIDITY " +
                        std::to_string(f->uidvalidity) +
                        (w_.condstore ? " HIGHESTMODSEQ " + std::to_string(highest(*f)) : "") +
                        ")\r\n" + tag + " OK Success\r\n";
                return;
            }
            selected_ = f;
            out_ += "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $NotPhishing)\r\n* " +
                    std::to_string(f->uids.size()) + " EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY " +
                    std::to_string(f->uidvalidity) + "] UIDs valid.\r\n* OK [UIDNEXT " +
                    std::to_string(f->uidnext) + "] Predicted next UID.\r\n";
            if (w_.condstore)
                out_ += "* OK [HIGHESTMODSEQ " + std::to_string(highest(*f)) + "]\r\n";
            out_ += tag + (cmd == "SELECT" ? " OK [READ-WRITE] " : " OK [READ-ONLY] ") + name +
                    " selected. (Success)\r\n";
        } else if (cmd == "UID SEARCH" && selected_) {
            std::string ids;
            std::optional<imap::uid_set> set;
            if (upper(rest) != "ALL") {
                std::size_t q = 0;
                word(rest, q);  // UID
                std::string spec = word(rest, q);
                if (auto star = spec.find('*'); star != std::string::npos)
                    spec.replace(star, 1, std::to_string(std::max(1u, selected_->uidnext - 1)));
                set = imap::parse_uid_set(spec);
            }
            for (const auto& [uid, i] : selected_->uids)
                if (!set || set->contains(uid)) ids += " " + std::to_string(uid);
            out_ += "* SEARCH" + ids + "\r\n" + tag + " OK SEARCH completed (Success)\r\n";
        } else if (cmd == "UID FETCH" && selected_) {
            std::size_t q = 0;
            const auto set = imap::parse_uid_set(word(rest, q));
            const std::string items = upper(rest);
            const bool body = items.find("BODY.PEEK[]") != std::string::npos;
            const bool labels = items.find("X-GM-LABELS") != std::string::npos;
            const bool ids = items.find("X-GM-MSGID") != std::string::npos;
            const bool with_modseq = items.find("MODSEQ") != std::string::npos;
            const bool header = items.find("BODY.PEEK[HEADER]") != std::string::npos;
            const bool size = items.find("RFC822.SIZE") != std::string::npos;
            const bool date = items.find("INTERNALDATE") != std::string::npos;
            std::uint64_t since = 0;
            if (auto cs = items.find("CHANGEDSINCE "); cs != std::string::npos)
                since = std::stoull(rest.substr(cs + 13));
            for (std::size_t n = 0; n < selected_->uids.size(); ++n) {
                const auto [uid, i] = selected_->uids[n];
                const auto& m = w_.messages[i];
                if (!set || !set->contains(uid) || m.modseq <= since) continue;
                // Gmail's order: X-GM-THRID X-GM-MSGID X-GM-LABELS UID ...
                std::string a = "* " + std::to_string(n + 1) + " FETCH (";
                if (ids)
                    a += "X-GM-THRID " + std::to_string(m.thrid) + " X-GM-MSGID " +
                         std::to_string(m.msgid) + " ";
                if (labels) a += "X-GM-LABELS " + labels_wire(m.labels) + " ";
                a += "UID " + std::to_string(uid) + " FLAGS (" + m.flags + ")";
                if (with_modseq) a += " MODSEQ (" + std::to_string(m.modseq) + ")";
                if (date) a += " INTERNALDATE \"01-Jan-2024 10:00:00 +0000\"";
                if (size) a += " RFC822.SIZE " + std::to_string(m.body.size());
                if (body) a += " BODY[] {" + std::to_string(m.body.size()) + "}\r\n" + m.body;
                if (header) {
                    const auto h = m.body.substr(0, m.body.find("\r\n\r\n") + 4);
                    a += " BODY[HEADER] {" + std::to_string(h.size()) + "}\r\n" + h;
                }
                out_ += a + ")\r\n";
            }
            out_ += tag + " OK Success\r\n";
        } else if (cmd == "APPEND") {
            // APPEND mailbox [(flags)] ["date"] literal: a new message in that folder and in
            // All Mail, without labels (a restore sets them with UID STORE +X-GM-LABELS).
            std::size_t q = 0;
            const auto name = word(rest, q);
            std::string flags;
            if (auto o = rest.find('(', q); o != std::string::npos)
                flags = rest.substr(o + 1, rest.find(')', o) - o - 1);
            gm_world::folder* to = nullptr;
            for (auto& x : w_.folders)
                if (x.name == name) to = &x;
            if (!to) {
                out_ += tag + " NO [TRYCREATE] Folder doesn't exist. (Failure)\r\n";
                return;
            }
            gm_strings in = {name};
            if (name != "[Gmail]/All Mail") in.push_back("[Gmail]/All Mail");
            w_.add(literal_, {}, flags, in);
            out_ += tag + " OK [APPENDUID " + std::to_string(to->uidvalidity) + " " +
                    std::to_string(to->uidnext - 1) + "] (Success)\r\n";
        } else if (cmd == "UID STORE" && selected_) {
            // UID STORE set +X-GM-LABELS[.SILENT] (labels): atoms and quoted strings.
            std::size_t q = 0;
            const auto set = imap::parse_uid_set(word(rest, q));
            const auto item = upper(word(rest, q));
            if (!set || item.rfind("+X-GM-LABELS", 0) != 0) {
                out_ += tag + " BAD Unsupported STORE\r\n";
                return;
            }
            gm_strings labels;
            const auto o = rest.find('(', q), c = rest.rfind(')');
            for (std::size_t i = o + 1; o != std::string::npos && i < c;) {
                if (rest[i] == ' ') {
                    ++i;
                } else if (rest[i] == '"') {
                    std::string l;
                    for (++i; i < c && rest[i] != '"'; ++i)
                        l += rest[i] == '\\' ? rest[++i] : rest[i];
                    ++i;
                    labels.push_back(l);
                } else {
                    const auto e = std::min(rest.find(' ', i), c);
                    labels.push_back(rest.substr(i, e - i));
                    i = e;
                }
            }
            w_.label_stores.push_back(line);
            for (const auto& [uid, i] : selected_->uids) {
                if (!set->contains(uid)) continue;
                auto& m = w_.messages[i];
                for (const auto& l : labels)
                    if (std::find(m.labels.begin(), m.labels.end(), l) == m.labels.end())
                        m.labels.push_back(l);
                m.modseq = ++w_.modseq;
            }
            out_ += tag + " OK Success\r\n";
        } else if (cmd == "NOOP") {
            out_ += tag + " OK Success\r\n";
        } else if (cmd == "LOGOUT") {
            out_ += "* BYE LOGOUT Requested\r\n" + tag + " OK 73 good day (Success)\r\n";
        } else {
            out_ += tag + " BAD Unknown command\r\n";
        }
    }

    gm_world& w_;
    const gm_world::folder* selected_ = nullptr;
    bool dead_ = false;
    std::string in_, out_, piece_;
    // A command with a literal ({n} or {n+} at the end of a line): the line so far, the
    // literal's bytes (literal_, seen by handle()) and how many are still to come.
    std::string pending_, literal_;
    std::size_t literal_left_ = 0;
    bool in_literal_ = false;

    // Complete command lines (with their literal) from what the client wrote.
    void feed() {
        for (;;) {
            if (in_literal_) {
                const auto n = std::min(literal_left_, in_.size());
                literal_ += in_.substr(0, n);
                in_.erase(0, n);
                literal_left_ -= n;
                if (literal_left_) return;
                in_literal_ = false;
            }
            const auto e = in_.find("\r\n");
            if (e == std::string::npos) return;
            std::string line = in_.substr(0, e);
            in_.erase(0, e + 2);
            if (!line.empty() && line.back() == '}') {
                if (auto o = line.rfind('{'); o != std::string::npos) {
                    std::string n = line.substr(o + 1, line.size() - o - 2);
                    const bool plus = !n.empty() && n.back() == '+';
                    if (plus) n.pop_back();
                    pending_ += line.substr(0, o);
                    literal_.clear();
                    literal_left_ = std::stoull(n);
                    in_literal_ = true;
                    if (!plus) out_ += "+ Ready for argument\r\n";
                    continue;
                }
            }
            pending_ += line;
            const std::string whole = std::move(pending_);
            pending_.clear();
            handle(whole);
        }
    }
};

}  // namespace mv::test
