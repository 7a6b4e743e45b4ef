// An in-memory IMAP server behind the mv::transport interface, for running whole workflows
// (sync_imap_account) without a network: deterministic, fast, and able to fail the connection
// at the n-th I/O action of the whole run or to answer FETCHes in reverse order.
//
// Flow: a fake_imap_world holds the mailboxes and the run-wide I/O counter; each
// fake_imap_transport is one connection to it (greeting queued at construction); run(op) feeds
// the operation's writes to a line-based command handler and serves the queued answers as reads,
// split into small pieces. Only what the sync sends is understood: CAPABILITY, LOGIN, LIST,
// STATUS, EXAMINE, UID SEARCH (ALL | UID set), UID FETCH, NOOP, LOGOUT. No literals from the
// client, no TLS, no COMPRESS.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "imap/uid_set.hpp"
#include "mailvault/transport.hpp"

namespace mv::test {

struct fake_imap_world {
    struct message {
        std::uint32_t uid = 0;
        std::string body;
        std::string flags;  // "\\Seen"
        std::uint64_t modseq = 1;
    };
    // How the server lies about one UID's body in UID FETCH answers.
    enum class lie {
        partial,      // BODY[]<0> with the first half only
        header_only,  // BODY[HEADER] instead of BODY[]
        truncated,    // BODY[] shorter than its RFC822.SIZE
        other_uid,    // the answer names UID + 1000, which nobody asked for
        duplicate,    // the right answer, then a second one with other bytes
    };
    struct folder {
        std::uint32_t uidvalidity = 1;
        std::uint32_t uidnext = 1;
        std::vector<message> messages;  // ascending UID
        std::map<std::uint32_t, lie> lies;
        bool refuse_fetch = false;  // UID FETCH of bodies answers NO
    };
    std::map<std::string, folder> folders;
    std::size_t actions = 0;                             // I/O actions over all connections
    std::size_t fail_at = static_cast<std::size_t>(-1);  // fail the connection at this action
    bool failed = false;                                 // the failure was injected
    bool reverse_fetch = false;    // answer every UID FETCH in reverse UID order
    std::size_t read_piece = 173;  // bytes per read
    bool qresync = false;          // offer CONDSTORE + QRESYNC (MODSEQ = the order of arrival)
    std::uint64_t modseq = 0;

    void add(const std::string& f, std::string body, std::string flags = "") {
        auto& fo = folders[f];
        fo.messages.push_back({fo.uidnext++, std::move(body), std::move(flags), ++modseq});
    }
    std::string caps() const {
        return qresync ? "IMAP4rev1 UIDPLUS ENABLE CONDSTORE QRESYNC" : "IMAP4rev1 UIDPLUS";
    }
};

class fake_imap_transport : public mv::transport {
public:
    explicit fake_imap_transport(fake_imap_world& w) : w_(w) {
        out_ = "* OK [CAPABILITY " + w.caps() + "] fake server ready\r\n";
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
                handle_lines();
                a = op.resume(mv::io_result::written());
            } else if (a.kind == mv::action_kind::read) {
                if (out_.empty()) {
                    dead_ = true;
                    a = op.resume(mv::io_result::failed(
                        mv::error(mv::errc::closed, "fake server has nothing more to say")));
                    continue;
                }
                const auto n = std::min(out_.size(), w_.read_piece);
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
    static std::string unquote(std::string s) {
        if (s.size() >= 2 && s.front() == '"') return s.substr(1, s.size() - 2);
        return s;
    }
    static std::string word(const std::string& s, std::size_t& p) {
        while (p < s.size() && s[p] == ' ') ++p;
        std::size_t b = p;
        if (p < s.size() && s[p] == '"') {
            ++p;
            while (p < s.size() && s[p] != '"') ++p;
            ++p;
        } else {
            while (p < s.size() && s[p] != ' ') ++p;
        }
        return s.substr(b, p - b);
    }

    void handle_lines() {
        for (;;) {
            auto e = in_.find("\r\n");
            if (e == std::string::npos) return;
            std::string line = in_.substr(0, e);
            in_.erase(0, e + 2);
            handle(line);
        }
    }

    imap::uid_set set_of(const std::string& spec, const fake_imap_world::folder& f) {
        std::string s = spec;
        const auto max = f.messages.empty() ? 0 : f.messages.back().uid;
        for (std::size_t p; (p = s.find('*')) != std::string::npos;)
            s.replace(p, 1, std::to_string(std::max<std::uint32_t>(max, 1)));
        auto set = imap::parse_uid_set(s);
        return set ? *set : imap::uid_set{};
    }

    void handle(const std::string& line) {
        std::size_t p = 0;
        const std::string tag = word(line, p);
        std::string cmd = upper(word(line, p));
        if (cmd == "UID") cmd += " " + upper(word(line, p));
        const std::string rest = p < line.size() ? line.substr(p + 1) : "";
        if (cmd == "CAPABILITY") {
            out_ += "* CAPABILITY " + w_.caps() + "\r\n" + tag + " OK done\r\n";
        } else if (cmd == "LOGIN") {
            out_ += tag + " OK [CAPABILITY " + w_.caps() + "] logged in\r\n";
        } else if (cmd == "ENABLE" && w_.qresync) {
            out_ += "* ENABLED QRESYNC CONDSTORE\r\n" + tag + " OK done\r\n";
        } else if (cmd == "LIST") {
            for (const auto& [name, f] : w_.folders) out_ += "* LIST () \"/\" \"" + name + "\"\r\n";
            out_ += tag + " OK done\r\n";
        } else if (cmd == "STATUS") {
            std::size_t q = 0;
            auto name = unquote(word(rest, q));
            auto it = w_.folders.find(name);
            if (it == w_.folders.end()) {
                out_ += tag + " NO no such folder\r\n";
                return;
            }
            out_ += "* STATUS \"" + name + "\" (MESSAGES " +
                    std::to_string(it->second.messages.size()) + " UIDNEXT " +
                    std::to_string(it->second.uidnext) + " UIDVALIDITY " +
                    std::to_string(it->second.uidvalidity) + ")\r\n" + tag + " OK done\r\n";
        } else if (cmd == "EXAMINE" || cmd == "SELECT") {
            std::size_t q = 0;
            auto name = unquote(word(rest, q));
            auto it = w_.folders.find(name);
            if (it == w_.folders.end()) {
                out_ += tag + " NO no such folder\r\n";
                return;
            }
            selected_ = name;
            const auto& f = it->second;
            out_ += "* FLAGS (\\Seen \\Flagged)\r\n* " + std::to_string(f.messages.size()) +
                    " EXISTS\r\n* OK [UIDVALIDITY " + std::to_string(f.uidvalidity) +
                    "] ok\r\n* OK [UIDNEXT " + std::to_string(f.uidnext) + "] ok\r\n";
            if (w_.qresync) {
                // Nothing is ever expunged or changed in this fake: no VANISHED, no FETCH.
                std::uint64_t hm = 1;
                for (const auto& m : f.messages) hm = std::max(hm, m.modseq);
                out_ += "* OK [HIGHESTMODSEQ " + std::to_string(hm) + "] ok\r\n";
            }
            out_ += tag + " OK [READ-ONLY] done\r\n";
        } else if (cmd == "UID SEARCH") {
            const auto& f = w_.folders.at(selected_);
            std::string ids;
            if (upper(rest) == "ALL") {
                for (const auto& m : f.messages) ids += " " + std::to_string(m.uid);
            } else {
                std::size_t q = 0;
                word(rest, q);  // UID
                auto set = set_of(word(rest, q), f);
                for (const auto& m : f.messages)
                    if (set.contains(m.uid)) ids += " " + std::to_string(m.uid);
            }
            out_ += "* SEARCH" + ids + "\r\n" + tag + " OK done\r\n";
        } else if (cmd == "UID FETCH") {
            const auto& f = w_.folders.at(selected_);
            std::size_t q = 0;
            auto set = set_of(word(rest, q), f);
            const bool body = upper(rest).find("BODY.PEEK[]") != std::string::npos;
            const bool with_modseq = upper(rest).find("MODSEQ") != std::string::npos;
            std::uint64_t since = 0;
            if (auto cs = upper(rest).find("CHANGEDSINCE "); cs != std::string::npos)
                since = std::stoull(rest.substr(cs + 13));
            std::vector<std::string> answers;
            for (std::size_t i = 0; i < f.messages.size(); ++i) {
                const auto& m = f.messages[i];
                if (!set.contains(m.uid) || m.modseq <= since) continue;
                std::string a = "* " + std::to_string(i + 1) + " FETCH (UID " +
                                std::to_string(m.uid) + " FLAGS (" + m.flags + ")";
                if (with_modseq) a += " MODSEQ (" + std::to_string(m.modseq) + ")";
                auto lie = f.lies.find(m.uid);
                if (body && lie != f.lies.end()) {
                    answers.push_back(lying_answer(i + 1, m, lie->second));
                    continue;
                }
                if (body)
                    a += " INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" RFC822.SIZE " +
                         std::to_string(m.body.size()) + " BODY[] {" +
                         std::to_string(m.body.size()) + "}\r\n" + m.body;
                answers.push_back(a + ")\r\n");
            }
            if (w_.reverse_fetch) std::reverse(answers.begin(), answers.end());
            if (body && f.refuse_fetch) {
                out_ += tag + " NO [SERVERBUG] cannot read messages of this folder\r\n";
                return;
            }
            for (auto& a : answers) out_ += a;
            out_ += tag + " OK done\r\n";
        } else if (cmd == "NOOP") {
            out_ += tag + " OK done\r\n";
        } else if (cmd == "LOGOUT") {
            out_ += "* BYE bye\r\n" + tag + " OK done\r\n";
        } else {
            out_ += tag + " BAD not understood by the fake server\r\n";
        }
    }

    static std::string literal(const std::string& b) {
        return "{" + std::to_string(b.size()) + "}\r\n" + b;
    }
    static std::string lying_answer(std::size_t seq, const fake_imap_world::message& m,
                                    fake_imap_world::lie how) {
        using lie = fake_imap_world::lie;
        const std::string head = "* " + std::to_string(seq) + " FETCH (UID ";
        const std::string meta =
            " FLAGS () INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" RFC822.SIZE " +
            std::to_string(m.body.size());
        const std::string uid = std::to_string(m.uid);
        switch (how) {
            case lie::partial:
                return head + uid + meta + " BODY[]<0> " +
                       literal(m.body.substr(0, m.body.size() / 2)) + ")\r\n";
            case lie::header_only:
                return head + uid + meta + " BODY[HEADER] " +
                       literal(m.body.substr(0, m.body.find("\r\n\r\n") + 4)) + ")\r\n";
            case lie::truncated:
                return head + uid + meta + " BODY[] " +
                       literal(m.body.substr(0, m.body.size() - 5)) + ")\r\n";
            case lie::other_uid:
                return head + std::to_string(m.uid + 1000) + meta + " BODY[] " + literal(m.body) +
                       ")\r\n";
            case lie::duplicate: {
                std::string other = m.body;
                other.replace(other.size() - 4, 2, "ZZ");
                return head + uid + meta + " BODY[] " + literal(m.body) + ")\r\n" + head + uid +
                       meta + " BODY[] " + literal(other) + ")\r\n";
            }
        }
        return {};
    }

    fake_imap_world& w_;
    bool dead_ = false;
    std::string in_, out_, piece_, selected_;
};

}  // namespace mv::test
