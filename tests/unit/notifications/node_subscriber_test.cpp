// The per-node subscriber's whole conversations, without a socket: events in, actions out.
#include "notifications/engine/node_subscriber.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "net/error.hpp"

namespace ksn::detail {
namespace {

using namespace std::chrono_literals;
using protocol::pubsub_kind;
using N = node_subscriber;

const clock::time_point t0 = clock::time_point{} + 1000s;

template <class T>
std::vector<T> all_of(const N::actions& actions) {
    std::vector<T> out;
    for (const auto& a : actions) {
        if (const T* p = std::get_if<T>(&a)) out.push_back(*p);
    }
    return out;
}

template <class T>
bool has(const N::actions& actions) {
    return !all_of<T>(actions).empty();
}

std::vector<std::vector<std::string>> commands(const N::actions& actions) {
    std::vector<std::vector<std::string>> out;
    for (const auto& c : all_of<N::send_command>(actions))
        out.push_back(c.args);
    return out;
}

/// The ops completed, with their error (empty: success).
std::vector<std::pair<std::uint64_t, std::error_code>> completed(const N::actions& actions) {
    std::vector<std::pair<std::uint64_t, std::error_code>> out;
    for (const auto& c : all_of<N::complete>(actions))
        out.emplace_back(c.op, c.ec);
    return out;
}

std::vector<gap_event> gaps(const N::actions& actions) {
    std::vector<gap_event> out;
    for (auto& g : all_of<N::emit_gap>(actions))
        out.push_back(g.gap);
    return out;
}

class NodeSubscriber : public ::testing::Test {
  protected:
    subscription_registry registry;
    N::settings settings;
    std::unique_ptr<N> node;

    N& make() {
        node = std::make_unique<N>("127.0.0.1:7000", registry, settings);
        return *node;
    }
    void add(std::string name, bool pattern = false) {
        registry.add({std::move(name), pattern}, {});
    }

    /// Subscribed to "k" on a server with run_id `before`, loses the connection with `ec`,
    /// reconnects to a server with run_id `after`: the gap emitted once "k" is confirmed.
    std::vector<gap_event> reconnect_gaps(std::string_view before, const std::error_code& ec,
                                          std::string_view after) {
        add("k");
        auto& n = make();
        (void)connect_and_confirm(t0);
        (void)n.on_run_id(before);
        (void)n.on_disconnected(ec, "lost", t0);
        (void)n.on_ready(t0 + 1s);
        (void)n.on_run_id(after);
        return gaps(n.on_confirmation(pubsub_kind::subscribe, "k", t0 + 1s));
    }

    /// Connects and confirms every subscription in the registry; returns all actions.
    N::actions connect_and_confirm(clock::time_point now) {
        N::actions all = node->on_ready(now);
        for (const auto& cmd : commands(all)) {
            const bool pattern = cmd[0] == "PSUBSCRIBE";
            for (std::size_t i = 1; i < cmd.size(); ++i) {
                auto more = node->on_confirmation(
                    pattern ? pubsub_kind::psubscribe : pubsub_kind::subscribe, cmd[i], now);
                all.insert(all.end(), more.begin(), more.end());
            }
        }
        return all;
    }
};

TEST_F(NodeSubscriber, ReadyAsksRunIdAndFlagsBeforeReplayingEverySubscription) {
    add("__keyspace@0__:a");
    add("__keyspace@0__:b*", true);
    auto& n = make();
    EXPECT_EQ(n.state(), N::link::first_attempt);
    const auto a = n.on_ready(t0);
    ASSERT_GE(a.size(), 4u);
    EXPECT_TRUE(std::holds_alternative<N::ask_run_id>(a[0]));
    EXPECT_TRUE(std::holds_alternative<N::ask_flags>(a[1]));
    EXPECT_EQ(commands(a),
              (std::vector<std::vector<std::string>>{{"SUBSCRIBE", "__keyspace@0__:a"},
                                                     {"PSUBSCRIBE", "__keyspace@0__:b*"}}));
    EXPECT_TRUE(n.ready());
    EXPECT_FALSE(n.covered());
    // Covered only once both are confirmed.
    EXPECT_TRUE(n.on_confirmation(pubsub_kind::subscribe, "__keyspace@0__:a", t0).empty());
    EXPECT_FALSE(n.covered());
    // A pattern's confirmation does not count for the exact channel of the same name.
    (void)n.on_confirmation(pubsub_kind::subscribe, "__keyspace@0__:b*", t0);
    EXPECT_FALSE(n.covered());
    (void)n.on_confirmation(pubsub_kind::psubscribe, "__keyspace@0__:b*", t0);
    EXPECT_TRUE(n.covered());
}

TEST_F(NodeSubscriber, FailedReconnectAttemptsAreInfoAndAskForATopologyRefreshOnceASecond) {
    add("k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    const auto first =
        n.on_disconnected(make_error_code(net::errc::connection_lost), "n: reset", t0);
    ASSERT_EQ(all_of<N::report>(first).size(), 1u);
    EXPECT_EQ(all_of<N::report>(first)[0].level, severity::warning);
    EXPECT_TRUE(has<N::lost>(first));
    // The connection retries about every 100 ms: each failure is said at info level, and
    // the topology is asked again only once a second has passed since the last time.
    int refreshes = 0;
    for (int i = 1; i <= 25; ++i) {
        const auto again = n.on_disconnected(make_error_code(net::errc::connect_failed),
                                             "n: refused", t0 + i * 100ms);
        ASSERT_EQ(all_of<N::report>(again).size(), 1u);
        EXPECT_EQ(all_of<N::report>(again)[0].level, severity::info);
        refreshes += has<N::lost>(again) ? 1 : 0;
    }
    EXPECT_EQ(refreshes, 2);  // at t0 + 1 s and t0 + 2 s
    // One gap for the whole outage, from the first failure.
    ASSERT_TRUE(n.open_gap());
    EXPECT_EQ(n.open_gap()->lost, t0);
    // Back, then lost again: a new outage, a warning again.
    (void)connect_and_confirm(t0 + 3s);
    const auto next =
        n.on_disconnected(make_error_code(net::errc::connection_lost), "n: reset", t0 + 4s);
    EXPECT_EQ(all_of<N::report>(next)[0].level, severity::warning);
    EXPECT_TRUE(has<N::lost>(next));
}

TEST_F(NodeSubscriber, ANodeNeverReachedOpensANodeUnreachableGap) {
    add("k");
    auto& n = make();
    n.set_slots({{0, 5460}});
    (void)n.on_disconnected(make_error_code(net::errc::connect_failed), "refused", t0);
    ASSERT_TRUE(n.open_gap());
    EXPECT_EQ(n.open_gap()->reason, gap_reason::node_unreachable);
    (void)n.on_ready(t0 + 2s);
    const auto g = gaps(n.on_confirmation(pubsub_kind::subscribe, "k", t0 + 2s));
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].reason, gap_reason::node_unreachable);
    EXPECT_EQ(g[0].lost, t0);
    EXPECT_EQ(g[0].restored, t0 + 2s);
    EXPECT_EQ(g[0].slots, (slot_ranges{{0, 5460}}));
    // Once it was reached, a later loss is a connection_lost gap again.
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "reset", t0 + 3s);
    EXPECT_EQ(n.open_gap()->reason, gap_reason::connection_lost);
}

TEST_F(NodeSubscriber, ExpectUnreachableOpensAGapUnlessOneIsOpen) {
    add("k");
    auto& n = make();
    n.set_slots({{5461, 10922}});
    // Still on its first attempt (a stalled node): the gap waits for its replay.
    EXPECT_TRUE(n.expect_unreachable(t0, "no confirmation within 100 ms", t0 + 1s).empty());
    ASSERT_TRUE(n.open_gap());
    EXPECT_EQ(n.open_gap()->reason, gap_reason::node_unreachable);
    EXPECT_NE(n.open_gap()->detail.find("no confirmation within 100 ms"), std::string::npos);
    const auto g = gaps(connect_and_confirm(t0 + 2s));
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].lost, t0);
    EXPECT_EQ(g[0].slots, (slot_ranges{{5461, 10922}}));

    // A node already in a gap keeps it, with its own reason and start.
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "reset", t0 + 3s, t0 + 3s);
    (void)n.expect_unreachable(t0 + 4s, "refused", t0 + 4s);
    EXPECT_EQ(n.open_gap()->reason, gap_reason::connection_lost);
    EXPECT_EQ(n.open_gap()->lost, t0 + 3s);
    // Given up: nothing more to report.
    (void)n.on_closed(make_error_code(net::errc::reconnect_exhausted), "gave up", t0 + 5s);
    EXPECT_TRUE(n.expect_unreachable(t0 + 6s, "refused", t0 + 6s).empty());
    EXPECT_FALSE(n.open_gap());
}

TEST_F(NodeSubscriber, NoFlagsQuestionWhenTheCheckIsOff) {
    settings.check = notify_check::off;
    add("__keyspace@0__:a");
    const auto a = make().on_ready(t0);
    EXPECT_TRUE(has<N::ask_run_id>(a));
    EXPECT_FALSE(has<N::ask_flags>(a));
}

TEST_F(NodeSubscriber, EmptyRegistryIsCoveredAtOnceAndALossOpensNoGap) {
    auto& n = make();
    const auto a = n.on_ready(t0);
    EXPECT_TRUE(commands(a).empty());
    EXPECT_TRUE(n.covered());
    const auto d = n.on_disconnected(make_error_code(net::errc::connection_lost), "lost", t0);
    EXPECT_FALSE(n.open_gap().has_value());
    EXPECT_TRUE(has<N::lost>(d));
}

TEST_F(NodeSubscriber, SubscribeBeforeTheFirstConnectionWaitsForItsReplay) {
    add("__keyevent@0__:set");
    auto& n = make();
    // Nothing is sent before the connection is ready; the operation waits.
    const auto s = n.send({{"__keyevent@0__:set", false}}, false, 7, t0);
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(n.waiting(), 1u);
    const auto a = n.on_ready(t0);
    EXPECT_EQ(commands(a).size(), 1u);  // the replay carries it: sent once, not twice
    const auto c = n.on_confirmation(pubsub_kind::subscribe, "__keyevent@0__:set", t0);
    EXPECT_EQ(completed(c), (std::vector<std::pair<std::uint64_t, std::error_code>>{{7, {}}}));
    EXPECT_TRUE(n.covered());
    EXPECT_EQ(n.waiting(), 0u);
}

TEST_F(NodeSubscriber, PartialConfirmationsCompleteOnlyWhenAllArrive) {
    auto& n = make();
    (void)connect_and_confirm(t0);
    add("a");
    add("b");
    add("c*", true);
    const auto s = n.send({{"a", false}, {"b", false}, {"c*", true}}, false, 3, t0);
    EXPECT_EQ(commands(s), (std::vector<std::vector<std::string>>{{"SUBSCRIBE", "a", "b"},
                                                                  {"PSUBSCRIBE", "c*"}}));
    EXPECT_TRUE(completed(n.on_confirmation(pubsub_kind::subscribe, "a", t0)).empty());
    EXPECT_TRUE(completed(n.on_confirmation(pubsub_kind::psubscribe, "c*", t0)).empty());
    // An unsubscribe confirmation of a wanted name does not count.
    EXPECT_TRUE(completed(n.on_confirmation(pubsub_kind::unsubscribe, "b", t0)).empty());
    EXPECT_EQ(completed(n.on_confirmation(pubsub_kind::subscribe, "b", t0)).size(), 1u);
}

TEST_F(NodeSubscriber, DisconnectOpensAGapFailsWaitersAndTheReplayClosesIt) {
    add("k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    add("k2");
    (void)n.send({{"k2", false}}, false, 5, t0);
    const auto lost_at = t0 + 1s;
    // A notification was read just as the connection broke.
    const auto d = n.on_disconnected(make_error_code(net::errc::connection_lost), "node: lost",
                                     lost_at, lost_at);
    // The waiting subscribe fails, naming what was not subscribed.
    const auto done = all_of<N::complete>(d);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].op, 5u);
    EXPECT_EQ(done[0].ec, make_error_code(notifier_errc::not_connected));
    EXPECT_NE(done[0].detail.find("not subscribed: SUBSCRIBE k2"), std::string::npos)
        << done[0].detail;
    EXPECT_TRUE(has<N::report>(d));
    EXPECT_TRUE(has<N::lost>(d));
    ASSERT_TRUE(n.open_gap());
    EXPECT_EQ(n.open_gap()->reason, gap_reason::connection_lost);
    EXPECT_EQ(n.gap_start(), lost_at);
    EXPECT_EQ(n.state(), N::link::down);

    // Reconnected: the gap is emitted only when every subscription is confirmed again.
    const auto back = t0 + 3s;
    const auto r = n.on_ready(back);
    EXPECT_TRUE(gaps(r).empty());
    EXPECT_TRUE(gaps(n.on_confirmation(pubsub_kind::subscribe, "k", back)).empty());
    const auto g = gaps(n.on_confirmation(pubsub_kind::subscribe, "k2", back + 1ms));
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].node, "127.0.0.1:7000");
    EXPECT_EQ(g[0].lost, lost_at);
    EXPECT_EQ(g[0].restored, back + 1ms);
    EXPECT_FALSE(n.open_gap());
    EXPECT_EQ(n.gaps(), 1u);
    EXPECT_EQ(n.reconnects(), 1u);
}

TEST_F(NodeSubscriber, QueuedSubscribesSurviveADisconnect) {
    settings.subscribe_when_disconnected = when_disconnected::queue;
    add("k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    (void)n.send({{"k", false}}, false, 9, t0);
    const auto d = n.on_disconnected(make_error_code(net::errc::connection_lost), "lost", t0);
    EXPECT_EQ(completed(d), (std::vector<std::pair<std::uint64_t, std::error_code>>{{9, {}}}));
    // While down, a new subscribe is queued (answered at once) for the next replay.
    EXPECT_EQ(completed(n.send({{"k", false}}, false, 10, t0)),
              (std::vector<std::pair<std::uint64_t, std::error_code>>{{10, {}}}));
}

// Whether the outage began before anything was subscribed (nothing to open a gap then) or
// after, a subscribe queued while down is announced by a gap from the subscribe to the
// replay that subscribes it: the real server's timing decides the order, not the contract.
TEST_F(NodeSubscriber, ASubscribeQueuedAfterTheLossIsAGapFromTheSubscribe) {
    settings.subscribe_when_disconnected = when_disconnected::queue;
    for (const bool ever_ready : {false, true}) {
        SCOPED_TRACE(ever_ready ? "after a connection" : "never connected");
        registry = {};
        auto& n = make();
        if (ever_ready) (void)connect_and_confirm(t0);
        EXPECT_TRUE(gaps(n.on_disconnected(make_error_code(net::errc::connect_failed),
                                           "127.0.0.1:7000: connection failed: refused", t0))
                        .empty());
        EXPECT_FALSE(n.open_gap());  // nothing subscribed: nothing lost yet
        add("q");
        EXPECT_EQ(completed(n.send({{"q", false}}, false, 3, t0 + 1s)),
                  (std::vector<std::pair<std::uint64_t, std::error_code>>{{3, {}}}));
        ASSERT_TRUE(n.open_gap());
        // A failed attempt later keeps the gap from the subscribe.
        (void)n.on_disconnected(make_error_code(net::errc::connect_failed), "again", t0 + 2s);
        const auto g = gaps(connect_and_confirm(t0 + 3s));
        ASSERT_EQ(g.size(), 1u);
        EXPECT_EQ(g[0].reason,
                  ever_ready ? gap_reason::connection_lost : gap_reason::node_unreachable);
        EXPECT_EQ(g[0].lost, t0 + 1s);
        EXPECT_EQ(g[0].restored, t0 + 3s);
        EXPECT_EQ(g[0].detail,
                  "127.0.0.1:7000: connection failed: refused; subscribed while disconnected: "
                  "notifications are lost until the next connection subscribes");
        EXPECT_FALSE(n.open_gap());
    }
}

TEST_F(NodeSubscriber, SubscribeWhileDownFailsNamingTheLastError) {
    auto& n = make();
    (void)connect_and_confirm(t0);
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost),
                            "127.0.0.1:7000: connection reset", t0);
    const auto c = all_of<N::complete>(n.send({{"x", false}}, false, 4, t0));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].ec, make_error_code(notifier_errc::not_connected));
    EXPECT_NE(c[0].detail.find("connection reset"), std::string::npos) << c[0].detail;
    EXPECT_NE(c[0].detail.find("SUBSCRIBE x"), std::string::npos) << c[0].detail;
    // An unsubscribe while down has nothing to do: the next connection will not subscribe.
    EXPECT_EQ(completed(n.send({{"x", false}}, true, 6, t0)),
              (std::vector<std::pair<std::uint64_t, std::error_code>>{{6, {}}}));
}

TEST_F(NodeSubscriber, UnsubscribeInFlightCompletesWhenTheConnectionIsLost) {
    add("k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    const auto s = n.send({{"k", false}}, true, 11, t0);
    EXPECT_EQ(commands(s), (std::vector<std::vector<std::string>>{{"UNSUBSCRIBE", "k"}}));
    const auto d = n.on_disconnected(make_error_code(net::errc::connection_lost), "lost", t0);
    EXPECT_EQ(completed(d), (std::vector<std::pair<std::uint64_t, std::error_code>>{{11, {}}}));
}

TEST_F(NodeSubscriber, UnsubscribeConfirmationsCompleteTheUnsubscribe) {
    add("k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    (void)n.send({{"k", false}}, true, 12, t0);
    // A subscribe confirmation of the same name is not the answer.
    EXPECT_TRUE(completed(n.on_confirmation(pubsub_kind::subscribe, "k", t0)).empty());
    EXPECT_EQ(completed(n.on_confirmation(pubsub_kind::unsubscribe, "k", t0)).size(), 1u);
}

TEST_F(NodeSubscriber, SameRunIdAfterAnEofIsTheServerClosingTheConnection) {
    const auto g = reconnect_gaps("abc", make_error_code(net::errc::closed_by_peer), "abc");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].reason, gap_reason::server_closed_connection);
    EXPECT_NE(g[0].detail.find("client-output-buffer-limit"), std::string::npos);
}

TEST_F(NodeSubscriber, NewRunIdIsARestart) {
    const auto g = reconnect_gaps("abc", make_error_code(net::errc::closed_by_peer), "def");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].reason, gap_reason::server_restarted);
}

TEST_F(NodeSubscriber, SameRunIdAfterAResetIsNotRefined) {
    // Not an EOF (a reset, a timeout): the server's part is unknown.
    const auto g = reconnect_gaps("abc", make_error_code(net::errc::connection_lost), "abc");
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].reason, gap_reason::connection_lost);
}

TEST_F(NodeSubscriber, HealthCheckTimeoutAndProtocolErrorNameTheirReason) {
    add("k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    (void)n.on_disconnected(make_error_code(net::errc::health_check_timeout), "no PONG", t0);
    EXPECT_EQ(n.open_gap()->reason, gap_reason::health_check_timeout);
    // A second loss before the node was covered keeps the first gap and its start.
    (void)n.on_ready(t0 + 1s);
    (void)n.on_disconnected(make_error_code(net::errc::protocol_error), "bad bytes", t0 + 2s);
    EXPECT_EQ(n.open_gap()->reason, gap_reason::health_check_timeout);
    EXPECT_EQ(n.gap_start(), t0);

    auto& m = make();
    (void)connect_and_confirm(t0);
    (void)m.on_disconnected(make_error_code(net::errc::protocol_error), "bad bytes", t0);
    EXPECT_EQ(m.open_gap()->reason, gap_reason::protocol_error);
}

TEST_F(NodeSubscriber, RefusedSubscribeFailsItsOperationNamingCommandAndError) {
    auto& n = make();
    (void)connect_and_confirm(t0);
    add("secret");
    (void)n.send({{"secret", false}}, false, 21, t0);
    const auto c = all_of<N::complete>(n.on_refused(21, "SUBSCRIBE", "NOPERM no access"));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].ec, make_error_code(notifier_errc::subscribe_refused));
    EXPECT_EQ(c[0].detail, "127.0.0.1:7000: SUBSCRIBE SUBSCRIBE secret refused: NOPERM no access");
    EXPECT_EQ(n.waiting(), 0u);
}

TEST_F(NodeSubscriber, RefusedReplayIsReportedAndLeavesTheGapOpen) {
    add("secret");
    auto& n = make();
    (void)connect_and_confirm(t0);
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "lost", t0);
    (void)n.on_ready(t0 + 1s);
    const auto r = n.on_refused(0, "SUBSCRIBE", "NOPERM");
    EXPECT_TRUE(completed(r).empty());
    const auto reports = all_of<N::report>(r);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].message.find("NOPERM"), std::string::npos);
    EXPECT_FALSE(n.covered());
    EXPECT_TRUE(n.open_gap());
}

TEST_F(NodeSubscriber, CancelledOperationIgnoresLateConfirmations) {
    auto& n = make();
    (void)connect_and_confirm(t0);
    (void)n.send({{"a", false}, {"b", false}}, false, 30, t0);
    (void)n.on_confirmation(pubsub_kind::subscribe, "a", t0);
    // The operation timed out: the node says what it still waited for.
    EXPECT_EQ(n.cancel(30), (std::vector<subscription_key>{{"b", false}}));
    EXPECT_TRUE(completed(n.on_confirmation(pubsub_kind::subscribe, "b", t0)).empty());
    EXPECT_TRUE(n.cancel(30).empty());
}

TEST_F(NodeSubscriber, GivenUpNodeEmitsAGapWithoutRestoredAndFailsWaiters) {
    add("k");
    auto& n = make();
    n.set_slots({{0, 5460}});
    (void)connect_and_confirm(t0);
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "lost", t0);
    (void)n.send({{"k", false}}, false, 40, t0);  // fails at once (down, fail policy)
    const auto c = n.on_closed(make_error_code(net::errc::reconnect_exhausted), "gave up", t0 + 5s);
    const auto g = gaps(c);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].reason, gap_reason::node_closed);
    EXPECT_EQ(g[0].lost, t0);  // from the first loss, not the give-up
    EXPECT_FALSE(g[0].restored.has_value());
    EXPECT_EQ(g[0].slots, (slot_ranges{{0, 5460}}));
    EXPECT_TRUE(has<N::lost>(c));
    EXPECT_TRUE(n.closed());
    // A later subscribe fails at once, saying why the node was given up.
    const auto later = all_of<N::complete>(n.send({{"k", false}}, false, 41, t0));
    ASSERT_EQ(later.size(), 1u);
    EXPECT_EQ(later[0].ec, make_error_code(notifier_errc::closed));
    EXPECT_EQ(later[0].detail, "gave up (given up); not subscribed: SUBSCRIBE k");
}

TEST_F(NodeSubscriber, GivingUpBeforeTheFirstConnectionFailsTheWaitingSubscribe) {
    add("k");
    auto& n = make();
    EXPECT_TRUE(n.send({{"k", false}}, false, 45, t0).empty());  // waits for the first connection
    const auto c = all_of<N::complete>(
        n.on_closed(make_error_code(net::errc::auth_failed), "127.0.0.1:7000: WRONGPASS", t0));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].op, 45u);
    EXPECT_EQ(c[0].ec, make_error_code(notifier_errc::closed));
    EXPECT_NE(c[0].detail.find("WRONGPASS"), std::string::npos) << c[0].detail;
    EXPECT_NE(c[0].detail.find("not subscribed: SUBSCRIBE k"), std::string::npos);
    EXPECT_EQ(n.waiting(), 0u);
}

TEST_F(NodeSubscriber, CloseRetiredCompletesWaitersAndCloseFailsThem) {
    auto& n = make();
    (void)connect_and_confirm(t0);
    (void)n.send({{"a", false}}, false, 50, t0);
    const auto r = n.close(true);
    EXPECT_EQ(completed(r), (std::vector<std::pair<std::uint64_t, std::error_code>>{{50, {}}}));
    EXPECT_TRUE(has<N::disconnect>(r));
    EXPECT_TRUE(gaps(r).empty());  // the caller decides what to report
    // The connection's own "closed" afterwards changes nothing.
    EXPECT_TRUE(n.on_closed(make_error_code(net::errc::closed), "closed", t0).empty());

    auto& m = make();
    (void)connect_and_confirm(t0);
    (void)m.send({{"a", false}}, false, 51, t0);
    const auto c = all_of<N::complete>(m.close(false));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].ec, make_error_code(notifier_errc::closed));
}

TEST_F(NodeSubscriber, OverflowPauseDisconnectsQueuesAndResumesWithAGap) {
    add("k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    const auto full_at = t0 + 2s;
    const auto p = n.pause_for_overflow(full_at);
    EXPECT_TRUE(has<N::disconnect>(p));
    EXPECT_TRUE(n.paused());
    ASSERT_TRUE(n.open_gap());
    EXPECT_EQ(n.open_gap()->reason, gap_reason::slow_consumer_disconnect);
    // Our own close is not a loss.
    EXPECT_TRUE(n.on_closed(make_error_code(net::errc::closed), "closed", full_at).empty());
    // A second overflow while paused does nothing.
    EXPECT_TRUE(n.pause_for_overflow(full_at + 1s).empty());
    // Subscribing while paused is queued for the resumed connection.
    EXPECT_EQ(completed(n.send({{"k", false}}, false, 60, t0)),
              (std::vector<std::pair<std::uint64_t, std::error_code>>{{60, {}}}));
    const auto r = n.resume();
    EXPECT_TRUE(has<N::reconnect>(r));
    EXPECT_FALSE(n.paused());
    EXPECT_TRUE(n.resume().empty());
    const auto back = full_at + 3s;
    const auto all = connect_and_confirm(back);
    const auto g = gaps(all);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].reason, gap_reason::slow_consumer_disconnect);
    EXPECT_EQ(g[0].lost, full_at);
    EXPECT_EQ(g[0].restored, back);
}

TEST_F(NodeSubscriber, ExpectedTopologyGapIsEmittedOnceCovered) {
    add("k");
    auto& n = make();
    n.set_slots({{100, 200}});
    (void)n.on_ready(t0);
    gap_event g;
    g.reason = gap_reason::topology_change;
    g.lost = t0 - 2s;
    g.slots = {{150, 160}};
    EXPECT_TRUE(gaps(n.expect_gap(g, t0)).empty());  // not covered yet
    const auto out = gaps(n.on_confirmation(pubsub_kind::subscribe, "k", t0 + 1s));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].node, "127.0.0.1:7000");
    EXPECT_EQ(out[0].slots, (slot_ranges{{150, 160}}));  // its own slots, not the node's
    EXPECT_EQ(out[0].lost, t0 - 2s);
    EXPECT_EQ(out[0].restored, t0 + 1s);

    // Already covered: at once. Merged with an open gap: from the earlier start.
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "lost", t0 + 5s, t0 + 5s);
    g.lost = t0 + 6s;
    EXPECT_TRUE(gaps(n.expect_gap(g, t0 + 6s)).empty());
    EXPECT_EQ(n.gap_start(), t0 + 5s);
    const auto merged = gaps(connect_and_confirm(t0 + 7s));
    ASSERT_EQ(merged.size(), 1u);
    EXPECT_EQ(merged[0].reason, gap_reason::topology_change);
    EXPECT_EQ(merged[0].lost, t0 + 5s);
    g.lost = t0 + 8s;
    EXPECT_EQ(gaps(n.expect_gap(g, t0 + 9s)).size(), 1u);
}

TEST_F(NodeSubscriber, FlagsCheckWarnsNamingTheLettersToSet) {
    add("__keyevent@0__:set");
    auto& n = make();
    (void)n.on_ready(t0);
    const auto w = all_of<N::warn_flags>(n.on_flags("Kg", t0, std::nullopt));
    ASSERT_EQ(w.size(), 1u);
    EXPECT_NE(w[0].message.find("notify-keyspace-events is \"Kg\""), std::string::npos)
        << w[0].message;
    EXPECT_NE(w[0].message.find("CONFIG SET notify-keyspace-events"), std::string::npos);
    EXPECT_EQ(n.configured_flags(), from_letters("Kg"));
    EXPECT_TRUE(n.notifications_off());
    EXPECT_TRUE(n.on_flags("E$", t0, std::nullopt).empty());
    EXPECT_FALSE(n.notifications_off());
    const auto r = all_of<N::report>(n.on_flags_refused("NOPERM"));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_NE(r[0].message.find("CONFIG GET refused: NOPERM"), std::string::npos);
    EXPECT_FALSE(n.configured_flags());
}

TEST_F(NodeSubscriber, FlagsSwitchedOffOpenANotificationsDisabledGapUntilACheckFindsThemSet) {
    add("__keyspace@0__:*", true);
    settings.flags_check_interval = 5s;
    auto& n = make();
    const auto first = connect_and_confirm(t0);
    ASSERT_EQ(all_of<N::ask_flags>(first).size(), 1u);
    EXPECT_FALSE(all_of<N::ask_flags>(first)[0].subscribed);  // before any SUBSCRIBE
    EXPECT_FALSE(n.next_deadline());                          // its answer is awaited
    EXPECT_TRUE(n.on_flags("KEA", t0, std::nullopt).empty());
    ASSERT_TRUE(n.next_deadline());
    EXPECT_EQ(*n.next_deadline(), t0 + 5s);
    EXPECT_TRUE(n.on_timer(t0 + 4s).empty());  // not due
    // CONFIG SET notify-keyspace-events "" at some time after t0; a notification was read
    // at t0 + 2s, so delivery was whole until then.
    const auto ask = n.on_timer(t0 + 5s);
    ASSERT_EQ(all_of<N::ask_flags>(ask).size(), 1u);
    EXPECT_TRUE(all_of<N::ask_flags>(ask)[0].subscribed);  // RESP2 asks elsewhere
    EXPECT_TRUE(n.on_timer(t0 + 5s).empty());              // one question in flight
    const auto off = n.on_flags("", t0 + 5s, t0 + 2s);
    EXPECT_EQ(all_of<N::warn_flags>(off).size(), 1u);
    EXPECT_TRUE(gaps(off).empty());  // open, not reported yet
    ASSERT_TRUE(n.open_gap());
    EXPECT_EQ(n.open_gap()->reason, gap_reason::notifications_disabled);
    EXPECT_EQ(n.open_gap()->lost, t0 + 2s);
    EXPECT_TRUE(n.covered());  // subscribed, but nothing is published
    // Still off at the next check: still one open gap.
    (void)n.on_timer(t0 + 10s);
    EXPECT_TRUE(gaps(n.on_flags("", t0 + 10s, t0 + 2s)).empty());
    EXPECT_EQ(n.open_gap()->lost, t0 + 2s);
    // Set again: the gap ends at the check that saw it.
    (void)n.on_timer(t0 + 15s);
    const auto back = gaps(n.on_flags("AKE", t0 + 15s, t0 + 2s));
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].reason, gap_reason::notifications_disabled);
    EXPECT_EQ(back[0].lost, t0 + 2s);
    EXPECT_EQ(back[0].restored, t0 + 15s);
    EXPECT_NE(back[0].detail.find("notify-keyspace-events is \"\""), std::string::npos)
        << back[0].detail;
    EXPECT_FALSE(n.open_gap());
    EXPECT_EQ(n.gaps(), 1u);
    // Without a notification since the last good check, the gap starts at that check.
    (void)n.on_timer(t0 + 20s);
    (void)n.on_flags("", t0 + 20s, t0 + 2s);
    EXPECT_EQ(n.open_gap()->lost, t0 + 15s);
}

TEST_F(NodeSubscriber, ARestartWithoutNotificationsIsOneGapFromTheLossUntilTheFlagsAreBack) {
    add("__keyspace@0__:k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    (void)n.on_run_id("a");
    (void)n.on_flags("KA", t0, std::nullopt);
    (void)n.on_disconnected(make_error_code(net::errc::closed_by_peer), "n: closed", t0 + 3s,
                            t0 + 2s);
    (void)n.on_ready(t0 + 4s);
    (void)n.on_run_id("b");
    EXPECT_EQ(n.open_gap()->reason, gap_reason::server_restarted);
    (void)n.on_flags("", t0 + 4s, t0 + 2s);
    // Resubscribed: covered, but the gap stays open.
    EXPECT_TRUE(
        gaps(n.on_confirmation(pubsub_kind::subscribe, "__keyspace@0__:k", t0 + 4s)).empty());
    EXPECT_TRUE(n.covered());
    ASSERT_TRUE(n.open_gap());
    EXPECT_EQ(n.open_gap()->reason, gap_reason::notifications_disabled);
    (void)n.on_timer(t0 + 9s);
    const auto g = gaps(n.on_flags("KA", t0 + 9s, t0 + 2s));
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].reason, gap_reason::notifications_disabled);
    EXPECT_EQ(g[0].lost, t0 + 2s);  // where delivery stopped
    EXPECT_EQ(g[0].restored, t0 + 9s);
    EXPECT_NE(g[0].detail.find("restarted"), std::string::npos) << g[0].detail;
}

TEST_F(NodeSubscriber, ALostConnectionsGapBeginsWhereDeliveryStopped) {
    add("k");
    auto& n = make();
    (void)connect_and_confirm(t0);
    // A stalled node: the last notification read at t0 + 3s, the health check gave up
    // at t0 + 8s.
    (void)n.on_disconnected(make_error_code(net::errc::health_check_timeout), "n: no PONG", t0 + 8s,
                            t0 + 3s);
    EXPECT_EQ(n.open_gap()->lost, t0 + 3s);
    const auto g = gaps(connect_and_confirm(t0 + 9s));
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].lost, t0 + 3s);
    // Nothing read on this connection since it was covered: the gap begins there.
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "n: reset", t0 + 12s,
                            t0 + 3s);
    EXPECT_EQ(n.open_gap()->lost, t0 + 9s);
    (void)connect_and_confirm(t0 + 13s);
    // Nothing read since (no notification, no PING answered): from the covering.
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "n: reset", t0 + 14s);
    EXPECT_EQ(n.open_gap()->lost, t0 + 13s);
    // Not covered yet (the replay was not confirmed): from when the loss is noticed.
    (void)n.on_ready(t0 + 15s);
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "n: reset", t0 + 16s,
                            t0 + 15s);
    EXPECT_EQ(n.open_gap()->lost, t0 + 13s);  // still the open gap of the last loss
}

TEST_F(NodeSubscriber, FlagsAreReCheckedOnlyWhileReadyAndNotRefused) {
    add("k");
    settings.flags_check_interval = 5s;
    auto& n = make();
    EXPECT_FALSE(n.next_deadline());  // not connected
    (void)connect_and_confirm(t0);
    (void)n.on_flags("KA", t0, std::nullopt);
    EXPECT_EQ(n.next_deadline(), t0 + 5s);
    // A re-check's own connection failed: asked again one interval later.
    (void)n.on_timer(t0 + 5s);
    EXPECT_TRUE(n.on_flags_unanswered(t0 + 6s).empty());
    EXPECT_EQ(n.next_deadline(), t0 + 11s);
    // Refused (ACL): not asked again on this connection, asked on the next one.
    (void)n.on_timer(t0 + 11s);
    (void)n.on_flags_refused("NOPERM");
    EXPECT_FALSE(n.next_deadline());
    (void)n.on_disconnected(make_error_code(net::errc::connection_lost), "n: reset", t0 + 12s);
    EXPECT_FALSE(n.next_deadline());
    EXPECT_TRUE(has<N::ask_flags>(connect_and_confirm(t0 + 13s)));
    (void)n.on_flags("KA", t0 + 13s, std::nullopt);
    EXPECT_EQ(n.next_deadline(), t0 + 18s);
    // Off, or interval 0: only on connect.
    settings.check = notify_check::off;
    auto& off = make();
    (void)connect_and_confirm(t0);
    EXPECT_FALSE(off.next_deadline());
    settings.check = notify_check::warn;
    settings.flags_check_interval = 0s;
    auto& once = make();
    (void)connect_and_confirm(t0);
    (void)once.on_flags("KA", t0, std::nullopt);
    EXPECT_FALSE(once.next_deadline());
}

TEST(NodeSubscriberHelpers, RunIdOfInfo) {
    EXPECT_EQ(run_id_of("# Server\r\nredis_version:7.0\r\nrun_id:abc123\r\ntcp_port:1\r\n"),
              "abc123");
    EXPECT_EQ(run_id_of("run_id:xyz"), "xyz");
    EXPECT_EQ(run_id_of("# Server\r\n"), "");
}

}  // namespace
}  // namespace ksn::detail
