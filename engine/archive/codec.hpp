// zstd frames for stored chunks, with optional dictionaries. Digested dictionaries
// (ZSTD_CDict / ZSTD_DDict) are built once per dictionary id and cached.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailvault/error.hpp"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;
struct ZSTD_CDict_s;
struct ZSTD_DDict_s;

namespace mv::archive {

// Flow: construct(level) -> add_dictionary() for each dictionary row (lazy digest) ->
// compress()/decompress() per chunk, any number of times.
class codec {
public:
    explicit codec(int level);
    ~codec();
    codec(const codec&) = delete;
    codec& operator=(const codec&) = delete;

    void set_level(int level);
    int level() const { return level_; }

    void add_dictionary(std::int64_t id, std::string bytes);
    bool has_dictionary(std::int64_t id) const { return dicts_.count(id) != 0; }
    // The zstd dictionary id inside dictionary `id`'s bytes; 0 when there is no such dictionary.
    std::uint32_t fingerprint(std::int64_t id) const;
    void clear_dictionaries();

    // Replaces `out` with one zstd frame of `src` (content size in the frame header).
    void compress(std::string_view src, std::optional<std::int64_t> dict, std::string& out);
    // Cuts src into `chunk`-sized pieces, one frame each, into `out`; `stored` = their bytes.
    // Returns false, with `out` empty and `stored` = src.size(), when that does not save at
    // least 3% (decompression costs time on every read): the bytes are then stored raw.
    bool compress_chunks(std::string_view src, std::optional<std::int64_t> dict, size_t chunk,
                         std::vector<std::string>& out, std::uint64_t& stored);
    // Replaces `out` with the frame's content. A frame claiming more than max_size bytes, an
    // unknown dictionary or a damaged frame is errc::archive_corrupt.
    mv::error decompress(std::string_view frame, std::optional<std::int64_t> dict, size_t max_size,
                         std::string& out);

    // ZDICT_trainFromBuffer over the samples. Empty string if training failed (too few samples).
    static std::string train(const std::vector<std::string>& samples, size_t dict_size);
    // The id zstd writes into frames made with this dictionary (0 if not a zstd dictionary).
    static std::uint32_t dictionary_id(std::string_view dict);

private:
    struct dict_entry {
        std::string bytes;
        ZSTD_CDict_s* cdict = nullptr;
        int cdict_level = 0;
        ZSTD_DDict_s* ddict = nullptr;
    };
    int level_;
    ZSTD_CCtx_s* cctx_;
    ZSTD_DCtx_s* dctx_;
    std::map<std::int64_t, dict_entry> dicts_;
};

}  // namespace mv::archive
