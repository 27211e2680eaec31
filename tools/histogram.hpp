// A latency histogram with bounded memory: log-linear buckets (HdrHistogram's idea:
// 2^k ranges split into 64 linear sub-buckets, so every value is kept within ~1.6%),
// from 1 ns to about 2^40 ns (18 minutes). Recording is O(1) and allocates nothing, so a
// long run never grows it.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace ksn::tools {

class histogram {
  public:
    static constexpr int sub_bits = 6;  // 64 sub-buckets per power of two
    static constexpr int max_exponent = 40;

    void record(std::int64_t ns) noexcept {
        if (ns < 0) ns = 0;
        ++counts_[index(static_cast<std::uint64_t>(ns))];
        ++total_;
        if (static_cast<std::uint64_t>(ns) > max_) max_ = static_cast<std::uint64_t>(ns);
    }
    void merge(const histogram& other) noexcept {
        for (std::size_t i = 0; i < counts_.size(); ++i)
            counts_[i] += other.counts_[i];
        total_ += other.total_;
        if (other.max_ > max_) max_ = other.max_;
    }
    std::uint64_t count() const noexcept { return total_; }
    std::uint64_t max() const noexcept { return max_; }

    /// The value at quantile q (0..1): the upper edge of the bucket holding it.
    std::uint64_t quantile(double q) const noexcept {
        if (total_ == 0) return 0;
        const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                if (i == buckets - 1) return max_;  // the overflow bucket has no upper edge
                const auto upper = upper_edge(i);
                return upper < max_ ? upper : max_;
            }
        }
        return max_;
    }

  private:
    static constexpr std::size_t buckets = (max_exponent + 1) << sub_bits;

    static std::size_t index(std::uint64_t v) noexcept {
        if (v < (1u << sub_bits)) return static_cast<std::size_t>(v);
        const int exp = std::bit_width(v) - 1;  // >= sub_bits
        if (exp > max_exponent) return buckets - 1;
        const int shift = exp - sub_bits;
        const auto sub = static_cast<std::size_t>((v >> shift) & ((1u << sub_bits) - 1));
        return (static_cast<std::size_t>(shift + 1) << sub_bits) + sub;
    }
    static std::uint64_t upper_edge(std::size_t i) noexcept {
        if (i < (1u << sub_bits)) return i;
        const auto shift = static_cast<int>(i >> sub_bits) - 1;
        const auto sub = static_cast<std::uint64_t>(i & ((1u << sub_bits) - 1));
        return (((std::uint64_t{1} << sub_bits) | sub) << shift) +
               ((std::uint64_t{1} << shift) - 1);
    }

    std::array<std::uint64_t, buckets> counts_{};
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace ksn::tools
