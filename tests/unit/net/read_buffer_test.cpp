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

TEST(Backoff, DoublesUpToTheMaximumWithoutJitter) {
    backoff b(reconnect_policy{100ms, 1000ms, 0.0, 0}, 1);
    EXPECT_EQ(b.next(), 100ms);
    EXPECT_EQ(b.next(), 200ms);
    EXPECT_EQ(b.next(), 400ms);
    EXPECT_EQ(b.next(), 800ms);
    EXPECT_EQ(b.next(), 1000ms);
    EXPECT_EQ(b.next(), 1000ms);
    EXPECT_FALSE(b.exhausted());
    b.reset();
    EXPECT_EQ(b.next(), 100ms);
}

TEST(Backoff, JitterStaysWithinItsFraction) {
    backoff b(reconnect_policy{1000ms, 1000ms, 0.5, 0}, 42);
    bool varied = false;
    std::chrono::milliseconds first = b.next();
    for (int i = 0; i < 100; ++i) {
        const auto d = b.next();
        EXPECT_GE(d, 500ms);
        EXPECT_LE(d, 1000ms);
        varied = varied || d != first;
    }
    EXPECT_TRUE(varied);
}

TEST(Backoff, MaxAttemptsExhausts) {
    backoff b(reconnect_policy{10ms, 10ms, 0.0, 2}, 1);
    EXPECT_FALSE(b.exhausted());
    (void)b.next();
    (void)b.next();
    EXPECT_TRUE(b.exhausted());
}

}  // namespace
}  // namespace ksn::net
