// folder_selected / folder_pattern_matches: IMAP LIST wildcards, the plain-name-includes-children
// rule, exclude winning over include, INBOX case-insensitivity, flat namespaces.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "mailvault/config.hpp"

using namespace mv::config;

namespace {

account with_patterns(std::vector<std::string> folders, std::vector<std::string> exclude) {
    account a;
    a.folders = std::move(folders);
    a.exclude = std::move(exclude);
    return a;
}

}  // namespace

TEST_CASE("folders: * crosses the hierarchy, % stays within one level", "[config][folders]") {
    CHECK(folder_pattern_matches("*", "INBOX", '/'));
    CHECK(folder_pattern_matches("*", "a/b/c", '/'));
    CHECK(folder_pattern_matches("%", "Sent", '/'));
    CHECK_FALSE(folder_pattern_matches("%", "a/b", '/'));
    CHECK(folder_pattern_matches("Archive/%", "Archive/2020", '/'));
    CHECK_FALSE(folder_pattern_matches("Archive/%", "Archive/2020/Jan", '/'));
    CHECK_FALSE(folder_pattern_matches("Archive/%", "Archive", '/'));
    CHECK(folder_pattern_matches("Archive/*", "Archive/2020/Jan", '/'));
    CHECK(folder_pattern_matches("Archive.%", "Archive.2020", '.'));
    CHECK_FALSE(folder_pattern_matches("Archive.%", "Archive.2020.Jan", '.'));
    CHECK(folder_pattern_matches("*/Drafts", "Work/Drafts", '/'));
    CHECK(folder_pattern_matches("*/Drafts", "Work/x/Drafts", '/'));
    CHECK_FALSE(folder_pattern_matches("%/Drafts", "Work/x/Drafts", '/'));
    CHECK(folder_pattern_matches("Li%s", "Lists", '/'));
    CHECK_FALSE(folder_pattern_matches("Li%s", "Li/ss", '/'));
    CHECK(folder_pattern_matches("*a*a*a*a*a*b", std::string(40, 'a') + "b", '/'));
    CHECK_FALSE(folder_pattern_matches("*a*a*a*a*a*b", std::string(200, 'a'), '/'));
    // Wildcard patterns match exactly, with no implicit children.
    CHECK_FALSE(folder_pattern_matches("Sen%", "Sent/Old", '/'));
    // UTF-8 names are compared byte for byte.
    CHECK(folder_pattern_matches("Entw%rfe", "Entwürfe", '/'));
    CHECK(folder_pattern_matches("Архив/*", "Архив/2020", '/'));
}

TEST_CASE("folders: a plain name selects the folder and its children", "[config][folders]") {
    CHECK(folder_pattern_matches("Trash", "Trash", '/'));
    CHECK(folder_pattern_matches("Trash", "Trash/sub", '/'));
    CHECK(folder_pattern_matches("Trash", "Trash/sub/deeper", '/'));
    CHECK_FALSE(folder_pattern_matches("Trash", "Trashcan", '/'));
    CHECK_FALSE(folder_pattern_matches("Trash", "Old/Trash", '/'));
    CHECK_FALSE(folder_pattern_matches("Trash", "Trash/", '/'));
    CHECK(folder_pattern_matches("Trash", "Trash.sub", '.'));
    CHECK_FALSE(folder_pattern_matches("Trash", "Trash/sub", '.'));  // '/' is no delimiter here
    CHECK(folder_pattern_matches("Work/Old", "Work/Old/2019", '/'));
    CHECK_FALSE(folder_pattern_matches("Work/Old", "Work", '/'));
    // Flat namespace (NIL delimiter): no children.
    CHECK(folder_pattern_matches("Trash", "Trash", '\0'));
    CHECK_FALSE(folder_pattern_matches("Trash", "Trash/sub", '\0'));
    CHECK(folder_pattern_matches("%", "a/b", '\0'));
}

TEST_CASE("folders: INBOX is case-insensitive, other names are not", "[config][folders]") {
    CHECK(folder_pattern_matches("inbox", "INBOX", '/'));
    CHECK(folder_pattern_matches("INBOX", "Inbox", '/'));
    CHECK(folder_pattern_matches("Inbox", "INBOX/Sub", '/'));
    CHECK(folder_pattern_matches("INBOX/%", "inbox/Sub", '/'));
    CHECK_FALSE(folder_pattern_matches("INBOX/sub", "INBOX/Sub", '/'));
    CHECK_FALSE(folder_pattern_matches("trash", "Trash", '/'));
    CHECK_FALSE(folder_pattern_matches("INBOX", "INBOXES", '/'));
}

TEST_CASE("folders: include then exclude, exclude wins", "[config][folders]") {
    account all = with_patterns({"*"}, {"Trash", "Spam"});
    CHECK(folder_selected(all, "INBOX", '/'));
    CHECK(folder_selected(all, "Work/Projects", '/'));
    CHECK_FALSE(folder_selected(all, "Trash", '/'));
    CHECK_FALSE(folder_selected(all, "Trash/Old", '/'));
    CHECK_FALSE(folder_selected(all, "Spam", '/'));
    CHECK(folder_selected(all, "Spammy", '/'));

    account some = with_patterns({"INBOX", "Archive/%"}, {"Archive/Tmp"});
    CHECK(folder_selected(some, "INBOX", '/'));
    CHECK(folder_selected(some, "INBOX/Receipts", '/'));  // plain name includes children
    CHECK(folder_selected(some, "Archive/2020", '/'));
    CHECK_FALSE(folder_selected(some, "Archive", '/'));
    CHECK_FALSE(folder_selected(some, "Archive/2020/Jan", '/'));
    CHECK_FALSE(folder_selected(some, "Archive/Tmp", '/'));
    CHECK_FALSE(folder_selected(some, "Sent", '/'));

    account defaults;
    CHECK(defaults.folders == std::vector<std::string>{"*"});
    CHECK(folder_selected(defaults, "anything/at/all", '/'));

    account none = with_patterns({"*"}, {"*"});
    CHECK_FALSE(folder_selected(none, "INBOX", '/'));
}
