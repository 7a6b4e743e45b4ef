#include "sync/gmail_labels.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace mv::sync {

namespace {

bool same(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool has_label(const std::vector<std::string>& labels, std::string_view l) {
    return std::any_of(labels.begin(), labels.end(), [&](const auto& x) { return same(x, l); });
}

void add_once(std::vector<std::string>& out, std::string v) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
}

bool system_label(std::string_view l) {
    return !l.empty() && l.front() == '\\';
}

}  // namespace

bool is_special_use_marker(std::string_view folder) {
    return !folder.empty() && folder.front() == '\\';
}

std::vector<std::string> label_folders(const std::vector<std::string>& labels,
                                       const gmail_restore_options& o) {
    std::vector<std::string> out;
    // Gmail shows a message in Trash (or Spam) in no other folder, whatever its labels.
    if (has_label(labels, "\\Trash")) return {std::string(trash_marker)};
    if (has_label(labels, "\\Spam")) return {std::string(junk_marker)};
    if (has_label(labels, "\\Inbox")) out.emplace_back("INBOX");
    if (has_label(labels, "\\Sent")) add_once(out, std::string(sent_marker));
    if (has_label(labels, "\\Draft")) add_once(out, std::string(drafts_marker));
    for (const auto& l : labels) {
        // System labels are mapped above or have no folder (\Important, \Starred, unknown ones).
        if (l.empty() || system_label(l)) continue;
        // A user label spelled like the inbox names the inbox (Gmail reserves the name).
        add_once(out, same(l, "INBOX") ? std::string("INBOX") : l);
    }
    if (out.empty()) out.push_back(o.archive_folder.empty() ? "Archive" : o.archive_folder);
    if (o.mode == label_mode::primary_only) out.resize(1);
    return out;
}

std::vector<std::string> label_flags(const std::vector<std::string>& labels) {
    std::vector<std::string> out;
    if (has_label(labels, "\\Draft")) out.emplace_back("\\Draft");
    if (has_label(labels, "\\Starred")) out.emplace_back("\\Flagged");
    return out;
}

std::vector<std::string> labels_for_gmail(const std::vector<std::string>& recorded) {
    std::vector<std::string> out;
    for (const auto& l : recorded) {
        if (l.empty() || same(l, "\\Draft") || same(l, "\\Trash") || same(l, "\\Spam")) continue;
        add_once(out, l);
    }
    return out;
}

std::string folder_label_for_gmail(std::string_view folder, std::string_view special_use) {
    if (same(folder, "INBOX")) return "\\Inbox";
    if (same(special_use, "\\Sent")) return "\\Sent";
    if (same(special_use, "\\Flagged")) return "\\Starred";
    for (const char* none : {"\\Drafts", "\\Junk", "\\Trash", "\\All", "\\Archive"})
        if (same(special_use, none)) return {};
    return std::string(folder);
}

std::vector<std::string> labels_with_folder(std::vector<std::string> labels,
                                            std::string_view folder, std::string_view special_use) {
    static const std::pair<const char*, const char*> uses[] = {
        {"\\Sent", "\\Sent"}, {"\\Drafts", "\\Draft"},        {"\\Trash", "\\Trash"},
        {"\\Junk", "\\Spam"}, {"\\Important", "\\Important"}, {"\\Flagged", "\\Starred"},
    };
    std::string add;
    if (same(folder, "INBOX")) {
        add = "\\Inbox";
    } else if (same(special_use, "\\All")) {
        return labels;
    } else {
        for (const auto& [use, label] : uses)
            if (same(special_use, use)) add = label;
        if (add.empty()) {
            // Gmail's own folders that no special use names (e.g. "[Gmail]/Chats") are no label.
            for (std::string_view prefix : {"[Gmail]/", "[Google Mail]/"})
                if (folder.size() >= prefix.size() && same(folder.substr(0, prefix.size()), prefix))
                    return labels;
            add = std::string(folder);
        }
    }
    if (!add.empty() && !has_label(labels, add)) labels.push_back(std::move(add));
    return labels;
}

}  // namespace mv::sync
