#include "imap/writer.hpp"

#include <cstdio>

#include "imap/mutf7.hpp"

namespace mv::imap {

namespace {

bool atom_char(unsigned char c) {
    if (c <= 0x20 || c >= 0x7f) return false;
    switch (c) {
        case '(':
        case ')':
        case '{':
        case '%':
        case '*':
        case '"':
        case '\\':
        case ']': return false;
        default: return true;
    }
}

constexpr std::size_t max_quoted = 1000;

bool quotable(std::string_view s, bool utf8) {
    if (s.size() > max_quoted) return false;
    for (unsigned char c : s) {
        if (c == 0 || c == '\r' || c == '\n') return false;
        if (c >= 0x80 && !utf8) return false;
    }
    return true;
}

}  // namespace

writer_caps make_writer_caps(const capabilities& caps, bool utf8_enabled) {
    writer_caps w;
    w.utf8 = utf8_enabled;
    if (caps.has("LITERAL+"))
        w.literals = literal_mode::plus;
    else if (caps.has("LITERAL-"))
        w.literals = literal_mode::minus;
    return w;
}

std::string make_tag(std::uint32_t n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "A%04u", n);
    return buf;
}

command_builder::command_builder(writer_caps caps, std::string_view tag, std::string_view name)
    : caps_(caps) {
    pieces_.emplace_back();
    pieces_.back().append(tag).append(" ").append(name);
}

command_builder& command_builder::arg(std::string_view raw) {
    pieces_.back().append(" ").append(raw);
    return *this;
}

command_builder& command_builder::append(std::string_view raw) {
    pieces_.back().append(raw);
    return *this;
}

bool command_builder::nonsync_literal(std::uint64_t size) const {
    return caps_.literals == literal_mode::plus ||
           (caps_.literals == literal_mode::minus && size <= 4096);
}

command_builder& command_builder::literal(std::string_view data) {
    const bool nonsync = nonsync_literal(data.size());
    auto& p = pieces_.back();
    p.append(" {").append(std::to_string(data.size())).append(nonsync ? "+}\r\n" : "}\r\n");
    if (!nonsync) pieces_.emplace_back();
    pieces_.back().append(data);
    return *this;
}

command_builder& command_builder::literal(std::uint64_t size, const literal_fill& fill) {
    const bool nonsync = nonsync_literal(size);
    auto& p = pieces_.back();
    p.append(" {").append(std::to_string(size)).append(nonsync ? "+}\r\n" : "}\r\n");
    if (!nonsync) pieces_.emplace_back();
    fill_err_ = fill_literal(fill, size, pieces_.back());
    return *this;
}

mv::error fill_literal(const command_builder::literal_fill& fill, std::uint64_t size,
                       std::string& out) {
    const auto before = out.size();
    out.reserve(before + size + 2);
    if (auto e = fill(out)) return e;
    if (out.size() - before != size)
        return mv::error(mv::errc::internal,
                         "APPEND literal: " + std::to_string(out.size() - before) +
                             " bytes produced, " + std::to_string(size) + " announced");
    return {};
}

command_builder& command_builder::string(std::string_view s) {
    if (!quotable(s, caps_.utf8)) return literal(s);
    auto& p = pieces_.back();
    p.append(" \"");
    for (char c : s) {
        if (c == '"' || c == '\\') p += '\\';
        p += c;
    }
    p += '"';
    return *this;
}

command_builder& command_builder::astring(std::string_view s) {
    bool atom = !s.empty() && s.size() <= 256;
    for (unsigned char c : s) atom = atom && atom_char(c);
    if (atom) return arg(s);
    return string(s);
}

command_builder& command_builder::mailbox(std::string_view utf8_name) {
    return astring(encode_mailbox_name(utf8_name, caps_.utf8));
}

std::vector<std::string> command_builder::finish() {
    pieces_.back().append("\r\n");
    return std::move(pieces_);
}

std::string encode_mailbox_name(std::string_view name, bool utf8) {
    if (name.size() == 5 && iequals(name, "INBOX")) return "INBOX";
    if (utf8) return std::string(name);
    auto e = encode_mutf7(name);
    return e ? *e : std::string(name);
}

std::string decode_mailbox_name(std::string_view wire, bool utf8) {
    if (utf8) return std::string(wire);
    auto d = decode_mutf7(wire);
    return d ? *d : std::string(wire);
}

}  // namespace mv::imap
