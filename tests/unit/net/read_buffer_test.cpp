#include "net/read_buffer.hpp"

#include <gtest/gtest.h>

#include "net/backoff.hpp"

namespace ksn::net {
namespace {

using namespace std::chrono_literals;

void put(read_buffer& b, std::string_view s) {
    auto room = b.writable(s.size());
    ASSERT_GE(room.size(), s.size());
    std::copy(s.begin(), s.end(), room.begin());
    b.commit(s.size());
}

TEST(ReadBuffer, ConsumingEverythingRewindsWithoutMovingData) {
    read_buffer b(64);
    put(b, "abcdef");
    b.consume(6);
    EXPECT_EQ(b.readable(), "");
    put(b, std::string(60, 'x'));  // fits only because the buffer rewound
    EXPECT_EQ(b.capacity(), 64u);
    EXPECT_EQ(b.compactions(), 0u);
}

TEST(ReadBuffer, PartialTailMovesOnlyWhenRoomIsNeeded) {
    read_buffer b(64);
    put(b, std::string(50, 'a') + "tail");
    b.consume(50);
    EXPECT_EQ(b.readable(), "tail");
    EXPECT_EQ(b.compactions(), 0u);
    put(b, std::string(20, 'b'));  // needs room: the 4-byte tail moves to the front
    EXPECT_EQ(b.compactions(), 1u);
    EXPECT_EQ(b.capacity(), 64u);
    EXPECT_EQ(b.readable(), "tail" + std::string(20, 'b'));
}

TEST(ReadBuffer, GrowsForAFrameLargerThanTheBlock) {
    read_buffer b(16);
    put(b, "0123456789");
    put(b, "abcdefghijklmnopqrstuvwxyz");
    EXPECT_GE(b.capacity(), 36u);
    EXPECT_EQ(b.readable(), "0123456789abcdefghijklmnopqrstuvwxyz");
}

constexpr auto long_gone = std::chrono::milliseconds(std::chrono::hours(1));

TEST(Backoff, DoublesUpToTheMaximumWithoutJitter) {
    backoff b(reconnect_policy{100ms, 1000ms, 0.0, 0, 0ms}, 1);
    EXPECT_EQ(b.next(0ms), 100ms);
    EXPECT_EQ(b.next(100ms), 200ms);
    EXPECT_EQ(b.next(300ms), 400ms);
    EXPECT_EQ(b.next(700ms), 800ms);
    EXPECT_EQ(b.next(1500ms), 1000ms);
    EXPECT_EQ(b.next(2500ms), 1000ms);
    EXPECT_FALSE(b.exhausted());
    b.reset();
    EXPECT_EQ(b.next(0ms), 100ms);
}

TEST(Backoff, RetriesAtTheInitialDelayWhileTheNodeIsGoneLessThanTheFastPeriod) {
    // The defaults: a server back after a restart of about a second is reached within
    // 200 ms of its return; one that stays down is asked less and less often.
    const reconnect_policy defaults;
    EXPECT_EQ(defaults.initial_delay, 100ms);
    EXPECT_EQ(defaults.fast_retry_for, 10000ms);
    backoff b(defaults, 7);
    std::chrono::milliseconds gone{0};
    std::uint32_t fast = 0;
    while (gone < defaults.fast_retry_for) {
        const auto d = b.next(gone);
        EXPECT_GE(d, 50ms);
        EXPECT_LE(d, 100ms) << "gone for " << gone.count() << " ms";
        gone += d;
        ASSERT_LT(++fast, 1000u);
    }
    EXPECT_GE(fast, 100u);  // at most 100 ms apart for 10 s
    EXPECT_LE(fast, 201u);  // at least 50 ms apart
    // Past the fast period the delays double from the initial one, up to max_delay.
    backoff slow(reconnect_policy{100ms, 5000ms, 0.0, 0, 10000ms}, 1);
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(slow.next(std::chrono::milliseconds(i * 100)), 100ms);
    EXPECT_EQ(slow.next(10000ms), 100ms);
    EXPECT_EQ(slow.next(10100ms), 200ms);
    EXPECT_EQ(slow.next(10300ms), 400ms);
    for (int i = 0; i < 10; ++i)
        (void)slow.next(long_gone);
    EXPECT_EQ(slow.next(long_gone), 5000ms);
    // A connection that was ready again starts a new outage at the fast delay.
    slow.reset();
    EXPECT_EQ(slow.next(0ms), 100ms);
    EXPECT_EQ(slow.next(long_gone), 100ms);
    EXPECT_EQ(slow.next(long_gone), 200ms);
}

TEST(Backoff, JitterStaysWithinItsFraction) {
    backoff b(reconnect_policy{1000ms, 1000ms, 0.5, 0}, 42);
    bool varied = false;
    std::chrono::milliseconds first = b.next(long_gone);
    for (int i = 0; i < 100; ++i) {
        const auto d = b.next(long_gone);
        EXPECT_GE(d, 500ms);
        EXPECT_LE(d, 1000ms);
        varied = varied || d != first;
    }
    EXPECT_TRUE(varied);
}

TEST(Backoff, MaxAttemptsExhausts) {
    backoff b(reconnect_policy{10ms, 10ms, 0.0, 2}, 1);
    EXPECT_FALSE(b.exhausted());
    (void)b.next(0ms);
    (void)b.next(long_gone);
    EXPECT_TRUE(b.exhausted());
}

}  // namespace
}  // namespace ksn::net
