// A short-lived command connection to one node, for the one-shot conversations around a
// subscriber: discovery (CLUSTER SLOTS, INFO server), checking or setting
// notify-keyspace-events, the writers of a benchmark. It wraps a net::connection and owns
// its observer, so a caller writes two callbacks instead of a connection_observer class.
//
// It connects once: reconnect.max_attempts is forced to 1 and health_check_interval to 0,
// and the first loss closes the underlying connection before its reconnect timer can
// fire, so a refused connect, a failed handshake or a connection lost later is reported
// once to the failure handler and nothing is retried. A caller that wants another try
// makes a new command_connection.
//
// Threading: like net::connection, it lives on one io_context; create(), start(),
// command() and close() must be called on the thread that runs it, and every handler runs
// there.
//
// Lifetime:
// - The caller keeps the shared_ptr that create() returns; dropping the last one closes
//   the connection (the destructor calls close()), so no handler runs afterwards.
// - No handler (ready, failure or a command's reply handler) runs once close() has been
//   called: replies still pending are dropped without a call. close() may be called from
//   inside any of the handlers, and so may dropping the last shared_ptr.
// - The ready and failure handlers are released (destroyed) after the failure handler has
//   run and on close(); the ready handler also once it has run. A reply handler is
//   released once it has run, or on close(). So a handler that captures the shared_ptr of
//   its own command_connection makes a cycle that lasts until then: that is allowed (it is
//   how a caller keeps the connection alive without storing it), but a connection that
//   is never started, never fails and never closed would then leak. The safe default is to
//   capture a std::weak_ptr (or a raw pointer to an owner that outlives the connection)
//   and to call close() when done.
#pragma once

#include <asio/io_context.hpp>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "connection.hpp"
#include "options.hpp"
#include "session.hpp"

namespace ksn::net {

/// A command connection to one node: connects once (no reconnect, no health check), says
/// when it is ready or why it failed, runs commands, and closes. See the file comment for
/// what the handlers may capture.
class command_connection : public std::enable_shared_from_this<command_connection> {
  public:
    /// Called at most once, when the handshake has completed and commands flow.
    using ready_handler = std::function<void()>;
    /// Called at most once, when the connection fails or is lost (not after close()).
    /// `ec` is a net::errc (resolve_failed, connect_failed, connect_timeout, auth_failed,
    /// handshake_failed, tls_*, closed_by_peer, connection_lost, protocol_error, ...);
    /// `detail` is a sentence naming the node
    /// ("127.0.0.1:6379: connect failed: Connection refused"). Commands still pending
    /// have already failed with their own error when it runs.
    using failure_handler =
        std::function<void(const std::error_code& ec, const std::string& detail)>;

    /// `options` as for net::connection, except reconnect.max_attempts (forced to 1) and
    /// health_check_interval (forced to 0). Either handler may be empty.
    static std::shared_ptr<command_connection> create(asio::io_context& io,
                                                      connection_options options,
                                                      ready_handler on_ready,
                                                      failure_handler on_failure);

    command_connection(const command_connection&) = delete;
    command_connection& operator=(const command_connection&) = delete;
    ~command_connection();

    /// Starts connecting. Call it once; commands sent before ready wait for the handshake.
    void start();

    /// As connection::command(); fails at once with not_connected when closed.
    /// Commands sent before the handshake has begun (before or right after start()) are
    /// kept (arguments copied) and sent behind it. The handler gets server_error for an
    /// error reply (the value holds the server's text), or the reason the command could
    /// not be answered (the failure's code, when the connection fails); it is not called
    /// once close() has been called, except at once with not_connected for a command sent
    /// after close().
    void command(std::span<const std::string_view> args, reply_handler handler);
    void command(std::initializer_list<std::string_view> args, reply_handler handler);

    /// Idempotent; no handler runs after it returns.
    void close();

    const endpoint& address() const noexcept;
    /// The underlying connection's state: connecting, handshaking, ready, or closed (after
    /// close() or a failure). disconnected only before start().
    connection_state state() const noexcept;

  private:
    struct private_tag {};

  public:
    // For create() only (std::make_shared needs a public constructor).
    command_connection(private_tag, asio::io_context& io, connection_options options,
                       ready_handler on_ready, failure_handler on_failure);

  private:
    class observer final : public connection_observer {
      public:
        explicit observer(command_connection& owner) : owner_(owner) {}
        void on_state(connection_state state, const std::error_code& ec,
                      const std::string& detail) override;
        void on_message(const protocol::pubsub_frame& f, clock::time_point t) override;
        void on_confirmation(const protocol::pubsub_frame& f) override;
        void on_push(const protocol::value& v) override;

      private:
        command_connection& owner_;
    };

    void on_state(connection_state state, const std::error_code& ec, const std::string& detail);
    void send(std::span<const std::string_view> args, reply_handler handler);

    /// A command sent before the handshake began, with its own copy of the arguments.
    struct early_command {
        std::vector<std::string> args;
        reply_handler handler;
    };

    observer observer_{*this};
    std::shared_ptr<connection> conn_;
    ready_handler on_ready_;
    failure_handler on_failure_;
    std::vector<early_command> early_;
    // Shared with the wrappers of pending reply handlers, which may outlive this object
    // (the connection fails them when it closes): true once close() was called.
    std::shared_ptr<bool> closed_ = std::make_shared<bool>(false);
    bool failed_ = false;
};

}  // namespace ksn::net
