#include "notifications/engine/repeat_window.hpp"

namespace ksn::detail {

bool repeat_window::repeat(int side, std::string_view channel, std::string_view payload) {
    const int self = side == 0 ? 0 : 1;
    const int other = 1 - self;
    // The channel's length first, so that no two (channel, payload) pairs share a key.
    key_.clear();
    key_ += std::to_string(channel.size());
    key_ += ':';
    key_ += channel;
    key_ += payload;
    const auto it = unmatched_.find(std::string_view(key_));
    if (it != unmatched_.end() && it->second[other] > 0) {
        if (--it->second[other] == 0 && it->second[self] == 0) {
            bytes_ -= it->first.size() + entry_overhead;
            unmatched_.erase(it);
        }
        return true;
    }
    if (it != unmatched_.end()) {
        ++it->second[self];  // another copy of a message recorded already: no new bytes
        return false;
    }
    if (bytes_ + key_.size() + entry_overhead > max_bytes_) {
        ++unrecorded_;
        return false;
    }
    std::array<std::uint32_t, 2> counts{};
    counts[self] = 1;
    unmatched_.emplace(key_, counts);
    bytes_ += key_.size() + entry_overhead;
    return false;
}

}  // namespace ksn::detail
