// One connection to one Redis node on standalone Asio: resolve, connect with a timeout,
// TCP_NODELAY (or a Unix domain socket's connect), the credentials callback's answer, the
// session's handshake, a read loop into one growable buffer parsed in
// place, one write in flight with later commands coalesced behind it, the health-check
// timer, and reconnects with jittered exponential backoff.
//
// Threading: a connection lives on one io_context; every member function must be called
// on the thread that runs it (post() to it from elsewhere). Observer callbacks run there
// too. Lifetime: create() returns a shared_ptr; pending operations keep the connection
// alive, and after close() the observer is never called again, so the observer may be
// destroyed right after close() returns.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "backoff.hpp"
#include "options.hpp"
#include "read_buffer.hpp"
#include "session.hpp"

namespace ksn::net {

/// Told about state changes, and (as a session_sink) about everything the server sends
/// unprompted.
class connection_observer : public session_sink {
  public:
    /// `ec` and `detail` say why for disconnected and closed; `detail` is a sentence that
    /// names the node ("127.0.0.1:6379: authentication failed: WRONGPASS ...").
    virtual void on_state(connection_state state, const std::error_code& ec,
                          const std::string& detail) = 0;
};

struct connection_counters {
    std::uint64_t bytes_read = 0;
    std::uint64_t connects = 0;         ///< handshakes completed
    std::uint64_t disconnects = 0;      ///< connections lost after or during connecting
    std::uint64_t protocol_errors = 0;  ///< malformed input from the peer
};

class connection : public std::enable_shared_from_this<connection> {
  public:
    static std::shared_ptr<connection> create(asio::io_context& io, connection_options options,
                                              connection_observer* observer);

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    /// Starts connecting. The observer hears connecting, handshaking, ready, ...
    void start();

    /// Closes for good; pending replies fail with errc::closed. Idempotent.
    void close();

    /// Sends a command (see session::command). Fails at once with not_connected while
    /// the connection is not connecting or ready.
    void command(std::span<const std::string_view> args, reply_handler handler);
    void command(std::initializer_list<std::string_view> args, reply_handler handler) {
        command(std::span<const std::string_view>(args.begin(), args.size()), std::move(handler));
    }
    /// Sends a subscribe-family command (see session::subscribe_command).
    void subscribe_command(std::span<const std::string_view> args, reply_handler on_error);

    connection_state state() const noexcept { return state_; }
    const endpoint& address() const noexcept { return options_.address; }
    const std::string& name() const noexcept { return name_; }
    /// 2 or 3 once ready.
    int resp() const noexcept { return session_.resp(); }
    /// See session::ping_answered(): until when this connection's stream is known whole.
    std::optional<clock::time_point> ping_answered() const noexcept {
        return session_.ping_answered();
    }
    /// See session::ping_soon(); nothing unless ready.
    void ping_soon();
    const connection_counters& counters() const noexcept { return counters_; }

  private:
    connection(asio::io_context& io, connection_options options, connection_observer* observer);

    void do_connect();
    void connect_tcp(std::uint64_t gen);
    void connect_unix(std::uint64_t gen);
    void on_connected();
    void start_session();
    void do_read();
    void on_read(std::uint64_t gen, const std::error_code& ec, std::size_t n);
    void flush();
    void on_written(std::uint64_t gen, const std::error_code& ec);
    /// Builds the TLS context from options_.tls; false (with `why`) when a file is bad.
    bool make_tls_context(std::string& why);
    void arm_timer();
    void after_session(session_state before);
    void handle_error(const std::error_code& ec, const std::string& detail);
    void set_state(connection_state s, const std::error_code& ec = {},
                   const std::string& detail = {});
    void reset_transport();

    // session_sink forwarding, so that the session never sees the observer pointer change.
    class sink_adapter final : public session_sink {
      public:
        explicit sink_adapter(connection& c) : c_(c) {}
        void on_message(const protocol::pubsub_frame& f, clock::time_point t) override;
        void on_confirmation(const protocol::pubsub_frame& f) override;
        void on_push(const protocol::value& v) override;

      private:
        connection& c_;
    };

    connection_options options_;
    std::string name_;
    connection_observer* observer_;
    sink_adapter sink_{*this};
    asio::ip::tcp::resolver resolver_;
    asio::ip::tcp::socket socket_;
    asio::local::stream_protocol::socket unix_socket_;  // when options_.address.is_unix()
    // TLS: one context per connection object (CA and client certificate loaded once), a
    // new stream over socket_ per connection attempt. Pending operations hold the stream
    // (shared_ptr): destroying it under them would be a use after free.
    std::unique_ptr<asio::ssl::context> tls_context_;
    std::shared_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
    asio::steady_timer connect_timer_;
    asio::steady_timer session_timer_;
    asio::steady_timer reconnect_timer_;
    std::optional<clock::time_point> armed_;
    session session_;
    read_buffer rbuf_;
    std::string write_buf_;
    bool writing_ = false;
    bool reading_ = false;
    backoff backoff_;
    clock::time_point down_since_{};  // the first failure of the current outage
    connection_state state_ = connection_state::disconnected;
    std::uint64_t generation_ = 0;  // bumped per transport; stale handlers are ignored
    connection_counters counters_;
};

}  // namespace ksn::net
