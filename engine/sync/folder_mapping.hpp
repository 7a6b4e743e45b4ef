// Where `mailvault restore` puts each archived folder on the target, as pure functions (no
// network, no archive): explicit rules, special-use folders by attribute (RFC 6154), well-known
// names, the target's namespace prefix and delimiter (RFC 2342), and fallback names after the
// target refused a CREATE. See docs/restore.md, "Folder mapping".
//
// Flow: the caller lists the target (LIST with the SPECIAL-USE return option when offered, so
// the attributes are there), describes it as a target_layout, and calls plan_folder_mapping()
// once with every archived folder of the source accounts (not only those selected by --folder:
// the plan must not depend on the selection, or a rerun with another --folder could send a
// folder elsewhere). It carries the choices out per folder; when the target answers NO to a
// CREATE, fallback_folder_name() gives the next name to try (attempt 1, 2, ...).
#pragma once

#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sync/restore_plan.hpp"

namespace mv::sync {

// One folder on the target, from its LIST answer.
struct target_mailbox {
    std::string name;                     // UTF-8 (decoded), as on the target
    std::vector<std::string> attributes;  // LIST attributes incl. special-use, e.g. "\\Sent"
};

// What the plan needs to know of the target.
struct target_layout {
    std::string ns_prefix;  // personal namespace prefix, e.g. "INBOX." or ""
    char delim = 0;         // hierarchy delimiter (0: flat)
    std::vector<target_mailbox> mailboxes;
    bool create_special_use = false;  // CREATE-SPECIAL-USE offered: CREATE ... (USE (...))
};

// One archived folder to place.
struct mapping_source {
    std::string account;  // the archived account's name (only used in notes)
    std::string name;     // decoded UTF-8, as archived (mailbox_state::name)
    char delim = 0;       // its delimiter on the source (0: flat)
    // As archived (mailbox_state::special_use): one of \All \Archive \Drafts \Flagged \Junk
    // \Sent \Trash \Important; matched case-insensitively.
    std::optional<std::string> special_use;
};

// How a folder's target was chosen.
enum class folder_via {
    translated,    // its own name, translated for the target (map_folder_name)
    map_rule,      // an explicit rule (--map, then the target account's folder_map)
    special_use,   // the target's folder with the same special-use attribute
    well_known,    // a well-known name (e.g. "Sent Items") matched to a target special-use folder
    under_parent,  // below a parent folder that went to a special-use folder
    renamed,       // its choice already receives another source folder: a unique name instead
};
const char* to_string(folder_via v) noexcept;

struct folder_choice {
    std::string name;  // UTF-8 target name (with the target's prefix and delimiter)
    // Why, when it is not the plain translation, and anything worth reporting: "special-use
    // \Sent: 'Sent Items'", "map rule 'A=B'", a delimiter replaced, a shared target, ...
    std::string note;
    folder_via via = folder_via::translated;
    bool exists = false;  // the target lists it as a selectable folder (no CREATE needed)
    // Set when it must be created with CREATE name (USE (\Sent)) (RFC 6154); the same on every
    // choice sharing the folder. If the target answers NO [USEATTR] (or any NO to a CREATE with
    // USE), create it without USE and report it.
    std::optional<std::string> create_use;
    // Another source folder of this run goes to the same target folder (only ever for folders
    // of the same translated name from different accounts, or by explicit rules; noted).
    bool shared = false;
};

// The plan: one choice per source, in source order. Precedence per folder:
//  1. an explicit rule (the first matching one; rules also map subfolders) wins, always;
//  2. a special-use attribute \Sent \Drafts \Trash \Junk \Archive: the target's selectable
//     folder with that attribute, whatever it is called (the one named like the translation
//     first, then one that receives a folder of the same name from another account, else the
//     first by name no other source folder goes to); if the target has none: the translated
//     name, created with USE when CREATE-SPECIAL-USE is offered (one folder per attribute).
//     \All \Flagged \Important are virtual views: never a restore target, never created with
//     USE; such a folder is restored as a plain folder under its translated name (noted);
//  3. no attribute, a well-known name (well_known_special_use) at the top level or directly
//     under INBOX: the target's folder with that attribute, chosen the same way, when it has
//     one (never created with USE: a name is a guess, an attribute is a fact);
//  4. a folder below one that went by 2 or 3, or was renamed, follows it
//     ("Archive/2024" -> "Archives/2024");
//  5. otherwise the translated name (map_folder_name).
// Never a silent merge: automatic choices (2-4) never send a folder where a source folder of
// another name already goes. The folder with the attribute beats the one with only a name, the
// one whose name already is the target's beats the others, then source order. The loser keeps
// its translated name; when even that receives a folder of another name it gets a unique
// "NAME (restored N)" (noted, via renamed). Folders of the same (translated) name from several
// accounts go to the same place and share it (shared, noted on each), as do folders sent to one
// place by explicit rules. The plan depends only on its inputs: the same archive and target
// give the same plan on a rerun.
// Target names compare exactly, except INBOX (and an INBOX<delim> start), case-insensitively.
// A target folder listed \Noselect or \NonExistent does not count as existing.
std::vector<folder_choice> plan_folder_mapping(std::span<const mapping_source> sources,
                                               std::span<const folder_map_rule> rules,
                                               const target_layout& target);

// The special-use attribute among a folder's LIST attributes (case-insensitive), in its RFC
// 6154 spelling ("\\Sent"): \Sent \Drafts \Trash \Junk \Archive first, then \All \Flagged
// \Important (RFC 8457). nullopt when none.
std::optional<std::string> special_use_attribute(std::span<const std::string> attributes);

// True for \Sent \Drafts \Trash \Junk \Archive (any case): folders that hold their own messages
// and can be restore targets; false for the virtual \All \Flagged \Important and anything else.
bool is_restorable_special_use(std::string_view attribute) noexcept;

// The special-use attribute a folder without one is taken for by its name: Sent, Sent Items,
// Sent Messages, Sent Mail -> \Sent; Drafts -> \Drafts; Trash, Deleted Items, Deleted Messages
// -> \Trash; Junk, Spam, Junk E-mail, Junk Email -> \Junk; Archive, Archives -> \Archive.
// ASCII case-insensitive, the whole name at the top level or directly under INBOX (split at
// `delim`); nullopt otherwise.
std::optional<std::string> well_known_special_use(std::string_view name, char delim);

// The name to try after the target refused to CREATE `name` (NO). `ns_prefix` (when `name`
// starts with it) and a leading INBOX level are kept as they are; the levels after them (split
// at target_delim) are changed:
//  attempt 1: characters servers commonly refuse become '_': control characters, invalid UTF-8,
//             * % (LIST wildcards), " \ , '/' and '.' (when not the delimiter), a leading '~',
//             a leading '#' of the first level (namespace prefixes on Cyrus/Courier), leading
//             and trailing spaces; an empty level becomes "_";
//  attempt 2: attempt 1's name + " (restored N)", N = 1, 2, ... the first not in `taken`;
//  attempt 3 and later: only ASCII letters, digits, '-' and '_' are kept (every other
//             character, non-ASCII ones too, becomes '_') + "_restored_N", N as above.
// An attempt that would give `name` itself, or a name in `taken`, gives the next attempt's
// name instead: the result is never `name` and never in `taken` (INBOX case-insensitive).
// `taken`: the target names chosen for the other source folders of this run (plan and earlier
// fallbacks). Do not add the target's existing folders: on a rerun the fallback created by the
// first run must be chosen again (then it exists and receives the rest, per the ledger).
std::string fallback_folder_name(std::string_view name, std::string_view ns_prefix,
                                 char target_delim, int attempt,
                                 const std::set<std::string>& taken);

}  // namespace mv::sync
