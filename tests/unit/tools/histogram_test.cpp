#include "tools/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace ksn::tools {
namespace {

TEST(Histogram, SmallValuesAreExact) {
    histogram h;
    for (int v = 0; v < 64; ++v)
        h.record(v);
    EXPECT_EQ(h.count(), 64u);
    EXPECT_EQ(h.quantile(0.0), 0u);
    EXPECT_EQ(h.quantile(1.0), 63u);
    EXPECT_EQ(h.max(), 63u);
}

TEST(Histogram, QuantilesStayWithinTheBucketPrecision) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> dist(11.0, 1.5);  // ~60 us median, long tail
    std::vector<std::int64_t> values;
    histogram h;
    for (int i = 0; i < 100000; ++i) {
        const auto v = static_cast<std::int64_t>(dist(rng));
        values.push_back(v);
        h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (const double q : {0.5, 0.9, 0.99, 0.999}) {
        const auto exact =
            static_cast<double>(values[static_cast<std::size_t>(q * (values.size() - 1))]);
        const auto approx = static_cast<double>(h.quantile(q));
        EXPECT_NEAR(approx, exact, exact * 0.02 + 1) << q;
    }
    EXPECT_EQ(h.max(), static_cast<std::uint64_t>(values.back()));
}

TEST(Histogram, MergeAddsCountsAndNegativeIsZero) {
    histogram a, b;
    a.record(100);
    b.record(-5);
    b.record(1000000);
    a.merge(b);
    EXPECT_EQ(a.count(), 3u);
    EXPECT_EQ(a.quantile(0.0), 0u);
    EXPECT_EQ(a.max(), 1000000u);
}

TEST(Histogram, HugeValuesSaturateInTheLastBucket) {
    histogram h;
    h.record(std::int64_t{1} << 50);
    EXPECT_EQ(h.count(), 1u);
    EXPECT_EQ(h.max(), std::uint64_t{1} << 50);
    EXPECT_EQ(h.quantile(0.5), std::uint64_t{1} << 50);
}

}  // namespace
}  // namespace ksn::tools
