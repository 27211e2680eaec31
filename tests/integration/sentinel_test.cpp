// Sentinel against real redis-server processes (tests/support/redis_sentinel.hpp: 1
// primary, 1 replica, 3 sentinels).
//
// SentinelFixture: the fixture itself: it starts stable, follows a crash failover and a
// rejoin, two manual failovers in a row and a sentinel's restart, and authentication on
// the sentinels and the data nodes.
//
// SentinelNotifier: sentinel_keyspace_notifications follows the primary the sentinels
// name through a crash (kill -9), a primary stopped past its failover (SIGSTOP, then
// SIGCONT) and SENTINEL FAILOVER, with a writer that follows the primary too: every
// acknowledged write not notified lies in a reported gap.
//
// No test sleeps to let something happen: each waits (bounded, scaled by
// tests/support/timing.hpp) on the condition it needs, through the fixture.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sentinel/sentinel_keyspace_notifications.hpp"
#include "tests/support/cluster_checks.hpp"
#include "tests/support/redis_sentinel.hpp"
#include "tests/support/timing.hpp"

namespace ksn::test {
namespace {

using namespace std::chrono_literals;

/// The port sentinel i names for the primary (SENTINEL GET-MASTER-ADDR-BY-NAME).
std::uint16_t named_by(redis_sentinel_set& s, std::size_t i) {
    const auto v = s.sentinel(i).command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.primary_name()});
    EXPECT_EQ(v.elements.size(), 2u) << v.data;
    if (v.elements.size() != 2) return 0;
    EXPECT_EQ(v.elements[0].data, "127.0.0.1");
    return static_cast<std::uint16_t>(std::stoi(v.elements[1].data));
}

/// The flags sentinel i gives the one replica it lists; empty when it lists none or more.
std::string replica_flags(redis_sentinel_set& s, std::size_t i) {
    const auto v = s.sentinel(i).command({"SENTINEL", "REPLICAS", s.primary_name()});
    if (v.elements.size() != 1) return {};
    const auto& fields = v.elements[0].elements;
    for (std::size_t f = 0; f + 1 < fields.size(); f += 2) {
        if (fields[f].data == "flags") return fields[f + 1].data;
    }
    return {};
}

std::string role(redis_server& n) {
    const auto v = n.command({"ROLE"});
    return v.elements.empty() ? v.data : v.elements[0].data;
}

TEST(SentinelFixture, StartsWithEverySentinelNamingThePrimary) {
    redis_sentinel_set s;
    const auto primary = s.primary_at_start().port();
    EXPECT_EQ(s.primary_name(), "ksnprimary");
    EXPECT_EQ(s.current_primary(), primary);
    ASSERT_EQ(s.sentinel_count(), 3u);
    const auto endpoints = s.sentinel_endpoints();
    ASSERT_EQ(endpoints.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(endpoints[i].host, "127.0.0.1");
        EXPECT_EQ(endpoints[i].port, s.sentinel(i).port());
        EXPECT_EQ(named_by(s, i), primary) << "sentinel " << i;
        EXPECT_EQ(role(s.sentinel(i)), "sentinel");
        // Each knows the replica and the two others.
        EXPECT_EQ(replica_flags(s, i), "slave") << "sentinel " << i;
        EXPECT_EQ(
            s.sentinel(i).command({"SENTINEL", "SENTINELS", s.primary_name()}).elements.size(), 2u);
    }
    EXPECT_EQ(role(s.primary_at_start()), "master");
    EXPECT_EQ(role(s.replica_at_start()), "slave");
    EXPECT_EQ(&s.node(primary), &s.primary_at_start());
    EXPECT_EQ(&s.other_node(primary), &s.replica_at_start());
    EXPECT_THROW(s.node(1), std::runtime_error);
    // The data nodes publish keyspace events (KEA is stored as its canonical "AKE").
    const auto notify = s.primary_at_start().command({"CONFIG", "GET", "notify-keyspace-events"});
    ASSERT_EQ(notify.elements.size(), 2u);
    EXPECT_EQ(notify.elements[1].data, "AKE");
    // Writes on the primary reach the replica.
    EXPECT_EQ(s.primary_at_start().command({"SET", "k", "v"}).data, "OK");
    EXPECT_TRUE(wait_until(
        [&] {
            return s.replica_at_start().command({"GET", "k"}).data == "v";
        },
        5s));

    // A paused sentinel is left out of the fixture's questions, not waited for.
    s.sentinel(0).pause();
    EXPECT_EQ(s.current_primary(), primary);
    EXPECT_EQ(s.wait_stable(), primary);
    s.sentinel(0).resume();

    // A wait that cannot succeed says what each sentinel said.
    try {
        s.wait_primary_changed(primary, 1s);
        ADD_FAILURE() << "wait_primary_changed returned without a failover";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("names " + s.primary_at_start().address()),
                  std::string::npos)
            << e.what();
    }

    // Without a replica the sentinels accept, SENTINEL FAILOVER is refused, and failover()
    // says why. Sentinel 0 is asked once it has seen the replica's connection go.
    s.replica_at_start().kill9();
    ASSERT_TRUE(wait_until(
        [&] { return replica_flags(s, 0).find("disconnected") != std::string::npos; }, 5s));
    try {
        s.failover();
        ADD_FAILURE() << "failover() returned without a replica";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("NOGOODSLAVE"), std::string::npos) << e.what();
    }
}

TEST(SentinelFixture, Kill9OfThePrimaryPromotesTheReplicaAndTheOldPrimaryRejoins) {
    redis_sentinel_set s;
    auto& old_primary = s.primary_at_start();
    const auto old_port = old_primary.port();
    old_primary.kill9();
    const auto promoted = s.wait_primary_changed(old_port);
    EXPECT_EQ(promoted, s.replica_at_start().port());
    EXPECT_EQ(s.current_primary(), promoted);
    for (std::size_t i = 0; i < s.sentinel_count(); ++i)
        EXPECT_EQ(named_by(s, i), promoted) << "sentinel " << i;
    EXPECT_EQ(role(s.replica_at_start()), "master");

    // Restarted, it comes up a primary of its own (its config has no replicaof) until the
    // sentinels make it a replica of the new one.
    old_primary.start();
    s.wait_replica_of(old_port, promoted);
    EXPECT_EQ(s.wait_stable(), promoted);
    EXPECT_EQ(role(old_primary), "slave");
    EXPECT_EQ(s.replica_at_start().command({"SET", "k", "v"}).data, "OK");
    EXPECT_TRUE(wait_until([&] { return old_primary.command({"GET", "k"}).data == "v"; }, 5s));
}

TEST(SentinelFixture, TwoManualFailoversInARowSwitchAndSwitchBack) {
    redis_sentinel_set s;
    const auto first = s.primary_at_start().port();
    const auto second = s.replica_at_start().port();

    s.failover();
    EXPECT_EQ(s.wait_primary_changed(first), second);
    EXPECT_EQ(s.wait_stable(), second);
    EXPECT_EQ(role(s.primary_at_start()), "slave");

    s.failover();
    EXPECT_EQ(s.wait_primary_changed(second), first);
    EXPECT_EQ(s.wait_stable(), first);
    EXPECT_EQ(s.current_primary(), first);
    EXPECT_EQ(role(s.primary_at_start()), "master");
    EXPECT_EQ(role(s.replica_at_start()), "slave");
}

TEST(SentinelFixture, ARestartedSentinelKeepsItsIdAndRejoins) {
    redis_sentinel_set s;
    const auto id = s.sentinel(2).command({"SENTINEL", "MYID"}).data;
    ASSERT_EQ(id.size(), 40u) << id;
    s.sentinel(2).kill9();
    // The others are enough for the fixture; the dead one is left out.
    EXPECT_EQ(s.current_primary(), s.primary_at_start().port());
    EXPECT_EQ(s.wait_stable(), s.primary_at_start().port());

    s.start_sentinel(2);
    EXPECT_EQ(s.sentinel(2).command({"SENTINEL", "MYID"}).data, id);
    EXPECT_EQ(s.wait_stable(), s.primary_at_start().port());
    // Known again under the same id: no second entry for its address.
    for (std::size_t i = 0; i < 2; ++i) {
        const auto others = s.sentinel(i).command({"SENTINEL", "SENTINELS", s.primary_name()});
        EXPECT_EQ(others.elements.size(), 2u) << "sentinel " << i;
    }
    const auto periods = s.sentinel(2).command({"SENTINEL", "DEBUG"});
    ASSERT_GE(periods.elements.size(), 2u);
    EXPECT_EQ(periods.elements[0].data, "INFO-PERIOD");
    EXPECT_EQ(periods.elements[1].data, "1000");
}

TEST(SentinelFixture, PasswordsOnTheSentinelsAndTheDataNodes) {
    sentinel_options o;
    o.primary_name = "authprimary";
    o.sentinel_password = "sentinel-secret";
    o.data_password = "data-secret";
    redis_sentinel_set s(o);
    const auto primary = s.primary_at_start().port();
    EXPECT_EQ(s.current_primary(), primary);

    // Without the password a sentinel and a data node refuse.
    client anonymous_sentinel(s.sentinel(0).port());
    const auto refused = anonymous_sentinel.command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "x"});
    EXPECT_TRUE(refused.is_error());
    EXPECT_EQ(refused.data.rfind("NOAUTH", 0), 0u) << refused.data;
    client anonymous_node(primary);
    EXPECT_TRUE(anonymous_node.command({"GET", "k"}).is_error());

    // A crash failover needs the sentinels to vote with each other (sentinel-pass) and to
    // reach the data nodes (auth-pass).
    s.primary_at_start().kill9();
    EXPECT_EQ(s.wait_primary_changed(primary), s.replica_at_start().port());
}

TEST(SentinelFixture, AclUsersOnTheSentinelsAndTheDataNodes) {
    sentinel_options o;
    o.sentinel_user = "watcher";
    o.sentinel_password = "sentinel-secret";
    o.data_user = "app";
    o.data_password = "data-secret";
    redis_sentinel_set s(o);
    EXPECT_EQ(s.current_primary(), s.primary_at_start().port());
    // The default users are off.
    client anonymous_sentinel(s.sentinel(1).port());
    EXPECT_TRUE(anonymous_sentinel.command({"AUTH", "sentinel-secret"}).is_error());
    client anonymous_node(s.replica_at_start().port());
    EXPECT_TRUE(anonymous_node.command({"AUTH", "data-secret"}).is_error());
    EXPECT_EQ(anonymous_node.command({"AUTH", "app", "data-secret"}).data, "OK");
    EXPECT_EQ(anonymous_node.command({"ROLE"}).elements.at(0).data, "slave");
}

// --- the notifier ----------------------------------------------------------------------

/// A notifier on `s`'s sentinels: short timeouts (scaled: bounds a sanitized notifier must
/// meet) and reconnect delays, the primary re-checked every 500 ms.
ksn::sentinel_options notifier_options_for(redis_sentinel_set& s) {
    ksn::sentinel_options o;
    o.sentinels = s.sentinel_endpoints();
    o.primary_name = s.primary_name();
    o.check_interval = 500ms;
    o.reply_timeout = scaled(1s);
    o.connection.connect_timeout = scaled(2s);
    o.connection.health_check_interval = 1s;
    o.connection.health_check_timeout = scaled(1s);
    o.connection.reconnect.initial_delay = 20ms;
    o.connection.reconnect.max_delay = 200ms;
    o.sentinel_connection.connect_timeout = scaled(2s);
    o.sentinel_connection.reconnect.initial_delay = 20ms;
    o.sentinel_connection.reconnect.max_delay = 200ms;
    o.subscribe_timeout = scaled(5s);
    o.queue_capacity = 1 << 20;
    return o;
}

/// Writes "<prefix><n>" one by one (a 1 ms pause between, scaled) to whichever node the
/// sentinels name, asking them again after any failure (a dead or stopped primary, a
/// READONLY demoted one); records each acknowledged write.
class primary_writer {
  public:
    primary_writer(redis_sentinel_set& s, std::string prefix)
        : s_(s), prefix_(std::move(prefix)), thread_([this] { run(); }) {}
    ~primary_writer() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::size_t count() const noexcept { return count_.load(); }
    /// Writes acknowledged by the node on `port`.
    std::size_t count_on(std::uint16_t port) {
        std::lock_guard lock(m_);
        std::size_t n = 0;
        for (const auto& w : writes_)
            n += w.port == port ? 1 : 0;
        return n;
    }
    std::vector<write_load::write> writes() {
        std::lock_guard lock(m_);
        return writes_;
    }

  private:
    void run() {
        std::unique_ptr<client> c;
        std::uint16_t port = 0;
        // Bounded: at most 200000 writes, and the test stops it long before.
        for (std::size_t i = 0; !stop_ && i < 200000; ++i) {
            try {
                if (!c) {
                    port = s_.current_primary();
                    c = std::make_unique<client>(port, 500ms);
                }
                write_load::write w;
                w.key = prefix_ + std::to_string(i);
                w.port = port;
                w.sent = clock::now();
                const auto reply = c->command({"SET", w.key, "v"});
                w.acked = clock::now();
                if (reply.is_error()) {
                    c.reset();  // READONLY (demoted), or a failover in progress
                } else {
                    std::lock_guard lock(m_);
                    writes_.push_back(std::move(w));
                    ++count_;
                }
            } catch (const std::exception&) {
                c.reset();  // the primary died or stopped, or the sentinels disagree
                std::this_thread::sleep_for(10ms);
            }
            std::this_thread::sleep_for(scaled(1ms));
        }
    }

    redis_sentinel_set& s_;
    std::string prefix_;
    std::mutex m_;
    std::vector<write_load::write> writes_;
    std::atomic<std::size_t> count_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

/// How many of `col`'s notifications came from the node on `port`.
std::size_t received_from(collector& col, std::uint16_t port) {
    const std::string node = "127.0.0.1:" + std::to_string(port);
    std::size_t n = 0;
    for (const auto& r : col.received())
        n += r.second == node ? 1 : 0;
    return n;
}

/// The nodes the notifier has open now.
std::vector<std::string> open_nodes(notifier_base& n) {
    std::vector<std::string> names;
    for (const auto& node : n.stats().nodes)
        names.push_back(node.node);
    return names;
}

/// Stops the writer, lets the notifications settle and checks that every acknowledged
/// write was notified or lies in a gap; returns the gaps.
std::vector<gap_event> expect_nothing_lost_outside_gaps(primary_writer& w, collector& col) {
    w.stop();
    const auto writes = w.writes();
    wait_settled(col, writes);
    const auto gaps = col.gaps();
    const auto report = check_delivery(writes, col.received(), gaps);
    EXPECT_GT(report.writes, 0u);
    EXPECT_EQ(report.missing, 0u) << "first missing: " << report.example << " (" << report.writes
                                  << " writes, " << report.received << " notified, "
                                  << report.excused << " in gaps)";
    return gaps;
}

/// The gap the new primary reported for the switch, if any.
const gap_event* switch_gap(const std::vector<gap_event>& gaps, std::uint16_t to) {
    const std::string node = "127.0.0.1:" + std::to_string(to);
    for (const auto& g : gaps) {
        if (g.node == node && g.reason == gap_reason::topology_change) return &g;
    }
    return nullptr;
}

TEST(SentinelNotifier, RejectsOptionsWithoutSentinelsOrAName) {
    ksn::sentinel_options o;
    o.primary_name = "x";
    EXPECT_THROW(sentinel_keyspace_notifications{o}, std::invalid_argument);
    o.sentinels = {net::endpoint("127.0.0.1", 26379)};
    o.primary_name.clear();
    EXPECT_THROW(sentinel_keyspace_notifications{o}, std::invalid_argument);
}

TEST(SentinelNotifier, FollowsThePrimaryTheSentinelsName) {
    redis_sentinel_set s;
    const auto primary = s.primary_at_start().port();
    sentinel_keyspace_notifications n(notifier_options_for(s));
    n.subscribe_keyspace("k:*");
    ASSERT_TRUE(n.primary());
    EXPECT_EQ(n.primary()->port, primary);
    for (int i = 0; i < 10; ++i)
        s.primary_at_start().command({"SET", "k:" + std::to_string(i), "v"});
    for (int i = 0; i < 10; ++i) {
        auto d = n.next(scaled(5s));
        ASSERT_TRUE(d) << i;
        ASSERT_TRUE(d->is_notification());
        EXPECT_EQ(d->notification().key(), "k:" + std::to_string(i));
        EXPECT_EQ(d->notification().node(), "127.0.0.1:" + std::to_string(primary));
    }
    // Only the primary is subscribed: the replica publishes the same events.
    EXPECT_EQ(open_nodes(n), std::vector<std::string>{"127.0.0.1:" + std::to_string(primary)});
}

TEST(SentinelNotifier, CrashFailoverLosesNothingOutsideItsGaps) {
    redis_sentinel_set s;
    const auto old_primary = s.primary_at_start().port();
    const auto replica = s.replica_at_start().port();
    sentinel_keyspace_notifications n(notifier_options_for(s));
    n.subscribe_keyspace("c:*");
    collector col(n);
    primary_writer w(s, "c:");
    ASSERT_TRUE(wait_until([&] { return received_from(col, old_primary) >= 100; }));

    s.primary_at_start().kill9();
    EXPECT_EQ(s.wait_primary_changed(old_primary), replica);
    // Notifications resume from the new primary, and the dead one is given up (connecting
    // to it is refused).
    ASSERT_TRUE(wait_until([&] { return w.count_on(replica) >= 100; }, 20s));
    ASSERT_TRUE(wait_until([&] { return received_from(col, replica) >= 50; }, 10s));
    EXPECT_TRUE(wait_until([&] { return open_nodes(n).size() == 1; }, 10s));
    EXPECT_EQ(n.primary()->port, replica);

    const auto gaps = expect_nothing_lost_outside_gaps(w, col);
    const auto* g = switch_gap(gaps, replica);
    ASSERT_NE(g, nullptr) << "no topology_change gap on the new primary";
    EXPECT_TRUE(g->restored);
    EXPECT_LT(g->lost, *g->restored);
    EXPECT_NE(g->detail.find("moved from 127.0.0.1:" + std::to_string(old_primary)),
              std::string::npos)
        << g->detail;
}

TEST(SentinelNotifier, APrimaryStoppedPastItsFailoverStaysSubscribedUntilItIsAReplica) {
    redis_sentinel_set s;
    const auto old_primary = s.primary_at_start().port();
    const auto replica = s.replica_at_start().port();
    const std::string old_name = "127.0.0.1:" + std::to_string(old_primary);
    sentinel_keyspace_notifications n(notifier_options_for(s));
    n.subscribe_keyspace("p:*");
    collector col(n);
    primary_writer w(s, "p:");
    ASSERT_TRUE(wait_until([&] { return received_from(col, old_primary) >= 100; }));

    s.primary_at_start().pause();
    EXPECT_EQ(s.wait_primary_changed(old_primary), replica);
    ASSERT_TRUE(wait_until([&] { return received_from(col, replica) >= 50; }, 20s));
    // The stopped primary does not answer ROLE: it is kept.
    const auto during = open_nodes(n);
    EXPECT_NE(std::find(during.begin(), during.end(), old_name), during.end());

    // Resumed, it is a primary until the sentinels make it a replica; then it is closed.
    s.primary_at_start().resume();
    s.wait_replica_of(old_primary, replica);
    EXPECT_TRUE(wait_until([&] { return open_nodes(n).size() == 1; }, 10s));
    EXPECT_EQ(open_nodes(n), std::vector<std::string>{"127.0.0.1:" + std::to_string(replica)});

    const auto gaps = expect_nothing_lost_outside_gaps(w, col);
    EXPECT_NE(switch_gap(gaps, replica), nullptr);
}

TEST(SentinelNotifier, ManualFailoverSwitchesAndLosesNothingOutsideItsGaps) {
    redis_sentinel_set s;
    const auto old_primary = s.primary_at_start().port();
    const auto replica = s.replica_at_start().port();
    sentinel_keyspace_notifications n(notifier_options_for(s));
    n.subscribe_keyspace("m:*");
    collector col(n);
    primary_writer w(s, "m:");
    ASSERT_TRUE(wait_until([&] { return received_from(col, old_primary) >= 100; }));

    s.failover();
    EXPECT_EQ(s.wait_primary_changed(old_primary), replica);
    ASSERT_TRUE(wait_until([&] { return received_from(col, replica) >= 50; }, 20s));
    // The old primary, alive, is closed once it says it is a replica.
    EXPECT_TRUE(wait_until([&] { return open_nodes(n).size() == 1; }, 20s));
    EXPECT_EQ(n.primary()->port, replica);

    const auto gaps = expect_nothing_lost_outside_gaps(w, col);
    EXPECT_NE(switch_gap(gaps, replica), nullptr);
}

// The handover of the cluster notifier (make before break) is tried here too, but a
// sentinel that turns the old primary into a replica also sends it CLIENT KILL TYPE
// pubsub (and normal): the old primary's subscriber connection is cut, so a SENTINEL
// FAILOVER always ends in the new primary's gap, whose detail says why. Nothing is
// written while the sentinels switch, so the old primary could have continued.
TEST(SentinelNotifier, AManualFailoverIsAGapBecauseTheSentinelsCutTheOldPrimarysSubscribers) {
    redis_sentinel_set s;
    const auto old_primary = s.primary_at_start().port();
    const auto replica = s.replica_at_start().port();
    sentinel_keyspace_notifications n(notifier_options_for(s));
    n.subscribe_keyspace("h:*");
    collector col(n);
    std::vector<write_load::write> writes;
    const auto write_to = [&](std::uint16_t port, int count) {
        client c(port);
        for (int i = 0; i < count; ++i) {
            write_load::write w;
            w.key = "h:" + std::to_string(writes.size());
            w.port = port;
            w.sent = clock::now();
            c.command({"SET", w.key, "v"});
            w.acked = clock::now();
            writes.push_back(std::move(w));
        }
    };
    write_to(old_primary, 100);
    ASSERT_TRUE(wait_until([&] { return received_from(col, old_primary) >= 100; }));
    s.failover();
    EXPECT_EQ(s.wait_primary_changed(old_primary), replica);
    write_to(replica, 2000);  // before, during and after ksn's switch
    EXPECT_TRUE(wait_until([&] { return open_nodes(n).size() == 1; }, 30s));
    write_to(replica, 100);
    wait_settled(col, writes);
    const auto gaps = col.gaps();
    const auto* g = switch_gap(gaps, replica);
    ASSERT_NE(g, nullptr) << "no topology_change gap on the new primary";
    const std::string old_name = "127.0.0.1:" + std::to_string(old_primary);
    EXPECT_NE(g->detail.find("; no handover from " + old_name + ": "), std::string::npos)
        << g->detail;
    const auto received = col.received();
    const auto r = check_delivery(writes, received, gaps);
    EXPECT_EQ(r.missing, 0u) << "e.g. " << r.example;
    const auto rep = check_repeats(received, col.redelivered());
    EXPECT_EQ(rep.mismatched, 0u) << rep.example;
    const std::size_t repeats = rep.repeats;
    std::cout << "sentinel manual failover: " << writes.size() << " writes, " << r.received
              << " notified, " << repeats << " repeats (marked redelivered), " << gaps.size()
              << " gaps; " << g->detail << "\n";
}

// --- redundancy (sentinel_options::redundancy = replica) ----------------------------------

ksn::sentinel_options redundant_options(redis_sentinel_set& s) {
    auto o = notifier_options_for(s);
    o.redundancy = redundancy_mode::replica;
    o.connection.client_name = "ksn-test";
    return o;
}

/// Waits until `n` has a standby on `replica` and its patterns are subscribed there (the
/// sentinels subscribe channels only, so PUBSUB NUMPAT counts ksn's).
bool standby_subscribed(notifier_base& n, redis_server& replica) {
    const std::string name = "127.0.0.1:" + std::to_string(replica.port());
    return wait_until([&] {
        bool standby = false;
        for (const auto& st : n.stats().nodes)
            standby = standby || (st.standby && st.node == name);
        return standby && replica.command({"PUBSUB", "NUMPAT"}).integer >= 1;
    });
}

/// Cuts ksn's pattern subscriber connections on `server` (client name "ksn-test"; the
/// sentinels' own connections stay); how many.
std::size_t kill_ksn_subscribers(redis_server& server) {
    std::istringstream lines(server.command({"CLIENT", "LIST", "TYPE", "pubsub"}).data);
    std::size_t killed = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.find(" name=ksn-test ") == std::string::npos) continue;
        if (line.find(" psub=0 ") != std::string::npos) continue;
        const auto id = line.substr(3, line.find(' ') - 3);  // "id=N ..."
        killed += static_cast<std::size_t>(server.command({"CLIENT", "KILL", "ID", id}).integer);
    }
    return killed;
}

/// A Sentinel set watched with redundancy ("<prefix>*"), its standby subscribed on the
/// replica, and a writer on it whose first 100 writes were notified.
struct redundant_run {
    redis_sentinel_set s;
    const std::uint16_t old_primary = s.primary_at_start().port();
    const std::uint16_t replica = s.replica_at_start().port();
    // Declared before the notifier, destroyed after it: its I/O thread reports into them
    // until it is closed.
    std::mutex m;
    std::vector<std::string> said;  // the diagnostics
    sentinel_keyspace_notifications n{redundant_options(s)};
    std::optional<collector> col;
    std::optional<primary_writer> w;

    explicit redundant_run(const std::string& prefix) {
        n.on_diagnostic([this](severity, const std::string& line) {
            std::lock_guard lock(m);
            said.push_back(line);
        });
        n.subscribe_keyspace(prefix + "*");
        EXPECT_TRUE(standby_subscribed(n, s.replica_at_start()));
        col.emplace(n);
        w.emplace(s, prefix);
        EXPECT_TRUE(wait_until([&] { return received_from(*col, old_primary) >= 100; }));
    }
    // A failed test shows what the notifier said, in its full log (the summary's WHY lines
    // show a test's first failure only).
    ~redundant_run() {
        if (!::testing::Test::HasFailure()) return;
        std::lock_guard lock(m);
        std::string all;
        for (const auto& l : said)
            all += "\n  said: " + l;
        ADD_FAILURE() << "the notifier's diagnostics (" << said.size() << "):" << all;
    }
    bool has_said(const std::string& needle) {
        std::lock_guard lock(m);
        for (const auto& l : said) {
            if (l.find(needle) != std::string::npos) return true;
        }
        return false;
    }
};

TEST(SentinelRedundancy, ClientKillOfThePrimarysSubscriberIsCoveredByTheStandbyWithoutAGap) {
    redundant_run run("rk:");
    auto& s = run.s;
    auto& col = *run.col;
    auto& w = *run.w;
    const auto replica = run.replica;
    // Held, not delivered, while the primary delivers.
    EXPECT_EQ(received_from(col, replica), 0u);
    ASSERT_EQ(kill_ksn_subscribers(s.primary_at_start()), 1u);
    ASSERT_TRUE(
        wait_until([&] { return run.has_said("covered its interruption without loss"); }, 10s))
        << "the switch back did not complete";
    ASSERT_TRUE(wait_until([&] { return w.count() >= 600; }, 20s));
    const auto gaps = expect_nothing_lost_outside_gaps(w, col);
    for (const auto& g : gaps)
        ADD_FAILURE() << "gap on " << g.node << " (" << to_string(g.reason) << "): " << g.detail;
    const auto writes = w.writes();
    const auto report = check_delivery(writes, col.received(), gaps);
    EXPECT_EQ(report.received, report.writes);
    EXPECT_GT(received_from(col, replica), 0u) << "the standby delivered nothing";
    std::cout << "sentinel, CLIENT KILL with redundancy: " << report.writes << " writes, "
              << report.received << " notified, " << received_from(col, replica)
              << " from the standby, " << col.redelivered().size() << " redelivered, "
              << gaps.size() << " gaps\n";
}

TEST(SentinelRedundancy, ACrashedPrimarysStandbyContinuesItAndIsPromotedWithAGapOnlyFromItsCut) {
    redundant_run run("rc:");
    auto& s = run.s;
    auto& n = run.n;
    auto& col = *run.col;
    auto& w = *run.w;
    const auto old_primary = run.old_primary;
    const auto replica = run.replica;

    const auto killed = clock::now();
    s.primary_at_start().kill9();
    EXPECT_EQ(s.wait_primary_changed(old_primary), replica);
    ASSERT_TRUE(wait_until([&] { return w.count_on(replica) >= 100; }, 20s));
    ASSERT_TRUE(wait_until([&] { return received_from(col, replica) >= 50; }, 10s));
    EXPECT_EQ(n.primary()->port, replica);

    const auto gaps = expect_nothing_lost_outside_gaps(w, col);
    // The standby delivered in the dead primary's place from the kill until the sentinels
    // cut its subscription with the promotion (after the kill: its effect): the new
    // primary's gap begins there, and the dead one reports none.
    const auto* g = switch_gap(gaps, replica);
    ASSERT_NE(g, nullptr) << "no topology_change gap on the new primary";
    ASSERT_TRUE(g->restored);
    EXPECT_GT(g->lost, killed) << g->detail;
    EXPECT_NE(g->detail.find("until its own subscription was cut"), std::string::npos) << g->detail;
    for (const auto& other : gaps) {
        EXPECT_NE(other.node, "127.0.0.1:" + std::to_string(old_primary))
            << to_string(other.reason) << ": " << other.detail;
    }
    const auto writes = w.writes();
    const auto report = check_delivery(writes, col.received(), gaps);
    std::cout
        << "sentinel, kill -9 with redundancy: " << report.writes << " writes, " << report.received
        << " notified, " << report.excused << " not notified (inside the gap), gap of "
        << std::chrono::duration_cast<std::chrono::microseconds>(*g->restored - g->lost).count()
        << " us beginning "
        << std::chrono::duration_cast<std::chrono::milliseconds>(g->lost - killed).count()
        << " ms after the kill\n";
}

/// The nodes `n` delivers from (its standby left out).
std::vector<std::string> serving_nodes(notifier_base& n) {
    std::vector<std::string> names;
    for (const auto& node : n.stats().nodes) {
        if (!node.standby) names.push_back(node.node);
    }
    return names;
}

TEST(SentinelRedundancy, AStalledPrimarysStandbyIsPromotedAndTheStalledNodeGapsOnlyAfterItsCut) {
    redundant_run run("rp:");
    auto& s = run.s;
    auto& n = run.n;
    auto& col = *run.col;
    auto& w = *run.w;
    const auto old_primary = run.old_primary;
    const auto replica = run.replica;
    const std::string old_name = "127.0.0.1:" + std::to_string(old_primary);

    const auto stopped = clock::now();
    s.primary_at_start().pause();
    EXPECT_EQ(s.wait_primary_changed(old_primary), replica);
    ASSERT_TRUE(wait_until([&] { return received_from(col, replica) >= 50; }, 20s));
    // Resumed, it is a primary until the sentinels make it a replica; then it is closed
    // (and may become the new primary's standby).
    s.primary_at_start().resume();
    s.wait_replica_of(old_primary, replica);
    EXPECT_TRUE(wait_until(
        [&] {
            return serving_nodes(n) ==
                   std::vector<std::string>{"127.0.0.1:" + std::to_string(replica)};
        },
        10s));

    const auto gaps = expect_nothing_lost_outside_gaps(w, col);
    // Whichever came first, the health check finding the stall or the promotion, the
    // standby's stream covers the stalled primary's until the sentinels cut it: the new
    // primary's gap begins at that cut, and the stalled node's own gap no earlier.
    const auto* g = switch_gap(gaps, replica);
    ASSERT_NE(g, nullptr) << "no topology_change gap on the new primary";
    EXPECT_GT(g->lost, stopped) << g->detail;
    EXPECT_NE(g->detail.find("until its own subscription was cut"), std::string::npos) << g->detail;
    for (const auto& other : gaps) {
        if (other.node == old_name) {
            EXPECT_GE(other.lost, g->lost) << other.detail;
        }
    }
    const auto report = check_delivery(w.writes(), col.received(), gaps);
    std::cout << "sentinel, SIGSTOP with redundancy: " << report.writes << " writes, "
              << report.received << " notified, " << report.excused << " not notified (in "
              << gaps.size() << " gaps), the new primary's gap "
              << std::chrono::duration_cast<std::chrono::microseconds>(
                     g->restored.value_or(g->lost) - g->lost)
                     .count()
              << " us, beginning "
              << std::chrono::duration_cast<std::chrono::milliseconds>(g->lost - stopped).count()
              << " ms after the stop\n";
    for (const auto& other : gaps) {
        std::cout
            << "  gap on " << other.node << " (" << to_string(other.reason) << ") from "
            << std::chrono::duration_cast<std::chrono::milliseconds>(other.lost - stopped).count()
            << " ms after the stop" << (other.restored ? "" : ", open") << ": " << other.detail
            << "\n";
    }
}

TEST(SentinelNotifier, SubscribeFailsNamingEverySentinelWhenNoneAnswers) {
    ksn::sentinel_options o;
    const auto a = free_port();
    const auto b = free_port();
    o.sentinels = {net::endpoint("127.0.0.1", a), net::endpoint("127.0.0.1", b)};
    o.primary_name = "ksnprimary";
    o.subscribe_timeout = scaled(5s);
    sentinel_keyspace_notifications n(o);
    try {
        n.subscribe_keyspace("x:*");
        FAIL() << "subscribe succeeded without a sentinel";
    } catch (const ksn::error& e) {
        EXPECT_EQ(e.code(), notifier_errc::not_connected) << e.what();
        const std::string what = e.what();
        EXPECT_NE(what.find("no sentinel named a primary for 'ksnprimary'"), std::string::npos)
            << what;
        EXPECT_NE(what.find("127.0.0.1:" + std::to_string(a)), std::string::npos) << what;
        EXPECT_NE(what.find("127.0.0.1:" + std::to_string(b)), std::string::npos) << what;
    }
}

TEST(SentinelNotifier, AnUnknownPrimaryNameFailsTheSubscribe) {
    redis_sentinel_set s;
    auto o = notifier_options_for(s);
    o.primary_name = "nosuchprimary";
    sentinel_keyspace_notifications n(o);
    try {
        n.subscribe_keyspace("x:*");
        FAIL() << "subscribe succeeded for an unknown name";
    } catch (const ksn::error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("does not know the primary"), std::string::npos) << what;
    }
}

TEST(SentinelNotifier, AuthenticatesToTheSentinelsAndTheDataNodesSeparately) {
    sentinel_options fo;  // the fixture's
    fo.sentinel_password = "sentinel-secret";
    fo.data_password = "data-secret";
    redis_sentinel_set s(fo);
    auto o = notifier_options_for(s);
    o.sentinel_connection.password = "sentinel-secret";
    o.connection.password = "data-secret";
    sentinel_keyspace_notifications n(o);
    n.subscribe_keyspace("a:*");
    s.primary_at_start().command({"SET", "a:1", "v"});
    auto d = n.next(scaled(5s));
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->is_notification());
    EXPECT_EQ(d->notification().key(), "a:1");

    // With the data nodes' password for the sentinels too, no sentinel answers.
    auto wrong = notifier_options_for(s);
    wrong.connection.password = "data-secret";
    wrong.sentinel_connection.password = "data-secret";
    wrong.subscribe_timeout = scaled(2s);
    sentinel_keyspace_notifications refused(wrong);
    std::error_code ec;
    const channel c = channel::keyspace("a:*");
    refused.subscribe(std::span<const channel>(&c, 1), {}, ec);
    EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace ksn::test
