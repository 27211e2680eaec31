// `ksn bench`'s matcher: every notification matched to the write that caused it, and what
// never came classified (lost, lost in a gap, unconfirmed), with explicit clock times.
#include "tools/bench_matcher.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/slot.hpp"
#include "notifications/delivery.hpp"

namespace ksn::tools::bench {
namespace {

using namespace std::chrono_literals;
using outcome = matcher::outcome;

constexpr std::uint64_t ms_ns = 1'000'000;

class BenchMatcher : public ::testing::Test {
  protected:
    // 10 strings (ids 0..9, "s:0".."s:9"), 10 hashes (10..19), 10 lists (20..29).
    command_mix mix_ = command_mix::parse("set=1,del=1,expire=1,hset=1,lpush=1");
    key_space keys_{"b:", 30, mix_, 1};
    clock::time_point start_ = clock::time_point{} + 1h;
    matcher m_{keys_, start_};

    clock::time_point at(std::chrono::nanoseconds since_start) const {
        return start_ + since_start;
    }
    std::uint32_t str(std::uint32_t i) const { return keys_.id(key_type::string, i); }
    std::uint32_t hash(std::uint32_t i) const { return keys_.id(key_type::hash, i); }
    std::string suffix(std::uint32_t id) const {
        std::string s;
        keys_.append_suffix(s, id);
        return s;
    }
    // A write sent and answered.
    matcher::ticket write(std::uint32_t key, op o, std::uint32_t conn, std::uint64_t index,
                          clock::time_point sent, outcome out, clock::time_point replied) {
        const auto t = m_.sent(key, o, conn, index, sent);
        m_.replied(t, out, replied);
        return t;
    }
    void notify(std::uint32_t key, op o, std::string_view node, clock::time_point t) {
        m_.notified(suffix(key), name(o), node, t);
    }
    gap_event gap_on(std::string node, clock::time_point lost,
                     std::optional<clock::time_point> restored) const {
        gap_event g;
        g.node = std::move(node);
        g.reason = gap_reason::connection_lost;
        g.detail = "lost the connection to " + g.node;
        g.lost = lost;
        g.restored = restored;
        return g;
    }
};

const node_result* node_of(const match_result& r, std::string_view node) {
    for (const auto& n : r.nodes)
        if (n.node == node) return &n;
    return nullptr;
}

// --- matching -------------------------------------------------------------------------------

TEST_F(BenchMatcher, EveryWriteMatchedInOrder) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(0), op::set, c, 1, at(1ms), outcome::published, at(2ms));
    write(hash(3), op::hset, c, 2, at(2ms), outcome::published, at(3ms));
    write(keys_.id(key_type::list, 9), op::lpush, c, 3, at(3ms), outcome::published, at(4ms));
    EXPECT_FALSE(m_.settled());
    notify(str(0), op::set, "n1:6379", at(2ms));
    notify(str(0), op::set, "n1:6379", at(3ms));
    notify(hash(3), op::hset, "n1:6379", at(4ms));
    EXPECT_FALSE(m_.settled());
    notify(keys_.id(key_type::list, 9), op::lpush, "n1:6379", at(5ms));
    EXPECT_TRUE(m_.settled());

    const auto r = m_.finish();
    EXPECT_EQ(r.total.node, "total");
    EXPECT_EQ(r.total.writes_sent, 4u);
    EXPECT_EQ(r.total.writes_acked, 4u);
    EXPECT_EQ(r.total.writes_failed, 0u);
    EXPECT_EQ(r.total.writes_silent, 0u);
    EXPECT_EQ(r.total.expected, 4u);
    EXPECT_EQ(r.total.received, 4u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.lost_in_gaps, 0u);
    EXPECT_EQ(r.total.duplicated, 0u);
    EXPECT_EQ(r.total.out_of_order, 0u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
    EXPECT_EQ(r.total.gaps, 0u);
    EXPECT_EQ(r.other_events, 0u);
    EXPECT_TRUE(r.gaps.empty());
    ASSERT_EQ(r.nodes.size(), 1u);
    EXPECT_EQ(r.nodes[0].node, "n1:6379");
    EXPECT_EQ(r.nodes[0].expected, 4u);
    EXPECT_EQ(r.nodes[0].received, 4u);
    EXPECT_EQ(r.total.latency.count, 4u);
    EXPECT_EQ(r.total.latency.max, 2 * ms_ns);
}

TEST_F(BenchMatcher, LatencyIsFromSentToReceived) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(10ms), outcome::published, at(11ms));
    write(str(1), op::set, c, 1, at(20ms), outcome::published, at(21ms));
    write(str(2), op::set, c, 2, at(30ms), outcome::published, at(31ms));
    notify(str(0), op::set, "n1:6379", at(11ms));  // 1 ms
    notify(str(1), op::set, "n1:6379", at(27ms));  // 7 ms
    notify(str(2), op::set, "n1:6379", at(32ms));  // 2 ms
    const auto r = m_.finish();
    EXPECT_EQ(r.total.latency.count, 3u);
    EXPECT_EQ(r.total.latency.max, 7 * ms_ns);
    // The median, within the histogram's precision (~1.6%).
    EXPECT_GE(r.total.latency.p50, 2 * ms_ns);
    EXPECT_LE(r.total.latency.p50, 2 * ms_ns + 2 * ms_ns / 50);
    ASSERT_EQ(r.nodes.size(), 1u);
    EXPECT_EQ(r.nodes[0].latency.count, 3u);
    EXPECT_EQ(r.nodes[0].latency.max, 7 * ms_ns);
}

TEST_F(BenchMatcher, SameEventOnAKeyMatchesTheOldestWrite) {
    // Two SETs on one key: the first notification is the first write's (latency 5 ms, not
    // 1 ms), and so in order.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(0), op::set, c, 1, at(4ms), outcome::published, at(5ms));
    notify(str(0), op::set, "n1:6379", at(5ms));
    notify(str(0), op::set, "n1:6379", at(6ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.received, 2u);
    EXPECT_EQ(r.total.out_of_order, 0u);
    EXPECT_EQ(r.total.latency.max, 5 * ms_ns);
}

TEST_F(BenchMatcher, EventsOnAKeyInAnotherOrderThanTheWritesAreOutOfOrder) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(0), op::del, c, 1, at(1ms), outcome::published, at(2ms));
    notify(str(0), op::del, "n1:6379", at(3ms));
    notify(str(0), op::set, "n1:6379", at(4ms));  // older than the del already matched
    const auto r = m_.finish();
    EXPECT_EQ(r.total.expected, 2u);
    EXPECT_EQ(r.total.received, 2u);
    EXPECT_EQ(r.total.out_of_order, 1u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.duplicated, 0u);
}

TEST_F(BenchMatcher, OutOfOrderIsPerKey) {
    // set, expire, set on s:0: the second set arrives before the expire; across keys, order
    // does not matter.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(0), op::expire, c, 1, at(0ms), outcome::published, at(1ms));
    write(str(0), op::set, c, 2, at(0ms), outcome::published, at(1ms));
    write(str(1), op::set, c, 3, at(0ms), outcome::published, at(1ms));
    write(str(2), op::set, c, 4, at(0ms), outcome::published, at(1ms));
    notify(str(2), op::set, "n1:6379", at(2ms));
    notify(str(1), op::set, "n1:6379", at(2ms));
    notify(str(0), op::set, "n1:6379", at(2ms));
    notify(str(0), op::set, "n1:6379", at(2ms));
    notify(str(0), op::expire, "n1:6379", at(2ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.received, 5u);
    EXPECT_EQ(r.total.out_of_order, 1u);
    EXPECT_EQ(r.total.lost, 0u);
}

TEST_F(BenchMatcher, NotificationWithNoWriteLeftIsADuplicate) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    notify(str(0), op::set, "n1:6379", at(2ms));
    notify(str(0), op::set, "n1:6379", at(3ms));    // a second one for one write
    notify(str(0), op::del, "n1:6379", at(3ms));    // an event no write on the key made
    notify(str(5), op::set, "n1:6379", at(3ms));    // a key never written
    notify(hash(1), op::hset, "n2:6379", at(3ms));  // attributed to the node it came from
    EXPECT_TRUE(m_.settled());
    const auto r = m_.finish();
    EXPECT_EQ(r.total.expected, 1u);
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.duplicated, 4u);
    EXPECT_EQ(r.total.out_of_order, 0u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.latency.count, 1u);
    ASSERT_EQ(r.nodes.size(), 2u);
    EXPECT_EQ(node_of(r, "n1:6379")->duplicated, 3u);
    EXPECT_EQ(node_of(r, "n2:6379")->duplicated, 1u);
}

TEST_F(BenchMatcher, OtherEventsAndForeignKeysAreNeitherMatchedNorDuplicates) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    m_.notified("s:0", "expired", "n1:6379", at(2ms));  // an event no op causes
    m_.notified("s:0", "new", "n1:6379", at(2ms));
    m_.notified("x:0", "set", "n1:6379", at(2ms));   // not a key of the space
    m_.notified("s:10", "set", "n1:6379", at(2ms));  // past the strings
    EXPECT_FALSE(m_.settled());
    const auto r = m_.finish();
    EXPECT_EQ(r.other_events, 4u);
    EXPECT_EQ(r.total.received, 0u);
    EXPECT_EQ(r.total.duplicated, 0u);
    EXPECT_EQ(r.total.lost, 1u);
}

TEST_F(BenchMatcher, SilentWritesExpectNothing) {
    // DEL and EXPIRE of a missing key publish nothing: nothing is expected or lost, and a
    // notification cannot match them.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::del, c, 0, at(0ms), outcome::silent, at(1ms));
    write(str(1), op::expire, c, 1, at(0ms), outcome::silent, at(1ms));
    EXPECT_TRUE(m_.settled());
    notify(str(1), op::expire, "n1:6379", at(2ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_sent, 2u);
    EXPECT_EQ(r.total.writes_acked, 2u);
    EXPECT_EQ(r.total.writes_silent, 2u);
    EXPECT_EQ(r.total.expected, 0u);
    EXPECT_EQ(r.total.received, 0u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
    EXPECT_EQ(r.total.duplicated, 1u);
}

TEST_F(BenchMatcher, SilentWriteIsSkippedByALaterWritesNotification) {
    // DEL (missing key: silent), SET, DEL: the del notification is the second DEL's.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::del, c, 0, at(0ms), outcome::silent, at(1ms));
    write(str(0), op::set, c, 1, at(1ms), outcome::published, at(2ms));
    write(str(0), op::del, c, 2, at(2ms), outcome::published, at(3ms));
    notify(str(0), op::set, "n1:6379", at(3ms));
    notify(str(0), op::del, "n1:6379", at(4ms));
    EXPECT_TRUE(m_.settled());
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_silent, 1u);
    EXPECT_EQ(r.total.expected, 2u);
    EXPECT_EQ(r.total.received, 2u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.out_of_order, 0u);
    EXPECT_EQ(r.total.latency.max, 2 * ms_ns);
}

TEST_F(BenchMatcher, NotificationBeforeTheReply) {
    const auto c = m_.add_connection("n1:6379");
    const auto t = m_.sent(str(0), op::set, c, 0, at(0ms));
    notify(str(0), op::set, "n1:6379", at(1ms));
    EXPECT_TRUE(m_.settled());
    m_.replied(t, outcome::published, at(2ms));
    EXPECT_TRUE(m_.settled());
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_acked, 1u);
    EXPECT_EQ(r.total.expected, 1u);  // counted once, not again at the reply
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.duplicated, 0u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
    EXPECT_EQ(r.total.latency.max, 1 * ms_ns);
}

TEST_F(BenchMatcher, SilentDelBeforeItsReplyDoesNotTakeALaterDelsNotification) {
    // A pipeline: DEL of a missing key, SET, DEL. The set and del notifications arrive
    // before any reply; the del is the third write's, as the first one's reply then says.
    const auto c = m_.add_connection("n1:6379");
    const auto t0 = m_.sent(str(0), op::del, c, 0, at(0ms));
    const auto t1 = m_.sent(str(0), op::set, c, 1, at(1ms));
    const auto t2 = m_.sent(str(0), op::del, c, 2, at(2ms));
    notify(str(0), op::set, "n1:6379", at(3ms));
    notify(str(0), op::del, "n1:6379", at(3ms));
    m_.replied(t0, outcome::silent, at(4ms));
    m_.replied(t1, outcome::published, at(4ms));
    m_.replied(t2, outcome::published, at(4ms));
    EXPECT_TRUE(m_.settled());
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_acked, 3u);
    EXPECT_EQ(r.total.writes_silent, 1u);
    EXPECT_EQ(r.total.expected, 2u);
    EXPECT_EQ(r.total.received, 2u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.out_of_order, 0u);
    EXPECT_EQ(r.total.duplicated, 0u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
}

TEST_F(BenchMatcher, NotificationTakesTheWriteAfterTheLastMatchedOne) {
    // set, del, set on s:0 and the notifications del, set: the set is the third write's (in
    // order), and the first set is the one lost, not counted out of order.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(0), op::del, c, 1, at(1ms), outcome::published, at(2ms));
    write(str(0), op::set, c, 2, at(2ms), outcome::published, at(3ms));
    notify(str(0), op::del, "n1:6379", at(4ms));
    notify(str(0), op::set, "n1:6379", at(5ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.expected, 3u);
    EXPECT_EQ(r.total.received, 2u);
    EXPECT_EQ(r.total.out_of_order, 0u);
    EXPECT_EQ(r.total.lost, 1u);
    EXPECT_EQ(r.total.latency.max, 3 * ms_ns);  // del 3 ms, set 3 ms (not 5 ms)
}

TEST_F(BenchMatcher, WriteThatLostItsConnectionIsTakenOnlyWhenNoOtherFits) {
    // s:0's first SET got no reply (it may not have executed); its second was acked. The one
    // notification is the acked write's: nothing lost, the first unconfirmed.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::failed, at(1ms));
    write(str(0), op::set, c, 1, at(2ms), outcome::published, at(3ms));
    notify(str(0), op::set, "n1:6379", at(4ms));
    EXPECT_TRUE(m_.settled());
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_failed, 1u);
    EXPECT_EQ(r.total.expected, 1u);
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.unconfirmed, 1u);
    EXPECT_EQ(r.total.latency.max, 2 * ms_ns);
}

TEST_F(BenchMatcher, FailedWriteAfterTheLastMatchedIsTakenBeforeAnOlderOne) {
    // set (acked), del (acked), set (no reply); notifications del, set: the set is the
    // failed third write's, in order, and the first set is lost.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(0), op::del, c, 1, at(0ms), outcome::published, at(1ms));
    write(str(0), op::set, c, 2, at(0ms), outcome::failed, at(1ms));
    notify(str(0), op::del, "n1:6379", at(2ms));
    notify(str(0), op::set, "n1:6379", at(3ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.expected, 3u);  // the failed one confirmed by its notification
    EXPECT_EQ(r.total.received, 2u);
    EXPECT_EQ(r.total.out_of_order, 0u);
    EXPECT_EQ(r.total.lost, 1u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
}

TEST_F(BenchMatcher, RejectedWriteExpectsNothing) {
    // An error reply: the write did not execute. Failed, but neither unconfirmed nor lost,
    // and no notification can be its.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::rejected, at(1ms));
    EXPECT_TRUE(m_.settled());
    notify(str(0), op::set, "n1:6379", at(2ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_sent, 1u);
    EXPECT_EQ(r.total.writes_acked, 0u);
    EXPECT_EQ(r.total.writes_failed, 1u);
    EXPECT_EQ(r.total.writes_silent, 0u);
    EXPECT_EQ(r.total.expected, 0u);
    EXPECT_EQ(r.total.received, 0u);
    EXPECT_EQ(r.total.duplicated, 1u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
}

// --- failed and unanswered writes -----------------------------------------------------------

TEST_F(BenchMatcher, FailedWriteWithNoNotificationIsUnconfirmedNotLost) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::failed, at(1ms));
    EXPECT_TRUE(m_.settled());
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_sent, 1u);
    EXPECT_EQ(r.total.writes_acked, 0u);
    EXPECT_EQ(r.total.writes_failed, 1u);
    EXPECT_EQ(r.total.expected, 0u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.unconfirmed, 1u);
}

TEST_F(BenchMatcher, NotificationAfterAFailedReplyConfirmsTheWrite) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::failed, at(1ms));
    notify(str(0), op::set, "n1:6379", at(2ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_failed, 1u);
    EXPECT_EQ(r.total.expected, 1u);
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.duplicated, 0u);
}

TEST_F(BenchMatcher, NotificationBeforeAFailedReplyConfirmsTheWrite) {
    const auto c = m_.add_connection("n1:6379");
    const auto t = m_.sent(str(0), op::set, c, 0, at(0ms));
    notify(str(0), op::set, "n1:6379", at(1ms));
    m_.replied(t, outcome::failed, at(2ms));
    notify(str(0), op::set, "n1:6379", at(3ms));  // the write is done: a duplicate
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_failed, 1u);
    EXPECT_EQ(r.total.expected, 1u);
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
    EXPECT_EQ(r.total.duplicated, 1u);
}

TEST_F(BenchMatcher, UnansweredWritesAreUnconfirmedUnlessNotified) {
    const auto c = m_.add_connection("n1:6379");
    (void)m_.sent(str(0), op::set, c, 0, at(0ms));
    (void)m_.sent(str(1), op::set, c, 1, at(0ms));
    (void)m_.sent(str(2), op::del, c, 2, at(0ms));
    notify(str(1), op::set, "n1:6379", at(1ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.writes_sent, 3u);
    EXPECT_EQ(r.total.writes_acked, 0u);
    EXPECT_EQ(r.total.writes_failed, 0u);
    EXPECT_EQ(r.total.expected, 1u);
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.unconfirmed, 2u);
    EXPECT_EQ(r.total.lost, 0u);
}

// --- lost writes and settled() --------------------------------------------------------------

TEST_F(BenchMatcher, PublishedWriteNeverNotifiedIsLost) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(1), op::set, c, 1, at(0ms), outcome::published, at(1ms));
    write(hash(0), op::hset, c, 2, at(0ms), outcome::published, at(1ms));
    notify(str(1), op::set, "n1:6379", at(2ms));
    EXPECT_FALSE(m_.settled());
    const auto r = m_.finish();
    EXPECT_EQ(r.total.expected, 3u);
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.lost, 2u);
    EXPECT_EQ(r.total.lost_in_gaps, 0u);
    EXPECT_EQ(r.total.unconfirmed, 0u);
}

TEST_F(BenchMatcher, SettledWaitsOnlyForPublishedWrites) {
    const auto c = m_.add_connection("n1:6379");
    EXPECT_TRUE(m_.settled());  // nothing written
    const auto t0 = m_.sent(str(0), op::set, c, 0, at(0ms));
    EXPECT_TRUE(m_.settled());  // not known to publish yet
    m_.replied(t0, outcome::published, at(1ms));
    EXPECT_FALSE(m_.settled());
    const auto t1 = m_.sent(str(1), op::set, c, 1, at(1ms));
    m_.replied(t1, outcome::published, at(2ms));
    notify(str(0), op::set, "n1:6379", at(2ms));
    EXPECT_FALSE(m_.settled());
    notify(str(1), op::set, "n1:6379", at(3ms));
    EXPECT_TRUE(m_.settled());
    write(str(2), op::set, c, 2, at(3ms), outcome::failed, at(4ms));
    write(str(3), op::del, c, 3, at(3ms), outcome::silent, at(4ms));
    EXPECT_TRUE(m_.settled());
}

// --- per-node attribution -------------------------------------------------------------------

TEST_F(BenchMatcher, CountsGoToTheNodeOfTheWritesConnection) {
    const auto a = m_.add_connection("a:1");
    const auto b = m_.add_connection("b:2");
    const auto b2 = m_.add_connection("b:2");                            // a second connection to b
    write(str(0), op::set, a, 0, at(0ms), outcome::published, at(1ms));  // lost
    write(str(1), op::set, a, 1, at(0ms), outcome::failed, at(1ms));     // unconfirmed
    write(str(2), op::set, b, 0, at(0ms), outcome::published, at(1ms));
    write(str(3), op::del, b2, 0, at(0ms), outcome::silent, at(1ms));
    write(str(4), op::set, b2, 1, at(0ms), outcome::published, at(1ms));
    notify(str(2), op::set, "b:2", at(3ms));
    notify(str(4), op::set, "b:2", at(4ms));
    const auto r = m_.finish();
    ASSERT_EQ(r.nodes.size(), 2u);
    EXPECT_EQ(r.nodes[0].node, "a:1");  // in the order first seen
    EXPECT_EQ(r.nodes[1].node, "b:2");
    const auto& na = r.nodes[0];
    EXPECT_EQ(na.writes_sent, 2u);
    EXPECT_EQ(na.writes_acked, 1u);
    EXPECT_EQ(na.writes_failed, 1u);
    EXPECT_EQ(na.expected, 1u);
    EXPECT_EQ(na.received, 0u);
    EXPECT_EQ(na.lost, 1u);
    EXPECT_EQ(na.unconfirmed, 1u);
    EXPECT_EQ(na.latency.count, 0u);
    const auto& nb = r.nodes[1];
    EXPECT_EQ(nb.writes_sent, 3u);
    EXPECT_EQ(nb.writes_acked, 3u);
    EXPECT_EQ(nb.writes_silent, 1u);
    EXPECT_EQ(nb.expected, 2u);
    EXPECT_EQ(nb.received, 2u);
    EXPECT_EQ(nb.lost, 0u);
    EXPECT_EQ(nb.latency.count, 2u);
    EXPECT_EQ(nb.latency.max, 4 * ms_ns);
    EXPECT_EQ(r.total.writes_sent, 5u);
    EXPECT_EQ(r.total.writes_acked, 4u);
    EXPECT_EQ(r.total.expected, 3u);
    EXPECT_EQ(r.total.received, 2u);
    EXPECT_EQ(r.total.lost, 1u);
    EXPECT_EQ(r.total.unconfirmed, 1u);
}

TEST_F(BenchMatcher, ANotificationMatchesOnlyAWriteExecutedOnItsNode) {
    // Resharding: the bench's DEL ran on b (the key's new owner) while MIGRATE's own del
    // of the same key is published by a, the source. a's del is a duplicate; b's matches.
    const auto a = m_.add_connection("a:1");
    const auto b = m_.add_connection("b:2");
    (void)a;
    write(str(0), op::del, b, 0, at(0ms), outcome::published, at(1ms));
    notify(str(0), op::del, "a:1", at(2ms));  // MIGRATE on the source
    notify(str(0), op::del, "b:2", at(3ms));  // the bench's DEL
    const auto r = m_.finish();
    const auto* na = node_of(r, "a:1");
    const auto* nb = node_of(r, "b:2");
    ASSERT_TRUE(na && nb);
    EXPECT_EQ(na->received, 0u);
    EXPECT_EQ(na->duplicated, 1u);
    EXPECT_EQ(na->expected, 0u);
    EXPECT_EQ(nb->received, 1u);
    EXPECT_EQ(nb->expected, 1u);
    EXPECT_EQ(nb->duplicated, 0u);
    EXPECT_EQ(nb->latency.max, 3 * ms_ns);
}

TEST_F(BenchMatcher, RedirectedWriteCountsItsSendOnceAndTheRestOnItsNewNode) {
    const auto a = m_.add_connection("a:1");
    const auto b = m_.add_connection("b:2");
    const auto t = m_.sent(str(0), op::set, a, 0, at(0ms));
    m_.resent(t, b, 0);  // MOVED to b
    m_.replied(t, outcome::published, at(1ms));
    const auto r = m_.finish();
    ASSERT_EQ(r.nodes.size(), 2u);
    EXPECT_EQ(r.nodes[0].writes_sent, 1u);
    EXPECT_EQ(r.nodes[0].writes_acked, 0u);
    EXPECT_EQ(r.nodes[0].expected, 0u);
    EXPECT_EQ(r.nodes[0].lost, 0u);
    EXPECT_EQ(r.nodes[1].writes_sent, 0u);
    EXPECT_EQ(r.nodes[1].writes_acked, 1u);
    EXPECT_EQ(r.nodes[1].expected, 1u);
    EXPECT_EQ(r.nodes[1].lost, 1u);
    EXPECT_EQ(r.total.writes_sent, 1u);
}

// --- gaps -----------------------------------------------------------------------------------

TEST_F(BenchMatcher, GapReportIsKept) {
    (void)m_.add_connection("n1:6379");
    auto g = gap_on("n1:6379", at(1500ms), at(2250ms));
    g.reason = gap_reason::queue_overflow;
    g.dropped = 17;
    g.slots = {{0, 100}, {200, 300}};
    m_.gap(g);
    m_.gap(gap_on("n2:6379", at(3s), std::nullopt));
    const auto r = m_.finish();
    ASSERT_EQ(r.gaps.size(), 2u);
    EXPECT_EQ(r.gaps[0].node, "n1:6379");
    EXPECT_EQ(r.gaps[0].reason, "queue_overflow");
    EXPECT_EQ(r.gaps[0].detail, "lost the connection to n1:6379");
    EXPECT_DOUBLE_EQ(r.gaps[0].lost_s, 1.5);
    ASSERT_TRUE(r.gaps[0].restored_s.has_value());
    EXPECT_DOUBLE_EQ(*r.gaps[0].restored_s, 2.25);
    EXPECT_EQ(r.gaps[0].dropped, 17u);
    EXPECT_EQ(r.gaps[0].slots, g.slots);
    EXPECT_EQ(r.gaps[0].lost_writes, 0u);
    EXPECT_EQ(r.gaps[1].node, "n2:6379");
    EXPECT_EQ(r.gaps[1].reason, "connection_lost");
    EXPECT_FALSE(r.gaps[1].restored_s.has_value());
    EXPECT_EQ(r.total.gaps, 2u);
    ASSERT_EQ(r.nodes.size(), 2u);
    EXPECT_EQ(node_of(r, "n1:6379")->gaps, 1u);
    EXPECT_EQ(node_of(r, "n2:6379")->gaps, 1u);
}

// A gap is delivered after its subscription is whole again, so in these tests the writes a
// gap may cover are sent before gap() is called.

TEST_F(BenchMatcher, UnmatchedWritesSentBeforeTheRestoreAreInTheGap) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(1), op::set, c, 1, at(1ms), outcome::published, at(2ms));
    write(str(2), op::set, c, 2, at(2ms), outcome::published, at(3ms));
    write(str(3), op::set, c, 3, at(9ms), outcome::published, at(11ms));   // before the restore
    write(str(4), op::set, c, 4, at(12ms), outcome::published, at(13ms));  // after
    notify(str(0), op::set, "n1:6379", at(2ms));
    m_.gap(gap_on("n1:6379", at(3ms), at(10ms)));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.expected, 5u);
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.lost, 4u);
    EXPECT_EQ(r.total.lost_in_gaps, 3u);  // s:1, s:2, s:3
    ASSERT_EQ(r.gaps.size(), 1u);
    EXPECT_EQ(r.gaps[0].lost_writes, 3u);
    ASSERT_EQ(r.nodes.size(), 1u);
    EXPECT_EQ(r.nodes[0].lost, 4u);
    EXPECT_EQ(r.nodes[0].lost_in_gaps, 3u);
    EXPECT_EQ(r.nodes[0].gaps, 1u);
}

TEST_F(BenchMatcher, WriteSentExactlyAtTheRestoreIsInTheGapOneNanosecondLaterIsNot) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(10ms), outcome::published, at(11ms));
    write(str(1), op::set, c, 1, at(10ms + 1ns), outcome::published, at(11ms));
    m_.gap(gap_on("n1:6379", at(3ms), at(10ms)));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 2u);
    EXPECT_EQ(r.total.lost_in_gaps, 1u);
    EXPECT_EQ(r.gaps[0].lost_writes, 1u);
}

TEST_F(BenchMatcher, WritesMatchedWhenTheGapIsDeliveredAreNotInIt) {
    // s:0 is matched before the gap arrives; s:1 after it (its notification was received
    // after the interruption), so s:1 is in the window but is not lost.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(1), op::set, c, 1, at(1ms), outcome::published, at(2ms));
    write(str(2), op::set, c, 2, at(2ms), outcome::published, at(3ms));
    notify(str(0), op::set, "n1:6379", at(2ms));
    m_.gap(gap_on("n1:6379", at(3ms), at(10ms)));
    notify(str(1), op::set, "n1:6379", at(11ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.received, 2u);
    EXPECT_EQ(r.total.lost, 1u);
    EXPECT_EQ(r.total.lost_in_gaps, 1u);
    EXPECT_EQ(r.gaps[0].lost_writes, 1u);
}

TEST_F(BenchMatcher, WriteMatchedBeforeItsReplyIsNotInTheWindow) {
    // s:0's first SET is notified before its reply, and the gap comes in between: that write
    // is not in the window, so the later lost SET on s:0 is not explained by the gap.
    const auto c = m_.add_connection("n1:6379");
    const auto t = m_.sent(str(0), op::set, c, 0, at(0ms));
    notify(str(0), op::set, "n1:6379", at(1ms));
    m_.gap(gap_on("n1:6379", at(2ms), at(10ms)));
    m_.replied(t, outcome::published, at(11ms));
    write(str(0), op::set, c, 1, at(20ms), outcome::published, at(21ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.lost, 1u);
    EXPECT_EQ(r.total.lost_in_gaps, 0u);
    EXPECT_EQ(r.gaps[0].lost_writes, 0u);
}

TEST_F(BenchMatcher, UnmatchedWriteOlderThanAMatchedOneIsStillInTheWindow) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    write(str(1), op::set, c, 1, at(1ms), outcome::published, at(2ms));
    notify(str(1), op::set, "n1:6379", at(3ms));
    m_.gap(gap_on("n1:6379", at(4ms), at(10ms)));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 1u);
    EXPECT_EQ(r.total.lost_in_gaps, 1u);
}

TEST_F(BenchMatcher, StandaloneGapCoversOnlyTheWritesExecutedOnItsNode) {
    const auto a = m_.add_connection("a:1");
    const auto b = m_.add_connection("b:2");
    write(str(0), op::set, a, 0, at(0ms), outcome::published, at(1ms));
    write(str(1), op::set, b, 0, at(0ms), outcome::published, at(1ms));
    m_.gap(gap_on("b:2", at(0ms), at(10ms)));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 2u);
    EXPECT_EQ(r.total.lost_in_gaps, 1u);
    EXPECT_EQ(r.gaps[0].lost_writes, 1u);
    EXPECT_EQ(node_of(r, "a:1")->lost, 1u);
    EXPECT_EQ(node_of(r, "a:1")->lost_in_gaps, 0u);
    EXPECT_EQ(node_of(r, "a:1")->gaps, 0u);
    EXPECT_EQ(node_of(r, "b:2")->lost, 1u);
    EXPECT_EQ(node_of(r, "b:2")->lost_in_gaps, 1u);
    EXPECT_EQ(node_of(r, "b:2")->gaps, 1u);
}

TEST_F(BenchMatcher, GapOnANodeWithNoWritesExplainsNothing) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    m_.gap(gap_on("n2:6379", at(0ms), std::nullopt));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 1u);
    EXPECT_EQ(r.total.lost_in_gaps, 0u);
    EXPECT_EQ(r.gaps[0].lost_writes, 0u);
    EXPECT_EQ(node_of(r, "n1:6379")->gaps, 0u);
    EXPECT_EQ(node_of(r, "n2:6379")->gaps, 1u);
}

TEST_F(BenchMatcher, GapNeverRestoredCoversEveryUnmatchedWriteOnItsNode) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(2ms), outcome::published, at(3ms));
    write(str(1), op::set, c, 1, at(1h), outcome::published, at(1h));
    m_.gap(gap_on("n1:6379", at(1ms), std::nullopt));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost_in_gaps, 2u);
    EXPECT_EQ(r.gaps[0].lost_writes, 2u);
    EXPECT_FALSE(r.gaps[0].restored_s.has_value());
}

TEST_F(BenchMatcher, GapNeverRestoredAlsoCoversWritesSentAfterItWasDelivered) {
    // The node was given up: nothing sent to it later can be notified either. Writes to
    // another node, or sent before the gap began, are not covered.
    const auto c1 = m_.add_connection("n1:6379");
    const auto c2 = m_.add_connection("n2:6379");
    m_.gap(gap_on("n1:6379", at(10ms), std::nullopt));
    write(str(0), op::set, c1, 0, at(20ms), outcome::published, at(21ms));
    write(str(1), op::set, c1, 1, at(30ms), outcome::published, at(31ms));
    write(str(2), op::set, c2, 0, at(20ms), outcome::published, at(21ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 3u);
    EXPECT_EQ(r.total.lost_in_gaps, 2u);
    EXPECT_EQ(r.gaps[0].lost_writes, 2u);
    EXPECT_EQ(node_of(r, "n1:6379")->lost_in_gaps, 2u);
    EXPECT_EQ(node_of(r, "n2:6379")->lost_in_gaps, 0u);
}

TEST_F(BenchMatcher, RestoredGapDoesNotCoverWritesSentAfterIt) {
    const auto c = m_.add_connection("n1:6379");
    m_.gap(gap_on("n1:6379", at(10ms), at(15ms)));
    write(str(0), op::set, c, 0, at(20ms), outcome::published, at(21ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 1u);
    EXPECT_EQ(r.total.lost_in_gaps, 0u);
}

TEST_F(BenchMatcher, OnlyLostWritesCountInAGap) {
    // Silent and rejected writes publish nothing; failed and unanswered ones are
    // unconfirmed, not lost; none of them is a lost write the gap explains.
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(1ms), outcome::failed, at(2ms));
    write(str(1), op::del, c, 1, at(1ms), outcome::silent, at(2ms));
    write(str(2), op::set, c, 2, at(1ms), outcome::rejected, at(2ms));
    (void)m_.sent(str(3), op::set, c, 3, at(1ms));
    m_.gap(gap_on("n1:6379", at(0ms), std::nullopt));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 0u);
    EXPECT_EQ(r.total.lost_in_gaps, 0u);
    EXPECT_EQ(r.total.unconfirmed, 2u);
    EXPECT_EQ(r.gaps[0].lost_writes, 0u);
}

TEST_F(BenchMatcher, AKeysLossesCountInAGapUpToItsWritesInTheWindow) {
    const auto c = m_.add_connection("n1:6379");
    // s:0: one write in the window; after the gap a second SET, and one notification. It is
    // taken for the first write, so the second is the lost one: still one loss, in the gap.
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    // s:1: one write in the window, two more after it, none notified: one of three in the gap.
    write(str(1), op::set, c, 1, at(0ms), outcome::published, at(1ms));
    m_.gap(gap_on("n1:6379", at(0ms), at(10ms)));
    write(str(0), op::set, c, 2, at(20ms), outcome::published, at(21ms));
    notify(str(0), op::set, "n1:6379", at(22ms));
    write(str(1), op::set, c, 3, at(20ms), outcome::published, at(21ms));
    write(str(1), op::set, c, 4, at(20ms), outcome::published, at(21ms));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.expected, 5u);
    EXPECT_EQ(r.total.received, 1u);
    EXPECT_EQ(r.total.lost, 4u);
    EXPECT_EQ(r.total.lost_in_gaps, 2u);
    EXPECT_EQ(r.gaps[0].lost_writes, 2u);
}

TEST_F(BenchMatcher, LostWritesFillTheGapsInTheOrderReported) {
    const auto c = m_.add_connection("n1:6379");
    // s:0 is in both windows but lost once: the first gap explains it.
    write(str(0), op::set, c, 0, at(1ms), outcome::published, at(2ms));
    // s:1: one write in the first window, two in the second.
    write(str(1), op::set, c, 1, at(1ms), outcome::published, at(2ms));
    m_.gap(gap_on("n1:6379", at(0ms), at(5ms)));
    write(str(1), op::set, c, 2, at(6ms), outcome::published, at(7ms));
    m_.gap(gap_on("n1:6379", at(8ms), at(10ms)));
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 3u);
    EXPECT_EQ(r.total.lost_in_gaps, 3u);
    ASSERT_EQ(r.gaps.size(), 2u);
    EXPECT_EQ(r.gaps[0].lost_writes, 2u);  // s:0, s:1's first
    EXPECT_EQ(r.gaps[1].lost_writes, 1u);  // s:1's second
    EXPECT_EQ(r.nodes[0].gaps, 2u);
}

TEST_F(BenchMatcher, ClusterGapCoversTheKeysOfItsSlotsWhereverTheyExecuted) {
    const auto slot1 = cluster::key_slot(keys_.name(str(1)));
    const auto slot2 = cluster::key_slot(keys_.name(str(2)));
    // The slot is of the full name: the suffix alone hashes elsewhere.
    ASSERT_NE(slot1, slot2);
    ASSERT_NE(cluster::key_slot("s:1"), slot1);
    ASSERT_NE(cluster::key_slot("s:2"), slot2);

    // The writes went to a:1 (say before a failover); the gap is on b:2, naming s:1's slot.
    const auto a = m_.add_connection("a:1");
    write(str(1), op::set, a, 0, at(1ms), outcome::published, at(2ms));
    write(str(2), op::set, a, 1, at(1ms), outcome::published, at(2ms));
    auto g = gap_on("b:2", at(0ms), at(10ms));
    g.reason = gap_reason::topology_change;
    g.slots = {{slot1, slot1}};
    m_.gap(g);
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 2u);
    EXPECT_EQ(r.total.lost_in_gaps, 1u);
    EXPECT_EQ(r.gaps[0].lost_writes, 1u);
    EXPECT_EQ(r.gaps[0].reason, "topology_change");
    EXPECT_EQ(node_of(r, "a:1")->lost_in_gaps, 1u);  // counted where the write executed
    EXPECT_EQ(node_of(r, "b:2")->gaps, 1u);
    EXPECT_EQ(node_of(r, "b:2")->lost, 0u);
}

TEST_F(BenchMatcher, ClusterGapSlotRangesAreInclusive) {
    const auto slot1 = cluster::key_slot(keys_.name(str(1)));
    const auto slot2 = cluster::key_slot(keys_.name(str(2)));
    const auto slot3 = cluster::key_slot(keys_.name(str(3)));
    ASSERT_LT(slot1, slot2);
    ASSERT_LT(slot2, slot3);
    const auto c = m_.add_connection("n1:6379");
    write(str(1), op::set, c, 0, at(1ms), outcome::published, at(2ms));
    write(str(2), op::set, c, 1, at(1ms), outcome::published, at(2ms));
    write(str(3), op::set, c, 2, at(1ms), outcome::published, at(2ms));
    auto g = gap_on("n1:6379", at(0ms), at(10ms));
    // [0, slot1] and [slot2, slot3 - 1]: s:1 and s:2 on the edges, s:3 just past.
    g.slots = {{0, slot1}, {slot2, static_cast<std::uint16_t>(slot3 - 1)}};
    m_.gap(g);
    const auto r = m_.finish();
    EXPECT_EQ(r.total.lost, 3u);
    EXPECT_EQ(r.total.lost_in_gaps, 2u);
}

TEST_F(BenchMatcher, RedirectedWriteIsInTheGapOfItsNewNode) {
    const auto a = m_.add_connection("a:1");
    const auto b = m_.add_connection("b:2");
    const auto t = m_.sent(str(1), op::set, a, 0, at(3ms));
    m_.resent(t, b, 0);  // MOVED to b
    m_.replied(t, outcome::published, at(4ms));
    m_.gap(gap_on("b:2", at(2ms), at(10ms)));
    const auto r = m_.finish();
    EXPECT_EQ(node_of(r, "b:2")->lost, 1u);
    EXPECT_EQ(node_of(r, "b:2")->lost_in_gaps, 1u);
    EXPECT_EQ(node_of(r, "a:1")->lost, 0u);
    EXPECT_EQ(r.gaps[0].lost_writes, 1u);
}

// --- progress and the timeline --------------------------------------------------------------

TEST_F(BenchMatcher, SnapshotCountsWhatIsMissingForLongerThanLate) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(10ms));
    write(str(1), op::set, c, 1, at(0ms), outcome::published, at(60ms));
    write(str(2), op::set, c, 2, at(0ms), outcome::published, at(10ms));
    write(str(3), op::del, c, 3, at(0ms), outcome::silent, at(10ms));
    (void)m_.sent(str(4), op::set, c, 4, at(0ms));
    notify(str(2), op::set, "n1:6379", at(20ms));
    const auto p = m_.snapshot(at(100ms), 50ms);
    EXPECT_EQ(p.sent, 5u);
    EXPECT_EQ(p.acked, 4u);
    EXPECT_EQ(p.expected, 3u);
    EXPECT_EQ(p.received, 1u);
    EXPECT_EQ(p.missing, 1u);  // s:0 (acked 90 ms ago); s:1 only 40 ms ago
    EXPECT_EQ(p.p99_ns, 20 * ms_ns);
    EXPECT_EQ(m_.snapshot(at(100ms), 30ms).missing, 2u);
    EXPECT_EQ(m_.snapshot(at(100ms), 200ms).missing, 0u);
}

TEST_F(BenchMatcher, TakeSecondsReturnsEachFinishedSecondOnce) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(100ms), outcome::published, at(200ms));
    write(str(1), op::set, c, 1, at(300ms), outcome::published, at(1100ms));
    write(str(2), op::set, c, 2, at(1200ms), outcome::silent, at(1300ms));
    notify(str(0), op::set, "n1:6379", at(400ms));   // second 0, 300 ms
    notify(str(1), op::set, "n1:6379", at(1500ms));  // second 1, 1200 ms

    EXPECT_TRUE(m_.take_seconds(at(900ms)).empty());  // second 0 is not over
    const auto first = m_.take_seconds(at(2100ms));
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].second, 0u);
    EXPECT_EQ(first[0].sent, 2u);
    EXPECT_EQ(first[0].acked, 1u);
    EXPECT_EQ(first[0].received, 1u);
    EXPECT_EQ(first[0].p50_ns, 300 * ms_ns);
    EXPECT_EQ(first[0].p99_ns, 300 * ms_ns);
    EXPECT_EQ(first[1].second, 1u);
    EXPECT_EQ(first[1].sent, 1u);
    EXPECT_EQ(first[1].acked, 2u);  // the silent one too
    EXPECT_EQ(first[1].received, 1u);
    EXPECT_EQ(first[1].p50_ns, 1200 * ms_ns);

    EXPECT_TRUE(m_.take_seconds(at(2900ms)).empty());  // already taken
    // Seconds in which nothing happened come back empty, numbered.
    write(str(3), op::set, c, 3, at(4500ms), outcome::published, at(4600ms));
    notify(str(3), op::set, "n1:6379", at(4700ms));
    const auto second = m_.take_seconds(at(5s));
    ASSERT_EQ(second.size(), 3u);
    EXPECT_EQ(second[0].second, 2u);
    EXPECT_EQ(second[1].second, 3u);
    EXPECT_EQ(second[2].second, 4u);
    EXPECT_EQ(second[0].sent + second[0].acked + second[0].received, 0u);
    EXPECT_EQ(second[1].sent + second[1].acked + second[1].received, 0u);
    EXPECT_EQ(second[2].sent, 1u);
    EXPECT_EQ(second[2].acked, 1u);
    EXPECT_EQ(second[2].received, 1u);
    EXPECT_EQ(second[2].p50_ns, 200 * ms_ns);
}

TEST_F(BenchMatcher, TimelineAfterFinishHasEverySecond) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, at(0ms), outcome::published, at(1ms));
    notify(str(0), op::set, "n1:6379", at(5ms));
    write(str(1), op::set, c, 1, at(2100ms), outcome::published, at(2200ms));
    notify(str(1), op::set, "n1:6379", at(2300ms));  // the last second: closed by finish()
    (void)m_.finish();
    const auto t = m_.timeline();
    ASSERT_EQ(t.size(), 3u);
    for (std::uint32_t i = 0; i < t.size(); ++i)
        EXPECT_EQ(t[i].second, i);
    EXPECT_EQ(t[0].sent, 1u);
    EXPECT_EQ(t[0].received, 1u);
    EXPECT_EQ(t[0].p50_ns, 5 * ms_ns);
    EXPECT_EQ(t[1].sent + t[1].acked + t[1].received, 0u);
    EXPECT_EQ(t[2].sent, 1u);
    EXPECT_EQ(t[2].acked, 1u);
    EXPECT_EQ(t[2].received, 1u);
    EXPECT_EQ(t[2].p50_ns, 200 * ms_ns);
    EXPECT_EQ(t[2].p99_ns, 200 * ms_ns);
}

TEST_F(BenchMatcher, TimesBeforeTheStartCountInSecondZero) {
    const auto c = m_.add_connection("n1:6379");
    write(str(0), op::set, c, 0, start_ - 5s, outcome::published, start_ - 1s);
    EXPECT_TRUE(m_.take_seconds(start_ - 1s).empty());
    const auto s = m_.take_seconds(at(1s));
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].sent, 1u);
    EXPECT_EQ(s[0].acked, 1u);
}

}  // namespace
}  // namespace ksn::tools::bench
