#include "web/sanitize.hpp"

#include <gumbo.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace mv::web {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Elements dropped with everything inside them.
bool dropped(GumboTag t) {
    switch (t) {
        case GUMBO_TAG_SCRIPT:
        case GUMBO_TAG_NOSCRIPT:
        case GUMBO_TAG_IFRAME:
        case GUMBO_TAG_FRAME:
        case GUMBO_TAG_FRAMESET:
        case GUMBO_TAG_NOFRAMES:
        case GUMBO_TAG_OBJECT:
        case GUMBO_TAG_EMBED:
        case GUMBO_TAG_APPLET:
        case GUMBO_TAG_PARAM:
        case GUMBO_TAG_META:
        case GUMBO_TAG_LINK:
        case GUMBO_TAG_BASE:
        case GUMBO_TAG_TITLE:
        case GUMBO_TAG_SVG:
        case GUMBO_TAG_MATH:
        case GUMBO_TAG_TEMPLATE:
        case GUMBO_TAG_INPUT:
        case GUMBO_TAG_TEXTAREA:
        case GUMBO_TAG_SELECT:
        case GUMBO_TAG_OPTION:
        case GUMBO_TAG_OPTGROUP:
        case GUMBO_TAG_BUTTON:
        case GUMBO_TAG_KEYGEN:
        case GUMBO_TAG_AUDIO:
        case GUMBO_TAG_VIDEO:
        case GUMBO_TAG_SOURCE:
        case GUMBO_TAG_TRACK:
        case GUMBO_TAG_CANVAS:
        case GUMBO_TAG_XMP:
        case GUMBO_TAG_PLAINTEXT:
        case GUMBO_TAG_MENUITEM: return true;
        default: return false;
    }
}

// Elements kept (with their allowed attributes). Anything else is unwrapped.
bool allowed(GumboTag t) {
    switch (t) {
        case GUMBO_TAG_A:
        case GUMBO_TAG_ABBR:
        case GUMBO_TAG_ADDRESS:
        case GUMBO_TAG_ARTICLE:
        case GUMBO_TAG_ASIDE:
        case GUMBO_TAG_B:
        case GUMBO_TAG_BDI:
        case GUMBO_TAG_BDO:
        case GUMBO_TAG_BIG:
        case GUMBO_TAG_BLOCKQUOTE:
        case GUMBO_TAG_BR:
        case GUMBO_TAG_CAPTION:
        case GUMBO_TAG_CENTER:
        case GUMBO_TAG_CITE:
        case GUMBO_TAG_CODE:
        case GUMBO_TAG_COL:
        case GUMBO_TAG_COLGROUP:
        case GUMBO_TAG_DD:
        case GUMBO_TAG_DEL:
        case GUMBO_TAG_DETAILS:
        case GUMBO_TAG_DFN:
        case GUMBO_TAG_DIV:
        case GUMBO_TAG_DL:
        case GUMBO_TAG_DT:
        case GUMBO_TAG_EM:
        case GUMBO_TAG_FIGCAPTION:
        case GUMBO_TAG_FIGURE:
        case GUMBO_TAG_FONT:
        case GUMBO_TAG_FOOTER:
        case GUMBO_TAG_H1:
        case GUMBO_TAG_H2:
        case GUMBO_TAG_H3:
        case GUMBO_TAG_H4:
        case GUMBO_TAG_H5:
        case GUMBO_TAG_H6:
        case GUMBO_TAG_HEADER:
        case GUMBO_TAG_HR:
        case GUMBO_TAG_I:
        case GUMBO_TAG_IMG:
        case GUMBO_TAG_INS:
        case GUMBO_TAG_KBD:
        case GUMBO_TAG_LI:
        case GUMBO_TAG_MAIN:
        case GUMBO_TAG_MARK:
        case GUMBO_TAG_NAV:
        case GUMBO_TAG_OL:
        case GUMBO_TAG_P:
        case GUMBO_TAG_PRE:
        case GUMBO_TAG_Q:
        case GUMBO_TAG_S:
        case GUMBO_TAG_SAMP:
        case GUMBO_TAG_SECTION:
        case GUMBO_TAG_SMALL:
        case GUMBO_TAG_SPAN:
        case GUMBO_TAG_STRIKE:
        case GUMBO_TAG_STRONG:
        case GUMBO_TAG_SUB:
        case GUMBO_TAG_SUMMARY:
        case GUMBO_TAG_SUP:
        case GUMBO_TAG_TABLE:
        case GUMBO_TAG_TBODY:
        case GUMBO_TAG_TD:
        case GUMBO_TAG_TFOOT:
        case GUMBO_TAG_TH:
        case GUMBO_TAG_THEAD:
        case GUMBO_TAG_TIME:
        case GUMBO_TAG_TR:
        case GUMBO_TAG_TT:
        case GUMBO_TAG_U:
        case GUMBO_TAG_UL:
        case GUMBO_TAG_VAR:
        case GUMBO_TAG_WBR: return true;
        default: return false;
    }
}

bool is_void(GumboTag t) {
    return t == GUMBO_TAG_BR || t == GUMBO_TAG_HR || t == GUMBO_TAG_IMG || t == GUMBO_TAG_COL ||
           t == GUMBO_TAG_WBR;
}

// Attributes kept on any allowed element (values escaped; style sanitized; URLs checked apart).
constexpr std::array<std::string_view, 27> plain_attributes = {
    "align",   "alt",     "bgcolor", "border", "cellpadding", "cellspacing", "class",
    "color",   "colspan", "dir",     "face",   "height",      "lang",        "nowrap",
    "rowspan", "scope",   "size",    "span",   "start",       "summary",     "title",
    "type",    "valign",  "width",   "abbr",   "headers",     "datetime",
};

bool plain_attribute(std::string_view name) {
    return std::find(plain_attributes.begin(), plain_attributes.end(), name) !=
           plain_attributes.end();
}

// The scheme of a URL as a browser reads it: leading spaces/control characters skipped,
// tabs and newlines inside ignored, case-folded. Empty when the URL is relative.
std::string url_scheme(std::string_view url) {
    std::string s;
    for (char c : url) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            if (s.empty() || c == '\t' || c == '\n' || c == '\r') continue;
            break;
        }
        if (c == ':') return lower(s);
        if (!std::isalnum(u) && c != '+' && c != '-' && c != '.') return {};
        s += c;
    }
    return {};
}

struct serializer {
    const sanitize_options& o;
    sanitized_html out;
    std::string* dst = &out.body;

    void text(std::string_view s) { *dst += escape_html(s); }

    void style_block(const GumboNode* n) {
        std::string css;
        for (unsigned i = 0; i < n->v.element.children.length; ++i) {
            auto* c = static_cast<const GumboNode*>(n->v.element.children.data[i]);
            if (c->type == GUMBO_NODE_TEXT || c->type == GUMBO_NODE_WHITESPACE ||
                c->type == GUMBO_NODE_CDATA)
                css += c->v.text.text;
        }
        std::string l = lower(css);
        for (std::string_view bad : {"url(", "@import", "expression", "behavior", "-moz-binding",
                                     "image-set", "javascript:", "\\", "<", "@font-face"}) {
            if (l.find(bad) != std::string::npos) {
                ++out.removed;
                if (bad == "url(" || bad == "@import" || bad == "@font-face" || bad == "image-set")
                    ++out.remote_blocked;
                return;
            }
        }
        out.head += "<style>" + css + "</style>";
    }

    void open_tag(const GumboNode* n, GumboTag tag) {
        std::string name = gumbo_normalized_tagname(tag);
        std::string tagtext = "<" + name;
        bool have_src = false;
        const GumboVector& attrs = n->v.element.attributes;
        for (unsigned i = 0; i < attrs.length; ++i) {
            auto* a = static_cast<const GumboAttribute*>(attrs.data[i]);
            std::string an = lower(a->name);
            std::string_view value = a->value;
            if (an == "style") {
                std::string css = sanitize_style(value, &out.removed);
                if (lower(value).find("url(") != std::string::npos) ++out.remote_blocked;
                if (!css.empty()) tagtext += " style=\"" + escape_html(css) + "\"";
            } else if (an == "href" && tag == GUMBO_TAG_A) {
                std::string scheme = url_scheme(value);
                if (scheme == "http" || scheme == "https" || scheme == "mailto")
                    tagtext += " href=\"" + escape_html(value) + "\"";
                else
                    ++out.removed;
            } else if (an == "src" && tag == GUMBO_TAG_IMG) {
                std::string scheme = url_scheme(value);
                std::optional<std::string> url;
                if (scheme == "cid" && o.resolve_cid) url = o.resolve_cid(value);
                if (url) {
                    tagtext += " src=\"" + escape_html(*url) + "\"";
                    have_src = true;
                } else if (scheme == "http" || scheme == "https" || scheme.empty() ||
                           scheme == "ftp") {
                    ++out.remote_blocked;
                } else {
                    ++out.removed;
                }
            } else if (an == "src" || an == "srcset" || an == "background" || an == "lowsrc" ||
                       an == "dynsrc" || an == "poster" || an == "longdesc") {
                ++out.remote_blocked;
            } else if (plain_attribute(an)) {
                tagtext += " " + an + "=\"" + escape_html(value) + "\"";
            } else {
                ++out.removed;  // on*, id, name, action, formaction, xmlns, data-*, ...
            }
        }
        if (tag == GUMBO_TAG_A) tagtext += " target=\"_blank\" rel=\"noopener noreferrer\"";
        if (tag == GUMBO_TAG_IMG && !have_src) return;  // an image with nothing to show
        *dst += tagtext + ">";
    }

    void run(const GumboNode* root) {
        // Iterative walk (deeply nested mail must not exhaust the stack).
        struct frame {
            const GumboNode* node;
            unsigned next = 0;
            bool emitted = false;  // the element's tags are written
            GumboTag tag = GUMBO_TAG_UNKNOWN;
        };
        std::vector<frame> stack;
        stack.push_back({root});
        std::size_t emitted_depth = 0;
        while (!stack.empty()) {
            frame& f = stack.back();
            const GumboNode* n = f.node;
            const GumboVector* children = nullptr;
            if (n->type == GUMBO_NODE_DOCUMENT)
                children = &n->v.document.children;
            else if (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE)
                children = &n->v.element.children;
            if (!children || f.next >= children->length) {
                if (f.emitted && !is_void(f.tag))
                    *dst += std::string("</") + gumbo_normalized_tagname(f.tag) + ">";
                if (f.emitted) --emitted_depth;
                stack.pop_back();
                continue;
            }
            auto* c = static_cast<const GumboNode*>(children->data[f.next++]);
            switch (c->type) {
                case GUMBO_NODE_TEXT:
                case GUMBO_NODE_WHITESPACE:
                case GUMBO_NODE_CDATA: text(c->v.text.text); break;
                case GUMBO_NODE_COMMENT:
                case GUMBO_NODE_DOCUMENT: break;
                case GUMBO_NODE_TEMPLATE: ++out.removed; break;
                case GUMBO_NODE_ELEMENT: {
                    GumboTag tag = c->v.element.tag;
                    if (c->v.element.tag_namespace != GUMBO_NAMESPACE_HTML || dropped(tag)) {
                        ++out.removed;
                        if (tag == GUMBO_TAG_LINK || tag == GUMBO_TAG_IFRAME ||
                            tag == GUMBO_TAG_FRAME)
                            ++out.remote_blocked;
                        break;
                    }
                    if (tag == GUMBO_TAG_STYLE) {
                        style_block(c);
                        break;
                    }
                    frame child{c};
                    if (allowed(tag) && emitted_depth < o.max_depth) {
                        std::size_t before = dst->size();
                        open_tag(c, tag);
                        child.emitted = dst->size() != before;
                        child.tag = tag;
                        if (child.emitted) ++emitted_depth;
                    } else if (tag != GUMBO_TAG_HTML && tag != GUMBO_TAG_HEAD &&
                               tag != GUMBO_TAG_BODY && tag != GUMBO_TAG_FORM && !allowed(tag)) {
                        ++out.removed;
                    }
                    stack.push_back(child);
                    break;
                }
            }
        }
    }
};

}  // namespace

std::string escape_html(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            case '\0': out += "\xEF\xBF\xBD"; break;
            default: out += c;
        }
    }
    return out;
}

std::string sanitize_style(std::string_view css, int* removed) {
    std::string out;
    std::size_t start = 0;
    while (start <= css.size()) {
        std::size_t end = css.find(';', start);
        if (end == std::string_view::npos) end = css.size();
        std::string_view decl = css.substr(start, end - start);
        start = end + 1;
        // Trim.
        while (!decl.empty() && std::isspace(static_cast<unsigned char>(decl.front())))
            decl.remove_prefix(1);
        while (!decl.empty() && std::isspace(static_cast<unsigned char>(decl.back())))
            decl.remove_suffix(1);
        if (decl.empty()) continue;
        std::string l = lower(decl);
        bool bad = l.find(':') == std::string::npos;
        for (std::string_view b : {"url(", "image-set", "expression", "@import", "behavior",
                                   "-moz-binding", "javascript:", "\\", "<", "/*"})
            bad = bad || l.find(b) != std::string::npos;
        if (bad) {
            if (removed) ++*removed;
            continue;
        }
        if (!out.empty()) out += "; ";
        out += decl;
    }
    return out;
}

sanitized_html sanitize_html(std::string_view html, const sanitize_options& o) {
    serializer s{o, {}};
    if (html.size() > o.max_input) {
        html = html.substr(0, o.max_input);
        s.out.truncated = true;
    }
    // gumbo frees its tree recursively: bound the possible depth through the number of tags.
    if (static_cast<std::size_t>(std::count(html.begin(), html.end(), '<')) > o.max_tags) {
        s.out.truncated = true;
        s.out.body = "<pre>" + escape_html(html.substr(0, 64 * 1024)) + "</pre>";
        return s.out;
    }
    GumboOutput* g = gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size());
    if (!g) return s.out;
    s.run(g->document);
    gumbo_destroy_output(&kGumboDefaultOptions, g);
    return std::move(s.out);
}

}  // namespace mv::web
