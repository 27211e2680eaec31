// The operations in flight without a socket or a timer: answers, deadlines, timeouts,
// undo, the notify-keyspace-events check and parked operations, on a clock the test moves.
#include "notifications/engine/operation_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ksn::detail {
namespace {

using namespace std::chrono_literals;
using table = operation_table;

const clock::time_point t0 = clock::time_point{} + 1000s;
const subscription_key a{"__keyspace@0__:a", false};
const subscription_key b{"__keyspace@0__:b*", true};
const std::error_code refused = make_error_code(notifier_errc::subscribe_refused);

std::uint64_t open_subscribe(table& t, std::size_t nodes, clock::time_point now = t0,
                             bool parked = false) {
    return t.open(false, {a, b}, nodes, parked, nullptr, now);
}

TEST(OperationTable, FinishesOnceEveryNodeHasConfirmed) {
    table t(500ms);
    const auto id = open_subscribe(t, 3);
    EXPECT_FALSE(t.answer(id, {}, ""));
    EXPECT_FALSE(t.answer(id, {}, ""));
    EXPECT_TRUE(t.contains(id));
    const auto f = t.answer(id, {}, "");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->id, id);
    EXPECT_FALSE(f->ec);
    EXPECT_TRUE(f->undo().empty());
    EXPECT_FALSE(t.contains(id));
    EXPECT_FALSE(t.deadline());
}

TEST(OperationTable, TheFirstErrorFinishesAtOnceAndLateAnswersAreIgnored) {
    table t(500ms);
    const auto id = open_subscribe(t, 3);
    EXPECT_FALSE(t.answer(id, {}, ""));
    const auto f = t.answer(id, refused, "n2: NOPERM");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->ec, refused);
    EXPECT_EQ(f->detail, "n2: NOPERM");
    // The third node answers after the operation is gone: nothing happens.
    EXPECT_FALSE(t.answer(id, {}, ""));
    EXPECT_FALSE(t.answer(id, make_error_code(notifier_errc::closed), "late"));
    EXPECT_TRUE(t.empty());
}

TEST(OperationTable, AFailedSubscribeUndoesWhatItAdded) {
    table t(500ms);
    const auto id = open_subscribe(t, 1);
    auto f = t.answer(id, refused, "NOPERM");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->undo(), (std::vector<subscription_key>{a, b}));
}

TEST(OperationTable, AnUnsubscribeIsNeverUndone) {
    table t(500ms);
    const auto id = t.open(true, {a}, 2, false, nullptr, t0);
    auto f = t.answer(id, refused, "NOPERM");
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->ec);
    EXPECT_TRUE(f->added.empty());
    EXPECT_TRUE(f->undo().empty());
}

TEST(OperationTable, TheDeadlineIsTheEarliestAndMovesOnWhenItsOperationFinishes) {
    table t(500ms);
    const auto first = open_subscribe(t, 1, t0);
    const auto second = open_subscribe(t, 1, t0 + 100ms);
    EXPECT_EQ(t.deadline(), t0 + 500ms);
    EXPECT_TRUE(t.expired(t0 + 499ms).empty());
    EXPECT_EQ(t.expired(t0 + 500ms), std::vector<std::uint64_t>{first});
    (void)t.time_out(first, "n1: SUBSCRIBE __keyspace@0__:a");
    EXPECT_EQ(t.deadline(), t0 + 600ms);
    EXPECT_EQ(t.expired(t0 + 600ms), std::vector<std::uint64_t>{second});
    ASSERT_TRUE(t.answer(second, {}, ""));
    EXPECT_FALSE(t.deadline());
    EXPECT_TRUE(t.expired(t0 + 10s).empty());
}

TEST(OperationTable, ExpiredOperationsComeEarliestDeadlineFirst) {
    table t(500ms);
    const auto later = open_subscribe(t, 1, t0 + 200ms);
    const auto earlier = open_subscribe(t, 1, t0);
    EXPECT_EQ(t.deadline(), t0 + 500ms);
    EXPECT_EQ(t.expired(t0 + 1s), (std::vector<std::uint64_t>{earlier, later}));
}

TEST(OperationTable, ATimeoutNamesTheBoundAndTheLateNodesAndIsUndone) {
    table t(500ms);
    const auto id = open_subscribe(t, 2);
    EXPECT_FALSE(t.answer(id, {}, ""));
    const auto f = t.time_out(id, "n2: SUBSCRIBE __keyspace@0__:a");
    EXPECT_EQ(f.ec, make_error_code(notifier_errc::subscribe_timeout));
    EXPECT_EQ(f.detail, "no confirmation within 500 ms from n2: SUBSCRIBE __keyspace@0__:a");
    EXPECT_EQ(f.undo(), (std::vector<subscription_key>{a, b}));
    EXPECT_FALSE(t.contains(id));
}

TEST(OperationTable, AnUnsubscribeTimeoutSaysSoAndAnUnknownTopologyIsNamed) {
    table t(750ms);
    const auto unsub = t.open(true, {a}, 1, false, nullptr, t0);
    EXPECT_EQ(t.time_out(unsub, "n1: UNSUBSCRIBE __keyspace@0__:a").detail,
              "unsubscribe: no confirmation within 750 ms from n1: UNSUBSCRIBE __keyspace@0__:a");
    const auto parked = open_subscribe(t, 0, t0, true);
    EXPECT_EQ(t.time_out(parked, "").detail,
              "no confirmation within 750 ms from any node (the cluster topology is not known "
              "yet)");
}

TEST(OperationTable, AParkedOperationWaitsForItsNodesWithItsDeadlineRunning) {
    table t(500ms);
    const auto id = open_subscribe(t, 0, t0, true);
    EXPECT_EQ(t.parked(), std::vector<std::uint64_t>{id});
    EXPECT_EQ(t.deadline(), t0 + 500ms);
    // Nobody was sent it, so no answer can finish it.
    EXPECT_FALSE(t.answer(id, {}, ""));
    EXPECT_TRUE(t.contains(id));
    EXPECT_EQ(t.unpark(id, 2), (std::vector<subscription_key>{a, b}));
    EXPECT_TRUE(t.parked().empty());
    EXPECT_EQ(t.deadline(), t0 + 500ms);
    EXPECT_FALSE(t.answer(id, {}, ""));
    EXPECT_TRUE(t.answer(id, {}, ""));
}

TEST(OperationTable, AFailedParkedOperationIsUndone) {
    table t(500ms);
    const auto id = open_subscribe(t, 0, t0, true);
    const auto f =
        t.fail(id, make_error_code(notifier_errc::not_connected), "no seed node answered");
    EXPECT_EQ(f.ec, make_error_code(notifier_errc::not_connected));
    EXPECT_EQ(f.detail, "no seed node answered");
    EXPECT_EQ(f.undo(), (std::vector<subscription_key>{a, b}));
}

TEST(OperationTable, TakeEndsAnOperationAsItIs) {
    table t(500ms);
    const auto id = open_subscribe(t, 0, t0, true);
    const auto f = t.take(id);
    EXPECT_FALSE(f.ec);
    EXPECT_TRUE(f.undo().empty());
    EXPECT_TRUE(t.empty());
}

TEST(OperationTable, UnderRequireMissingFlagsFailTheSubscribeAndUndoIt) {
    table t(500ms);
    auto f = *t.answer(open_subscribe(t, 1), {}, "");
    ASSERT_TRUE(f.needs_flags_check(notify_check::require));
    EXPECT_FALSE(f.apply_flags_check(notify_check::require, "n1: set K and g"));
    EXPECT_EQ(f.ec, make_error_code(notifier_errc::notifications_disabled));
    EXPECT_EQ(f.detail, "n1: set K and g");
    EXPECT_EQ(f.undo(), (std::vector<subscription_key>{a, b}));
}

TEST(OperationTable, UnderWarnMissingFlagsAreAWarningAndTheSubscribeStands) {
    table t(500ms);
    auto f = *t.answer(open_subscribe(t, 1), {}, "");
    EXPECT_EQ(f.apply_flags_check(notify_check::warn, "n1: set K and g"),
              "n1: set K and g; nothing will arrive for those subscriptions");
    EXPECT_FALSE(f.ec);
    EXPECT_TRUE(f.undo().empty());
}

TEST(OperationTable, TheFlagsCheckSkipsOffUnsubscribesFailuresAndMetFlags) {
    table t(500ms);
    auto ok = *t.answer(open_subscribe(t, 1), {}, "");
    EXPECT_FALSE(ok.needs_flags_check(notify_check::off));
    EXPECT_FALSE(ok.apply_flags_check(notify_check::off, "n1: set K"));
    EXPECT_FALSE(ok.apply_flags_check(notify_check::require, std::nullopt));
    EXPECT_FALSE(ok.ec);

    auto unsub = *t.answer(t.open(true, {a}, 1, false, nullptr, t0), {}, "");
    EXPECT_FALSE(unsub.needs_flags_check(notify_check::require));
    EXPECT_FALSE(unsub.apply_flags_check(notify_check::require, "n1: set K"));
    EXPECT_FALSE(unsub.ec);

    // A subscribe that failed keeps its own error, not the flags'.
    auto failed = *t.answer(open_subscribe(t, 1), refused, "NOPERM");
    EXPECT_FALSE(failed.needs_flags_check(notify_check::require));
    EXPECT_FALSE(failed.apply_flags_check(notify_check::require, "n1: set K"));
    EXPECT_EQ(failed.ec, refused);
    EXPECT_EQ(failed.detail, "NOPERM");
}

TEST(OperationTable, ReservedIdsAreNeverAnOperations) {
    table t(500ms);
    const auto first = open_subscribe(t, 1);
    const auto reserved = t.reserve_id();
    const auto second = open_subscribe(t, 1);
    EXPECT_NE(reserved, first);
    EXPECT_NE(reserved, second);
    EXPECT_NE(reserved, 0u);  // 0 is the node's replay
    EXPECT_FALSE(t.answer(reserved, refused, "an undo's unsubscribe failed"));
    EXPECT_EQ(t.size(), 2u);
}

const std::error_code not_connected = make_error_code(notifier_errc::not_connected);

TEST(OperationTable, APartialSubscribeSucceedsWithoutTheNodesItCannotReach) {
    table t(500ms);
    const auto id = t.open(false, {a}, 3, false, nullptr, t0, true);
    EXPECT_FALSE(t.answer(id, not_connected, "n2: connection refused", "n2"));
    EXPECT_FALSE(t.answer(id, {}, "", "n1"));
    const auto f = t.answer(id, not_connected, "n3: connection refused", "n3");
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->ec) << f->detail;
    EXPECT_TRUE(f->undo().empty());
    EXPECT_EQ(f->opened, t0);
    EXPECT_EQ(f->degraded, (std::vector<table::degraded_node>{{"n2", "n2: connection refused"},
                                                              {"n3", "n3: connection refused"}}));
}

TEST(OperationTable, APartialSubscribeNoNodeConfirmedFailsNamingEveryNode) {
    table t(500ms);
    const auto id = t.open(false, {a}, 2, false, nullptr, t0, true);
    EXPECT_FALSE(t.answer(id, not_connected, "n1: refused", "n1"));
    const auto f = t.answer(id, not_connected, "n2: refused", "n2");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->ec, not_connected);
    EXPECT_EQ(f->detail, "no node could be reached: n1: refused; n2: refused");
    EXPECT_TRUE(f->degraded.empty());
    EXPECT_EQ(f->undo(), std::vector<subscription_key>{a});
}

TEST(OperationTable, APartialSubscribeStillFailsOnAnyOtherError) {
    table t(500ms);
    const auto id = t.open(false, {a}, 3, false, nullptr, t0, true);
    EXPECT_FALSE(t.answer(id, not_connected, "n1: refused", "n1"));
    const auto f = t.answer(id, refused, "n2: NOPERM", "n2");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->ec, refused);
    EXPECT_TRUE(f->degraded.empty());
    EXPECT_EQ(f->undo(), std::vector<subscription_key>{a});
}

TEST(OperationTable, WithoutPartialOneUnreachableNodeFailsTheSubscribe) {
    table t(500ms);
    const auto id = t.open(false, {a}, 3, false, nullptr, t0);
    EXPECT_FALSE(t.answer(id, {}, "", "n1"));
    const auto f = t.answer(id, not_connected, "n2: refused", "n2");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->ec, not_connected);
    EXPECT_EQ(f->undo(), std::vector<subscription_key>{a});
}

TEST(OperationTable, APartialSubscribeTimesOutIntoSuccessOnceANodeConfirmed) {
    table t(500ms);
    const auto id = t.open(false, {a}, 3, false, nullptr, t0, true);
    EXPECT_FALSE(t.answer(id, {}, "", "n1"));
    EXPECT_FALSE(t.answer(id, not_connected, "n2: refused", "n2"));
    const auto f = t.time_out(id, "n3: SUBSCRIBE __keyspace@0__:a", {"n3"});
    EXPECT_FALSE(f.ec) << f.detail;
    EXPECT_EQ(f.degraded, (std::vector<table::degraded_node>{
                              {"n2", "n2: refused"}, {"n3", "no confirmation within 500 ms"}}));
    // No node confirmed: the timeout stands.
    const auto none = t.open(false, {a}, 2, false, nullptr, t0, true);
    const auto g = t.time_out(none, "n1: SUBSCRIBE __keyspace@0__:a; n2: ...", {"n1", "n2"});
    EXPECT_EQ(g.ec, make_error_code(notifier_errc::subscribe_timeout));
    EXPECT_TRUE(g.degraded.empty());
}

TEST(OperationTable, AnUnsubscribeIsNeverPartial) {
    table t(500ms);
    const auto id = t.open(true, {a}, 2, false, nullptr, t0, true);
    EXPECT_FALSE(t.answer(id, {}, "", "n1"));
    const auto f = t.answer(id, not_connected, "n2: refused", "n2");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->ec, not_connected);
    EXPECT_TRUE(f->degraded.empty());
}

TEST(OperationTable, TakeAllFailsEveryOperationInIdOrderAndCarriesItsCompletion) {
    table t(500ms);
    std::vector<std::string> calls;
    const auto first = t.open(
        false, {a}, 1, false,
        [&](const std::error_code& ec, const std::string& detail) {
            calls.push_back("first " + ec.message() + ": " + detail);
        },
        t0);
    const auto second = t.open(
        false, {b}, 0, true,
        [&](const std::error_code&, const std::string&) { calls.push_back("second"); }, t0);
    auto all = t.take_all(make_error_code(notifier_errc::closed), "the notifier is closed");
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].id, first);
    EXPECT_EQ(all[1].id, second);
    for (auto& f : all) {
        EXPECT_EQ(f.ec, make_error_code(notifier_errc::closed));
        f.done(f.ec, f.detail);
    }
    EXPECT_TRUE(t.empty());
    EXPECT_FALSE(t.deadline());
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0], "first " + make_error_code(notifier_errc::closed).message() +
                            ": the notifier is closed");
    EXPECT_EQ(calls[1], "second");
}

}  // namespace
}  // namespace ksn::detail
