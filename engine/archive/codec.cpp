#include "archive/codec.hpp"

#include <zdict.h>
#include <zstd.h>

namespace mv::archive {

codec::codec(int level) : level_(level), cctx_(ZSTD_createCCtx()), dctx_(ZSTD_createDCtx()) {
    if (!cctx_ || !dctx_) throw mv::failure(errc::internal, "zstd: out of memory");
}

codec::~codec() {
    clear_dictionaries();
    ZSTD_freeCCtx(cctx_);
    ZSTD_freeDCtx(dctx_);
}

void codec::clear_dictionaries() {
    for (auto& [id, d] : dicts_) {
        ZSTD_freeCDict(d.cdict);
        ZSTD_freeDDict(d.ddict);
    }
    dicts_.clear();
}

void codec::set_level(int level) {
    if (level < ZSTD_minCLevel()) level = ZSTD_minCLevel();
    if (level > ZSTD_maxCLevel()) level = ZSTD_maxCLevel();
    level_ = level;
}

void codec::add_dictionary(std::int64_t id, std::string bytes) {
    if (dicts_.count(id)) return;
    dicts_[id].bytes = std::move(bytes);
}

std::uint32_t codec::fingerprint(std::int64_t id) const {
    auto it = dicts_.find(id);
    return it == dicts_.end() ? 0 : dictionary_id(it->second.bytes);
}

void codec::compress(std::string_view src, std::optional<std::int64_t> dict, std::string& out) {
    out.resize(ZSTD_compressBound(src.size()));
    size_t n = 0;
    if (dict) {
        auto it = dicts_.find(*dict);
        if (it == dicts_.end())
            throw mv::failure(errc::internal, "zstd: unknown dictionary " + std::to_string(*dict));
        auto& d = it->second;
        if (!d.cdict || d.cdict_level != level_) {
            ZSTD_freeCDict(d.cdict);
            d.cdict = ZSTD_createCDict(d.bytes.data(), d.bytes.size(), level_);
            d.cdict_level = level_;
            if (!d.cdict) throw mv::failure(errc::internal, "zstd: cannot digest dictionary");
        }
        n = ZSTD_compress_usingCDict(cctx_, out.data(), out.size(), src.data(), src.size(),
                                     d.cdict);
    } else {
        n = ZSTD_compressCCtx(cctx_, out.data(), out.size(), src.data(), src.size(), level_);
    }
    if (ZSTD_isError(n))
        throw mv::failure(errc::internal, std::string("zstd: ") + ZSTD_getErrorName(n));
    out.resize(n);
}

bool codec::compress_chunks(std::string_view src, std::optional<std::int64_t> dict, size_t chunk,
                            std::vector<std::string>& out, std::uint64_t& stored) {
    out.clear();
    stored = 0;
    for (size_t off = 0; off < src.size() || off == 0; off += chunk) {
        out.emplace_back();
        compress(src.substr(off, chunk), dict, out.back());
        stored += out.back().size();
        if (src.empty()) break;
    }
    if (stored + stored / 32 >= src.size()) {
        out.clear();
        stored = src.size();
        return false;
    }
    return true;
}

mv::error codec::decompress(std::string_view frame, std::optional<std::int64_t> dict,
                            size_t max_size, std::string& out) {
    unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
        return {errc::archive_corrupt, "zstd frame header is damaged"};
    if (size > max_size)
        return {errc::archive_corrupt,
                "zstd frame claims " + std::to_string(size) + " bytes, more than the chunk size"};
    out.resize(static_cast<size_t>(size));
    size_t n = 0;
    if (dict) {
        auto it = dicts_.find(*dict);
        if (it == dicts_.end())
            return {errc::archive_corrupt, "dictionary " + std::to_string(*dict) + " is missing"};
        auto& d = it->second;
        if (!d.ddict) {
            d.ddict = ZSTD_createDDict(d.bytes.data(), d.bytes.size());
            if (!d.ddict) return {errc::archive_corrupt, "dictionary cannot be loaded"};
        }
        n = ZSTD_decompress_usingDDict(dctx_, out.data(), out.size(), frame.data(), frame.size(),
                                       d.ddict);
    } else {
        n = ZSTD_decompressDCtx(dctx_, out.data(), out.size(), frame.data(), frame.size());
    }
    if (ZSTD_isError(n))
        return {errc::archive_corrupt, std::string("zstd: ") + ZSTD_getErrorName(n)};
    if (n != size) return {errc::archive_corrupt, "zstd frame is shorter than its header says"};
    return {};
}

std::string codec::train(const std::vector<std::string>& samples, size_t dict_size) {
    std::string all;
    std::vector<size_t> sizes;
    sizes.reserve(samples.size());
    for (const auto& s : samples) {
        all += s;
        sizes.push_back(s.size());
    }
    std::string dict(dict_size, '\0');
    size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), all.data(), sizes.data(),
                                     static_cast<unsigned>(sizes.size()));
    if (ZDICT_isError(n)) return {};
    dict.resize(n);
    return dict;
}

std::uint32_t codec::dictionary_id(std::string_view dict) {
    return ZDICT_getDictID(dict.data(), dict.size());
}

}  // namespace mv::archive
