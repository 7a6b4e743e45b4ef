// Command writer: tags, argument encoding (atom / quoted / literal), mailbox names, UID sets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/parsers.hpp"
#include "imap/uid_set.hpp"

namespace mv::imap {

// No command line we write is longer than this (servers commonly cap lines at 8 KB).
inline constexpr std::size_t max_command_line = 8000;

enum class literal_mode {
    sync,   // {n} then wait for '+'
    plus,   // LITERAL+: {n+} always
    minus,  // LITERAL-: {n+} up to 4096 bytes, {n} above
};

struct writer_caps {
    literal_mode literals = literal_mode::sync;
    bool utf8 = false;  // UTF8=ACCEPT enabled: 8-bit allowed in quoted strings, raw UTF-8 names
};
writer_caps make_writer_caps(const capabilities& caps, bool utf8_enabled);

std::string make_tag(std::uint32_t n);  // A0001, A0002, ... A10000 ...

// A command being built.
// Flow: construct with tag and name, append arguments (each call adds a leading space), then
// finish(): piece 0 is sent at once; each following piece only after the server's '+'
// (synchronizing literals). With LITERAL+ there is a single piece.
class command_builder {
public:
    command_builder(writer_caps caps, std::string_view tag, std::string_view name);

    command_builder& arg(std::string_view raw);       // " raw" (atoms, numbers, lists we build)
    command_builder& append(std::string_view raw);    // "raw" without a space
    command_builder& astring(std::string_view s);     // atom, quoted or literal
    command_builder& string(std::string_view s);      // quoted or literal
    command_builder& literal(std::string_view data);  // always a literal (APPEND message)
    // A literal of `size` bytes that `fill` appends to the command buffer itself (e.g. streamed
    // from the archive): the bytes are held once, in the command. `fill` must append exactly
    // `size` bytes or return an error (the builder then reports that error from fill_error()).
    using literal_fill = std::function<mv::error(std::string& out)>;
    command_builder& literal(std::uint64_t size, const literal_fill& fill);
    const mv::error& fill_error() const { return fill_err_; }
    // Would a literal of this size be sent without waiting for '+' (LITERAL+ / LITERAL-)?
    bool nonsync_literal(std::uint64_t size) const;
    command_builder& mailbox(std::string_view utf8_name);  // mUTF-7 (or UTF-8) astring

    std::size_t line_size() const { return pieces_.back().size(); }
    std::vector<std::string> finish();

private:
    writer_caps caps_;
    std::vector<std::string> pieces_;
    mv::error fill_err_;
};

// Appends a literal's bytes to `out` with `fill`; an error when fill fails or does not produce
// exactly `size` bytes (what was appended is then not to be sent).
mv::error fill_literal(const command_builder::literal_fill& fill, std::uint64_t size,
                       std::string& out);

// Encodes a mailbox name for the wire: INBOX normalised, mUTF-7 unless utf8.
std::string encode_mailbox_name(std::string_view utf8_name, bool utf8);
// Decodes a name from the server: mUTF-7 unless utf8; on malformed mUTF-7 returns it as sent.
std::string decode_mailbox_name(std::string_view wire_name, bool utf8);

}  // namespace mv::imap
