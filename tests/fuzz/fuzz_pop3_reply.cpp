// libFuzzer target: the POP3 reply framer (status lines, dot-unstuffing of multi-line bodies) and
// the typed listing parsers. The first input byte chooses the reply mode (byte % 3: single, multi,
// sasl) and the chunk size the rest is fed in (1..64 bytes), so chunk boundaries are fuzzed too.
// Replies are read one after another until the input ends or the stream fails; every body line
// goes through the CAPA, LIST, UIDL and STAT parsers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pop3/parse.hpp"
#include "pop3/reply.hpp"

namespace {

struct listing_consumer : mv::pop3::body_consumer {
    mv::pop3::line_splitter lines{4096};
    mv::pop3::capabilities caps;
    std::uint64_t bytes = 0;
    mv::error on_body(std::string_view b) override {
        bytes += b.size();
        return lines.feed(b, [&](std::string_view line) {
            mv::pop3::list_entry le;
            mv::pop3::uidl_entry ue;
            (void)mv::pop3::parse_list_line(line, le);
            (void)mv::pop3::parse_uidl_line(line, ue);
            mv::pop3::parse_capa_line(line, caps);
            (void)caps.has_sasl("PLAIN");
            return mv::error{};
        });
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const auto mode = static_cast<mv::pop3::reply_mode>(data[0] % 3);
    const std::size_t chunk = std::size_t{data[0] / 3u} % 64 + 1;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

    mv::pop3::limits lim;
    lim.max_line = 1024;
    listing_consumer body;
    mv::pop3::reply_reader rd(lim);
    rd.start(mode, &body, 1 << 20);
    for (std::size_t i = 0; i < in.size(); i += chunk) {
        std::string_view part = in.substr(i, chunk);
        while (!part.empty()) {
            auto r = rd.feed(part);
            if (r.consumed > part.size()) __builtin_trap();
            part.remove_prefix(r.consumed);
            if (r.event == mv::pop3::reply_event::failed) return 0;
            if (r.event == mv::pop3::reply_event::need_more) {
                if (!part.empty() && r.consumed == 0) __builtin_trap();  // no progress
                continue;
            }
            if (r.event == mv::pop3::reply_event::status) continue;
            // complete: look at the status line the way the client does, then the next reply.
            const auto& st = rd.status();
            mv::pop3::stat_result sr;
            mv::pop3::list_entry le;
            mv::pop3::uidl_entry ue;
            (void)mv::pop3::parse_stat(st.text, sr);
            (void)mv::pop3::parse_list_line(st.text, le);
            (void)mv::pop3::parse_uidl_line(st.text, ue);
            (void)mv::pop3::find_apop_timestamp(st.text);
            std::string decoded;
            if (st.kind == mv::pop3::status_kind::continuation)
                (void)mv::pop3::base64_decode(st.text, decoded);
            (void)mv::pop3::describe_bytes(st.text);
            rd.start(mode, &body, 1 << 20);
        }
    }
    return 0;
}
