// cluster_keyspace_notifications against a real cluster of 3 primaries + 3 replicas that
// each test creates (tests/support/redis_cluster.hpp) and tears down.
//
// No test sleeps to let something happen: each waits (bounded, scaled by
// tests/support/timing.hpp) on the condition it needs. The one sleep left is a negative
// check ("nothing more arrives").
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "cluster/slot.hpp"
#include "tests/integration/notifier_fixture.hpp"
#include "tests/support/cluster_checks.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tests/support/timing.hpp"

namespace ksn::test {
namespace {

constexpr auto refresh = 500ms;

cluster_options cluster_options_for(redis_cluster& c) {
    return test_cluster_options(c, refresh);
}

/// Every write outside a gap was received (at least once). Prints the figures (the fault
/// table of docs/benchmarks.md is made of these lines).
void expect_all_outside_gaps_received(const std::vector<write_load::write>& writes,
                                      collector& col) {
    const auto gaps = col.gaps();
    const auto r = check_delivery(writes, col.received(), gaps, col.received_at());
    EXPECT_EQ(r.missing, 0u) << "e.g. " << r.example << "; " << r.excused << " inside gaps, "
                             << gaps.size() << " gaps, " << r.covered_but_notified
                             << " notified inside gaps";
    std::string reasons;
    for (const auto& [reason, count] : r.gaps_by_reason)
        reasons += (reasons.empty() ? "" : ", ") + reason + " " + std::to_string(count);
    std::cout << "delivery (" << ::testing::UnitTest::GetInstance()->current_test_info()->name()
              << "): " << r.writes << " writes, " << r.received << " notified ("
              << r.covered_but_notified << " of them inside gaps), " << r.excused
              << " not notified inside gaps, " << r.missing << " outside every gap; " << gaps.size()
              << " gaps (" << (reasons.empty() ? "none" : reasons) << ")\n";
}

/// Fails the test for each gap, naming it.
void expect_no_gaps(const std::vector<gap_event>& gaps) {
    for (const auto& g : gaps)
        ADD_FAILURE() << "gap on " << g.node << " (" << to_string(g.reason) << "): " << g.detail;
}

std::set<std::string> primary_names(const cluster::topology& t) {
    std::set<std::string> out;
    for (const auto& s : t.shards())
        out.insert(s.primary.address.to_string());
    return out;
}

std::set<std::string> subscribed_nodes(notifier_base& n) {
    std::set<std::string> out;
    for (const auto& s : n.stats().nodes) {
        if (!s.standby) out.insert(s.node);
    }
    return out;
}

/// The nodes subscribed as standby replicas (cluster_options::redundancy).
std::set<std::string> standby_nodes(notifier_base& n) {
    std::set<std::string> out;
    for (const auto& s : n.stats().nodes) {
        if (s.standby) out.insert(s.node);
    }
    return out;
}

/// Waits until the load made `more` writes after this call.
bool wrote_more(write_load& load, std::size_t more) {
    const auto from = load.count();
    return wait_until([&] { return load.count() >= from + more; });
}

/// What a run that could lose nothing delivered.
struct lossless_run {
    std::vector<std::pair<std::string, std::string>> received;
    std::size_t writes = 0, repeats = 0;
};

/// Once the load wrote `more`: stops it, waits for the notifications, and checks that no
/// gap was reported, every write was notified, and (each key is written once) every
/// repeat was marked redelivered and no first copy.
lossless_run expect_lossless(write_load& load, collector& col, std::size_t more) {
    EXPECT_TRUE(wrote_more(load, more)) << "writes after the fault";
    load.stop();
    const auto writes = load.writes();
    wait_settled(col, writes);
    const auto gaps = col.gaps();
    expect_no_gaps(gaps);
    lossless_run out;
    out.received = col.received();
    out.writes = writes.size();
    const auto r = check_delivery(writes, out.received, gaps);
    EXPECT_EQ(r.received, writes.size()) << "e.g. " << r.example;
    const auto rep = check_repeats(out.received, col.redelivered());
    EXPECT_EQ(rep.mismatched, 0u) << rep.example;
    out.repeats = rep.repeats;
    return out;
}

/// Waits until the notifier's topology is the cluster's now (it refreshed after a change).
bool notifier_caught_up(cluster_keyspace_notifications& n, redis_cluster& c) {
    return wait_until(
        [&] {
            const auto seen = n.topology();
            return seen && seen->signature() == c.topology().signature();
        },
        3 * refresh + 2s);
}

/// Waits until `replica` owns slot 0 (after a failover: cluster-node-timeout, 1 s scaled,
/// and an election).
bool promoted(redis_cluster& c, const net::endpoint& replica) {
    return wait_until(
        [&] {
            try {
                return c.topology().owner(0)->primary.address == replica;
            } catch (...) {
                return false;
            }
        },
        20s);
}

// The check itself (no cluster): what a gap excuses.
TEST(CheckDelivery, AnOpenGapExcusesNothingOnceItsSlotsAreServedAgain) {
    const auto t0 = clock::now();
    const auto at = [&](std::string key, std::chrono::milliseconds when) {
        write_load::write w;
        w.key = std::move(key);
        w.port = 7000;
        w.sent = t0 + when;
        w.acked = w.sent + 1ms;
        return w;
    };
    // All in one slot (a hash tag); the node was given up at 1 s: an open gap.
    const std::vector<write_load::write> writes = {at("{a}1", 0ms), at("{a}2", 1500ms),
                                                   at("{a}3", 2000ms), at("{a}4", 3000ms)};
    gap_event g;
    g.node = "127.0.0.1:7000";
    g.reason = gap_reason::node_closed;
    g.lost = t0 + 1s;
    const auto slot = cluster::key_slot("{a}");
    g.slots = {{slot, slot}};
    // {a}3 was notified (another node serves the slot again): the gap ends there, so the
    // unnotified {a}4 after it is missing; {a}2 before it is excused.
    const std::vector<std::pair<std::string, std::string>> received = {{"{a}1", "127.0.0.1:7000"},
                                                                       {"{a}3", "127.0.0.1:7003"}};
    auto r = check_delivery(writes, received, {g});
    EXPECT_EQ(r.open_gaps_bounded, 1u);
    EXPECT_EQ(r.excused, 1u);
    EXPECT_EQ(r.missing, 1u);
    EXPECT_EQ(r.example, "{a}4 on port 7000");
    // Never served again: the open gap excuses everything after it.
    r = check_delivery(writes, {{"{a}1", "127.0.0.1:7000"}}, {g});
    EXPECT_EQ(r.open_gaps_bounded, 0u);
    EXPECT_EQ(r.excused, 3u);
    EXPECT_EQ(r.missing, 0u);
    // A gap with an end keeps it.
    g.restored = t0 + 3500ms;
    r = check_delivery(writes, received, {g});
    EXPECT_EQ(r.excused, 2u);
    EXPECT_EQ(r.missing, 0u);
    EXPECT_EQ(r.covered_but_notified, 1u);
}

// A queue-overflow gap starts at the read time of the first notification it dropped,
// which can lag its write's acknowledgment by far more than gap_slack (a burst ahead of
// it in the socket): given the receive times, the gap reaches back by its node's read lag.
TEST(CheckDelivery, AQueueOverflowGapReachesBackByItsNodesReadLag) {
    const auto t0 = clock::now();
    const auto at = [&](std::string key, std::uint16_t port, std::chrono::milliseconds when) {
        write_load::write w;
        w.key = std::move(key);
        w.port = port;
        w.sent = t0 + when;
        w.acked = w.sent + 1ms;
        return w;
    };
    // On 7000, "a" was read 400 ms after its acknowledgment; "b", acknowledged at 101 ms,
    // was dropped by a gap that starts at the read time of what it dropped, 500 ms.
    const std::vector<write_load::write> writes = {at("a", 7000, 0ms), at("b", 7000, 100ms),
                                                   at("c", 7001, 100ms)};
    gap_event g;
    g.node = "127.0.0.1:7000";
    g.reason = gap_reason::queue_overflow;
    g.lost = t0 + 500ms;
    g.restored = t0 + 600ms;
    gap_event other = g;
    other.node = "127.0.0.1:7001";  // 7001 shows no lag: its gap reaches back gap_slack only
    const std::vector<std::pair<std::string, std::string>> received = {{"a", "127.0.0.1:7000"}};
    const std::vector<clock::time_point> read = {t0 + 401ms};
    auto r = check_delivery(writes, received, {g, other}, read);
    EXPECT_EQ(r.read_lag, 400ms);
    EXPECT_EQ(r.excused, 1u);  // b
    EXPECT_EQ(r.missing, 1u);  // c: 7001's gap began 399 ms after it was acknowledged
    EXPECT_EQ(r.example, "c on port 7001");
    // Without the receive times, b's acknowledgment lies 399 ms before its gap: missing.
    r = check_delivery(writes, received, {g, other});
    EXPECT_EQ(r.missing, 2u);
    // Only queue-overflow gaps reach back: a connection's gap begins where it broke.
    g.reason = gap_reason::connection_lost;
    r = check_delivery(writes, received, {g, other}, read);
    EXPECT_EQ(r.missing, 2u);
}

// The collector's thread pulls: with dispatch_mode::caller it is the thread that drives
// the notifier (its topology tracker included), and the test thread's queries are run by it.
void fan_in_receives_every_key_once_from_its_owner(dispatch_mode mode) {
    redis_cluster c;
    auto o = cluster_options_for(c);
    o.dispatch = mode;
    cluster_keyspace_notifications n(o);
    n.subscribe_keyspace("k:*");
    collector col(n);
    std::vector<std::string> keys;
    for (int i = 0; i < 30000; ++i)
        keys.push_back("k:" + std::to_string(i));
    cluster_writer w(c);
    const auto ports = w.set_many(keys);
    ASSERT_TRUE(wait_until([&] { return col.count() >= keys.size(); }, 30s)) << col.count();
    // A negative check: a duplicate would arrive within this.
    std::this_thread::sleep_for(scaled(200ms));
    std::map<std::string, std::vector<std::string>> by_key;
    for (const auto& [key, node] : col.received())
        by_key[key].push_back(node);
    ASSERT_EQ(by_key.size(), keys.size());
    std::set<std::string> nodes_seen;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto& seen = by_key[keys[i]];
        ASSERT_EQ(seen.size(), 1u) << keys[i] << " received " << seen.size() << " times";
        EXPECT_EQ(seen[0], "127.0.0.1:" + std::to_string(ports[i])) << keys[i];
        nodes_seen.insert(seen[0]);
    }
    EXPECT_EQ(nodes_seen.size(), 3u);
    EXPECT_TRUE(col.gaps().empty());
    EXPECT_EQ(subscribed_nodes(n), primary_names(c.topology()));
}

TEST(Cluster, FanInReceivesEveryKeyOnceFromItsOwner) {
    fan_in_receives_every_key_once_from_its_owner(dispatch_mode::queued);
}

TEST(ClusterCallerDriven, FanInReceivesEveryKeyOnceFromItsOwner) {
    fan_in_receives_every_key_once_from_its_owner(dispatch_mode::caller);
}

void manual_failover_hands_the_slots_over_without_a_gap_or_a_loss(dispatch_mode mode) {
    redis_cluster c;
    auto o = cluster_options_for(c);
    o.dispatch = mode;
    cluster_keyspace_notifications n(o);
    n.subscribe_keyspace("m:*");
    collector col(n);
    write_load load(c, "m:");
    ASSERT_TRUE(wrote_more(load, 100)) << "writes before the failover";
    // Promote the replica of the shard that owns slot 0.
    const auto before = c.topology();
    const auto* shard0 = before.owner(0);
    ASSERT_NE(shard0, nullptr);
    ASSERT_FALSE(shard0->replicas.empty());
    const auto old_primary = shard0->primary.address.to_string();
    const auto replica = shard0->replicas.front().address;
    c.node(replica.port).command({"CLUSTER", "FAILOVER"});
    ASSERT_TRUE(promoted(c, replica));
    const auto promoted_at = clock::now();
    // Subscribed within two refresh intervals (plus the time to connect and confirm).
    ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(replica.to_string()) == 1; },
                           2 * refresh + 1s));
    EXPECT_LT(clock::now() - promoted_at, 2 * refresh + scaled(1s));
    // The demoted primary, a replica of the new one, is kept until it caught up with the
    // new primary's subscription (make before break), then let go.
    EXPECT_TRUE(wait_until([&] { return subscribed_nodes(n).count(old_primary) == 0; }, 10s))
        << "the demoted primary is still subscribed";
    // Nothing could be lost, so no gap, every write notified, every repeat marked.
    const auto res = expect_lossless(load, col, 300);
    const auto& received = res.received;
    std::size_t after = 0;
    for (const auto& [key, node] : received)
        after += node == replica.to_string();
    EXPECT_GT(after, 0u) << "nothing received from the promoted node";
    std::cout << "manual failover: " << res.writes << " writes, all notified, " << res.repeats
              << " repeats (all marked redelivered), no gap\n";
}

TEST(Cluster, ManualFailoverHandsTheSlotsOverWithoutAGapOrALoss) {
    manual_failover_hands_the_slots_over_without_a_gap_or_a_loss(dispatch_mode::queued);
}

TEST(ClusterCallerDriven, ManualFailoverHandsTheSlotsOverWithoutAGapOrALoss) {
    manual_failover_hands_the_slots_over_without_a_gap_or_a_loss(dispatch_mode::caller);
}

TEST(Cluster, CrashFailoverAndTheDeadNodeRejoinsAsReplica) {
    redis_cluster c;
    cluster_keyspace_notifications n(cluster_options_for(c));
    n.on_diagnostic([](severity, const std::string&) {});
    n.subscribe_keyspace("x:*");
    collector col(n);
    write_load load(c, "x:");
    ASSERT_TRUE(wrote_more(load, 100)) << "writes before the crash";
    const auto before = c.topology();
    const auto* shard0 = before.owner(0);
    const auto victim = shard0->primary.address;
    const auto replica = shard0->replicas.front().address;
    c.node(victim.port).kill9();
    // The replica takes over after cluster-node-timeout (1 s, scaled) and an election.
    ASSERT_TRUE(promoted(c, replica));
    ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(replica.to_string()) == 1; },
                           2 * refresh + 2s));
    ASSERT_TRUE(wait_until(
        [&] {
            for (const auto& g : col.gaps()) {
                if (g.node == replica.to_string()) return true;
            }
            return false;
        },
        5s));
    ASSERT_TRUE(wrote_more(load, 300)) << "writes after the promotion";
    load.stop();
    const auto writes = load.writes();
    wait_settled(col, writes);
    expect_all_outside_gaps_received(writes, col);
    for (const auto& g : col.gaps()) {
        if (g.node != replica.to_string()) continue;
        EXPECT_EQ(g.reason, gap_reason::topology_change);
        ASSERT_TRUE(g.restored);
    }
    // The dead node comes back as a replica and is not subscribed as a primary.
    c.node(victim.port).start();
    c.wait_stable(30s, 1);
    // Once the notifier has seen the node back (as a replica), it holds no subscription to it.
    ASSERT_TRUE(notifier_caught_up(n, c));
    EXPECT_EQ(subscribed_nodes(n), primary_names(c.topology()));
    EXPECT_EQ(subscribed_nodes(n).count(victim.to_string()), 0u);
}

// Faults without redundancy: every acknowledged write not notified lies inside a gap that
// names its node or slots and overlaps it (a graceful failover misses nothing: above).

/// A steady load on a cluster, a fault on the primary of slot 0, more load, the check.
/// `fault` gets the cluster, that primary's shard and the notifier; `expect` the gaps
/// afterwards; `tune` may change the notifier's options first.
/// The fault, then what its gaps on the faulted primary must be; `expect` also gets what
/// was received (the collector, settled).
void fault_under_load_seen(const std::function<void(redis_cluster&, const cluster::shard&,
                                                    cluster_keyspace_notifications&)>& fault,
                           const std::function<void(const std::vector<gap_event>&,
                                                    const net::endpoint&, collector&)>& expect,
                           const std::function<void(redis_cluster&, cluster_options&)>& tune = {}) {
    redis_cluster c;
    auto o = cluster_options_for(c);
    if (tune) tune(c, o);
    cluster_keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    n.subscribe_keyspace("f:*");
    collector col(n);
    write_load load(c, "f:");
    ASSERT_TRUE(wrote_more(load, 100)) << "writes before the fault";
    const auto before = c.topology();
    const auto* shard0 = before.owner(0);
    ASSERT_NE(shard0, nullptr);
    ASSERT_FALSE(shard0->replicas.empty());
    fault(c, *shard0, n);
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_TRUE(wrote_more(load, 300)) << "writes after the fault";
    // Served again: every primary subscribed (and the topology the notifier's).
    ASSERT_TRUE(wait_until(
        [&] {
            try {
                return subscribed_nodes(n) == primary_names(c.topology());
            } catch (const std::exception&) {
                return false;
            }
        },
        10s))
        << "not every primary is subscribed after the fault";
    ASSERT_TRUE(wrote_more(load, 100)) << "writes once served again";
    load.stop();
    const auto writes = load.writes();
    wait_settled(col, writes);
    expect_all_outside_gaps_received(writes, col);
    expect(col.gaps(), shard0->primary.address, col);
}

void fault_under_load(
    const std::function<void(redis_cluster&, const cluster::shard&,
                             cluster_keyspace_notifications&)>& fault,
    const std::function<void(const std::vector<gap_event>&, const net::endpoint&)>& expect,
    const std::function<void(redis_cluster&, cluster_options&)>& tune = {}) {
    fault_under_load_seen(
        fault,
        [&](const std::vector<gap_event>& gaps, const net::endpoint& primary, collector&) {
            expect(gaps, primary);
        },
        tune);
}

/// At least one gap names `node` and ends.
void expect_a_closed_gap_on(const std::vector<gap_event>& gaps, const net::endpoint& node,
                            gap_reason reason) {
    std::size_t found = 0;
    for (const auto& g : gaps) {
        if (g.node != node.to_string() || g.reason != reason) continue;
        ++found;
        EXPECT_TRUE(g.restored) << g.detail;
    }
    EXPECT_GT(found, 0u) << "no " << to_string(reason) << " gap on " << node.to_string();
}

TEST(ClusterFaults, TakeoverFailoverLosesNothingOutsideItsGaps) {
    net::endpoint replica;
    fault_under_load(
        [&](redis_cluster& c, const cluster::shard& sh, cluster_keyspace_notifications&) {
            replica = sh.replicas.front().address;
            // No agreement with the primary: it may acknowledge writes after the takeover.
            c.node(replica.port).command({"CLUSTER", "FAILOVER", "TAKEOVER"});
            ASSERT_TRUE(promoted(c, replica));
        },
        [&](const std::vector<gap_event>& gaps, const net::endpoint&) {
            // The new primary's slots are a gap unless a handover showed nothing was lost.
            for (const auto& g : gaps) {
                if (g.node == replica.to_string()) {
                    EXPECT_EQ(g.reason, gap_reason::topology_change) << g.detail;
                }
            }
        });
}

TEST(ClusterFaults, ClientKillOfTheSubscriberIsAGapOnItsNode) {
    fault_under_load(
        [](redis_cluster& c, const cluster::shard& sh, cluster_keyspace_notifications&) {
            c.node(sh.primary.address.port).command({"CLIENT", "KILL", "TYPE", "pubsub"});
        },
        [](const std::vector<gap_event>& gaps, const net::endpoint& primary) {
            expect_a_closed_gap_on(gaps, primary, gap_reason::server_closed_connection);
        });
}

TEST(ClusterFaults, AnOutputBufferDisconnectIsAGapOnItsNode) {
    fault_under_load(
        [](redis_cluster& c, const cluster::shard& sh, cluster_keyspace_notifications&) {
            auto& node = c.node(sh.primary.address.port);
            // A hard limit of 1 KiB past the 16 KiB reply buffer: one read of a pipeline
            // publishes more than that before the socket is written.
            node.command({"CONFIG", "SET", "client-output-buffer-limit", "pubsub 1kb 0 0"});
            std::vector<std::string> keys;
            for (int i = 0; i < 30000; ++i)
                keys.push_back("f:burst" + std::to_string(i));
            cluster_writer(c).set_many(keys);
            node.command({"CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60"});
        },
        [](const std::vector<gap_event>& gaps, const net::endpoint& primary) {
            expect_a_closed_gap_on(gaps, primary, gap_reason::server_closed_connection);
        });
}

/// The gaps `n` reported on `node` so far (its node_stats).
std::uint64_t gaps_on(notifier_base& n, const std::string& node) {
    for (const auto& s : n.stats().nodes) {
        if (s.node == node) return s.gaps;
    }
    return 0;
}

/// Waits until `node` holds `more` keys more than it does now: the load's writes reach it.
bool node_written(redis_server& node, std::int64_t more) {
    const auto at = node.command({"DBSIZE"}).integer;
    return wait_until([&] { return node.command({"DBSIZE"}).integer >= at + more; }, 10s);
}

/// Where delivery from `node` stopped when its notifications were switched off at `off`
/// and back on at `back`: the receive time of the last notification read from it before
/// `back`, or `off` if that is later. (Notifications published before the switch can be
/// read after `off`: they were in flight.)
clock::time_point delivery_stopped(collector& col, const net::endpoint& node, clock::time_point off,
                                   clock::time_point back) {
    const auto received = col.received();
    const auto at = col.received_at();
    clock::time_point last = off;
    for (std::size_t i = 0; i < received.size() && i < at.size(); ++i) {
        if (received[i].second == node.to_string() && at[i] < back) last = std::max(last, at[i]);
    }
    return last;
}

/// The notifications_disabled gaps on `node`: at least one, each closed, the first
/// beginning at or before `stopped` (where delivery stopped, not where ksn noticed).
void expect_notifications_disabled_gap(const std::vector<gap_event>& gaps,
                                       const net::endpoint& node, clock::time_point stopped) {
    std::size_t found = 0;
    for (const auto& g : gaps) {
        if (g.node != node.to_string() || g.reason != gap_reason::notifications_disabled) continue;
        EXPECT_TRUE(g.restored) << g.detail;
        if (found++ == 0) {
            EXPECT_LE(g.lost, stopped) << g.detail;
        }
        std::cout << "notifications off: gap on " << g.node << " of "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(
                         g.restored.value_or(g.lost) - g.lost)
                         .count()
                  << " ms: " << g.detail << "\n";
    }
    EXPECT_GT(found, 0u) << "no notifications_disabled gap on " << node.to_string();
}

TEST(ClusterFaults, NotificationsSwitchedOffUnderLoadAreAGapUntilTheyAreBack) {
    clock::time_point off;
    clock::time_point back;
    fault_under_load_seen(
        [&](redis_cluster& c, const cluster::shard& sh, cluster_keyspace_notifications& n) {
            auto& node = c.node(sh.primary.address.port);
            const auto name = sh.primary.address.to_string();
            const auto before = gaps_on(n, name);
            off = clock::now();
            node.command({"CONFIG", "SET", "notify-keyspace-events", ""});
            // Writes go on unpublished, for longer than ksn's check interval...
            ASSERT_TRUE(node_written(node, 100));
            // ...until the flags are back; the gap closes at the next check.
            back = clock::now();
            node.command({"CONFIG", "SET", "notify-keyspace-events", "KEA"});
            ASSERT_TRUE(wait_until([&] { return gaps_on(n, name) > before; }, scaled(5s)))
                << "no gap was reported once the notifications were back";
        },
        [&](const std::vector<gap_event>& gaps, const net::endpoint& primary, collector& col) {
            expect_notifications_disabled_gap(gaps, primary,
                                              delivery_stopped(col, primary, off, back));
        },
        [](redis_cluster&, cluster_options& o) { o.notify_check_interval = 200ms; });
}

TEST(ClusterFaults, APrimaryRestartedWithoutNotificationsIsAGapUntilTheyAreBack) {
    clock::time_point off;
    clock::time_point back;
    fault_under_load_seen(
        [&](redis_cluster& c, const cluster::shard& sh, cluster_keyspace_notifications& n) {
            auto& node = c.node(sh.primary.address.port);
            const auto name = sh.primary.address.to_string();
            const auto before = gaps_on(n, name);
            // Back well within the node timeout: still the primary of its slots (its
            // nodes.conf), empty, and publishing nothing.
            off = clock::now();
            node.kill9();
            node.set_notify("");
            node.start();
            ASSERT_EQ(node.command({"ROLE"}).elements.at(0).data, "master");
            ASSERT_TRUE(node_written(node, 100));
            back = clock::now();
            node.command({"CONFIG", "SET", "notify-keyspace-events", "KEA"});
            ASSERT_TRUE(wait_until([&] { return gaps_on(n, name) > before; }, scaled(5s)))
                << "no gap was reported once the notifications were back";
        },
        [&](const std::vector<gap_event>& gaps, const net::endpoint& primary, collector& col) {
            expect_notifications_disabled_gap(gaps, primary,
                                              delivery_stopped(col, primary, off, back));
        },
        [](redis_cluster&, cluster_options& o) { o.notify_check_interval = 200ms; });
}

TEST(ClusterFaults, TheSeedKsnAsksDyingUnderLoadCostsNothing) {
    // The first seed is a replica: ksn reads the topology from it (and keeps that
    // connection) but subscribes only primaries. Killed, it costs no notification and no
    // gap, and the topology is read from the next seed from then on.
    std::string dead;
    fault_under_load(
        [&](redis_cluster& c, const cluster::shard&, cluster_keyspace_notifications& n) {
            ASSERT_TRUE(wait_until([&] { return n.topology().has_value(); }));
            c.node(static_cast<std::uint16_t>(std::stoi(dead.substr(dead.rfind(':') + 1)))).kill9();
            // The cluster marks it failed: a topology without it, read from another seed.
            ASSERT_TRUE(wait_until(
                [&] {
                    const auto t = n.topology();
                    if (!t) return false;
                    for (const auto& e : t->endpoints()) {
                        if (e.to_string() == dead) return false;
                    }
                    return true;
                },
                scaled(15s)))
                << "the topology still lists the dead seed " << dead;
        },
        [&](const std::vector<gap_event>& gaps, const net::endpoint&) {
            for (const auto& g : gaps)
                ADD_FAILURE() << "gap on " << g.node << ": " << g.detail;
        },
        [&](redis_cluster& c, cluster_options& o) {
            // Seeds: a replica (of a shard the load's fault does not touch) first, then
            // the first live node.
            const auto t = c.topology();
            const auto& last = t.shards().back();
            ASSERT_FALSE(last.replicas.empty());
            dead = last.replicas.front().address.to_string();
            o.seeds = {last.replicas.front().address, c.seeds().front()};
        });
}

TEST(ClusterFaults, ScaleOutAndInUnderLoadLosesNothingAndReportsNoGap) {
    std::string fresh_name;
    fault_under_load(
        [&](redis_cluster& c, const cluster::shard& sh, cluster_keyspace_notifications& n) {
            // Out: a new primary joins; ksn subscribes it before it has a slot (CLUSTER
            // SHARDS lists it as a spare), then it takes 100 of the shard's slots while the
            // load runs.
            auto& fresh = c.add_node();
            fresh_name = fresh.address();
            ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(fresh_name) == 1; },
                                   2 * refresh + 2s))
                << "the new node was not subscribed before it had slots";
            ASSERT_TRUE(wait_until([&] {
                return fresh.command({"PUBSUB", "NUMPAT"}).integer >= 1;
            })) << "the new node's subscription was not confirmed";
            auto& from = c.node(sh.primary.address.port);
            c.reshard(from, fresh, 100);
            c.wait_stable(30s);
            // In: the slots go back. The emptied primary turns replica of the node that took
            // its last slot (Redis 7, cluster-allow-replica-migration yes) and is retired, or
            // stays subscribed as a spare until it leaves the cluster: either way no gap.
            c.reshard(fresh, from, 100);
            c.wait_stable(30s);
            std::string out;
            ASSERT_EQ(run_command({redis_cli_path(), "--cluster", "del-node",
                                   sh.primary.address.to_string(), cluster_node_id(fresh)},
                                  out),
                      0)
                << out;
            ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(fresh_name) == 0; },
                                   2 * refresh + 2s))
                << "the node removed from the cluster stayed subscribed";
        },
        [&](const std::vector<gap_event>& gaps, const net::endpoint&) {
            // Slots moved only between subscribed nodes that stayed reachable: nothing could
            // be lost, so no gap at all (fault_under_load checks every write was notified).
            for (const auto& g : gaps)
                ADD_FAILURE() << "gap on " << g.node << ": " << g.detail;
        });
}

TEST(Cluster, APrimaryFailedOverWhileStalledKeepsItsConnectionAndReportsItsOwnGap) {
    redis_cluster c;
    auto opts = cluster_options_for(c);
    opts.require_every_primary = true;  // all or nothing, of the primaries only
    cluster_keyspace_notifications n(opts);
    n.on_diagnostic([](severity, const std::string&) {});
    n.subscribe_keyspace("y:*");
    collector col(n);
    write_load load(c, "y:");
    ASSERT_TRUE(wrote_more(load, 100)) << "writes before the stall";
    const auto before = c.topology();
    const auto* shard0 = before.owner(0);
    const auto victim = shard0->primary.address;
    const auto replica = shard0->replicas.front().address;
    // Stalled past cluster-node-timeout: the replica is promoted. The writer's write to it
    // waits in its socket; the stalled node acknowledges it once it runs again, before it
    // learns it was replaced.
    c.node(victim.port).pause();
    ASSERT_TRUE(promoted(c, replica));
    ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(replica.to_string()) == 1; },
                           2 * refresh + 2s));
    // Kept while it has not said itself that it is no longer a primary.
    EXPECT_EQ(subscribed_nodes(n).count(victim.to_string()), 1u);
    // A subscribe meanwhile needs every primary, not the stalled node that is leaving.
    std::error_code ec;
    const channel more[] = {channel::keyspace("y2:*")};
    n.subscribe(more, {}, ec);
    EXPECT_FALSE(ec) << ec.message();
    c.node(victim.port).resume();
    c.wait_stable(30s, 1);
    ASSERT_TRUE(wrote_more(load, 300)) << "writes after the stalled node rejoined";
    load.stop();
    const auto writes = load.writes();
    wait_settled(col, writes);
    expect_all_outside_gaps_received(writes, col);
    // The node that left reported its own gap, with its slots.
    bool own_gap = false;
    for (const auto& g : col.gaps()) {
        if (g.node != victim.to_string()) continue;
        own_gap = true;
        EXPECT_FALSE(g.slots.empty()) << g.detail;
    }
    EXPECT_TRUE(own_gap);
    // Retired once it said it is a replica.
    ASSERT_TRUE(notifier_caught_up(n, c));
    EXPECT_TRUE(wait_until([&] { return subscribed_nodes(n).count(victim.to_string()) == 0; }, 5s));
}

TEST(Cluster, ReshardingUnderLoadNotifiesFromTheNewOwner) {
    redis_cluster c;
    cluster_keyspace_notifications n(cluster_options_for(c));
    n.subscribe_keyspace("r:*");
    collector col(n);
    write_load load(c, "r:");
    const auto t = c.topology();
    const auto from = t.shards()[0].primary.address;
    const auto to = t.shards()[1].primary.address;
    c.reshard(c.node(from.port), c.node(to.port), 200);
    c.wait_stable(30s, 1);
    ASSERT_TRUE(notifier_caught_up(n, c));
    ASSERT_TRUE(wrote_more(load, 100)) << "writes after the notifier saw the new owner";
    load.stop();
    // Keys in the moved slots written now come from the new owner.
    cluster_writer w(c);
    std::vector<std::string> moved_keys;
    const auto now_t = c.topology();
    for (int i = 0; moved_keys.size() < 50 && i < 100000; ++i) {
        const std::string key = "r:after:" + std::to_string(i);
        const auto slot = cluster::key_slot(key);
        if (t.owner(slot)->primary.address == from && now_t.owner(slot)->primary.address == to) {
            moved_keys.push_back(key);
        }
    }
    ASSERT_EQ(moved_keys.size(), 50u);
    w.set_many(moved_keys);
    const auto writes = load.writes();
    wait_settled(col, writes.size() + moved_keys.size());
    std::map<std::string, std::string> node_of;
    for (const auto& [key, node] : col.received())
        node_of[key] = node;
    for (const auto& k : moved_keys)
        EXPECT_EQ(node_of[k], to.to_string()) << k;
    expect_all_outside_gaps_received(writes, col);
}

TEST(Cluster, ScaleOutAndIn) {
    redis_cluster c;
    cluster_keyspace_notifications n(cluster_options_for(c));
    n.subscribe_keyspace("s:*");
    collector col(n);
    auto& fresh = c.add_node();
    // Subscribed before it has a slot: CLUSTER SHARDS lists it as a spare.
    ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(fresh.address()) == 1; },
                           2 * refresh + 2s));
    const auto t = c.topology();
    const auto from = t.shards()[0].primary.address;
    c.reshard(c.node(from.port), fresh, 100);
    c.wait_stable(30s);
    // Its keys are notified from it.
    cluster_writer w(c);
    std::string key;
    for (int i = 0; key.empty(); ++i) {
        const std::string k = "s:" + std::to_string(i);
        if (c.owner_port(k) == fresh.port()) key = k;
    }
    w.set(key);
    ASSERT_TRUE(wait_until([&] {
        for (const auto& [k, node] : col.received()) {
            if (k == key) return node == fresh.address();
        }
        return false;
    }));
    // Scale in: give the slots back (it stays subscribed, a spare) and remove the node.
    c.reshard(fresh, c.node(from.port), 100);
    c.wait_stable(30s);
    std::string out;
    EXPECT_EQ(run_command({redis_cli_path(), "--cluster", "del-node", from.to_string(),
                           cluster_node_id(fresh)},
                          out),
              0)
        << out;
    ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(fresh.address()) == 0; },
                           2 * refresh + 2s));
    EXPECT_EQ(subscribed_nodes(n), primary_names(c.topology()));
    // Nothing was lost at any step: no gap.
    for (const auto& g : col.gaps())
        ADD_FAILURE() << "gap on " << g.node << ": " << g.detail;
}

TEST(Cluster, SubscribingReplicasTooDuplicatesEveryNotification) {
    redis_cluster c;
    auto o = cluster_options_for(c);
    o.subscribe_replicas = true;
    cluster_keyspace_notifications n(o);
    n.subscribe_keyspace("dup:*");
    collector col(n);
    ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).size() == 6; }, 5s));
    std::vector<std::string> keys;
    for (int i = 0; i < 30; ++i)
        keys.push_back("dup:" + std::to_string(i));
    cluster_writer w(c);
    w.set_many(keys);
    wait_settled(col, 2 * keys.size());
    // Once from the primary, once from its replica replaying the write.
    std::map<std::string, std::set<std::string>> nodes_of;
    for (const auto& [key, node] : col.received())
        nodes_of[key].insert(node);
    ASSERT_EQ(nodes_of.size(), keys.size());
    for (const auto& [key, nodes] : nodes_of)
        EXPECT_EQ(nodes.size(), 2u) << key;
    EXPECT_EQ(col.count(), 2 * keys.size());
}

/// Waits until `count` standbys are subscribed on their servers (a pattern each: what the
/// replica applies from then on is published to them).
bool standbys_subscribed(redis_cluster& c, notifier_base& n, std::size_t count = 3) {
    return wait_until([&] {
        const auto standbys = standby_nodes(n);
        if (standbys.size() != count) return false;
        for (const auto& name : standbys) {
            const auto port =
                static_cast<std::uint16_t>(std::stoi(name.substr(name.rfind(':') + 1)));
            if (c.node(port).command({"PUBSUB", "NUMPAT"}).integer < 1) return false;
        }
        return true;
    });
}

cluster_options redundant_options(redis_cluster& c) {
    auto o = cluster_options_for(c);
    o.redundancy = redundancy_mode::replica;
    return o;
}

/// A cluster watched with redundancy ("<prefix>*"), every standby subscribed, and a steady
/// writer of "<prefix><n>" keys on it that wrote 200 already; `primary` and `replica` are
/// those of slot 0's shard.
struct redundant_run {
    redis_cluster c;
    cluster_keyspace_notifications n{redundant_options(c)};
    diagnostics d;
    std::optional<collector> col;
    std::optional<write_load> load;
    net::endpoint primary, replica;

    explicit redundant_run(const std::string& prefix) {
        d.attach(n);
        n.subscribe_keyspace(prefix + "*");
        col.emplace(n);
        EXPECT_TRUE(standbys_subscribed(c, n));
        load.emplace(c, prefix);
        EXPECT_TRUE(wrote_more(*load, 200)) << "writes before the fault";
        const auto t = c.topology();
        const auto* shard0 = t.owner(0);
        primary = shard0->primary.address;
        replica = shard0->replicas.front().address;
    }
};

/// Writes never notified, by whether the cluster holds them: a write acknowledged by a
/// primary that crashed before it replicated it is lost by the cluster itself, and no
/// stream could publish it.
struct unnotified {
    std::size_t held = 0, lost_by_cluster = 0;
    std::string example;
};
unnotified unnotified_writes(redis_cluster& c, const std::vector<write_load::write>& writes,
                             const std::vector<std::pair<std::string, std::string>>& received) {
    std::set<std::string> notified;
    for (const auto& [key, node] : received)
        notified.insert(key);
    unnotified out;
    for (const auto& w : writes) {
        if (notified.count(w.key)) continue;
        const auto v = c.node(c.owner_port(w.key)).command({"EXISTS", w.key});
        if (v.integer == 1) {
            ++out.held;
            if (out.example.empty()) out.example = w.key;
        } else {
            ++out.lost_by_cluster;
        }
    }
    return out;
}

/// Once the load wrote `more` after a failover of slot 0's shard to `replica`: stops it,
/// waits for the notifications, and checks that the promoted replica reported no gap,
/// every write outside a gap was notified, every write the cluster still holds was
/// notified, and every repeat (each key is written once) was marked. Prints the figures
/// under `label`.
void expect_covered_failover(redundant_run& run, std::size_t more, const std::string& label) {
    auto& col = *run.col;
    ASSERT_TRUE(wrote_more(*run.load, more)) << "writes after the failover";
    run.load->stop();
    const auto writes = run.load->writes();
    wait_settled(col, writes);
    const auto gaps = col.gaps();
    for (const auto& g : gaps)
        EXPECT_NE(g.node, run.replica.to_string()) << "a gap on the promoted standby: " << g.detail;
    expect_all_outside_gaps_received(writes, col);
    // What the cluster lost (acknowledged by the old primary, never replicated) no stream
    // could publish.
    const auto received = col.received();
    const auto u = unnotified_writes(run.c, writes, received);
    EXPECT_EQ(u.held, 0u) << "e.g. " << u.example;
    const auto rep = check_repeats(received, col.redelivered());
    EXPECT_EQ(rep.mismatched, 0u) << rep.example;
    std::cout << label << " with redundancy: " << writes.size() << " writes, "
              << writes.size() - u.held - u.lost_by_cluster << " notified, " << u.lost_by_cluster
              << " lost by the cluster, " << rep.repeats << " repeats (all marked redelivered), "
              << gaps.size() << " gaps\n";
}

TEST(Redundancy, EachPrimaryHasAStandbyReplicaWhoseStreamIsHeldNotDelivered) {
    redis_cluster c;
    cluster_keyspace_notifications n(redundant_options(c));
    n.subscribe_keyspace("r:*");
    collector col(n);
    std::set<std::string> firsts;
    const auto t = c.topology();
    for (const auto& s : t.shards())
        firsts.insert(s.replicas.front().address.to_string());
    ASSERT_TRUE(standbys_subscribed(c, n)) << standby_nodes(n).size() << " standbys";
    EXPECT_EQ(standby_nodes(n), firsts);
    EXPECT_EQ(subscribed_nodes(n), primary_names(c.topology()));
    std::vector<std::string> keys;
    for (int i = 0; i < 60; ++i)
        keys.push_back("r:" + std::to_string(i));
    cluster_writer w(c);
    w.set_many(keys);
    wait_settled(col, keys.size());
    // Every replica published its copies too: held, once each.
    std::uint64_t held = 0;
    ASSERT_TRUE(wait_until([&] {
        held = 0;
        for (const auto& s : n.stats().nodes)
            held += s.standby ? s.held : 0;
        return held >= keys.size();
    })) << held;
    EXPECT_EQ(held, keys.size());
    EXPECT_EQ(col.count(), keys.size());
    EXPECT_TRUE(col.redelivered().empty());
    EXPECT_TRUE(col.gaps().empty());
}

TEST(Redundancy, ClientKillOfAPrimarysSubscriberIsCoveredByItsStandbyWithoutAGap) {
    redundant_run run("k:");
    const auto standby = run.replica.to_string();
    // Cuts ksn's subscriber connection to the primary (the standby is on the replica).
    const auto killed = run.c.node(run.primary.port).command({"CLIENT", "KILL", "TYPE", "pubsub"});
    ASSERT_EQ(killed.integer, 1) << killed.data;
    ASSERT_TRUE(
        wait_until([&] { return run.d.contains("covered its interruption without loss"); }, 10s))
        << run.d.all();
    const auto res = expect_lossless(*run.load, *run.col, 300);
    std::size_t from_standby = 0;
    for (const auto& [key, node] : res.received)
        from_standby += node == standby;
    EXPECT_GT(from_standby, 0u) << "the standby delivered nothing";
    std::cout << "CLIENT KILL with redundancy: " << res.writes << " writes, all notified, "
              << from_standby << " from the standby, " << res.repeats
              << " repeats (all marked redelivered), no gap\n";
}

TEST(Redundancy, ACrashedPrimarysStandbyContinuesItsStreamAndIsPromotedWithoutAGap) {
    redundant_run run("x:");
    auto& c = run.c;
    auto& n = run.n;
    const auto victim = run.primary;
    const auto replica = run.replica;
    c.node(victim.port).kill9();
    ASSERT_TRUE(promoted(c, replica));
    ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(replica.to_string()) == 1; },
                           2 * refresh + 2s));
    EXPECT_TRUE(wait_until([&] { return subscribed_nodes(n).count(victim.to_string()) == 0; }, 5s))
        << "the dead primary is still subscribed";
    expect_covered_failover(run, 300, "kill -9");
    EXPECT_TRUE(run.d.contains("without loss: as its standby")) << run.d.all();
    // A dead node acknowledges nothing: no gap at all.
    expect_no_gaps(run.col->gaps());
}

TEST(Redundancy, AStalledPrimarysStandbyIsPromotedWithoutAGapAndTheStalledNodeGapsOnlyAfter) {
    redundant_run run("y:");
    auto& c = run.c;
    auto& n = run.n;
    const auto victim = run.primary;
    const auto replica = run.replica;
    // Stalled past cluster-node-timeout: the standby is promoted, whichever ksn finds out
    // first (the promotion, or the health check). The stalled node acknowledges the write
    // waiting in its socket once it runs again, before it learns it was replaced.
    c.node(victim.port).pause();
    ASSERT_TRUE(promoted(c, replica));
    ASSERT_TRUE(wait_until([&] { return subscribed_nodes(n).count(replica.to_string()) == 1; },
                           2 * refresh + 2s));
    c.node(victim.port).resume();
    c.wait_stable(30s, 1);
    // What the stalled node acknowledged after the promotion it lost (a full resync from
    // the new primary): inside its own gap, which begins at the promotion.
    expect_covered_failover(run, 300, "SIGSTOP");
    for (const auto& g : run.col->gaps())
        EXPECT_EQ(g.node, victim.to_string()) << g.detail;
    ASSERT_TRUE(notifier_caught_up(n, c));
    EXPECT_TRUE(wait_until([&] { return subscribed_nodes(n).count(victim.to_string()) == 0; }, 5s));
}

TEST(Redundancy, ExcludesSubscribingEveryReplica) {
    cluster_options o;
    o.redundancy = redundancy_mode::replica;
    o.subscribe_replicas = true;
    EXPECT_THROW(cluster_keyspace_notifications n(o), std::invalid_argument);
}

TEST(ClusterSeeds, EveryDeadSeedIsAClearError) {
    cluster_options o;
    const auto a = free_port(), b = free_port();
    o.seeds = {{"127.0.0.1", a}, {"127.0.0.1", b}};
    o.refresh_interval = refresh;
    o.subscribe_timeout = 3s;
    o.connection.connect_timeout = 1s;
    cluster_keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    try {
        n.subscribe_keyspace("x");
        FAIL() << "subscribe succeeded with no reachable seed";
    } catch (const ksn::error& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.code(), notifier_errc::not_connected) << what;
        EXPECT_NE(what.find("127.0.0.1:" + std::to_string(a)), std::string::npos) << what;
        EXPECT_NE(what.find("127.0.0.1:" + std::to_string(b)), std::string::npos) << what;
    }
}

TEST(ClusterSeeds, OneDeadSeedOfThreeIsFine) {
    redis_cluster c;
    auto o = cluster_options_for(c);
    o.seeds = {{"127.0.0.1", free_port()}, c.seeds()[1], c.seeds()[2]};
    cluster_keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    n.subscribe_keyevent("set");
    collector col(n);
    cluster_writer w(c);
    w.set_many({"a", "b", "c", "d", "e", "f"});
    EXPECT_TRUE(wait_until([&] { return col.count() == 6; }, 5s));
    EXPECT_EQ(subscribed_nodes(n).size(), 3u);
}

TEST(ClusterTopology, ANodeThatRefusesClusterShardsIsAskedClusterSlots) {
    // An ACL user without cluster|shards (as on a server older than Redis 7, which lacks
    // it): every node refuses CLUSTER SHARDS to it, and answers CLUSTER SLOTS.
    redis_cluster c;
    for (auto& node : c.nodes()) {
        node->command(
            {"ACL", "SETUSER", "old", "on", ">pw", "~*", "&*", "+@all", "-cluster|shards"});
        node->command({"ACL", "LOG", "RESET"});
    }
    auto o = cluster_options_for(c);
    o.connection.username = "old";
    o.connection.password = "pw";
    cluster_keyspace_notifications n(o);
    n.subscribe_keyevent("set");
    collector col(n);
    EXPECT_EQ(subscribed_nodes(n), primary_names(c.topology()));
    cluster_writer w(c);
    w.set_many({"a", "b", "c", "d", "e", "f"});
    EXPECT_TRUE(wait_until([&] { return col.count() == 6; }, 5s)) << col.count();
    EXPECT_TRUE(col.gaps().empty());
    // It did ask CLUSTER SHARDS first, and was refused.
    std::size_t refused = 0;
    for (auto& node : c.nodes()) {
        const auto log = node->command({"ACL", "LOG"});
        for (const auto& entry : log.elements) {
            for (std::size_t i = 0; i + 1 < entry.elements.size(); i += 2) {
                if (entry.elements[i].data == "object" &&
                    entry.elements[i + 1].data == "cluster|shards") {
                    ++refused;
                }
            }
        }
    }
    EXPECT_GE(refused, 1u);
}

// --- partial availability ---------------------------------------------------------------

/// The slot ranges of the shard whose primary listens on `port`, as a gap names them.
std::vector<std::pair<std::uint16_t, std::uint16_t>> slots_of(const cluster::topology& t,
                                                              std::uint16_t port) {
    std::vector<std::pair<std::uint16_t, std::uint16_t>> out;
    for (const auto& shard : t.shards()) {
        if (shard.primary.address.port != port) continue;
        for (const auto& r : shard.slots)
            out.emplace_back(r.first, r.last);
    }
    return out;
}

/// A key (prefix + number) whose slot the primary on `port` serves.
std::string key_served_by(redis_cluster& c, std::uint16_t port, const std::string& prefix) {
    const auto t = c.topology();
    for (int i = 0; i < 100000; ++i) {
        auto key = prefix + std::to_string(i);
        const auto* owner = t.owner(cluster::key_slot(key));
        if (owner != nullptr && owner->primary.address.port == port) return key;
    }
    throw std::runtime_error("no key found for port " + std::to_string(port));
}

/// 3 primaries, no replica, whose live shards keep serving while one is down (the
/// deployment partial availability is for: cluster-require-full-coverage no).
const std::vector<std::string> partial_coverage = {"cluster-require-full-coverage no"};

/// Waits for the first gap `col` collected, at most `limit` (scaled).
std::optional<gap_event> first_gap(collector& col, std::chrono::milliseconds limit) {
    if (!wait_until([&] { return !col.gaps().empty(); }, limit)) return std::nullopt;
    return col.gaps().front();
}

TEST(ClusterPartial, APrimaryDownAtStartIsAGapNotAFailure) {
    redis_cluster c(3, 0, partial_coverage);
    const auto before = c.topology();
    auto& down = *c.nodes()[2];
    const auto down_slots = slots_of(before, down.port());
    ASSERT_FALSE(down_slots.empty());
    // Keys chosen while every node answers.
    const auto live_key = key_served_by(c, c.nodes()[0]->port(), "live:");
    const auto down_key = key_served_by(c, down.port(), "back:");
    down.kill9();
    cluster_keyspace_notifications n(cluster_options_for(c));
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("*");  // succeeds on the two primaries it reaches
    EXPECT_TRUE(n.subscribed());
    EXPECT_TRUE(wait_until([&] { return diag.contains(down.address() + " (slots "); }, 2s))
        << diag.all();
    EXPECT_TRUE(diag.contains("subscribed without it")) << diag.all();
    collector col(n);
    c.nodes()[0]->command({"SET", live_key, "v"});
    ASSERT_TRUE(wait_until([&] { return col.count() == 1; }, 5s)) << diag.all();
    EXPECT_TRUE(col.gaps().empty());

    // The primary comes back: its gap, then its notifications.
    down.start();
    const auto gap = first_gap(col, 20s);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_EQ(gap->node, down.address());
    EXPECT_EQ(gap->reason, gap_reason::node_unreachable) << gap->detail;
    EXPECT_EQ(gap->slots, down_slots);
    EXPECT_TRUE(gap->restored.has_value());
    cluster_writer w(c);  // retries CLUSTERDOWN until the cluster takes it back
    w.set(down_key);
    EXPECT_TRUE(wait_until([&] { return col.count() == 2; }, 5s)) << diag.all();
}

TEST(ClusterPartial, AStalledPrimaryDoesNotHoldUpTheOthers) {
    redis_cluster c(3, 0, partial_coverage);
    auto& stalled = *c.nodes()[1];
    const auto stalled_slots = slots_of(c.topology(), stalled.port());
    const auto live_key = key_served_by(c, c.nodes()[0]->port(), "live:");
    stalled.pause();  // accepts TCP connections (the kernel does), answers nothing
    auto o = cluster_options_for(c);
    o.subscribe_timeout = scaled(1500ms);
    cluster_keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("*");  // after subscribe_timeout, without the stalled one
    EXPECT_TRUE(diag.contains(stalled.address() + " (slots ")) << diag.all();
    EXPECT_TRUE(diag.contains("no confirmation within")) << diag.all();
    collector col(n);
    c.nodes()[0]->command({"SET", live_key, "v"});
    ASSERT_TRUE(wait_until([&] { return col.count() == 1; }, 5s)) << diag.all();
    stalled.resume();
    const auto gap = first_gap(col, 20s);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_EQ(gap->node, stalled.address());
    EXPECT_EQ(gap->reason, gap_reason::node_unreachable) << gap->detail;
    EXPECT_EQ(gap->slots, stalled_slots);
}

TEST(ClusterPartial, RequireEveryPrimaryFailsAndUndoesEverywhere) {
    redis_cluster c(3, 0);
    auto& down = *c.nodes()[2];
    down.kill9();
    auto o = cluster_options_for(c);
    o.require_every_primary = true;
    cluster_keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    try {
        n.subscribe_keyspace("*");
        FAIL() << "subscribe succeeded with a primary down";
    } catch (const ksn::error& e) {
        EXPECT_EQ(e.code(), notifier_errc::not_connected) << e.what();
        EXPECT_NE(std::string(e.what()).find(down.address()), std::string::npos) << e.what();
    }
    EXPECT_FALSE(n.subscribed());
    // Nothing of it stays on the primaries it reached.
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_TRUE(wait_until(
            [&] {
                const auto v = c.nodes()[i]->command({"PUBSUB", "NUMPAT"});
                return v.data == "0" || v.integer == 0;
            },
            3s));
    }
}

}  // namespace
}  // namespace ksn::test
