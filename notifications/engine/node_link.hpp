// The Asio side of one node's subscriber: owns the node's net::connection, feeds its
// events to the node_subscriber state machine and runs the actions it answers (commands,
// gaps, completions, diagnostics, disconnect and reconnect). Messages bypass the state
// machine: they go straight to the notifier's dispatcher (the hot path).
//
// Everything here runs on the notifier's I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/steady_timer.hpp>

#include "../../net/command_connection.hpp"
#include "../../net/connection.hpp"
#include "../notifier_options.hpp"
#include "node_subscriber.hpp"
#include "repeat_window.hpp"
#include "replica_window.hpp"

namespace ksn::detail {

class notifier_core;

class node_link final : public net::connection_observer {
  public:
    node_link(notifier_core& core, const net::endpoint& address);
    ~node_link() override;

    /// Starts connecting.
    void start();
    /// See node_subscriber::close().
    void close(bool retired = false);

    const std::string& name() const noexcept { return machine_.name(); }
    const net::endpoint& address() const noexcept { return options_.address; }
    bool ready() const noexcept { return machine_.ready(); }
    /// Ready with every subscription confirmed on this connection.
    bool covered() const noexcept { return machine_.ready() && machine_.covered(); }
    /// Unique among the node links of the process: tells a node removed and added again
    /// under the same name from the one it replaced.
    std::uint64_t serial() const noexcept { return serial_; }
    /// When the current connection was covered (meaningful while covered()).
    clock::time_point covered_at() const noexcept { return machine_.covered_at(); }
    /// When the current connection became ready (its subscriptions sent then).
    std::optional<clock::time_point> ready_at() const noexcept { return ready_at_; }
    /// Connections established after the first (a change means the stream broke).
    std::uint64_t reconnects() const noexcept { return machine_.reconnects(); }
    /// See net::connection::ping_soon() and ping_answered().
    void ping_soon() {
        if (conn_) conn_->ping_soon();
    }
    std::optional<clock::time_point> ping_answered() const noexcept {
        return conn_ ? conn_->ping_answered() : std::nullopt;
    }
    /// While a cluster handover overlaps this node's stream with another's: its messages
    /// are matched on `side` of `w` and repeats are delivered as redelivered. nullptr ends it.
    void set_repeats(std::shared_ptr<repeat_window> w, int side) {
        repeats_ = std::move(w);
        repeat_side_ = side;
    }
    /// Redundancy (redundancy.hpp): this node is the primary (`standby` false) or the
    /// standby replica of a pair sharing `w`; a standby's messages are held by the window
    /// until it follows (its primary's stream stopped). nullptr ends it (an ordinary node).
    void set_window(std::shared_ptr<replica_window> w, bool standby) {
        window_ = std::move(w);
        standby_ = window_ != nullptr && standby;
    }
    /// A standby replica: sent every operation but owes no answer (operations do not wait
    /// for it), and its own gaps are the pair's business (redundancy.hpp).
    bool standby() const noexcept { return standby_; }
    /// A node leaving (a former cluster primary kept until it retires): new operations
    /// are not sent to it; its connection replays the registry as any other.
    bool retiring() const noexcept { return retiring_; }
    void set_retiring(bool r) noexcept { retiring_ = r; }

    /// Sends (p)subscribe or (p)unsubscribe for `keys` as operation `op`; the node's
    /// answer reaches notifier_core::node_done(op, ...).
    void send(const std::vector<subscription_key>& keys, bool unsubscribe, std::uint64_t op);
    /// Forgets the waiter of `op`; returns the keys it still waited for.
    std::vector<subscription_key> cancel(std::uint64_t op) { return machine_.cancel(op); }

    void pause_for_overflow(clock::time_point when);
    void resume();

    void set_slots(slot_ranges slots) { machine_.set_slots(std::move(slots)); }
    void expect_gap(gap_event gap);
    void expect_unreachable(clock::time_point lost, const std::string& why);
    const slot_ranges& slots() const noexcept { return machine_.slots(); }
    std::optional<clock::time_point> gap_start() const noexcept { return machine_.gap_start(); }
    /// The interruption not yet reported, if any (node_subscriber::open_gap()).
    const std::optional<gap_event>& open_gap() const noexcept { return machine_.open_gap(); }
    /// See node_subscriber::lost_by_eof().
    bool lost_by_eof() const noexcept { return machine_.lost_by_eof(); }
    std::optional<clock::time_point> lost_covered_at() const noexcept {
        return machine_.lost_covered_at();
    }
    /// For a node removed while its connection is down (a former primary retired): its
    /// open gap ended now, with its slots and `why` in the detail; nullopt when it has none.
    std::optional<gap_event> gap_until_now(const std::string& why) const;
    /// When the last message from this node was read (nullopt before the first).
    std::optional<clock::time_point> last_message() const noexcept { return last_message_; }

    std::optional<notify_flags> configured_flags() const noexcept {
        return machine_.configured_flags();
    }
    /// configure_notifications() set `f` on the node: as a check that found them (ends a
    /// notifications_disabled gap).
    void flags_set(notify_flags f);
    node_stats stats() const;
    /// The dispatcher's counters of this node (notifications, filtered, ...).
    node_stats& counters() noexcept { return stats_; }

    // connection_observer
    void on_state(net::connection_state state, const std::error_code& ec,
                  const std::string& detail) override;
    void on_message(const protocol::pubsub_frame& frame, clock::time_point received) override;
    void on_confirmation(const protocol::pubsub_frame& frame) override;

  private:
    void connect();
    void run(node_subscriber::actions actions);
    /// Asks CONFIG GET notify-keyspace-events: on the subscriber connection, or on a
    /// one-shot connection of its own for a re-check on a subscribed RESP2 connection.
    void ask_flags(bool subscribed);
    void on_flags_reply(const std::error_code& ec, const protocol::value& v);
    /// Arms the timer at the machine's next deadline (the flags re-check).
    void arm_timer();
    /// Up to when the stream is known whole: the last message read, or the last PING
    /// answered on the current connection.
    std::optional<clock::time_point> delivered_until() const;

    notifier_core& core_;
    net::connection_options options_;
    node_subscriber machine_;
    std::shared_ptr<net::connection> conn_;
    std::shared_ptr<net::command_connection> flags_conn_;  // a RESP2 re-check in flight
    asio::steady_timer timer_;
    std::optional<clock::time_point> armed_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // see arm_timer()
    node_stats stats_;
    std::uint64_t bytes_before_ = 0;  // bytes of earlier connection objects
    bool ever_ready_ = false;
    std::optional<clock::time_point> ready_at_;
    bool retiring_ = false;
    std::optional<clock::time_point> last_message_;
    std::shared_ptr<repeat_window> repeats_;
    int repeat_side_ = 0;
    std::shared_ptr<replica_window> window_;
    bool standby_ = false;
    std::uint64_t serial_;
};

}  // namespace ksn::detail
