// Synchronous IMAP client facade over mv::transport: each method builds one operation
// (operations.hpp) and runs it. No sockets here; the transport (network runner or a test script)
// does the I/O. Errors: tagged NO -> server_no, BAD -> server_bad (auth failures -> auth), BYE ->
// closed, malformed output -> protocol, caps -> limit. Passwords never appear in messages.
//
// Flow: greeting() -> [capability()] -> [starttls()] -> login()/authenticate() -> [enable()]
// -> [compress()] -> list()/status()/select() -> uid_search()/uid_fetch()/uid_store()/... ->
// logout(). Unsolicited EXISTS/EXPUNGE/FETCH/VANISHED seen on the way accumulate in events(),
// [ALERT]s in alerts(), each capped (session.hpp, retention_limits): memory stays bounded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/operations.hpp"
#include "imap/session.hpp"
#include "mailvault/transport.hpp"

namespace mv::imap {

enum class sasl_mech { plain, login, xoauth2, oauthbearer };

struct list_request {
    std::string reference;
    std::string pattern = "*";
    bool special_use = true;  // RETURN (SPECIAL-USE) when offered
    bool status = true;       // RETURN (STATUS (...)) when LIST-STATUS offered
    bool unseen = false;      // ... with UNSEEN among the items (for listings shown to people)
};

struct select_request {
    std::string mailbox;     // UTF-8
    bool read_only = false;  // EXAMINE
    bool condstore = false;  // (CONDSTORE), when offered and QRESYNC is not used
    // (QRESYNC (uidvalidity modseq [known-uids])) when QRESYNC is enabled
    std::optional<std::uint32_t> qresync_uidvalidity;
    std::uint64_t qresync_modseq = 0;
    std::optional<uid_set> qresync_known_uids;
};

struct select_result {
    mailbox_state state;
    uid_set vanished;                  // VANISHED (EARLIER) from QRESYNC
    std::vector<fetch_attrs> changes;  // FETCH flag changes from QRESYNC
    // More QRESYNC changes than retention_limits::select_changes: `changes` is incomplete, so
    // refresh all flags instead of applying it.
    bool changes_overflowed = false;
};

enum class store_op { add, remove, replace };

struct append_request {
    std::string mailbox;  // UTF-8
    std::vector<std::string> flags;
    std::optional<std::int64_t> internaldate;  // UTC epoch
    int internaldate_offset = 0;               // its zone, minutes east of UTC
    std::string_view message;
    // Instead of `message`: the literal's size and a function appending exactly that many bytes
    // to the command buffer (streamed from the archive; the message is held once).
    std::uint64_t size = 0;
    command_builder::literal_fill fill;
};

// What one APPEND of append_many() came to.
struct append_outcome {
    mv::error err;  // NO / BAD of this command, a fill error (not sent), or the connection's end
    std::optional<appenduid_info> uid;  // [APPENDUID] (UIDPLUS)
    bool sent = false;                  // the command went out (a fill error: false)
};

class client {
public:
    explicit client(mv::transport& t, limits lim = {}) : t_(t), s_(lim) {}

    mv::error greeting();
    mv::error capability();
    mv::error starttls();  // then re-issues CAPABILITY
    mv::error login(std::string_view user, std::string_view password);
    // secret: password (PLAIN/LOGIN) or OAuth access token (XOAUTH2/OAUTHBEARER).
    mv::error authenticate(sasl_mech mech, std::string_view user, std::string_view secret);
    mv::error enable(const std::vector<std::string>& extensions);  // only those offered are sent
    mv::error compress();                                          // COMPRESS DEFLATE
    mv::error id(const std::vector<std::pair<std::string, std::string>>& fields,
                 std::vector<std::pair<std::string, std::string>>* server = nullptr);

    // More than retention_limits::list_entries mailboxes: errc::limit.
    mv::error list(const list_request& req, std::vector<list_entry>& out);
    // STATUS mailbox (items...): `items` are the bare names, e.g. {"MESSAGES", "UIDNEXT"}; the
    // client writes the one pair of parentheses. A name that is not an atom is errc::internal.
    mv::error status(std::string_view mailbox, const std::vector<std::string>& items,
                     status_info& out);
    // Same, items space-separated ("MESSAGES UIDNEXT"). One outer pair of parentheses is
    // tolerated and dropped ("(MESSAGES UIDNEXT)" sends the same bytes), never doubled.
    mv::error status(std::string_view mailbox, std::string_view items, status_info& out);
    mv::error select(const select_request& req, select_result& out);
    // criteria e.g. "ALL", "UID 100:*", "MODSEQ 1234"; uses ESEARCH RETURN (ALL) when offered.
    // More than retention_limits::search_ids UIDs: errc::limit. UID 0: errc::protocol.
    mv::error uid_search(std::string_view criteria, search_result& out);
    mv::error uid_fetch(const fetch_request& req, fetch_sink& sink, fetch_stats* stats = nullptr);
    // Sets are split over several commands when long; `modified` collects [MODIFIED ...].
    mv::error uid_store(const uid_set& uids, store_op op, const std::vector<std::string>& flags,
                        bool silent, std::optional<std::uint64_t> unchangedsince,
                        uid_set* modified = nullptr);
    // Gmail (X-GM-EXT-1): UID STORE uids +X-GM-LABELS.SILENT (labels), split like uid_store.
    // Labels are UTF-8: system labels (a leading backslash, "\\Inbox") go as atoms, the others
    // as quoted strings in modified UTF-7 (UTF-8 when UTF8=ACCEPT is enabled); a label with a
    // CR, LF or NUL is refused (errc::usage, nothing sent). Without the capability:
    // errc::unsupported.
    mv::error uid_store_labels(const uid_set& uids, const std::vector<std::string>& labels);
    mv::error uid_expunge(const uid_set& uids);
    mv::error expunge();
    mv::error append(const append_request& req, std::optional<appenduid_info>* uid = nullptr);
    // Several APPENDs: pipelined (all sent, then all answers read) when every literal is
    // non-synchronizing (LITERAL+, or LITERAL- up to 4096 bytes), else one after another.
    // `out` gets one outcome per request, in order; one refused APPEND does not stop the
    // others. The result is the connection's failure (network, BYE, protocol), if any: then the
    // outcomes of commands without an answer carry it too.
    // With MULTIAPPEND (RFC 3502), all of them in one command (one transaction on the server);
    // refused as a whole, they are sent again one by one for per-message answers.
    mv::error append_many(const std::vector<append_request>& reqs,
                          std::vector<append_outcome>& out);
    // Would an APPEND of this size go without waiting for '+' (and so pipeline)?
    bool append_pipelines(std::uint64_t size) const;
    // CREATE mailbox (UTF-8 name, encoded like every mailbox argument); with `use` (a
    // special-use attribute such as "\\Sent") and CREATE-SPECIAL-USE offered, CREATE ... (USE
    // (attr)) (RFC 6154).
    mv::error create(std::string_view mailbox, std::string_view use = {});
    // NAMESPACE (RFC 2342): the first personal namespace's prefix and delimiter (0: NIL).
    // Without the capability: errc::unsupported. No personal namespace: prefix empty.
    mv::error personal_namespace(std::string& prefix, char& delimiter);
    mv::error uid_copy(const uid_set& uids, std::string_view dest,
                       std::vector<copyuid_info>* out = nullptr);
    mv::error uid_move(const uid_set& uids, std::string_view dest,
                       std::vector<copyuid_info>* out = nullptr);
    mv::error noop();
    mv::error idle_begin();
    mv::error idle_wait();  // returns once at least one untagged response arrived (see events())
    mv::error idle_done();
    // A watcher's IDLE (idle_op): each change goes to on_event while idling; returns after DONE
    // (idle_options::restart_after passed, or the first event with return_on_event) or with the
    // error. *restarted (when given): it ended at the deadline. Without IDLE: errc::unsupported.
    mv::error idle(const idle_options& o, idle_op::event_fn on_event, bool* restarted = nullptr);
    // NOTIFY <spec> (RFC 5465), e.g. notify_set_watch. Without NOTIFY: errc::unsupported.
    mv::error notify(std::string_view spec);
    mv::error logout();

    const capabilities& caps() const { return s_.caps; }
    mailbox_events& events() { return s_.events; }
    // The first retention_limits::alerts [ALERT] texts; alerts_dropped() counts the rest.
    const std::vector<std::string>& alerts() const { return s_.alerts; }
    std::uint64_t alerts_dropped() const { return s_.alerts_dropped; }
    // fetch_quirk bits seen on this connection (for logging which workaround was used).
    std::uint32_t quirks() const { return s_.quirks; }
    // Set once the connection is out of step (see session::unusable): reconnect.
    bool usable() const { return !s_.closed && !s_.unusable; }
    session& state() { return s_; }

private:
    mv::error run(op_base& op);
    mv::error simple(std::string_view name, std::string_view args);
    std::vector<command_op::command> store_commands(const uid_set& uids, const std::string& tail);
    mv::error append_many_single(const std::vector<append_request>& reqs,
                                 std::vector<append_outcome>& out);
    mv::error copy_or_move(std::string_view verb, const uid_set& uids, std::string_view dest,
                           std::vector<copyuid_info>* out);
    command_op::command make(std::string_view name, command_builder& b, const std::string& tag);

    mv::transport& t_;
    session s_;
};

}  // namespace mv::imap
