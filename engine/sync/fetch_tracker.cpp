#include "sync/fetch_tracker.hpp"

#include <algorithm>

namespace mv::sync {

fetch_tracker::fetch_tracker(std::vector<std::uint32_t> wanted, std::uint32_t base)
    : wanted_(std::move(wanted)),
      state_(wanted_.size(), 0),
      outstanding_(wanted_.size()),
      base_(base) {
    // Holes below the committed watermark (found by a full listing) are fetched and reported when
    // missing, but they do not hold back the watermark above it: only UIDs above base do.
    first_above_ = static_cast<std::size_t>(
        std::upper_bound(wanted_.begin(), wanted_.end(), base_) - wanted_.begin());
    prefix_ = first_above_;
}

std::optional<std::size_t> fetch_tracker::index_of(std::uint32_t uid) const {
    auto it = std::lower_bound(wanted_.begin(), wanted_.end(), uid);
    if (it == wanted_.end() || *it != uid) return std::nullopt;
    return static_cast<std::size_t>(it - wanted_.begin());
}

void fetch_tracker::advance() {
    while (prefix_ < state_.size() && state_[prefix_] != 0) ++prefix_;
}

fetch_tracker::verdict fetch_tracker::arrive(std::uint32_t uid) {
    auto i = index_of(uid);
    if (!i) return verdict::not_requested;
    if (state_[*i] == 1) return verdict::duplicate;
    // A body for a UID proven absent earlier still counts as its arrival: the server has it.
    if (state_[*i] == 0) --outstanding_;
    state_[*i] = 1;
    ++arrived_;
    advance();
    return verdict::accept;
}

void fetch_tracker::absent(std::uint32_t uid) {
    auto i = index_of(uid);
    if (!i || state_[*i] != 0) return;
    state_[*i] = 2;
    --outstanding_;
    advance();
}

bool fetch_tracker::has_arrived(std::uint32_t uid) const {
    auto i = index_of(uid);
    return i && state_[*i] == 1;
}

std::uint32_t fetch_tracker::watermark() const noexcept {
    if (prefix_ == first_above_) return base_;
    return std::max(base_, wanted_[prefix_ - 1]);
}

std::vector<std::uint32_t> fetch_tracker::missing() const {
    std::vector<std::uint32_t> out;
    for (std::size_t i = 0; i < wanted_.size(); ++i)
        if (state_[i] == 0) out.push_back(wanted_[i]);
    return out;
}

}  // namespace mv::sync
