// Which of the UIDs a folder sync asked for are safely archived, and how far the folder's
// last_uid watermark may therefore advance. Pure bookkeeping, no I/O (tests/unit/
// fetch_tracker_test.cpp).
//
// The rule it enforces: a watermark only advances over a range whose every wanted UID is archived
// (committed, or in the batch that commits together with the watermark) or proven absent from the
// server. Servers may answer pipelined UID FETCH commands in any order (Dovecot interleaves them;
// a Domino transcript answers "* 2, * 4, * 3, * 1 FETCH"), so "the highest UID seen" is NOT a
// watermark: the watermark is the end of the contiguous prefix of wanted UIDs that arrived.
//
// Flow: construct with the sorted wanted UIDs and the folder's committed watermark ->
// arrive(uid) for every body the server sends (verdicts reject UIDs not asked for and second
// copies) -> watermark() whenever a batch is handed to the writer -> after the fetch, missing()
// is re-checked on the server; absent(uid) for those the server proves gone -> watermark() for
// the folder's final state; complete() says whether nothing is outstanding.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace mv::sync {

class fetch_tracker {
public:
    enum class verdict {
        accept,         // first copy of a wanted UID
        not_requested,  // the server sent a UID nobody asked for: never stored as that UID
        duplicate,      // a second body for a UID that already arrived in this session
    };

    // wanted: ascending, unique. base: the folder's committed last_uid (0 when none).
    fetch_tracker(std::vector<std::uint32_t> wanted, std::uint32_t base);

    verdict arrive(std::uint32_t uid);
    // The server proved this wanted UID is gone (expunged between listing and fetch).
    void absent(std::uint32_t uid);

    // Highest UID W such that every wanted UID in (base, W] arrived or is absent; never below
    // base. (Wanted UIDs at or below base are holes an earlier run left: missing() reports them,
    // they do not hold the watermark back.)
    std::uint32_t watermark() const noexcept;
    // Wanted UIDs that neither arrived nor are proven absent, ascending.
    std::vector<std::uint32_t> missing() const;
    bool complete() const noexcept { return outstanding_ == 0; }
    std::size_t arrived() const noexcept { return arrived_; }
    bool has_arrived(std::uint32_t uid) const;
    const std::vector<std::uint32_t>& wanted() const noexcept { return wanted_; }

private:
    std::optional<std::size_t> index_of(std::uint32_t uid) const;
    void advance();

    std::vector<std::uint32_t> wanted_;
    std::vector<std::uint8_t> state_;  // 0 outstanding, 1 arrived, 2 absent
    std::size_t first_above_ = 0;      // first index whose UID is above base
    std::size_t prefix_ = 0;           // wanted_[first_above_, prefix_) are all settled
    std::size_t outstanding_ = 0;
    std::size_t arrived_ = 0;
    std::uint32_t base_ = 0;
};

}  // namespace mv::sync
