// Reconnect delays: fast retries for a short outage, then exponential backoff, with
// jitter (see reconnect_policy).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

#include "options.hpp"

namespace ksn::net {

class backoff {
  public:
    explicit backoff(const reconnect_policy& policy, std::uint64_t seed = std::random_device{}())
        : policy_(policy), rng_(seed) {}

    /// The delay before the next attempt, for a node gone for `down_for` (since the
    /// first failure of this outage); counts the attempt.
    std::chrono::milliseconds next(std::chrono::milliseconds down_for) {
        const auto initial = std::max<std::int64_t>(policy_.initial_delay.count(), 0);
        const auto max = std::max<std::int64_t>(policy_.max_delay.count(), initial);
        std::int64_t delay = initial;
        if (down_for >= policy_.fast_retry_for) {
            for (std::uint32_t i = 0; i < doublings_ && delay < max; ++i)
                delay *= 2;
            delay = std::min(delay, max);
            ++doublings_;
        }
        ++attempts_;
        const double jitter = std::clamp(policy_.jitter, 0.0, 1.0);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        const double factor = 1.0 - jitter * u(rng_);
        return std::chrono::milliseconds(
            static_cast<std::int64_t>(static_cast<double>(delay) * factor));
    }

    /// True when max_attempts is set and used up.
    bool exhausted() const noexcept {
        return policy_.max_attempts != 0 && attempts_ >= policy_.max_attempts;
    }

    std::uint32_t attempts() const noexcept { return attempts_; }
    void reset() noexcept {
        attempts_ = 0;
        doublings_ = 0;
    }

  private:
    reconnect_policy policy_;
    std::mt19937_64 rng_;
    std::uint32_t attempts_ = 0;
    std::uint32_t doublings_ = 0;  // attempts after the fast period
};

}  // namespace ksn::net
