// The repeat window of a cluster handover: which copies are marked repeats.
#include <gtest/gtest.h>

#include "notifications/engine/repeat_window.hpp"

namespace ksn::detail {
namespace {

constexpr std::string_view ks = "__keyspace@0__:k";

TEST(RepeatWindow, TheSecondCopyFromTheOtherSideIsARepeat) {
    repeat_window w(1 << 20);
    EXPECT_FALSE(w.repeat(0, "__keyspace@0__:a", "set"));  // new primary first
    EXPECT_FALSE(w.repeat(1, "__keyspace@0__:z", "set"));  // only the former primary has it
    EXPECT_TRUE(w.repeat(1, "__keyspace@0__:a", "set"));   // the former primary repeats it
    EXPECT_EQ(w.bytes(),
              std::string_view("16:__keyspace@0__:zset").size() + repeat_window::entry_overhead);
    // Either side may come first.
    EXPECT_FALSE(w.repeat(1, "__keyspace@0__:b", "del"));
    EXPECT_TRUE(w.repeat(0, "__keyspace@0__:b", "del"));
}

TEST(RepeatWindow, CopiesFromTheSameSideAreNeverRepeats) {
    repeat_window w(1 << 20);
    EXPECT_FALSE(w.repeat(0, ks, "incrby"));
    EXPECT_FALSE(w.repeat(0, ks, "incrby"));  // two writes, one stream: both real
    EXPECT_TRUE(w.repeat(1, ks, "incrby"));
    EXPECT_TRUE(w.repeat(1, ks, "incrby"));
    EXPECT_FALSE(w.repeat(1, ks, "incrby"));  // a third one only the other side published
    EXPECT_EQ(w.bytes(),
              std::string_view("16:__keyspace@0__:kincrby").size() + repeat_window::entry_overhead);
    EXPECT_TRUE(w.repeat(0, ks, "incrby"));
    EXPECT_EQ(w.bytes(), 0u);
}

TEST(RepeatWindow, ChannelAndPayloadBoundariesDoNotCollide) {
    repeat_window w(1 << 20);
    EXPECT_FALSE(w.repeat(0, "ab", "c"));
    EXPECT_FALSE(w.repeat(1, "a", "bc"));  // same bytes joined, another message
    EXPECT_TRUE(w.repeat(1, "ab", "c"));
    EXPECT_TRUE(w.repeat(0, "a", "bc"));
    EXPECT_FALSE(w.repeat(0, std::string_view("a\0b", 3), "x"));
    EXPECT_FALSE(w.repeat(1, std::string_view("a\0c", 3), "x"));  // binary-safe
    EXPECT_TRUE(w.repeat(1, std::string_view("a\0b", 3), "x"));
}

TEST(RepeatWindow, AFullWindowRecordsNothingMoreAndCountsIt) {
    const std::size_t one =
        std::string_view("16:__keyspace@0__:kset").size() + repeat_window::entry_overhead;
    repeat_window w(2 * one);
    EXPECT_FALSE(w.repeat(0, "__keyspace@0__:k", "set"));
    EXPECT_FALSE(w.repeat(0, "__keyspace@0__:l", "set"));
    EXPECT_FALSE(w.repeat(0, "__keyspace@0__:m", "set"));  // no room: not recorded
    EXPECT_EQ(w.unrecorded(), 1u);
    EXPECT_EQ(w.bytes(), 2 * one);
    EXPECT_FALSE(w.repeat(1, "__keyspace@0__:m", "set"));  // its repeat cannot be told
    EXPECT_EQ(w.unrecorded(), 2u);
    EXPECT_TRUE(w.repeat(1, "__keyspace@0__:k", "set"));  // a match frees room
    EXPECT_FALSE(w.repeat(1, "__keyspace@0__:n", "set"));
    EXPECT_EQ(w.unrecorded(), 2u);
    EXPECT_TRUE(w.repeat(0, "__keyspace@0__:n", "set"));
}

}  // namespace
}  // namespace ksn::detail
