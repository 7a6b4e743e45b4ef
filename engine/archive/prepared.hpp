// Storing a message in two steps, so the CPU-heavy half runs outside the archive's lock.
//
// preparer::prepare() hashes the message (SHA-256 of all of it, and of its header block),
// finds its base64 runs (archive/segments.hpp), decodes them and hashes the decoded bytes, and
// compresses what remains (the skeleton) and each decoded part into the archive's chunks: all
// of it without touching the database, so several connections' writer threads prepare in
// parallel. archive::put_prepared() then only looks the hashes up and inserts rows, under the
// lock, in the caller's transaction: a message already stored costs nothing more, a part
// already stored (the same attachment in another message) is referenced, not stored again.
//
// Flow (sync's batch writer): with the lock: preparer p(archive) or p.refresh(archive) ->
// without it: p.prepare(body)* -> with it: transaction, archive.put_prepared(prepared)*, commit.
// The body a prepared_content was made from must outlive put_prepared (the header index reads
// it when indexing is not deferred).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive.hpp"
#include "archive/codec.hpp"

namespace mv::archive {

namespace detail {
// The writing side for archive::put_prepared and archive::impl::put (prepared.cpp).
put_result put_prepared(archive::impl& d, const prepared_content& p);
// The same for a message the caller has just looked up and not found (archive::impl::put).
put_result put_unseen(archive::impl& d, const prepared_content& p);
// A segmented content's skeleton (what its chunks hold), for recompress.
mv::error read_skeleton(archive::impl& d, const content_info& c, std::string& out);
// Reads a content (archive::impl::stream): its chunks in order, each part re-encoded at its
// offset when it has parts, checking chunk sequence and sizes, every part's SHA-256 and the
// whole message's SHA-256 and size. Damage is errc::archive_corrupt naming what is wrong.
mv::error stream_content(archive::impl& d, const content_info& c,
                         const std::function<void(std::string_view)>& sink);
// Deletes a content's part references and the parts no other content references; returns the
// stored bytes freed.
std::int64_t drop_parts_of(archive::impl& d, std::int64_t content_id);
}  // namespace detail

// One decoded base64 run of a message.
struct prepared_part {
    sha256 hash;               // of the decoded bytes: the part's identity
    std::uint64_t size = 0;    // decoded bytes
    bool compressed = false;   // chunks holds zstd frames; else data is stored in raw pieces
    std::uint64_t stored = 0;  // bytes once stored
    std::vector<std::string> chunks;
    std::string data;  // the decoded bytes, kept only when they are stored raw
    // Where and how it sits in the message.
    std::uint64_t at = 0;        // offset of the run in the message
    std::uint64_t encoded = 0;   // bytes of the run (line ends included)
    std::uint32_t line_len = 0;  // characters per full line
    bool crlf = true;
};

struct prepared_content {
    sha256 hash;         // of the whole message
    sha256 header_hash;  // of its header block (archive/hash.hpp)
    std::uint64_t raw_size = 0;
    std::string_view raw;  // the message itself (not owned)
    // The skeleton: the message without its parts, in the archive's chunks.
    bool compressed = false;
    std::optional<std::int64_t> dict;    // dictionary of the skeleton's frames
    std::uint32_t dict_fingerprint = 0;  // its zstd dictionary id, checked when stored
    std::uint64_t stored = 0;
    std::size_t chunk_size = 0;
    std::vector<std::string> chunks;   // zstd frames when compressed, else empty
    std::vector<prepared_part> parts;  // in message order
    std::string skeleton_bytes;        // the skeleton when there are parts

    std::string_view skeleton() const { return parts.empty() ? raw : skeleton_bytes; }
};

class preparer {
public:
    // Both read the archive's dictionary and options: call them with the archive's lock held.
    explicit preparer(archive& a);
    explicit preparer(archive::impl& d);
    void refresh(archive& a);  // follows a dictionary trained since (cheap when none was)
    void refresh(archive::impl& d);

    // Thread-safe with respect to the archive (touches none of it); one preparer per thread.
    // `known`: the message's SHA-256 when the caller has it already.
    prepared_content prepare(std::string_view raw, const sha256* known = nullptr);

private:
    void store_part(std::string&& decoded, prepared_part& part);
    codec zstd_;
    std::optional<std::int64_t> dict_;
    std::uint32_t fingerprint_ = 0;
    std::uint64_t generation_ = 0;  // archive::impl::dict_generation when last refreshed
    bool synced_ = false;
    std::size_t chunk_ = 0;
    std::size_t min_part_ = 0;
};

}  // namespace mv::archive
