// The topology tracker's decisions, driven event by event without a socket: the test
// owns the clock, plays the command connection (ready, failed, the CLUSTER SHARDS or
// CLUSTER SLOTS reply)
// and reads back the actions the refresher asks of its driver.
#include "cluster/topology_refresher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace ksn::cluster {
namespace {

using namespace std::chrono_literals;
using protocol::resp_type;
using protocol::value;
using R = topology_refresher;

const clock::time_point t0 = clock::time_point{} + 1000s;

net::endpoint ep(std::uint16_t port) {
    return {"127.0.0.1", port};
}
std::string name(std::uint16_t port) {
    return ep(port).to_string();
}

value bulk(std::string s) {
    value v;
    v.type = resp_type::bulk_string;
    v.data = std::move(s);
    return v;
}
value integer(std::int64_t i) {
    value v;
    v.type = resp_type::integer;
    v.integer = i;
    return v;
}
value array(std::vector<value> elements) {
    value v;
    v.type = resp_type::array;
    v.elements = std::move(elements);
    return v;
}
// [host, port, id] as Redis 7 writes it (without the metadata map).
value node(std::uint16_t port) {
    return array(
        {bulk("127.0.0.1"), integer(port), bulk(std::string(36, '0') + std::to_string(port))});
}

struct range_spec {
    int first, last;
    std::uint16_t primary;
    std::vector<std::uint16_t> replicas;
};
// A CLUSTER SLOTS reply: [[first, last, primary, replicas...], ...].
value slots(const std::vector<range_spec>& ranges) {
    std::vector<value> entries;
    for (const auto& r : ranges) {
        std::vector<value> e{integer(r.first), integer(r.last), node(r.primary)};
        for (const auto p : r.replicas)
            e.push_back(node(p));
        entries.push_back(array(std::move(e)));
    }
    return array(std::move(entries));
}

// A CLUSTER SHARDS reply as RESP2 writes it (maps as flat [key, value, ...] arrays): one
// shard per range, then one shard without slots per spare.
value shard_node(std::uint16_t port, bool primary) {
    return array({bulk("id"), bulk(std::string(36, '0') + std::to_string(port)), bulk("port"),
                  integer(port), bulk("ip"), bulk("127.0.0.1"), bulk("endpoint"), bulk("127.0.0.1"),
                  bulk("role"), bulk(primary ? "master" : "replica"), bulk("health"),
                  bulk("online")});
}
value shards(const std::vector<range_spec>& ranges, const std::vector<std::uint16_t>& spares = {}) {
    std::vector<value> entries;
    const auto entry = [](std::vector<value> slot_list, std::vector<value> nodes) {
        return array(
            {bulk("slots"), array(std::move(slot_list)), bulk("nodes"), array(std::move(nodes))});
    };
    for (const auto& r : ranges) {
        std::vector<value> nodes{shard_node(r.primary, true)};
        for (const auto p : r.replicas)
            nodes.push_back(shard_node(p, false));
        entries.push_back(entry({integer(r.first), integer(r.last)}, std::move(nodes)));
    }
    for (const auto p : spares)
        entries.push_back(entry({}, {shard_node(p, true)}));
    return array(std::move(entries));
}

// Three primaries 7000-7002 with replicas 7003-7005.
const std::vector<range_spec> three{
    {0, 5460, 7000, {7003}}, {5461, 10922, 7001, {7004}}, {10923, 16383, 7002, {7005}}};
value three_shards() {
    return shards(three);
}
// The same after 7003 took over from 7000.
value failed_over() {
    return shards(
        {{0, 5460, 7003, {7000}}, {5461, 10922, 7001, {7004}}, {10923, 16383, 7002, {7005}}});
}

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

class TopologyRefresherTest : public testing::Test {
  protected:
    void make(std::vector<std::uint16_t> seeds, std::chrono::milliseconds interval = 1000ms,
              std::chrono::milliseconds reply_timeout = 2000ms) {
        refresher_options o;
        for (const auto p : seeds)
            o.seeds.push_back(ep(p));
        o.refresh_interval = interval;
        o.reply_timeout = reply_timeout;
        r_.emplace(std::move(o));
    }
    R& r() { return *r_; }

    // The actions queued since the last call, one line each; changes and errors are kept
    // whole in changes_ and errors_.
    std::vector<std::string> take() {
        std::vector<std::string> out;
        while (auto a = r().next_action()) {
            out.push_back(std::visit(
                overloaded{
                    [](const R::connect& c) { return "connect " + c.address.to_string(); },
                    [](const R::send_query& s) {
                        return (s.query == topology_query::shards ? "ask " : "ask-slots ") +
                               s.address.to_string();
                    },
                    [](const R::close& c) { return "close " + c.address.to_string(); },
                    [this](R::report_change& c) {
                        changes_.push_back(std::move(c));
                        return std::string("change");
                    },
                    [this](R::report_error& e) {
                        errors_.push_back(e.sentence);
                        return std::string("error");
                    },
                },
                *a));
        }
        return out;
    }

    // Starts at t0 with the first seed answering `reply`.
    void start_with(value reply, std::uint16_t port) {
        r().start(t0);
        EXPECT_EQ(take(), (std::vector<std::string>{"connect " + name(port)}));
        r().on_connected(ep(port), t0);
        EXPECT_EQ(take(), (std::vector<std::string>{"ask " + name(port)}));
        r().on_reply(ep(port), reply, t0);
        EXPECT_EQ(take(), (std::vector<std::string>{"change"}));
    }

    std::optional<R> r_;
    std::vector<R::report_change> changes_;
    std::vector<std::string> errors_;
};

using lines = std::vector<std::string>;

TEST_F(TopologyRefresherTest, StartAsksTheFirstSeedAndReportsTheFirstTopology) {
    make({7000, 7001});
    EXPECT_EQ(r().next_deadline(), std::nullopt);  // not started
    start_with(three_shards(), 7000);
    ASSERT_EQ(changes_.size(), 1u);
    EXPECT_FALSE(changes_[0].before);
    EXPECT_EQ(changes_[0].previous_refresh, clock::time_point{});
    EXPECT_EQ(changes_[0].now.shards().size(), 3u);
    ASSERT_TRUE(r().current());
    EXPECT_EQ(r().current()->signature(), changes_[0].now.signature());
    EXPECT_EQ(r().refreshes(), 1u);
    EXPECT_EQ(r().last_refresh(), t0);
    EXPECT_FALSE(r().refreshing());
    // The connection stays open for the next round; the timer is all that is wanted.
    EXPECT_EQ(r().next_deadline(), t0 + 1s);
    // Seeds first, then every node of the topology, primaries first.
    EXPECT_EQ(r().candidates(), (std::vector<net::endpoint>{ep(7000), ep(7001), ep(7002), ep(7003),
                                                            ep(7004), ep(7005)}));
}

TEST_F(TopologyRefresherTest, TimerRefreshesEveryIntervalAndNotBefore) {
    make({7000});
    start_with(three_shards(), 7000);
    clock::time_point now = t0;
    for (int i = 1; i <= 5; ++i) {
        const clock::time_point due = t0 + i * 1s;
        EXPECT_EQ(r().next_deadline(), due);
        r().on_timer(due - 1ms);  // early: nothing is due
        EXPECT_EQ(take(), lines{});
        now = due;
        r().on_timer(now);
        EXPECT_EQ(take(), lines{"ask " + name(7000)}) << i;  // on the open connection
        EXPECT_TRUE(r().refreshing());
        r().on_reply(ep(7000), three_shards(), now + 1ms);
        EXPECT_EQ(take(), lines{});  // unchanged
    }
    EXPECT_EQ(r().refreshes(), 6u);
    EXPECT_EQ(r().last_refresh(), now + 1ms);
}

TEST_F(TopologyRefresherTest, UnchangedTopologyReportsNoChange) {
    make({7000});
    start_with(three_shards(), 7000);
    for (int i = 1; i <= 3; ++i) {
        r().refresh(t0 + i * 100ms);
        EXPECT_EQ(take(), lines{"ask " + name(7000)});
        r().on_reply(ep(7000), three_shards(), t0 + i * 100ms);
        EXPECT_EQ(take(), lines{});
    }
    EXPECT_EQ(changes_.size(), 1u);
    EXPECT_EQ(r().refreshes(), 4u);
}

TEST_F(TopologyRefresherTest, ChangeReportsBeforeAndWhenItWasLastConfirmed) {
    make({7000});
    start_with(three_shards(), 7000);
    const auto first = changes_[0].now.signature();
    // Confirmed again at t0 + 1 s.
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_reply(ep(7000), three_shards(), t0 + 1s + 5ms);
    EXPECT_EQ(take(), lines{});
    // Changed at t0 + 2 s: the failover happened after t0 + 1 s + 5 ms.
    r().on_timer(t0 + 2s);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_reply(ep(7000), failed_over(), t0 + 2s + 5ms);
    EXPECT_EQ(take(), lines{"change"});
    ASSERT_EQ(changes_.size(), 2u);
    const auto& c = changes_[1];
    ASSERT_TRUE(c.before);
    EXPECT_EQ(c.before->signature(), first);
    EXPECT_NE(c.now.signature(), first);
    EXPECT_EQ(c.now.owner(0)->primary.address, ep(7003));
    EXPECT_EQ(c.previous_refresh, t0 + 1s + 5ms);
    EXPECT_EQ(r().current()->signature(), c.now.signature());
    EXPECT_EQ(r().last_refresh(), t0 + 2s + 5ms);
    // `c` refers into changes_, which the next change may reallocate.
    const auto second = c.now.signature();
    // And a change back is a change again, confirmed last at t0 + 2 s + 5 ms.
    r().refresh(t0 + 2500ms);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_reply(ep(7000), three_shards(), t0 + 2500ms);
    EXPECT_EQ(take(), lines{"change"});
    EXPECT_EQ(changes_[2].previous_refresh, t0 + 2s + 5ms);
    EXPECT_EQ(changes_[2].before->signature(), second);
}

TEST_F(TopologyRefresherTest, RefreshNowIsCoalescedWithTheRoundInFlight) {
    make({7000});
    start_with(three_shards(), 7000);
    const auto t = t0 + 300ms;
    r().refresh(t);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    // Three more requests while CLUSTER SLOTS is in flight: no second command at once...
    r().refresh(t + 1ms);
    r().refresh(t + 2ms);
    r().refresh(t + 3ms);
    EXPECT_EQ(take(), lines{});
    // ...and exactly one more round after the reply, since what prompted them may postdate
    // the reply in flight.
    r().on_reply(ep(7000), three_shards(), t + 4ms);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_reply(ep(7000), three_shards(), t + 5ms);
    EXPECT_EQ(take(), lines{});
    EXPECT_FALSE(r().refreshing());
    EXPECT_EQ(r().refreshes(), 3u);
}

TEST_F(TopologyRefresherTest, RefreshOnLossAsksAtOnceAndATickDuringARoundIsThatRound) {
    make({7000});
    start_with(three_shards(), 7000);
    // A subscriber lost its node: the notifier asks at once, not at the next tick.
    r().refresh(t0 + 10ms);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    // The tick comes while that round is in flight: it adds nothing.
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{});
    r().on_reply(ep(7000), failed_over(), t0 + 1s + 1ms);
    EXPECT_EQ(take(), lines{"change"});
    EXPECT_EQ(r().next_deadline(), t0 + 2s);
}

TEST_F(TopologyRefresherTest, RequestsBeforeStartAreIgnored) {
    make({7000});
    r().refresh(t0);
    r().on_timer(t0 + 5s);
    EXPECT_EQ(take(), lines{});
    EXPECT_EQ(r().next_deadline(), std::nullopt);
}

TEST_F(TopologyRefresherTest, AFailedSeedIsFollowedByTheNextSeed) {
    make({7000, 7001});
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().on_connection_failed(ep(7000), name(7000) + ": connect failed: Connection refused", t0);
    EXPECT_EQ(take(), (lines{"close " + name(7000), "connect " + name(7001)}));
    r().on_connected(ep(7001), t0);
    EXPECT_EQ(take(), lines{"ask " + name(7001)});
    r().on_reply(ep(7001), three_shards(), t0);
    EXPECT_EQ(take(), lines{"change"});
    EXPECT_TRUE(errors_.empty());
}

TEST_F(TopologyRefresherTest, ErrorReplyAndUnparsableReplyCountAsTheNodeFailing) {
    make({7000, 7001, 7002});
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().on_connected(ep(7000), t0);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    // Refused CLUSTER SHARDS, then CLUSTER SLOTS on the same connection.
    r().on_refused(ep(7000), "ERR This instance has cluster support disabled", t0);
    EXPECT_EQ(take(), lines{"ask-slots " + name(7000)});
    r().on_refused(ep(7000), "ERR This instance has cluster support disabled", t0);
    EXPECT_EQ(take(), (lines{"close " + name(7000), "connect " + name(7001)}));
    r().on_connected(ep(7001), t0);
    EXPECT_EQ(take(), lines{"ask " + name(7001)});
    r().on_reply(ep(7001), integer(5), t0);  // not an array
    EXPECT_EQ(take(), (lines{"close " + name(7001), "connect " + name(7002)}));
    r().on_connected(ep(7002), t0);
    EXPECT_EQ(take(), lines{"ask " + name(7002)});
    // An entry with last < first does not parse either.
    r().on_reply(ep(7002), slots({{10, 5, 7002, {}}}), t0);
    EXPECT_EQ(take(), (lines{"close " + name(7002), "error"}));
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_NE(errors_[0].find(name(7000) +
                              ": CLUSTER SHARDS and CLUSTER SLOTS refused: ERR This instance has "
                              "cluster support disabled"),
              std::string::npos)
        << errors_[0];
    EXPECT_NE(errors_[0].find(name(7001) + ": CLUSTER SHARDS reply is not an array"),
              std::string::npos)
        << errors_[0];
    EXPECT_NE(errors_[0].find(name(7002) + ": CLUSTER SHARDS entry lacks slots or nodes"),
              std::string::npos)
        << errors_[0];
    EXPECT_FALSE(r().current());
    EXPECT_EQ(r().refreshes(), 0u);
}

TEST_F(TopologyRefresherTest, ARoundWhereAllFailReportsOneSentenceThenTheTimerTriesAgain) {
    make({7000, 7001});
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().on_connection_failed(ep(7000), name(7000) + ": connect failed: Connection refused",
                             t0 + 1ms);
    EXPECT_EQ(take(), (lines{"close " + name(7000), "connect " + name(7001)}));
    // A detail that does not name the node is given its name.
    r().on_connection_failed(ep(7001), "connect timeout", t0 + 2ms);
    EXPECT_EQ(take(), (lines{"close " + name(7001), "error"}));
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_EQ(errors_[0], "no cluster node answered CLUSTER SHARDS or CLUSTER SLOTS (" +
                              name(7000) + ": connect failed: Connection refused; " + name(7001) +
                              ": connect timeout)");
    EXPECT_FALSE(r().refreshing());
    // A refresh asked for after the failed round starts a new one at once...
    r().refresh(t0 + 3ms);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().on_connection_failed(ep(7000), "refused", t0 + 4ms);
    EXPECT_EQ(take(), (lines{"close " + name(7000), "connect " + name(7001)}));
    // ...but one asked for during a failing round does not repeat it: the timer does.
    r().refresh(t0 + 5ms);
    r().on_connection_failed(ep(7001), "refused", t0 + 6ms);
    EXPECT_EQ(take(), (lines{"close " + name(7001), "error"}));
    EXPECT_EQ(errors_.size(), 2u);
    EXPECT_EQ(r().next_deadline(), t0 + 1s);
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().on_connected(ep(7000), t0 + 1s);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_reply(ep(7000), three_shards(), t0 + 1s);
    EXPECT_EQ(take(), lines{"change"});
}

TEST_F(TopologyRefresherTest, CandidatesAreTheLastAnswererThenSeedsThenEveryNodeOfTheTopology) {
    // Seeds in the opposite order to the topology's, so seed order and topology order
    // differ.
    make({7001, 7000});
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect " + name(7001)});
    r().on_connection_failed(ep(7001), "refused", t0);
    EXPECT_EQ(take(), (lines{"close " + name(7001), "connect " + name(7000)}));
    r().on_connected(ep(7000), t0);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_reply(ep(7000), three_shards(), t0);
    EXPECT_EQ(take(), lines{"change"});

    // Next round: 7000 answered last, so it is asked first (on its open connection), then
    // the seeds (7001; 7000 is not asked twice), then the topology's other nodes,
    // primaries first.
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_refused(ep(7000), "CLUSTERDOWN", t0 + 1s);
    EXPECT_EQ(take(), lines{"ask-slots " + name(7000)});
    r().on_refused(ep(7000), "CLUSTERDOWN", t0 + 1s);
    lines seen = take();
    for (const std::uint16_t port : {7001, 7002, 7003}) {
        ASSERT_FALSE(seen.empty());
        EXPECT_EQ(seen.back(), "connect " + name(port));
        r().on_connection_failed(ep(port), "refused", t0 + 1s);
        seen = take();
    }
    // 7004 answers: it is the one asked first from now on.
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back(), "connect " + name(7004));
    r().on_connected(ep(7004), t0 + 1s);
    EXPECT_EQ(take(), lines{"ask " + name(7004)});
    r().on_reply(ep(7004), three_shards(), t0 + 1s);
    EXPECT_EQ(take(), lines{});
    r().on_timer(t0 + 2s);
    EXPECT_EQ(take(), lines{"ask " + name(7004)});
    r().on_connection_failed(ep(7004), "lost", t0 + 2s);
    EXPECT_EQ(take(), (lines{"close " + name(7004), "connect " + name(7001)}));
    // The whole order of a round in which every node fails.
    const std::vector<std::uint16_t> rest{7001, 7000, 7002, 7003, 7005};
    for (std::size_t i = 0; i < rest.size(); ++i) {
        r().on_connection_failed(ep(rest[i]), "refused", t0 + 2s);
        const lines next = take();
        ASSERT_FALSE(next.empty());
        EXPECT_EQ(next.back(), i + 1 < rest.size() ? "connect " + name(rest[i + 1]) : "error");
    }
    ASSERT_EQ(errors_.size(), 1u);
    std::string expected = "no cluster node answered CLUSTER SHARDS or CLUSTER SLOTS (";
    expected += name(7004) + ": lost";
    for (const std::uint16_t port : {7001, 7000, 7002, 7003, 7005})
        expected += "; " + name(port) + ": refused";
    EXPECT_EQ(errors_[0], expected + ")");
}

TEST_F(TopologyRefresherTest, ANodeWithoutClusterShardsIsAskedClusterSlotsUntilItsConnectionFails) {
    make({7000});
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().on_connected(ep(7000), t0);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    // Redis 6: no such subcommand. CLUSTER SLOTS on the same connection answers.
    r().on_refused(ep(7000),
                   "ERR Unknown subcommand or wrong number of arguments for 'SHARDS'. Try "
                   "CLUSTER HELP.",
                   t0);
    EXPECT_EQ(take(), lines{"ask-slots " + name(7000)});
    r().on_reply(ep(7000), slots(three), t0);
    EXPECT_EQ(take(), lines{"change"});
    EXPECT_EQ(r().current()->shards().size(), 3u);
    // From then on it is asked CLUSTER SLOTS only, and the same topology is no change.
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{"ask-slots " + name(7000)});
    r().on_reply(ep(7000), slots(three), t0 + 1s);
    EXPECT_EQ(take(), lines{});
    // Its connection fails: it may come back upgraded, so the next one asks CLUSTER SHARDS.
    r().on_connection_failed(ep(7000), "connection lost", t0 + 1500ms);
    EXPECT_EQ(take(), lines{"close " + name(7000)});
    r().on_timer(t0 + 2s);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().on_connected(ep(7000), t0 + 2s);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_reply(ep(7000), three_shards(), t0 + 2s);
    EXPECT_EQ(take(), lines{});  // the same topology from either command
    EXPECT_TRUE(errors_.empty());
}

TEST_F(TopologyRefresherTest, ASpareArrivingOrLeavingIsAChange) {
    make({7000});
    start_with(three_shards(), 7000);
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    // 7006 joined the cluster (redis-cli --cluster add-node) and serves no slot yet.
    r().on_reply(ep(7000), shards(three, {7006}), t0 + 1s);
    EXPECT_EQ(take(), lines{"change"});
    ASSERT_EQ(changes_.size(), 2u);
    ASSERT_EQ(changes_[1].now.spares().size(), 1u);
    EXPECT_EQ(changes_[1].now.spares()[0].address, ep(7006));
    EXPECT_EQ(changes_[1].previous_refresh, t0);
    // A spare is a candidate to ask, after the primaries and before the replicas.
    EXPECT_EQ(r().candidates(), (std::vector<net::endpoint>{ep(7000), ep(7001), ep(7002), ep(7006),
                                                            ep(7003), ep(7004), ep(7005)}));
    // It takes slots 0-99 of 7000's: a change; it is no spare any more.
    r().on_timer(t0 + 2s);
    take();
    r().on_reply(ep(7000),
                 shards({{0, 99, 7006, {}},
                         {100, 5460, 7000, {7003}},
                         {5461, 10922, 7001, {7004}},
                         {10923, 16383, 7002, {7005}}}),
                 t0 + 2s);
    EXPECT_EQ(take(), lines{"change"});
    ASSERT_EQ(changes_.size(), 3u);
    EXPECT_TRUE(changes_[2].now.spares().empty());
    EXPECT_EQ(changes_[2].now.shards().size(), 4u);
    // Removed from the cluster: a change back to three primaries and no spare.
    r().on_timer(t0 + 3s);
    take();
    r().on_reply(ep(7000), three_shards(), t0 + 3s);
    EXPECT_EQ(take(), lines{"change"});
    EXPECT_TRUE(changes_.back().now.spares().empty());
}

TEST_F(TopologyRefresherTest, ConnectionLostBetweenRoundsStartsTheNextWithTheSeeds) {
    make({7000, 7001});
    r().start(t0);
    take();
    r().on_connection_failed(ep(7000), "refused", t0);
    take();
    r().on_connected(ep(7001), t0);
    take();
    r().on_reply(ep(7001), three_shards(), t0);
    EXPECT_EQ(take(), lines{"change"});
    // The idle connection to 7001 breaks: it is closed, nothing is reported, and the next
    // round does not start with 7001.
    r().on_connection_failed(ep(7001), "connection lost", t0 + 500ms);
    EXPECT_EQ(take(), lines{"close " + name(7001)});
    EXPECT_TRUE(errors_.empty());
    EXPECT_FALSE(r().refreshing());
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
}

TEST_F(TopologyRefresherTest, ANodeThatDoesNotAnswerInTimeCountsAsFailed) {
    make({7000, 7001}, 1000ms, 300ms);
    start_with(three_shards(), 7000);
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    EXPECT_EQ(r().next_deadline(), t0 + 1300ms);
    r().on_timer(t0 + 1299ms);
    EXPECT_EQ(take(), lines{});
    r().on_timer(t0 + 1300ms);
    EXPECT_EQ(take(), (lines{"close " + name(7000), "connect " + name(7001)}));
    // A late reply from the node given up on is ignored.
    r().on_reply(ep(7000), failed_over(), t0 + 1301ms);
    EXPECT_EQ(take(), lines{});
    r().on_connected(ep(7001), t0 + 1302ms);
    EXPECT_EQ(take(), lines{"ask " + name(7001)});
    r().on_refused(ep(7001), "LOADING", t0 + 1303ms);
    EXPECT_EQ(take(), lines{"ask-slots " + name(7001)});
    r().on_refused(ep(7001), "LOADING", t0 + 1303ms);
    // 7000 was given up on this round: the topology's other nodes are next.
    EXPECT_EQ(take(), (lines{"close " + name(7001), "connect " + name(7002)}));
    for (const std::uint16_t port : {7002, 7003, 7004, 7005}) {
        r().on_connection_failed(ep(port), "refused", t0 + 1304ms);
        take();
    }
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_NE(errors_[0].find(name(7000) + ": no reply to CLUSTER SHARDS within 300 ms"),
              std::string::npos)
        << errors_[0];
    EXPECT_NE(errors_[0].find(name(7001) + ": CLUSTER SHARDS and CLUSTER SLOTS refused: LOADING"),
              std::string::npos)
        << errors_[0];
    EXPECT_EQ(r().next_deadline(), t0 + 2s);
}

TEST_F(TopologyRefresherTest, EventsAboutOtherConnectionsAreIgnored) {
    make({7000, 7001});
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    // Not the node being connected to.
    r().on_connected(ep(7001), t0);
    r().on_connection_failed(ep(7001), "refused", t0);
    // No CLUSTER SLOTS was sent yet.
    r().on_reply(ep(7000), three_shards(), t0);
    r().on_refused(ep(7000), "ERR", t0);
    EXPECT_EQ(take(), lines{});
    EXPECT_FALSE(r().current());
    r().on_connected(ep(7000), t0);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().on_connected(ep(7000), t0);  // twice: still one command
    r().on_reply(ep(7001), failed_over(), t0);
    EXPECT_EQ(take(), lines{});
    r().on_reply(ep(7000), three_shards(), t0);
    EXPECT_EQ(take(), lines{"change"});
    r().on_reply(ep(7000), failed_over(), t0);  // a second reply to one command
    EXPECT_EQ(take(), lines{});
}

TEST_F(TopologyRefresherTest, StopStopsEverything) {
    make({7000});
    start_with(three_shards(), 7000);
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{"ask " + name(7000)});
    r().refresh(t0 + 1s);  // one more would follow the reply
    r().on_reply(ep(7000), failed_over(), t0 + 1s);
    // The change and the next round were queued but not taken: stop drops them.
    r().stop();
    EXPECT_EQ(take(), lines{"close " + name(7000)});
    EXPECT_EQ(r().next_deadline(), std::nullopt);
    EXPECT_FALSE(r().refreshing());
    r().refresh(t0 + 2s);
    r().on_timer(t0 + 5s);
    r().on_connected(ep(7000), t0 + 5s);
    r().on_reply(ep(7000), three_shards(), t0 + 5s);
    r().on_connection_failed(ep(7000), "lost", t0 + 5s);
    r().stop();
    EXPECT_EQ(take(), lines{});
    EXPECT_EQ(changes_.size(), 1u);
    // Started again, it begins a new round and keeps its topology.
    r().start(t0 + 10s);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    EXPECT_EQ(r().next_deadline(), t0 + 11s);
    EXPECT_TRUE(r().current());
}

TEST_F(TopologyRefresherTest, StopWhileConnectingClosesThatConnection) {
    make({7000});
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().stop();
    EXPECT_EQ(take(), lines{"close " + name(7000)});
    r().on_connected(ep(7000), t0);
    EXPECT_EQ(take(), lines{});
}

TEST_F(TopologyRefresherTest, NoSeedsIsAnError) {
    make({});
    r().start(t0);
    EXPECT_EQ(take(), lines{"error"});
    EXPECT_EQ(errors_[0], "no seed node to ask for the cluster topology");
    EXPECT_EQ(r().next_deadline(), t0 + 1s);
}

TEST_F(TopologyRefresherTest, DuplicateSeedsAreAskedOnce) {
    make({7000, 7000});
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect " + name(7000)});
    r().on_connection_failed(ep(7000), "refused", t0);
    EXPECT_EQ(take(), (lines{"close " + name(7000), "error"}));
}

}  // namespace
}  // namespace ksn::cluster
