// event_queue: the bounded queue between a notifier's I/O thread and its pullers. Every
// overflow policy, gaps exactly where they happened, confirmations and invalid
// notifications, wake batching (with real threads), deadlines, close() and slot reuse.
//
// A popped notification's views are rebuilt only by the notifier (delivery is a friend of
// the queue, not of the tests), so the tests read one through a copy: copying a delivery
// rebuilds its views over the copy's bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "notifications/engine/event_queue.hpp"

#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ksn {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using namespace std::string_view_literals;

constexpr std::string_view node_a = "10.0.0.1:6379";
constexpr std::string_view node_b = "10.0.0.2:6379";

// Receive times on a fixed timeline, so that a gap's lost/restored are exact.
clock::time_point at(int ms) {
    return clock::time_point{} + 1h + std::chrono::milliseconds(ms);
}

// Parses, as the dispatcher does, and pushes the parse result.
event_queue::push_result push_message(
    event_queue& q, std::string_view channel, std::string_view payload, std::string_view pattern,
    std::string_view node, clock::time_point received,
    const std::shared_ptr<const notification_handler>& handler = nullptr) {
    key_notification parsed;
    std::vector<std::string_view> storage;
    const auto r = parse_notification(channel, payload, parsed, storage);
    if (!r.ok()) throw std::invalid_argument("not a notification: " + std::string(channel));
    return q.push_notification(parsed, pattern, node, received, handler);
}

event_queue::push_result push(event_queue& q, std::string_view key, int ms = 0,
                              std::string_view node = node_a,
                              const std::shared_ptr<const notification_handler>& handler = nullptr,
                              std::string_view pattern = {}) {
    return push_message(q, "__keyspace@0__:"s + std::string(key), "set", pattern, node, at(ms),
                        handler);
}

gap_event make_gap(gap_reason reason, std::string_view node, int lost_ms, int restored_ms) {
    gap_event g;
    g.node.assign(node);
    g.reason = reason;
    g.detail = "test gap";
    g.lost = at(lost_ms);
    g.restored = at(restored_ms);
    return g;
}

confirmation make_confirmation(std::string_view kind, std::string_view channel,
                               std::int64_t count) {
    confirmation c;
    c.node.assign(node_a);
    c.kind.assign(kind);
    c.channel.assign(channel);
    c.count = count;
    return c;
}

invalid_notification make_invalid(std::string_view channel) {
    invalid_notification i;
    i.node.assign(node_a);
    i.channel.assign(channel);
    i.payload = "x";
    i.offset = 3;
    return i;
}

// pop() without waiting.
bool pop_now(event_queue& q, delivery& out) {
    std::optional<clock::time_point> deadline;
    return q.pop(out, 0ms, deadline);
}

// One line per item: "key@node", "gap:<reason>:<node>:<dropped>", "conf:<kind> <channel>
// <count>", "invalid:<channel>".
std::string describe(const delivery& d) {
    switch (d.kind()) {
        case delivery::type::notification: {
            const delivery copy(d);  // rebuilds the views over the copy's bytes
            const auto& n = copy.notification();
            return std::string(n.key()) + "@" + std::string(n.node());
        }
        case delivery::type::gap:
            return "gap:" + std::string(to_string(d.gap().reason)) + ":" + d.gap().node + ":" +
                   std::to_string(d.gap().dropped);
        case delivery::type::confirmation:
            return "conf:" + d.confirmation().kind + " " + d.confirmation().channel + " " +
                   std::to_string(d.confirmation().count);
        case delivery::type::invalid:
            return "invalid:" + d.invalid().channel;
    }
    return "?";
}

// Everything the queue holds, in order (bounded by what a full queue can hold).
std::vector<std::string> drain(event_queue& q, std::vector<delivery>* items = nullptr) {
    std::vector<std::string> out;
    delivery d;
    for (int i = 0; i < 10000 && pop_now(q, d); ++i) {
        out.push_back(describe(d));
        if (items) items->push_back(d);
    }
    return out;
}

std::string overflow_gap(std::string_view node, int dropped) {
    return "gap:queue_overflow:" + std::string(node) + ":" + std::to_string(dropped);
}
std::string note(std::string_view key, std::string_view node = node_a) {
    return std::string(key) + "@" + std::string(node);
}

using strings = std::vector<std::string>;

TEST(event_queue, capacity_zero_throws) {
    EXPECT_THROW(event_queue(0, overflow_policy::drop_oldest), std::invalid_argument);
    EXPECT_THROW(event_queue(0, overflow_policy::drop_newest), std::invalid_argument);
    EXPECT_THROW(event_queue(0, overflow_policy::disconnect), std::invalid_argument);
    const event_queue q(1, overflow_policy::drop_oldest);
    EXPECT_EQ(q.capacity(), 1u);
}

TEST(event_queue, fifo_with_every_field_of_a_notification) {
    event_queue q(4, overflow_policy::drop_oldest);
    EXPECT_EQ(
        push_message(q, "__keyspace@3__:user:1", "hset", "__keyspace@3__:user:*", node_b, at(7)),
        event_queue::push_result::queued);
    EXPECT_EQ(push(q, "k2"), event_queue::push_result::queued);
    EXPECT_EQ(q.size(), 2u);

    delivery d;
    ASSERT_TRUE(pop_now(q, d));
    ASSERT_TRUE(d.is_notification());
    const delivery copy(d);
    const auto& n = copy.notification();
    EXPECT_EQ(n.kind(), channel_kind::keyspace);
    EXPECT_EQ(n.db(), 3);
    EXPECT_EQ(n.key(), "user:1");
    EXPECT_EQ(n.event(), "hset");
    EXPECT_EQ(n.channel(), "__keyspace@3__:user:1");
    EXPECT_EQ(n.payload(), "hset");
    EXPECT_EQ(n.pattern(), "__keyspace@3__:user:*");
    EXPECT_EQ(n.node(), node_b);
    EXPECT_EQ(n.received(), at(7));
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(drain(q), strings{note("k2")});
    EXPECT_EQ(q.size(), 0u);
    EXPECT_FALSE(pop_now(q, d));
}

TEST(event_queue, size_high_water_and_dropped) {
    event_queue q(3, overflow_policy::drop_newest);
    EXPECT_EQ(q.size(), 0u);
    EXPECT_EQ(q.high_water(), 0u);
    EXPECT_EQ(q.dropped(), 0u);
    (void)push(q, "a");
    (void)push(q, "b");
    delivery d;
    ASSERT_TRUE(pop_now(q, d));
    ASSERT_TRUE(pop_now(q, d));
    (void)push(q, "c");
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.high_water(), 2u);  // the most ever held, not the current depth
    (void)push(q, "d");
    (void)push(q, "e");
    EXPECT_EQ(push_message(q, "__keyspace@0__:f", "set", {}, node_a, at(0)),
              event_queue::push_result::dropped);
    EXPECT_EQ(q.size(), 3u);
    EXPECT_EQ(q.high_water(), 3u);
    EXPECT_EQ(q.dropped(), 1u);
    // Gaps are not slots: they add nothing to size().
    q.push_gap(make_gap(gap_reason::connection_lost, node_a, 1, 2));
    EXPECT_EQ(q.size(), 3u);
    EXPECT_EQ(drain(q), (strings{note("c"), note("d"), note("e"), overflow_gap(node_a, 1),
                                 "gap:connection_lost:" + std::string(node_a) + ":0"}));
    EXPECT_EQ(q.high_water(), 3u);
    EXPECT_EQ(q.dropped(), 1u);
}

// --- drop_newest -----------------------------------------------------------------------

TEST(event_queue, drop_newest_drops_the_arriving_one_into_one_gap) {
    event_queue q(2, overflow_policy::drop_newest);
    EXPECT_EQ(push(q, "k1", 1), event_queue::push_result::queued);
    EXPECT_EQ(push(q, "k2", 2), event_queue::push_result::queued);
    EXPECT_EQ(push(q, "k3", 3), event_queue::push_result::dropped);
    EXPECT_EQ(push(q, "k4", 4), event_queue::push_result::dropped);
    EXPECT_EQ(push(q, "k5", 5), event_queue::push_result::dropped);
    EXPECT_EQ(q.dropped(), 3u);
    EXPECT_EQ(q.size(), 2u);

    std::vector<delivery> items;
    ASSERT_EQ(drain(q, &items), (strings{note("k1"), note("k2"), overflow_gap(node_a, 3)}));
    const gap_event& g = items[2].gap();
    EXPECT_EQ(g.node, node_a);
    EXPECT_EQ(g.reason, gap_reason::queue_overflow);
    EXPECT_EQ(g.dropped, 3u);
    EXPECT_EQ(g.lost, at(3));      // the first dropped notification's receive time
    EXPECT_EQ(g.restored, at(5));  // the last one's
    EXPECT_TRUE(g.slots.empty());
    EXPECT_NE(g.detail.find(node_a), std::string::npos) << g.detail;
    EXPECT_NE(g.detail.find("capacity 2"), std::string::npos) << g.detail;
}

TEST(event_queue, drop_newest_gap_sits_between_the_last_kept_and_the_next_queued) {
    event_queue q(2, overflow_policy::drop_newest);
    (void)push(q, "k1", 1);
    (void)push(q, "k2", 2);
    EXPECT_EQ(push(q, "k3", 3), event_queue::push_result::dropped);
    delivery d;
    ASSERT_TRUE(pop_now(q, d));
    EXPECT_EQ(describe(d), note("k1"));
    // Room again: k4 is queued behind the gap that k3's drop left.
    EXPECT_EQ(push(q, "k4", 4), event_queue::push_result::queued);
    EXPECT_EQ(drain(q), (strings{note("k2"), overflow_gap(node_a, 1), note("k4")}));
}

// --- drop_oldest -----------------------------------------------------------------------

TEST(event_queue, drop_oldest_evicts_the_oldest_and_the_gap_takes_its_place) {
    event_queue q(2, overflow_policy::drop_oldest);
    (void)push(q, "k1", 1);
    (void)push(q, "k2", 2);
    EXPECT_EQ(push(q, "k3", 3), event_queue::push_result::queued);  // evicts k1
    EXPECT_EQ(q.dropped(), 1u);
    EXPECT_EQ(q.size(), 2u);
    std::vector<delivery> items;
    ASSERT_EQ(drain(q, &items), (strings{overflow_gap(node_a, 1), note("k2"), note("k3")}));
    EXPECT_EQ(items[0].gap().lost, at(1));  // the evicted notification's receive time
    EXPECT_EQ(items[0].gap().restored, at(1));
}

TEST(event_queue, drop_oldest_consecutive_evictions_merge_into_one_gap) {
    event_queue q(2, overflow_policy::drop_oldest);
    for (int i = 1; i <= 6; ++i)
        (void)push(q, "k" + std::to_string(i), i);  // k1..k4 evicted
    EXPECT_EQ(q.dropped(), 4u);
    std::vector<delivery> items;
    ASSERT_EQ(drain(q, &items), (strings{overflow_gap(node_a, 4), note("k5"), note("k6")}));
    EXPECT_EQ(items[0].gap().lost, at(1));
    EXPECT_EQ(items[0].gap().restored, at(4));
}

TEST(event_queue, drop_oldest_carries_the_gaps_that_rode_on_the_evicted_slot) {
    event_queue q(2, overflow_policy::drop_oldest);
    (void)push(q, "k1", 1);
    q.push_gap(make_gap(gap_reason::connection_lost, node_a, 10, 20));  // between k1 and k2
    (void)push(q, "k2", 2);
    (void)push(q, "k3", 3);  // evicts k1: [drop k1] then the connection gap, before k2
    EXPECT_EQ(drain(q),
              (strings{overflow_gap(node_a, 1), "gap:connection_lost:" + std::string(node_a) + ":0",
                       note("k2"), note("k3")}));

    // Evicting the slot that carries gaps: they move on to the next slot, in order, and the
    // new drop does not merge across the connection gap.
    (void)push(q, "m1", 1);
    q.push_gap(make_gap(gap_reason::connection_lost, node_a, 10, 20));
    (void)push(q, "m2", 2);
    (void)push(q, "m3", 3);  // evicts m1
    (void)push(q, "m4", 4);  // evicts m2, which carries [drop m1, connection gap]
    EXPECT_EQ(q.dropped(), 3u);
    std::vector<delivery> items;
    ASSERT_EQ(drain(q, &items),
              (strings{overflow_gap(node_a, 1), "gap:connection_lost:" + std::string(node_a) + ":0",
                       overflow_gap(node_a, 1), note("m3"), note("m4")}));
    EXPECT_EQ(items[0].gap().lost, at(1));
    EXPECT_EQ(items[1].gap().lost, at(10));
    EXPECT_EQ(items[1].gap().restored, at(20));
    EXPECT_EQ(items[2].gap().lost, at(2));
}

TEST(event_queue, drop_oldest_with_capacity_one_keeps_the_tail_gaps_in_order) {
    event_queue q(1, overflow_policy::drop_oldest);
    (void)push(q, "k1", 1);
    q.push_gap(make_gap(gap_reason::server_restarted, node_a, 5, 6));  // after k1, in the tail
    (void)push(q, "k2", 2);                                            // evicts k1
    EXPECT_EQ(drain(q),
              (strings{overflow_gap(node_a, 1),
                       "gap:server_restarted:" + std::string(node_a) + ":0", note("k2")}));
}

TEST(event_queue, drop_oldest_evicts_a_confirmation_without_a_gap) {
    // Only notifications are counted: an evicted confirmation is informational.
    event_queue q(2, overflow_policy::drop_oldest);
    q.push_confirmation(make_confirmation("subscribe", "c", 1));
    (void)push(q, "k1", 1);
    (void)push(q, "k2", 2);  // evicts the confirmation
    EXPECT_EQ(q.dropped(), 0u);
    EXPECT_EQ(drain(q), (strings{note("k1"), note("k2")}));
}

// --- disconnect ------------------------------------------------------------------------

TEST(event_queue, disconnect_answers_full_and_queues_nothing) {
    event_queue q(2, overflow_policy::disconnect);
    int calls = 0;
    q.set_drained_callback([&] { ++calls; });
    EXPECT_EQ(push(q, "k1", 1), event_queue::push_result::queued);
    EXPECT_EQ(push(q, "k2", 2), event_queue::push_result::queued);
    EXPECT_EQ(push(q, "k3", 3), event_queue::push_result::full);
    EXPECT_EQ(push(q, "k4", 4), event_queue::push_result::full);
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(q.dropped(), 2u);
    EXPECT_EQ(q.losses_of(node_a).dropped, 2u);
    EXPECT_EQ(q.losses_of(node_a).gaps, 0u);  // the node's disconnect gap counts itself
    EXPECT_EQ(calls, 0);
    // No queue_overflow gap: the node reports the disconnect itself.
    EXPECT_EQ(drain(q), (strings{note("k1"), note("k2")}));
    EXPECT_EQ(calls, 1);
}

TEST(event_queue, disconnect_drained_callback_fires_once_at_half_on_the_consumer_thread) {
    event_queue q(4, overflow_policy::disconnect);
    std::atomic<int> calls{0};
    std::thread::id callback_thread;
    std::size_t size_in_callback = 99;
    q.set_drained_callback([&] {
        ++calls;
        callback_thread = std::this_thread::get_id();
        size_in_callback = q.size();  // takes the lock: would deadlock if called under it
    });
    for (int i = 1; i <= 4; ++i)
        ASSERT_EQ(push(q, "k" + std::to_string(i), i), event_queue::push_result::queued);
    ASSERT_EQ(push(q, "k5", 5), event_queue::push_result::full);
    EXPECT_EQ(calls, 0);

    // The consumer pops everything on its own thread and notes the calls after each pop.
    std::vector<int> calls_after_pop;
    std::thread::id consumer_id;
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::thread consumer([&] {
        consumer_id = std::this_thread::get_id();
        delivery d;
        for (int i = 0; i < 4; ++i) {
            std::optional<clock::time_point> deadline;
            if (!q.pop(d, 0ms, deadline)) break;
            calls_after_pop.push_back(calls);
        }
        std::lock_guard lock(m);
        done = true;
        cv.notify_all();
    });
    {
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, 30s, [&] { return done; })) {
            // The callback deadlocked on the queue's lock: there is no thread to join.
            std::fputs("event_queue: the drained callback deadlocked\n", stderr);
            std::abort();
        }
    }
    consumer.join();
    // 4 -> 3 (above half), 3 -> 2 (half: fires), then never again.
    EXPECT_EQ(calls_after_pop, (std::vector<int>{0, 1, 1, 1}));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(callback_thread, consumer_id);
    EXPECT_NE(callback_thread, std::this_thread::get_id());
    EXPECT_EQ(size_in_callback, 2u);
}

TEST(event_queue, disconnect_drained_callback_needs_a_full_answer_and_rearms) {
    event_queue q(2, overflow_policy::disconnect);
    int calls = 0;
    q.set_drained_callback([&] { ++calls; });
    delivery d;
    // Filling and draining without a `full` answer: no callback.
    (void)push(q, "a");
    (void)push(q, "b");
    ASSERT_TRUE(pop_now(q, d));
    ASSERT_TRUE(pop_now(q, d));
    EXPECT_EQ(calls, 0);

    for (int round = 1; round <= 2; ++round) {
        (void)push(q, "a");
        (void)push(q, "b");
        ASSERT_EQ(push(q, "c"), event_queue::push_result::full);
        ASSERT_TRUE(pop_now(q, d));  // 1 of 2 left: half
        EXPECT_EQ(calls, round);
        ASSERT_TRUE(pop_now(q, d));
        EXPECT_EQ(calls, round);
    }
}

TEST(event_queue, disconnect_accepts_again_once_there_is_room) {
    event_queue q(2, overflow_policy::disconnect);
    (void)push(q, "k1");
    (void)push(q, "k2");
    ASSERT_EQ(push(q, "k3"), event_queue::push_result::full);
    delivery d;
    ASSERT_TRUE(pop_now(q, d));
    EXPECT_EQ(push(q, "k4"), event_queue::push_result::queued);
    EXPECT_EQ(drain(q), (strings{note("k2"), note("k4")}));
}

// --- gaps in order ---------------------------------------------------------------------

TEST(event_queue, gap_between_two_notifications_comes_out_between_them) {
    event_queue q(8, overflow_policy::drop_oldest);
    (void)push(q, "k1");
    q.push_gap(make_gap(gap_reason::connection_lost, node_a, 1, 2));
    (void)push(q, "k2");
    EXPECT_EQ(drain(q), (strings{note("k1"), "gap:connection_lost:" + std::string(node_a) + ":0",
                                 note("k2")}));
}

TEST(event_queue, several_gaps_keep_their_order_and_fields) {
    event_queue q(8, overflow_policy::drop_oldest);
    q.push_gap(make_gap(gap_reason::connection_lost, node_a, 1, 2));  // before everything
    (void)push(q, "k1");
    q.push_gap(make_gap(gap_reason::health_check_timeout, node_b, 3, 4));
    q.push_gap(make_gap(gap_reason::server_restarted, node_a, 5, 6));
    (void)push(q, "k2", 0, node_b);
    gap_event closed = make_gap(gap_reason::node_closed, node_b, 7, 0);
    closed.restored.reset();
    closed.slots = {{0, 5460}, {10923, 16383}};
    q.push_gap(closed);  // after the last item: in the tail
    q.push_gap(make_gap(gap_reason::topology_change, node_a, 8, 9));
    EXPECT_EQ(q.size(), 2u);

    std::vector<delivery> items;
    ASSERT_EQ(drain(q, &items), (strings{
                                    "gap:connection_lost:" + std::string(node_a) + ":0",
                                    note("k1"),
                                    "gap:health_check_timeout:" + std::string(node_b) + ":0",
                                    "gap:server_restarted:" + std::string(node_a) + ":0",
                                    note("k2", node_b),
                                    "gap:node_closed:" + std::string(node_b) + ":0",
                                    "gap:topology_change:" + std::string(node_a) + ":0",
                                }));
    EXPECT_EQ(items[2].gap().lost, at(3));
    EXPECT_EQ(items[2].gap().restored, at(4));
    EXPECT_EQ(items[2].gap().detail, "test gap");
    EXPECT_FALSE(items[5].gap().restored.has_value());
    EXPECT_EQ(items[5].gap().slots,
              (std::vector<std::pair<std::uint16_t, std::uint16_t>>{{0, 5460}, {10923, 16383}}));
}

TEST(event_queue, a_gap_alone_is_available_to_pop) {
    event_queue q(2, overflow_policy::drop_oldest);
    q.push_gap(make_gap(gap_reason::protocol_error, node_a, 1, 2));
    delivery d;
    ASSERT_TRUE(pop_now(q, d));
    EXPECT_TRUE(d.is_gap());
    EXPECT_EQ(d.gap().reason, gap_reason::protocol_error);
    EXPECT_FALSE(pop_now(q, d));
}

TEST(event_queue, drops_of_one_node_merge_and_of_different_nodes_do_not) {
    event_queue q(1, overflow_policy::drop_newest);
    (void)push(q, "k0", 0, node_a);
    (void)push(q, "a1", 1, node_a);
    (void)push(q, "a2", 2, node_a);
    (void)push(q, "b1", 3, node_b);
    (void)push(q, "b2", 4, node_b);
    (void)push(q, "b3", 5, node_b);
    (void)push(q, "a3", 6, node_a);
    EXPECT_EQ(q.dropped(), 6u);
    std::vector<delivery> items;
    ASSERT_EQ(drain(q, &items), (strings{note("k0"), overflow_gap(node_a, 2),
                                         overflow_gap(node_b, 3), overflow_gap(node_a, 1)}));
    EXPECT_EQ(items[1].gap().lost, at(1));
    EXPECT_EQ(items[1].gap().restored, at(2));
    EXPECT_EQ(items[2].gap().lost, at(3));
    EXPECT_EQ(items[2].gap().restored, at(5));
    EXPECT_EQ(items[3].gap().lost, at(6));
    EXPECT_EQ(items[3].gap().restored, at(6));
    // Counted for their nodes, as node_stats shows them: drops, and the gaps they made.
    EXPECT_EQ(q.losses_of(node_a).dropped, 3u);
    EXPECT_EQ(q.losses_of(node_a).gaps, 2u);
    EXPECT_EQ(q.losses_of(node_b).dropped, 3u);
    EXPECT_EQ(q.losses_of(node_b).gaps, 1u);
    EXPECT_EQ(q.losses_of("10.0.0.3:6379").dropped, 0u);
}

TEST(event_queue, drops_do_not_merge_across_another_gap) {
    event_queue q(1, overflow_policy::drop_newest);
    (void)push(q, "k0", 0);
    (void)push(q, "a1", 1);
    q.push_gap(make_gap(gap_reason::connection_lost, node_a, 2, 3));
    (void)push(q, "a2", 4);
    EXPECT_EQ(drain(q), (strings{note("k0"), overflow_gap(node_a, 1),
                                 "gap:connection_lost:" + std::string(node_a) + ":0",
                                 overflow_gap(node_a, 1)}));
}

// --- confirmations and invalid notifications -------------------------------------------

TEST(event_queue, confirmations_and_invalid_notifications_are_queued_in_order) {
    event_queue q(8, overflow_policy::drop_oldest);
    (void)push(q, "k1");
    q.push_confirmation(make_confirmation("psubscribe", "__keyspace@0__:*", 2));
    q.push_invalid(make_invalid("__keyspace@x__:k"));
    (void)push(q, "k2");
    EXPECT_EQ(q.size(), 4u);
    std::vector<delivery> items;
    ASSERT_EQ(drain(q, &items), (strings{note("k1"), "conf:psubscribe __keyspace@0__:* 2",
                                         "invalid:__keyspace@x__:k", note("k2")}));
    EXPECT_EQ(items[1].confirmation().node, node_a);
    EXPECT_EQ(items[2].invalid().node, node_a);
    EXPECT_EQ(items[2].invalid().payload, "x");
    EXPECT_EQ(items[2].invalid().offset, 3u);
}

TEST(event_queue, confirmations_and_invalid_never_evict_and_are_dropped_when_full) {
    for (const auto policy : {overflow_policy::drop_oldest, overflow_policy::drop_newest,
                              overflow_policy::disconnect}) {
        SCOPED_TRACE(std::string(to_string(policy)));
        event_queue q(2, policy);
        int calls = 0;
        q.set_drained_callback([&] { ++calls; });
        (void)push(q, "k1");
        (void)push(q, "k2");
        q.push_confirmation(make_confirmation("subscribe", "c", 1));
        q.push_invalid(make_invalid("__keyspace@x__:k"));
        EXPECT_EQ(q.size(), 2u);
        EXPECT_EQ(q.dropped(), 0u);  // only notifications are counted
        // Nothing was lost that a consumer must know about: no gap, no drained callback.
        EXPECT_EQ(drain(q), (strings{note("k1"), note("k2")}));
        EXPECT_EQ(calls, 0);
    }
}

// --- pop(): deadlines, close(), reuse --------------------------------------------------

TEST(event_queue, pop_on_an_empty_queue_times_out) {
    event_queue q(2, overflow_policy::drop_oldest);
    delivery d;
    std::optional<clock::time_point> deadline;
    const auto before = clock::now();
    EXPECT_FALSE(q.pop(d, 20ms, deadline));
    const auto after = clock::now();
    // pop() set the deadline from the timeout when it first had to wait, and waited for it.
    ASSERT_TRUE(deadline.has_value());
    EXPECT_GE(*deadline, before + 20ms);
    EXPECT_LE(*deadline, after + 20ms);
    EXPECT_GE(after, *deadline);
}

TEST(event_queue, a_zero_timeout_on_an_empty_queue_neither_waits_nor_reads_the_clock) {
    event_queue q(4, overflow_policy::drop_oldest);
    delivery d;
    std::optional<clock::time_point> deadline;
    EXPECT_FALSE(q.pop(d, 0ms, deadline));
    EXPECT_FALSE(deadline.has_value());  // a wait would have set it
    (void)push(q, "k1");
    EXPECT_TRUE(q.pop(d, 0ms, deadline));
}

TEST(event_queue, pop_uses_a_given_deadline_instead_of_the_timeout) {
    event_queue q(2, overflow_policy::drop_oldest);
    delivery d;
    const auto past = clock::now() - 1s;
    std::optional<clock::time_point> deadline = past;
    const auto before = clock::now();
    EXPECT_FALSE(q.pop(d, 60s, deadline));
    EXPECT_LT(clock::now() - before, 30s);  // not the 60 s timeout
    EXPECT_EQ(deadline, past);              // left as given
}

TEST(event_queue, pop_of_a_waiting_item_leaves_the_deadline_unset) {
    event_queue q(2, overflow_policy::drop_oldest);
    (void)push(q, "k1");
    delivery d;
    std::optional<clock::time_point> deadline;
    ASSERT_TRUE(q.pop(d, 60s, deadline));
    EXPECT_FALSE(deadline.has_value());  // the clock was not read
    EXPECT_EQ(describe(d), note("k1"));
}

TEST(event_queue, close_returns_what_remains_then_false) {
    event_queue q(4, overflow_policy::drop_newest);
    (void)push(q, "k1");
    (void)push(q, "k2");
    q.push_gap(make_gap(gap_reason::node_closed, node_a, 1, 2));
    q.close();
    delivery d;
    std::optional<clock::time_point> deadline;
    const auto before = clock::now();
    ASSERT_TRUE(q.pop(d, 60s, deadline));
    EXPECT_EQ(describe(d), note("k1"));
    ASSERT_TRUE(q.pop(d, 60s, deadline));
    EXPECT_EQ(describe(d), note("k2"));
    ASSERT_TRUE(q.pop(d, 60s, deadline));
    EXPECT_TRUE(d.is_gap());
    EXPECT_FALSE(q.pop(d, 60s, deadline));  // closed and empty: at once, not in 60 s
    EXPECT_FALSE(q.pop(d, 60s, deadline));
    EXPECT_LT(clock::now() - before, 30s);
}

TEST(event_queue, a_reused_delivery_and_reused_slots_keep_the_contents_right) {
    // Buffers are swapped between the delivery and the slots, so every slot's strings have
    // held other items' bytes before; long and short keys alternate so a stale tail shows.
    // One item stays queued between pops, so the ring wraps; every 50 the queue empties,
    // so the head also restarts at the front.
    const auto key_of = [](int i) {
        return i % 2 == 0 ? "long-key-" + std::string(40, 'x') + std::to_string(i)
                          : "k" + std::to_string(i);
    };
    const auto node_of = [](int i) { return i % 3 == 0 ? node_b : node_a; };
    const auto pattern_of = [](int i) { return i % 2 == 0 ? "__keyspace@0__:*"sv : ""sv; };
    const auto push_item = [&](event_queue& q, int i) {
        return push(q, key_of(i), i, node_of(i), nullptr, pattern_of(i));
    };
    const auto check = [&](const delivery& d, int i) {
        const delivery copy(d);
        ASSERT_TRUE(copy.is_notification());
        EXPECT_EQ(copy.notification().key(), key_of(i));
        EXPECT_EQ(copy.notification().channel(), "__keyspace@0__:" + key_of(i));
        EXPECT_EQ(copy.notification().event(), "set");
        EXPECT_EQ(copy.notification().node(), node_of(i));
        EXPECT_EQ(copy.notification().pattern(), pattern_of(i));
        EXPECT_EQ(copy.notification().received(), at(i));
    };

    event_queue q(3, overflow_policy::drop_oldest);
    delivery d;
    ASSERT_EQ(push_item(q, 0), event_queue::push_result::queued);
    for (int i = 1; i <= 200; ++i) {
        ASSERT_EQ(push_item(q, i), event_queue::push_result::queued);
        ASSERT_TRUE(pop_now(q, d));
        check(d, i - 1);
        if (i % 50 == 0) {
            ASSERT_TRUE(pop_now(q, d));
            check(d, i);
            ASSERT_EQ(q.size(), 0u);
            ASSERT_EQ(push_item(q, ++i), event_queue::push_result::queued);
        }
    }
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.high_water(), 2u);
    EXPECT_EQ(q.dropped(), 0u);
}

TEST(event_queue, the_handler_travels_with_its_notification_held_once) {
    // The handler is reachable only by the notifier, but its reference count shows where
    // the queue keeps it: one reference for every slot and puller that uses it.
    auto handler =
        std::make_shared<const notification_handler>([](const received_notification&) {});
    auto other = std::make_shared<const notification_handler>([](const received_notification&) {});
    event_queue q(3, overflow_policy::drop_oldest);
    (void)push(q, "k1", 0, node_a, handler);
    EXPECT_EQ(handler.use_count(), 2);  // the queue holds one reference
    (void)push(q, "k2", 1, node_a, handler);
    EXPECT_EQ(handler.use_count(), 2);  // and no more for a second slot
    (void)push(q, "k3", 2, node_a, other);
    EXPECT_EQ(other.use_count(), 2);
    (void)push(q, "k4", 3, node_a, nullptr);  // evicts k1; k2 still holds the handler
    EXPECT_EQ(handler.use_count(), 2);
    delivery d;
    ASSERT_TRUE(pop_now(q, d));  // k2: lent to the puller
    EXPECT_EQ(describe(d), "gap:queue_overflow:" + std::string(node_a) + ":1");
    ASSERT_TRUE(pop_now(q, d));
    EXPECT_EQ(describe(d), "k2@" + std::string(node_a));
    EXPECT_EQ(event_queue::handler_of(d), handler.get());
    EXPECT_EQ(handler.use_count(), 2);
    ASSERT_TRUE(pop_now(q, d));  // k3: the puller let go of k2's handler
    EXPECT_EQ(handler.use_count(), 1);
    EXPECT_EQ(event_queue::handler_of(d), other.get());
    q.release(d);
    EXPECT_EQ(event_queue::handler_of(d), nullptr);
    EXPECT_EQ(other.use_count(), 1);
    ASSERT_TRUE(pop_now(q, d));  // k4 has no handler
    EXPECT_EQ(event_queue::handler_of(d), nullptr);
    // A handler pinned again after its last use is held again.
    (void)push(q, "k5", 4, node_a, handler);
    EXPECT_EQ(handler.use_count(), 2);
    ASSERT_TRUE(pop_now(q, d));
    EXPECT_FALSE(pop_now(q, d));  // an empty pop lets go too
    EXPECT_EQ(handler.use_count(), 1);
}

TEST(event_queue, slots_are_allocated_as_depth_requires) {
    event_queue q(65536, overflow_policy::drop_oldest);
    EXPECT_EQ(q.capacity(), 65536u);
    EXPECT_EQ(q.slots_allocated(), 0u);
    delivery d;
    // A consumer that keeps up uses one slot's worth of depth.
    for (int i = 0; i < 1000; ++i) {
        (void)push(q, "k" + std::to_string(i), i);
        ASSERT_TRUE(pop_now(q, d));
    }
    EXPECT_EQ(q.slots_allocated(), 16u);
    // Growing while the ring has wrapped keeps the order: 10 queued, 5 taken, 40 more.
    for (int i = 0; i < 10; ++i)
        (void)push(q, "a" + std::to_string(i), i);
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(pop_now(q, d));
        EXPECT_EQ(describe(d), "a" + std::to_string(i) + "@" + std::string(node_a));
    }
    for (int i = 0; i < 40; ++i)
        (void)push(q, "b" + std::to_string(i), i);
    EXPECT_EQ(q.slots_allocated(), 64u);
    strings expected;
    for (int i = 5; i < 10; ++i)
        expected.push_back("a" + std::to_string(i) + "@" + std::string(node_a));
    for (int i = 0; i < 40; ++i)
        expected.push_back("b" + std::to_string(i) + "@" + std::string(node_a));
    EXPECT_EQ(drain(q), expected);
}

TEST(event_queue, growth_stops_at_the_capacity_and_overflows_there) {
    event_queue q(20, overflow_policy::drop_newest);
    for (int i = 0; i < 25; ++i)
        (void)push(q, "k" + std::to_string(i), i);
    EXPECT_EQ(q.slots_allocated(), 20u);
    EXPECT_EQ(q.size(), 20u);
    EXPECT_EQ(q.dropped(), 5u);
}

TEST(event_queue, the_parse_result_travels_with_many_subkeys_and_the_pattern) {
    std::string payload = "hset|";
    strings fields;
    for (int i = 0; i < 12; ++i) {
        fields.push_back("field-" + std::to_string(i));
        payload += (i > 0 ? "," : "") + std::to_string(fields.back().size()) + ":" + fields.back();
    }
    event_queue q(4, overflow_policy::drop_oldest);
    ASSERT_EQ(
        push_message(q, "__subkeyspace@2__:h1", payload, "__subkeyspace@2__:*", node_b, at(5)),
        event_queue::push_result::queued);
    delivery d;
    ASSERT_TRUE(pop_now(q, d));
    const delivery copy(d);
    const auto& n = copy.notification();
    EXPECT_EQ(n.kind(), channel_kind::subkeyspace);
    EXPECT_EQ(n.db(), 2);
    EXPECT_EQ(n.key(), "h1");
    EXPECT_EQ(n.event(), "hset");
    EXPECT_EQ(n.pattern(), "__subkeyspace@2__:*");
    EXPECT_EQ(n.node(), node_b);
    EXPECT_EQ(n.payload(), payload);
    ASSERT_EQ(n.subkeys().size(), fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i)
        EXPECT_EQ(n.subkeys()[i], fields[i]);
}

// --- wake batching ---------------------------------------------------------------------

#ifdef __linux__

// The scheduler state of a thread of this process ('R', 'S', ...), '?' if unreadable.
char thread_state(long tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return '?';
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) return '?';
    return line[close + 2];
}

// A thread that calls pop() once, with a 60 s timeout, and records that it returned.
class consumer_thread {
  public:
    explicit consumer_thread(event_queue& q) : q_(q) {
        thread_ = std::thread([this] {
            // An atomic store, so that nothing between it and pop() can block.
            tid_.store(static_cast<long>(::syscall(SYS_gettid)));
            std::optional<clock::time_point> deadline;
            const bool got = q_.pop(d_, 60s, deadline);
            std::lock_guard lock(m_);
            returned_ = true;
            got_ = got;
            cv_.notify_all();
        });
    }
    ~consumer_thread() {
        q_.close();  // releases a consumer a failed test left waiting
        thread_.join();
    }
    consumer_thread(const consumer_thread&) = delete;
    consumer_thread& operator=(const consumer_thread&) = delete;

    // True once the thread sleeps: past its last step before pop(), nothing but pop()'s
    // condition variable can put it to sleep (the queue's mutex is not contended: the test
    // thread does not touch the queue meanwhile, and any other consumer is already asleep
    // in pop(), so start consumers one at a time). Polling /proc, bounded.
    bool wait_until_blocked_in_pop() {
        const auto until = clock::now() + 30s;
        long tid = 0;
        while (clock::now() < until) {
            tid = tid_.load();
            if (tid != 0) break;
            std::this_thread::yield();
        }
        if (tid == 0) return false;
        while (clock::now() < until) {
            if (returned()) return false;
            if (thread_state(tid) == 'S') return true;
            std::this_thread::yield();
        }
        return false;
    }
    bool returned() {
        std::lock_guard lock(m_);
        return returned_;
    }
    bool wait_returned(std::chrono::milliseconds within) {
        std::unique_lock lock(m_);
        return cv_.wait_for(lock, within, [&] { return returned_; });
    }
    // After wait_returned() answered true.
    bool got() {
        std::lock_guard lock(m_);
        return got_;
    }
    const delivery& item() const { return d_; }

  private:
    event_queue& q_;
    std::mutex m_;
    std::condition_variable cv_;
    std::atomic<long> tid_{0};
    bool returned_ = false;
    bool got_ = false;
    delivery d_;
    std::thread thread_;
};

bool proc_readable() {
    return thread_state(static_cast<long>(::syscall(SYS_gettid))) != '?';
}

TEST(event_queue_wakes, a_push_wakes_a_waiting_consumer) {
    if (!proc_readable()) GTEST_SKIP() << "/proc/self/task is not readable";
    event_queue q(8, overflow_policy::drop_oldest);
    consumer_thread c(q);
    ASSERT_TRUE(c.wait_until_blocked_in_pop());
    (void)push(q, "k1");
    ASSERT_TRUE(c.wait_returned(20s));  // well before its 60 s deadline
    EXPECT_TRUE(c.got());
    EXPECT_EQ(describe(c.item()), note("k1"));
}

TEST(event_queue_wakes, held_pushes_do_not_wake_until_release_wakes) {
    if (!proc_readable()) GTEST_SKIP() << "/proc/self/task is not readable";
    event_queue q(8, overflow_policy::drop_oldest);
    consumer_thread c(q);
    ASSERT_TRUE(c.wait_until_blocked_in_pop());
    q.hold_wakes();
    (void)push(q, "k1");
    (void)push(q, "k2");
    q.push_gap(make_gap(gap_reason::connection_lost, node_a, 1, 2));
    q.push_confirmation(make_confirmation("subscribe", "c", 1));
    // The consumer is asleep in pop() and nobody notified it: it stays there. (A woken
    // consumer would return within microseconds; 100 ms is ample and short.)
    EXPECT_FALSE(c.wait_returned(100ms));
    q.release_wakes();
    ASSERT_TRUE(c.wait_returned(20s));  // woken by release_wakes(), not by its 60 s deadline
    EXPECT_TRUE(c.got());
    EXPECT_EQ(describe(c.item()), note("k1"));
    EXPECT_EQ(drain(q), (strings{note("k2"), "gap:connection_lost:" + std::string(node_a) + ":0",
                                 "conf:subscribe c 1"}));
}

TEST(event_queue_wakes, release_wakes_every_waiting_consumer_for_several_pushes) {
    if (!proc_readable()) GTEST_SKIP() << "/proc/self/task is not readable";
    event_queue q(8, overflow_policy::drop_oldest);
    consumer_thread c1(q);
    ASSERT_TRUE(c1.wait_until_blocked_in_pop());
    consumer_thread c2(q);
    ASSERT_TRUE(c2.wait_until_blocked_in_pop());
    q.hold_wakes();
    (void)push(q, "k1");
    (void)push(q, "k2");
    EXPECT_FALSE(c1.wait_returned(100ms));
    EXPECT_FALSE(c2.returned());
    q.release_wakes();
    ASSERT_TRUE(c1.wait_returned(20s));
    ASSERT_TRUE(c2.wait_returned(20s));
    EXPECT_TRUE(c1.got());
    EXPECT_TRUE(c2.got());
    EXPECT_EQ(q.size(), 0u);
}

TEST(event_queue_wakes, release_without_held_pushes_wakes_nobody_and_pushes_wake_again) {
    if (!proc_readable()) GTEST_SKIP() << "/proc/self/task is not readable";
    event_queue q(8, overflow_policy::drop_oldest);
    consumer_thread c(q);
    ASSERT_TRUE(c.wait_until_blocked_in_pop());
    q.hold_wakes();
    q.release_wakes();
    EXPECT_FALSE(c.wait_returned(100ms));  // nothing to take
    // Released: pushes wake per push again.
    (void)push(q, "k1");
    ASSERT_TRUE(c.wait_returned(20s));
    EXPECT_EQ(describe(c.item()), note("k1"));
}

TEST(event_queue_wakes, close_wakes_a_waiting_consumer) {
    if (!proc_readable()) GTEST_SKIP() << "/proc/self/task is not readable";
    event_queue q(8, overflow_policy::drop_oldest);
    consumer_thread c(q);
    ASSERT_TRUE(c.wait_until_blocked_in_pop());
    q.close();
    ASSERT_TRUE(c.wait_returned(20s));
    EXPECT_FALSE(c.got());
}

#endif  // __linux__

}  // namespace
}  // namespace ksn
