// Marks the repeats of two streams that publish the same writes for a while: during a
// cluster handover a former primary, now replicating from the new one, publishes again
// what the new primary published (and, before the new primary's subscription is
// confirmed, what only it delivers). Each message of one side is matched against the
// messages of the other side not matched yet; a match is a repeat (the second copy).
//
// Messages are compared by their bytes (channel and payload), so two writes with the same
// key and event are interchangeable: which copy is marked can differ, how many are marked
// cannot. Bounded by bytes: once full, new messages are not recorded, and a repeat of one
// of them comes unmarked (counted in unrecorded()). Pure code: no I/O, no clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ksn::detail {

class repeat_window {
  public:
    /// `max_bytes`: what the unmatched messages may hold (their bytes plus a fixed
    /// overhead each, see entry_overhead).
    explicit repeat_window(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    /// A message read from `side` (0 or 1): true when it repeats a message of the other
    /// side not matched yet (which it consumes); otherwise it is recorded, if room is left.
    bool repeat(int side, std::string_view channel, std::string_view payload);

    /// Messages not recorded because the window was full.
    std::uint64_t unrecorded() const noexcept { return unrecorded_; }
    /// Bytes held now (for tests and stats).
    std::size_t bytes() const noexcept { return bytes_; }

    /// What each recorded message costs beyond its bytes (map node and counts).
    static constexpr std::size_t entry_overhead = 64;

  private:
    struct hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_map<std::string, std::array<std::uint32_t, 2>, hash, std::equal_to<>> unmatched_;
    std::string key_;  // scratch: the lookup key, reused
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::uint64_t unrecorded_ = 0;
};

}  // namespace ksn::detail
