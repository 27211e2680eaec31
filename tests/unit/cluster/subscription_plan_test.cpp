// A cluster notifier's decisions about a new topology, without I/O: which nodes to open
// and close, their slots, and the gaps of the nodes that took over slots.
#include "cluster/subscription_plan.hpp"

#include <gtest/gtest.h>

namespace ksn::cluster {
namespace {

using namespace std::chrono_literals;
using slots = std::vector<std::pair<std::uint16_t, std::uint16_t>>;

const clock::time_point t0 = clock::time_point{} + 100s;

node_info n(std::uint16_t port) {
    return {"", {"127.0.0.1", port}};
}
std::string name(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

// 3 shards: 7000 [0,5460] (replica 7003), 7001 [5461,10922] (7004), 7002 [10923,16383] (7005).
topology three() {
    return topology({shard{{{0, 5460}}, n(7000), {n(7003)}},
                     shard{{{5461, 10922}}, n(7001), {n(7004)}},
                     shard{{{10923, 16383}}, n(7002), {n(7005)}}});
}

std::map<std::string, std::optional<clock::time_point>> subscribed(
    std::initializer_list<std::uint16_t> ports) {
    std::map<std::string, std::optional<clock::time_point>> out;
    for (auto p : ports)
        out[name(p)] = std::nullopt;
    return out;
}

TEST(SubscriptionPlan, FirstTopologyOpensEveryPrimaryWithItsSlotsAndNoGap) {
    const auto p = plan_subscriptions(three(), nullptr, t0, {}, false);
    EXPECT_EQ(p.open, (std::vector<std::string>{name(7000), name(7001), name(7002)}));
    EXPECT_TRUE(p.close.empty());
    EXPECT_TRUE(p.gaps.empty());
    ASSERT_EQ(p.wanted.size(), 3u);
    EXPECT_EQ(p.wanted.at(name(7001)).slots, (slots{{5461, 10922}}));
    EXPECT_EQ(p.wanted.at(name(7001)).address.port, 7001);
}

TEST(SubscriptionPlan, ReplicasAreWantedOnlyWhenAsked) {
    const auto p = plan_subscriptions(three(), nullptr, t0, {}, true);
    EXPECT_EQ(p.wanted.size(), 6u);
    EXPECT_TRUE(p.wanted.at(name(7003)).slots.empty());
}

TEST(SubscriptionPlan, UnchangedTopologyDoesNothing) {
    const auto before = three();
    const auto p = plan_subscriptions(three(), &before, t0, subscribed({7000, 7001, 7002}), false);
    EXPECT_TRUE(p.open.empty());
    EXPECT_TRUE(p.close.empty());
    EXPECT_TRUE(p.gaps.empty());
}

TEST(SubscriptionPlan, FailoverClosesTheOldPrimaryAndTheNewOneReportsItsSlots) {
    const auto before = three();
    // 7004 took over 7001's slots; 7001 is its replica now (a manual CLUSTER FAILOVER).
    const topology after({shard{{{0, 5460}}, n(7000), {n(7003)}},
                          shard{{{5461, 10922}}, n(7004), {n(7001)}},
                          shard{{{10923, 16383}}, n(7002), {n(7005)}}});
    const auto previous = t0 - 1s;
    const auto p =
        plan_subscriptions(after, &before, previous, subscribed({7000, 7001, 7002}), false);
    EXPECT_EQ(p.close, (std::vector<std::string>{name(7001)}));
    EXPECT_EQ(p.open, (std::vector<std::string>{name(7004)}));
    ASSERT_EQ(p.gaps.size(), 1u);
    EXPECT_EQ(p.gaps[0].first, name(7004));
    const gap_event& g = p.gaps[0].second;
    EXPECT_EQ(g.reason, gap_reason::topology_change);
    EXPECT_EQ(g.node, name(7004));
    EXPECT_EQ(g.slots, (slots{{5461, 10922}}));
    // The old primary was fine: lost from the last topology in which it owned them.
    EXPECT_EQ(g.lost, previous);
    EXPECT_NE(g.detail.find("took over slots 5461-10922 from " + name(7001)), std::string::npos)
        << g.detail;
    // Where the slots came from, for a handover without loss (cluster/handover.hpp).
    EXPECT_EQ(p.took_from.at(name(7004)), (std::set<std::string>{name(7001)}));
    EXPECT_EQ(p.took_from.size(), 1u);
}

TEST(SubscriptionPlan, AGapStartsWhenTheOldOwnersConnectionBrokeIfThatWasEarlier) {
    const auto before = three();
    const topology after({shard{{{0, 5460}}, n(7003), {}},
                          shard{{{5461, 10922}}, n(7001), {n(7004)}},
                          shard{{{10923, 16383}}, n(7002), {n(7005)}}});
    auto subs = subscribed({7000, 7001, 7002});
    const auto broke = t0 - 5s;
    subs[name(7000)] = broke;  // killed: its connection broke before the failover
    const auto p = plan_subscriptions(after, &before, t0 - 1s, subs, false);
    ASSERT_EQ(p.gaps.size(), 1u);
    EXPECT_EQ(p.gaps[0].second.lost, broke);
    // A later interruption of the old owner does not move the start later.
    subs[name(7000)] = t0;
    const auto q = plan_subscriptions(after, &before, t0 - 1s, subs, false);
    EXPECT_EQ(q.gaps[0].second.lost, t0 - 1s);
}

TEST(SubscriptionPlan, SlotsMovedToAnAlreadySubscribedNodeNeedNoGap) {
    // Resharding 100 slots from 7000 to 7001: 7001 was subscribed throughout.
    const auto before = three();
    const topology after({shard{{{100, 5460}}, n(7000), {n(7003)}},
                          shard{{{0, 99}, {5461, 10922}}, n(7001), {n(7004)}},
                          shard{{{10923, 16383}}, n(7002), {n(7005)}}});
    const auto p = plan_subscriptions(after, &before, t0, subscribed({7000, 7001, 7002}), false);
    EXPECT_TRUE(p.gaps.empty());
    EXPECT_TRUE(p.open.empty());
    EXPECT_EQ(p.wanted.at(name(7001)).slots, (slots{{0, 99}, {5461, 10922}}));
}

TEST(SubscriptionPlan, ScaleOutAndInOpensAndClosesWithTheMovedSlotsInTheGap) {
    const auto before = three();
    const topology out({shard{{{0, 5460}}, n(7000), {}}, shard{{{5461, 10922}}, n(7001), {}},
                        shard{{{10923, 15000}}, n(7002), {}},
                        shard{{{15001, 16383}}, n(7006), {}}});
    const auto p = plan_subscriptions(out, &before, t0, subscribed({7000, 7001, 7002}), false);
    EXPECT_EQ(p.open, (std::vector<std::string>{name(7006)}));
    ASSERT_EQ(p.gaps.size(), 1u);
    EXPECT_EQ(p.gaps[0].second.slots, (slots{{15001, 16383}}));
    // The node emptied and removed: closed, no gap (nobody new took anything).
    const topology in({shard{{{0, 5460}}, n(7000), {}}, shard{{{5461, 10922}}, n(7001), {}},
                       shard{{{10923, 16383}}, n(7002), {}}});
    const auto q = plan_subscriptions(in, &out, t0, subscribed({7000, 7001, 7002, 7006}), false);
    EXPECT_EQ(q.close, (std::vector<std::string>{name(7006)}));
    EXPECT_TRUE(q.gaps.empty());
}

TEST(SubscriptionPlan, ASpareIsOpenedBeforeItTakesSlotsAndKeptUntilItLeaves) {
    // 7006 joined and serves no slot: opened, no gap.
    const auto before = three();
    const topology joined({shard{{{0, 5460}}, n(7000), {}}, shard{{{5461, 10922}}, n(7001), {}},
                           shard{{{10923, 16383}}, n(7002), {}}},
                          {n(7006)});
    const auto p = plan_subscriptions(joined, &before, t0, subscribed({7000, 7001, 7002}), false);
    EXPECT_EQ(p.open, (std::vector<std::string>{name(7006)}));
    EXPECT_TRUE(p.wanted.at(name(7006)).spare);
    EXPECT_TRUE(p.wanted.at(name(7006)).slots.empty());
    EXPECT_FALSE(p.wanted.at(name(7000)).spare);
    EXPECT_TRUE(p.gaps.empty());
    // It takes slots 15001-16383: subscribed already, so no gap (make before break).
    const topology out({shard{{{0, 5460}}, n(7000), {}}, shard{{{5461, 10922}}, n(7001), {}},
                        shard{{{10923, 15000}}, n(7002), {}},
                        shard{{{15001, 16383}}, n(7006), {}}});
    const auto all = subscribed({7000, 7001, 7002, 7006});
    const auto q = plan_subscriptions(out, &joined, t0, all, false);
    EXPECT_TRUE(q.open.empty());
    EXPECT_TRUE(q.gaps.empty());
    EXPECT_FALSE(q.wanted.at(name(7006)).spare);
    EXPECT_EQ(q.wanted.at(name(7006)).slots, (slots{{15001, 16383}}));
    // Emptied again, it stays a spare: kept, with no slot, and no gap for 7002.
    const auto r = plan_subscriptions(joined, &out, t0, all, false);
    EXPECT_TRUE(r.close.empty());
    EXPECT_TRUE(r.gaps.empty());
    EXPECT_TRUE(r.wanted.at(name(7006)).slots.empty());
    // Removed from the cluster: closed.
    const auto s = plan_subscriptions(three(), &joined, t0, all, false);
    EXPECT_EQ(s.close, (std::vector<std::string>{name(7006)}));
}

TEST(SubscriptionPlan, ANodeThatServedBeforeIsNotOpenedAsASpare) {
    // 7003 was 7000's replica, promoted; 7000, failed over while stalled, runs again and
    // is a primary without slots for a moment before it turns replica.
    const auto before = three();
    const topology promoted(
        {shard{{{0, 5460}}, n(7003), {}}, shard{{{5461, 10922}}, n(7001), {n(7004)}},
         shard{{{10923, 16383}}, n(7002), {n(7005)}}},
        {n(7000)});
    std::set<std::string> served;
    add_served(before, served);
    EXPECT_TRUE(served.count(name(7000)));  // no id: the address
    EXPECT_TRUE(served.count(name(7005)));
    // Not subscribed any more (retired): not opened.
    const auto p =
        plan_subscriptions(promoted, &before, t0, subscribed({7001, 7002}), false, &served);
    EXPECT_FALSE(p.wanted.count(name(7000)));
    EXPECT_EQ(p.open, (std::vector<std::string>{name(7003)}));
    // Still subscribed (retiring): kept, not closed.
    const auto q =
        plan_subscriptions(promoted, &before, t0, subscribed({7000, 7001, 7002}), false, &served);
    EXPECT_TRUE(q.wanted.at(name(7000)).spare);
    EXPECT_TRUE(q.close.empty());
    // Without the record it would be opened, like a node just added.
    const auto r = plan_subscriptions(promoted, &before, t0, subscribed({7001, 7002}), false);
    EXPECT_TRUE(r.wanted.count(name(7000)));
    // Ids, when the server gives them, are the key.
    EXPECT_EQ(node_key({"e7d1", {"127.0.0.1", 7000}}), "e7d1");
}

TEST(SubscriptionPlan, ANewNodeThatTookNothingReportsNoGap) {
    const auto before = three();
    // With replicas subscribed, a new replica appears: nothing moved.
    const topology after({shard{{{0, 5460}}, n(7000), {n(7003), n(7010)}},
                          shard{{{5461, 10922}}, n(7001), {n(7004)}},
                          shard{{{10923, 16383}}, n(7002), {n(7005)}}});
    const auto p = plan_subscriptions(after, &before, t0,
                                      subscribed({7000, 7001, 7002, 7003, 7004, 7005}), true);
    EXPECT_EQ(p.open, (std::vector<std::string>{name(7010)}));
    EXPECT_TRUE(p.gaps.empty());
}

}  // namespace
}  // namespace ksn::cluster
