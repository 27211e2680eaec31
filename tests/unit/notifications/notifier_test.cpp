// The notifier's cross-thread calls when its I/O thread does not answer: an io_context
// that nobody runs (no socket is ever opened, since nothing runs the connect). And the
// core's operations on an io_context the test runs itself, with no node at all: the one
// deadline timer, the undo of a timed-out subscribe, parked operations at shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

#include "io_context.hpp"
#include "notifications/engine/notifier_core.hpp"
#include "notifications/keyspace_notifications.hpp"
#include "tests/support/timing.hpp"

namespace ksn {
namespace {

using namespace std::chrono_literals;

notifier_options short_bounds() {
    notifier_options o;
    o.subscribe_timeout = 50ms;
    o.connection.connect_timeout = 50ms;
    o.diagnostics = [](severity, const std::string&) {};
    return o;
}

TEST(NotifierWithoutIo, QueriesThrowKsnErrorWithTheReason) {
    asio::io_context io;  // never run
    keyspace_notifications n(io, short_bounds());
    try {
        (void)n.stats();
        FAIL() << "stats() answered without an I/O thread";
    } catch (const ksn::error& e) {
        EXPECT_EQ(e.code(), make_error_code(notifier_errc::no_answer));
        EXPECT_NE(std::string(e.what()).find("did not answer within 2100 ms"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("not running"), std::string::npos) << e.what();
    }
}

TEST(NotifierWithoutIo, BlockingSubscribeReportsNoAnswer) {
    asio::io_context io;  // never run
    keyspace_notifications n(io, short_bounds());
    std::error_code ec;
    const channel c = channel::keyspace("k");
    n.subscribe(std::span<const channel>(&c, 1), {}, ec);
    EXPECT_EQ(ec, make_error_code(notifier_errc::no_answer));
    EXPECT_EQ(ec.message(), "the notifier's I/O thread did not answer");
}

struct outcome {
    std::error_code ec;
    std::string detail;
};

/// A core on the test's io_context, as a cluster notifier before it knows its nodes.
struct core_without_nodes {
    asio::io_context io;
    std::shared_ptr<detail::notifier_core> core;

    explicit core_without_nodes(std::chrono::milliseconds timeout) {
        auto o = short_bounds();
        o.subscribe_timeout = timeout;
        core = std::make_shared<detail::notifier_core>(&io, o);
        core->await_nodes();
        core->start([] {});
    }
    ~core_without_nodes() {
        core->shutdown();
        io.run_for(std::chrono::seconds(1));
    }

    /// Subscribes `name` (parked: there is no node yet); the outcome lands in `out`.
    void subscribe(const std::string& name, std::optional<outcome>& out) {
        core->subscribe({{name, false}}, nullptr,
                        [&out](const std::error_code& ec, const std::string& d) {
                            out = outcome{ec, d};
                        });
    }
    /// Runs the loop until `out` is set, at most `bound` (scaled).
    void run_until(const std::optional<outcome>& out, std::chrono::milliseconds bound) {
        const auto end = std::chrono::steady_clock::now() + test::scaled(bound);
        while (!out && std::chrono::steady_clock::now() < end)
            io.run_one_for(std::chrono::milliseconds(20));
    }
};

TEST(NotifierCore, AParkedSubscribeTimesOutOnTheDeadlineAndIsUndone) {
    core_without_nodes c(100ms);
    std::optional<outcome> first, second;
    const auto opened = std::chrono::steady_clock::now();
    c.subscribe("__keyspace@0__:a", first);
    c.subscribe("__keyspace@0__:b", second);
    EXPECT_EQ(c.core->subscription_count(), 2u);
    c.run_until(second, 5000ms);
    ASSERT_TRUE(first && second);
    EXPECT_GE(std::chrono::steady_clock::now() - opened, 100ms);  // not before its deadline
    EXPECT_EQ(first->ec, make_error_code(notifier_errc::subscribe_timeout));
    EXPECT_EQ(first->detail,
              "no confirmation within 100 ms from any node (the cluster topology is not known "
              "yet)");
    EXPECT_EQ(second->ec, make_error_code(notifier_errc::subscribe_timeout));
    // Both were undone: the caller that learns of the failure finds nothing of them.
    EXPECT_EQ(c.core->subscription_count(), 0u);
}

TEST(NotifierCore, ALaterDeadlineIsStillKeptAfterAnEarlierOneFires) {
    // Wide margins (a second's deadline 200 ms, scaled, after the first's), so that a
    // loaded machine cannot run both timeouts in one pass.
    core_without_nodes c(test::scaled(300ms));
    std::optional<outcome> first, second;
    c.subscribe("__keyspace@0__:a", first);
    // The second opens once the first has waited a while: its deadline is later.
    const auto pause_end = std::chrono::steady_clock::now() + test::scaled(200ms);
    while (std::chrono::steady_clock::now() < pause_end)
        c.io.run_one_for(std::chrono::milliseconds(5));
    ASSERT_FALSE(first);
    c.subscribe("__keyspace@0__:b", second);
    c.run_until(first, 5000ms);
    ASSERT_TRUE(first);
    EXPECT_FALSE(second) << "the second timed out on the first's deadline";
    c.run_until(second, 5000ms);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->ec, make_error_code(notifier_errc::subscribe_timeout));
}

TEST(NotifierCore, ParkedSubscribesFailWithFailParkedAndShutdownCompletesTheRest) {
    core_without_nodes c(60'000ms);
    std::optional<outcome> failed, closed;
    c.subscribe("__keyspace@0__:a", failed);
    c.core->fail_parked("no seed node answered");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->ec, make_error_code(notifier_errc::not_connected));
    EXPECT_EQ(failed->detail, "no seed node answered");
    EXPECT_EQ(c.core->subscription_count(), 0u);

    c.subscribe("__keyspace@0__:b", closed);
    c.core->shutdown();
    c.run_until(closed, 1000ms);
    ASSERT_TRUE(closed) << "a parked subscribe was left without an answer at shutdown";
    EXPECT_EQ(closed->ec, make_error_code(notifier_errc::closed));
}

TEST(NotifierCore, NodesReadyWithNoNodeCompletesParkedSubscribes) {
    core_without_nodes c(60'000ms);
    std::optional<outcome> out;
    c.subscribe("__keyspace@0__:a", out);
    c.core->nodes_ready();
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->ec) << out->detail;
}

}  // namespace
}  // namespace ksn
