// libFuzzer target: the IMAP framer and every typed parser. The first input byte chooses the
// chunk size the rest is fed in (1..256 bytes), so chunk boundaries are fuzzed too; odd chunk
// sizes also route body literals through a streaming sink, even ones keep them inline.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "imap/debug_parse.hpp"
#include "imap/framer.hpp"
#include "imap/mutf7.hpp"
#include "imap/parsers.hpp"
#include "imap/syntax.hpp"

namespace {

struct counting_sink : mv::imap::literal_sink {
    std::uint64_t bytes = 0;
    bool open = false;
    bool literal_begin(std::string_view prefix, std::uint64_t) override {
        if (open) __builtin_trap();
        open = !prefix.empty() && prefix.back() == '}';
        return open;
    }
    void literal_data(std::string_view b) override {
        if (!open) __builtin_trap();
        bytes += b.size();
    }
    void literal_end() override {
        if (!open) __builtin_trap();
        open = false;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::size_t chunk = std::size_t{data[0]} + 1;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

    mv::imap::limits lim;
    lim.max_line = 4096;
    lim.max_literal = 1 << 20;
    lim.max_response = 1 << 16;
    lim.max_inline = 1 << 20;
    mv::imap::framer fr(lim);
    counting_sink sink;
    if (chunk % 2 == 1) fr.set_sink(&sink);
    mv::imap::response r;
    std::string line;
    for (std::size_t i = 0; i < in.size(); i += chunk) {
        std::string_view part = in.substr(i, chunk);
        while (!part.empty()) {
            auto st = fr.feed(part);
            if (st == mv::imap::framer::status::error) return 0;
            if (st != mv::imap::framer::status::complete) continue;
            if (parse_response(fr.current(), r)) continue;
            (void)mv::imap::describe_response(r, line);
            mv::imap::mailbox_state ms;
            mv::error select_err;
            mv::imap::apply_select_response(r, ms, &select_err);
            if (r.is_data("LIST")) {
                mv::imap::list_entry le;
                if (!mv::imap::parse_list(r, le)) (void)mv::imap::decode_mutf7(le.name);
            }
            (void)mv::imap::parse_modified(r);
        }
    }
    return 0;
}
