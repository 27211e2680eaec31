// The replica window of redundancy: what a replica's stream holds, replays and delivers
// beside its primary's, on a clock the test moves.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "notifications/engine/replica_window.hpp"

namespace ksn::detail {
namespace {

using namespace std::chrono_literals;
using verdict = replica_window::verdict;

protocol::pubsub_frame msg(std::string_view channel, std::string_view payload) {
    protocol::pubsub_frame f;
    f.channel = channel;
    f.payload = payload;
    return f;
}

protocol::pubsub_frame pmsg(std::string_view pattern, std::string_view channel,
                            std::string_view payload) {
    auto f = msg(channel, payload);
    f.kind = protocol::pubsub_kind::pmessage;
    f.pattern = pattern;
    return f;
}

const clock::time_point t0 = clock::time_point{} + 1000s;

std::vector<std::string> channels(const std::vector<replica_window::replayed>& r) {
    std::vector<std::string> out;
    for (const auto& m : r)
        out.emplace_back(m.frame.channel);
    return out;
}

TEST(ReplicaWindow, WhileThePrimaryDeliversTheReplicaIsHeldAndItsCopiesDropped) {
    replica_window w({});
    EXPECT_FALSE(w.from_primary(msg("ks:a", "set"), t0));
    EXPECT_EQ(w.from_replica(msg("ks:a", "set"), t0 + 1ms), verdict::hold);  // the copy
    EXPECT_EQ(w.from_replica(msg("ks:b", "set"), t0 + 2ms), verdict::hold);  // ahead
    EXPECT_FALSE(w.from_primary(msg("ks:b", "set"), t0 + 3ms));  // the replica was first
    EXPECT_EQ(w.from_replica(msg("ks:x", "del"), t0 + 4ms), verdict::hold);  // replica only
    EXPECT_FALSE(w.following());
    // Only the unmatched one is replayed, from where the primary stopped.
    const auto r = w.take_over(t0 + 2ms);
    EXPECT_EQ(channels(r), std::vector<std::string>{"ks:x"});
    EXPECT_EQ(r[0].frame.payload, "del");
    EXPECT_EQ(r[0].received, t0 + 4ms);
    EXPECT_TRUE(w.following());
}

TEST(ReplicaWindow, TakeOverReplaysInOrderWhatWasReadSinceThePrimaryWasWhole) {
    replica_window w({});
    w.from_replica(msg("ks:1", "set"), t0);
    w.from_replica(msg("ks:2", "set"), t0 + 10ms);
    w.from_replica(pmsg("ks:*", "ks:3", "hset"), t0 + 20ms);
    w.from_replica(msg("ks:4", "set"), t0 + 30ms);
    // The primary delivered up to 10 ms; what it delivered before counts as delivered even
    // where the bytes differed (an expiry published as expired by it, del by the replica).
    const auto r = w.take_over(t0 + 10ms);
    ASSERT_EQ(channels(r), (std::vector<std::string>{"ks:2", "ks:3", "ks:4"}));
    EXPECT_EQ(r[1].frame.kind, protocol::pubsub_kind::pmessage);
    EXPECT_EQ(r[1].frame.pattern, "ks:*");
    EXPECT_EQ(r[1].frame.payload, "hset");
    // What the window replayed is not replayed again at a later takeover.
    w.hand_back();
    EXPECT_TRUE(w.take_over(t0).empty());
}

TEST(ReplicaWindow, FollowingDeliversTheReplicaAndMarksTheCopiesOfThePrimarysMessages) {
    replica_window w({});
    // The primary delivered a and b; the replica lags: its copies arrive after the stop.
    w.from_primary(msg("ks:a", "set"), t0);
    w.from_primary(msg("ks:b", "set"), t0 + 1ms);
    EXPECT_TRUE(w.take_over(t0 + 1ms).empty());
    EXPECT_EQ(w.from_replica(msg("ks:a", "set"), t0 + 2ms), verdict::redeliver);
    EXPECT_EQ(w.from_replica(msg("ks:b", "set"), t0 + 3ms), verdict::redeliver);
    EXPECT_EQ(w.from_replica(msg("ks:c", "set"), t0 + 4ms), verdict::deliver);
    // The primary is back: its copy of c is the repeat, a new write is not.
    EXPECT_TRUE(w.from_primary(msg("ks:c", "set"), t0 + 5ms));
    EXPECT_FALSE(w.from_primary(msg("ks:d", "set"), t0 + 6ms));
    EXPECT_EQ(w.from_replica(msg("ks:d", "set"), t0 + 7ms), verdict::redeliver);
    w.hand_back();
    EXPECT_FALSE(w.following());
    EXPECT_EQ(w.from_replica(msg("ks:e", "set"), t0 + 8ms), verdict::hold);
    EXPECT_FALSE(w.from_primary(msg("ks:e", "set"), t0 + 9ms));
}

TEST(ReplicaWindow, ThePrimaryBackRepeatsOnlyWhatCameAfterItsNewSubscription) {
    replica_window w({});
    w.take_over(t0);
    // While the primary is away, the replica delivers a write of k.
    EXPECT_EQ(w.from_replica(msg("ks:k", "set"), t0 + 10ms), verdict::deliver);
    // The primary's new connection is ready at 20 ms: k is written again after it.
    w.primary_resumed(t0 + 20ms);
    EXPECT_EQ(w.from_replica(msg("ks:j", "set"), t0 + 21ms), verdict::deliver);  // either
    EXPECT_FALSE(w.from_primary(msg("ks:k", "set"), t0 + 30ms));  // the new write, first
    EXPECT_EQ(w.from_replica(msg("ks:k", "set"), t0 + 31ms), verdict::redeliver);  // its copy
    EXPECT_TRUE(w.from_primary(msg("ks:j", "set"), t0 + 32ms));  // may still repeat
}

TEST(ReplicaWindow, AReplayedMessageThePrimaryDeliversLaterIsItsRepeat) {
    replica_window w({});
    w.from_replica(msg("ks:a", "set"), t0 + 5ms);
    ASSERT_EQ(w.take_over(t0).size(), 1u);
    // The primary's stream resumes with what it had not sent yet.
    EXPECT_TRUE(w.from_primary(msg("ks:a", "set"), t0 + 6ms));
}

TEST(ReplicaWindow, SameBytesMatchOneCopyEach) {
    replica_window w({});
    for (int i = 0; i < 3; ++i)
        w.from_primary(msg("ks:k", "incrby"), t0 + std::chrono::milliseconds(i));
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(w.from_replica(msg("ks:k", "incrby"), t0 + 10ms), verdict::hold);
    // A fourth write only the replica published so far: held, then replayed.
    EXPECT_EQ(w.from_replica(msg("ks:k", "incrby"), t0 + 11ms), verdict::hold);
    EXPECT_EQ(w.take_over(t0 + 2ms).size(), 1u);
}

TEST(ReplicaWindow, PartsDoNotRunIntoEachOther) {
    replica_window w({});
    w.from_primary(pmsg("a", "bc", "d"), t0);
    // The same bytes joined, in other parts: not the copy.
    EXPECT_EQ(w.from_replica(pmsg("ab", "c", "d"), t0 + 1ms), verdict::hold);
    EXPECT_EQ(w.from_replica(msg("bc", "d"), t0 + 2ms), verdict::hold);
    EXPECT_EQ(w.from_replica(pmsg("a", "bc", "d"), t0 + 3ms), verdict::hold);
    const auto r = w.take_over(t0);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].frame.pattern, "ab");
    EXPECT_EQ(r[0].frame.channel, "c");
    EXPECT_EQ(r[1].frame.kind, protocol::pubsub_kind::message);
    EXPECT_EQ(r[1].frame.channel, "bc");
}

TEST(ReplicaWindow, BinaryBytesSurvive) {
    replica_window w({});
    const std::string channel("ks:\0:7\r\n", 8), payload("s\0t", 3);
    w.from_replica(msg(channel, payload), t0);
    const auto r = w.take_over(t0);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].frame.channel, channel);
    EXPECT_EQ(r[0].frame.payload, payload);
}

TEST(ReplicaWindow, AgeForgetsAndSaysFromWhenTheHeldStreamIsWhole) {
    replica_window w({.age = 100ms, .bytes = 1 << 20});
    w.from_primary(msg("ks:p", "set"), t0);         // its copy never comes
    w.from_replica(msg("ks:x", "del"), t0 + 10ms);  // only the replica publishes it
    w.from_primary(msg("ks:m", "set"), t0 + 20ms);
    w.from_replica(msg("ks:m", "set"), t0 + 20ms);  // matched
    w.from_replica(msg("ks:y", "set"), t0 + 150ms);
    EXPECT_FALSE(w.complete_since());
    w.expire(t0 + 125ms);
    EXPECT_EQ(w.unmatched_primary(), 1u);
    EXPECT_EQ(w.unmatched_replica(), 1u);
    ASSERT_TRUE(w.complete_since());
    EXPECT_EQ(*w.complete_since(), t0 + 10ms);
    EXPECT_EQ(channels(w.take_over(t0)), std::vector<std::string>{"ks:y"});
    w.expire(t0 + 1s);
    EXPECT_EQ(w.bytes(), 0u);
    EXPECT_EQ(w.unmatched_replica(), 1u);  // y was delivered: forgetting it loses nothing
}

TEST(ReplicaWindow, BytesForgetTheOldestFirst) {
    const std::size_t one =
        1 + 2 + 6 + 3 + replica_window::entry_overhead;  // kind "0:" "4:ks:1" "set"
    replica_window w({.age = 10s, .bytes = 3 * one});
    for (int i = 1; i <= 5; ++i) {
        const std::string c = "ks:" + std::to_string(i);
        w.from_replica(msg(c, "set"), t0 + std::chrono::milliseconds(i));
    }
    EXPECT_EQ(w.bytes(), 3 * one);
    EXPECT_EQ(w.unmatched_replica(), 2u);
    EXPECT_EQ(*w.complete_since(), t0 + 2ms);
    EXPECT_EQ(channels(w.take_over(t0)), (std::vector<std::string>{"ks:3", "ks:4", "ks:5"}));
}

TEST(ReplicaWindow, AForgottenPrimaryMessageNoLongerMatches) {
    replica_window w({.age = 100ms, .bytes = 1 << 20});
    w.from_primary(msg("ks:a", "set"), t0);
    w.expire(t0 + 200ms);
    // A copy this late is a new write, held as one.
    EXPECT_EQ(w.from_replica(msg("ks:a", "set"), t0 + 201ms), verdict::hold);
    EXPECT_EQ(w.take_over(t0 + 200ms).size(), 1u);
}

}  // namespace
}  // namespace ksn::detail
