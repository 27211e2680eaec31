// Deployments beyond one TCP address with fixed credentials, against real servers: a
// Unix domain socket, and a credentials callback asked on every connection attempt (an
// ACL password rotated between reconnects).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/integration/notifier_fixture.hpp"

namespace ksn::test {
namespace {

/// Options for a notifier on `server`'s Unix socket.
notifier_options unix_options(const redis_server& server) {
    auto o = options_for(server);
    o.connection.address = net::endpoint::unix_socket(server.socket_path());
    return o;
}

TEST(UnixSocket, SubscribesAndReceivesOverTheSocket) {
    redis_server server(with_unix_socket());
    keyspace_notifications n(unix_options(server));
    n.subscribe_keyspace("u*");
    server.command({"SET", "u1", "x"});
    server.command({"DEL", "u1"});
    EXPECT_EQ(key_events(pull(n, 2).notifications), (std::vector<std::string>{"u1 set", "u1 del"}));
    const auto stats = n.stats();
    ASSERT_EQ(stats.nodes.size(), 1u);
    EXPECT_EQ(stats.nodes[0].node, "unix:" + server.socket_path());
    // The connection really is the socket: the server lists a client on it (a Unix
    // socket client's addr is "/path:0" in CLIENT LIST).
    const auto list = server.command({"CLIENT", "LIST"}).data;
    EXPECT_NE(list.find("addr=" + server.socket_path()), std::string::npos) << list;
}

TEST(UnixSocket, ARestartIsAGapNamingTheSocketThenAllArrive) {
    redis_server server(with_unix_socket());
    keyspace_notifications n(unix_options(server));
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("r*");
    server.kill9();
    ASSERT_TRUE(
        wait_until([&] { return n.stats().nodes[0].state != net::connection_state::ready; }, 5s));
    server.start();
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_EQ(gap->node, "unix:" + server.socket_path());
    EXPECT_EQ(gap->reason, gap_reason::server_restarted) << gap->detail;
    EXPECT_TRUE(gap->restored.has_value());
    server.command({"SET", "r2", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"r2 set"}));
}

TEST(UnixSocket, AMissingSocketFailsNamingItsPath) {
    notifier_options o;
    o.connection.address = net::endpoint::unix_socket("/nonexistent-ksn-dir/redis.sock");
    o.connection.reconnect.initial_delay = 20ms;
    o.subscribe_timeout = scaled(2s);
    keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    try {
        n.subscribe_keyspace("x");
        FAIL() << "subscribe succeeded without a socket";
    } catch (const ksn::error& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.code(), notifier_errc::not_connected) << what;
        EXPECT_NE(what.find("unix:/nonexistent-ksn-dir/redis.sock: connection failed"),
                  std::string::npos)
            << what;
    }
}

/// Subscribing with `o` fails at once, the connection closed for good, with `expected`.
void expect_refused_address(const notifier_options& o, const std::string& expected) {
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    try {
        n.subscribe_keyspace("x");
        FAIL() << "subscribe succeeded";
    } catch (const ksn::error& e) {
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
    EXPECT_EQ(n.stats().nodes[0].state, net::connection_state::closed);
    EXPECT_EQ(n.stats().nodes[0].reconnects, 0u);
}

TEST(UnixSocket, TlsOnASocketIsRefusedNotRetried) {
    redis_server server(with_unix_socket());
    auto o = unix_options(server);
    o.connection.tls.enabled = true;
    expect_refused_address(o, "invalid address: TLS is not available on a Unix socket");
}

TEST(UnixSocket, ATooLongPathIsRefusedNotRetried) {
    auto o = notifier_options{};
    o.connection.address = net::endpoint::unix_socket("/tmp/" + std::string(200, 'p'));
    expect_refused_address(o, "the socket path is 205 bytes long; the system allows at most 107");
}

// --- credentials asked on every connection attempt ------------------------------------------

/// A password the test rotates, handed out by a credentials callback that counts its calls.
struct rotating_password {
    explicit rotating_password(std::string first) : state_(std::make_shared<state>()) {
        state_->password = std::move(first);
    }
    void rotate(std::string next) {
        std::lock_guard lock(state_->mutex);
        state_->password = std::move(next);
    }
    int calls() const { return state_->calls.load(); }
    net::credentials_callback callback() const {
        return [s = state_](const net::endpoint& at) {
            std::lock_guard lock(s->mutex);
            ++s->calls;
            s->asked_for = at.to_string();
            if (s->fail_next > 0) {
                --s->fail_next;
                throw std::runtime_error("the token service is down");
            }
            return net::credentials{"app", s->password};
        };
    }
    void fail_next(int n) { state_->fail_next = n; }
    std::string asked_for() const {
        std::lock_guard lock(state_->mutex);
        return state_->asked_for;
    }

  private:
    struct state {
        std::mutex mutex;
        std::string password;
        std::string asked_for;
        std::atomic<int> calls{0};
        int fail_next = 0;
    };
    std::shared_ptr<state> state_;
};

/// A server whose user app logs in with "first" and whose admin (the test's own commands)
/// rotates it.
server_options app_and_admin() {
    return with_config(
        {"user app on >first ~* &* +@all", "user admin on >admin ~* &* +@all", "user default off"});
}

TEST(Credentials, ARotatedPasswordIsUsedOnTheNextReconnect) {
    redis_server server(app_and_admin());
    server.set_auth({"admin", "admin"});
    rotating_password secret("first");
    auto o = options_for(server);
    o.connection.username = "ignored";  // the callback's answer wins
    o.connection.credentials_provider = secret.callback();
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("c*");
    EXPECT_EQ(secret.calls(), 1);
    EXPECT_EQ(secret.asked_for(), server.address());
    server.command({"SET", "c1", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"c1 set"}));

    // The password rotates: the old one stops working, then the connection is cut.
    server.command({"ACL", "SETUSER", "app", "resetpass", ">second"});
    secret.rotate("second");
    server.command({"CLIENT", "KILL", "USER", "app"});
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_TRUE(gap->restored.has_value()) << diag.all();
    EXPECT_GE(secret.calls(), 2);
    server.command({"SET", "c2", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"c2 set"}));
    EXPECT_FALSE(diag.contains("authentication failed")) << diag.all();
}

TEST(Credentials, AStalePasswordFromTheCallbackIsRetriedNotFinal) {
    redis_server server(app_and_admin());
    server.set_auth({"admin", "admin"});
    rotating_password secret("first");
    auto o = options_for(server);
    o.connection.credentials_provider = secret.callback();
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("s*");
    // The server rotates first; the callback still answers the old password for a while.
    server.command({"ACL", "SETUSER", "app", "resetpass", ">second"});
    server.command({"CLIENT", "KILL", "USER", "app"});
    ASSERT_TRUE(wait_until([&] { return diag.contains("authentication failed"); }, 5s))
        << diag.all();
    const int failed_calls = secret.calls();
    EXPECT_NE(n.stats().nodes[0].state, net::connection_state::closed);
    secret.rotate("second");
    const auto gap = next_gap(n);
    ASSERT_TRUE(gap) << diag.all();
    EXPECT_TRUE(gap->restored.has_value());
    EXPECT_GT(secret.calls(), failed_calls);
    server.command({"SET", "s2", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"s2 set"}));
}

TEST(Credentials, ACallbackThatThrowsFailsThatAttemptAndIsAskedAgain) {
    redis_server server(with_config({"user app on >first ~* &* +@all", "user default off"}));
    server.set_auth({"app", "first"});
    rotating_password secret("first");
    secret.fail_next(2);
    auto o = options_for(server);
    o.connection.credentials_provider = secret.callback();
    o.subscribe_when_disconnected = when_disconnected::queue;
    keyspace_notifications n(o);
    diagnostics diag;
    diag.attach(n);
    n.subscribe_keyspace("t*");
    EXPECT_TRUE(
        wait_until([&] { return n.stats().nodes[0].state == net::connection_state::ready; }, 5s))
        << diag.all();
    EXPECT_EQ(secret.calls(), 3);
    EXPECT_TRUE(diag.contains("the credentials callback failed: the token service is down"))
        << diag.all();
    server.command({"SET", "t1", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"t1 set"}));
}

}  // namespace
}  // namespace ksn::test
