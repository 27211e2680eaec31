// The make-before-break handover from a former primary to its replica, step by step on a clock the
// test moves (no sockets): when the old primary's stream may be let go without a gap.
#include <gtest/gtest.h>

#include "notifications/engine/handover.hpp"

namespace ksn::detail {
namespace {

using namespace std::chrono_literals;
using A = handover::action;

const clock::time_point t0 = clock::time_point{} + 1000s;

constexpr std::string_view new_info_text =
    "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
    "slave0:ip=127.0.0.1,port=7000,state=online,offset=1234,lag=0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n"
    "master_replid2:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
    "master_repl_offset:1234\r\nsecond_repl_offset:1001\r\n";

replication_info old_replica(std::int64_t applied, std::string replid2 = std::string(40, 'a')) {
    replication_info o;
    o.role = "slave";
    o.replid = std::string(40, 'b');
    o.replid2 = std::move(replid2);
    o.offset = applied;
    o.applied = applied;
    return o;
}

gap_event the_gap() {
    gap_event g;
    g.node = "127.0.0.1:7003";
    g.reason = gap_reason::topology_change;
    g.slots = {{0, 5460}};
    return g;
}

TEST(ReplicationInfo, ParsesTheFieldsAHandoverNeeds) {
    const auto n = parse_replication_info(new_info_text);
    EXPECT_EQ(n.role, "master");
    EXPECT_EQ(n.replid, std::string(40, 'b'));
    EXPECT_EQ(n.replid2, std::string(40, 'a'));
    EXPECT_EQ(n.offset, 1234);
    EXPECT_EQ(n.applied, -1);  // a primary has no slave_repl_offset
    const auto o = parse_replication_info(
        "role:slave\nmaster_host:127.0.0.1\nmaster_port:7003\nslave_repl_offset:99\n"
        "master_repl_offset:x\n");
    EXPECT_EQ(o.role, "slave");
    EXPECT_EQ(o.applied, 99);
    EXPECT_EQ(o.offset, -1);  // not a number
}

TEST(ReplicationInfo, CaughtUpOnlyAsAReplicaOfTheSameHistoryThatAppliedTheOffset) {
    const auto n = parse_replication_info(new_info_text);
    EXPECT_EQ(not_caught_up(n, old_replica(1234)), "");
    EXPECT_EQ(not_caught_up(n, old_replica(2000)), "");
    EXPECT_EQ(not_caught_up(n, old_replica(1233)), "it applied replication offset 1233 of 1234");
    auto master = old_replica(1234);
    master.role = "master";
    EXPECT_EQ(not_caught_up(n, master), "it is not a replica (yet)");
    auto other = old_replica(1234);
    other.replid = std::string(40, 'c');
    EXPECT_EQ(not_caught_up(n, other), "it does not replicate from the new primary (yet)");
    // A full resynchronization clears replid2: what came in the snapshot published nothing.
    EXPECT_NE(not_caught_up(n, old_replica(1234, std::string(40, '0'))).find("in full"),
              std::string::npos);
    auto no_history = n;
    no_history.replid2 = std::string(40, '0');
    EXPECT_NE(not_caught_up(no_history, old_replica(1234, std::string(40, '0'))).find("in full"),
              std::string::npos);
    EXPECT_NE(not_caught_up(replication_info{}, old_replica(1234)), "");
}

TEST(ReplicationInfo, ASwitchBackNeedsThePrimaryStillOnTheReplicationIdItHad) {
    // Redundancy: the replica followed its primary all along; no replid2 of its own.
    auto n = parse_replication_info(new_info_text);
    n.replid2 = std::string(40, '0');
    const auto replica = old_replica(1234, std::string(40, '0'));
    const std::string had(40, 'b');
    EXPECT_EQ(not_caught_up(n, replica, had), "");
    EXPECT_EQ(not_caught_up(n, old_replica(1000, std::string(40, '0')), had),
              "it applied replication offset 1000 of 1234");
    // Restarted: a new replication id, and the replica's writes came in a snapshot.
    EXPECT_NE(not_caught_up(n, replica, std::string(40, 'f')).find("changed"), std::string::npos);
    EXPECT_NE(not_caught_up(n, replica).find("in full"), std::string::npos);  // the handover's rule
}

TEST(Handover, SucceedsOnceTheOldNodeAppliedTheOffsetAndItsStreamWasRead) {
    handover h("127.0.0.1:7003", "127.0.0.1:7000", the_gap(), 5000ms);
    EXPECT_EQ(h.on_tick(t0, false, true, std::nullopt), A::wait);  // not covered yet
    EXPECT_EQ(h.on_tick(t0 + 250ms, true, true, std::nullopt), A::ask_new);
    EXPECT_EQ(h.on_tick(t0 + 500ms, true, true, std::nullopt), A::wait);  // in flight
    h.new_answered(parse_replication_info(new_info_text), t0 + 510ms);
    EXPECT_EQ(h.on_tick(t0 + 750ms, true, true, std::nullopt), A::ask_old);
    EXPECT_EQ(h.on_tick(t0 + 800ms, true, true, std::nullopt), A::wait);  // in flight
    h.old_answered(old_replica(1000), t0 + 900ms);                        // behind
    EXPECT_EQ(h.on_tick(t0 + 1000ms, true, true, std::nullopt), A::ask_old);
    h.old_answered(old_replica(1234), t0 + 1100ms);
    EXPECT_EQ(h.on_tick(t0 + 1100ms, true, true, t0 + 1000ms), A::ping_old);
    // A PING sent before the catch-up proves nothing.
    EXPECT_EQ(h.on_tick(t0 + 1200ms, true, true, t0 + 1000ms), A::wait);
    EXPECT_EQ(h.on_tick(t0 + 1300ms, true, true, t0 + 1100ms), A::succeed);
    EXPECT_EQ(h.offset(), 1234);
    EXPECT_EQ(h.on_tick(t0 + 1400ms, true, true, t0 + 1100ms), A::wait);  // over
}

TEST(Handover, FailsWhenTheOldConnectionBreaks) {
    handover h("127.0.0.1:7003", "127.0.0.1:7000", the_gap(), 5000ms);
    EXPECT_EQ(h.on_tick(t0, true, true, std::nullopt), A::ask_new);
    h.new_answered(parse_replication_info(new_info_text), t0 + 10ms);
    EXPECT_EQ(h.on_tick(t0 + 250ms, true, true, std::nullopt), A::ask_old);
    EXPECT_EQ(h.on_tick(t0 + 500ms, true, false, std::nullopt), A::fail);
    EXPECT_EQ(h.failure(), "the connection to 127.0.0.1:7000 broke");
    EXPECT_EQ(h.gap().node, "127.0.0.1:7003");
    EXPECT_EQ(h.on_tick(t0 + 750ms, true, true, std::nullopt), A::wait);
}

TEST(Handover, FailsAfterTheTimeoutSayingHowFarBehindTheOldNodeWas) {
    handover h("127.0.0.1:7003", "127.0.0.1:7000", the_gap(), 5000ms);
    // The timeout runs from the new primary's coverage (within 15 s of the start).
    EXPECT_EQ(h.on_tick(t0 + 50s, false, true, std::nullopt), A::wait);
    EXPECT_EQ(h.on_tick(t0 + 61s, true, true, std::nullopt), A::ask_new);
    h.new_answered(parse_replication_info(new_info_text), t0 + 61s);
    EXPECT_EQ(h.on_tick(t0 + 62s, true, true, std::nullopt), A::ask_old);
    h.old_answered(old_replica(1234, std::string(40, '0')), t0 + 62s);  // a full resync
    EXPECT_EQ(h.on_tick(t0 + 63s, true, true, std::nullopt), A::ask_old);
    h.old_answered(std::nullopt, t0 + 64s);
    EXPECT_EQ(h.on_tick(t0 + 65s, true, true, std::nullopt), A::ask_old);
    h.old_answered(old_replica(1234, std::string(40, '0')), t0 + 65s);
    EXPECT_EQ(h.on_tick(t0 + 66s, true, true, std::nullopt), A::fail);
    EXPECT_NE(h.failure().find("did not catch up within 5000 ms: it resynchronized in full"),
              std::string::npos)
        << h.failure();
}

TEST(Handover, FailsWhenTheNewPrimaryIsNotCoveredInTime) {
    handover h("127.0.0.1:7003", "127.0.0.1:7000", the_gap(), 5000ms);
    EXPECT_EQ(h.on_tick(t0, false, true, std::nullopt), A::wait);
    EXPECT_EQ(h.on_tick(t0 + 14s, false, true, std::nullopt), A::wait);
    EXPECT_EQ(h.on_tick(t0 + 15s, false, true, std::nullopt), A::fail);
    EXPECT_EQ(h.failure(), "127.0.0.1:7003 was not subscribed within 15000 ms");
}

TEST(Handover, ANewPrimaryThatDoesNotAnswerIsAskedAgain) {
    handover h("127.0.0.1:7003", "127.0.0.1:7000", the_gap(), 5000ms);
    EXPECT_EQ(h.on_tick(t0, true, true, std::nullopt), A::ask_new);
    h.new_answered(std::nullopt, t0 + 2s);
    EXPECT_EQ(h.on_tick(t0 + 2250ms, true, true, std::nullopt), A::ask_new);
    h.new_answered(parse_replication_info(new_info_text), t0 + 2300ms);
    EXPECT_EQ(h.on_tick(t0 + 2500ms, true, true, std::nullopt), A::ask_old);
    // Its timeout started again with the second question.
    EXPECT_EQ(h.on_tick(t0 + 6s, true, true, std::nullopt), A::wait);
}

}  // namespace
}  // namespace ksn::detail
