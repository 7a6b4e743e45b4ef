#include "mime/message_index.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cstring>
#include <mutex>

// A read-only GMimeStream over bytes owned by the caller, so that parsing a message does not copy
// it (GMimeStreamMem always copies). Substreams share the pointer; every object made from one
// must be released before the caller's bytes go away, which parse() guarantees.
extern "C" {
struct MvViewStream {
    GMimeStream parent;
    const char* data;
    gint64 size;
};
struct MvViewStreamClass {
    GMimeStreamClass parent_class;
};
}

G_DEFINE_TYPE(MvViewStream, mv_view_stream, GMIME_TYPE_STREAM)

namespace {

gint64 view_end(GMimeStream* s) {
    auto* v = reinterpret_cast<MvViewStream*>(s);
    return s->bound_end != -1 ? std::min(s->bound_end, v->size) : v->size;
}

ssize_t view_read(GMimeStream* s, char* buf, size_t len) {
    auto* v = reinterpret_cast<MvViewStream*>(s);
    gint64 n = std::min<gint64>(view_end(s) - s->position, static_cast<gint64>(len));
    if (n <= 0) return n < 0 ? -1 : 0;
    std::memcpy(buf, v->data + s->position, static_cast<size_t>(n));
    s->position += n;
    return static_cast<ssize_t>(n);
}

ssize_t view_write(GMimeStream*, const char*, size_t) {
    return -1;
}
int view_flush(GMimeStream*) {
    return 0;
}
int view_close(GMimeStream*) {
    return 0;
}
gboolean view_eos(GMimeStream* s) {
    return s->position >= view_end(s);
}
int view_reset(GMimeStream* s) {
    s->position = s->bound_start;
    return 0;
}
gint64 view_seek(GMimeStream* s, gint64 offset, GMimeSeekWhence whence) {
    gint64 real = 0;
    switch (whence) {
        case GMIME_STREAM_SEEK_SET: real = offset; break;
        case GMIME_STREAM_SEEK_CUR: real = s->position + offset; break;
        case GMIME_STREAM_SEEK_END: real = view_end(s) + offset; break;
    }
    if (real < s->bound_start || real > view_end(s)) return -1;
    s->position = real;
    return real;
}
gint64 view_tell(GMimeStream* s) {
    return s->position;
}
gint64 view_length(GMimeStream* s) {
    return view_end(s) - s->bound_start;
}

GMimeStream* view_new(const char* data, gint64 size, gint64 start, gint64 end) {
    auto* v = static_cast<MvViewStream*>(g_object_new(mv_view_stream_get_type(), nullptr));
    v->data = data;
    v->size = size;
    g_mime_stream_construct(&v->parent, start, end);
    return &v->parent;
}

GMimeStream* view_substream(GMimeStream* s, gint64 start, gint64 end) {
    auto* v = reinterpret_cast<MvViewStream*>(s);
    return view_new(v->data, v->size, start, end);
}

}  // namespace

static void mv_view_stream_class_init(MvViewStreamClass* klass) {
    GMimeStreamClass* sc = &klass->parent_class;
    sc->read = view_read;
    sc->write = view_write;
    sc->flush = view_flush;
    sc->close = view_close;
    sc->eos = view_eos;
    sc->reset = view_reset;
    sc->seek = view_seek;
    sc->tell = view_tell;
    sc->length = view_length;
    sc->substream = view_substream;
}

static void mv_view_stream_init(MvViewStream* v) {
    v->data = nullptr;
    v->size = 0;
}

namespace mv::mime {

namespace {

std::once_flag init_once;
GMimeParserOptions* parser_options = nullptr;

// RAII for GObject references.
struct gobject_ref {
    gpointer p;
    explicit gobject_ref(gpointer ptr) : p(ptr) {}
    ~gobject_ref() {
        if (p) g_object_unref(p);
    }
    gobject_ref(const gobject_ref&) = delete;
    gobject_ref& operator=(const gobject_ref&) = delete;
};

struct gfree_str {
    char* p;
    explicit gfree_str(char* s) : p(s) {}
    ~gfree_str() { g_free(p); }
    gfree_str(const gfree_str&) = delete;
    gfree_str& operator=(const gfree_str&) = delete;
    std::string str() const { return p ? std::string(p) : std::string(); }
};

std::string addresses(InternetAddressList* list) {
    if (!list || internet_address_list_length(list) == 0) return {};
    gfree_str s(internet_address_list_to_string(list, nullptr, FALSE));
    return make_valid_utf8(s.str());
}

std::string header(GMimeObject* obj, const char* name) {
    const char* v = g_mime_object_get_header(obj, name);
    return v ? make_valid_utf8(v) : std::string();
}

std::vector<std::string> parse_refs(const char* text) {
    std::vector<std::string> out;
    if (!text) return out;
    GMimeReferences* refs = g_mime_references_parse(parser_options, text);
    if (!refs) return out;
    int n = g_mime_references_length(refs);
    for (int i = 0; i < n; ++i) {
        const char* id = g_mime_references_get_message_id(refs, i);
        if (id && *id) out.push_back(make_valid_utf8(id));
    }
    g_mime_references_free(refs);
    return out;
}

struct text_collector {
    const index_limits& limits;
    std::string plain;
    std::string html;
    bool truncated = false;
    std::vector<std::string> attachments;

    void append(std::string& dst, std::string_view s) {
        if (dst.size() >= limits.max_text) {
            truncated = true;
            return;
        }
        if (!dst.empty()) dst += "\n";
        size_t room = limits.max_text - std::min(dst.size(), limits.max_text);
        if (s.size() > room) {
            truncated = true;
            s = s.substr(0, room);
        }
        dst += s;
    }

    void walk(GMimeObject* obj, int depth) {
        if (!obj || depth > 32) return;
        if (GMIME_IS_MULTIPART(obj)) {
            auto* mp = GMIME_MULTIPART(obj);
            int n = g_mime_multipart_get_count(mp);
            for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i), depth + 1);
            return;
        }
        if (GMIME_IS_MESSAGE_PART(obj)) {
            GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
            if (inner) walk(g_mime_message_get_mime_part(inner), depth + 1);
            return;
        }
        GMimeContentDisposition* disp = g_mime_object_get_content_disposition(obj);
        const bool attached = disp && g_mime_content_disposition_is_attachment(disp);
        if (GMIME_IS_PART(obj)) {
            const char* name = g_mime_part_get_filename(GMIME_PART(obj));
            if (attached || (name && *name) || !GMIME_IS_TEXT_PART(obj))
                if (attachments.size() < 1000)
                    attachments.push_back(name ? make_valid_utf8(name) : std::string());
        }
        if (!GMIME_IS_TEXT_PART(obj) || attached) return;
        GMimeContentType* ct = g_mime_object_get_content_type(obj);
        bool is_plain = !ct || g_mime_content_type_is_type(ct, "text", "plain");
        bool is_html = ct && g_mime_content_type_is_type(ct, "text", "html");
        if (!is_plain && !is_html) return;
        GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(obj));
        if (content) {
            GMimeStream* st = g_mime_data_wrapper_get_stream(content);
            gint64 len = st ? g_mime_stream_length(st) : -1;
            if (len > static_cast<gint64>(limits.max_part_decode)) {
                truncated = true;
                return;
            }
        }
        gfree_str text(g_mime_text_part_get_text(GMIME_TEXT_PART(obj)));
        if (!text.p) return;
        std::string valid = make_valid_utf8(text.p);
        if (is_html)
            append(html, html_to_text(valid, limits.max_text));
        else
            append(plain, valid);
    }
};

}  // namespace

void ensure_init() {
    std::call_once(init_once, [] {
        g_mime_init();
        parser_options = g_mime_parser_options_new();
        g_mime_parser_options_set_rfc2047_compliance_mode(parser_options,
                                                          GMIME_RFC_COMPLIANCE_LOOSE);
        g_mime_parser_options_set_address_compliance_mode(parser_options,
                                                          GMIME_RFC_COMPLIANCE_LOOSE);
        g_mime_parser_options_set_parameter_compliance_mode(parser_options,
                                                            GMIME_RFC_COMPLIANCE_LOOSE);
        // Undeclared 8-bit header text: UTF-8 if it is valid, else the common Western fallback.
        const char* fallback[] = {"UTF-8", "windows-1252", nullptr};
        g_mime_parser_options_set_fallback_charsets(parser_options, fallback);
    });
}

message_index parse(std::string_view raw, const index_limits& limits) {
    ensure_init();
    message_index out;
    gobject_ref stream(view_new(raw.data(), static_cast<gint64>(raw.size()), 0, -1));
    gobject_ref parser(g_mime_parser_new_with_stream(static_cast<GMimeStream*>(stream.p)));
    auto* p = static_cast<GMimeParser*>(parser.p);
    g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
    g_mime_parser_set_persist_stream(p, TRUE);
    gobject_ref msg_ref(g_mime_parser_construct_message(p, parser_options));
    auto* msg = static_cast<GMimeMessage*>(msg_ref.p);
    if (!msg) return out;
    out.parsed = true;
    auto* obj = GMIME_OBJECT(msg);

    if (const char* id = g_mime_message_get_message_id(msg)) out.message_id = make_valid_utf8(id);
    auto irt = parse_refs(g_mime_object_get_header(obj, "In-Reply-To"));
    if (!irt.empty()) out.in_reply_to = irt.front();
    out.references = parse_refs(g_mime_object_get_header(obj, "References"));
    out.from = addresses(g_mime_message_get_from(msg));
    out.to = addresses(g_mime_message_get_to(msg));
    out.cc = addresses(g_mime_message_get_cc(msg));
    out.bcc = addresses(g_mime_message_get_bcc(msg));
    if (const char* s = g_mime_message_get_subject(msg)) out.subject = make_valid_utf8(s);
    out.date_raw = header(obj, "Date");
    if (GDateTime* d = g_mime_message_get_date(msg)) out.date_epoch = g_date_time_to_unix(d);

    text_collector tc{limits, {}, {}, false, {}};
    tc.walk(g_mime_message_get_mime_part(msg), 0);
    out.text = !tc.plain.empty() ? std::move(tc.plain) : std::move(tc.html);
    out.text_truncated = tc.truncated;
    out.attachments = std::move(tc.attachments);
    return out;
}

std::string make_valid_utf8(std::string_view s) {
    if (g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr) &&
        s.find('\0') == std::string_view::npos)
        return std::string(s);
    gfree_str v(g_utf8_make_valid(s.data(), static_cast<gssize>(s.size())));
    std::string out = v.str();  // stops at an embedded NUL, which text never needs
    return out;
}

namespace {

void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    char buf[8];
    int n = g_unichar_to_utf8(static_cast<gunichar>(cp), buf);
    out.append(buf, static_cast<size_t>(n));
}

struct named_entity {
    const char* name;
    std::uint32_t cp;
};
const named_entity entities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", ' '},     {"copy", 0xA9},    {"reg", 0xAE},     {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"laquo", 0xAB},   {"raquo", 0xBB},   {"lsquo", 0x2018},
    {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"bull", 0x2022},  {"euro", 0x20AC},
    {"middot", 0xB7},  {"shy", 0xAD},     {"eacute", 0xE9},  {"egrave", 0xE8},  {"agrave", 0xE0},
    {"auml", 0xE4},    {"ouml", 0xF6},    {"uuml", 0xFC},    {"Auml", 0xC4},    {"Ouml", 0xD6},
    {"Uuml", 0xDC},    {"szlig", 0xDF},   {"ccedil", 0xE7},  {"deg", 0xB0},     {"times", 0xD7},
    {"pound", 0xA3},
};

bool iequals_prefix(std::string_view s, size_t pos, std::string_view word) {
    if (pos + word.size() > s.size()) return false;
    for (size_t i = 0; i < word.size(); ++i)
        if (g_ascii_tolower(s[pos + i]) != word[i]) return false;
    return true;
}

bool is_block_tag(std::string_view name) {
    static const char* blocks[] = {"br", "p",  "div", "tr", "li",    "h1",         "h2",
                                   "h3", "h4", "h5",  "h6", "table", "blockquote", "hr",
                                   "ul", "ol", "pre", "dt", "dd"};
    for (const char* b : blocks)
        if (name == b) return true;
    return false;
}

}  // namespace

std::string html_to_text(std::string_view h, std::size_t max) {
    std::string out;
    bool pending_space = false;
    int pending_newlines = 0;
    auto emit = [&](std::string_view s) {
        if (pending_newlines > 0 && !out.empty()) {
            out.append(static_cast<size_t>(std::min(pending_newlines, 2)), '\n');
        } else if (pending_space && !out.empty() && out.back() != '\n') {
            out += ' ';
        }
        pending_newlines = 0;
        pending_space = false;
        out += s;
    };
    size_t i = 0;
    while (i < h.size() && out.size() < max) {
        char c = h[i];
        if (c == '<') {
            if (h.compare(i, 4, "<!--") == 0) {
                size_t e = h.find("-->", i + 4);
                i = e == std::string_view::npos ? h.size() : e + 3;
                continue;
            }
            size_t j = i + 1;
            bool closing = j < h.size() && h[j] == '/';
            if (closing) ++j;
            size_t name_start = j;
            while (j < h.size() && (g_ascii_isalnum(h[j]))) ++j;
            std::string name;
            for (size_t k = name_start; k < j; ++k) name += g_ascii_tolower(h[k]);
            size_t e = h.find('>', j);
            i = e == std::string_view::npos ? h.size() : e + 1;
            if (!closing && (name == "script" || name == "style" || name == "head")) {
                // skip to the matching close tag
                size_t k = i;
                std::string close = "</" + name;
                while (k < h.size() && !iequals_prefix(h, k, close)) ++k;
                size_t ce = h.find('>', k);
                i = ce == std::string_view::npos ? h.size() : ce + 1;
                continue;
            }
            if (is_block_tag(name))
                pending_newlines = std::max(pending_newlines, name == "br" ? 1 : 2);
            else if (name == "td" || name == "th")
                pending_space = true;
            continue;
        }
        if (c == '&') {
            size_t semi = h.find(';', i + 1);
            if (semi != std::string_view::npos && semi - i <= 10) {
                std::string_view ent = h.substr(i + 1, semi - i - 1);
                std::string decoded;
                if (!ent.empty() && ent[0] == '#') {
                    std::uint32_t cp = 0;
                    bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
                    bool ok = ent.size() > (hex ? 2u : 1u);
                    for (size_t k = hex ? 2 : 1; k < ent.size() && ok; ++k) {
                        int d = hex ? g_ascii_xdigit_value(ent[k])
                                    : (g_ascii_isdigit(ent[k]) ? ent[k] - '0' : -1);
                        if (d < 0 || cp > 0x10FFFF)
                            ok = false;
                        else
                            cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
                    }
                    if (ok) put_utf8(decoded, cp);
                } else {
                    for (const auto& ne : entities)
                        if (ent == ne.name) put_utf8(decoded, ne.cp);
                }
                if (!decoded.empty()) {
                    if (decoded == " ")
                        pending_space = true;
                    else
                        emit(decoded);
                    i = semi + 1;
                    continue;
                }
            }
            emit("&");
            ++i;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
            pending_space = true;
            ++i;
            continue;
        }
        size_t j = i;
        while (j < h.size() && h[j] != '<' && h[j] != '&' && h[j] != ' ' && h[j] != '\t' &&
               h[j] != '\r' && h[j] != '\n' && h[j] != '\f')
            ++j;
        emit(h.substr(i, j - i));
        i = j;
    }
    if (out.size() > max) {
        // Cut at a UTF-8 boundary.
        size_t n = max;
        while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;
        out.resize(n);
    }
    return out;
}

}  // namespace mv::mime
