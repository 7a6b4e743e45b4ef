#include "imap/client.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <map>

namespace mv::imap {

namespace {

std::string base64(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string flag_list(const std::vector<std::string>& flags) {
    std::string s = "(";
    for (auto& f : flags) {
        if (s.size() > 1) s += ' ';
        s += f;
    }
    return s + ")";
}

mv::error unsupported(std::string_view what) {
    return mv::error(mv::errc::unsupported, "IMAP: server does not support " + std::string(what));
}

}  // namespace

mv::error client::run(op_base& op) {
    return t_.run(op);
}

command_op::command client::make(std::string_view name, command_builder& b,
                                 const std::string& tag) {
    return command_op::command{tag, std::string(name), b.finish()};
}

// UID STORE <set> <tail>, the set split over several commands so no line exceeds the cap.
std::vector<command_op::command> client::store_commands(const uid_set& uids,
                                                        const std::string& tail) {
    std::vector<command_op::command> cmds;
    for (auto& part : split_uid_set(uids, max_command_line - 40 - tail.size())) {
        auto tag = s_.next_tag();
        command_builder b(s_.wcaps(), tag, "UID STORE");
        b.arg(part).arg(tail);
        cmds.push_back(make("UID STORE", b, tag));
    }
    return cmds;
}

mv::error client::simple(std::string_view name, std::string_view args) {
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, name);
    if (!args.empty()) b.arg(args);
    command_op op(s_, {make(name, b, tag)});
    return run(op);
}

mv::error client::greeting() {
    greeting_op op(s_);
    return run(op);
}

mv::error client::capability() {
    return simple("CAPABILITY", "");
}

mv::error client::starttls() {
    if (!s_.caps.has("STARTTLS")) return unsupported("STARTTLS");
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "STARTTLS");
    command_op op(s_, {make("STARTTLS", b, tag)});
    op.upgrade = action_kind::tls_handshake;
    if (auto e = run(op)) return e;
    s_.caps = {};  // capabilities before TLS are not to be trusted (RFC 3501 6.2.1)
    return capability();
}

mv::error client::compress() {
    if (!s_.caps.has("COMPRESS=DEFLATE")) return unsupported("COMPRESS=DEFLATE");
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "COMPRESS");
    b.arg("DEFLATE");
    command_op op(s_, {make("COMPRESS", b, tag)});
    op.upgrade = action_kind::start_deflate;
    return run(op);
}

mv::error client::login(std::string_view user, std::string_view password) {
    if (s_.caps.has("LOGINDISABLED"))
        return unsupported("LOGIN on this connection (LOGINDISABLED: use TLS)");
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "LOGIN");
    b.astring(user).astring(password);
    command_op op(s_, {make("LOGIN", b, tag)});
    op.no_code = mv::errc::auth;
    if (auto e = run(op)) return e;
    s_.authenticated = true;
    if (s_.caps.empty()) return capability();
    return {};
}

mv::error client::authenticate(sasl_mech mech, std::string_view user, std::string_view secret) {
    const char* name = mech == sasl_mech::plain     ? "PLAIN"
                       : mech == sasl_mech::login   ? "LOGIN"
                       : mech == sasl_mech::xoauth2 ? "XOAUTH2"
                                                    : "OAUTHBEARER";
    if (!s_.caps.has_auth(name)) return unsupported(std::string("AUTH=") + name);
    std::string ir;
    switch (mech) {
        case sasl_mech::plain:
            ir = base64(std::string(1, '\0') + std::string(user) + '\0' + std::string(secret));
            break;
        case sasl_mech::xoauth2:
            ir = base64("user=" + std::string(user) + "\x01" + "auth=Bearer " +
                        std::string(secret) + "\x01\x01");
            break;
        case sasl_mech::oauthbearer:
            ir = base64("n,a=" + std::string(user) + ",\x01" + "auth=Bearer " +
                        std::string(secret) + "\x01\x01");
            break;
        case sasl_mech::login: break;
    }
    bool use_ir = !ir.empty() && s_.caps.has("SASL-IR");
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "AUTHENTICATE");
    b.arg(name);
    if (use_ir) b.arg(ir);
    command_op op(s_, {make("AUTHENTICATE", b, tag)});
    op.no_code = mv::errc::auth;
    int step = 0;
    std::string u(user), p(secret);
    op.on_cont = [&](const response&) -> std::optional<std::string> {
        int n = step++;
        if (mech == sasl_mech::login) {
            if (n == 0) return base64(u) + "\r\n";
            if (n == 1) return base64(p) + "\r\n";
            return std::nullopt;
        }
        if (n == 0 && !use_ir) return ir + "\r\n";
        // A challenge after the response carries the error (XOAUTH2/OAUTHBEARER JSON): answer
        // with an empty response (RFC 7628: a single 0x01) to get the tagged NO.
        if (n <= 1) return mech == sasl_mech::oauthbearer ? "AQ==\r\n" : "\r\n";
        return std::nullopt;
    };
    auto e = run(op);
    std::fill(p.begin(), p.end(), '\0');
    if (e) return e;
    s_.authenticated = true;
    if (s_.caps.empty()) return capability();
    return {};
}

mv::error client::enable(const std::vector<std::string>& extensions) {
    if (!s_.caps.has("ENABLE")) return {};
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "ENABLE");
    int n = 0;
    for (auto& x : extensions) {
        if (!s_.caps.has(x)) continue;
        b.arg(x);
        ++n;
    }
    if (n == 0) return {};
    command_op op(s_, {make("ENABLE", b, tag)});
    return run(op);
}

mv::error client::id(const std::vector<std::pair<std::string, std::string>>& fields,
                     std::vector<std::pair<std::string, std::string>>* server) {
    if (!s_.caps.has("ID")) return unsupported("ID");
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "ID");
    if (fields.empty()) {
        b.arg("NIL");
    } else {
        b.arg("(");
        bool first = true;
        for (auto& [k, v] : fields) {
            if (first) {
                b.append("\"");
                b.append(k);
                b.append("\"");
                first = false;
            } else {
                b.string(k);
            }
            b.string(v);
        }
        b.append(")");
    }
    command_op op(s_, {make("ID", b, tag)});
    op.on_untagged = [&](const response& r) {
        if (!r.is_data("ID")) return false;
        if (server) *server = parse_id(r);
        return true;
    };
    return run(op);
}

mv::error client::list(const list_request& req, std::vector<list_entry>& out) {
    out.clear();
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "LIST");
    b.string(req.reference);
    b.string(encode_mailbox_name(req.pattern, s_.utf8));
    std::vector<std::string> ret;
    bool ext = s_.caps.has("LIST-EXTENDED") || s_.caps.has("LIST-STATUS");
    if (req.special_use && s_.caps.has("SPECIAL-USE") && ext) ret.push_back("SPECIAL-USE");
    if (req.status && s_.caps.has("LIST-STATUS"))
        ret.push_back(std::string("STATUS (MESSAGES UIDNEXT UIDVALIDITY") +
                      (s_.caps.has("CONDSTORE") ? " HIGHESTMODSEQ" : "") +
                      (req.unseen ? " UNSEEN" : "") + ")");
    if (!ret.empty()) b.arg("RETURN").arg(flag_list(ret));
    command_op op(s_, {make("LIST", b, tag)});
    std::map<std::string, status_info> statuses;
    mv::error perr;
    op.on_untagged = [&](const response& r) {
        if (r.is_data("LIST")) {
            if (out.size() >= s_.retain.list_entries) {
                if (!perr)
                    perr = mv::error(mv::errc::limit, "IMAP: LIST answered more than " +
                                                          std::to_string(s_.retain.list_entries) +
                                                          " mailboxes; narrow the folder patterns");
                return true;
            }
            list_entry e;
            if (auto err = parse_list(r, e)) {
                if (!perr) perr = err;
            } else {
                out.push_back(std::move(e));
            }
            return true;
        }
        if (r.is_data("STATUS")) {
            if (statuses.size() >= s_.retain.list_entries) return true;
            status_info si;
            if (auto err = parse_status(r, si)) {
                if (!perr) perr = err;
            } else {
                statuses[si.mailbox] = std::move(si);
            }
            return true;
        }
        return false;
    };
    auto e = run(op);
    if (e) return e;
    if (perr) return perr;
    for (auto& l : out)
        if (auto it = statuses.find(l.name); it != statuses.end()) l.status = it->second;
    return {};
}

mv::error client::status(std::string_view mailbox, std::string_view items, status_info& out) {
    while (!items.empty() && items.front() == ' ') items.remove_prefix(1);
    while (!items.empty() && items.back() == ' ') items.remove_suffix(1);
    if (items.size() >= 2 && items.front() == '(' && items.back() == ')')
        items = items.substr(1, items.size() - 2);
    std::vector<std::string> names;
    while (!items.empty()) {
        auto sp = items.find(' ');
        if (sp != 0) names.emplace_back(items.substr(0, sp));
        items = sp == std::string_view::npos ? std::string_view{} : items.substr(sp + 1);
    }
    return status(mailbox, names, out);
}

mv::error client::status(std::string_view mailbox, const std::vector<std::string>& items,
                         status_info& out) {
    if (items.empty()) return mv::error(mv::errc::internal, "IMAP STATUS: no status items given");
    std::string list;
    for (auto& it : items) {
        bool atom = !it.empty();
        for (char ch : it)
            atom = atom && ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '=');
        if (!atom)
            return mv::error(mv::errc::internal, "IMAP STATUS: '" + escape_bytes(it, 40) +
                                                     "' is not a status item name (give bare "
                                                     "names such as MESSAGES, no parentheses)");
        list += list.empty() ? "(" : " ";
        list += it;
    }
    list += ")";
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "STATUS");
    b.mailbox(mailbox).arg(list);
    command_op op(s_, {make("STATUS", b, tag)});
    mv::error perr;
    bool got = false;
    op.on_untagged = [&](const response& r) {
        if (!r.is_data("STATUS")) return false;
        if (auto err = parse_status(r, out)) perr = err;
        got = true;
        return true;
    };
    if (auto e = run(op)) return e;
    if (perr) return perr;
    if (!got)
        return mv::error(mv::errc::protocol, "IMAP: STATUS completed without a STATUS response");
    return {};
}

mv::error client::select(const select_request& req, select_result& out) {
    out = select_result{};
    s_.events.clear();
    const char* verb = req.read_only ? "EXAMINE" : "SELECT";
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, verb);
    b.mailbox(req.mailbox);
    if (req.qresync_uidvalidity && s_.is_enabled("QRESYNC")) {
        std::string q = "(QRESYNC (" + std::to_string(*req.qresync_uidvalidity) + " " +
                        std::to_string(req.qresync_modseq);
        if (req.qresync_known_uids && !req.qresync_known_uids->empty()) {
            auto parts = split_uid_set(*req.qresync_known_uids, max_command_line - 200);
            if (parts.size() == 1) q += " " + parts[0];  // too long: let the server send all
        }
        b.arg(q + "))");
    } else if (req.condstore && s_.caps.has("CONDSTORE")) {
        b.arg("(CONDSTORE)");
    }
    command_op op(s_, {make(verb, b, tag)});
    mv::error perr;
    op.on_untagged = [&](const response& r) {
        if (apply_select_response(r, out.state, &perr)) return true;
        if (r.is_data("VANISHED")) {
            vanished_info v;
            if (auto err = parse_vanished(r, v)) {
                if (!perr) perr = err;
            }
            if (out.vanished.ranges.size() + v.uids.ranges.size() > s_.retain.vanished_ranges) {
                if (!perr)
                    perr = mv::error(mv::errc::limit,
                                     "IMAP: VANISHED (EARLIER) answer over " +
                                         std::to_string(s_.retain.vanished_ranges) +
                                         " ranges; resynchronize the folder without QRESYNC");
                return true;
            }
            out.vanished.ranges.insert(out.vanished.ranges.end(), v.uids.ranges.begin(),
                                       v.uids.ranges.end());
            return true;
        }
        if (r.is_data("FETCH")) {
            fetch_attrs f;
            if (auto err = parse_fetch(r, f)) {
                if (!perr) perr = err;
            } else if (out.changes.size() < s_.retain.select_changes) {
                s_.quirks |= f.quirks;
                out.changes.push_back(std::move(f));
            } else {
                out.changes_overflowed = true;
            }
            return true;
        }
        return false;
    };
    op.on_ok = [&](const response& r) -> mv::error {
        apply_select_response(r, out.state, &perr);
        if (req.read_only) out.state.read_only = true;
        return {};
    };
    if (auto e = run(op)) return e;
    s_.events.clear();  // the select answer is not an unsolicited change
    return perr;
}

mv::error client::uid_search(std::string_view criteria, search_result& out) {
    out = search_result{};
    bool es = s_.caps.has("ESEARCH");
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "UID SEARCH");
    if (es) b.arg("RETURN (ALL)");
    b.arg(criteria);
    command_op op(s_, {make("UID SEARCH", b, tag)});
    mv::error perr;
    op.on_untagged = [&](const response& r) {
        if (r.is_data("SEARCH")) {
            search_result part;
            if (auto err = parse_search(r, part)) perr = err;
            if (out.ids.size() + part.ids.size() > s_.retain.search_ids) {
                if (!perr)
                    perr = mv::error(mv::errc::limit, "IMAP: UID SEARCH answered more than " +
                                                          std::to_string(s_.retain.search_ids) +
                                                          " UIDs; search a narrower UID range");
                return true;
            }
            out.ids.insert(out.ids.end(), part.ids.begin(), part.ids.end());
            if (part.modseq) out.modseq = part.modseq;
            out.uid = true;
            return true;
        }
        if (r.is_data("ESEARCH")) {
            if (auto err = parse_esearch(r, out, s_.retain.search_ids)) perr = err;
            return true;
        }
        return false;
    };
    if (auto e = run(op)) return e;
    return perr;
}

mv::error client::uid_fetch(const fetch_request& req, fetch_sink& sink, fetch_stats* stats) {
    fetch_op op(s_, req, sink);
    auto e = run(op);
    if (stats) *stats = op.stats;
    return e;
}

mv::error client::uid_store(const uid_set& uids, store_op sop,
                            const std::vector<std::string>& flags, bool silent,
                            std::optional<std::uint64_t> unchangedsince, uid_set* modified) {
    std::string tail;
    if (unchangedsince) tail += "(UNCHANGEDSINCE " + std::to_string(*unchangedsince) + ") ";
    tail += sop == store_op::add ? "+FLAGS" : sop == store_op::remove ? "-FLAGS" : "FLAGS";
    if (silent) tail += ".SILENT";
    tail += " " + flag_list(flags);
    command_op op(s_, store_commands(uids, tail));
    op.on_ok = [&](const response& r) -> mv::error {
        if (auto m = parse_modified(r); m && modified)
            modified->ranges.insert(modified->ranges.end(), m->ranges.begin(), m->ranges.end());
        return {};
    };
    return run(op);
}

mv::error client::uid_store_labels(const uid_set& uids, const std::vector<std::string>& labels) {
    if (!s_.caps.has("X-GM-EXT-1")) return unsupported("X-GM-EXT-1 (X-GM-LABELS)");
    std::string list;
    for (const auto& l : labels) {
        if (l.empty()) continue;
        if (l.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
            return mv::error(mv::errc::usage, "IMAP: a Gmail label cannot contain CR, LF or NUL");
        if (!list.empty()) list += ' ';
        if (l.front() == '\\') {
            list += l;
            continue;
        }
        list += '"';
        for (char c : encode_mailbox_name(l, s_.utf8)) {
            if (c == '"' || c == '\\') list += '\\';
            list += c;
        }
        list += '"';
    }
    command_op op(s_, store_commands(uids, "+X-GM-LABELS.SILENT (" + list + ")"));
    return run(op);
}

mv::error client::uid_expunge(const uid_set& uids) {
    if (!s_.caps.has("UIDPLUS")) return unsupported("UIDPLUS (UID EXPUNGE)");
    std::vector<command_op::command> cmds;
    for (auto& part : split_uid_set(uids, max_command_line - 40)) {
        auto tag = s_.next_tag();
        command_builder b(s_.wcaps(), tag, "UID EXPUNGE");
        b.arg(part);
        cmds.push_back(make("UID EXPUNGE", b, tag));
    }
    command_op op(s_, std::move(cmds));
    return run(op);
}

mv::error client::expunge() {
    return simple("EXPUNGE", "");
}

namespace {

// The APPEND command for `req` (its literal filled from req.fill when given); nullopt and `err`
// set when the fill failed.
std::optional<command_op::command> build_append(session& s, const append_request& req,
                                                mv::error& err) {
    auto tag = s.next_tag();
    command_builder b(s.wcaps(), tag, "APPEND");
    b.mailbox(req.mailbox);
    if (!req.flags.empty()) b.arg(flag_list(req.flags));
    if (req.internaldate)
        b.arg("\"" + format_internaldate(*req.internaldate, req.internaldate_offset) + "\"");
    if (req.fill)
        b.literal(req.size, req.fill);
    else
        b.literal(req.message);
    if (b.fill_error()) {
        err = b.fill_error();
        return std::nullopt;
    }
    return command_op::command{tag, "APPEND", b.finish()};
}

}  // namespace

mv::error client::append(const append_request& req, std::optional<appenduid_info>* uid) {
    mv::error ferr;
    auto cmd = build_append(s_, req, ferr);
    if (!cmd) return ferr;
    command_op op(s_, {std::move(*cmd)});
    op.on_ok = [&](const response& r) -> mv::error {
        if (uid) *uid = parse_appenduid(r);
        return {};
    };
    return run(op);
}

bool client::append_pipelines(std::uint64_t size) const {
    return command_builder(s_.wcaps(), "", "").nonsync_literal(size);
}

mv::error client::append_many(const std::vector<append_request>& reqs,
                              std::vector<append_outcome>& out) {
    out.assign(reqs.size(), append_outcome{});
    bool pipeline = true;
    for (const auto& r : reqs)
        pipeline = pipeline && append_pipelines(r.fill ? r.size : r.message.size());
    if (!pipeline) {
        for (std::size_t i = 0; i < reqs.size(); ++i) {
            if (!usable()) {
                out[i].err = mv::error(mv::errc::closed, "IMAP: connection lost before APPEND");
                continue;
            }
            // Built (and filled) just before it is sent: one message in memory at a time.
            auto cmd = build_append(s_, reqs[i], out[i].err);
            if (!cmd) continue;
            out[i].sent = true;
            command_op op(s_, {std::move(*cmd)});
            op.on_ok = [&](const response& r) -> mv::error {
                out[i].uid = parse_appenduid(r);
                return {};
            };
            auto e = run(op);
            out[i].err = e;
            if (e && !usable()) {
                for (std::size_t j = i + 1; j < reqs.size(); ++j) out[j].err = e;
                return e;
            }
        }
        return {};
    }
    // MULTIAPPEND (RFC 3502): the whole window in ONE command, which the server stores in one
    // transaction (Dovecot: one fsync for all, instead of one per message). It is atomic: a
    // NO stores nothing, and the window is then sent again as single APPENDs, so each
    // message gets its own answer (one refused message does not refuse the others).
    if (reqs.size() > 1 && s_.caps.has("MULTIAPPEND")) {
        bool one_mailbox = true;
        for (const auto& r : reqs) one_mailbox = one_mailbox && r.mailbox == reqs[0].mailbox;
        if (one_mailbox) {
            auto tag = s_.next_tag();
            command_builder b(s_.wcaps(), tag, "APPEND");
            b.mailbox(reqs[0].mailbox);
            std::vector<std::size_t> in;  // requests in the command
            for (std::size_t i = 0; i < reqs.size(); ++i) {
                const auto& r = reqs[i];
                // A message whose fill fails is left out (and reported like below).
                std::string body;
                if (r.fill) {
                    if (auto e = fill_literal(r.fill, r.size, body)) {
                        out[i].err = e;
                        continue;
                    }
                }
                if (!r.flags.empty()) b.arg(flag_list(r.flags));
                if (r.internaldate)
                    b.arg("\"" + format_internaldate(*r.internaldate, r.internaldate_offset) +
                          "\"");
                b.literal(r.fill ? std::string_view(body) : r.message);
                in.push_back(i);
            }
            if (in.size() < 2) {
                // Nothing (or one) left to batch: the plain path below handles it.
                std::vector<append_request> rest;
                std::vector<std::size_t> map;
                for (auto i : in) {
                    rest.push_back(reqs[i]);
                    map.push_back(i);
                }
                if (rest.empty()) return {};
                std::vector<append_outcome> o;
                auto e = append_many(rest, o);
                for (std::size_t k = 0; k < map.size(); ++k) out[map[k]] = o[k];
                return e;
            }
            command_op op(s_, {command_op::command{tag, "APPEND", b.finish()}});
            std::optional<appenduid_info> au;
            op.on_ok = [&](const response& r) -> mv::error {
                au = parse_appenduid(r);
                return {};
            };
            auto e = run(op);
            if (!e) {
                // [APPENDUID v set]: the UIDs in the order of the messages.
                std::vector<std::uint32_t> uids;
                if (au && au->uids.count() == in.size()) uids = au->uids.expand();
                for (std::size_t k = 0; k < in.size(); ++k) {
                    auto& o = out[in[k]];
                    o.sent = true;
                    o.err = {};
                    if (!uids.empty())
                        o.uid = appenduid_info{au->uidvalidity, uid_set{{{uids[k], uids[k]}}}};
                }
                return {};
            }
            if (!usable() || (e.code != mv::errc::server_no && e.code != mv::errc::server_bad)) {
                for (auto i : in) {
                    out[i].sent = true;
                    out[i].err = e;
                }
                return e;
            }
            // Refused as a whole (nothing stored): once more, one APPEND per message.
            std::vector<append_request> single;
            for (auto i : in) single.push_back(reqs[i]);
            std::vector<append_outcome> o;
            auto e2 = append_many_single(single, o);
            for (std::size_t k = 0; k < in.size(); ++k) out[in[k]] = o[k];
            return e2;
        }
    }
    return append_many_single(reqs, out);
}

mv::error client::append_many_single(const std::vector<append_request>& reqs,
                                     std::vector<append_outcome>& out) {
    out.assign(reqs.size(), append_outcome{});
    std::vector<command_op::command> cmds;
    std::map<std::string, std::size_t> index;  // tag -> request
    for (std::size_t i = 0; i < reqs.size(); ++i) {
        auto cmd = build_append(s_, reqs[i], out[i].err);
        if (!cmd) continue;
        out[i].sent = true;
        index[cmd->tag] = i;
        cmds.push_back(std::move(*cmd));
    }
    if (cmds.empty()) return {};
    std::vector<bool> answered(reqs.size(), false);
    command_op op(s_, std::move(cmds));
    op.on_tagged = [&](const response& r, mv::error e) {
        auto it = index.find(std::string(r.tag));
        if (it == index.end()) return;
        answered[it->second] = true;
        if (!e) out[it->second].uid = parse_appenduid(r);
        out[it->second].err = std::move(e);
    };
    auto e = run(op);
    if (e)
        for (auto& [tag, i] : index)
            if (!answered[i]) out[i].err = e;
    return e;
}

mv::error client::create(std::string_view mailbox, std::string_view use) {
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "CREATE");
    b.mailbox(mailbox);
    if (!use.empty() && s_.caps.has("CREATE-SPECIAL-USE")) {
        bool atom = use.size() > 1 && use[0] == '\\';
        for (char c : use.substr(1)) atom = atom && std::isalnum(static_cast<unsigned char>(c));
        if (!atom) return mv::error(mv::errc::internal, "CREATE: bad special-use attribute");
        b.arg("(USE (" + std::string(use) + "))");
    }
    command_op op(s_, {make("CREATE", b, tag)});
    return run(op);
}

mv::error client::personal_namespace(std::string& prefix, char& delimiter) {
    prefix.clear();
    delimiter = 0;
    if (!s_.caps.has("NAMESPACE")) return unsupported("NAMESPACE");
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "NAMESPACE");
    command_op op(s_, {make("NAMESPACE", b, tag)});
    mv::error perr;
    op.on_untagged = [&](const response& r) {
        if (!r.is_data("NAMESPACE")) return false;
        // * NAMESPACE (("prefix" "delim") ...) other shared
        if (r.args.empty() || r.args[0].is_nil()) return true;
        const auto& personal = r.args[0];
        if (!personal.is_list() || personal.items.empty() || !personal.items[0].is_list() ||
            personal.items[0].items.size() < 2) {
            perr = mv::error(mv::errc::protocol, "IMAP NAMESPACE: malformed personal namespace");
            return true;
        }
        const auto& first = personal.items[0];
        prefix = std::string(first.items[0].str());
        if (!first.items[1].is_nil() && !first.items[1].str().empty())
            delimiter = first.items[1].str()[0];
        return true;
    };
    if (auto e = run(op)) return e;
    return perr;
}

mv::error client::copy_or_move(std::string_view verb, const uid_set& uids, std::string_view dest,
                               std::vector<copyuid_info>* out) {
    std::string name = "UID " + std::string(verb);
    std::vector<command_op::command> cmds;
    for (auto& part : split_uid_set(uids, max_command_line - 1100)) {
        auto tag = s_.next_tag();
        command_builder b(s_.wcaps(), tag, name);
        b.arg(part).mailbox(dest);
        cmds.push_back(make(name, b, tag));
    }
    command_op op(s_, std::move(cmds));
    auto take = [&](const response& r) {
        if (auto c = parse_copyuid(r); c && out) out->push_back(std::move(*c));
    };
    op.on_ok = [&](const response& r) -> mv::error {
        take(r);
        return {};
    };
    op.on_untagged = [&](const response& r) {
        if (r.status == resp_status::ok && r.has_code("COPYUID")) {  // MOVE sends it untagged
            take(r);
            return true;
        }
        return false;
    };
    return run(op);
}

mv::error client::uid_copy(const uid_set& uids, std::string_view dest,
                           std::vector<copyuid_info>* out) {
    return copy_or_move("COPY", uids, dest, out);
}

mv::error client::uid_move(const uid_set& uids, std::string_view dest,
                           std::vector<copyuid_info>* out) {
    if (!s_.caps.has("MOVE")) return unsupported("MOVE");
    return copy_or_move("MOVE", uids, dest, out);
}

mv::error client::noop() {
    return simple("NOOP", "");
}

mv::error client::idle_begin() {
    if (!s_.caps.has("IDLE")) return unsupported("IDLE");
    idle_begin_op op(s_);
    return run(op);
}

mv::error client::idle_wait() {
    idle_wait_op op(s_);
    return run(op);
}

mv::error client::idle_done() {
    idle_done_op op(s_);
    return run(op);
}

mv::error client::idle(const idle_options& o, idle_op::event_fn on_event, bool* restarted) {
    if (!s_.caps.has("IDLE")) return unsupported("IDLE");
    idle_op op(s_, o, std::move(on_event));
    auto e = run(op);
    if (restarted) *restarted = op.restarted;
    return e;
}

mv::error client::notify(std::string_view spec) {
    if (!s_.caps.has("NOTIFY")) return unsupported("NOTIFY");
    auto tag = s_.next_tag();
    // The spec is built by us (notify_set_watch): parentheses and atoms, sent as is.
    command_op op(s_, {{tag, "NOTIFY", {tag + " " + std::string(spec) + "\r\n"}}});
    return run(op);
}

mv::error client::logout() {
    auto tag = s_.next_tag();
    command_builder b(s_.wcaps(), tag, "LOGOUT");
    command_op op(s_, {make("LOGOUT", b, tag)});
    op.bye_expected = true;
    auto e = run(op);
    s_.closed = true;
    if (e && op.saw_bye && (e.code == mv::errc::closed || e.code == mv::errc::network)) return {};
    return e;
}

}  // namespace mv::imap
