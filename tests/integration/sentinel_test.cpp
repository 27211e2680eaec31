// The Sentinel fixture itself (tests/support/redis_sentinel.hpp) against real redis-server
// processes: it starts stable, follows a crash failover and a rejoin, two manual
// failovers in a row and a sentinel's restart, and authentication on the sentinels and
// the data nodes.
//
// No test sleeps to let something happen: each waits (bounded, scaled by
// tests/support/timing.hpp) on the condition it needs, through the fixture.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

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

}  // namespace
}  // namespace ksn::test
