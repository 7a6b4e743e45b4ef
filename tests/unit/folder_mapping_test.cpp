// Where restore puts each archived folder (sync/folder_mapping.hpp): rules, special-use by
// attribute, well-known names, never a silent merge, namespaces, fallback names.
#include <catch2/catch.hpp>

#include <algorithm>

#include "sync/folder_mapping.hpp"

using namespace mv::sync;

namespace {

const std::string sent = "\\Sent", drafts = "\\Drafts", trash = "\\Trash", junk = "\\Junk",
                  archive = "\\Archive";

mapping_source src(std::string name, char delim = '/', std::optional<std::string> use = {},
                   std::string account = "a") {
    return {std::move(account), std::move(name), delim, std::move(use)};
}

target_mailbox box(std::string name, std::vector<std::string> attrs = {}) {
    attrs.insert(attrs.begin(), "\\HasNoChildren");
    return {std::move(name), std::move(attrs)};
}

// Dovecot's default: namespace "" with '/', special-use folders by their English names.
target_layout dovecot() {
    target_layout t;
    t.ns_prefix = "";
    t.delim = '/';
    t.mailboxes = {box("INBOX"),          box("Drafts", {drafts}), box("Sent", {sent}),
                   box("Trash", {trash}), box("Junk", {junk}),     box("Archive", {archive})};
    t.create_special_use = true;
    return t;
}

// Dovecot with namespace "INBOX." and '.'.
target_layout dovecot_inbox() {
    target_layout t;
    t.ns_prefix = "INBOX.";
    t.delim = '.';
    t.mailboxes = {box("INBOX"), box("INBOX.Drafts", {drafts}), box("INBOX.Sent", {sent}),
                   box("INBOX.Trash", {trash}), box("INBOX.Junk", {junk})};
    t.create_special_use = true;
    return t;
}

// Cyrus (Debian default "INBOX." with '.'), its special-use folders named otherwise.
target_layout cyrus() {
    target_layout t;
    t.ns_prefix = "INBOX.";
    t.delim = '.';
    t.mailboxes = {box("INBOX"), box("INBOX.Sent Messages", {sent}),
                   box("INBOX.Deleted Messages", {trash}), box("INBOX.Spam", {junk})};
    t.create_special_use = true;
    return t;
}

// An Exchange-like target: Outlook names.
target_layout exchange() {
    target_layout t;
    t.ns_prefix = "";
    t.delim = '/';
    t.mailboxes = {box("INBOX"),
                   box("Drafts", {drafts}),
                   box("Sent Items", {sent}),
                   box("Deleted Items", {trash}),
                   box("Junk Email", {junk}),
                   box("Archives", {archive})};
    return t;
}

// A target with only INBOX.
target_layout bare(bool create_special_use) {
    target_layout t;
    t.delim = '/';
    t.mailboxes = {box("INBOX")};
    t.create_special_use = create_special_use;
    return t;
}

std::vector<folder_choice> plan(const std::vector<mapping_source>& s, const target_layout& t,
                                const std::vector<folder_map_rule>& rules = {}) {
    auto c = plan_folder_mapping(s, rules, t);
    REQUIRE(c.size() == s.size());
    return c;
}

folder_choice one(const mapping_source& s, const target_layout& t,
                  const std::vector<folder_map_rule>& rules = {}) {
    return plan({s}, t, rules).at(0);
}

bool has(const std::string& hay, const std::string& needle) {
    return hay.find(needle) != std::string::npos;
}

// Every name chosen by an automatic mapping is distinct, unless marked shared.
void check_no_silent_merge(const std::vector<folder_choice>& c) {
    for (std::size_t i = 0; i < c.size(); ++i)
        for (std::size_t j = i + 1; j < c.size(); ++j)
            if (c[i].name == c[j].name) {
                INFO(c[i].name);
                CHECK(c[i].shared);
                CHECK(c[j].shared);
            }
}

}  // namespace

TEST_CASE("folder mapping: LIST attributes to a special-use attribute", "[folder_mapping]") {
    using v = std::vector<std::string>;
    CHECK(special_use_attribute(v{"\\HasNoChildren", "\\sent"}) == "\\Sent");
    CHECK(special_use_attribute(v{"\\DRAFTS"}) == "\\Drafts");
    CHECK(special_use_attribute(v{"\\Trash"}) == "\\Trash");
    CHECK(special_use_attribute(v{"\\Junk"}) == "\\Junk");
    CHECK(special_use_attribute(v{"\\Archive"}) == "\\Archive");
    CHECK(special_use_attribute(v{"\\All", "\\Archive"}) == "\\Archive");  // a real one first
    CHECK(special_use_attribute(v{"\\All"}) == "\\All");
    CHECK(special_use_attribute(v{"\\Flagged"}) == "\\Flagged");
    CHECK(special_use_attribute(v{"\\Important"}) == "\\Important");
    CHECK_FALSE(special_use_attribute(v{"\\Noselect", "\\HasChildren", "\\Marked"}));
    CHECK_FALSE(special_use_attribute(v{"Sent"}));  // a name is no attribute
    CHECK_FALSE(special_use_attribute(v{}));
    for (const char* a : {"\\Sent", "\\drafts", "\\TRASH", "\\Junk", "\\Archive"})
        CHECK(is_restorable_special_use(a));
    for (const char* a : {"\\All", "\\Flagged", "\\Important", "\\Noselect", "Sent", ""})
        CHECK_FALSE(is_restorable_special_use(a));
}

TEST_CASE("folder mapping: well-known names at the top level or directly under INBOX",
          "[folder_mapping]") {
    CHECK(well_known_special_use("Sent", '/') == "\\Sent");
    CHECK(well_known_special_use("Sent Items", '/') == "\\Sent");
    CHECK(well_known_special_use("sent messages", '/') == "\\Sent");
    CHECK(well_known_special_use("Sent Mail", '/') == "\\Sent");
    CHECK(well_known_special_use("DRAFTS", '/') == "\\Drafts");
    CHECK(well_known_special_use("Trash", '/') == "\\Trash");
    CHECK(well_known_special_use("Deleted Items", '/') == "\\Trash");
    CHECK(well_known_special_use("Deleted Messages", '/') == "\\Trash");
    CHECK(well_known_special_use("Junk", '/') == "\\Junk");
    CHECK(well_known_special_use("Spam", '/') == "\\Junk");
    CHECK(well_known_special_use("Junk E-mail", '/') == "\\Junk");
    CHECK(well_known_special_use("Junk Email", '/') == "\\Junk");
    CHECK(well_known_special_use("Archive", '/') == "\\Archive");
    CHECK(well_known_special_use("Archives", '/') == "\\Archive");
    // Directly under INBOX (Courier, Cyrus), any case of INBOX.
    CHECK(well_known_special_use("INBOX.Sent", '.') == "\\Sent");
    CHECK(well_known_special_use("inbox/Junk E-mail", '/') == "\\Junk");
    // Anywhere else, or not quite the name: no.
    CHECK_FALSE(well_known_special_use("Projects/Sent", '/'));
    CHECK_FALSE(well_known_special_use("INBOX/Old/Trash", '/'));
    CHECK_FALSE(well_known_special_use("Sent Items 2019", '/'));
    CHECK_FALSE(well_known_special_use(" Sent", '/'));
    CHECK_FALSE(well_known_special_use("INBOX", '/'));
    CHECK_FALSE(well_known_special_use("Gesendete Objekte", '/'));  // only English names
    CHECK_FALSE(well_known_special_use("INBOX.Sent", 0));           // flat: one odd name
    CHECK(well_known_special_use("Sent", 0) == "\\Sent");
}

TEST_CASE("folder mapping: an explicit rule wins over the special-use attribute",
          "[folder_mapping]") {
    std::vector<folder_map_rule> rules = {{"Sent", "Old/Sent"}, {"Archive", "Past"}};
    auto c = one(src("Sent", '/', sent), dovecot(), rules);
    CHECK(c.name == "Old/Sent");
    CHECK(c.via == folder_via::map_rule);
    CHECK(has(c.note, "map rule 'Sent=Old/Sent'"));
    CHECK_FALSE(c.exists);
    CHECK_FALSE(c.create_use);
    // A rule maps subfolders too, and beats a well-known name.
    c = one(src("Archive/2024"), dovecot(), rules);
    CHECK(c.name == "Past/2024");
    CHECK(c.via == folder_via::map_rule);
    c = one(src("Archive"), dovecot(), rules);
    CHECK(c.name == "Past");
    // The first matching rule wins (--map rules come before the config's).
    std::vector<folder_map_rule> two = {{"Sent", "A"}, {"Sent", "B"}};
    CHECK(one(src("Sent", '/', sent), dovecot(), two).name == "A");
    // With the target's prefix and delimiter.
    c = one(src("Sent", '/', sent), dovecot_inbox(), rules);
    CHECK(c.name == "INBOX.Old.Sent");
}

TEST_CASE("folder mapping: special-use attribute goes to the target folder with it",
          "[folder_mapping]") {
    // Outlook/Exchange names to Dovecot.
    auto c = one(src("Sent Items", '/', sent), dovecot());
    CHECK(c.name == "Sent");
    CHECK(c.via == folder_via::special_use);
    CHECK(c.exists);
    CHECK_FALSE(c.create_use);
    CHECK(has(c.note, "special-use \\Sent: 'Sent'"));
    CHECK(one(src("Deleted Items", '/', trash), dovecot()).name == "Trash");
    CHECK(one(src("Junk E-mail", '/', junk), dovecot()).name == "Junk");
    CHECK(one(src("Drafts", '/', drafts), dovecot()).name == "Drafts");
    CHECK(one(src("Archive", '/', archive), exchange()).name == "Archives");
    // Dovecot names to Exchange.
    CHECK(one(src("Sent", '/', sent), exchange()).name == "Sent Items");
    CHECK(one(src("Trash", '/', trash), exchange()).name == "Deleted Items");
    CHECK(one(src("Junk", '/', junk), exchange()).name == "Junk Email");
    // The archived attribute is matched in any case.
    CHECK(one(src("Gesendet", '/', std::string("\\SENT")), dovecot()).name == "Sent");
    // Into a prefixed namespace: the target's folder, not a translation.
    CHECK(one(src("Sent Items", '/', sent), dovecot_inbox()).name == "INBOX.Sent");
    c = one(src("Trash", '/', trash), cyrus());
    CHECK(c.name == "INBOX.Deleted Messages");
    CHECK(c.exists);
    // The same folder name on both sides: plainly itself.
    c = one(src("Sent", '/', sent), dovecot());
    CHECK(c.name == "Sent");
    CHECK(c.via == folder_via::special_use);
}

TEST_CASE("folder mapping: special-use attribute the target lacks, created with USE when offered",
          "[folder_mapping]") {
    auto c = one(src("Sent Items", '/', sent), bare(true));
    CHECK(c.name == "Sent Items");
    CHECK_FALSE(c.exists);
    REQUIRE(c.create_use);
    CHECK(*c.create_use == "\\Sent");
    CHECK(has(c.note, "created with USE (\\Sent)"));

    c = one(src("Sent Items", '/', sent), bare(false));
    CHECK(c.name == "Sent Items");
    CHECK_FALSE(c.create_use);
    CHECK(has(c.note, "does not offer CREATE-SPECIAL-USE"));

    // The translated name exists without the attribute: restored into it, nothing created.
    auto t = bare(true);
    t.mailboxes.push_back(box("Sent Items"));
    c = one(src("Sent Items", '/', sent), t);
    CHECK(c.exists);
    CHECK_FALSE(c.create_use);
    CHECK(has(c.note, "restored into the existing 'Sent Items'"));

    // Only one folder is created as the target's \Sent.
    auto two = plan({src("Sent", '/', sent, "a"), src("Sent Items", '/', sent, "b")}, bare(true));
    CHECK(two[0].name == "Sent");
    CHECK(two[0].create_use == "\\Sent");
    CHECK(two[1].name == "Sent Items");
    CHECK_FALSE(two[1].create_use);
    CHECK(has(two[1].note, "'a/Sent' is created as its \\Sent: this one as a plain folder"));
    check_no_silent_merge(two);
    // Folders of one name from two accounts: whichever is restored first creates it with USE.
    two = plan({src("Sent", '/', sent, "a"), src("Sent", '/', sent, "b")}, bare(true));
    CHECK(two[0].create_use == "\\Sent");
    CHECK(two[1].create_use == "\\Sent");
    CHECK(two[1].shared);

    // Cyrus-like target without a Drafts folder.
    c = one(src("Drafts", '/', drafts), cyrus());
    CHECK(c.name == "INBOX.Drafts");
    CHECK(c.create_use == "\\Drafts");
}

TEST_CASE("folder mapping: All, Flagged and Important are virtual, restored under their own name",
          "[folder_mapping]") {
    auto t = dovecot();
    t.mailboxes.push_back(box("All Mail", {"\\All"}));
    t.mailboxes.push_back(box("Flagged", {"\\Flagged"}));
    auto c = one(src("[Gmail]/All Mail", '/', std::string("\\All")), t);
    CHECK(c.name == "[Gmail]/All Mail");
    CHECK(c.via == folder_via::translated);
    CHECK_FALSE(c.create_use);
    CHECK(has(c.note, "virtual"));
    c = one(src("[Gmail]/Starred", '/', std::string("\\Flagged")), t);
    CHECK(c.name == "[Gmail]/Starred");
    CHECK_FALSE(c.create_use);
    c = one(src("[Gmail]/Important", '/', std::string("\\Important")), bare(true));
    CHECK(c.name == "[Gmail]/Important");
    CHECK_FALSE(c.create_use);
    // A virtual folder is never chosen for a special-use source either.
    t.mailboxes = {box("INBOX"), box("All Mail", {"\\All", "\\Archive"})};
    c = one(src("Archive", '/', archive), t);
    CHECK(c.name == "All Mail");  // it has \Archive too: a real archive folder
    t.mailboxes = {box("INBOX"), box("All Mail", {"\\All"})};
    c = one(src("Archive", '/', archive), t);
    CHECK(c.name == "Archive");
}

TEST_CASE("folder mapping: well-known names without attribute go to the target special-use folder",
          "[folder_mapping]") {
    // Outlook without SPECIAL-USE to Dovecot.
    auto c = one(src("Sent Items"), dovecot());
    CHECK(c.name == "Sent");
    CHECK(c.via == folder_via::well_known);
    CHECK(c.exists);
    CHECK(has(c.note, "well-known name 'Sent Items' taken for \\Sent: 'Sent'"));
    CHECK(one(src("Deleted Items"), dovecot()).name == "Trash");
    CHECK(one(src("Junk E-mail"), dovecot()).name == "Junk");
    CHECK(one(src("spam"), dovecot()).name == "Junk");
    CHECK(one(src("Deleted Messages"), dovecot_inbox()).name == "INBOX.Trash");
    // Courier/Cyrus source "INBOX.Sent" (no attribute) to an Exchange-like target.
    c = one(src("INBOX.Sent", '.'), exchange());
    CHECK(c.name == "Sent Items");
    CHECK(c.via == folder_via::well_known);
    // Not at the top level: its own name.
    c = one(src("Projects/Sent Items"), dovecot());
    CHECK(c.name == "Projects/Sent Items");
    CHECK(c.via == folder_via::translated);
    // The target has no such folder: its own name, never created with USE.
    c = one(src("Sent Items"), bare(true));
    CHECK(c.name == "Sent Items");
    CHECK(c.via == folder_via::translated);
    CHECK_FALSE(c.create_use);
    // Never to a target folder that only carries the name.
    auto t = bare(true);
    t.mailboxes.push_back(box("Sent"));
    CHECK(one(src("Sent Items"), t).name == "Sent Items");
}

TEST_CASE("folder mapping: never a silent merge, the attribute beats the name",
          "[folder_mapping]") {
    // Source "Sent" with the attribute and a leftover "Sent Items" without: in either order,
    // only the one with the attribute goes to the target's Sent folder.
    for (bool swap : {false, true}) {
        std::vector<mapping_source> s = {src("Sent", '/', sent), src("Sent Items")};
        if (swap) std::swap(s[0], s[1]);
        auto c = plan(s, dovecot());
        const auto& with = c[swap ? 1 : 0];
        const auto& without = c[swap ? 0 : 1];
        CHECK(with.name == "Sent");
        CHECK(with.via == folder_via::special_use);
        CHECK(without.name == "Sent Items");
        CHECK(without.via == folder_via::translated);
        CHECK_FALSE(without.exists);
        CHECK(has(without.note, "already receives 'a/Sent'"));
        CHECK(has(without.note, "kept its own name"));
        CHECK_FALSE(with.shared);
        CHECK_FALSE(without.shared);
        check_no_silent_merge(c);
    }
    // The attribute's folder takes the target's "Sent Items"; the other "Sent Items" would land
    // in it by its own name: a unique name instead.
    for (bool swap : {false, true}) {
        std::vector<mapping_source> s = {src("Sent", '/', sent), src("Sent Items")};
        if (swap) std::swap(s[0], s[1]);
        auto c = plan(s, exchange());
        const auto& with = c[swap ? 1 : 0];
        const auto& without = c[swap ? 0 : 1];
        CHECK(with.name == "Sent Items");
        CHECK(without.name == "Sent Items (restored 1)");
        CHECK(without.via == folder_via::renamed);
        CHECK_FALSE(without.exists);
        CHECK(has(without.note,
                  "'Sent Items' already receives 'a/Sent': restored as 'Sent Items "
                  "(restored 1)'"));
        check_no_silent_merge(c);
    }
}

TEST_CASE("folder mapping: two well-known names, the one already named like the target wins",
          "[folder_mapping]") {
    for (bool swap : {false, true}) {
        std::vector<mapping_source> s = {src("Sent Messages"), src("Sent")};
        if (swap) std::swap(s[0], s[1]);
        auto c = plan(s, dovecot());
        CHECK(c[swap ? 1 : 0].name == "Sent Messages");
        CHECK(c[swap ? 1 : 0].via == folder_via::translated);
        CHECK(c[swap ? 0 : 1].name == "Sent");
        CHECK(c[swap ? 0 : 1].via == folder_via::well_known);
        check_no_silent_merge(c);
    }
    // Neither named like the target's: source order decides.
    auto c = plan({src("Sent Items"), src("Sent Messages")}, dovecot_inbox());
    CHECK(c[0].name == "INBOX.Sent");
    CHECK(c[1].name == "INBOX.Sent Messages");
    check_no_silent_merge(c);
    // Two folders with the attribute: the first goes to the target's, the second keeps its name.
    c = plan({src("Sent Items", '/', sent), src("Gesendet", '/', sent)}, dovecot());
    CHECK(c[0].name == "Sent");
    CHECK(c[1].name == "Gesendet");
    CHECK(has(c[1].note, "the target's \\Sent folder 'Sent' already receives 'a/Sent Items'"));
    check_no_silent_merge(c);
}

TEST_CASE("folder mapping: a target with several folders of one special use", "[folder_mapping]") {
    auto t = dovecot();
    t.mailboxes.push_back(box("Sent Items", {sent}));
    // The one named like the translation first.
    auto c = one(src("Sent Items", '/', sent), t);
    CHECK(c.name == "Sent Items");
    CHECK(has(c.note, "the target has 2 \\Sent folders: 'Sent', 'Sent Items'"));
    // Otherwise the first by name that no other source folder goes to.
    auto two = plan({src("Gesendet", '/', sent), src("Sent", '/', sent)}, t);
    CHECK(two[1].name == "Sent");        // by its own name, placed first
    CHECK(two[0].name == "Sent Items");  // the free one
    check_no_silent_merge(two);
    // \Noselect or \NonExistent folders are never chosen.
    t = dovecot();
    t.mailboxes[2].attributes.push_back("\\Noselect");
    t.mailboxes.push_back(box("Sent Messages", {sent}));
    CHECK(one(src("Sent", '/', sent), t).name == "Sent Messages");
}

TEST_CASE("folder mapping: restoring into the account the folders came from keeps every name",
          "[folder_mapping]") {
    auto t = dovecot();
    t.mailboxes.push_back(box("Sent Items"));
    t.mailboxes.push_back(box("Archive/2024"));
    t.mailboxes.push_back(box("Old Trash", {trash}));
    std::vector<mapping_source> s;
    for (const auto& m : t.mailboxes)
        s.push_back(src(m.name, '/', special_use_attribute(m.attributes)));
    std::reverse(s.begin(), s.end());  // order does not matter
    auto c = plan(s, t);
    for (std::size_t i = 0; i < s.size(); ++i) {
        INFO(s[i].name);
        CHECK(c[i].name == s[i].name);
        CHECK(c[i].exists);
        CHECK_FALSE(c[i].shared);
        CHECK(c[i].via != folder_via::renamed);
        CHECK_FALSE(c[i].create_use);
    }
}

TEST_CASE("folder mapping: folders of the same name from several accounts share, reported",
          "[folder_mapping]") {
    auto c =
        plan({src("INBOX", '/', {}, "a"), src("INBOX", '.', {}, "b"), src("Sent", '/', sent, "a"),
              src("Sent", '/', sent, "b"), src("Sent Items", '/', sent, "c")},
             dovecot());
    CHECK(c[0].name == "INBOX");
    CHECK(c[1].name == "INBOX");
    CHECK(c[0].shared);
    CHECK(c[1].shared);
    CHECK(has(c[1].note, "shares 'INBOX' with 'a/INBOX' (same name)"));
    CHECK(has(c[0].note, "'INBOX' also receives other source folders"));
    CHECK(c[2].name == "Sent");
    CHECK(c[3].name == "Sent");
    CHECK(c[3].via == folder_via::special_use);
    CHECK(c[2].shared);
    CHECK(c[3].shared);
    // Another name: not merged into them.
    CHECK(c[4].name == "Sent Items");
    CHECK_FALSE(c[4].shared);
    CHECK(has(c[4].note, "already receives 'a/Sent'"));
    check_no_silent_merge(c);

    // Same names go to the same place, whether mapped, renamed or below a mapped folder.
    c = plan({src("Sent", '/', sent, "a"), src("Sent Items", '/', {}, "a"),
              src("Sent", '/', sent, "b"), src("Sent Items", '/', {}, "b"),
              src("Sent Items/2019", '/', {}, "b"), src("Sent Items/2019", '/', {}, "a")},
             exchange());
    CHECK(c[0].name == "Sent Items");
    CHECK(c[2].name == "Sent Items");
    CHECK(c[1].name == "Sent Items (restored 1)");
    CHECK(c[3].name == "Sent Items (restored 1)");
    CHECK(c[3].via == folder_via::renamed);
    CHECK(has(c[3].note, "shares 'Sent Items (restored 1)' with 'a/Sent Items' (same name)"));
    CHECK(c[4].name == "Sent Items (restored 1)/2019");
    CHECK(c[5].name == "Sent Items (restored 1)/2019");
    check_no_silent_merge(c);
}

TEST_CASE("folder mapping: explicit rules may merge, and it is reported", "[folder_mapping]") {
    std::vector<folder_map_rule> rules = {{"Old Sent", "Sent"}, {"Outbox", "Sent"}};
    auto c = plan({src("Old Sent"), src("Sent", '/', sent), src("Outbox")}, dovecot(), rules);
    for (const auto& x : c) {
        CHECK(x.name == "Sent");
        CHECK(x.shared);
        CHECK(x.exists);
    }
    CHECK(c[0].via == folder_via::map_rule);
    CHECK(c[1].via == folder_via::special_use);
    CHECK(c[2].via == folder_via::map_rule);
    CHECK(has(c[2].note, "shares 'Sent' with 'a/Old Sent' (map rules)"));
    // A rule to the place another folder would take by mapping: the rule gets it.
    rules = {{"Misc", "Trash"}};
    c = plan({src("Deleted Items", '/', trash), src("Misc")}, dovecot(), rules);
    CHECK(c[1].name == "Trash");
    CHECK(c[0].name == "Deleted Items");
    CHECK_FALSE(c[0].shared);
    check_no_silent_merge(c);
}

TEST_CASE("folder mapping: subfolders follow a folder mapped by special use", "[folder_mapping]") {
    auto c = plan({src("Archive/2024/Q1"), src("Archive", '/', archive), src("Archive/2024"),
                   src("Archive/v1.2")},
                  exchange());
    CHECK(c[1].name == "Archives");
    CHECK(c[2].name == "Archives/2024");
    CHECK(c[2].via == folder_via::under_parent);
    CHECK(has(c[2].note, "below 'Archive', which goes to 'Archives'"));
    CHECK(c[0].name == "Archives/2024/Q1");
    CHECK(c[3].name == "Archives/v1.2");
    // Into a '.' namespace: the delimiter in a name is replaced, and noted.
    auto t = dovecot_inbox();
    t.mailboxes.push_back(box("INBOX.Archives", {archive}));
    c = plan({src("Archive", '/', archive), src("Archive/v1.2"), src("Archive/2024")}, t);
    CHECK(c[0].name == "INBOX.Archives");
    CHECK(c[1].name == "INBOX.Archives.v1_2");
    CHECK(has(c[1].note, "'v1.2' contains the target's hierarchy delimiter"));
    CHECK(c[2].name == "INBOX.Archives.2024");
    // Below a well-known name too, and below a renamed folder.
    c = plan({src("Sent Items/2019"), src("Sent Items")}, dovecot());
    CHECK(c[0].name == "Sent/2019");
    c = plan({src("Sent", '/', sent), src("Sent Items"), src("Sent Items/2019")}, exchange());
    CHECK(c[1].name == "Sent Items (restored 1)");
    CHECK(c[2].name == "Sent Items (restored 1)/2019");
    // Below a folder that kept its name: its own translation.
    c = plan({src("Projects"), src("Projects/Sent")}, dovecot());
    CHECK(c[1].name == "Projects/Sent");
    CHECK(c[1].via == folder_via::translated);
    // A subfolder with its own attribute goes by it.
    c = plan({src("Archive", '/', archive), src("Archive/Junk", '/', junk)}, exchange());
    CHECK(c[1].name == "Junk Email");
}

TEST_CASE("folder mapping: namespace prefix and separator combinations", "[folder_mapping]") {
    // Dovecot "" + "/".
    auto c = plan({src("Archive/2024"), src("INBOX/Sub"), src("inbox")}, dovecot());
    CHECK(c[0].name == "Archive/2024");
    CHECK(c[1].name == "INBOX/Sub");
    CHECK(c[2].name == "INBOX");
    CHECK(c[2].exists);
    // Dovecot "INBOX." + ".".
    c = plan({src("Archive/2024"), src("INBOX/Sub"), src("Sent", '/', sent), src("a.b/c")},
             dovecot_inbox());
    CHECK(c[0].name == "INBOX.Archive.2024");
    CHECK(c[1].name == "INBOX.Sub");
    CHECK(c[2].name == "INBOX.Sent");
    CHECK(c[2].exists);
    CHECK(c[3].name == "INBOX.a_b.c");
    CHECK(has(c[3].note, "'a.b' contains the target's hierarchy delimiter"));
    // Cyrus "INBOX." + "." as source and as target.
    c = plan({src("INBOX.Sent Messages", '.', sent), src("INBOX.Projects", '.')}, dovecot());
    CHECK(c[0].name == "Sent");
    CHECK(c[1].name == "INBOX/Projects");
    c = plan({src("Sent", '/', sent), src("Trash", '/', trash), src("Spam"), src("Work/2024")},
             cyrus());
    CHECK(c[0].name == "INBOX.Sent Messages");
    CHECK(c[1].name == "INBOX.Deleted Messages");
    CHECK(c[2].name == "INBOX.Spam");
    CHECK(c[2].exists);
    CHECK(c[3].name == "INBOX.Work.2024");
    CHECK_FALSE(c[3].exists);
    // Flat source and flat target.
    target_layout flat;
    flat.mailboxes = {box("INBOX"), box("Sent", {sent})};
    c = plan({src("Sent Items", 0, sent), src("a/b", 0)}, flat);
    CHECK(c[0].name == "Sent");
    CHECK(c[1].name == "a/b");
}

TEST_CASE("folder mapping: INBOX compares case-insensitively, other names exactly",
          "[folder_mapping]") {
    auto t = dovecot_inbox();
    t.mailboxes[0].name = "Inbox";
    t.mailboxes.push_back(box("inbox.Projects"));
    t.mailboxes.push_back(box("INBOX.work"));
    auto c = plan({src("INBOX"), src("Projects"), src("Work")}, t);
    CHECK(c[0].exists);
    CHECK(c[1].name == "INBOX.Projects");
    CHECK(c[1].exists);  // "inbox.Projects": INBOX in any case
    CHECK(c[2].name == "INBOX.Work");
    CHECK_FALSE(c[2].exists);  // "INBOX.work" is another folder
}

TEST_CASE("folder mapping: non-ASCII names", "[folder_mapping]") {
    auto t = dovecot();
    t.mailboxes.push_back(box("Éléments envoyés", {sent}));
    t.mailboxes.push_back(box("Корзина", {trash}));
    auto c = plan({src("Gesendete Objekte", '/', sent), src("Papierkorb", '/', trash),
                   src("Entwürfe", '/', drafts), src("Projets/Été"), src("Éléments envoyés")},
                  t);
    // Two \Sent on the target: the first by name (byte order: "Sent" < "É...").
    CHECK(c[0].name == "Sent");
    CHECK(c[1].name == "Trash");
    CHECK(c[2].name == "Drafts");
    CHECK(c[3].name == "Projets/Été");
    CHECK_FALSE(c[3].exists);
    // No attribute, no English name: by its own name, into the folder of that name.
    CHECK(c[4].name == "Éléments envoyés");
    CHECK(c[4].exists);
    check_no_silent_merge(c);
    c = plan({src("Éléments envoyés", '/', sent)}, t);
    CHECK(c[0].name == "Éléments envoyés");
    c = plan({src("Корзина", '/', trash)}, t);
    CHECK(c[0].name == "Корзина");
    CHECK(c[0].via == folder_via::special_use);
}

TEST_CASE("folder mapping: Noselect and NonExistent target folders do not count as existing",
          "[folder_mapping]") {
    auto t = dovecot();
    t.mailboxes.push_back({"Lists", {"\\Noselect", "\\HasChildren"}});
    t.mailboxes.push_back({"Gone", {"\\NonExistent"}});
    auto c = plan({src("Lists"), src("Gone")}, t);
    CHECK_FALSE(c[0].exists);
    CHECK(has(c[0].note, "only as a \\Noselect folder"));
    CHECK_FALSE(c[1].exists);
    CHECK(c[1].note.empty());
}

TEST_CASE("folder mapping: to_string of the ways", "[folder_mapping]") {
    CHECK(std::string(to_string(folder_via::translated)) == "translated");
    CHECK(std::string(to_string(folder_via::map_rule)) == "map-rule");
    CHECK(std::string(to_string(folder_via::special_use)) == "special-use");
    CHECK(std::string(to_string(folder_via::well_known)) == "well-known");
    CHECK(std::string(to_string(folder_via::under_parent)) == "under-parent");
    CHECK(std::string(to_string(folder_via::renamed)) == "renamed");
}

TEST_CASE("folder fallback: attempt 1 replaces what servers commonly refuse", "[folder_mapping]") {
    const std::set<std::string> none;
    CHECK(fallback_folder_name("Foo*bar", "", '/', 1, none) == "Foo_bar");
    CHECK(fallback_folder_name("a%b\"c\\d", "", '/', 1, none) == "a_b_c_d");
    CHECK(fallback_folder_name("a\tb\x7f", "", '/', 1, none) == "a_b_");
    CHECK(fallback_folder_name("~home", "", '/', 1, none) == "_home");
    CHECK(fallback_folder_name(".hidden/v1.2", "", '/', 1, none) == "_hidden/v1_2");
    CHECK(fallback_folder_name("#news", "", '/', 1, none) == "_news");
    CHECK(fallback_folder_name("a/#news", "", '/', 1, none) == "a/#news (restored 1)");
    CHECK(fallback_folder_name("  Sent  ", "", '/', 1, none) == "__Sent__");
    CHECK(fallback_folder_name("a//b", "", '/', 1, none) == "a/_/b");
    CHECK(fallback_folder_name("Foo*/Bar%/x", "", '/', 1, none) == "Foo_/Bar_/x");
    CHECK(fallback_folder_name("a/b*", "", '.', 1, none) == "a_b_");
    CHECK(fallback_folder_name("a/b*", "", 0, 1, none) == "a_b_");
    // The namespace prefix and a leading INBOX level stay.
    CHECK(fallback_folder_name("INBOX.~Foo*", "INBOX.", '.', 1, none) == "INBOX._Foo_");
    CHECK(fallback_folder_name("INBOX/Foo*", "", '/', 1, none) == "INBOX/Foo_");
    CHECK(fallback_folder_name("#mail/x*", "#mail/", '/', 1, none) == "#mail/x_");
    // UTF-8 stays; invalid UTF-8 does not.
    CHECK(fallback_folder_name("Été*", "", '/', 1, none) == "Été_");
    CHECK(fallback_folder_name("a\xff\xc3(", "", '/', 1, none) == "a__(");
    CHECK(fallback_folder_name("\xed\xa0\x80x", "", '/', 1, none) == "___x");  // a surrogate
    // Nothing to replace: attempt 2 at once, never the refused name again.
    CHECK(fallback_folder_name("Plain", "", '/', 1, none) == "Plain (restored 1)");
    CHECK(fallback_folder_name("INBOX.Sub", "INBOX.", '.', 1, none) == "INBOX.Sub (restored 1)");
}

TEST_CASE("folder fallback: attempt 2 adds restored N, attempt 3 is strict, never taken",
          "[folder_mapping]") {
    std::set<std::string> taken;
    CHECK(fallback_folder_name("Foo*bar", "", '/', 2, taken) == "Foo_bar (restored 1)");
    taken = {"Foo_bar", "Foo_bar (restored 1)"};
    CHECK(fallback_folder_name("Foo*bar", "", '/', 1, taken) == "Foo_bar (restored 2)");
    CHECK(fallback_folder_name("Foo*bar", "", '/', 2, taken) == "Foo_bar (restored 2)");
    CHECK(fallback_folder_name("Été*", "", '/', 3, {}) == "_t___restored_1");
    CHECK(fallback_folder_name("Été*", "", '/', 4, {}) == "_t___restored_2");
    CHECK(fallback_folder_name("INBOX.Projets Été", "INBOX.", '.', 3, {}) ==
          "INBOX.Projets__t__restored_1");
    CHECK(fallback_folder_name("x", "", '/', 0, {}) == "x (restored 1)");  // attempt < 1 is 1
    // INBOX in any case counts as taken.
    taken = {"inbox.Foo_"};
    CHECK(fallback_folder_name("INBOX.Foo*", "INBOX.", '.', 1, taken) == "INBOX.Foo_ (restored 1)");

    // Whatever the attempt, never a name in taken and never the name itself; with each result
    // added to taken, every attempt gives a new name.
    for (const char* name : {"Foo*bar", "Plain", "INBOX.Été", "a/b/c"}) {
        std::set<std::string> seen = {"Foo_bar", "Plain (restored 1)", "_t___restored_1"};
        for (int attempt = 1; attempt <= 6; ++attempt) {
            auto r = fallback_folder_name(name, "INBOX.", '.', attempt, seen);
            INFO(name << " attempt " << attempt << " -> " << r);
            CHECK(r != name);
            CHECK_FALSE(seen.count(r));
            CHECK_FALSE(r.empty());
            seen.insert(r);
        }
    }
}
