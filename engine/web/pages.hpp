// The web viewer's pages and routes (mailvault serve, docs/web.md). Read-only over the archive,
// except for the audit rows it writes: every message view and download (who, what, when) and
// every login attempt.
//
// Routes: /  (search box, folder tree)   /search?q=&offset=&limit=   /m/ID (message)
//         /m/ID/html (sanitized HTML, framed)   /m/ID/part/N   /m/ID/raw
//         /cid/ID/TOKEN/N (inline image of a framed message)   /f/ID?offset= (folder)
//         /t/ID (thread)   /audit?offset=   /holds   /login (GET, POST)   /logout (POST)
//         /static/app.css, /static/app.js
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mailvault/config.hpp"
#include "web/auth.hpp"
#include "web/server.hpp"

namespace mv::archive {
class archive;
}

namespace mv::web {

struct site_options {
    bool require_login = false;
    bool tls = false;
    std::vector<config::serve_user> users;
    std::size_t page_size = 50;
    std::size_t max_page_size = 200;
};

// What the workers share: sessions, the login limiter, the key of cid: image links.
// Flow: construct once before the server starts -> shared by every worker's handler.
struct site {
    explicit site(site_options o);
    site_options o;
    session_store sessions;
    login_limiter limiter;
    std::string cid_key;     // random per process: image links die with the server
    std::string dummy_hash;  // checked for unknown users, so timing does not tell them apart
};

// A worker's handler over its own archive handle (opened writable for the audit rows).
std::unique_ptr<handler> make_handler(std::shared_ptr<site> s, std::unique_ptr<archive::archive> a);

// The security headers every response carries (also error pages).
void security_headers(response& r, bool tls, bool framed_message);

}  // namespace mv::web
