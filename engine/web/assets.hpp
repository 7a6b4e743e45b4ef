// Static assets of the web viewer, compiled into the program (no CDN, nothing fetched at run
// time): the style sheet and a small script, served under /static/.
#pragma once

#include <string_view>

namespace mv::web {

struct asset {
    std::string_view content_type;
    std::string_view body;
};

// nullptr for an unknown name ("app.css", "app.js").
const asset* find_asset(std::string_view name);

}  // namespace mv::web
