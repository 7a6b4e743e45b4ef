#include "mime/message_view.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "mime/message_index.hpp"

namespace mv::mime {

namespace {

constexpr int max_depth = 32;

std::once_flag options_once;
GMimeParserOptions* options = nullptr;

GMimeParserOptions* parser_options() {
    ensure_init();
    std::call_once(options_once, [] {
        options = g_mime_parser_options_new();
        g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
        g_mime_parser_options_set_address_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
        g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
        const char* fallback[] = {"UTF-8", "windows-1252", nullptr};
        g_mime_parser_options_set_fallback_charsets(options, fallback);
    });
    return options;
}

struct unref {
    gpointer p;
    explicit unref(gpointer ptr) : p(ptr) {}
    ~unref() {
        if (p) g_object_unref(p);
    }
    unref(const unref&) = delete;
    unref& operator=(const unref&) = delete;
};

struct gstr {
    char* p;
    explicit gstr(char* s) : p(s) {}
    ~gstr() { g_free(p); }
    gstr(const gstr&) = delete;
    gstr& operator=(const gstr&) = delete;
    std::string str() const { return p ? make_valid_utf8(p) : std::string(); }
};

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string addresses(InternetAddressList* list) {
    if (!list || internet_address_list_length(list) == 0) return {};
    return gstr(internet_address_list_to_string(list, nullptr, FALSE)).str();
}

// The parsed message; owns the GMime objects (the parser keeps no reference to `raw`: the
// memory stream copies it).
struct parsed {
    unref stream, parser, message;
    explicit parsed(std::string_view raw)
        : stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size())),
          parser(g_mime_parser_new_with_stream(static_cast<GMimeStream*>(stream.p))),
          message(nullptr) {
        g_mime_parser_set_format(static_cast<GMimeParser*>(parser.p), GMIME_FORMAT_MESSAGE);
        message.p =
            g_mime_parser_construct_message(static_cast<GMimeParser*>(parser.p), parser_options());
    }
    GMimeMessage* msg() const { return static_cast<GMimeMessage*>(message.p); }
};

// Calls fn(leaf, number) for every leaf in depth-first order.
template <class Fn>
void walk(GMimeObject* obj, int depth, int& counter, Fn&& fn) {
    if (!obj || depth > max_depth) return;
    if (GMIME_IS_MULTIPART(obj)) {
        auto* mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i), depth + 1, counter, fn);
        return;
    }
    if (GMIME_IS_PART(obj) || GMIME_IS_MESSAGE_PART(obj)) fn(obj, ++counter);
}

// Decoded bytes of a leaf written to `out` (a GMime stream).
void write_leaf(GMimeObject* obj, GMimeStream* out) {
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner) g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, out);
        return;
    }
    GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(obj));
    if (content) g_mime_data_wrapper_write_to_stream(content, out);
}

std::string leaf_text(GMimeObject* obj, std::size_t max, bool& truncated) {
    gstr text(g_mime_text_part_get_text(GMIME_TEXT_PART(obj)));
    std::string s = text.str();
    if (s.size() > max) {
        // Cut at a character boundary.
        std::size_t cut = max;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
        s.resize(cut);
        truncated = true;
    }
    return s;
}

}  // namespace

const part_info* message_view::find_cid(std::string_view cid) const {
    std::string want(cid);
    if (want.size() >= 4 && lower(want.substr(0, 4)) == "cid:") {
        // RFC 2392: the URL form is percent-encoded.
        std::string dec;
        for (std::size_t i = 4; i < want.size(); ++i) {
            if (want[i] == '%' && i + 2 < want.size() &&
                std::isxdigit(static_cast<unsigned char>(want[i + 1])) &&
                std::isxdigit(static_cast<unsigned char>(want[i + 2]))) {
                dec += static_cast<char>(std::stoi(want.substr(i + 1, 2), nullptr, 16));
                i += 2;
            } else {
                dec += want[i];
            }
        }
        want = dec;
    }
    if (want.size() >= 2 && want.front() == '<' && want.back() == '>')
        want = want.substr(1, want.size() - 2);
    if (want.empty()) return nullptr;
    for (const auto& p : parts)
        if (p.content_id == want) return &p;
    return nullptr;
}

const part_info* message_view::part(int number) const {
    for (const auto& p : parts)
        if (p.number == number) return &p;
    return nullptr;
}

std::vector<const part_info*> message_view::attachments() const {
    std::vector<const part_info*> out;
    for (const auto& p : parts)
        if (!p.body) out.push_back(&p);
    return out;
}

message_view view(std::string_view raw, const view_limits& limits) {
    message_view v;
    parsed pm(raw);
    GMimeMessage* msg = pm.msg();
    if (!msg) return v;
    v.parsed = true;
    GMimeObject* obj = GMIME_OBJECT(msg);

    GMimeHeaderList* hl = g_mime_object_get_header_list(obj);
    int hn = hl ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; i < hn; ++i) {
        GMimeHeader* h = g_mime_header_list_get_header_at(hl, i);
        const char* name = g_mime_header_get_name(h);
        const char* value = g_mime_header_get_value(h);
        std::string val;
        if (value) val = gstr(g_mime_utils_header_decode_text(parser_options(), value)).str();
        v.headers.emplace_back(name ? make_valid_utf8(name) : std::string(), std::move(val));
    }
    v.from = addresses(g_mime_message_get_from(msg));
    v.to = addresses(g_mime_message_get_to(msg));
    v.cc = addresses(g_mime_message_get_cc(msg));
    if (const char* s = g_mime_message_get_subject(msg)) v.subject = make_valid_utf8(s);
    if (const char* d = g_mime_object_get_header(obj, "Date")) v.date = make_valid_utf8(d);
    if (const char* id = g_mime_message_get_message_id(msg)) v.message_id = make_valid_utf8(id);

    int counter = 0;
    bool have_text = false, have_html = false;
    walk(g_mime_message_get_mime_part(msg), 0, counter, [&](GMimeObject* leaf, int number) {
        part_info p;
        p.number = number;
        if (GMimeContentType* ct = g_mime_object_get_content_type(leaf)) {
            p.content_type = lower(gstr(g_mime_content_type_get_mime_type(ct)).str());
            if (const char* cs = g_mime_content_type_get_parameter(ct, "charset"))
                p.charset = make_valid_utf8(cs);
        }
        if (p.content_type.empty()) p.content_type = "text/plain";
        if (const char* d = g_mime_object_get_disposition(leaf)) p.disposition = lower(d);
        if (const char* cid = g_mime_object_get_content_id(leaf))
            p.content_id = make_valid_utf8(cid);
        if (GMIME_IS_PART(leaf)) {
            if (const char* fn = g_mime_part_get_filename(GMIME_PART(leaf)))
                p.filename = make_valid_utf8(fn);
        }
        unref counter_stream(g_mime_stream_null_new());
        write_leaf(leaf, static_cast<GMimeStream*>(counter_stream.p));
        p.size = static_cast<GMimeStreamNull*>(counter_stream.p)->written;

        const bool attachment = p.disposition == "attachment" || !p.filename.empty();
        if (GMIME_IS_TEXT_PART(leaf) && !attachment) {
            if (p.content_type == "text/plain" && !have_text) {
                v.text = leaf_text(leaf, limits.max_body, v.text_truncated);
                have_text = p.body = true;
            } else if (p.content_type == "text/html" && !have_html) {
                v.html = leaf_text(leaf, limits.max_body, v.html_truncated);
                have_html = p.body = true;
            }
        }
        v.parts.push_back(std::move(p));
    });
    return v;
}

mv::error decode_part(std::string_view raw, int number,
                      const std::function<void(std::string_view)>& sink) {
    parsed pm(raw);
    if (!pm.msg()) return {errc::usage, "the message could not be parsed as MIME"};
    GMimeObject* found = nullptr;
    int counter = 0;
    walk(g_mime_message_get_mime_part(pm.msg()), 0, counter, [&](GMimeObject* leaf, int n) {
        if (n == number) found = leaf;
    });
    if (!found)
        return {errc::usage, "the message has no part " + std::to_string(number) + " (it has " +
                                 std::to_string(counter) + ")"};
    unref mem(g_mime_stream_mem_new());
    auto* ms = static_cast<GMimeStream*>(mem.p);
    write_leaf(found, ms);
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
    constexpr std::size_t chunk = 64 * 1024;
    for (std::size_t off = 0; bytes && off < bytes->len; off += chunk)
        sink(std::string_view(reinterpret_cast<const char*>(bytes->data) + off,
                              std::min<std::size_t>(chunk, bytes->len - off)));
    return {};
}

std::string safe_filename(std::string_view name, std::string_view fallback) {
    auto slash = name.find_last_of("/\\");
    if (slash != std::string_view::npos) name = name.substr(slash + 1);
    std::string out;
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '"' || c == ':' || c == '*' || c == '?' || c == '<' ||
            c == '>' || c == '|')
            out += '_';
        else
            out += c;
    }
    while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(0, 1);
    while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
    if (out.size() > 200) out.resize(200);
    out = make_valid_utf8(out);
    return out.empty() ? std::string(fallback) : out;
}

}  // namespace mv::mime
