// The dispatcher without a socket: frames in, handlers, queue and gaps out; and every user
// callback guarded (what it throws, std::exception or not, is counted and reported and
// never escapes).
#include "notifications/engine/dispatcher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ksn::detail {
namespace {

using namespace std::chrono_literals;
using protocol::pubsub_frame;
using protocol::pubsub_kind;

const clock::time_point t0 = clock::time_point{} + 500s;

pubsub_frame message(std::string_view channel, std::string_view payload) {
    pubsub_frame f;
    f.kind = pubsub_kind::message;
    f.channel = channel;
    f.payload = payload;
    return f;
}

struct fixture {
    notifier_options options;
    subscription_registry registry;
    std::vector<std::string> diagnostics;
    std::unique_ptr<dispatcher> d;
    node_stats stats;

    explicit fixture(dispatch_mode mode, std::size_t capacity = 16) {
        options.dispatch = mode;
        options.queue_capacity = capacity;
        options.diagnostics = [this](severity, const std::string& m) { diagnostics.push_back(m); };
        d = std::make_unique<dispatcher>(options, registry);
    }
    bool said(std::string_view needle) const {
        for (const auto& m : diagnostics) {
            if (m.find(needle) != std::string::npos) return true;
        }
        return false;
    }
};

TEST(Dispatcher, InlineHandlerGetsTheParsedNotificationWithItsOrigin) {
    fixture f(dispatch_mode::io_thread);
    std::string seen;
    f.registry.add({"__keyspace@0__:k", false}, [&](const received_notification& n) {
        seen = std::string(n.key()) + " " + std::string(n.event()) + " " + std::string(n.node());
        EXPECT_EQ(n.received(), t0);
    });
    const auto r = f.d->dispatch(message("__keyspace@0__:k", "set"), t0, f.stats, "n1:1");
    EXPECT_EQ(r, event_queue::push_result::queued);
    EXPECT_EQ(seen, "k set n1:1");
    EXPECT_EQ(f.stats.notifications, 1u);
    EXPECT_EQ(f.d->queue().size(), 0u);
}

TEST(Dispatcher, UnknownChannelsAndMalformedPayloadsAreCountedNotDelivered) {
    fixture f(dispatch_mode::queued);
    f.registry.add({"__keyspace@0__:*", true}, {});
    f.registry.add({"plain", false}, {});
    // Not subscribed (unsubscribed while in flight).
    (void)f.d->dispatch(message("other", "x"), t0, f.stats, "n");
    EXPECT_EQ(f.stats.other_messages, 1u);
    // Subscribed, but not a notification channel.
    (void)f.d->dispatch(message("plain", "x"), t0, f.stats, "n");
    EXPECT_EQ(f.stats.other_messages, 2u);
    // A keyspace channel with an empty event is malformed: counted and reported.
    pubsub_frame p;
    p.kind = pubsub_kind::pmessage;
    p.pattern = "__keyspace@0__:*";
    p.channel = "__keyspace@0__:k";
    p.payload = "";
    (void)f.d->dispatch(p, t0, f.stats, "n");
    EXPECT_EQ(f.stats.invalid, 1u);
    EXPECT_TRUE(f.said("malformed notification")) << f.diagnostics.size();
    EXPECT_EQ(f.d->queue().size(), 0u);
}

TEST(Dispatcher, ThrowingInlineHandlersAreCountedAndReportedWhateverTheyThrow) {
    fixture f(dispatch_mode::io_thread);
    int calls = 0;
    f.registry.add({"__keyspace@0__:a", false}, [&](const received_notification&) {
        ++calls;
        throw std::runtime_error("boom");
    });
    f.registry.add({"__keyspace@0__:b", false}, [&](const received_notification&) {
        ++calls;
        throw 42;  // not a std::exception
    });
    EXPECT_NO_THROW((void)f.d->dispatch(message("__keyspace@0__:a", "set"), t0, f.stats, "n"));
    EXPECT_NO_THROW((void)f.d->dispatch(message("__keyspace@0__:b", "set"), t0, f.stats, "n"));
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(f.stats.handler_exceptions, 2u);
    EXPECT_TRUE(f.said("handler threw: boom"));
    EXPECT_TRUE(f.said("handler threw a non-std::exception"));
}

TEST(Dispatcher, ThrowingGapHandlerOnTheIoThreadIsCountedNotFatal) {
    fixture f(dispatch_mode::io_thread);
    int calls = 0;
    f.d->set_gap_handler([&](const gap_event&) {
        ++calls;
        throw "a C string";  // escaped the I/O thread before (only std::exception was caught)
    });
    gap_event g;
    g.node = "n";
    EXPECT_NO_THROW(f.d->emit_gap(g));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(f.d->callback_exceptions(), 1u);
    EXPECT_TRUE(f.said("gap handler threw a non-std::exception"));
    EXPECT_EQ(f.d->queue().size(), 0u);
}

TEST(Dispatcher, ThrowingDiagnosticHandlerIsCountedNotFatal) {
    fixture f(dispatch_mode::io_thread);
    f.d->set_diagnostic_handler([](severity, const std::string&) { throw 7; });
    EXPECT_NO_THROW(f.d->report(severity::warning, "something"));
    EXPECT_EQ(f.d->callback_exceptions(), 1u);
    // guarded() with a throwing callback reports through the (throwing) diagnostic
    // handler: two exceptions, neither escapes.
    EXPECT_NO_THROW(f.d->guarded("a completion", [] { throw std::logic_error("x"); }));
    EXPECT_EQ(f.d->callback_exceptions(), 3u);
}

TEST(Dispatcher, QueuedNotificationsAndGapsComeOutOfNextInOrder) {
    fixture f(dispatch_mode::queued);
    f.registry.add({"__keyevent@0__:*", true}, {});
    pubsub_frame p;
    p.kind = pubsub_kind::pmessage;
    p.pattern = "__keyevent@0__:*";
    p.channel = "__keyevent@0__:del";
    p.payload = "k1";
    (void)f.d->dispatch(p, t0, f.stats, "n");
    gap_event g;
    g.node = "n";
    g.reason = gap_reason::connection_lost;
    f.d->emit_gap(g);
    p.payload = "k2";
    (void)f.d->dispatch(p, t0 + 1s, f.stats, "n");
    delivery out;
    ASSERT_TRUE(f.d->next(out, 0ms));
    ASSERT_TRUE(out.is_notification());
    EXPECT_EQ(out.notification().key(), "k1");
    EXPECT_EQ(out.notification().pattern(), "__keyevent@0__:*");
    ASSERT_TRUE(f.d->next(out, 0ms));
    ASSERT_TRUE(out.is_gap());
    EXPECT_EQ(out.gap().reason, gap_reason::connection_lost);
    ASSERT_TRUE(f.d->next(out, 0ms));
    EXPECT_EQ(out.notification().key(), "k2");
    EXPECT_EQ(out.notification().received(), t0 + 1s);
    EXPECT_FALSE(f.d->next(out, 0ms));
}

TEST(Dispatcher, PulledHandlersRunInNextAndTheirExceptionsReachThePuller) {
    fixture f(dispatch_mode::queued);
    int calls = 0;
    f.registry.add({"__keyspace@0__:k", false}, [&](const received_notification& n) {
        ++calls;
        if (n.event() == "del") throw std::runtime_error("pulled");
    });
    (void)f.d->dispatch(message("__keyspace@0__:k", "set"), t0, f.stats, "n");
    (void)f.d->dispatch(message("__keyspace@0__:k", "del"), t0, f.stats, "n");
    delivery out;
    // The handler ran for "set" (not returned), then "del" threw out of next().
    EXPECT_THROW((void)f.d->next(out, 0ms), std::runtime_error);
    EXPECT_EQ(calls, 2);
    EXPECT_FALSE(f.d->next(out, 0ms));
}

TEST(Dispatcher, DisconnectPolicyAnswersFullWhenTheQueueIsFull) {
    fixture f(dispatch_mode::queued, 1);
    f.options.overflow = overflow_policy::disconnect;
    f.d = std::make_unique<dispatcher>(f.options, f.registry);
    f.registry.add({"__keyspace@0__:k", false}, {});
    EXPECT_EQ(f.d->dispatch(message("__keyspace@0__:k", "set"), t0, f.stats, "n"),
              event_queue::push_result::queued);
    EXPECT_EQ(f.d->dispatch(message("__keyspace@0__:k", "set"), t0, f.stats, "n"),
              event_queue::push_result::full);
}

}  // namespace
}  // namespace ksn::detail
