// Export of archived entries to Maildir, mboxrd or one .eml file per entry, in the forms local
// mail tools (mutt, notmuch, mbsync, Dovecot) read natively: LF line endings, arrival dates as
// Maildir mtimes and mbox envelope dates, flags as Maildir info letters or mbox Status/X-Status/
// X-Keywords headers. Bytes are streamed from the archive (re-hashed on the way; memory does not
// follow message size); a damaged content is reported and its file removed. The archive itself
// is never changed. Rules in docs/export.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"

namespace mv::archive {

enum class export_format { maildir, mbox, eml };

// crlf: the archived bytes exactly as the server sent them (IMAP/POP3 mail is CRLF).
// lf: every CRLF becomes LF while streaming (a lone CR stays), as local Maildir/mbox hold mail.
enum class line_endings { crlf, lf };

// Maildir folder layout below DIR/ACCOUNT. fs: nested directories, INBOX a folder like any other
// (mbsync `SubFolders Verbatim`, Dovecot LAYOUT=fs). maildirpp: the account directory is the
// INBOX Maildir and every other folder a `.Parent.Child` directory beside cur/new/tmp (mbsync
// `SubFolders Maildir++`, Dovecot's and Courier's default).
enum class maildir_layout { fs, maildirpp };

struct export_options {
    export_format format = export_format::maildir;
    std::filesystem::path out;
    entry_filter filter;
    // nullopt: the format's default, lf for maildir and mbox, crlf (unchanged bytes) for eml.
    std::optional<line_endings> endings = std::nullopt;
    maildir_layout layout = maildir_layout::fs;
    // Folder patterns as in `sync --folder` (config::folder_pattern_matches: `*`, `%`, a plain
    // name also selects its subfolders, INBOX case-insensitive); empty: every folder.
    std::vector<std::string> folders = {};
};

line_endings effective_line_endings(const export_options& o);

struct export_stats {
    std::int64_t selected = 0;        // entries the filter selects
    std::int64_t messages = 0;        // written completely (and synced to disk)
    std::int64_t bytes = 0;           // bytes read from the archive (before any line-ending change)
    std::vector<std::string> errors;  // messages skipped: damaged in the archive (see verify)
    // A local write failed (disk full, file size limit, permissions): the export stopped there.
    // One line, e.g. "export failed after 233 of 13,700 messages: No space left on device
    // (/out/work/INBOX.mbox)". A partly written message is removed (eml, Maildir) or cut off the
    // end of the mbox, so the files hold exactly `messages` messages.
    mv::error failure;
};

// Files are created 0600 and directories 0700 whatever the umask (mail is private). Output
// names are unique within one export: names that would collide get a "~2", "~3" ... suffix.
export_stats export_entries(archive& a, const export_options& o);
// Only the entries `query` matches (the language of `mailvault search`, docs/search.md) among
// those the filter selects; an empty query selects all. A bad query is errc::usage, thrown
// before anything is written. Needs the search index (cli::open_indexed).
export_stats export_entries(archive& a, const export_options& o, const std::string& query);

// "\Seen \Answered $x" -> "RS" (Maildir info letters, ASCII order: D F P R S T).
std::string maildir_flags(std::string_view canonical);

// The mbox status headers for canonical flags, each line ended by `eol`:
// "Status: RO" (R only when \Seen; O always: the message is not new to the reader),
// "X-Status: ADFT" (only the letters that apply: \Answered \Deleted \Flagged \Draft; no line when
// none), "X-Keywords: a b" (the IMAP keywords, space separated as Dovecot writes them; no line
// when none) and, `with_label`, the same keywords as "X-Label: a b", the one header mutt 2.x
// shows (%y) and matches (~y). mutt and Python's mailbox.mboxMessage read Status/X-Status so.
std::string mbox_status_headers(std::string_view canonical, std::string_view eol,
                                bool with_label = true);

// The envelope sender of the mbox "From " line: the address of Return-Path, else of the first
// From mailbox (both parsed by GMime), else "MAILER-DAEMON". Values are raw header values
// (unfolded or not); an address with blanks or control characters is not usable.
std::string envelope_sender(std::string_view return_path, std::string_view from);

// "From SENDER Www Mmm dd hh:mm:ss yyyy\n" (asctime form, UTC).
std::string mbox_from_line(std::string_view sender, std::int64_t epoch);

// The Maildir++ directory name of a folder's name parts ({"Lists", "dev"} -> ".Lists.dev"): a
// '.', '/' or '\' inside a part, and a leading '~', is escaped as "\NN" (lowercase hex, the way
// Dovecot's listescape plugin does), so the hierarchy stays unambiguous and reversible.
std::string maildirpp_name(const std::vector<std::string>& parts);

// CRLF -> LF, streamed: a CR is held back until the next byte shows whether an LF follows; a
// lone CR stays. Flow: feed() any number of times -> finish() once.
class crlf_to_lf {
public:
    void feed(std::string_view in, std::string& out);
    void finish(std::string& out);

private:
    bool cr_ = false;  // the last byte fed was a CR not yet written
};

// mboxrd quoting, streamed: a line matching ^>*From  gets one more '>'.
// Flow: feed() any number of times -> finish() once.
class mboxrd_quoter {
public:
    // Appends quoted output to `out`.
    void feed(std::string_view in, std::string& out);
    void finish(std::string& out);
    bool ended_with_newline() const { return last_ == '\n'; }

private:
    bool deciding_ = true;  // at the start of a line, not yet known whether it needs quoting
    std::string pending_;
    char last_ = '\n';
};

// One message as an mboxrd record, streamed: the "From " line, the header block without any
// Status/X-Status/X-Keywords field of its own (an X-Label of its own stays, and then no X-Label
// is added), the status headers (mbox_status_headers) just
// before the blank line that ends the header block (or at the end of a message that has none),
// the body mboxrd-quoted, and the blank separator line. The sender (envelope_sender) comes from
// the Return-Path and From fields, so the output is held back until the header block ended (or
// max_held bytes, for a pathological header block: then the sender is taken from what was
// seen); after that nothing is held but a partial line's first bytes. With `lf`, CRLF becomes
// LF first.
// Flow: constructor -> feed()* -> finish() once.
class mbox_writer {
public:
    mbox_writer(std::string_view canonical_flags, std::int64_t epoch, bool lf,
                std::size_t max_held = 256 * 1024);
    void feed(std::string_view in, std::string& out);
    void finish(std::string& out);

private:
    enum class field { keep, drop };
    void process(std::string_view in, std::string& out);
    void header_bytes(std::string_view in, std::string& out);
    void decide_line(std::string& out);
    void start_field(std::string_view line);
    void header_out(std::string_view b, std::string& out);
    void header_end(std::string_view blank, std::string& out);
    void release(std::string& out);
    void emit(std::string_view b, std::string& out);

    std::string flags_;
    std::int64_t epoch_;
    bool lf_;
    std::size_t max_held_;
    crlf_to_lf conv_;
    std::string conv_buf_;
    mboxrd_quoter quoter_;
    bool in_headers_ = true;
    bool released_ = false;           // the "From " line and what was held are out
    std::string held_;                // quoted output waiting for the "From " line
    std::string rp_, from_;           // the Return-Path and From fields, for the sender
    std::string* capture_ = nullptr;  // which of them the current header line belongs to
    std::string line_;                // start of the current header line, until it can be judged
    bool line_judged_ = false;        // line_ was judged; the rest of the line follows that choice
    field current_ = field::keep;     // the current header field's fate (continuation lines too)
    char prev_ = 0;                   // the header byte before the current one
    bool crlf_ = false;               // the last header line ended with CRLF
    bool has_label_ = false;          // the message has an X-Label of its own
};

}  // namespace mv::archive
