// keyspace_notifications against real redis-server processes started by the tests.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <asio/post.hpp>

#include "io_context.hpp"

#include "notifications/event.hpp"
#include "tests/integration/notifier_fixture.hpp"

namespace ksn::test {
namespace {

class Standalone : public testing::TestWithParam<net::resp_version> {};

INSTANTIATE_TEST_SUITE_P(Resp, Standalone,
                         testing::Values(net::resp_version::resp2, net::resp_version::resp3),
                         [](const auto& info) {
                             return info.param == net::resp_version::resp2 ? "RESP2" : "RESP3";
                         });

TEST_P(Standalone, CommandsProduceTheirNotificationsInOrder) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_keyspace("k*");
    client c(server.port());
    c.command({"SET", "k1", "v"});
    c.command({"EXPIRE", "k1", "100"});
    c.command({"RENAME", "k1", "k2"});
    c.command({"HSET", "kh", "f", "v"});
    c.command({"LPUSH", "kl", "a"});
    c.command({"DEL", "k2"});
    c.command({"SET", "kx", "v", "PX", "20"});
    // Once its 20 ms passed, asking for it expires it if the active cycle has not.
    ASSERT_TRUE(wait_until([&] { return c.command({"PTTL", "kx"}).integer == -2; }, 2s));
    const auto got = pull(n, 9);
    // SET with PX also announces the expire it sets.
    EXPECT_EQ(key_events(got.notifications),
              (std::vector<std::string>{"k1 set", "k1 expire", "k1 rename_from", "k2 rename_to",
                                        "kh hset", "kl lpush", "k2 del", "kx set", "kx expire"}));
    const auto expired = pull(n, 1);
    EXPECT_EQ(key_events(expired.notifications), (std::vector<std::string>{"kx expired"}));
    for (const auto& x : got.notifications) {
        EXPECT_EQ(x.kind, channel_kind::keyspace);
        EXPECT_EQ(x.db, 0);
    }
    EXPECT_TRUE(got.gaps.empty());
    const auto st = n.stats();
    ASSERT_EQ(st.nodes.size(), 1u);
    EXPECT_EQ(st.nodes[0].resp, GetParam() == net::resp_version::resp2 ? 2 : 3);
    EXPECT_EQ(st.nodes[0].notifications, 10u);
    EXPECT_GT(st.nodes[0].bytes, 0u);
}

TEST_P(Standalone, KeyeventCarriesTheKeyAndReceiveTime) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_keyevent(event::del);
    client c(server.port());
    c.command({"SET", "a", "1"});
    const auto before = clock::now();
    c.command({"DEL", "a"});
    delivery d;
    ASSERT_TRUE(n.next(d, scaled(5s)));
    ASSERT_TRUE(d.is_notification());
    EXPECT_EQ(d.notification().kind(), channel_kind::keyevent);
    EXPECT_EQ(d.notification().key(), "a");
    EXPECT_EQ(d.notification().event(), "del");
    EXPECT_EQ(d.notification().node(), server.address());
    EXPECT_GE(d.notification().received(), before);
    EXPECT_LE(d.notification().received(), clock::now());
}

TEST_P(Standalone, ExactSubscriptionOfAGlobLookingKeyStaysExact) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_keyspace("a*b", 0, {}, match::exact);
    n.subscribe_keyspace("marker");
    client c(server.port());
    c.command({"SET", "axxb", "1"});  // would match the pattern a*b
    c.command({"SET", "a*b", "1"});
    c.command({"SET", "marker", "1"});
    const auto got = pull(n, 2);
    EXPECT_EQ(key_events(got.notifications), (std::vector<std::string>{"a*b set", "marker set"}));
}

TEST_P(Standalone, PatternSubscriptionMatchesAndReportsItsPattern) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe(channel::keyspace("user:*"));
    client c(server.port());
    c.command({"SET", "user:1", "x"});
    delivery d;
    ASSERT_TRUE(n.next(d, scaled(5s)));
    EXPECT_EQ(d.notification().pattern(), "__keyspace@0__:user:*");
    EXPECT_EQ(d.notification().key(), "user:1");
}

TEST_P(Standalone, OtherDatabase) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_keyevent(event::set, 3);
    client c(server.port());
    c.command({"SET", "in0", "x"});
    c.command({"SELECT", "3"});
    c.command({"SET", "in3", "x"});
    const auto got = pull(n, 1);
    ASSERT_EQ(got.notifications.size(), 1u);
    EXPECT_EQ(got.notifications[0].db, 3);
    EXPECT_EQ(got.notifications[0].key, "in3");
}

TEST_P(Standalone, KeyPrefixFiltersAndStrips) {
    redis_server server;
    auto o = options_for(server, GetParam());
    o.key_prefix = "app:";
    keyspace_notifications n(o);
    n.subscribe_keyspace("*");
    client c(server.port());
    c.command({"SET", "other:1", "x"});
    c.command({"SET", "app:42", "x"});
    const auto got = pull(n, 1);
    EXPECT_EQ(key_events(got.notifications), (std::vector<std::string>{"42 set"}));
    EXPECT_TRUE(wait_until([&] { return n.stats().nodes[0].filtered == 1; }, 2s));
}

TEST_P(Standalone, UnsubscribeStopsDelivery) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_keyspace("u1");
    n.subscribe_keyspace("marker");
    client c(server.port());
    c.command({"SET", "u1", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"u1 set"}));
    n.unsubscribe(channel::keyspace("u1"));
    EXPECT_TRUE(n.subscribed());
    c.command({"SET", "u1", "y"});
    c.command({"SET", "marker", "y"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"marker set"}));
    n.unsubscribe("__keyspace@0__:marker");
    EXPECT_FALSE(n.subscribed());
}

TEST_P(Standalone, HandlersAndPullMix) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    std::vector<std::string> handled;
    n.subscribe_keyspace(
        "h:*", 0, [&](const received_notification& x) { handled.push_back(std::string(x.key())); });
    n.subscribe_keyspace("p:*");
    client c(server.port());
    c.command({"SET", "h:1", "x"});
    c.command({"SET", "p:1", "x"});
    c.command({"SET", "h:2", "x"});
    c.command({"SET", "p:2", "x"});
    const auto got = pull(n, 2);
    EXPECT_EQ(key_events(got.notifications), (std::vector<std::string>{"p:1 set", "p:2 set"}));
    // Handlers ran inside next(), in stream order, before p:2 was returned.
    EXPECT_EQ(handled, (std::vector<std::string>{"h:1", "h:2"}));
}

TEST_P(Standalone, RunInThreadSurvivesAThrowingHandler) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    std::atomic<int> calls{0};
    std::atomic<int> exceptions{0};
    n.subscribe_keyspace("t*", 0, [&](const received_notification&) {
        if (calls++ == 0) throw std::runtime_error("first one fails");
    });
    auto w = n.run_in_thread([&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::runtime_error& ex) {
            if (std::string(ex.what()) == "first one fails") ++exceptions;
        }
    });
    client c(server.port());
    for (int i = 0; i < 5; ++i)
        c.command({"SET", "t" + std::to_string(i), "x"});
    EXPECT_TRUE(wait_until([&] { return calls == 5; }));
    EXPECT_EQ(exceptions, 1);
    EXPECT_TRUE(w.running());
    w.stop();
    EXPECT_FALSE(w.running());
}

TEST_P(Standalone, RunInThreadRefusesSubscriptionsWithoutHandler) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_keyspace("with", 0, [](const received_notification&) {});
    n.subscribe_keyspace("without");
    try {
        auto w = n.run_in_thread();
        FAIL() << "run_in_thread() accepted a subscription without handler";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("SUBSCRIBE __keyspace@0__:without"), std::string::npos)
            << e.what();
    }
}

TEST_P(Standalone, BinaryKeysEndToEnd) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_keyspace("*");
    const std::vector<std::string> keys{std::string("nul\0key", 7),
                                        "line\nbreak",
                                        "crlf\r\nkey",
                                        "\xff\xfe invalid utf-8",
                                        "a:b@c|d,e",
                                        "",
                                        "поле"};
    client c(server.port());
    for (const auto& k : keys)
        c.command(std::vector<std::string>{"SET", k, "v"});
    const auto got = pull(n, keys.size());
    ASSERT_EQ(got.notifications.size(), keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        EXPECT_EQ(got.notifications[i].key, keys[i]) << i;
        EXPECT_EQ(got.notifications[i].event, "set");
    }
}

TEST_P(Standalone, SubkeyNotificationsPublishedByHandDecode) {
    // Debian's server (7.0) does not emit subkey notifications, but it delivers any PUBLISH
    // on those channels byte for byte.
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_subkeyspace("h1");
    n.subscribe_subkeyevent("hset");
    n.subscribe_subkeyspaceitem("h1", "f*");
    n.subscribe_subkeyspaceevent("hdel", "h1");
    client c(server.port());
    c.command({"PUBLISH", "__subkeyspace@0__:h1", "hset|2:f1,4:f\n|,"});
    c.command({"PUBLISH", "__subkeyevent@0__:hset", "2:h1|8:поле"});
    c.command({"PUBLISH", "__subkeyspaceitem@0__:h1\nfield", "hexpired"});
    c.command({"PUBLISH", "__subkeyspaceevent@0__:hdel|h1", "1:a,0:"});
    const auto got = pull(n, 4);
    ASSERT_EQ(got.notifications.size(), 4u);
    EXPECT_EQ(got.notifications[0].kind, channel_kind::subkeyspace);
    EXPECT_EQ(got.notifications[0].event, "hset");
    EXPECT_EQ(got.notifications[0].subkeys, (std::vector<std::string>{"f1", "f\n|,"}));
    EXPECT_EQ(got.notifications[1].kind, channel_kind::subkeyevent);
    EXPECT_EQ(got.notifications[1].key, "h1");
    EXPECT_EQ(got.notifications[1].subkeys, (std::vector<std::string>{"поле"}));
    EXPECT_EQ(got.notifications[2].kind, channel_kind::subkeyspaceitem);
    EXPECT_EQ(got.notifications[2].event, "hexpired");
    EXPECT_EQ(got.notifications[2].subkeys, (std::vector<std::string>{"field"}));
    EXPECT_EQ(got.notifications[3].kind, channel_kind::subkeyspaceevent);
    EXPECT_EQ(got.notifications[3].subkeys, (std::vector<std::string>{"a", ""}));
}

TEST_P(Standalone, MalformedSubkeyPayloadIsCountedNotThrown) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    diagnostics diag;
    diag.attach(n);
    n.subscribe_subkeyspace("h1");
    client c(server.port());
    c.command({"PUBLISH", "__subkeyspace@0__:h1", "hset|9:short"});
    c.command({"PUBLISH", "__subkeyspace@0__:h1", "hset|1:x"});
    const auto got = pull(n, 1);
    ASSERT_EQ(got.notifications.size(), 1u);
    EXPECT_EQ(got.notifications[0].subkeys, (std::vector<std::string>{"x"}));
    EXPECT_EQ(n.stats().nodes[0].invalid, 1u);
    EXPECT_TRUE(diag.contains("malformed notification")) << diag.all();
}

TEST_P(Standalone, MalformedNotificationsReachThePullApiWhenAsked) {
    redis_server server;
    auto o = options_for(server, GetParam());
    o.deliver_invalid = true;
    o.diagnostics = [](severity, const std::string&) {};
    keyspace_notifications n(o);
    n.subscribe_subkeyspace("h1");
    client c(server.port());
    c.command({"PUBLISH", "__subkeyspace@0__:h1", "hset|9:short"});
    delivery d;
    ASSERT_TRUE(n.next(d, scaled(5s)));
    ASSERT_TRUE(d.is_invalid());
    EXPECT_EQ(d.invalid().node, server.address());
    EXPECT_EQ(d.invalid().channel, "__subkeyspace@0__:h1");
    EXPECT_EQ(d.invalid().payload, "hset|9:short");
    EXPECT_EQ(d.invalid().error, notification_errc::length_past_end) << d.invalid().error.message();
    EXPECT_EQ(d.invalid().part, notification_part::payload);
}

TEST_P(Standalone, MissingFlagsSuggestWhatToSet) {
    redis_server server;  // KEA: no subkey notifications
    auto o = options_for(server, GetParam());
    diagnostics diag;
    o.diagnostics = diag.handler();
    keyspace_notifications n(o);
    n.subscribe_subkeyspace("h*");
    const std::string need = "but the subscriptions need " + to_letters(from_letters("Sh").value());
    EXPECT_TRUE(wait_until([&] { return diag.contains(need); }, 3s)) << diag.all();
    // What is configured plus what is missing, not a fixed KEA.
    EXPECT_TRUE(diag.contains("CONFIG SET notify-keyspace-events " +
                              to_letters(from_letters("KEAS").value())))
        << diag.all();
}

TEST_P(Standalone, AclUserWithPassword) {
    redis_server server(with_config({"user alice on >s3cret ~* &* +@all", "user default off"}));
    server.set_auth({"alice", "s3cret"});
    auto o = options_for(server, GetParam());
    o.connection.username = "alice";
    o.connection.password = "s3cret";
    keyspace_notifications n(o);
    n.subscribe_keyspace("acl");
    server.command({"SET", "acl", "1"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"acl set"}));
}

TEST_P(Standalone, WrongPasswordIsAClearErrorNotARetryLoop) {
    redis_server server(with_config({"requirepass right"}));
    auto o = options_for(server, GetParam());
    o.connection.password = "wrong";
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    try {
        n.subscribe_keyspace("x");
        FAIL() << "subscribe succeeded with a wrong password";
    } catch (const ksn::error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(server.address()), std::string::npos) << what;
        EXPECT_NE(what.find("authentication failed"), std::string::npos) << what;
    }
    EXPECT_EQ(n.stats().nodes[0].state, net::connection_state::closed);
    EXPECT_EQ(n.stats().nodes[0].reconnects, 0u);
}

TEST(StandaloneResp2Fallback, ServerThatRefusesHello) {
    redis_server server(with_config({"rename-command HELLO \"\""}));
    keyspace_notifications n(options_for(server, net::resp_version::automatic));
    n.subscribe_keyspace("old");
    server.command({"SET", "old", "1"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"old set"}));
    EXPECT_EQ(n.stats().nodes[0].resp, 2);
}

TEST(StandaloneResp2Fallback, ForcedResp3AgainstSuchAServerFails) {
    redis_server server(with_config({"rename-command HELLO \"\""}));
    keyspace_notifications n(options_for(server, net::resp_version::resp3));
    diagnostics diag;
    diag.attach(n);
    EXPECT_THROW(n.subscribe_keyspace("x"), ksn::error);
    EXPECT_TRUE(wait_until([&] { return diag.contains("HELLO 3"); }, 3s)) << diag.all();
}

TEST_P(Standalone, ServerKilledAndRestartedIsAGapThenAllArrive) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("r*");
    const auto wrote = clock::now();
    server.command({"SET", "r1", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"r1 set"}));
    const auto killed = clock::now();
    server.kill9();
    // Restarted once the notifier saw the connection break (a restart it missed would be no gap).
    ASSERT_TRUE(
        wait_until([&] { return n.stats().nodes[0].state != net::connection_state::ready; }, 5s));
    server.start();
    // The gap comes once the subscription is replayed and confirmed.
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_EQ(gap->node, server.address());
    EXPECT_EQ(gap->reason, gap_reason::server_restarted) << gap->detail;
    // Delivery stopped with r1 (or a PING answered after it), before the kill.
    EXPECT_GE(gap->lost, wrote);
    EXPECT_LE(gap->lost, killed);
    ASSERT_TRUE(gap->restored);
    EXPECT_GT(*gap->restored, gap->lost);
    for (int i = 2; i <= 50; ++i)
        server.command({"SET", "r" + std::to_string(i), "x"});
    const auto after = pull(n, 49);
    EXPECT_EQ(after.notifications.size(), 49u);
    EXPECT_GE(n.stats().nodes[0].reconnects, 1u);
    EXPECT_GE(n.stats().nodes[0].gaps, 1u);
}

TEST_P(Standalone, StoppedServerIsDeclaredDeadByTheHealthCheck) {
    redis_server server;
    auto o = options_for(server, GetParam());
    o.connection.health_check_interval = 300ms;
    o.connection.health_check_timeout = 300ms;
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("s*");
    server.pause();
    const auto paused = clock::now();
    // Declared dead within interval + timeout (plus scheduling slack).
    EXPECT_TRUE(wait_until([&] { return diag.contains("health check timed out"); }, 3s))
        << diag.all();
    EXPECT_LT(clock::now() - paused, scaled(3s));
    server.resume();
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_EQ(gap->reason, gap_reason::health_check_timeout);
    // It begins where delivery stopped (the subscription, or the last PING answered), not
    // when the health check gave up.
    EXPECT_LE(gap->lost, paused)
        << std::chrono::duration_cast<std::chrono::milliseconds>(gap->lost - paused).count()
        << " ms after the pause; " << gap->detail;
    server.command({"SET", "s1", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"s1 set"}));
}

TEST_P(Standalone, NotificationsDisabledIsDiagnosed) {
    redis_server server(with_notify(""));
    auto o = options_for(server, GetParam());
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("k");
    EXPECT_TRUE(wait_until([&] { return diag.contains("notify-keyspace-events is \"\""); }, 3s))
        << diag.all();
    // The user who owns the server turns them on.
    n.configure_notifications(from_letters("KA").value());
    EXPECT_EQ(server.command({"CONFIG", "GET", "notify-keyspace-events"}).elements.at(1).data,
              "AK");
    server.command({"SET", "k", "1"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"k set"}));
}

TEST_P(Standalone, NotificationsSwitchedOffWhileSubscribedAreAGapUntilTheyAreBack) {
    redis_server server;
    auto o = options_for(server, GetParam());
    o.notify_check_interval = 100ms;  // RESP2 asks on a connection of its own each time
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("f*");
    const auto wrote = clock::now();
    server.command({"SET", "f1", "x"});
    const auto before = pull(n, 1);
    ASSERT_EQ(before.notifications.size(), 1u);
    const auto off = clock::now();
    server.command({"CONFIG", "SET", "notify-keyspace-events", ""});
    server.command({"SET", "f2", "x"});  // published to no one
    ASSERT_TRUE(wait_until([&] { return diag.contains("notify-keyspace-events is \"\""); }, 5s))
        << diag.all();
    server.command({"CONFIG", "SET", "notify-keyspace-events", "KA"});
    const auto on = clock::now();
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_EQ(gap->reason, gap_reason::notifications_disabled) << gap->detail;
    EXPECT_EQ(gap->node, server.address());
    // From where delivery was known whole (f1 read, or a check after it: both after
    // `wrote`) to a check that found the flags set again.
    EXPECT_GE(gap->lost, wrote);
    EXPECT_LE(gap->lost, off);
    ASSERT_TRUE(gap->restored);
    EXPECT_GE(*gap->restored, on);
    EXPECT_EQ(n.stats().nodes[0].gaps, 1u);
    server.command({"SET", "f3", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"f3 set"}));
}

TEST_P(Standalone, ARestartWithoutNotificationsIsAGapUntilConfigureNotificationsSetsThem) {
    redis_server server;
    auto o = options_for(server, GetParam());
    o.notify_check_interval = 0ms;  // on connect only: configure_notifications() ends it
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("g*");
    const auto wrote = clock::now();
    server.command({"SET", "g1", "x"});
    const auto before = pull(n, 1);
    ASSERT_EQ(before.notifications.size(), 1u);
    server.kill9();
    const auto killed = clock::now();
    ASSERT_TRUE(
        wait_until([&] { return n.stats().nodes[0].state != net::connection_state::ready; }, 5s));
    server.set_notify("");
    server.start();
    ASSERT_TRUE(wait_until([&] { return diag.contains("notify-keyspace-events is \"\""); }, 5s))
        << diag.all();
    ASSERT_TRUE(
        wait_until([&] { return n.stats().nodes[0].state == net::connection_state::ready; }, 5s));
    server.command({"SET", "g2", "x"});  // published to no one
    // Resubscribed, but nothing comes yet: no gap is reported while the server publishes
    // nothing.
    const auto early = pull(n, 1, 300ms);
    EXPECT_TRUE(early.gaps.empty()) << early.gaps.front().detail;
    EXPECT_TRUE(early.notifications.empty());
    n.configure_notifications(from_letters("KA").value());
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_EQ(gap->reason, gap_reason::notifications_disabled) << gap->detail;
    EXPECT_NE(gap->detail.find("restarted"), std::string::npos) << gap->detail;
    EXPECT_LE(gap->lost, killed);
    EXPECT_GE(gap->lost, wrote);
    ASSERT_TRUE(gap->restored);
    server.command({"SET", "g3", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"g3 set"}));
}

TEST_P(Standalone, RequireModeFailsSubscribeWhenNotificationsAreOff) {
    redis_server server(with_notify("E$"));
    auto o = options_for(server, GetParam());
    o.check = notify_check::require;
    keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    // Wait for the connect-time CONFIG GET.
    ASSERT_TRUE(wait_until(
        [&] {
            const auto c = n.configured_notifications();
            return !c.empty() && c[0].second.has_value();
        },
        3s));
    try {
        n.subscribe_keyspace("k");
        FAIL() << "subscribe succeeded though keyspace notifications (K) are off";
    } catch (const ksn::error& e) {
        EXPECT_EQ(e.code(), notifier_errc::notifications_disabled);
    }
    EXPECT_FALSE(n.subscribed());
    n.subscribe_keyevent("set");  // E$ covers this one
    EXPECT_TRUE(n.subscribed());
}

TEST(StandaloneErrors, SubscribeAgainstADeadServerFailsOrQueues) {
    const auto port = free_port();
    notifier_options o;
    o.connection.address = {"127.0.0.1", port};
    o.connection.reconnect.initial_delay = 20ms;
    o.connection.reconnect.max_delay = 100ms;
    o.subscribe_timeout = scaled(2s);
    {
        keyspace_notifications n(o);
        n.on_diagnostic([](severity, const std::string&) {});
        try {
            n.subscribe_keyspace("x");
            FAIL() << "subscribe succeeded without a server";
        } catch (const ksn::error& e) {
            EXPECT_EQ(e.code(), notifier_errc::not_connected) << e.what();
            EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)),
                      std::string::npos);
        }
        EXPECT_FALSE(n.subscribed());
    }
    o.subscribe_when_disconnected = when_disconnected::queue;
    keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    n.subscribe_keyspace("q");  // queued
    EXPECT_TRUE(n.subscribed());
    redis_server server(on_port(port));
    // The reconnect replays it; a gap says what could have been missed.
    const auto got_gap = [&] {
        delivery d;
        return n.next(d, 100ms) && d.is_gap();
    };
    EXPECT_TRUE(wait_until(got_gap, 10s));
    server.command({"SET", "q", "1"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"q set"}));
}

TEST(StandaloneFaults, MalformedBytesResetTheConnectionAndReconnect) {
    // A peer that completes the handshake, confirms the subscription, then sends garbage.
    const std::string hello = "%1\r\n$5\r\nproto\r\n:3\r\n";
    fake_peer peer([&](std::string_view received, int) -> std::string {
        std::string out;
        if (received.find("HELLO") != std::string_view::npos) out += hello;
        if (received.find("INFO") != std::string_view::npos) out += "$13\r\nrun_id:abcd\r\n\r\n";
        if (received.find("CONFIG") != std::string_view::npos) {
            out += "%1\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n";
        }
        if (received.find("SUBSCRIBE") != std::string_view::npos) {
            out += ">3\r\n$9\r\nsubscribe\r\n$16\r\n__keyspace@0__:k\r\n:1\r\n";
            out += ">3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n";
            out += "$3x\r\n";  // malformed length
        }
        return out;
    });
    notifier_options o;
    o.connection.address = {"127.0.0.1", peer.port()};
    o.connection.reconnect.initial_delay = 20ms;
    o.connection.reconnect.max_delay = 50ms;
    o.connection.health_check_interval = 0ms;
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("k");
    EXPECT_TRUE(wait_until([&] { return peer.connections() >= 3; }, 10s));
    EXPECT_TRUE(diag.contains("protocol error")) << diag.all();
    EXPECT_GE(n.stats().nodes[0].protocol_errors, 2u);
    // The message before the garbage was delivered each time.
    const auto got = pull(n, 2);
    EXPECT_EQ(got.notifications.size(), 2u);
    EXPECT_FALSE(got.gaps.empty());
    EXPECT_EQ(got.gaps[0].reason, gap_reason::protocol_error);
}

TEST_P(Standalone, ListenRangeYieldsUntilUnsubscribed) {
    redis_server server;
    keyspace_notifications n(options_for(server, GetParam()));
    n.subscribe_keyspace("l*");
    client c(server.port());
    for (int i = 0; i < 3; ++i)
        c.command({"SET", "l" + std::to_string(i), "x"});
    std::vector<std::string> keys;
    for (const delivery& d : n.listen()) {
        ASSERT_TRUE(d.is_notification());
        keys.push_back(std::string(d.notification().key()));
        if (keys.size() == 3) n.unsubscribe("__keyspace@0__:l*");
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"l0", "l1", "l2"}));
}

TEST_P(Standalone, ConfirmationsAreDeliveredWhenAsked) {
    redis_server server;
    auto o = options_for(server, GetParam());
    o.deliver_confirmations = true;
    keyspace_notifications n(o);
    n.subscribe_keyspace("c1");
    n.subscribe_keyspace("c*");
    delivery d;
    ASSERT_TRUE(n.next(d, scaled(2s)));
    ASSERT_TRUE(d.is_confirmation());
    EXPECT_EQ(d.confirmation().kind, "subscribe");
    EXPECT_EQ(d.confirmation().channel, "__keyspace@0__:c1");
    EXPECT_EQ(d.confirmation().count, 1);
    ASSERT_TRUE(n.next(d, scaled(2s)));
    EXPECT_EQ(d.confirmation().kind, "psubscribe");
    EXPECT_EQ(d.confirmation().count, 2);
}

TEST_P(Standalone, AsyncModeOnTheCallersIoContext) {
    redis_server server;
    asio::io_context io;
    auto o = options_for(server, GetParam());
    keyspace_notifications n(io, o);
    std::vector<std::string> keys;
    std::error_code sub_ec = make_error_code(notifier_errc::closed);
    bool subscribed = false;
    n.async_subscribe(
        {channel::keyspace("a*")},
        [&](const received_notification& x) {
            // Runs on this thread, inside io.run_one(): no locks needed.
            keys.push_back(std::string(x.key()));
        },
        [&](const std::error_code& ec, const std::string&) {
            sub_ec = ec;
            subscribed = true;
        });
    const auto deadline = clock::now() + scaled(5s);
    while (!subscribed && clock::now() < deadline)
        io.run_one_for(50ms);
    ASSERT_TRUE(subscribed);
    EXPECT_FALSE(sub_ec) << sub_ec.message();
    std::thread writer([&] {
        client c(server.port());
        c.command({"SET", "a1", "x"});
        c.command({"SET", "a2", "x"});
    });
    while (keys.size() < 2 && clock::now() < deadline + scaled(5s))
        io.run_one_for(50ms);
    writer.join();
    EXPECT_EQ(keys, (std::vector<std::string>{"a1", "a2"}));
    // A blocking call from the io_context's own thread is refused loudly.
    bool refused = false;
    asio::post(io, [&] {
        try {
            n.subscribe_keyspace("b");
        } catch (const std::logic_error&) {
            refused = true;
        }
    });
    const auto until = clock::now() + scaled(2s);
    while (!refused && clock::now() < until)
        io.run_one_for(50ms);
    EXPECT_TRUE(refused);
}

TEST(StandaloneNet, HostNamesAndIpv6) {
    redis_server server(with_config({"bind 127.0.0.1 ::1"}));
    for (const std::string host : {"localhost", "::1"}) {
        auto o = options_for(server);
        o.connection.address.host = host;
        keyspace_notifications n(o);
        n.subscribe_keyspace("h");
        server.command({"SET", "h", host});
        const auto got = pull(n, 1);
        ASSERT_EQ(got.notifications.size(), 1u) << host;
        EXPECT_NE(got.notifications[0].channel.find("__keyspace@0__:h"), std::string::npos);
    }
}

TEST(StandaloneNet, BoundedReconnectGivesUpWithAGap) {
    auto server = std::make_unique<redis_server>();
    auto o = options_for(*server);
    o.connection.reconnect.max_attempts = 3;
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("b");
    server.reset();  // stopped for good
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_EQ(gap->reason, gap_reason::node_closed);
    EXPECT_FALSE(gap->restored.has_value());
    EXPECT_TRUE(diag.contains("gave up after 3 reconnect attempts")) << diag.all();
    EXPECT_EQ(n.stats().nodes[0].state, net::connection_state::closed);
}

// --- slow consumers -----------------------------------------------------------------------

constexpr int flood = 200000;

void write_flood(std::uint16_t port, int count, std::size_t key_size = 0) {
    client c(port, 30s);
    std::vector<std::vector<std::string>> batch;
    for (int i = 0; i < count; ++i) {
        std::string key = "f:" + std::to_string(i);
        if (key.size() < key_size) key.resize(key_size, '.');
        batch.push_back({"SET", std::move(key), "v"});
        if (batch.size() == 10000) {
            c.pipeline(batch);
            batch.clear();
        }
    }
    if (!batch.empty()) c.pipeline(batch);
    c.command({"SET", "f:end", "v"});
}

class SlowConsumer : public testing::TestWithParam<overflow_policy> {};

INSTANTIATE_TEST_SUITE_P(Policies, SlowConsumer,
                         testing::Values(overflow_policy::drop_newest,
                                         overflow_policy::drop_oldest),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST_P(SlowConsumer, DropsAreBoundedCountedAndReportedAsGaps) {
    redis_server server;
    auto o = options_for(server);
    o.queue_capacity = 1000;
    o.overflow = GetParam();
    keyspace_notifications n(o);
    n.subscribe_keyspace("f:*");
    // Nobody pulls while 200k notifications arrive.
    write_flood(server.port(), flood);
    ASSERT_TRUE(wait_until([&] { return n.stats().nodes[0].notifications >= flood + 1; }, 30s))
        << n.stats().nodes[0].notifications;
    const auto st = n.stats();
    EXPECT_EQ(st.queue_high_water, 1000u);
    EXPECT_EQ(st.queue_slots, 1000u);  // grown as the depth required, up to the capacity
    EXPECT_EQ(st.queue_dropped, flood + 1 - 1000u);
    // Everything is either delivered or inside a gap's count.
    std::uint64_t delivered = 0, dropped = 0, gaps = 0;
    bool saw_end = false;
    delivery d;
    // Everything is queued by now: the queue is drained once nothing comes for this long.
    while (n.next(d, scaled(200ms))) {
        if (d.is_gap()) {
            EXPECT_EQ(d.gap().reason, gap_reason::queue_overflow);
            EXPECT_EQ(d.gap().node, server.address());
            dropped += d.gap().dropped;
            ++gaps;
        } else if (d.is_notification()) {
            ++delivered;
            saw_end = saw_end || d.notification().key() == "f:end";
        }
    }
    EXPECT_EQ(delivered, 1000u);
    EXPECT_EQ(delivered + dropped, flood + 1u);
    EXPECT_GE(gaps, 1u);
    // One set of counters: the node's own say what the queue and its gaps said.
    const auto node = n.stats().nodes.at(0);
    EXPECT_EQ(node.dropped, dropped);
    EXPECT_EQ(node.gaps, gaps);
    // drop_newest keeps the first 1000, drop_oldest the last 1000 (f:end among them).
    EXPECT_EQ(saw_end, GetParam() == overflow_policy::drop_oldest);
}

TEST(SlowConsumerDisconnect, DisconnectsUntilDrainedThenResubscribesWithAGap) {
    redis_server server;
    auto o = options_for(server);
    o.queue_capacity = 1000;
    o.overflow = overflow_policy::disconnect;
    keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    n.subscribe_keyspace("f:*");
    write_flood(server.port(), 20000);
    ASSERT_TRUE(wait_until([&] { return n.stats().queue_dropped > 0; }, 10s));
    EXPECT_LE(n.stats().queue_high_water, 1000u);
    // Drain: the node resubscribes once the queue is half empty, then reports the gap.
    std::uint64_t delivered = 0;
    bool gap = false;
    delivery d;
    const auto deadline = clock::now() + scaled(10s);
    while (!gap && clock::now() < deadline) {
        if (!n.next(d, 100ms)) continue;
        if (d.is_notification()) ++delivered;
        if (d.is_gap()) {
            gap = true;
            EXPECT_EQ(d.gap().reason, gap_reason::slow_consumer_disconnect);
        }
    }
    EXPECT_TRUE(gap);
    EXPECT_GE(delivered, 1000u);
    server.command({"SET", "f:after", "v"});
    const auto after = pull(n, 1);
    ASSERT_EQ(after.notifications.size(), 1u);
    EXPECT_EQ(after.notifications[0].key, "f:after");
}

TEST(SlowConsumerServerSide, ServerCuttingOffABlockedHandlerIsAGapWithItsReason) {
    // A handler on the I/O thread blocks: the server's pubsub output buffer limit trips.
    redis_server server(with_config({"client-output-buffer-limit pubsub 256kb 128kb 1"}));
    auto o = options_for(server);
    o.dispatch = dispatch_mode::io_thread;
    o.connection.health_check_interval = 0ms;
    keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    std::atomic<int> calls{0};
    std::atomic<bool> blocked_once{false};
    std::vector<gap_event> gaps;
    std::mutex m;
    n.on_gap([&](const gap_event& g) {
        std::lock_guard lock(m);
        gaps.push_back(g);
    });
    n.subscribe_keyspace("f:*", 0, [&](const received_notification&) {
        ++calls;
        // The test's subject: a handler that blocks the I/O thread while the flood is
        // written (slower from a sanitized test process, hence scaled).
        if (!blocked_once.exchange(true)) std::this_thread::sleep_for(scaled(3s));
    });
    // ~40 MB of notifications: more than the kernel's socket buffers can hide.
    write_flood(server.port(), 200000, 100);
    ASSERT_TRUE(wait_until(
        [&] {
            std::lock_guard lock(m);
            return !gaps.empty();
        },
        20s));
    std::lock_guard lock(m);
    EXPECT_EQ(gaps[0].reason, gap_reason::server_closed_connection) << gaps[0].detail;
    EXPECT_LT(calls.load(), 200001);
}

// --- dispatch_mode::caller: no thread of its own ---------------------------------------

class CallerDriven : public testing::TestWithParam<net::resp_version> {};

INSTANTIATE_TEST_SUITE_P(Resp, CallerDriven,
                         testing::Values(net::resp_version::resp2, net::resp_version::resp3),
                         [](const auto& info) {
                             return info.param == net::resp_version::resp2 ? "RESP2" : "RESP3";
                         });

notifier_options caller_options(const redis_server& server, net::resp_version resp) {
    auto o = options_for(server, resp);
    o.dispatch = dispatch_mode::caller;
    return o;
}

/// The number of threads of this process (Linux: /proc/self/task).
std::size_t thread_count() {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
        (void)e;
        ++n;
    }
    return n;
}

TEST_P(CallerDriven, NoThreadOfItsOwnAndEveryNotificationInOrder) {
    redis_server server;
    const std::size_t before = thread_count();
    keyspace_notifications n(caller_options(server, GetParam()));
    n.subscribe_keyspace("c*");         // connects and subscribes on this thread
    EXPECT_EQ(thread_count(), before);  // no I/O thread, and no resolver for 127.0.0.1
    client c(server.port());
    std::vector<std::vector<std::string>> writes;
    std::vector<std::string> expected;
    for (int i = 0; i < 200; ++i) {
        writes.push_back({"SET", "c" + std::to_string(i), "v"});
        expected.push_back("c" + std::to_string(i) + " set");
    }
    c.pipeline(writes);
    const auto got = pull(n, 200);
    EXPECT_EQ(key_events(got.notifications), expected);
    EXPECT_TRUE(got.gaps.empty());
    EXPECT_EQ(thread_count(), before);
    const auto st = n.stats();  // a query drives the loop on this thread too
    ASSERT_EQ(st.nodes.size(), 1u);
    EXPECT_EQ(st.nodes[0].notifications, 200u);
    EXPECT_EQ(st.nodes[0].resp, GetParam() == net::resp_version::resp2 ? 2 : 3);
}

TEST_P(CallerDriven, HandlersRunInlineOnTheCallingThreadInsideNext) {
    redis_server server;
    keyspace_notifications n(caller_options(server, GetParam()));
    const auto me = std::this_thread::get_id();
    int calls = 0;
    int elsewhere = 0;
    std::string refused;
    n.subscribe_keyspace("h*", 0, [&](const received_notification& x) {
        ++calls;
        if (std::this_thread::get_id() != me) ++elsewhere;
        if (x.key() == "h0") {
            try {
                delivery inner;
                (void)n.next(inner, 0ms);
            } catch (const std::logic_error& e) {
                refused = e.what();
            }
        }
    });
    n.subscribe_keyspace("p*");  // no handler: queued for next()
    client c(server.port());
    for (int i = 0; i < 50; ++i)
        c.command({"SET", "h" + std::to_string(i), "v"});
    c.command({"SET", "p1", "v"});
    // next() runs the handlers while it waits, and returns the one without a handler.
    const auto got = pull(n, 1);
    EXPECT_EQ(key_events(got.notifications), (std::vector<std::string>{"p1 set"}));
    EXPECT_EQ(calls, 50);
    EXPECT_EQ(elsewhere, 0);
    EXPECT_NE(refused.find("handlers run inside next()"), std::string::npos) << refused;
    EXPECT_EQ(n.stats().nodes[0].handler_exceptions, 0u);
}

TEST_P(CallerDriven, ACallFromAnotherThreadIsRunByTheThreadThatDrives) {
    redis_server server;
    keyspace_notifications n(caller_options(server, GetParam()));
    n.subscribe_keyspace("a*");
    client c(server.port());
    // The test thread drives (next()); another thread subscribes and asks stats() meanwhile.
    std::atomic<bool> subscribed{false};
    std::string failure;
    std::size_t nodes_seen = 0;
    std::thread other([&] {
        try {
            n.subscribe_keyspace("x*");
            nodes_seen = n.stats().nodes.size();
        } catch (const std::exception& e) {
            failure = e.what();
        }
        subscribed = true;
    });
    delivery d;
    const auto until = clock::now() + scaled(10s);
    while (!subscribed && clock::now() < until)
        (void)n.next(d, 50ms);
    other.join();
    EXPECT_EQ(failure, "");
    EXPECT_EQ(nodes_seen, 1u);
    c.command({"SET", "x1", "v"});
    c.command({"SET", "a1", "v"});
    EXPECT_EQ(key_events(pull(n, 2).notifications), (std::vector<std::string>{"x1 set", "a1 set"}));
}

TEST_P(CallerDriven, AServerRestartIsAGapThatNextDelivers) {
    redis_server server;
    keyspace_notifications n(caller_options(server, GetParam()));
    n.on_diagnostic([](severity, const std::string&) {});
    n.subscribe_keyspace("r*");
    server.command({"SET", "r1", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"r1 set"}));
    server.kill9();
    // stats() drives the loop, so it sees the connection break.
    ASSERT_TRUE(
        wait_until([&] { return n.stats().nodes[0].state != net::connection_state::ready; }, 5s));
    server.start();
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap);
    EXPECT_EQ(gap->reason, gap_reason::server_restarted) << gap->detail;
    ASSERT_TRUE(gap->restored);
    server.command({"SET", "r2", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"r2 set"}));
}

TEST_P(CallerDriven, CloseFromAnotherThreadEndsAWaitingNext) {
    redis_server server;
    keyspace_notifications n(caller_options(server, GetParam()));
    n.subscribe_keyspace("z*");
    std::atomic<bool> returned{false};
    bool got = true;
    const auto started = clock::now();
    std::thread puller([&] {
        delivery d;
        got = n.next(d, scaled(60s));
        returned = true;
    });
    // Whether close() comes before or during that next(), it must end it.
    n.close();
    puller.join();
    EXPECT_TRUE(returned);
    EXPECT_FALSE(got);
    EXPECT_LT(clock::now() - started, scaled(30s));
    delivery d;
    EXPECT_FALSE(n.next(d, 0ms));
}

TEST_P(CallerDriven, RunInThreadDrivesFromItsWorker) {
    redis_server server;
    keyspace_notifications n(caller_options(server, GetParam()));
    std::atomic<int> calls{0};
    std::atomic<bool> other_thread{true};
    const auto me = std::this_thread::get_id();
    n.subscribe_keyspace("w*", 0, [&](const received_notification&) {
        if (std::this_thread::get_id() == me) other_thread = false;
        ++calls;
    });
    auto w = n.run_in_thread();
    client c(server.port());
    for (int i = 0; i < 20; ++i)
        c.command({"SET", "w" + std::to_string(i), "v"});
    EXPECT_TRUE(wait_until([&] { return calls.load() == 20; }, 5s)) << calls.load();
    EXPECT_TRUE(other_thread);
    EXPECT_EQ(n.stats().nodes[0].notifications, 20u);  // run by the worker, which drives
    w.stop();
}

// A PING answered while nobody drove the loop: the answer waits in the socket, past the
// PING's deadline. When the caller drives again, the read comes before the timer (Asio's
// reactor runs ready sockets' handlers before expired timers'), so a caller that was
// away longer than the health-check timeout does not get a false gap.
TEST_P(CallerDriven, APingAnsweredWhileNobodyDroveIsNoGap) {
    redis_server server;
    auto o = caller_options(server, GetParam());
    o.connection.health_check_interval = 100ms;
    o.connection.health_check_timeout = scaled(1s);
    keyspace_notifications n(o);
    std::vector<gap_event> gaps;
    n.on_gap([&](const gap_event& g) { gaps.push_back(g); });
    n.subscribe_keyspace("q*");
    const auto pings = [&] {
        const auto info = server.command({"INFO", "commandstats"}).data;
        const auto at = info.find("cmdstat_ping:calls=");
        return at == std::string::npos ? 0L : std::stol(info.substr(at + 19));
    };
    const long before = pings();
    // Drive while the server is stopped: a PING goes out and waits for its answer.
    server.pause();
    delivery d;
    (void)n.next(d, 400ms);
    server.resume();
    // The subject: nobody drives past the PING's deadline while its answer waits.
    std::this_thread::sleep_for(scaled(1s) + 300ms);
    ASSERT_GT(pings(), before);  // the server answered a PING sent while it was stopped
    server.command({"SET", "q1", "v"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"q1 set"}));
    EXPECT_TRUE(gaps.empty()) << to_string(gaps[0].reason) << ": " << gaps[0].detail;
    EXPECT_EQ(n.stats().nodes[0].reconnects, 0u);
}

}  // namespace
}  // namespace ksn::test
