// Streaming a message body into the archive, so memory stays bounded whatever the message size
// (a 300 MB POP3 RETR or IMAP literal never exists as one buffer). Bytes are SHA-256 hashed and
// split into the archive's chunks as they arrive, each chunk compressed (with the dictionary when
// one exists) and written; finish() looks the hash up: when the content is already stored the
// chunks just written are dropped (dedup) and the existing content is returned.
//
// Flow: (caller holds the archive's lock and an open archive::transaction) content_writer w(a)
//   -> w.append(bytes)* -> w.finish() -> put_result; the caller records the entry and commits.
// Destroyed without finish() (an aborted download): nothing it wrote remains once the caller's
// transaction rolls back; it never throws from its destructor. (It also deletes what it wrote,
// so a caller that goes on and commits other messages commits nothing of this one.)
// Without a caller's transaction the writer opens its own: finish() commits it, destruction
// without finish() rolls it back.
// Memory: one chunk (options::chunk_size) plus the compression buffers, whatever the size.
// A message longer than one chunk is stored with indexed = 0 (the MIME parse needs the whole
// message): index_pending() indexes it. One chunk or less: exactly what put_content does.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "archive/archive.hpp"

namespace mv::archive {

class content_writer {
public:
    explicit content_writer(archive& a);
    ~content_writer();
    content_writer(const content_writer&) = delete;
    content_writer& operator=(const content_writer&) = delete;

    // Throws mv::failure(errc::archive, ...) on a write failure (disk full ...).
    void append(std::string_view bytes);
    // Same result as archive::put_content(all appended bytes) would give.
    put_result finish();
    std::uint64_t size() const noexcept;  // bytes appended so far

private:
    struct impl;
    std::unique_ptr<impl> d_;
};

}  // namespace mv::archive
