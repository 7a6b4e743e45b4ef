// libFuzzer target for the search query parser (engine/search/query.cpp): any bytes either
// parse or fail with one errc::usage line naming a column inside the input; nothing else
// (no other exception, no crash, no stack exhaustion, no line break in a message).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mailvault/error.hpp"
#include "search/query.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view q(reinterpret_cast<const char*>(data), size);
    try {
        mv::search::node n = mv::search::parse(q);
        (void)mv::search::to_string(n);
    } catch (const mv::failure& f) {
        if (f.err.code != mv::errc::usage) std::abort();
        const std::string& m = f.err.message;
        if (m.rfind("search: ", 0) != 0 || m.find('\n') != std::string::npos) std::abort();
        auto at = m.rfind(" at column ");
        if (at != std::string::npos) {
            unsigned long col = std::strtoul(m.c_str() + at + 11, nullptr, 10);
            if (col == 0 || col > size + 1) std::abort();
        } else if (m.find("longer than") == std::string::npos) {
            std::abort();
        }
    }
    return 0;
}
