// net::command_connection against real redis-server processes: ready, replies and error
// replies, a refused connection and a refused password reported once with a sentence
// naming the node and never retried, close() silencing every handler, a server killed
// mid-way, and handlers that drop or hold the connection's last reference.
//
// Each test drives its own io_context on the test thread, in bounded run_for() steps
// until a condition holds.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "net/command_connection.hpp"
#include "net/error.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/timing.hpp"

namespace ksn::test {
namespace {

using namespace std::chrono_literals;
using net::command_connection;
using net::connection_state;

net::connection_options options_for(std::uint16_t port) {
    net::connection_options o;
    o.address = net::endpoint{"127.0.0.1", port};
    o.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(scaled(5s));
    return o;
}

/// Runs `io` until `cond` holds or `limit` (scaled) has passed; returns `cond()`.
bool run_until(asio::io_context& io, const std::function<bool()>& cond,
               std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + scaled(limit);
    while (!cond() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(10ms);
    }
    return cond();
}

/// Runs `io` until it has no work left (no reconnect timer, no socket operation):
/// true when it ran dry within `limit` (scaled).
bool runs_dry(asio::io_context& io, std::chrono::milliseconds limit = 5000ms) {
    io.restart();
    io.run_for(scaled(limit));
    return io.stopped();
}

/// What the handlers saw.
struct events {
    int ready = 0;
    int failures = 0;
    std::error_code failure_ec;
    std::string failure_detail;

    command_connection::ready_handler on_ready() {
        return [this] { ++ready; };
    }
    command_connection::failure_handler on_failure() {
        return [this](const std::error_code& ec, const std::string& detail) {
            ++failures;
            failure_ec = ec;
            failure_detail = detail;
        };
    }
};

/// One reply, as its handler got it.
struct reply {
    bool done = false;
    std::error_code ec;
    protocol::value value;

    net::reply_handler handler() {
        return [this](const std::error_code& e, const protocol::value& v) {
            done = true;
            ec = e;
            value = v;
        };
    }
};

TEST(CommandConnection, ReadyThenReplies) {
    redis_server server;
    asio::io_context io;
    events ev;
    auto c =
        command_connection::create(io, options_for(server.port()), ev.on_ready(), ev.on_failure());
    EXPECT_EQ(c->address(), (net::endpoint{"127.0.0.1", server.port()}));
    EXPECT_EQ(c->state(), connection_state::disconnected);
    c->start();
    // Sent before ready: it waits for the handshake.
    reply set;
    c->command({"SET", "k", std::string_view("a\0b", 3)}, set.handler());
    ASSERT_TRUE(run_until(io, [&] { return ev.ready == 1 && set.done; }));
    EXPECT_EQ(c->state(), connection_state::ready);
    EXPECT_FALSE(set.ec) << set.ec.message();
    EXPECT_EQ(set.value.data, "OK");

    reply get;
    const std::vector<std::string_view> args = {"GET", "k"};
    c->command(args, get.handler());
    ASSERT_TRUE(run_until(io, [&] { return get.done; }));
    EXPECT_FALSE(get.ec);
    EXPECT_EQ(get.value.data, std::string("a\0b", 3));  // binary safe
    EXPECT_EQ(ev.ready, 1);
    EXPECT_EQ(ev.failures, 0);

    c->close();
    EXPECT_EQ(c->state(), connection_state::closed);
    EXPECT_TRUE(runs_dry(io));
    EXPECT_EQ(ev.failures, 0);  // close() is not a failure
}

TEST(CommandConnection, ErrorReplyIsAValueNotAFailure) {
    redis_server server;
    asio::io_context io;
    events ev;
    auto c =
        command_connection::create(io, options_for(server.port()), ev.on_ready(), ev.on_failure());
    c->start();
    reply bad;
    reply wrong_type;
    reply after;
    c->command({"NO-SUCH-COMMAND", "x"}, bad.handler());
    c->command({"SET", "s", "v"}, [](const std::error_code&, const protocol::value&) {});
    c->command({"LPUSH", "s", "x"}, wrong_type.handler());
    c->command({"PING"}, after.handler());
    ASSERT_TRUE(run_until(io, [&] { return after.done; }));
    EXPECT_EQ(bad.ec, net::errc::server_error);
    EXPECT_TRUE(bad.value.is_error());
    EXPECT_TRUE(bad.value.data.starts_with("ERR ")) << bad.value.data;
    EXPECT_EQ(wrong_type.ec, net::errc::server_error);
    EXPECT_TRUE(wrong_type.value.data.starts_with("WRONGTYPE ")) << wrong_type.value.data;
    EXPECT_FALSE(after.ec);
    EXPECT_EQ(after.value.data, "PONG");
    EXPECT_EQ(ev.failures, 0);
    EXPECT_EQ(c->state(), connection_state::ready);
}

TEST(CommandConnection, RefusedConnectionFailsOnceNamingTheNode) {
    const auto port = free_port();
    asio::io_context io;
    events ev;
    auto c = command_connection::create(io, options_for(port), ev.on_ready(), ev.on_failure());
    c->start();
    reply pending;
    c->command({"PING"}, pending.handler());
    ASSERT_TRUE(run_until(io, [&] { return ev.failures > 0; }));
    EXPECT_EQ(ev.failures, 1);
    EXPECT_EQ(ev.ready, 0);
    EXPECT_EQ(ev.failure_ec, net::errc::connect_failed) << ev.failure_ec.message();
    const auto node = "127.0.0.1:" + std::to_string(port);
    EXPECT_TRUE(ev.failure_detail.starts_with(node + ": ")) << ev.failure_detail;
    EXPECT_NE(ev.failure_detail.find("refused"), std::string::npos) << ev.failure_detail;
    // The command sent before failed with it, before the failure handler ran.
    EXPECT_TRUE(pending.done);
    EXPECT_TRUE(pending.ec);
    EXPECT_EQ(c->state(), connection_state::closed);

    // No reconnect: nothing is left to run, and no second report.
    EXPECT_TRUE(runs_dry(io));
    EXPECT_EQ(ev.failures, 1);
    // Commands now fail at once.
    reply late;
    c->command({"PING"}, late.handler());
    EXPECT_TRUE(late.done);
    EXPECT_EQ(late.ec, net::errc::not_connected);
}

TEST(CommandConnection, WrongPasswordFailsOnce) {
    redis_server server(with_config({"requirepass secret"}));
    asio::io_context io;
    events ev;
    auto o = options_for(server.port());
    o.password = "wrong";
    auto c = command_connection::create(io, o, ev.on_ready(), ev.on_failure());
    c->start();
    ASSERT_TRUE(run_until(io, [&] { return ev.failures > 0; }));
    EXPECT_EQ(ev.failure_ec, net::errc::auth_failed) << ev.failure_detail;
    EXPECT_TRUE(ev.failure_detail.starts_with(server.address() + ": ")) << ev.failure_detail;
    EXPECT_TRUE(runs_dry(io));
    EXPECT_EQ(ev.failures, 1);
    EXPECT_EQ(ev.ready, 0);
}

TEST(CommandConnection, CloseStopsEveryHandler) {
    redis_server server;
    asio::io_context io;
    events ev;
    auto c =
        command_connection::create(io, options_for(server.port()), ev.on_ready(), ev.on_failure());
    c->start();
    ASSERT_TRUE(run_until(io, [&] { return ev.ready == 1; }));
    // A reply that never comes by itself: BLPOP on an empty list without a timeout.
    bool called = false;
    c->command({"BLPOP", "empty-list", "0"},
               [&](const std::error_code&, const protocol::value&) { called = true; });
    reply ping;
    c->command({"PING"}, ping.handler());
    c->close();
    c->close();  // idempotent
    EXPECT_EQ(c->state(), connection_state::closed);
    EXPECT_TRUE(runs_dry(io));
    EXPECT_FALSE(called);
    EXPECT_FALSE(ping.done);
    EXPECT_EQ(ev.failures, 0);
    // After close(), a command fails at once (the caller asked for it after closing).
    reply late;
    c->command({"PING"}, late.handler());
    EXPECT_TRUE(late.done);
    EXPECT_EQ(late.ec, net::errc::not_connected);
    // Starting again does nothing.
    c->start();
    EXPECT_TRUE(runs_dry(io));
    EXPECT_EQ(ev.ready, 1);
}

TEST(CommandConnection, CloseBeforeReadyStopsTheReadyHandler) {
    redis_server server;
    asio::io_context io;
    events ev;
    auto c =
        command_connection::create(io, options_for(server.port()), ev.on_ready(), ev.on_failure());
    c->start();
    c->close();
    EXPECT_TRUE(runs_dry(io));
    EXPECT_EQ(ev.ready, 0);
    EXPECT_EQ(ev.failures, 0);
}

TEST(CommandConnection, DroppingTheLastReferenceCloses) {
    redis_server server;
    asio::io_context io;
    events ev;
    auto c =
        command_connection::create(io, options_for(server.port()), ev.on_ready(), ev.on_failure());
    c->start();
    ASSERT_TRUE(run_until(io, [&] { return ev.ready == 1; }));
    bool called = false;
    c->command({"BLPOP", "empty-list", "0"},
               [&](const std::error_code&, const protocol::value&) { called = true; });
    c.reset();
    EXPECT_TRUE(runs_dry(io));
    EXPECT_FALSE(called);
    EXPECT_EQ(ev.failures, 0);
    // The server saw the connection go: only this test's client remains.
    EXPECT_TRUE(wait_until([&] {
        const auto v = server.command({"CLIENT", "LIST"});
        return v.data.find("cmd=blpop") == std::string::npos;
    }));
}

TEST(CommandConnection, ServerKilledMidwayFailsPendingThenReports) {
    redis_server server;
    asio::io_context io;
    events ev;
    std::vector<std::string> order;
    auto c = command_connection::create(
        io, options_for(server.port()), [&] { order.push_back("ready"); },
        [&](const std::error_code& ec, const std::string& detail) {
            order.push_back("failure");
            ev.on_failure()(ec, detail);
        });
    c->start();
    ASSERT_TRUE(run_until(io, [&] { return !order.empty(); }));
    reply blocked;
    c->command({"BLPOP", "empty-list", "0"}, [&](const std::error_code& e, const protocol::value&) {
        order.push_back("reply");
        blocked.done = true;
        blocked.ec = e;
    });
    // Wait until the server is blocked in the BLPOP (it has reached it).
    ASSERT_TRUE(wait_until([&] {
        io.restart();
        io.poll();
        return server.command({"CLIENT", "LIST"}).data.find("cmd=blpop") != std::string::npos;
    }));
    server.kill9();
    ASSERT_TRUE(run_until(io, [&] { return ev.failures > 0; }));
    EXPECT_EQ(order, (std::vector<std::string>{"ready", "reply", "failure"}));
    EXPECT_TRUE(blocked.ec == net::errc::closed_by_peer || blocked.ec == net::errc::connection_lost)
        << blocked.ec.message();
    EXPECT_TRUE(ev.failure_ec == net::errc::closed_by_peer ||
                ev.failure_ec == net::errc::connection_lost)
        << ev.failure_ec.message();
    EXPECT_TRUE(ev.failure_detail.starts_with(server.address() + ": ")) << ev.failure_detail;
    EXPECT_EQ(c->state(), connection_state::closed);

    // Not reconnected, even once the server is back.
    server.start();
    EXPECT_TRUE(runs_dry(io));
    EXPECT_EQ(ev.failures, 1);
    EXPECT_EQ(c->state(), connection_state::closed);
}

TEST(CommandConnection, FailureHandlerMayDropTheLastReference) {
    asio::io_context io;
    std::shared_ptr<command_connection> c;
    int failures = 0;
    c = command_connection::create(
        io, options_for(free_port()), [] {},
        [&](const std::error_code&, const std::string&) {
            ++failures;
            c.reset();  // destroys the command_connection inside its own handler
        });
    std::weak_ptr<command_connection> weak = c;
    c->start();
    ASSERT_TRUE(run_until(io, [&] { return failures > 0; }));
    EXPECT_EQ(failures, 1);
    EXPECT_TRUE(weak.expired());
    EXPECT_TRUE(runs_dry(io));
}

TEST(CommandConnection, ReplyHandlerMayCloseAndDrop) {
    redis_server server;
    asio::io_context io;
    events ev;
    auto c =
        command_connection::create(io, options_for(server.port()), ev.on_ready(), ev.on_failure());
    std::weak_ptr<command_connection> weak = c;
    c->start();
    bool first = false;
    bool second = false;
    c->command({"PING"}, [&](const std::error_code&, const protocol::value&) {
        first = true;
        c->close();
        c.reset();
    });
    c->command({"PING"}, [&](const std::error_code&, const protocol::value&) { second = true; });
    ASSERT_TRUE(run_until(io, [&] { return first; }));
    EXPECT_TRUE(weak.expired());
    EXPECT_TRUE(runs_dry(io));
    EXPECT_FALSE(second);  // pending when close() was called: dropped
    EXPECT_EQ(ev.failures, 0);
}

TEST(CommandConnection, HandlersHoldingTheConnectionAreReleased) {
    // A handler capturing the connection's own shared_ptr is a cycle; it lasts only until
    // the handler has run, the connection failed, or close() (LeakSanitizer checks).
    redis_server server;
    asio::io_context io;
    std::weak_ptr<command_connection> weak;
    bool replied = false;
    {
        auto holder = std::make_shared<std::shared_ptr<command_connection>>();
        auto c = command_connection::create(
            io, options_for(server.port()),
            [holder, &replied] {
                // Keeps itself alive through its reply handler, then closes when done.
                auto self = *holder;
                self->command({"PING"},
                              [self, &replied](const std::error_code&, const protocol::value&) {
                                  replied = true;
                                  self->close();
                              });
            },
            [holder](const std::error_code&, const std::string&) {});
        *holder = c;  // the ready and failure handlers now hold c: a cycle until ready
        weak = c;
        c->start();
    }
    ASSERT_FALSE(weak.expired());  // only the cycle holds it
    ASSERT_TRUE(run_until(io, [&] { return replied; }));
    EXPECT_TRUE(runs_dry(io));
    EXPECT_TRUE(weak.expired());

    // A cycle broken by the failure alone.
    {
        auto holder = std::make_shared<std::shared_ptr<command_connection>>();
        auto c = command_connection::create(
            io, options_for(free_port()), [holder] {},
            [holder](const std::error_code&, const std::string&) {});
        *holder = c;
        weak = c;
        c->start();
    }
    ASSERT_TRUE(run_until(io, [&] { return weak.expired(); }));
    EXPECT_TRUE(runs_dry(io));
}

}  // namespace
}  // namespace ksn::test
