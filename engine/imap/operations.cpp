#include "imap/operations.hpp"

#include <iterator>

namespace mv::imap {

// ---------------------------------------------------------------- op_base

next_action op_base::resume(io_result r) {
    switch (r.kind) {
        case io_kind::start:
            if (s_.unusable) return next_action::finish(s_.unusable);
            if (s_.closed)
                return next_action::finish(
                    mv::error(mv::errc::closed,
                              "IMAP: connection already closed" +
                                  (s_.bye_text.empty() ? std::string() : ": " + s_.bye_text)));
            if (!s_.pending.empty()) {
                own_ = std::move(s_.pending);
                s_.pending.clear();
                in_ = own_;
            }
            begin();
            break;
        case io_kind::written: out_.clear(); break;
        case io_kind::read:
            own_.clear();
            in_ = r.bytes;
            in_transient_ = true;
            break;
        case io_kind::failed:
            s_.closed = true;
            s_.fr.set_sink(nullptr);
            in_ = {};
            return next_action::finish(
                r.err ? r.err : mv::error(mv::errc::network, "IMAP: connection failed"));
        case io_kind::tls_done:
        case io_kind::deflate_started: on_special_done(); break;
        case io_kind::quiet: on_quiet(); break;
    }
    return pump();
}

void op_base::own_input() {
    if (in_transient_ && !in_.empty()) {
        own_.assign(in_);
        in_ = own_;
    }
    in_transient_ = false;
}

next_action op_base::pump() {
    while (true) {
        if (done_) {
            s_.pending.assign(in_.data(), in_.size());
            in_ = {};
            s_.fr.set_sink(nullptr);
            return next_action::finish(std::move(err_));
        }
        if (special_) {
            if (!in_.empty()) {
                finish(mv::error(mv::errc::protocol,
                                 "IMAP: server sent data after the OK to STARTTLS/COMPRESS, "
                                 "before the upgrade (possible response injection)"));
                continue;
            }
            auto k = *special_;
            special_.reset();
            return k == action_kind::tls_handshake ? next_action::tls_handshake()
                                                   : next_action::start_deflate();
        }
        before_io();
        if (!queued_.empty()) {
            out_ = std::move(queued_);
            queued_.clear();
            own_input();
            return next_action::write(out_);
        }
        if (in_.empty()) return next_action::read();
        s_.fr.set_sink(sink());
        auto st = s_.fr.feed(in_);
        if (st == framer::status::error) {
            finish(s_.fr.error());
            continue;
        }
        if (st == framer::status::need_more) continue;
        ++s_.responses;
        response r;
        if (auto e = parse_response(s_.fr.current(), r)) {
            finish(on_parse_error(s_.fr.current(), std::move(e)));
            continue;
        }
        dispatch(r);
    }
}

void op_base::dispatch(const response& r) {
    if (r.type == resp_type::continuation) {
        if (!waiting_.empty()) {
            if (queued_.empty())
                queued_ = std::move(waiting_.front());
            else
                queued_ += waiting_.front();
            waiting_.pop_front();
        } else {
            on_continuation(r);
        }
        return;
    }
    if (r.type == resp_type::untagged && r.status == resp_status::bye) {
        s_.closed = true;
        s_.bye_text = std::string(r.text);
        if (!expect_bye_) {
            finish(mv::error(mv::errc::closed,
                             "IMAP: server closed the connection: " + escape_bytes(r.text, 200)));
            return;
        }
        on_response(r);
        return;
    }
    if (r.type == resp_type::tagged) {
        auto it = std::find(tags_.begin(), tags_.end(), r.tag);
        if (it == tags_.end()) {
            finish(syntax_error(
                *r.framed, 0,
                "tagged response for tag '" + escape_bytes(r.tag, 20) + "' that was never sent"));
            return;
        }
        tags_.erase(it);
        waiting_.clear();  // a NO instead of '+': the rest of that command is not sent
    }
    on_response(r);
}

void op_base::on_continuation(const response& r) {
    finish(syntax_error(*r.framed, 0, "unexpected continuation request"));
}

void op_base::send(const std::string& tag, std::vector<std::string> pieces) {
    tags_.push_back(tag);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (i > 0)
            waiting_.push_back(std::move(pieces[i]));
        else if (!waiting_.empty())
            waiting_.back() += pieces[0];
        else if (queued_.empty())
            queued_ = std::move(pieces[0]);  // a large literal is not copied
        else
            queued_ += pieces[0];
    }
}

void op_base::finish(mv::error e) {
    if (done_) return;
    done_ = true;
    err_ = std::move(e);
}

bool op_base::tag_in_flight(std::string_view t) const {
    return std::find(tags_.begin(), tags_.end(), t) != tags_.end();
}

void op_base::set_caps(const std::vector<value>& vals) {
    s_.caps = parse_capability_values(vals);
    if (s_.caps.items.size() > s_.retain.capabilities) s_.caps.items.resize(s_.retain.capabilities);
}

void op_base::default_untagged(const response& r) {
    // What is kept per response class is capped (session::retain): beyond it, counted or flagged.
    auto& ev = s_.events;
    const std::size_t cap = s_.retain.events;
    if (r.status != resp_status::none) {
        if (r.has_code("CAPABILITY")) set_caps(r.code_args);
        if (r.has_code("ALERT")) {
            if (s_.alerts.size() < s_.retain.alerts)
                s_.alerts.emplace_back(r.text.substr(0, 1000));
            else
                ++s_.alerts_dropped;
        }
        return;
    }
    if (r.is_data("CAPABILITY")) {
        set_caps(r.args);
    } else if (r.is_data("ENABLED")) {
        for (auto& e : parse_enabled(r)) {
            if (e == "UTF8=ACCEPT") s_.utf8 = true;
            if (!s_.is_enabled(e) && s_.enabled.size() < s_.retain.enabled)
                s_.enabled.push_back(std::move(e));
        }
    } else if (r.number && r.is_data("EXISTS")) {
        ev.exists = static_cast<std::uint32_t>(*r.number);
    } else if (r.number && r.is_data("RECENT")) {
        ev.recent = static_cast<std::uint32_t>(*r.number);
    } else if (r.number && r.is_data("EXPUNGE")) {
        if (ev.expunged.size() < cap)
            ev.expunged.push_back(static_cast<std::uint32_t>(*r.number));
        else
            ev.overflowed = true;
    } else if (r.is_data("FETCH")) {
        fetch_attrs f;
        if (auto e = parse_fetch(r, f)) return finish(std::move(e));
        s_.quirks |= f.quirks;
        if (ev.fetches.size() < cap)
            ev.fetches.push_back(std::move(f));
        else
            ev.overflowed = true;
    } else if (r.is_data("VANISHED")) {
        vanished_info v;
        if (auto e = parse_vanished(r, v)) return finish(std::move(e));
        if (!v.earlier) {
            if (ev.vanished.ranges.size() + v.uids.ranges.size() <= cap)
                ev.vanished.ranges.insert(ev.vanished.ranges.end(), v.uids.ranges.begin(),
                                          v.uids.ranges.end());
            else
                ev.overflowed = true;
        }
    }
    // Anything else (NAMESPACE, METADATA, LIST during NOTIFY, ...) is not ours: ignored.
}

mv::error op_base::tagged_status(const response& r, std::string_view what, mv::errc no_code) {
    if (r.status == resp_status::ok) return {};
    std::string text = escape_bytes(r.text, 300);
    if (!r.code.empty()) text = "[" + escape_bytes(r.code, 40) + "] " + text;
    if (r.status == resp_status::no)
        return mv::error(no_code, "IMAP " + std::string(what) + " failed: " + text);
    return mv::error(mv::errc::server_bad,
                     "IMAP " + std::string(what) + " rejected (BAD): " + text);
}

// ---------------------------------------------------------------- greeting

void greeting_op::on_response(const response& r) {
    if (r.type == resp_type::untagged &&
        (r.status == resp_status::ok || r.status == resp_status::preauth)) {
        if (r.has_code("CAPABILITY")) set_caps(r.code_args);
        if (r.status == resp_status::preauth) {
            preauth = true;
            s_.authenticated = true;
        }
        return finish();
    }
    finish(syntax_error(*r.framed, 0, "unexpected greeting"));
}

mv::error greeting_op::on_parse_error(const framed_response& fr, mv::error) {
    return syntax_error(fr, 0,
                        "not an IMAP greeting (expected '* OK', '* PREAUTH' or '* BYE'; is this "
                        "an IMAP port, and TLS set right?)");
}

// ---------------------------------------------------------------- command_op

void command_op::begin() {
    if (bye_expected) expect_bye();
    for (auto& c : cmds_) send(c.tag, std::move(c.pieces));
    if (tags_.empty()) finish();
}

void command_op::on_continuation(const response& r) {
    if (!on_cont) return op_base::on_continuation(r);
    auto reply = on_cont(r);
    if (!reply) return finish(syntax_error(*r.framed, 0, "unexpected continuation request"));
    send_raw(std::move(*reply));
}

void command_op::on_response(const response& r) {
    if (r.type == resp_type::tagged) {
        std::string_view name = "command";
        for (auto& c : cmds_)
            if (c.tag == r.tag) name = c.name;
        if (r.has_code("CAPABILITY")) set_caps(r.code_args);
        auto e = tagged_status(r, name, no_code);
        if (!e && on_ok) e = on_ok(r);
        if (on_tagged) {
            on_tagged(r, std::move(e));
            e = {};
        }
        if (e && !first_err_) first_err_ = std::move(e);
        if (tags_.empty()) {
            if (!first_err_ && upgrade)
                request_special(*upgrade);
            else
                finish(first_err_);
        }
        return;
    }
    if (bye_expected && r.status == resp_status::bye) {
        saw_bye = true;
        return;
    }
    if (on_untagged && on_untagged(r)) return;
    default_untagged(r);
}

// ---------------------------------------------------------------- IDLE

void idle_begin_op::begin() {
    auto tag = s_.next_tag();
    s_.idle_tag = tag;
    send(tag, {tag + " IDLE\r\n"});
}

void idle_begin_op::on_continuation(const response&) {
    finish();
}

void idle_begin_op::on_response(const response& r) {
    if (r.type == resp_type::tagged) {
        s_.idle_tag.clear();
        auto e = tagged_status(r, "IDLE");
        return finish(e ? e : mv::error(mv::errc::protocol, "IMAP: IDLE completed without '+'"));
    }
    default_untagged(r);
}

void idle_wait_op::begin() {
    if (s_.idle_tag.empty()) return finish(mv::error(mv::errc::internal, "IMAP: not idling"));
    tags_.push_back(s_.idle_tag);
}

void idle_wait_op::on_response(const response& r) {
    if (r.type == resp_type::tagged) {
        s_.idle_tag.clear();
        auto e = tagged_status(r, "IDLE");
        return finish(e ? e : mv::error(mv::errc::protocol, "IMAP: server ended IDLE"));
    }
    default_untagged(r);
    finish();
}

void idle_done_op::begin() {
    if (s_.idle_tag.empty()) return finish(mv::error(mv::errc::internal, "IMAP: not idling"));
    tags_.push_back(s_.idle_tag);
    send_raw("DONE\r\n");
}

void idle_done_op::on_response(const response& r) {
    if (r.type == resp_type::tagged) {
        s_.idle_tag.clear();
        return finish(tagged_status(r, "IDLE"));
    }
    default_untagged(r);
}

// ---------------------------------------------------------------- idle_op

idle_op::idle_op(session& s, idle_options o, event_fn on_event)
    : op_base(s), opts_(std::move(o)), on_event_(std::move(on_event)) {}

std::chrono::steady_clock::time_point idle_op::now() const {
    return opts_.clock ? opts_.clock() : std::chrono::steady_clock::now();
}

std::optional<std::chrono::milliseconds> idle_op::quiet_limit() const noexcept {
    // Only the wait between '+' and DONE is silent on purpose; the '+' and the tagged OK after
    // DONE are ordinary answers under the ordinary timeout.
    if (phase_ != phase::idling) return std::nullopt;
    try {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now());
        return std::max(left, std::chrono::milliseconds(0));
    } catch (...) {
        return std::chrono::milliseconds(0);
    }
}

void idle_op::begin() {
    tag_ = s_.next_tag();
    s_.idle_tag = tag_;
    send(tag_, {tag_ + " IDLE\r\n"});
}

void idle_op::on_continuation(const response&) {
    if (phase_ != phase::wait_plus)
        return finish(mv::error(mv::errc::protocol, "IMAP: unexpected '+' during IDLE"));
    phase_ = phase::idling;
    deadline_ = now() + opts_.restart_after;
}

void idle_op::on_quiet() {
    if (phase_ == phase::idling && now() >= deadline_) {
        restarted = true;
        send_done();
    }
}

void idle_op::send_done() {
    if (phase_ != phase::idling) return;
    phase_ = phase::done_sent;
    send_raw("DONE\r\n");
}

void idle_op::report(idle_event ev) {
    ++events;
    if (on_event_) {
        try {
            on_event_(ev);
        } catch (...) {
            return finish(mv::error(mv::errc::internal, "IMAP: IDLE event handler failed"));
        }
    }
    if (opts_.return_on_event) send_done();
}

void idle_op::on_response(const response& r) {
    using k = idle_event::kind;
    if (r.type == resp_type::tagged) {
        s_.idle_tag.clear();
        if (auto e = tagged_status(r, "IDLE")) return finish(std::move(e));
        // An OK before our DONE: the server ended IDLE on its own (some proxies do at their own
        // limit). Not an error: the caller simply idles again.
        if (phase_ == phase::wait_plus)
            return finish(mv::error(mv::errc::protocol, "IMAP: IDLE completed without '+'"));
        if (phase_ == phase::idling) restarted = true;
        return finish();
    }
    if (r.status != resp_status::none) {
        if (r.has_code("NOTIFICATIONOVERFLOW")) return report({k::overflow, {}, {}});
        return default_untagged(r);  // keep-alives ("* OK Still here"), ALERT, CAPABILITY
    }
    const auto n = r.number ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(
                                  std::min<std::uint64_t>(*r.number, 0xffffffffu)))
                            : std::nullopt;
    if (n && r.is_data("EXISTS")) {
        s_.events.exists = *n;
        return report({k::exists, {}, n});
    }
    if (n && r.is_data("EXPUNGE")) return report({k::expunge, {}, n});
    if (n && r.is_data("RECENT")) {
        s_.events.recent = *n;  // always comes with EXISTS, which is the event
        return;
    }
    if (n && r.is_data("FETCH")) {
        fetch_attrs f;
        if (auto e = parse_fetch(r, f)) return finish(std::move(e));
        return report({k::flags, {}, n});
    }
    if (r.is_data("VANISHED")) {
        vanished_info v;
        if (auto e = parse_vanished(r, v)) return finish(std::move(e));
        if (!v.earlier) report({k::vanished, {}, {}});
        return;
    }
    if (r.is_data("STATUS")) {
        status_info st;
        if (auto e = parse_status(r, st)) return finish(std::move(e));
        return report({k::status, decode_mailbox_name(st.mailbox, s_.utf8), {}});
    }
    if (r.is_data("LIST")) {
        list_entry le;
        if (auto e = parse_list(r, le)) return finish(std::move(e));
        return report({k::mailbox, decode_mailbox_name(le.name, s_.utf8), {}});
    }
    default_untagged(r);
}

// ---------------------------------------------------------------- fetch_op

fetch_op::fetch_op(session& s, const fetch_request& req, fetch_sink& sink)
    : op_base(s),
      user_(sink),
      max_in_flight_(std::max<std::size_t>(1, req.max_in_flight)),
      budget_(req.byte_budget) {
    std::string mods;
    if (req.changedsince) {
        mods = " (CHANGEDSINCE " + std::to_string(*req.changedsince);
        if (req.vanished) mods += " VANISHED";
        mods += ")";
    }
    const std::size_t fixed = 8 + 11 + 1 + req.items.size() + mods.size() + 2;
    const std::size_t room = fixed + 32 < max_command_line ? max_command_line - fixed : 32;
    for (auto& set : req.sets) asked_.insert(asked_.end(), set.ranges.begin(), set.ranges.end());
    std::sort(asked_.begin(), asked_.end(),
              [](const uid_range& a, const uid_range& b) { return a.first < b.first; });
    std::vector<uid_range> merged;
    for (auto& rg : asked_) {
        if (!merged.empty() && std::uint64_t{rg.first} <= std::uint64_t{merged.back().last} + 1)
            merged.back().last = std::max(merged.back().last, rg.last);
        else
            merged.push_back(rg);
    }
    asked_ = std::move(merged);
    for (std::size_t i = 0; i < req.sets.size(); ++i) {
        auto parts = split_uid_set(req.sets[i], room);
        std::uint64_t total = i < req.expected_bytes.size() ? req.expected_bytes[i] : 0;
        for (auto& p : parts)
            todo_.push_back({"UID FETCH " + p + " " + req.items + mods, total / parts.size()});
    }
}

bool fetch_op::requested(std::uint32_t uid) const {
    auto it = std::upper_bound(asked_.begin(), asked_.end(), uid,
                               [](std::uint32_t u, const uid_range& r) { return u < r.first; });
    return it != asked_.begin() && uid <= std::prev(it)->last;
}

template <class F>
bool fetch_op::call_sink(F&& f) noexcept {
    if (sink_failed_) return false;
    mv::error e;
    try {
        f();
        e = user_.sink_error();
    } catch (const mv::failure& x) {
        e = x.err ? x.err : mv::error(mv::errc::internal, "fetch sink threw mv::failure");
    } catch (const std::exception& x) {
        e = mv::error(mv::errc::internal,
                      std::string("fetch sink threw (a bug: sinks report errors through "
                                  "sink_error()): ") +
                          x.what());
    } catch (...) {
        e = mv::error(mv::errc::internal, "fetch sink threw an unknown exception (a bug)");
    }
    if (!e) return true;
    sink_failed_ = true;
    // Answers to this and later pipelined commands are still coming: the response stream is out
    // of step with any next command, so this connection is finished.
    s_.unusable = mv::error(
        mv::errc::closed, "IMAP: connection abandoned after a UID FETCH failed locally (" +
                              e.message.substr(0, 200) + ") with answers still pending; reconnect");
    finish(std::move(e));
    return false;
}

void fetch_op::literal_data(std::string_view bytes) {
    call_sink([&] { user_.body_data(bytes); });
}

void fetch_op::literal_end() {
    call_sink([&] { user_.body_end(); });
}

void fetch_op::begin() {
    if (todo_.empty()) finish();
}

void fetch_op::before_io() {
    while (!todo_.empty() && in_flight() < max_in_flight_ &&
           (in_flight() == 0 || outstanding_ + todo_.front().bytes <= budget_)) {
        auto tag = s_.next_tag();
        send(tag, {tag + " " + todo_.front().line_tail + "\r\n"});
        sent_.emplace_back(tag, todo_.front().bytes);
        outstanding_ += todo_.front().bytes;
        ++stats.commands;
        todo_.pop_front();
    }
}

void fetch_op::on_response(const response& r) {
    if (r.type == resp_type::tagged) {
        for (auto it = sent_.begin(); it != sent_.end(); ++it) {
            if (it->first == r.tag) {
                outstanding_ -= it->second;
                sent_.erase(it);
                break;
            }
        }
        auto e = tagged_status(r, "UID FETCH");
        if (e && !first_err_) first_err_ = std::move(e);
        if (in_flight() == 0 && todo_.empty()) finish(first_err_);
        return;
    }
    if (sink_failed_) return;
    if (r.is_data("FETCH")) {
        fetch_attrs f;
        if (auto e = parse_fetch(r, f)) return finish(std::move(e));
        s_.quirks |= f.quirks;
        ++stats.messages;
        if (f.uid && !requested(*f.uid)) {
            if (stats.unrequested.ranges.size() >= s_.retain.events)
                return finish(
                    mv::error(mv::errc::limit, "IMAP: server answered UID FETCH with more than " +
                                                   std::to_string(s_.retain.events) +
                                                   " FETCH responses for UIDs never asked for"));
            stats.unrequested.ranges.push_back({*f.uid, *f.uid});
        }
        call_sink([&] { user_.on_fetch(f); });
        return;
    }
    if (r.is_data("VANISHED")) {
        vanished_info v;
        if (auto e = parse_vanished(r, v)) return finish(std::move(e));
        if (v.earlier) {
            if (stats.vanished.ranges.size() + v.uids.ranges.size() > s_.retain.vanished_ranges)
                return finish(mv::error(mv::errc::limit,
                                        "IMAP: VANISHED (EARLIER) answer over " +
                                            std::to_string(s_.retain.vanished_ranges) +
                                            " ranges; resynchronize the folder without QRESYNC"));
            stats.vanished.ranges.insert(stats.vanished.ranges.end(), v.uids.ranges.begin(),
                                         v.uids.ranges.end());
            return;
        }
    }
    default_untagged(r);
}

bool fetch_op::literal_begin(std::string_view prefix, std::uint64_t size) {
    // "* <seq> FETCH (... NAME {n}" where NAME is BODY[...]<o>, BINARY[...] or RFC822*.
    if (prefix.size() < 2 || prefix.substr(0, 2) != "* ") return false;
    std::size_t p = 2, d = p;
    while (p < prefix.size() && prefix[p] >= '0' && prefix[p] <= '9') ++p;
    auto seq = parse_number(prefix.substr(d, p - d));
    if (!seq || *seq > 0xffffffffu || prefix.size() < p + 6 ||
        !iequals(prefix.substr(p, 6), " FETCH"))
        return false;
    std::size_t e = prefix.rfind('{');
    if (e == std::string_view::npos) return false;
    if (e > 0 && prefix[e - 1] == '~') --e;
    while (e > 0 && prefix[e - 1] == ' ') --e;
    std::size_t b = e;
    if (b > 0 && prefix[b - 1] == '>') {  // <origin>
        while (b > 0 && prefix[b - 1] != '<') --b;
        if (b == 0) return false;
        --b;
    }
    if (b > 0 && prefix[b - 1] == ']') {
        int depth = 0;
        while (b > 0) {
            char c = prefix[--b];
            if (c == ']') ++depth;
            if (c == '[' && --depth == 0) break;
        }
        if (depth != 0) return false;
    }
    while (b > 0 && prefix[b - 1] != ' ' && prefix[b - 1] != '(') --b;
    std::string_view name = prefix.substr(b, e - b);
    auto lb = name.find('[');
    std::string_view head = name.substr(0, lb);
    section_ref ref;
    ref.item = name;
    if (lb != std::string_view::npos) {
        if (!iequals(head, "BODY") && !iequals(head, "BINARY") && !iequals(head, "BODY.PEEK"))
            return false;
        auto rb = name.rfind(']');
        ref.section = name.substr(lb + 1, rb - lb - 1);
        ref.binary = iequals(head, "BINARY");
        auto rest = name.substr(rb + 1);
        if (rest.size() >= 3 && rest.front() == '<' && rest.back() == '>') {
            auto o = parse_number(rest.substr(1, rest.size() - 2));
            if (o && *o <= 0xffffffffu) ref.origin = static_cast<std::uint32_t>(*o);
        }
    } else if (iequals(name, "RFC822")) {
    } else if (iequals(name, "RFC822.HEADER")) {
        ref.section = "HEADER";
    } else if (iequals(name, "RFC822.TEXT")) {
        ref.section = "TEXT";
    } else {
        return false;
    }
    if (auto brace = prefix.rfind('{'); brace > 0 && prefix[brace - 1] == '~') ref.binary = true;
    if (sink_failed_) return true;  // swallow the bytes: the operation is over
    call_sink([&] { user_.section_begin(static_cast<std::uint32_t>(*seq), ref, size); });
    return true;
}

}  // namespace mv::imap
