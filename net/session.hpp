// The protocol conversation of one connection, without I/O.
//
// A session is told that the socket connected (start), fed the bytes read from it
// (feed) and the passing of time (on_timer); it answers with bytes to write (output),
// the deadline at which it wants to be woken (next_deadline), pub/sub frames and
// replies delivered to a sink and to reply handlers, and its state. It performs the
// handshake (HELLO 3 with AUTH and SETNAME, falling back to RESP2 AUTH), routes replies
// to the commands that asked for them in order, tells messages and subscription
// confirmations apart, and runs the PING health check. The Asio driver (connection.hpp)
// only moves bytes and timers; every protocol decision is here, so a whole conversation
// is unit-tested by feeding bytes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "../protocol/pubsub.hpp"
#include "../protocol/value.hpp"
#include "error.hpp"
#include "options.hpp"

namespace ksn::net {

using clock = std::chrono::steady_clock;

/// Called with the reply to a command: ec is empty for a normal reply, server_error for
/// an error reply (the value holds the server's text), or the reason the connection went
/// away before the reply came (the value is then null).
using reply_handler = std::function<void(const std::error_code& ec, const protocol::value& reply)>;

/// Receives what the server sends unprompted. Views in frames are valid only during the
/// call.
class session_sink {
  public:
    virtual ~session_sink() = default;
    /// A message, pmessage or smessage; `received` is when its bytes were read.
    virtual void on_message(const protocol::pubsub_frame& frame, clock::time_point received) = 0;
    /// A (p|s)(un)subscribe confirmation.
    virtual void on_confirmation(const protocol::pubsub_frame& frame) = 0;
    /// Any other RESP3 push (e.g. client-side caching invalidations).
    virtual void on_push(const protocol::value& push) { (void)push; }
};

enum class session_state : std::uint8_t {
    idle,         ///< not started
    handshaking,  ///< HELLO / AUTH / SETNAME under way; commands are held back
    ready,        ///< commands flow
    failed,       ///< see error() and error_detail(); the connection must be closed
};

class session {
  public:
    explicit session(const connection_options& options);

    /// The socket is connected: forgets the previous conversation and queues the handshake.
    void start(clock::time_point now);
    /// The credentials the next start() authenticates with (a credentials_callback's
    /// answer), in place of the options' username and password.
    void set_credentials(credentials c) {
        options_.username = std::move(c.username);
        options_.password = std::move(c.password);
    }

    /// Processes bytes read from the socket; returns how many were consumed. Unconsumed
    /// bytes (an incomplete frame) must be passed again, followed by more. Stops early
    /// when the session fails.
    std::size_t feed(std::string_view bytes, clock::time_point received, session_sink& sink);

    /// Queues a command whose reply goes to `handler`. Before the handshake completes,
    /// commands are held back and sent after it, in order.
    void command(std::span<const std::string_view> args, reply_handler handler);
    void command(std::initializer_list<std::string_view> args, reply_handler handler) {
        command(std::span<const std::string_view>(args.begin(), args.size()), std::move(handler));
    }

    /// Queues SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE or their UNSUBSCRIBE forms with at least
    /// one channel. Its confirmations (one per channel) go to the sink; `on_error` is
    /// called if the server refuses the whole command with an error reply (e.g. NOPERM),
    /// or if the connection goes away before every confirmation arrived.
    void subscribe_command(std::span<const std::string_view> args, reply_handler on_error);

    /// Moves the bytes to write into `out` (appending); returns false if there are none.
    bool take_output(std::string& out);
    bool has_output() const noexcept { return !output_.empty(); }

    /// When on_timer() must be called next, if ever.
    std::optional<clock::time_point> next_deadline() const noexcept;
    /// Fires the handshake timeout and the health check.
    void on_timer(clock::time_point now);
    /// Sends a health-check PING now (or, when one is in flight, another as soon as it is
    /// answered), so that ping_answered() soon passes `now`: everything the server sent
    /// before it received that PING has then been read. Ready sessions only.
    void ping_soon(clock::time_point now);

    /// The connection is gone: every pending reply handler is called with `ec`, held
    /// commands are dropped, and the session returns to idle.
    void abandon(const std::error_code& ec);

    session_state state() const noexcept { return state_; }
    std::error_code error() const noexcept { return error_; }
    /// The server's error text, or the protocol error's description with its offset.
    const std::string& error_detail() const noexcept { return error_detail_; }
    /// 2 or 3: the protocol in use (2 until HELLO 3 succeeds).
    int resp() const noexcept { return resp_; }
    /// The send time of the last health-check PING answered since start(): everything
    /// the server sent before it had been read by then, so the stream was whole until
    /// that time. Kept after a failure; nullopt before the first answer.
    std::optional<clock::time_point> ping_answered() const noexcept { return ping_answered_; }
    /// Bytes consumed since start().
    std::uint64_t stream_offset() const noexcept { return offset_; }
    /// Commands sent (or held) whose replies have not all arrived.
    std::size_t pending() const noexcept { return fifo_.size() + held_fifo_.size(); }

  private:
    enum class entry_kind : std::uint8_t { reply, ping, subscribe };
    struct entry {
        entry_kind kind;
        protocol::pubsub_kind confirms;  // for subscribe: the confirmation kind expected
        std::size_t remaining;           // for subscribe: confirmations still to come
        reply_handler handler;
    };

    void queue(std::span<const std::string_view> args, entry e, bool internal);
    void handle_frame(const protocol::pubsub_frame& f, clock::time_point received,
                      session_sink& sink);
    void handle_value(const protocol::value& v, session_sink& sink);
    void fail(errc code, std::string detail);
    void send_hello();
    void begin_resp2();
    void after_auth();
    void become_ready();
    void send_ping(clock::time_point now);
    void pong();  // the PING in flight was answered

    connection_options options_;
    session_state state_ = session_state::idle;
    int resp_ = 2;
    std::error_code error_;
    std::string error_detail_;

    std::string output_;      // bytes to write
    std::deque<entry> fifo_;  // commands written, awaiting replies, in order
    std::string held_;        // user commands held back during the handshake
    std::deque<entry> held_fifo_;

    protocol::value_reader reader_;
    bool mid_generic_ = false;  // the generic reader holds part of a message
    std::uint64_t offset_ = 0;
    std::uint64_t message_offset_ = 0;  // stream offset where the generic message began

    clock::time_point now_{};
    std::optional<clock::time_point> handshake_deadline_;
    std::optional<clock::time_point> next_ping_;
    std::optional<clock::time_point> ping_deadline_;
    clock::time_point ping_sent_{};
    std::optional<clock::time_point> ping_answered_;
    bool ping_again_ = false;  // ping_soon() while a PING was in flight
};

}  // namespace ksn::net
