#include "web/pages.hpp"

#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "archive/archive.hpp"
#include "archive/browser.hpp"
#include "archive/searcher.hpp"
#include "mailvault/crashpoint.hpp"
#include "mailvault/units.hpp"
#include "mime/message_index.hpp"
#include "mime/message_view.hpp"
#include "web/assets.hpp"
#include "web/sanitize.hpp"

namespace mv::web {

namespace {

using archive::entry_row;

// ---- small helpers --------------------------------------------------------------------------

std::string esc(std::string_view s) {
    return escape_html(s);
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string url_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+' && plus_is_space) {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 &&
                   hexval(s[i + 2]) >= 0) {
            out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string url_encode(std::string_view s) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += digits[u >> 4];
            out += digits[u & 15];
        }
    }
    return out;
}

using params = std::vector<std::pair<std::string, std::string>>;

params parse_pairs(std::string_view s) {
    params out;
    std::size_t start = 0;
    while (start <= s.size() && out.size() < 64) {
        auto amp = s.find('&', start);
        if (amp == std::string_view::npos) amp = s.size();
        std::string_view kv = s.substr(start, amp - start);
        if (!kv.empty()) {
            auto eq = kv.find('=');
            out.emplace_back(
                url_decode(kv.substr(0, eq), true),
                eq == std::string_view::npos ? std::string() : url_decode(kv.substr(eq + 1), true));
        }
        start = amp + 1;
    }
    return out;
}

std::string param(const params& p, std::string_view name) {
    for (const auto& [k, v] : p)
        if (k == name) return v;
    return {};
}

std::size_t number_param(const params& p, std::string_view name, std::size_t fallback,
                         std::size_t max) {
    std::string v = param(p, name);
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) return fallback;
    return std::min(n, max);
}

std::optional<std::int64_t> parse_id(std::string_view s) {
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v <= 0) return std::nullopt;
    return v;
}

std::string cookie(const request& r, std::string_view name) {
    auto it = r.find(http::field::cookie);
    if (it == r.end()) return {};
    std::string_view all(it->value().data(), it->value().size());
    std::size_t start = 0;
    while (start < all.size()) {
        auto semi = all.find(';', start);
        if (semi == std::string_view::npos) semi = all.size();
        std::string_view kv = all.substr(start, semi - start);
        while (!kv.empty() && kv.front() == ' ') kv.remove_prefix(1);
        auto eq = kv.find('=');
        if (eq != std::string_view::npos && kv.substr(0, eq) == name)
            return std::string(kv.substr(eq + 1));
        start = semi + 1;
    }
    return {};
}

std::string fmt_date(std::optional<std::int64_t> epoch) {
    return epoch ? mv::format_utc(*epoch, "%Y-%m-%d %H:%M") : std::string();
}

std::string location(const entry_row& e) {
    std::string s = e.account + " / " + e.folder;
    if (e.uid) s += " · UID " + std::to_string(*e.uid);
    if (e.uidl) s += " · UIDL " + *e.uidl;
    return s;
}

// Content-Disposition with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987).
std::string disposition(std::string_view filename) {
    std::string ascii;
    for (char c : filename) {
        auto u = static_cast<unsigned char>(c);
        ascii += (u < 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == '%') ? '_' : c;
    }
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + url_encode(filename);
}

// ---- responses ------------------------------------------------------------------------------

response make(http::status st, std::string_view type, std::string body) {
    response r(st, 11);
    r.set(http::field::content_type, std::string(type));
    r.set(http::field::server, "mailvault");
    r.body() = std::move(body);
    return r;
}

response redirect(std::string_view to) {
    response r = make(http::status::see_other, "text/plain; charset=utf-8", "");
    r.set(http::field::location, std::string(to));
    return r;
}

std::string nav_bar(std::string_view user, std::string_view query, bool login_required) {
    std::string h =
        "<header class=\"top\"><a class=\"brand\" href=\"/\">mailvault</a>"
        "<form class=\"search\" method=\"get\" action=\"/search\" role=\"search\">"
        "<input id=\"q\" type=\"search\" name=\"q\" placeholder=\"Search: from:alice "
        "subject:report has:attachment ...\" value=\"" +
        esc(query) +
        "\" autocomplete=\"off\"><button type=\"submit\">Search</button></form>"
        "<nav class=\"links\"><a href=\"/\">Folders</a><a href=\"/audit\">Audit log</a>"
        "<a href=\"/holds\">Holds</a>";
    if (login_required && !user.empty())
        h += "<span class=\"muted\">" + esc(user) +
             "</span><form method=\"post\" action=\"/logout\"><button class=\"light\" "
             "type=\"submit\">Log out</button></form>";
    h += "</nav></header>";
    return h;
}

std::string page(std::string_view title, std::string_view body, std::string_view user,
                 std::string_view query, bool login_required) {
    return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
           "name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
           esc(title) +
           " · mailvault</title><link rel=\"stylesheet\" href=\"/static/app.css\"><script "
           "src=\"/static/app.js\" defer></script></head><body>" +
           nav_bar(user, query, login_required) + "<main>" + std::string(body) +
           "</main></body></html>";
}

std::string snippet_html(std::string_view s) {
    std::string e = esc(s), out;
    for (char c : e) {
        if (c == archive::snippet_open)
            out += "<mark>";
        else if (c == archive::snippet_close)
            out += "</mark>";
        else
            out += c;
    }
    return out;
}

std::string tags(const std::string& flags, bool expunged, bool held) {
    std::string out;
    for (const auto& f : archive::split_flags(flags)) {
        std::string_view v = f;
        if (v == "\\Seen") continue;  // the normal case; unread is worth showing instead
        out += "<span class=\"tag\">" + esc(v.starts_with("\\") ? v.substr(1) : v) + "</span>";
    }
    if (flags.find("\\Seen") == std::string::npos) out += "<span class=\"tag\">unread</span>";
    if (expunged) out += "<span class=\"tag gone\">expunged on server</span>";
    if (held) out += "<span class=\"tag hold\">on hold</span>";
    return out;
}

std::string pager(std::string_view base, std::size_t offset, std::size_t limit, std::size_t shown,
                  bool more, std::optional<std::int64_t> total) {
    std::string h = "<div class=\"pager\">";
    if (shown == 0)
        h += "<span class=\"muted\">nothing to show</span>";
    else
        h += "<span>" + mv::format_count(static_cast<std::int64_t>(offset + 1)) + "–" +
             mv::format_count(static_cast<std::int64_t>(offset + shown)) +
             (total ? " of " + mv::format_count(*total) : std::string()) + "</span>";
    std::string sep = base.find('?') == std::string_view::npos ? "?" : "&";
    if (offset > 0)
        h += "<a class=\"button light\" href=\"" +
             esc(std::string(base) + sep +
                 "offset=" + std::to_string(offset > limit ? offset - limit : 0)) +
             "\">← Newer</a>";
    if (more)
        h += "<a class=\"button light\" href=\"" +
             esc(std::string(base) + sep + "offset=" + std::to_string(offset + limit)) +
             "\">Older →</a>";
    return h + "</div>";
}

// ---- the handler ----------------------------------------------------------------------------

class app final : public handler {
public:
    app(std::shared_ptr<site> s, std::unique_ptr<archive::archive> a)
        : s_(std::move(s)), a_(std::move(a)), b_(*a_) {}

    response handle(const request& r, const client_info& c) override {
        response res = route(r, c);
        security_headers(res, c.tls, framed_);
        // An inline image is fetched by the sandboxed frame, whose origin is opaque: same-origin
        // would refuse it. The link's HMAC token is what protects it.
        if (cid_) res.set("Cross-Origin-Resource-Policy", "cross-origin");
        framed_ = cid_ = false;
        return res;
    }

    body_stream take_body_stream() override { return std::exchange(stream_, {}); }

private:
    body_stream stream_;  // set by raw(), part(), cid_image(): the body streams after the headers
    std::shared_ptr<site> s_;
    std::unique_ptr<archive::archive> a_;
    archive::browser b_;
    bool framed_ = false;
    bool cid_ = false;
    std::string user_;  // who is asking ("" when not logged in)

    bool login_required() const { return s_->o.require_login; }

    std::string cookie_attrs() const { return "; Path=/; HttpOnly; Secure; SameSite=Strict"; }

    response html(http::status st, std::string_view title, std::string_view body,
                  std::string_view query = {}) {
        return make(st, "text/html; charset=utf-8",
                    page(title, body, user_, query, login_required()));
    }

    response error_page(http::status st, std::string_view message) {
        return html(st, "Error", "<div class=\"error\">" + esc(message) + "</div>");
    }

    std::string cid_token(std::int64_t entry_id) const {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        std::string msg = "cid:" + std::to_string(entry_id);
        HMAC(EVP_sha256(), s_->cid_key.data(), static_cast<int>(s_->cid_key.size()),
             reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &n);
        static const char* digits = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < 16 && i < n; ++i) {
            out += digits[md[i] >> 4];
            out += digits[md[i] & 15];
        }
        return out;
    }

    // An audit row for an access; false when it could not be written (the access is refused:
    // auditors rely on the log being complete).
    bool audit(std::string_view kind, const entry_row& e, const client_info& c,
               nlohmann::json extra = nlohmann::json::object()) {
        nlohmann::json j = {{"user", user_.empty() ? "(no login: loopback)" : user_},
                            {"remote", c.address},
                            {"entry_id", e.entry_id},
                            {"account", e.account},
                            {"folder", e.folder},
                            {"sha256", e.content.hex()}};
        if (e.uid) j["uid"] = *e.uid;
        if (e.uidl) j["uidl"] = *e.uidl;
        for (auto& [k, v] : extra.items()) j[k] = v;
        try {
            a_->audit_append(kind,
                             j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            mv::crash_point("serve.audit");
            return true;
        } catch (const mv::failure& f) {
            std::fprintf(stderr, "mailvault serve: audit row not written: %s\n",
                         f.err.message.c_str());
            return false;
        }
    }

    // The message spooled to a private temporary file (mime::spooled_message), never into
    // memory: views and part downloads of a 200 MB message stay in bounded memory.
    std::shared_ptr<mime::spooled_message> read_raw(const entry_row& e) {
        auto raw = std::make_shared<mime::spooled_message>();
        if (auto err = a_->read_content(e.content, [&](std::string_view p) { raw->append(p); })) {
            std::fprintf(stderr, "mailvault serve: %s\n", err.message.c_str());
            return nullptr;
        }
        return raw;
    }

    // ---- routing ----------------------------------------------------------------------------

    response route(const request& r, const client_info& c) {
        std::string_view target(r.target().data(), r.target().size());
        auto qpos = target.find('?');
        std::string path = url_decode(target.substr(0, qpos), false);
        params q = qpos == std::string_view::npos ? params{} : parse_pairs(target.substr(qpos + 1));
        std::vector<std::string> seg;
        for (std::size_t i = 1; i <= path.size();) {
            auto sl = path.find('/', i);
            if (sl == std::string::npos) sl = path.size();
            seg.push_back(path.substr(i, sl - i));
            i = sl + 1;
        }
        if (!seg.empty() && seg.back().empty()) seg.pop_back();
        const bool get = r.method() == http::verb::get || r.method() == http::verb::head;
        const bool post = r.method() == http::verb::post;
        if (!get && !post)
            return make(http::status::method_not_allowed, "text/plain; charset=utf-8",
                        "method not allowed\n");

        if (seg.size() == 2 && seg[0] == "static" && get) {
            const asset* a = find_asset(seg[1]);
            if (!a)
                return make(http::status::not_found, "text/plain; charset=utf-8", "not found\n");
            response res = make(http::status::ok, a->content_type, std::string(a->body));
            res.set(http::field::cache_control, "private, max-age=3600");
            return res;
        }
        // Inline images of a framed message: the link itself is the permission (the sandboxed
        // frame has an opaque origin, so SameSite=Strict cookies do not come with it).
        if (seg.size() == 4 && seg[0] == "cid" && get) return cid_image(seg);

        user_.clear();
        if (login_required()) {
            std::string token = cookie(r, "mv_session");
            if (!token.empty())
                if (auto u = s_->sessions.user_of(token)) user_ = *u;
        }
        if (seg.size() == 1 && seg[0] == "login")
            return post ? login_post(r, c)
                        : login_form("", safe_next(param(q, "next")), http::status::ok,
                                     cookie(r, "mv_csrf"));
        if (seg.size() == 1 && seg[0] == "favicon.ico")
            return make(http::status::not_found, "text/plain; charset=utf-8", "not found\n");
        if (seg.size() == 1 && seg[0] == "logout" && post) return logout(r);
        if (login_required() && user_.empty()) {
            if (!get)
                return make(http::status::unauthorized, "text/plain; charset=utf-8",
                            "log in first\n");
            return redirect("/login?next=" + url_encode(target));
        }
        if (!get)
            return make(http::status::method_not_allowed, "text/plain; charset=utf-8",
                        "method not allowed\n");

        if (seg.empty()) return home();
        if (seg[0] == "search" && seg.size() == 1) return search(q);
        if (seg[0] == "m" && seg.size() >= 2) {
            auto id = parse_id(seg[1]);
            auto e = id ? b_.entry(*id) : std::nullopt;
            if (!e) return error_page(http::status::not_found, "No such message in the archive.");
            if (seg.size() == 2) return message(*e, c);
            if (seg.size() == 3 && seg[2] == "html") return message_html(*e);
            if (seg.size() == 3 && seg[2] == "raw") return raw(*e, c);
            if (seg.size() == 4 && seg[2] == "part") return part(*e, seg[3], c);
        }
        if (seg[0] == "f" && seg.size() == 2) {
            auto id = parse_id(seg[1]);
            if (id) return folder(*id, q);
        }
        if (seg[0] == "t" && seg.size() == 2) {
            auto id = parse_id(seg[1]);
            if (id) return thread(*id);
        }
        if (seg[0] == "audit" && seg.size() == 1) return audit_log(q);
        if (seg[0] == "holds" && seg.size() == 1) return holds();
        return error_page(http::status::not_found, "No such page.");
    }

    // ---- login ------------------------------------------------------------------------------

    response login_form(std::string_view problem, std::string_view next,
                        http::status st = http::status::ok, std::string csrf = {}) {
        // The token of the form and its cookie; a token the browser already holds is kept, so
        // a second tab (or the favicon) does not invalidate an open form.
        bool well_formed =
            csrf.size() == 64 && csrf.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!well_formed) csrf = random_token();
        std::string body =
            "<form class=\"login\" method=\"post\" action=\"/login\"><h1>Log in</h1>";
        if (!problem.empty()) body += "<div class=\"error\">" + esc(problem) + "</div>";
        body += "<input type=\"hidden\" name=\"csrf\" value=\"" + csrf +
                "\"><input type=\"hidden\" name=\"next\" value=\"" + esc(next) +
                "\"><label>User<br><input name=\"user\" autocomplete=\"username\" required "
                "autofocus></label><label>Password<br><input name=\"password\" "
                "type=\"password\" autocomplete=\"current-password\" required></label><button "
                "type=\"submit\">Log in</button></form>";
        response res =
            make(st, "text/html; charset=utf-8",
                 "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in · "
                 "mailvault</title><link rel=\"stylesheet\" "
                 "href=\"/static/app.css\"></head><body><main>" +
                     body + "</main></body></html>");
        res.set(http::field::set_cookie, "mv_csrf=" + csrf + cookie_attrs());
        return res;
    }

    static std::string safe_next(std::string_view next) {
        if (next.empty() || next[0] != '/' ||
            (next.size() > 1 && (next[1] == '/' || next[1] == '\\')))
            return "/";
        for (char ch : next)
            if (static_cast<unsigned char>(ch) < 0x20) return "/";
        return std::string(next);
    }

    response login_post(const request& r, const client_info& c) {
        params f = parse_pairs(r.body());
        std::string next = safe_next(param(f, "next"));
        // CSRF: the form's token must equal the cookie set with the form (double submit; the
        // cookie is SameSite=Strict and HttpOnly), and a browser's Origin must be ours.
        std::string form_token = param(f, "csrf"), cookie_token = cookie(r, "mv_csrf");
        auto origin = r.find(http::field::origin);
        auto host = r.find(http::field::host);
        bool origin_ok = true;
        if (origin != r.end() && host != r.end()) {
            std::string_view o(origin->value().data(), origin->value().size());
            std::string_view h(host->value().data(), host->value().size());
            // "null": what a browser sends under Referrer-Policy: no-referrer.
            origin_ok =
                o == "null" || o == "http://" + std::string(h) || o == "https://" + std::string(h);
        }
        if (form_token.empty() || !equal_constant_time(form_token, cookie_token) || !origin_ok)
            return login_form("The login form expired; please try again.", next,
                              http::status::forbidden);
        if (!login_required()) return redirect(next);
        if (!s_->limiter.allowed(c.address)) {
            response res = login_form("Too many failed logins; wait a few minutes.", next,
                                      http::status::too_many_requests, cookie_token);
            res.set(http::field::retry_after, "300");
            return res;
        }
        std::string user = param(f, "user"), password = param(f, "password");
        const config::serve_user* found = nullptr;
        for (const auto& u : s_->o.users)
            if (equal_constant_time(u.name, user)) found = &u;
        bool ok = verify_password(password, found ? found->password_hash : s_->dummy_hash) &&
                  found != nullptr;
        nlohmann::json j = {{"user", user}, {"remote", c.address}, {"ok", ok}};
        try {
            a_->audit_append("web_login",
                             j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            mv::crash_point("serve.audit");
        } catch (const mv::failure& e) {
            std::fprintf(stderr, "mailvault serve: audit row not written: %s\n",
                         e.err.message.c_str());
            return error_page(http::status::service_unavailable,
                              "The access could not be recorded in the audit log; try again.");
        }
        if (!ok) {
            s_->limiter.failed(c.address);
            return login_form("Wrong user or password.", next, http::status::unauthorized,
                              cookie_token);
        }
        s_->limiter.succeeded(c.address);
        response res = redirect(next);
        res.set(http::field::set_cookie,
                "mv_session=" + s_->sessions.create(found->name) + cookie_attrs());
        res.insert(http::field::set_cookie, "mv_csrf=; Max-Age=0" + cookie_attrs());
        return res;
    }

    response logout(const request& r) {
        std::string token = cookie(r, "mv_session");
        if (!token.empty()) s_->sessions.destroy(token);
        response res = redirect("/login");
        res.set(http::field::set_cookie, "mv_session=; Max-Age=0" + cookie_attrs());
        return res;
    }

    // ---- pages ------------------------------------------------------------------------------

    std::string folder_tree() {
        std::string h;
        for (const auto& a : b_.accounts()) {
            h += "<h2>" + esc(a.info.name) + " <span class=\"muted\">" + esc(a.info.protocol) +
                 " · " + esc(a.info.username) + "@" + esc(a.info.host) +
                 "</span></h2><ul class=\"tree\">";
            std::set<std::string> names;
            for (const auto& f : a.folders) names.insert(f.name);
            for (const auto& f : a.folders) {
                // Indented under its parent when the parent is archived too, else named in full.
                std::string leaf = f.name;
                int depth = 0;
                if (f.delimiter && !f.delimiter->empty()) {
                    auto cut = f.name.rfind(*f.delimiter);
                    if (cut != std::string::npos && names.count(f.name.substr(0, cut))) {
                        leaf = f.name.substr(cut + f.delimiter->size());
                        std::size_t pos = 0;
                        while ((pos = f.name.find(*f.delimiter, pos)) != std::string::npos) {
                            ++depth;
                            pos += f.delimiter->size();
                        }
                    }
                }
                h += "<li class=\"depth-" + std::to_string(std::min(depth, 6)) +
                     "\"><a href=\"/f/" + std::to_string(f.mailbox_id) + "\">" + esc(leaf) +
                     "</a><span class=\"count\">" + mv::format_count(f.messages) +
                     (f.expunged ? " (+" + mv::format_count(f.expunged) + " expunged)"
                                 : std::string()) +
                     "</span></li>";
            }
            h += "</ul>";
        }
        if (h.empty()) h = "<p class=\"muted\">The archive holds no accounts yet.</p>";
        return h;
    }

    response home() {
        return html(http::status::ok, "Folders", "<h1>Folders</h1>" + folder_tree());
    }

    std::string entry_table(const std::vector<entry_row>& rows, bool show_folder) {
        std::string h =
            "<table class=\"list\"><thead><tr><th>Date</th><th>From</th><th>Subject</th>" +
            std::string(show_folder ? "<th>Folder</th>" : "") +
            "<th class=\"num\">Size</th></tr></thead><tbody>";
        for (const auto& e : rows) {
            h += "<tr><td class=\"date\">" + esc(fmt_date(e.when())) + "</td><td>" + esc(e.from) +
                 "</td><td><a class=\"subject\" href=\"/m/" + std::to_string(e.entry_id) + "\">" +
                 esc(e.subject.empty() ? "(no subject)" : e.subject) + "</a> " +
                 tags(e.flags, e.expunged_at.has_value(), e.held) + "</td>" +
                 (show_folder ? "<td>" + esc(e.account + " / " + e.folder) + "</td>" : "") +
                 "<td class=\"num\">" + mv::format_size(e.size) + "</td></tr>";
        }
        return h + "</tbody></table>";
    }

    response search(const params& q) {
        std::string query = param(q, "q");
        std::size_t limit = number_param(q, "limit", s_->o.page_size, s_->o.max_page_size);
        if (limit == 0) limit = s_->o.page_size;
        std::size_t offset = number_param(q, "offset", 0, 10'000'000);
        if (query.empty()) return home();
        archive::search_request req;
        req.query = query;
        req.limit = limit;
        req.offset = offset;
        req.want_total = true;
        if (param(q, "sort") == "relevance") req.sort = archive::search_sort::relevance;
        archive::search_page p;
        try {
            archive::searcher s(*a_);
            p = s.page(req);
        } catch (const mv::failure& f) {
            if (f.err.code != errc::usage) throw;
            return html(http::status::bad_request, "Search",
                        "<h1>Search</h1><div class=\"error\">" + esc(f.err.message) + "</div>",
                        query);
        }
        std::string h = "<h1>Search results</h1>";
        std::string base = "/search?q=" + url_encode(query) + "&limit=" + std::to_string(limit);
        h += pager(base, offset, limit, p.hits.size(), p.more, p.total);
        h += "<table class=\"list results\"><thead><tr><th>Date</th><th>From</th><th>Subject</"
             "th><th>Folder</th><th class=\"num\">Size</th></tr></thead><tbody>";
        for (const auto& e : p.hits) {
            h += "<tr><td class=\"date\">" + esc(fmt_date(e.date_epoch)) + "</td><td>" +
                 esc(e.from) + "</td><td><a class=\"subject\" href=\"/m/" +
                 std::to_string(e.entry_id) + "\">" +
                 esc(e.subject.empty() ? "(no subject)" : e.subject) + "</a> " +
                 tags(e.flags, e.expunged, e.held);
            if (!e.snippet.empty())
                h += "<div class=\"snippet\">" + snippet_html(e.snippet) + "</div>";
            h += "</td><td>" + esc(e.account + " / " + e.folder) + "</td><td class=\"num\">" +
                 mv::format_size(e.size) + "</td></tr>";
        }
        h += "</tbody></table>";
        if (p.hits.empty()) h += "<p class=\"muted\">No message matches.</p>";
        h += pager(base, offset, limit, p.hits.size(), p.more, p.total);
        return html(http::status::ok, "Search: " + query, h, query);
    }

    response folder(std::int64_t mailbox_id, const params& q) {
        auto f = b_.folder(mailbox_id);
        if (!f) return error_page(http::status::not_found, "No such folder in the archive.");
        std::size_t limit = number_param(q, "limit", s_->o.page_size, s_->o.max_page_size);
        if (limit == 0) limit = s_->o.page_size;
        std::size_t offset = number_param(q, "offset", 0, 10'000'000);
        auto p = b_.folder_entries(mailbox_id, offset, limit);
        std::string base = "/f/" + std::to_string(mailbox_id) + "?limit=" + std::to_string(limit);
        std::string acct = p.rows.empty() ? std::string() : p.rows.front().account + " / ";
        std::string h = "<h1>" + esc(acct + f->name) + "</h1>" +
                        pager(base, offset, limit, p.rows.size(), p.more, p.total) +
                        entry_table(p.rows, false) +
                        pager(base, offset, limit, p.rows.size(), p.more, p.total);
        return html(http::status::ok, f->name, h);
    }

    response thread(std::int64_t entry_id) {
        auto rows = b_.thread(entry_id);
        if (rows.empty()) return error_page(http::status::not_found, "No such message.");
        return html(http::status::ok, "Thread",
                    "<h1>Thread <span class=\"muted\">(" + std::to_string(rows.size()) +
                        " messages)</span></h1>" + entry_table(rows, true));
    }

    response audit_log(const params& q) {
        std::size_t offset = number_param(q, "offset", 0, 100'000'000);
        std::size_t limit = 100;
        auto p = b_.audit(offset, limit);
        std::string h =
            "<h1>Audit log</h1><p class=\"muted\">Append-only and hash-chained; "
            "`mailvault audit verify` checks the chain.</p>" +
            pager("/audit", offset, limit, p.rows.size(), p.more, p.total) +
            "<table class=\"list\"><thead><tr><th>#</th><th>When (UTC)</th><th>What</"
            "th><th>Details</th></tr></thead><tbody>";
        for (const auto& r : p.rows)
            h += "<tr><td class=\"num\">" + std::to_string(r.seq) + "</td><td class=\"date\">" +
                 esc(fmt_date(r.at)) + "</td><td>" + esc(r.kind) + "</td><td><code>" +
                 esc(r.payload) + "</code></td></tr>";
        h += "</tbody></table>";
        return html(http::status::ok, "Audit log", h);
    }

    response holds() {
        std::string h =
            "<h1>Legal holds</h1><table class=\"list\"><thead><tr><th>#</th><th>Scope</"
            "th><th>Reason</th><th>Added</th><th>Released</th></tr></thead><tbody>";
        auto all = b_.holds();
        for (const auto& x : all)
            h += "<tr><td class=\"num\">" + std::to_string(x.id) + "</td><td>" +
                 esc(x.account + (x.mailbox ? " / " + *x.mailbox : " (whole account)")) +
                 "</td><td>" + esc(x.reason) + "</td><td class=\"date\">" +
                 esc(fmt_date(x.added_at)) + "</td><td class=\"date\">" +
                 (x.released_at ? esc(fmt_date(*x.released_at))
                                : std::string("<span class=\"tag hold\">active</span>")) +
                 "</td></tr>";
        h += "</tbody></table>";
        if (all.empty()) h += "<p class=\"muted\">No legal holds.</p>";
        return html(http::status::ok, "Legal holds", h);
    }

    response message(const entry_row& e, const client_info& c) {
        auto raw = read_raw(e);
        if (!raw)
            return error_page(http::status::internal_server_error,
                              "The stored message failed verification; run `mailvault verify`.");
        if (!audit("web_view", e, c))
            return error_page(http::status::service_unavailable,
                              "The access could not be recorded in the audit log; try again.");
        auto v = mime::view(*raw);
        const std::string id = std::to_string(e.entry_id);
        std::string h = "<h1>" + esc(v.subject.empty() ? "(no subject)" : v.subject) + "</h1>";
        h += "<dl class=\"headers\">";
        auto row = [&](std::string_view k, std::string_view val) {
            if (!val.empty()) h += "<dt>" + esc(k) + "</dt><dd>" + esc(val) + "</dd>";
        };
        row("From", v.from);
        row("To", v.to);
        row("Cc", v.cc);
        row("Date", v.date);
        row("Message-ID", v.message_id);
        row("Folder", location(e));
        row("Flags", e.flags.empty() ? "(none)" : e.flags);
        row("INTERNALDATE", fmt_date(e.internaldate) + (e.internaldate ? " UTC" : ""));
        row("Size", mv::format_size(e.size));
        row("SHA-256", e.content.hex());
        h += "</dl><div class=\"actions\"><a class=\"button light\" href=\"/m/" + id +
             "/raw\">Download .eml</a><a class=\"button light\" href=\"/t/" + id + "\">Thread</a>" +
             tags(e.flags, e.expunged_at.has_value(), e.held) + "</div>";
        if (!v.parsed) {
            h += "<div class=\"notice\">The message could not be parsed as MIME; download it to "
                 "read its bytes.</div>";
            return html(http::status::ok, "Message", h);
        }
        auto atts = v.attachments();
        if (!atts.empty()) {
            h += "<h2>Attachments</h2><table class=\"list attachments\"><thead><tr><th>#</"
                 "th><th>Name</th><th>Type</th><th class=\"num\">Size</th></tr></thead><tbody>";
            for (const auto* p : atts) {
                std::string name =
                    mime::safe_filename(p->filename, "part-" + std::to_string(p->number));
                h += "<tr><td class=\"num\">" + std::to_string(p->number) +
                     "</td><td><a class=\"download\" href=\"/m/" + id + "/part/" +
                     std::to_string(p->number) + "\">" + esc(name) + "</a></td><td>" +
                     esc(p->content_type) + (p->content_id.empty() ? "" : " (inline)") +
                     "</td><td class=\"num\">" + mv::format_size(p->size) + "</td></tr>";
            }
            h += "</tbody></table>";
        }
        if (!v.html.empty()) {
            h += "<h2>Message</h2><p class=\"muted\">HTML shown sanitized, without scripts and "
                 "without remote content.</p><iframe class=\"html\" title=\"message\" "
                 "sandbox=\"allow-popups allow-popups-to-escape-sandbox\" "
                 "referrerpolicy=\"no-referrer\" src=\"/m/" +
                 id + "/html\"></iframe>";
            if (!v.text.empty())
                h += "<details><summary>Plain text version</summary><pre class=\"text\">" +
                     esc(v.text) + "</pre></details>";
        } else {
            h += "<h2>Message</h2><pre class=\"text\">" + esc(v.text) + "</pre>";
        }
        if (v.text_truncated || v.html_truncated)
            h += "<div class=\"notice\">The body is longer than shown; download the message for "
                 "all of it.</div>";
        h += "<details class=\"allheaders\"><summary>All headers</summary><pre>";
        for (const auto& [k, val] : v.headers) h += esc(k) + ": " + esc(val) + "\n";
        h += "</pre></details>";
        return html(http::status::ok, v.subject.empty() ? "Message" : v.subject, h);
    }

    response message_html(const entry_row& e) {
        auto raw = read_raw(e);
        if (!raw) return make(http::status::internal_server_error, "text/plain", "unreadable\n");
        auto v = mime::view(*raw);
        const std::string prefix =
            "/cid/" + std::to_string(e.entry_id) + "/" + cid_token(e.entry_id) + "/";
        sanitize_options o;
        o.resolve_cid = [&](std::string_view cid) -> std::optional<std::string> {
            const mime::part_info* p = v.find_cid(cid);
            if (!p || !p->content_type.starts_with("image/") || p->content_type == "image/svg+xml")
                return std::nullopt;
            return prefix + std::to_string(p->number);
        };
        auto s = sanitize_html(v.html, o);
        std::string doc =
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>body{font:15px/1.45 "
            "system-ui,sans-serif;margin:12px;color:#1d232b;overflow-wrap:anywhere}img{max-width:"
            "100%;height:auto}</style>" +
            s.head + "</head><body>";
        if (s.remote_blocked > 0)
            doc +=
                "<div style=\"background:#fff7e6;border:1px solid #f3d7a3;color:#9a5b00;"
                "padding:6px 10px;border-radius:6px;margin-bottom:10px;font-size:13px\">" +
                std::to_string(s.remote_blocked) +
                " remote image(s) or style(s) blocked. mailvault never loads remote "
                "content.</div>";
        doc += s.body + "</body></html>";
        framed_ = true;
        return make(http::status::ok, "text/html; charset=utf-8", std::move(doc));
    }

    response cid_image(const std::vector<std::string>& seg) {
        auto id = parse_id(seg[1]);
        auto n = parse_id(seg[3]);
        if (!id || !n || !equal_constant_time(seg[2], cid_token(*id)))
            return make(http::status::not_found, "text/plain; charset=utf-8", "not found\n");
        auto e = b_.entry(*id);
        if (!e) return make(http::status::not_found, "text/plain; charset=utf-8", "not found\n");
        auto raw = read_raw(*e);
        if (!raw) return make(http::status::not_found, "text/plain; charset=utf-8", "not found\n");
        auto v = mime::view(*raw);
        const mime::part_info* p = v.part(static_cast<int>(*n));
        if (!p || !p->content_type.starts_with("image/") || p->content_type == "image/svg+xml")
            return make(http::status::not_found, "text/plain; charset=utf-8", "not found\n");
        stream_ = [raw, n = p->number](const body_write_fn& write) {
            bool client_ok = true;
            const auto err = mime::decode_part(*raw, n, [&](std::string_view b) {
                if (client_ok) client_ok = write(b);
            });
            return !err && client_ok;
        };
        response res = make(http::status::ok, p->content_type, "");
        res.content_length(p->size);
        res.set(http::field::cache_control, "private, max-age=600");
        cid_ = true;
        return res;
    }

    response part(const entry_row& e, std::string_view n, const client_info& c) {
        auto number = parse_id(n);
        auto raw = read_raw(e);
        if (!raw || !number) return error_page(http::status::not_found, "No such part.");
        auto v = mime::view(*raw);
        const mime::part_info* p = v.part(static_cast<int>(*number));
        if (!p) return error_page(http::status::not_found, "No such part.");
        std::string name = mime::safe_filename(p->filename, "part-" + std::to_string(p->number));
        if (!audit("web_download_part", e, c,
                   {{"part", p->number}, {"filename", name}, {"size", p->size}}))
            return error_page(http::status::service_unavailable,
                              "The access could not be recorded in the audit log; try again.");
        // Streamed: decoded from the spool chunk by chunk as the client takes it. Its length is
        // known (view() decoded it once to count), so the response says it up front.
        stream_ = [raw, n = p->number](const body_write_fn& write) {
            bool client_ok = true;
            const auto err = mime::decode_part(*raw, n, [&](std::string_view b) {
                if (client_ok) client_ok = write(b);
            });
            if (err) {
                std::fprintf(stderr, "mailvault serve: part download cut short: %s\n",
                             err.message.c_str());
                return false;
            }
            return client_ok;
        };
        // Always a download, never rendered here: an attached HTML page or SVG must not run
        // with the viewer's origin.
        response res = make(http::status::ok, "application/octet-stream", "");
        res.content_length(p->size);
        res.set(http::field::content_disposition, disposition(name));
        return res;
    }

    response raw(const entry_row& e, const client_info& c) {
        // Streamed from the archive chunk by chunk (memory does not follow the message's size).
        // read_content re-hashes as it goes and reports a mismatch only at the end, so one chunk
        // is held back: a message that fails verification is cut short, never sent as whole.
        const auto info = a_->content(e.content);
        if (!info)
            return error_page(http::status::not_found, "The message's content is not archived.");
        if (!audit("web_download_raw", e, c))
            return error_page(http::status::service_unavailable,
                              "The access could not be recorded in the audit log; try again.");
        stream_ = [this, h = e.content](const body_write_fn& write) {
            std::string held;
            bool client_ok = true;
            const auto err = a_->read_content(h, [&](std::string_view chunk) {
                if (client_ok && !held.empty()) client_ok = write(held);
                held.assign(chunk);
            });
            if (err) {
                std::fprintf(stderr, "mailvault serve: download cut short: %s\n",
                             err.message.c_str());
                return false;
            }
            return client_ok && (held.empty() || write(held));
        };
        std::string base = e.subject.empty() ? "message-" + std::to_string(e.entry_id) : e.subject;
        if (base.size() > 80) base.resize(80);
        std::string name = mime::safe_filename(mime::make_valid_utf8(base), "message") + ".eml";
        for (auto& ch : name)
            if (ch == '/' || ch == '\\') ch = '_';
        response res = make(http::status::ok, "message/rfc822", "");
        res.content_length(info->raw_size);
        res.set(http::field::content_disposition, disposition(name));
        return res;
    }
};

}  // namespace

site::site(site_options opts)
    : o(std::move(opts)), cid_key(random_token()), dummy_hash(hash_password(random_token(), 1000)) {
    // The dummy's iteration count must match the users' for equal timing.
    if (!o.users.empty()) {
        const std::string& h = o.users.front().password_hash;
        auto a = h.find('$'), b = h.find('$', a + 1);
        if (a != std::string::npos && b != std::string::npos) {
            int it = std::atoi(h.substr(a + 1, b - a - 1).c_str());
            if (it >= 1000 && it <= 10'000'000) dummy_hash = hash_password(random_token(), it);
        }
    }
}

void security_headers(response& r, bool tls, bool framed_message) {
    if (framed_message) {
        // The message's own HTML: a sandbox with no script, no forms, no plugins; images only
        // from the archive (cid: links), inline styles, nothing remote.
        r.set("Content-Security-Policy",
              "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src "
              "'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'self'");
        r.set(http::field::x_frame_options, "SAMEORIGIN");
    } else {
        r.set("Content-Security-Policy",
              "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
              "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
        r.set(http::field::x_frame_options, "DENY");
    }
    r.set("X-Content-Type-Options", "nosniff");
    r.set("Referrer-Policy", "no-referrer");
    r.set("Cross-Origin-Opener-Policy", "same-origin");
    r.set("Cross-Origin-Resource-Policy", "same-origin");
    r.set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()");
    if (r.find(http::field::cache_control) == r.end())
        r.set(http::field::cache_control, "no-store");
    if (tls) r.set(http::field::strict_transport_security, "max-age=31536000");
}

std::unique_ptr<handler> make_handler(std::shared_ptr<site> s,
                                      std::unique_ptr<archive::archive> a) {
    return std::make_unique<app>(std::move(s), std::move(a));
}

}  // namespace mv::web
