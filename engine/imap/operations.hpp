// IMAP operations as resumable sans-io state machines (mv::operation).
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "imap/session.hpp"
#include "mailvault/next_action.hpp"

namespace mv::imap {

// Base of every operation.
// Flow: resume(start) takes over bytes left by the previous operation and calls begin(), which
// queues writes. Then, repeatedly: write what is queued; frame and dispatch one response at a time
// from what was read (continuations release the next piece of a command with synchronizing
// literals; tagged responses must match a tag we sent; BYE ends the operation with `closed`);
// read more. When the operation is done, unconsumed bytes go back to the session for the next.
//
// Liveness: progress() grows with every complete response and with every progress_chunk bytes the
// framer consumed (a long line or literal). A server trickling one line or one literal slowly
// makes no progress, so the runner's progress deadline ends the operation (errc::timeout).
//
// Operations never let an exception out: callbacks into caller code (fetch_sink) report failure
// through fetch_sink::sink_error(); the operation then ends with that error and marks the session
// unusable (session::unusable).
class op_base : public mv::operation {
public:
    static constexpr std::uint64_t progress_chunk = 16 * 1024;

    explicit op_base(session& s) : s_(s) {}
    next_action resume(io_result r) final;
    std::optional<std::uint64_t> progress() const noexcept override {
        return s_.responses + s_.fr.offset() / progress_chunk;
    }

protected:
    virtual void begin() = 0;
    // Every response except continuations consumed by a pending literal and BYE.
    virtual void on_response(const response& r) = 0;
    // A '+' with no literal waiting (AUTHENTICATE, IDLE). Default: protocol error.
    virtual void on_continuation(const response& r);
    virtual literal_sink* sink() { return nullptr; }
    virtual void before_io() {}                   // chance to queue more commands (pipelining)
    virtual void on_special_done() { finish(); }  // after tls_handshake / start_deflate
    // A read under quiet_limit() saw nothing for that long (IDLE). Default: keep reading.
    virtual void on_quiet() {}
    // A complete response that does not parse; lets an operation say what it expected instead.
    virtual mv::error on_parse_error(const framed_response&, mv::error e) { return e; }

    // Queues a command (its pieces, see command_builder) and registers its tag.
    void send(const std::string& tag, std::vector<std::string> pieces);
    void send_raw(std::string bytes) { queued_ += bytes; }
    void finish(mv::error e = {});
    void request_special(action_kind k) { special_ = k; }
    bool tag_in_flight(std::string_view t) const;
    std::size_t in_flight() const { return tags_.size(); }
    // Session bookkeeping for untagged responses nobody else wants (caps, events, alerts).
    void default_untagged(const response& r);
    // OK -> {}, NO -> `no_code` (server_no by default), BAD -> server_bad; message names `what`.
    static mv::error tagged_status(const response& r, std::string_view what,
                                   mv::errc no_code = mv::errc::server_no);
    void expect_bye() { expect_bye_ = true; }
    // Replaces the session's capabilities (capped at retain.capabilities names).
    void set_caps(const std::vector<value>& vals);

    session& s_;
    std::vector<std::string> tags_;

private:
    next_action pump();
    void dispatch(const response& r);
    void own_input();

    std::string own_;
    std::string_view in_;
    bool in_transient_ = false;  // in_ points into the runner's buffer (valid during resume only)
    std::string queued_, out_;
    std::deque<std::string> waiting_;  // pieces sent only after a '+'
    std::optional<action_kind> special_;
    bool done_ = false;
    bool expect_bye_ = false;
    mv::error err_;
};

// Reads the greeting: OK (with optional [CAPABILITY]), PREAUTH, or BYE (-> closed).
class greeting_op : public op_base {
public:
    using op_base::op_base;
    bool preauth = false;

private:
    void begin() override {}
    void on_response(const response& r) override;
    // Whatever the parser disliked, the real problem is "this is not an IMAP server": name the
    // first bytes (offset 0), not some token deep inside a line of another protocol.
    mv::error on_parse_error(const framed_response& fr, mv::error e) override;
};

// One or more pipelined commands with hooks. Finishes when every tag has completed; the first
// NO/BAD is the result.
class command_op : public op_base {
public:
    struct command {
        std::string tag, name;  // name for error messages
        std::vector<std::string> pieces;
    };
    using untagged_fn = std::function<bool(const response&)>;  // true: consumed
    using ok_fn = std::function<mv::error(const response&)>;   // tagged OK
    using continuation_fn = std::function<std::optional<std::string>(const response&)>;

    command_op(session& s, std::vector<command> cmds) : op_base(s), cmds_(std::move(cmds)) {}

    untagged_fn on_untagged;
    ok_fn on_ok;
    // Set: every tagged response's outcome (OK after on_ok, NO, BAD) goes here instead of
    // becoming the operation's result (pipelined commands that may fail one by one: APPEND).
    std::function<void(const response&, mv::error)> on_tagged;
    continuation_fn on_cont;  // AUTHENTICATE steps; nullopt -> protocol error
    mv::errc no_code = mv::errc::server_no;
    // After OK: ask the runner for TLS (STARTTLS) or deflate (COMPRESS), refusing any bytes the
    // server sent after the OK (they would predate the upgrade: STARTTLS response injection).
    std::optional<action_kind> upgrade;
    bool bye_expected = false;  // LOGOUT
    bool saw_bye = false;

private:
    void begin() override;
    void on_response(const response& r) override;
    void on_continuation(const response& r) override;

    std::vector<command> cmds_;
    mv::error first_err_;
};

// IDLE: idle_begin_op sends IDLE and finishes at the '+' (the tag stays in session::idle_tag);
// idle_wait_op reads until at least one untagged response arrived; idle_done_op sends DONE and
// waits for the tagged completion.
class idle_begin_op : public op_base {
public:
    using op_base::op_base;

private:
    void begin() override;
    void on_response(const response& r) override;
    void on_continuation(const response& r) override;
};

class idle_wait_op : public op_base {
public:
    using op_base::op_base;

private:
    void begin() override;
    void on_response(const response& r) override;
};

class idle_done_op : public op_base {
public:
    using op_base::op_base;

private:
    void begin() override;
    void on_response(const response& r) override;
};

// ---- IDLE for a long-running watcher (RFC 2177, RFC 5465 NOTIFY) ----

// A change the server announced while idling. `mailbox` is empty for the selected mailbox and
// the (UTF-8) name of another one for NOTIFY's STATUS and LIST answers.
struct idle_event {
    enum class kind {
        exists,    // * n EXISTS (new mail, or the count after expunges)
        expunge,   // * n EXPUNGE
        flags,     // * n FETCH (flag / modseq change)
        vanished,  // * VANISHED (QRESYNC)
        status,    // * STATUS mbox (...): NOTIFY MessageNew/MessageExpunge in another mailbox
        mailbox,   // * LIST ...: NOTIFY MailboxName (created, deleted, renamed)
        overflow,  // * OK [NOTIFICATIONOVERFLOW]: the server stopped notifying; resync all
    };
    kind k = kind::exists;
    std::string mailbox;
    std::optional<std::uint32_t> number;  // EXISTS count, EXPUNGE / FETCH sequence number
};

struct idle_options {
    // RFC 2177: a server may drop a client idling 30 minutes; DONE and end before that. The
    // watcher then issues IDLE again on the same connection.
    std::chrono::milliseconds restart_after{std::chrono::minutes(25)};
    // DONE at the first event instead of reporting events while idling on.
    bool return_on_event = false;
    // The clock the restart deadline is measured on (tests drive time by hand).
    std::function<std::chrono::steady_clock::time_point()> clock;
};

// Flow: send "tag IDLE" -> wait for '+' (ordinary timeout) -> idle: every untagged change goes to
// on_event as it arrives (the operation stays in IDLE), asking the runner for a quiet read
// (quiet_limit: what is left until restart_after) so silence is not a timeout -> at the deadline
// (or the first event with return_on_event) write DONE -> wait for the tagged OK (ordinary
// timeout) -> done. A stop request cancels the connection and ends the wait at once. Events are
// not stored in the session (a month of idling would pile them up): the caller gets each once.
// on_event must not throw; an exception is caught and ends the operation with errc::internal.
class idle_op : public op_base {
public:
    using event_fn = std::function<void(const idle_event&)>;
    idle_op(session& s, idle_options o, event_fn on_event);

    std::optional<std::chrono::milliseconds> quiet_limit() const noexcept override;
    std::uint64_t events = 0;  // events reported
    bool restarted = false;    // ended because restart_after passed (not because of an event)

private:
    enum class phase { wait_plus, idling, done_sent };
    void begin() override;
    void on_continuation(const response& r) override;
    void on_response(const response& r) override;
    void on_quiet() override;
    void send_done();
    void report(idle_event ev);
    std::chrono::steady_clock::time_point now() const;

    idle_options opts_;
    event_fn on_event_;
    phase phase_ = phase::wait_plus;
    std::string tag_;
    std::chrono::steady_clock::time_point deadline_{};
};

// NOTIFY SET for a watcher: changes in the selected mailbox as untagged EXISTS/EXPUNGE/FETCH,
// new and expunged mail in every other personal mailbox as STATUS, created/deleted/renamed
// mailboxes as LIST (RFC 5465 section 3).
inline constexpr std::string_view notify_set_watch =
    "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) "
    "(personal (MessageNew MessageExpunge MailboxName))";

// ---- pipelined UID FETCH ----

// Which body section a streamed literal answers, exactly as the server named it. The fetch op
// does not judge (a server may answer BODY[]<0>, BODY[HEADER] or RFC822 to a BODY.PEEK[]
// request, or a partial body): the caller compares it with what it asked for and decides.
struct section_ref {
    std::string_view item;     // the whole item name as sent: "BODY[]", "BODY[]<0>", "RFC822"
    std::string_view section;  // between [ ] ("" for BODY[] and RFC822; RFC822.HEADER: "HEADER")
    std::optional<std::uint32_t> origin;  // <n> of a partial answer: not the whole section
    bool binary = false;                  // BINARY[...] (or a ~{n} literal)
    // True only for a complete message body: BODY[] or RFC822, no origin.
    bool whole_message() const { return section.empty() && !origin; }
};

// Receives a UID FETCH answer as it streams in.
//
// Sinks must not throw: report a failure (archive full, out of memory, ...) through
// sink_error(), which the operation checks after every callback. A non-empty error ends the
// operation with exactly that error; since answers to pipelined commands are still on the wire,
// the session is then marked unusable (every later operation on this connection fails with
// errc::closed: reconnect). An exception escaping a callback anyway is caught at the operation's
// boundary and reported the same way (errc::internal, or the mv::failure's own error).
class fetch_sink {
public:
    virtual ~fetch_sink() = default;
    // A body section literal starts (BODY[...], BINARY[...], RFC822*): its bytes follow.
    // `section` is what is between [ ] only; section_begin() says the rest (origin, item name).
    virtual void body_begin(std::uint32_t /*seq*/, std::string_view /*section*/,
                            std::uint64_t /*size*/) {}
    // Called for every literal; the default forwards to body_begin(seq, s.section, size).
    virtual void section_begin(std::uint32_t seq, const section_ref& s, std::uint64_t size) {
        body_begin(seq, s.section, size);
    }
    virtual void body_data(std::string_view bytes) = 0;
    virtual void body_end() = 0;
    // Every FETCH response seen during the operation, after its bodies (streamed sections appear
    // in attrs.bodies with streamed = true and no data; body_section::item/origin say which).
    virtual void on_fetch(const fetch_attrs& attrs) = 0;
    // Empty while all is well; see above.
    virtual mv::error sink_error() const noexcept { return {}; }
};

struct fetch_request {
    std::vector<uid_set> sets;  // one UID FETCH per set (split further if a line would be too long)
    std::string items = "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])";
    std::optional<std::uint64_t> changedsince;  // (CHANGEDSINCE n)
    bool vanished = false;                      // (CHANGEDSINCE n VANISHED), needs QRESYNC
    std::vector<std::uint64_t> expected_bytes;  // per set, optional: weighs the byte budget
    std::uint64_t byte_budget = std::uint64_t{32} << 20;
    std::size_t max_in_flight = 8;
};

struct fetch_stats {
    std::size_t commands = 0;
    std::size_t messages = 0;
    uid_set vanished;  // VANISHED (EARLIER) answers to CHANGEDSINCE ... VANISHED
    // UIDs of FETCH responses outside every requested set (servers may send unsolicited FETCH
    // for flag changes; one with a body is suspect). Still handed to the sink: the caller decides.
    uid_set unrequested;
};

// Flow: queue as many UID FETCH commands as the budget allows; stream body literals to the sink;
// each tagged completion frees budget and lets the next commands go out; finishes when all
// commands completed (first NO/BAD reported after all of them finished). After every sink
// callback, sink_error() is checked: an error ends the operation at once (see fetch_sink).
class fetch_op : public op_base, private literal_sink {
public:
    fetch_op(session& s, const fetch_request& req, fetch_sink& sink);
    fetch_stats stats;
    // True if `uid` lies in one of the requested sets.
    bool requested(std::uint32_t uid) const;

private:
    struct pending_cmd {
        std::string line_tail;  // "UID FETCH set items..."
        std::uint64_t bytes = 0;
    };
    void begin() override;
    void before_io() override;
    void on_response(const response& r) override;
    literal_sink* sink() override { return this; }
    bool literal_begin(std::string_view prefix, std::uint64_t size) override;
    void literal_data(std::string_view bytes) override;
    void literal_end() override;
    // Runs one sink callback; false (and the operation finished) if the sink failed.
    template <class F>
    bool call_sink(F&& f) noexcept;

    fetch_sink& user_;
    bool sink_failed_ = false;
    std::vector<uid_range> asked_;  // requested UIDs, sorted and merged
    std::size_t max_in_flight_;
    std::uint64_t budget_, outstanding_ = 0;
    std::deque<pending_cmd> todo_;
    std::vector<std::pair<std::string, std::uint64_t>> sent_;  // tag, bytes
    mv::error first_err_;
};

}  // namespace mv::imap
