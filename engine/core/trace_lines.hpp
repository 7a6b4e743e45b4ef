// Internal to the protocol trace (mailvault/trace.hpp): cutting a byte stream into lines with
// bounded memory. A line is kept as its first `head_cap` bytes plus its last bytes (enough to
// see an IMAP literal marker `{123}` at its end), and its full length.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mv::trace::detail {

class line_buffer {
public:
    static constexpr std::size_t head_cap = 2000;
    static constexpr std::size_t tail_cap = 64;

    // Appends `data` up to and including the first '\n'; returns the bytes used. complete()
    // tells whether the line ended.
    std::size_t feed(std::string_view data) {
        auto nl = data.find('\n');
        std::string_view part = nl == std::string_view::npos ? data : data.substr(0, nl + 1);
        if (head_.size() < head_cap) head_.append(part.substr(0, head_cap - head_.size()));
        tail_.append(part);
        if (tail_.size() > tail_cap) tail_.erase(0, tail_.size() - tail_cap);
        length_ += part.size();
        complete_ = nl != std::string_view::npos;
        return part.size();
    }
    bool complete() const { return complete_; }
    // Length without the line end.
    std::uint64_t length() const { return length_ - ending_size(); }
    // The line for people: without CRLF, control characters as '.', long lines cut in the middle.
    std::string shown() const {
        std::string s;
        if (length_ <= head_cap) {
            s = head_.substr(0, head_.size() - ending_size());
        } else {
            std::string t = tail_.substr(0, tail_.size() - ending_size());
            s = head_ + " ...[" + std::to_string(length()) + " bytes]... " + t;
        }
        for (auto& c : s)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '.';
        return s;
    }
    // The last bytes of the line, without its end (for literal markers).
    std::string_view end() const {
        std::string_view t = tail_;
        t.remove_suffix(std::min<std::size_t>(t.size(), ending_size()));
        return t;
    }
    // The first bytes (for the command word).
    std::string_view begin() const { return head_; }
    void clear() {
        head_.clear();
        tail_.clear();
        length_ = 0;
        complete_ = false;
    }

private:
    std::size_t ending_size() const {
        if (!complete_) return 0;
        return tail_.size() >= 2 && tail_[tail_.size() - 2] == '\r' ? 2 : 1;
    }
    std::string head_, tail_;
    std::uint64_t length_ = 0;
    bool complete_ = false;
};

// Upper-cased copy of the n-th space-separated word of `s` (0-based); empty if absent.
inline std::string word(std::string_view s, int n) {
    std::size_t i = 0;
    for (int k = 0;; ++k) {
        while (i < s.size() && s[i] == ' ') ++i;
        std::size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\r' && s[j] != '\n') ++j;
        if (i == j) return {};
        if (k == n) {
            std::string w(s.substr(i, j - i));
            for (auto& c : w)
                if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
            return w;
        }
        i = j;
    }
}

}  // namespace mv::trace::detail
