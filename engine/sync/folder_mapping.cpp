#include "sync/folder_mapping.hpp"

#include <algorithm>
#include <map>

namespace mv::sync {

const char* to_string(folder_via v) noexcept {
    switch (v) {
        case folder_via::translated: return "translated";
        case folder_via::map_rule: return "map-rule";
        case folder_via::special_use: return "special-use";
        case folder_via::well_known: return "well-known";
        case folder_via::under_parent: return "under-parent";
        case folder_via::renamed: return "renamed";
    }
    return "?";
}

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

// The spelling a target name is compared by: INBOX, and an INBOX<delim> start, in upper case.
std::string canonical(std::string_view name, char delim) {
    std::string out(name);
    if (out.size() >= 5 && iequal(std::string_view(out).substr(0, 5), "INBOX") &&
        (out.size() == 5 || (delim != 0 && out[5] == delim)))
        out.replace(0, 5, "INBOX");
    return out;
}

// RFC 6154 attributes (and RFC 8457's \Important) in the order they are preferred.
constexpr std::string_view restorable_uses[] = {"\\Sent", "\\Drafts", "\\Trash", "\\Junk",
                                                "\\Archive"};
constexpr std::string_view virtual_uses[] = {"\\All", "\\Flagged", "\\Important"};

bool has_attribute(const target_mailbox& m, std::string_view a) {
    for (const auto& x : m.attributes)
        if (iequal(x, a)) return true;
    return false;
}

bool selectable(const target_mailbox& m) {
    return !has_attribute(m, "\\Noselect") && !has_attribute(m, "\\NonExistent");
}

std::string in_quotes(std::string_view s) {
    return "'" + std::string(s) + "'";
}

void add_note(std::string& note, const std::string& what) {
    if (what.empty()) return;
    note += (note.empty() ? "" : "; ") + what;
}

// The first rule that maps `name` (or an ancestor of it), as map_folder_name matches them.
const folder_map_rule* matching_rule(std::string_view name, char delim,
                                     std::span<const folder_map_rule> rules) {
    auto parts = split_levels(name, delim);
    std::string slash;
    for (std::size_t i = 0; i < parts.size(); ++i) slash += (i ? "/" : "") + parts[i];
    for (const auto& r : rules) {
        if (slash == r.source ||
            (slash.size() > r.source.size() && slash.compare(0, r.source.size(), r.source) == 0 &&
             slash[r.source.size()] == '/'))
            return &r;
    }
    return nullptr;
}

struct well_known_name {
    std::string_view name, use;
};
constexpr well_known_name well_known_names[] = {
    {"Sent", "\\Sent"},           {"Sent Items", "\\Sent"},        {"Sent Messages", "\\Sent"},
    {"Sent Mail", "\\Sent"},      {"Drafts", "\\Drafts"},          {"Trash", "\\Trash"},
    {"Deleted Items", "\\Trash"}, {"Deleted Messages", "\\Trash"}, {"Junk", "\\Junk"},
    {"Spam", "\\Junk"},           {"Junk E-mail", "\\Junk"},       {"Junk Email", "\\Junk"},
    {"Archive", "\\Archive"},     {"Archives", "\\Archive"},
};

// ---- the plan ----

enum class pass {
    rule = 1,
    use_same_name,    // special-use, and the target's folder with it has its translated name
    use_other,        // special-use, any other
    known_same_name,  // well-known name, and the target's folder has its translated name
    known_other,      // well-known name, any other
    plain,            // everything else, parents before children
};

struct source_facts {
    std::size_t index = 0;
    pass p = pass::plain;
    target_name translated;  // map_folder_name with the rules
    const folder_map_rule* rule = nullptr;
    std::optional<std::string> use;  // restorable special-use (attribute or well-known name)
    std::optional<std::string> virtual_use;
    std::vector<std::string> parts;  // the source name split at its delimiter
};

struct claim {
    std::size_t first = 0;   // index of the first source folder sent there
    std::string translated;  // its translated name (canonical)
};

class planner {
public:
    planner(std::span<const mapping_source> sources, std::span<const folder_map_rule> rules,
            const target_layout& target)
        : src_(sources), rules_(rules), t_(target), out_(sources.size()) {
        for (const auto& m : t_.mailboxes) {
            auto k = key(m.name);
            if (!by_name_.count(k)) by_name_[k] = &m;
        }
    }

    std::vector<folder_choice> run() {
        std::vector<source_facts> facts;
        facts.reserve(src_.size());
        for (std::size_t i = 0; i < src_.size(); ++i) facts.push_back(facts_of(i));
        for (std::size_t i = 0; i < facts.size(); ++i)
            by_source_[{src_[i].account, src_[i].name}] = i;
        // Stable order: by pass, then (plain) parents before children, then source order.
        std::vector<const source_facts*> order;
        for (const auto& f : facts) order.push_back(&f);
        std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
            if (a->p != b->p) return a->p < b->p;
            if (a->p == pass::plain) return a->parts.size() < b->parts.size();
            return false;
        });
        for (auto* f : order) place(*f);
        return std::move(out_);
    }

private:
    std::string key(std::string_view name) const { return canonical(name, t_.delim); }

    // Selectable target folders with `use`, by name.
    std::vector<const target_mailbox*> with_use(std::string_view use) const {
        std::vector<const target_mailbox*> v;
        for (const auto& m : t_.mailboxes)
            if (selectable(m) && has_attribute(m, use)) v.push_back(&m);
        std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->name < b->name; });
        return v;
    }

    bool target_has_named(std::string_view use, const std::string& name_key) const {
        for (auto* m : with_use(use))
            if (key(m->name) == name_key) return true;
        return false;
    }

    source_facts facts_of(std::size_t i) const {
        const auto& s = src_[i];
        source_facts f;
        f.index = i;
        f.parts = split_levels(s.name, s.delim);
        f.rule = matching_rule(s.name, s.delim, rules_);
        f.translated = map_folder_name(s.name, s.delim, rules_, t_.ns_prefix, t_.delim);
        std::optional<std::string> attr;
        if (s.special_use) attr = special_use_attribute(std::span(&*s.special_use, 1));
        if (f.rule) {
            f.p = pass::rule;
        } else if (attr && is_restorable_special_use(*attr)) {
            f.use = attr;
            f.p = target_has_named(*attr, key(f.translated.name)) ? pass::use_same_name
                                                                  : pass::use_other;
        } else if (attr) {
            f.virtual_use = attr;
        } else if (auto wk = well_known_special_use(s.name, s.delim);
                   wk && !with_use(*wk).empty()) {
            f.use = wk;
            f.p = target_has_named(*wk, key(f.translated.name)) ? pass::known_same_name
                                                                : pass::known_other;
        }
        return f;
    }

    void place(const source_facts& f) {
        folder_choice& c = out_[f.index];
        c.note = f.translated.note;
        const std::string tkey = key(f.translated.name);
        switch (f.p) {
            case pass::rule:
                c.via = folder_via::map_rule;
                add_note(c.note, "map rule " + in_quotes(f.rule->source + "=" + f.rule->target));
                take(f, c, f.translated.name, tkey);
                break;
            case pass::use_same_name:
            case pass::use_other: place_special_use(f, c, tkey); break;
            case pass::known_same_name:
            case pass::known_other: place_well_known(f, c, tkey); break;
            case pass::plain:
                if (f.virtual_use)
                    add_note(c.note, "special-use " + *f.virtual_use +
                                         " is a virtual folder, never a restore target: "
                                         "restored as a plain folder under its own name");
                if (!follow_parent(f, c)) take(f, c, f.translated.name, tkey);
                break;
        }
        set_exists(c);
    }

    static std::string several(const std::vector<const target_mailbox*>& cands,
                               const std::string& use) {
        if (cands.size() < 2) return {};
        std::string s = "the target has " + std::to_string(cands.size()) + " " + use + " folders:";
        for (std::size_t i = 0; i < cands.size(); ++i)
            s += std::string(i ? ", " : " ") + in_quotes(cands[i]->name);
        return s;
    }

    // To the target's selectable folder with `use`: the one named like the translation when it
    // is free, else one that already receives a folder of the same (translated) name from
    // another account, else the first by name that no other source folder goes to. False (and
    // the reason in `busy`) when every one is taken by folders of other names.
    bool place_by_use(const source_facts& f, folder_choice& c, const std::string& tkey,
                      folder_via via, const std::string& why, std::string& busy) {
        const std::string& use = *f.use;
        auto cands = with_use(use);
        const target_mailbox* pick = nullptr;
        for (auto* m : cands)
            if (!pick && key(m->name) == tkey && !claims_.count(tkey)) pick = m;
        for (auto* m : cands) {
            auto it = claims_.find(key(m->name));
            if (!pick && it != claims_.end() && it->second.translated == tkey) pick = m;
        }
        for (auto* m : cands)
            if (!pick && !claims_.count(key(m->name))) pick = m;
        if (!pick) {
            for (auto* m : cands)
                add_note(busy, "the target's " + use + " folder " + in_quotes(m->name) +
                                   " already receives " +
                                   in_quotes(label_of(claims_.at(key(m->name)).first)));
            return false;
        }
        c.via = via;
        add_note(c.note, why + ": " + in_quotes(pick->name));
        add_note(c.note, several(cands, use));
        take(f, c, pick->name, key(pick->name));
        return true;
    }

    void place_special_use(const source_facts& f, folder_choice& c, const std::string& tkey) {
        const std::string& use = *f.use;
        std::string busy;
        if (place_by_use(f, c, tkey, folder_via::special_use, "special-use " + use, busy)) return;
        if (!busy.empty()) {
            // The target's folder(s) with this attribute receive other source folders.
            add_note(c.note, "special-use " + use + ": " + busy);
            take(f, c, f.translated.name, tkey);
            if (c.via != folder_via::renamed) add_note(c.note, "kept its own name");
            return;
        }
        take(f, c, f.translated.name, tkey);
        if (c.shared) return;  // the first folder sent there decides how it is created
        const target_mailbox* m = existing(c.name);
        if (m && selectable(*m)) {
            add_note(c.note, "the target has no " + use + " folder: restored into the existing " +
                                 in_quotes(c.name));
        } else if (auto it = planned_use_.find(use); it != planned_use_.end()) {
            add_note(c.note, "the target has no " + use + " folder; " +
                                 in_quotes(label_of(it->second)) + " is created as its " + use +
                                 ": this one as a plain folder");
        } else if (t_.create_special_use) {
            c.create_use = use;
            planned_use_[use] = f.index;
            add_note(c.note,
                     "the target has no " + use + " folder: created with USE (" + use + ")");
        } else {
            add_note(c.note, "the target has no " + use +
                                 " folder and does not offer CREATE-SPECIAL-USE: created as a "
                                 "plain folder");
        }
    }

    void place_well_known(const source_facts& f, folder_choice& c, const std::string& tkey) {
        const std::string why =
            "well-known name " + in_quotes(f.parts.back()) + " taken for " + *f.use;
        std::string busy;
        if (place_by_use(f, c, tkey, folder_via::well_known, why, busy)) return;
        add_note(c.note, why + ": " + busy);
        take(f, c, f.translated.name, tkey);
        if (c.via != folder_via::renamed) add_note(c.note, "kept its own name");
    }

    // Below a folder that went to a special-use folder (or got a unique name): follow it.
    bool follow_parent(const source_facts& f, folder_choice& c) {
        const auto& s = src_[f.index];
        for (std::size_t n = f.parts.size(); n-- > 1;) {
            std::string anc;
            for (std::size_t i = 0; i < n; ++i)
                anc += (i ? std::string(1, s.delim) : std::string()) + f.parts[i];
            auto it = by_source_.find({s.account, anc});
            if (it == by_source_.end()) continue;
            const folder_choice& pc = out_[it->second];
            if (pc.name.empty()) return false;  // not placed (cannot happen: parents go first)
            if (pc.via != folder_via::special_use && pc.via != folder_via::well_known &&
                pc.via != folder_via::under_parent && pc.via != folder_via::renamed)
                return false;
            const char joiner = t_.delim ? t_.delim : '/';
            std::string name = pc.name;
            std::string note;
            for (std::size_t i = n; i < f.parts.size(); ++i) {
                std::string part = f.parts[i];
                if (t_.delim && part.find(t_.delim) != std::string::npos) {
                    std::string was = part;
                    std::replace(part.begin(), part.end(), t_.delim, '_');
                    add_note(note, in_quotes(was) +
                                       " contains the target's hierarchy delimiter: restored as " +
                                       in_quotes(part));
                }
                name += joiner + part;
            }
            c.note = note;  // the translation's own notes are about a name not used
            c.via = folder_via::under_parent;
            add_note(c.note, "below " + in_quotes(anc) + ", which goes to " + in_quotes(pc.name));
            take(f, c, name, key(name));
            return true;
        }
        return false;
    }

    // Sends f to `name` unless that would merge it with another source folder: only explicit
    // rules and folders of the same translated name share a target; anything else is renamed.
    void take(const source_facts& f, folder_choice& c, const std::string& name,
              const std::string& k) {
        const std::string tkey = key(f.translated.name);
        auto it = claims_.find(k);
        if (it == claims_.end()) {
            c.name = name;
            claims_[k] = {f.index, tkey};
            return;
        }
        if (c.via == folder_via::map_rule || it->second.translated == tkey) {
            share(c, name, it->second.first, c.via == folder_via::map_rule ? " (map rules)" : "");
            return;
        }
        const std::size_t other = it->second.first;
        for (int n = 1;; ++n) {
            std::string unique = name + " (restored " + std::to_string(n) + ")";
            auto u = claims_.find(key(unique));
            if (u != claims_.end() && u->second.translated != tkey) continue;
            add_note(c.note, in_quotes(name) + " already receives " + in_quotes(label_of(other)) +
                                 ": restored as " + in_quotes(unique));
            c.via = folder_via::renamed;
            if (u == claims_.end()) {
                c.name = unique;
                claims_[key(unique)] = {f.index, tkey};
            } else {
                // A folder of the same name from another account was renamed so before.
                share(c, unique, u->second.first, "");
            }
            return;
        }
    }

    void share(folder_choice& c, const std::string& name, std::size_t first_index,
               const char* why) {
        c.name = name;
        c.shared = true;
        add_note(c.note, "shares " + in_quotes(name) + " with " + in_quotes(label_of(first_index)) +
                             (*why ? why : " (same name)"));
        folder_choice& first = out_[first_index];
        // Whichever of them is restored first creates the folder: all create it the same way.
        if (first.create_use) c.create_use = first.create_use;
        if (!first.shared) {
            first.shared = true;
            add_note(first.note, in_quotes(name) + " also receives other source folders");
        }
    }

    const target_mailbox* existing(const std::string& name) const {
        auto it = by_name_.find(key(name));
        return it == by_name_.end() ? nullptr : it->second;
    }

    void set_exists(folder_choice& c) const {
        const target_mailbox* m = existing(c.name);
        c.exists = m && selectable(*m);
        if (m && !c.exists && !has_attribute(*m, "\\NonExistent"))
            add_note(c.note,
                     in_quotes(c.name) +
                         " exists on the target only as a \\Noselect folder: it is created");
    }

    std::string label_of(std::size_t i) const {
        const auto& s = src_[i];
        return s.account.empty() ? s.name : s.account + "/" + s.name;
    }

    std::span<const mapping_source> src_;
    std::span<const folder_map_rule> rules_;
    const target_layout& t_;
    std::vector<folder_choice> out_;
    std::map<std::string, const target_mailbox*> by_name_;  // canonical name -> first
    std::map<std::pair<std::string, std::string>, std::size_t> by_source_;  // (account, name)
    std::map<std::string, claim> claims_;                                   // canonical target name
    std::map<std::string, std::size_t> planned_use_;  // attribute -> source created with USE
};

// ---- fallback names ----

// Length of the valid UTF-8 sequence at s[i], 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned cp = 0;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (c & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

// Attempt 1's changes to one level.
std::string common_safe(std::string_view part, char delim, bool first_of_name) {
    std::string out;
    for (std::size_t i = 0; i < part.size();) {
        const auto b = static_cast<unsigned char>(part[i]);
        if (b >= 0x80) {
            std::size_t n = utf8_length(part, i);
            if (n == 0) {
                out += '_';
                ++i;
            } else {
                out.append(part.substr(i, n));
                i += n;
            }
            continue;
        }
        const char c = part[i++];
        const bool bad = b < 0x20 || b == 0x7f || c == '*' || c == '%' || c == '"' || c == '\\' ||
                         (c == '/' && delim != '/') || (c == '.' && delim != '.');
        out += bad ? '_' : c;
    }
    if (!out.empty() && (out[0] == '~' || (first_of_name && out[0] == '#'))) out[0] = '_';
    for (std::size_t i = 0; i < out.size() && out[i] == ' '; ++i) out[i] = '_';
    for (std::size_t i = out.size(); i-- > 0 && out[i] == ' ';) out[i] = '_';
    return out.empty() ? "_" : out;
}

// Attempt 3's: ASCII letters, digits, '-' and '_' only; one '_' per other character.
std::string strict_safe(std::string_view part) {
    std::string out;
    for (std::size_t i = 0; i < part.size();) {
        const auto b = static_cast<unsigned char>(part[i]);
        if (b >= 0x80) {
            std::size_t n = utf8_length(part, i);
            i += n ? n : 1;
            out += '_';
            continue;
        }
        const char c = part[i++];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        out += ok ? c : '_';
    }
    return out.empty() ? "_" : out;
}

}  // namespace

std::vector<folder_choice> plan_folder_mapping(std::span<const mapping_source> sources,
                                               std::span<const folder_map_rule> rules,
                                               const target_layout& target) {
    return planner(sources, rules, target).run();
}

std::optional<std::string> special_use_attribute(std::span<const std::string> attributes) {
    for (std::span<const std::string_view> list :
         {std::span<const std::string_view>(restorable_uses),
          std::span<const std::string_view>(virtual_uses)})
        for (auto use : list)
            for (const auto& a : attributes)
                if (iequal(a, use)) return std::string(use);
    return std::nullopt;
}

bool is_restorable_special_use(std::string_view attribute) noexcept {
    for (auto use : restorable_uses)
        if (iequal(attribute, use)) return true;
    return false;
}

std::optional<std::string> well_known_special_use(std::string_view name, char delim) {
    auto parts = split_levels(name, delim);
    std::string_view last;
    if (parts.size() == 1) {
        last = parts[0];
    } else if (parts.size() == 2 && iequal(parts[0], "INBOX")) {
        last = parts[1];
    } else {
        return std::nullopt;
    }
    for (const auto& w : well_known_names)
        if (iequal(last, w.name)) return std::string(w.use);
    return std::nullopt;
}

std::string fallback_folder_name(std::string_view name, std::string_view ns_prefix,
                                 char target_delim, int attempt,
                                 const std::set<std::string>& taken) {
    std::set<std::string> busy;
    for (const auto& t : taken) busy.insert(canonical(t, target_delim));
    const std::string own = canonical(name, target_delim);
    auto is_free = [&](const std::string& n) {
        auto k = canonical(n, target_delim);
        return k != own && !busy.count(k);
    };

    // The start that stays: the namespace prefix, else a leading INBOX level.
    std::string_view head;
    if (!ns_prefix.empty() && name.size() > ns_prefix.size() && name.starts_with(ns_prefix)) {
        head = name.substr(0, ns_prefix.size());
    } else if (name.size() >= 5 && iequal(name.substr(0, 5), "INBOX") &&
               (name.size() == 5 || (target_delim != 0 && name[5] == target_delim))) {
        head = name.substr(0, std::min<std::size_t>(6, name.size()));
    }
    std::string_view rest = name.substr(head.size());
    std::vector<std::string> parts;
    if (!rest.empty()) parts = split_levels(rest, target_delim);
    const std::string joiner(1, target_delim ? target_delim : '/');
    auto build = [&](bool strict) {
        std::string out(head);
        for (std::size_t i = 0; i < parts.size(); ++i)
            out += (i ? joiner : "") +
                   (strict ? strict_safe(parts[i])
                           : common_safe(parts[i], target_delim, i == 0 && head.empty()));
        return out;
    };

    if (attempt < 1) attempt = 1;
    const std::string common = build(false);
    if (attempt == 1 && is_free(common)) return common;
    if (attempt <= 2) {
        for (int n = 1;; ++n) {
            std::string c = common + " (restored " + std::to_string(n) + ")";
            if (is_free(c)) return c;
        }
    }
    const std::string strict = build(true);
    for (int n = attempt - 2;; ++n) {
        std::string c = strict + "_restored_" + std::to_string(n);
        if (is_free(c)) return c;
    }
}

}  // namespace mv::sync
