// The HTML sanitizer of the web viewer: message HTML is parsed with gumbo (a full HTML5 parser,
// so malformed markup is read the way a browser reads it) and re-serialized from an allow-list of
// elements and attributes. What is not on the list is dropped (script, style with url(), iframe,
// object, embed, form controls, meta, link, base, svg, math, template, every on* attribute) or,
// for harmless unknown elements, unwrapped (children kept). URLs: links keep http, https and
// mailto; images keep only cid: (rewritten by resolve_cid to the archive's own route); every
// other src, srcset, background and CSS url() is removed. The output is served inside a
// sandboxed iframe with its own Content-Security-Policy (engine/web/pages.cpp): the sanitizer
// is the first wall, not the only one.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mv::web {

struct sanitize_options {
    // cid:VALUE -> the URL to use instead (nullopt: no such part; the image is dropped).
    std::function<std::optional<std::string>(std::string_view cid_url)> resolve_cid;
    std::size_t max_input = 4 * 1024 * 1024;  // larger HTML is cut (sanitized_html::truncated)
    std::size_t max_depth = 256;              // deeper elements are flattened to their text
    std::size_t max_tags = 100000;  // more '<' than this: shown as escaped text, not parsed
};

struct sanitized_html {
    std::string head;        // sanitized <style> blocks
    std::string body;        // sanitized content of <body>
    int remote_blocked = 0;  // remote images/stylesheets/backgrounds removed
    int removed = 0;         // elements and attributes dropped for safety
    bool truncated = false;
};

sanitized_html sanitize_html(std::string_view html, const sanitize_options& o = {});

// A CSS declaration list (a style attribute) with every declaration that could load or run
// something removed: url(), image-set(), expression(), @import, behavior, -moz-binding,
// backslash escapes (which could spell any of these), and anything with '<'.
std::string sanitize_style(std::string_view css, int* removed = nullptr);

// Escaping for HTML text and attribute values (double quotes).
std::string escape_html(std::string_view s);

}  // namespace mv::web
