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
    std::int64_t messages = 0;
    std::int64_t bytes = 0;
    std::vector<std::string> errors;
};

export_stats export_entries(archive& a, const export_options& o);

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
