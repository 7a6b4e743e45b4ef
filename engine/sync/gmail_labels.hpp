// Gmail labels at restore time, as pure functions (docs/restore.md, "Gmail"): where a message
// recorded with X-GM-LABELS goes on a server without labels, and which labels to set on a message
// restored into Gmail. No network, no SQLite; tested in tests/unit/gmail_test.cpp.
//
// Labels are UTF-8 (the sync decodes modified UTF-7) and keep Gmail's system labels with their
// backslash: \Inbox, \Sent, \Draft, \Trash, \Spam, \Important, \Starred. User labels are
// hierarchical with '/' ("Work/Project"), which is also how folders are named here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mv::sync {

// Markers label_folders() returns instead of a folder name: the target's special-use folder
// (RFC 6154 attribute), which the caller resolves from the target's LIST (and creates, or maps
// to its own default name, when the target has none).
inline constexpr std::string_view sent_marker = "\\Sent";
inline constexpr std::string_view drafts_marker = "\\Drafts";
inline constexpr std::string_view trash_marker = "\\Trash";
inline constexpr std::string_view junk_marker = "\\Junk";
inline constexpr std::string_view archive_marker = "\\Archive";
// True for the markers above (a string starting with a backslash: no folder name label_folders
// returns otherwise does).
bool is_special_use_marker(std::string_view folder);

enum class label_mode {
    every_label,  // one copy of the message per label (default): the folders Gmail shows
    primary_only  // one copy only, in the first folder every_label would give
};

struct gmail_restore_options {
    label_mode mode = label_mode::every_label;
    // Where a message with no folder label goes (archived in Gmail: only in All Mail, or only
    // \Important / \Starred). A plain name ('/'-separated), or archive_marker for the target's
    // \Archive folder. Empty: "Archive".
    std::string archive_folder = "Archive";
};

// The folders (UTF-8, '/'-separated, or a marker above) a message with these labels is restored
// into on a server without labels, in this order and without duplicates:
//   \Inbox -> "INBOX"; \Sent -> sent_marker; \Draft -> drafts_marker; user labels -> a folder of
//   that name, in the order given (Gmail's "Work/Project" is already hierarchical);
//   \Trash -> trash_marker, \Spam -> junk_marker, and then only that one folder (Gmail shows a
//   trashed or spam message in no other folder; \Trash wins over \Spam);
//   \Important, \Starred and unknown system labels -> no folder (\Starred is the \Flagged flag,
//   which the message's flags already carry: see label_flags);
//   no folder at all -> options.archive_folder.
// Never empty: a message always has somewhere to go. primary_only keeps the first folder.
std::vector<std::string> label_folders(const std::vector<std::string>& labels,
                                       const gmail_restore_options& options = {});

// Flags the labels imply, to merge with the archived flags: \Starred -> \Flagged, \Draft ->
// \Draft (Gmail keeps both in step; this matters only for entries recorded without them).
std::vector<std::string> label_flags(const std::vector<std::string>& labels);

// Restoring into Gmail: the message is APPENDed once into "[Gmail]/All Mail" (the \All folder),
// then these labels are set with UID STORE +X-GM-LABELS (system labels as atoms, \Inbox; user
// labels as astrings, modified UTF-7 unless UTF8=ACCEPT). From labels recorded on Gmail: the
// same labels, except \Draft (APPEND into the \Drafts folder instead: Gmail does not set it by
// STORE), \Trash and \Spam (Gmail would delete the message after 30 days; left out on purpose)
// and empty strings; duplicates removed, order kept.
std::vector<std::string> labels_for_gmail(const std::vector<std::string>& recorded_labels);

// Restoring into Gmail from a server without labels: the label that stands for a source folder
// (UTF-8, '/'-separated) with its special-use attribute (or empty). INBOX -> \Inbox, \Sent ->
// \Sent, \Flagged -> \Starred; \Drafts, \Junk, \Trash, \All and \Archive -> "" (no label:
// the message stays in All Mail only; drafts, junk and trash are better APPENDed into Gmail's
// own folder of that use); any other folder -> a label of its name.
std::string folder_label_for_gmail(std::string_view folder, std::string_view special_use);

// The labels of an entry with the label its own folder stands for added (once): Gmail may leave
// the selected folder's label out of X-GM-LABELS, and lists \Trash and \Spam messages only in
// [Gmail]/Trash and [Gmail]/Spam. `folder` is the entry's decoded folder name ('/'-separated,
// Gmail's delimiter), `special_use` its attribute: INBOX -> \Inbox, \Sent -> \Sent, \Drafts
// -> \Draft, \Trash -> \Trash, \Junk -> \Spam, \Important -> \Important, \Flagged ->
// \Starred, \All (All Mail) -> nothing, a folder under "[Gmail]/" or "[Google Mail]/" without
// a known use -> nothing, any other folder -> a user label of its name. The restore takes the
// union of this over every entry of one Gmail message (archive::entries_of_gmail_message).
std::vector<std::string> labels_with_folder(std::vector<std::string> labels,
                                            std::string_view folder, std::string_view special_use);

}  // namespace mv::sync
