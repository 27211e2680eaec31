// Real redis-server processes for integration tests: started on free loopback ports in a
// temporary directory, stopped (and their directory removed) by the destructor. Also a
// small blocking RESP client for the test's own commands, and a fake peer for what a
// real server will not send.
#pragma once

#include <sys/types.h>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "protocol/value.hpp"
#include "tests/support/timing.hpp"

namespace ksn::test {

/// The redis-server binary; throws std::runtime_error with a clear message if absent.
std::string redis_server_path();

/// A loopback TCP port nobody listens on now (and, with `with_bus`, port + 10000 too),
/// below the kernel's ephemeral port range so that no outgoing connection takes it.
std::uint16_t free_port(bool with_bus = false);

/// A blocking RESP2 client for tests (no HELLO), on 127.0.0.1. `timeout` bounds the
/// connect and each send and receive; it is scaled by time_scale() (tests/support/timing.hpp).
class client {
  public:
    explicit client(std::uint16_t port,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Sends one command and reads its reply; throws on I/O errors and timeouts.
    protocol::value command(std::initializer_list<std::string_view> args);
    protocol::value command(const std::vector<std::string>& args);
    /// Sends many commands in one write and reads all replies (error replies included).
    std::vector<protocol::value> pipeline(const std::vector<std::vector<std::string>>& commands);

  private:
    protocol::value read_one();
    int fd_ = -1;
    std::string buffer_;
    protocol::value_reader reader_;
};

struct server_options {
    /// notify-keyspace-events; empty leaves the server's default (off).
    std::string notify = "KEA";
    /// Extra config lines ("requirepass x", "rename-command HELLO \"\"", ...).
    std::vector<std::string> config;
    bool cluster = false;
    /// Run as a Redis Sentinel (`redis-server <conf> --sentinel`): the config has no
    /// notify-keyspace-events, save, appendonly or dbfilename lines (`notify` is ignored),
    /// and it is written at the first start only, so that start() after stop() or kill9()
    /// keeps what the sentinel rewrote into it (its id, epochs, the primary it follows).
    bool sentinel = false;
    std::uint16_t port = 0;  ///< 0: pick a free one
    /// Listen on a Unix domain socket too (socket_path(), in the server's directory).
    bool unix_socket = false;
    /// More config lines that depend on the port the server got.
    std::function<std::vector<std::string>(std::uint16_t port)> port_config;
};

/// Shorthands for the common options.
inline server_options with_config(std::vector<std::string> lines) {
    server_options o;
    o.config = std::move(lines);
    return o;
}
inline server_options with_notify(std::string flags) {
    server_options o;
    o.notify = std::move(flags);
    return o;
}
inline server_options on_port(std::uint16_t port) {
    server_options o;
    o.port = port;
    return o;
}
inline server_options with_unix_socket() {
    server_options o;
    o.unix_socket = true;
    return o;
}

class redis_server {
  public:
    using options = server_options;

    explicit redis_server(options opts = {});
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    const std::string& dir() const noexcept { return dir_; }
    /// The Unix socket the server listens on (with server_options::unix_socket).
    std::string socket_path() const { return dir_ + "/redis.sock"; }
    pid_t pid() const noexcept { return pid_; }

    /// Starts (again) on the same port and waits until it answers PING.
    void start();
    /// SIGTERM and wait; SIGKILL if it does not exit in time.
    void stop();
    /// SIGKILL, no goodbye.
    void kill9();
    /// SIGSTOP / SIGCONT.
    void pause();
    void resume();
    bool running() const noexcept { return pid_ > 0; }
    /// True between pause() and resume() (or until the process is stopped or killed).
    bool paused() const noexcept { return paused_; }

    /// notify-keyspace-events for the next start() (a restart without notifications).
    void set_notify(std::string flags) { opts_.notify = std::move(flags); }

    /// A command on a fresh connection (authenticates with `auth` when set).
    protocol::value command(std::initializer_list<std::string_view> args);
    /// Commands authenticate with these from now on (after enabling requirepass/ACLs).
    void set_auth(std::vector<std::string> auth) { auth_ = std::move(auth); }
    std::string log() const;

  private:
    void write_config() const;
    void wait_ready();

    options opts_;
    std::uint16_t port_ = 0;
    std::string dir_;
    /// Atomic: a test's writer thread asks running() (through redis_cluster::topology())
    /// while the test's main thread kills or restarts the node (TSan found the race).
    std::atomic<pid_t> pid_{-1};
    std::atomic<bool> paused_{false};
    std::vector<std::string> auth_;
};

/// A TCP listener on 127.0.0.1 that answers each connection with `script`: given the
/// bytes received so far on that connection (and its index), it returns everything the
/// peer should have sent by now; the new suffix is sent. "\x04" closes the connection.
/// Used for what a real server never sends.
class fake_peer {
  public:
    using script = std::function<std::string(std::string_view received, int connection)>;
    explicit fake_peer(script s);
    ~fake_peer();
    std::uint16_t port() const noexcept { return port_; }
    int connections() const noexcept { return connections_.load(); }

  private:
    void run();
    script script_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread thread_;
};

/// Waits until `cond` holds, checking every `every`, at most `limit` scaled by
/// time_scale() (tests/support/timing.hpp: pass the bound an unsanitized build needs);
/// returns its last value.
bool wait_until(const std::function<bool()>& cond,
                std::chrono::milliseconds limit = std::chrono::seconds(10),
                std::chrono::milliseconds every = std::chrono::milliseconds(10));

}  // namespace ksn::test
