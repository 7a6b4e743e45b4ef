#include "mime/message_view.hpp"

#include <fcntl.h>
#include <gmime/gmime.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
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

// A temporary file nobody else can open: created 0600 (whatever the umask) and unlinked at
// once, so the descriptor is all there is and nothing outlives the process.
int private_temp_fd() {
    const char* env = std::getenv("TMPDIR");
    const std::string dir = env && *env ? env : "/tmp";
    std::string path = dir + "/mailvault-spool-XXXXXX";
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0)
        throw mv::failure(errc::io, "cannot create a temporary file in " + dir + ": " +
                                        std::strerror(errno) +
                                        "; set TMPDIR to a writable directory");
    ::unlink(path.c_str());
    ::fchmod(fd, 0600);
    return fd;
}

// A GMime stream reading `fd` from its start, on a descriptor of its own (the stream closes it).
GMimeStream* file_stream(int fd, gint64 end = -1) {
    int d = ::dup(fd);
    if (d < 0) throw mv::failure(errc::io, std::string("dup: ") + std::strerror(errno));
    ::lseek(d, 0, SEEK_SET);
    return end < 0 ? g_mime_stream_fs_new(d) : g_mime_stream_fs_new_with_bounds(d, 0, end);
}

// The parsed message; owns the GMime objects. From memory, the memory stream copies `raw`;
// from a spool file, the parser persists the (seekable) stream: part contents stay byte ranges
// of the file and are read only when written out.
struct parsed {
    unref stream, parser, message;
    explicit parsed(std::string_view raw)
        : stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size())),
          parser(nullptr),
          message(nullptr) {
        construct();
    }
    explicit parsed(const spooled_message& m)
        : stream(file_stream(m.fd())), parser(nullptr), message(nullptr) {
        construct();
    }
    void construct() {
        parser.p = g_mime_parser_new_with_stream(static_cast<GMimeStream*>(stream.p));
        auto* ps = static_cast<GMimeParser*>(parser.p);
        g_mime_parser_set_format(ps, GMIME_FORMAT_MESSAGE);
        g_mime_parser_set_persist_stream(ps, TRUE);
        message.p = g_mime_parser_construct_message(ps, parser_options());
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

void cut_utf8(std::string& s, std::size_t max, bool& truncated) {
    if (s.size() <= max) return;
    // Cut at a character boundary.
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s.resize(cut);
    truncated = true;
}

// The body text in UTF-8, at most `max` bytes. `decoded` is the part's decoded size: up to
// `max`, GMime's get_text (charset detection with the fallback charsets). Beyond, get_text
// would hold the whole text (a 200 MB text part: 200 MB, twice): the part is decoded and
// converted from its declared charset (else taken as UTF-8) into a temporary file bounded at
// a little more than `max` bytes, where the write stops, and that much is read back.
std::string leaf_text(GMimeObject* obj, std::uint64_t decoded, std::size_t max, bool& truncated) {
    if (decoded <= max) {
        gstr text(g_mime_text_part_get_text(GMIME_TEXT_PART(obj)));
        std::string s = text.str();
        cut_utf8(s, max, truncated);
        return s;
    }
    truncated = true;
    GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(obj));
    if (!content) return {};
    const int fd = private_temp_fd();
    const std::size_t keep = max + 8;  // room for the last character's bytes
    {
        unref out(file_stream(fd, static_cast<gint64>(keep)));
        unref filtered(g_mime_stream_filter_new(static_cast<GMimeStream*>(out.p)));
        const char* cs = g_mime_text_part_get_charset(GMIME_TEXT_PART(obj));
        if (cs && g_ascii_strcasecmp(cs, "utf-8") != 0 && g_ascii_strcasecmp(cs, "us-ascii") != 0)
            if (GMimeFilter* f = g_mime_filter_charset_new(cs, "UTF-8")) {
                g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.p), f);
                g_object_unref(f);
            }
        // Fails (-1) once the bound is reached: that is the point.
        g_mime_data_wrapper_write_to_stream(content, static_cast<GMimeStream*>(filtered.p));
        g_mime_stream_flush(static_cast<GMimeStream*>(filtered.p));
    }
    std::string s(keep, '\0');
    ssize_t n = ::pread(fd, s.data(), s.size(), 0);
    ::close(fd);
    s.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    bool cut = false;
    cut_utf8(s, max, cut);
    return make_valid_utf8(s);
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

namespace {

message_view view_of(const parsed& pm, const view_limits& limits) {
    message_view v;
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
                v.text = leaf_text(leaf, p.size, limits.max_body, v.text_truncated);
                have_text = p.body = true;
            } else if (p.content_type == "text/html" && !have_html) {
                v.html = leaf_text(leaf, p.size, limits.max_body, v.html_truncated);
                have_html = p.body = true;
            }
        }
        v.parts.push_back(std::move(p));
    });
    return v;
}

GMimeObject* find_leaf(const parsed& pm, int number, int& counter) {
    GMimeObject* found = nullptr;
    walk(g_mime_message_get_mime_part(pm.msg()), 0, counter, [&](GMimeObject* leaf, int n) {
        if (n == number) found = leaf;
    });
    return found;
}

mv::error no_part(int number, int count) {
    return {errc::usage, "the message has no part " + std::to_string(number) + " (it has " +
                             std::to_string(count) + ")"};
}

}  // namespace

message_view view(std::string_view raw, const view_limits& limits) {
    parsed pm(raw);
    return view_of(pm, limits);
}

message_view view(const spooled_message& m, const view_limits& limits) {
    parsed pm(m);
    return view_of(pm, limits);
}

spooled_message::spooled_message() : fd_(private_temp_fd()) {}

spooled_message::~spooled_message() {
    if (fd_ >= 0) ::close(fd_);
}

void spooled_message::append(std::string_view b) {
    while (!b.empty()) {
        ssize_t w = ::write(fd_, b.data(), b.size());
        if (w < 0) {
            if (errno == EINTR) continue;
            throw mv::failure(errc::io, std::string("writing a temporary file failed: ") +
                                            std::strerror(errno) +
                                            "; free space in TMPDIR or point it elsewhere");
        }
        b.remove_prefix(static_cast<std::size_t>(w));
        size_ += static_cast<std::uint64_t>(w);
    }
}

// From a spool the decoded part goes through a second temporary file, read back in chunks: the
// sink gets it in pieces whatever the part's size.
mv::error decode_part(const spooled_message& m, int number,
                      const std::function<void(std::string_view)>& sink) {
    parsed pm(m);
    if (!pm.msg()) return {errc::usage, "the message could not be parsed as MIME"};
    int counter = 0;
    GMimeObject* found = find_leaf(pm, number, counter);
    if (!found) return no_part(number, counter);
    const int fd = private_temp_fd();
    {
        unref out(file_stream(fd));
        write_leaf(found, static_cast<GMimeStream*>(out.p));
        g_mime_stream_flush(static_cast<GMimeStream*>(out.p));
    }
    std::string buf(256 * 1024, '\0');
    off_t off = 0;
    mv::error err;
    while (true) {
        ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = {errc::io,
                   std::string("reading a temporary file failed: ") + std::strerror(errno)};
            break;
        }
        if (n == 0) break;
        sink(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        off += n;
    }
    ::close(fd);
    return err;
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
