// libFuzzer target: the SMTP reply reader (multi-line framing, reply codes, RFC 3463 enhanced
// codes, caps), the EHLO keyword parser and the dot-stuffer. The first input byte chooses the
// chunk size the rest is fed in (1..64 bytes), so chunk boundaries are fuzzed too. Replies are
// read one after another until the input ends or the stream fails; every complete reply goes
// through parse_ehlo() and summary(). The same bytes, dot-stuffed in those chunks, must give
// the same output as stuffed whole, end in CRLF.CRLF and contain no bare CR or LF.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/operations.hpp"
#include "smtp/reply.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t chunk = std::size_t{data[0]} % 64 + 1;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

    mv::smtp::limits lim;
    lim.max_line = 1024;
    lim.max_lines = 64;
    lim.max_reply = 16 * 1024;
    mv::smtp::reply_reader rd(lim);
    bool failed = false;
    for (std::size_t i = 0; i < in.size() && !failed; i += chunk) {
        std::string_view part = in.substr(i, chunk);
        while (!part.empty()) {
            auto r = rd.feed(part);
            if (r.consumed > part.size()) __builtin_trap();
            part.remove_prefix(r.consumed);
            if (r.event == mv::smtp::reply_event::failed) {
                if (r.err.message.empty()) __builtin_trap();
                failed = true;
                break;
            }
            if (r.event == mv::smtp::reply_event::complete) {
                const auto& rep = rd.current();
                if (rep.code < 200 || rep.code > 599 || rep.lines.empty()) __builtin_trap();
                if (rep.lines.size() > lim.max_lines) __builtin_trap();
                auto caps = mv::smtp::parse_ehlo(rep);
                (void)caps.has_auth("PLAIN");
                if (rep.summary().size() > 420) __builtin_trap();
            } else if (r.consumed == 0) {
                __builtin_trap();  // need_more must consume everything it was given
            }
        }
    }

    std::string whole, chunked;
    mv::smtp::dot_stuffer a, b;
    a.feed(in, whole);
    a.finish(whole);
    for (std::size_t i = 0; i < in.size(); i += chunk) b.feed(in.substr(i, chunk), chunked);
    b.finish(chunked);
    if (whole != chunked) __builtin_trap();
    if (whole.size() < 3 || whole.compare(whole.size() - 3, 3, ".\r\n") != 0) __builtin_trap();
    if (whole.size() >= 5 && whole.compare(whole.size() - 5, 5, "\r\n.\r\n") != 0) __builtin_trap();
    for (std::size_t i = 0; i < whole.size(); ++i) {
        if (whole[i] == '\r' && (i + 1 >= whole.size() || whole[i + 1] != '\n')) __builtin_trap();
        if (whole[i] == '\n' && (i == 0 || whole[i - 1] != '\r')) __builtin_trap();
    }
    return 0;
}
