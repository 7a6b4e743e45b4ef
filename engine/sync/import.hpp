// `mailvault import`: existing mail backups (Maildir trees, mbox files, .eml files) filed into
// the archive under an account of protocol "import" (schema 12, docs/import.md).
//
// The decisions are pure functions below (Maildir names and flags, mbox splitting and header
// flags, Google Takeout labels, dates), tested in tests/unit/import_test.cpp without files or
// SQLite. run_import() walks the sources and stores what it finds like a sync does: small
// messages in batches (one transaction each, crash_point("import.batch") after each commit),
// a message over stream_threshold through archive::content_writer in its own transaction, so
// memory stays bounded whatever the size of an mbox or of one message.
//
// Identity of an imported entry (its uidl; entries of an import account have no uid):
//   Maildir: the file's base name without the info suffix (":2,FS"), stable when a client
//            renames the file for a flag change or moves it from new/ to cur/;
//   mbox, eml: the hex SHA-256 of the stored bytes, "/2", "/3" ... appended for the second,
//            third copy of the same bytes in one folder.
// Rerunning an import therefore finds every entry already present (flags are brought up to
// date); a run killed anywhere leaves whole batches only, and the rerun adds the rest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mv::archive {
class archive;
}

namespace mv::sync {

// ---- Maildir ---------------------------------------------------------------------------------

// The entry key of a Maildir file: its name up to the info separator (':' or, as some tools
// write on file systems without ':', '!'), e.g. "1700000000.M1P2.host:2,S" ->
// "1700000000.M1P2.host".
std::string maildir_key(std::string_view file_name);

// IMAP flags from the info suffix ":2,<letters>": S \Seen, R \Answered, F \Flagged, T \Deleted,
// D \Draft, P $Forwarded; lowercase letters are Dovecot keywords, a = keywords[0], b =
// keywords[1] ... (from the folder's dovecot-keywords file; a letter with no keyword is
// ignored). A name without ":2," has no flags (a message in new/).
std::vector<std::string> maildir_flags(std::string_view file_name,
                                       const std::vector<std::string>& keywords = {});

// Dovecot's dovecot-keywords file ("0 $Label1\n1 Work\n"): index -> keyword.
std::vector<std::string> parse_dovecot_keywords(std::string_view text);

// The folder name (UTF-8, '/'-separated) of a Maildir++ directory name without its leading
// dot: ".Sub.Folder" -> "Sub/Folder"; a component in modified UTF-7 (Dovecot: "&AOk-t&AOk-")
// is decoded, one that is not valid modified UTF-7 is kept as it is.
std::string maildirpp_folder(std::string_view dir_name_without_dot);

// ---- mbox ------------------------------------------------------------------------------------

enum class mbox_quoting {
    mboxrd,  // every ">+From " line loses one '>' (also right for mboxo files' ">From ")
    mboxo,   // only ">From " loses its '>'; ">>From " stays
};

// True when `line` (without its line end) is an mbox envelope line: "From " followed by a
// sender and, when more follows, something with a time ("HH:MM"): "From a@b Sat Jan  4
// 12:34:56 2020", Thunderbird's "From - Mon Jan 01 ...", or Google Takeout's "From
// 1844...@xxx". A body line such as "From Russia with love" (left unquoted by Thunderbird) is
// not one.
bool is_envelope_line(std::string_view line);

// Splits an mbox stream into messages. Bytes are fed in pieces of any size; memory is bounded
// (at most one line start of max_line_lead bytes is held, and one blank line).
// A message is the bytes between its envelope line (removed) and the next envelope line; the
// one blank line a writer puts before the next envelope (or at the end of the file) is removed
// too; quoted ">From " lines are unquoted. Line ends are kept as they are in the file.
// Bytes before the first envelope line (not an mbox, or garbage) are counted, not delivered; a
// UTF-8 byte order mark at the start is skipped.
// Flow: feed(bytes, events)* -> finish(events).
class mbox_splitter {
public:
    struct events {
        virtual ~events() = default;
        virtual void begin(std::string_view envelope_line) = 0;  // without its line end
        virtual void data(std::string_view bytes) = 0;
        virtual void end() = 0;
    };
    static constexpr std::size_t max_line_lead = 4096;

    explicit mbox_splitter(mbox_quoting q = mbox_quoting::mboxrd) : quoting_(q) {}
    void feed(std::string_view bytes, events& ev);
    void finish(events& ev);
    std::uint64_t messages() const { return messages_; }
    std::uint64_t preamble_bytes() const { return preamble_; }  // before the first envelope

private:
    void line_decided(events& ev, bool complete);
    void emit(events& ev, std::string_view bytes);
    void flush_blank(events& ev);

    mbox_quoting quoting_;
    bool at_start_ = true;    // nothing seen yet (BOM check)
    bool line_start_ = true;  // the next byte starts a line
    bool in_message_ = false;
    std::string lead_;   // the start of the current line, while it may be an envelope or quoted
    std::string blank_;  // a blank line held back: dropped when an envelope follows
    std::uint64_t messages_ = 0;
    std::uint64_t preamble_ = 0;
};

// The header block of a message (up to, not including, the first empty line; all of `head`
// when it has none).
std::string_view header_block(std::string_view head);

// Every value of header field `name` (case-insensitive), unfolded, leading and trailing
// blanks removed.
std::vector<std::string> header_values(std::string_view block, std::string_view name);

// Flags and keywords from the headers mail clients write into mbox files:
//   Status: R -> \Seen (O, "old", sets nothing); X-Status: A \Answered, F \Flagged, T \Draft,
//   D \Deleted; X-Mozilla-Status (Thunderbird, hex): 0x0001 \Seen, 0x0002 \Answered, 0x0004
//   \Flagged, 0x0008 \Deleted (deleted but not yet compacted away), 0x1000 $Forwarded;
//   X-Keywords (comma or blank separated) and X-Mozilla-Keys (blank separated): keywords.
std::vector<std::string> mbox_header_flags(std::string_view block);

// ---- Google Takeout --------------------------------------------------------------------------

// X-Gmail-Labels: "Inbox,Important,\"Work, old\",Opened" -> the labels (quotes removed).
std::vector<std::string> parse_takeout_labels(std::string_view value);

struct takeout_folder {
    std::string name;  // '/'-separated, Gmail's IMAP names
    std::optional<std::string> special_use;
    bool operator==(const takeout_folder&) const = default;
};

struct takeout_placement {
    // The folders Gmail's IMAP would list the message in: "[Gmail]/All Mail" (\All) and one per
    // folder label; a message in Trash or Spam only there (Gmail lists it nowhere else).
    std::vector<takeout_folder> folders;
    // What the archive records in gmail_entries.labels (schema 8): IMAP's X-GM-LABELS form,
    // system labels with a backslash (\Inbox, \Sent, \Draft, \Trash, \Spam, \Important,
    // \Starred), user labels as they are.
    std::vector<std::string> labels;
    std::vector<std::string> flags;  // \Seen unless "Unread"; \Flagged for Starred; \Draft
};

// Takeout's labels: Inbox, Sent, Draft(s), Trash, Spam, Starred, Important map to the system
// labels and Gmail's folders; "Opened" and "Unread" say whether it was read (Takeout writes one
// of them; with neither the message counts as read); "Archived", "Chat" and "Category ..." are
// Takeout's own markers, with no IMAP folder or label; anything else is a user label, and a
// folder of that name.
takeout_placement place_takeout(const std::vector<std::string>& takeout_labels);

// ---- dates -----------------------------------------------------------------------------------

// The date of an envelope line ("From a@b Sat Jan  4 12:34:56 2020", optional zone "+0100"
// before or after the year), epoch seconds UTC; nullopt when it has none.
std::optional<std::int64_t> envelope_date(std::string_view envelope_line);

// An RFC 5322 Date: value ("Fri, 26 Sep 2025 10:18:40 -0700", obsolete zones UT/GMT/EST...,
// two-digit years), epoch seconds UTC; nullopt when unparsable.
std::optional<std::int64_t> rfc5322_date(std::string_view value);

// INTERNALDATE of an imported message, in the order of each format (docs/import.md):
//   mbox:        envelope date, else Date:, else the mbox file's mtime;
//   maildir/eml: the file's mtime (what mbsync and OfflineIMAP keep as the arrival time),
//                else Date:.
enum class import_format { maildir, mbox, eml };
std::optional<std::int64_t> import_date(import_format f, std::optional<std::int64_t> envelope,
                                        std::optional<std::int64_t> header_date,
                                        std::optional<std::int64_t> file_mtime);

// A plausible message start: the first line is a header field ("Name: value"), or an mbox
// envelope line followed by one (a file saved out of an mbox).
bool looks_like_message(std::string_view head);

// ---- the workflow ----------------------------------------------------------------------------

struct import_options {
    std::string account;
    import_format format = import_format::maildir;
    std::vector<std::filesystem::path> sources;
    // Maildir and mbox: the folder the top (a Maildir root, an mbox file) is filed as, with the
    // subfolders below it; eml: the folder of every message. Empty: INBOX for a Maildir root and
    // for .eml files at the top of an argument, the file name for an mbox.
    std::string folder;
    mbox_quoting quoting = mbox_quoting::mboxrd;
    std::size_t batch_messages = 500;
    std::size_t batch_bytes = 2u << 20;
    std::size_t stream_threshold = 4u << 20;  // bigger messages stream (content_writer)
};

struct import_folder_report {
    std::string folder;
    std::int64_t added = 0;    // new entries
    std::int64_t present = 0;  // already imported (flags brought up to date)
    std::int64_t skipped = 0;
};

struct import_skip {
    std::string where;   // file, or "file, message N at byte B"
    std::string reason;  // one line
};

struct import_report {
    std::vector<import_folder_report> folders;  // in the order met
    std::vector<import_skip> skipped;
    std::int64_t messages = 0;    // read (added + present)
    std::int64_t new_bytes = 0;   // bytes of new entries
    std::int64_t read_bytes = 0;  // bytes of every message read
};

// Runs an import into `a` (opened writable). Throws mv::failure: errc::usage when the account
// exists with another protocol or a source is missing; errc::archive on archive failures.
// Files it cannot read and messages that are not messages are skipped and reported.
import_report run_import(archive::archive& a, const import_options& o);

}  // namespace mv::sync
