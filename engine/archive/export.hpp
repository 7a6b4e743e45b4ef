// Export of archived entries to Maildir, mboxrd or one .eml file per entry. Bytes are streamed
// from the archive (re-hashed on the way); a damaged content is reported and its file removed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"

namespace mv::archive {

enum class export_format { maildir, mbox, eml };

struct export_options {
    export_format format = export_format::maildir;
    std::filesystem::path out;
    entry_filter filter;
};

struct export_stats {
    std::int64_t selected = 0;  // entries the filter selects
    std::int64_t messages = 0;  // written completely (and synced to disk)
    std::int64_t bytes = 0;
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

}  // namespace mv::archive
