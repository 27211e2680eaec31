// The machinery behind keyspace_notifications and cluster_keyspace_notifications:
// the I/O thread, the subscription registry, dispatch to handlers and the queue, gap
// events, diagnostics, and one node_subscriber per node. Internal: not installed.
//
// Everything here runs on the I/O thread except the members marked "any thread".
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../net/connection.hpp"
#include "delivery.hpp"
#include "event_queue.hpp"
#include "keyspace_notifications.hpp"
#include "subscription_registry.hpp"

namespace ksn::detail {

class notifier_core;
using completion = notifier_base::completion;

/// One node's subscriber connection: replays the registry on every connect, confirms
/// subscriptions, checks notify-keyspace-events, and turns interruptions into gaps.
class node_subscriber final : public net::connection_observer {
  public:
    node_subscriber(notifier_core& core, const net::endpoint& address);
    ~node_subscriber() override;

    void start();
    /// Closes for good (no gap: the caller decides what to report). With `retired` (the
    /// node left the topology) operations waiting on it complete: it owes them nothing;
    /// otherwise they fail with notifier_errc::closed.
    void close(bool retired = false);

    const std::string& name() const noexcept { return name_; }
    const net::endpoint& address() const noexcept { return options_.address; }
    bool ready() const noexcept;

    /// Sends (p)subscribe or (p)unsubscribe for `keys` and calls `done` once each is
    /// confirmed, or with the error. `op` identifies the operation for cancel().
    void send(const std::vector<subscription_key>& keys, bool unsubscribe, std::uint64_t op,
              completion done);
    /// Forgets the waiter of `op`; returns the keys it still waited for.
    std::vector<subscription_key> cancel(std::uint64_t op);

    /// Under overflow_policy::disconnect: drop the connection until resume().
    void pause_for_overflow(clock::time_point when);
    void resume();
    bool paused() const noexcept { return paused_; }

    /// Cluster: the slot ranges this node serves, named in its gap events.
    void set_slots(std::vector<std::pair<std::uint16_t, std::uint16_t>> slots) {
        slots_ = std::move(slots);
    }
    /// Cluster: this node took over slots whose events may have been lost since `gap.lost`;
    /// the gap is reported once the node is covered (every subscription confirmed).
    void expect_gap(gap_event gap);
    /// When the current interruption began, if the node is in one.
    std::optional<clock::time_point> gap_start() const noexcept {
        return gap_ ? std::optional<clock::time_point>(gap_->lost) : std::nullopt;
    }
    /// True once every subscription was confirmed on the current connection.
    bool covered_now() const noexcept { return covered_; }

    std::optional<notify_flags> configured_flags() const noexcept { return configured_; }
    void set_configured_flags(notify_flags f) noexcept { configured_ = f; }
    node_stats stats() const;
    node_stats& counters() noexcept { return stats_; }

    // connection_observer
    void on_state(net::connection_state state, const std::error_code& ec,
                  const std::string& detail) override;
    void on_message(const protocol::pubsub_frame& frame, clock::time_point received) override;
    void on_confirmation(const protocol::pubsub_frame& frame) override;

  private:
    struct waiter {
        std::uint64_t op;
        bool unsubscribe;
        std::vector<subscription_key> remaining;
        completion done;
    };

    void connect();
    void on_ready();
    void check_flags(const protocol::value& reply);
    void covered();
    void finish_waiter(std::size_t index, const std::error_code& ec, const std::string& detail);
    void fail_waiters(const std::error_code& ec, const std::string& detail, bool keep_subscribes);
    void send_commands(const std::vector<subscription_key>& keys, bool unsubscribe,
                       std::uint64_t op);

    notifier_core& core_;
    net::connection_options options_;
    std::string name_;
    std::shared_ptr<net::connection> conn_;
    std::vector<waiter> waiters_;

    bool first_attempt_ = true;  // no connection established or failed yet
    bool ever_ready_ = false;
    bool paused_ = false;
    bool closed_ = false;
    bool retired_ = false;
    std::optional<gap_event> gap_;  // an interruption not yet reported
    std::vector<std::pair<std::uint16_t, std::uint16_t>> slots_;
    bool covered_ = false;
    bool lost_by_eof_ = false;
    std::string last_error_;  // why the connection last went down, for later errors
    std::string run_id_;
    std::optional<notify_flags> configured_;
    node_stats stats_;
    std::uint64_t bytes_before_ = 0;  // bytes of earlier connection objects
};

class notifier_core : public std::enable_shared_from_this<notifier_core> {
  public:
    notifier_core(asio::io_context* external, notifier_options options);
    ~notifier_core();

    /// Starts the own I/O thread (if any) and runs `init` on the I/O thread.
    void start(std::function<void()> init);
    /// Any thread: closes every node, stops the own thread, wakes pullers. Idempotent.
    void shutdown();

    asio::io_context& io() noexcept { return *io_; }
    const notifier_options& options() const noexcept { return options_; }
    subscription_registry& registry() noexcept { return registry_; }
    event_queue& queue() noexcept { return queue_; }
    bool on_io_thread() const noexcept;
    bool closed() const noexcept { return closed_.load(); }

    node_subscriber& add_node(const net::endpoint& address);
    /// Closes and removes a node (cluster); with `gap`, reports it first.
    void remove_node(const std::string& name, std::optional<gap_event> gap);
    node_subscriber* find_node(const std::string& name) noexcept;
    const std::vector<std::unique_ptr<node_subscriber>>& nodes() const noexcept { return nodes_; }

    // Called by node_subscriber on the I/O thread.
    void dispatch(const protocol::pubsub_frame& frame, clock::time_point received,
                  node_subscriber& node);
    void emit_gap(gap_event gap);
    void emit_confirmation(const protocol::pubsub_frame& frame, const node_subscriber& node);
    void report(severity s, const std::string& message);
    /// A notify-keyspace-events warning, not repeated when it says the same as the last.
    void warn_flags(const std::string& message);
    /// Cluster hook: a node lost its connection (the tracker refreshes the topology).
    std::function<void(const std::string&)> on_node_lost;
    /// Cluster hook: runs on the I/O thread when the notifier closes.
    std::function<void()> on_shutdown;
    /// Cluster: subscribe operations wait (parked) until the first nodes are known.
    void await_nodes() noexcept { awaiting_nodes_ = true; }
    /// Cluster: the first nodes were added; parked operations are sent to them.
    void nodes_ready();
    /// Cluster: no node could be found; parked operations fail with `detail`.
    void fail_parked(const std::string& detail);

    // Operations (I/O thread); `done` runs exactly once on the I/O thread.
    void subscribe(std::vector<subscription_key> keys, notification_handler handler,
                   completion done);
    void unsubscribe(std::vector<subscription_key> keys, completion done);
    void configure(notify_flags flags, completion done);

    /// Any thread but the I/O thread: runs `op` there and waits for its completion.
    /// Throws std::logic_error when called on the I/O thread.
    std::pair<std::error_code, std::string> run_blocking(const std::function<void(completion)>& op,
                                                         std::chrono::milliseconds bound);
    /// Any thread: runs `fn` on the I/O thread and returns its result.
    template <class F>
    auto query(F fn) -> decltype(fn());

    // Any thread.
    bool next(delivery& out, clock::duration timeout);
    void set_gap_handler(gap_handler h);
    void set_diagnostic_handler(diagnostic_handler h);
    std::size_t subscription_count() const noexcept { return subscription_count_.load(); }
    std::atomic<std::uint64_t> handler_exceptions{0};

  private:
    struct operation {
        std::uint64_t id;
        std::size_t waiting;
        std::vector<subscription_key> added;  // new in the registry: undone on failure
        bool unsubscribe;
        completion done;
        std::unique_ptr<asio::steady_timer> timer;
        std::error_code ec;
        std::string detail;
        bool parked = false;  // waiting for the first nodes (cluster)
    };
    /// Fails the operation with subscribe_timeout, naming the nodes that did not confirm,
    /// when subscribe_timeout passes first.
    void arm_timeout(operation& op);
    void send_to_nodes(std::uint64_t id, const std::vector<subscription_key>& keys,
                       bool unsubscribe);
    void node_done(std::uint64_t id, const std::error_code& ec, const std::string& detail);
    void finish(std::uint64_t id);
    void prepare(delivery& d) const;
    bool flags_missing(std::string& why) const;

    std::unique_ptr<asio::io_context> own_io_;
    asio::io_context* io_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
    std::thread thread_;
    std::future<void> run_finished_;  // set when the own thread's run() returns
    void stop_thread();
    notifier_options options_;
    subscription_registry registry_;
    event_queue queue_;
    std::vector<std::unique_ptr<node_subscriber>> nodes_;
    std::map<std::uint64_t, operation> operations_;
    std::uint64_t next_op_ = 1;
    std::atomic<bool> closed_{false};
    bool awaiting_nodes_ = false;
    std::string last_flags_warning_;
    std::atomic<std::size_t> subscription_count_{0};

    // Scratch for dispatch: reused so that parsing allocates nothing per message.
    received_notification scratch_;
    std::vector<std::string_view> scratch_storage_;
    bool wakes_held_ = false;  // queue wake-ups held until the current read is dispatched

    mutable std::mutex handlers_mutex_;
    gap_handler gap_handler_;
    diagnostic_handler diagnostic_handler_;
};

}  // namespace ksn::detail

// ---------------------------------------------------------------------------------------
#include <asio/post.hpp>
#include <future>

namespace ksn::detail {

template <class F>
auto notifier_core::query(F fn) -> decltype(fn()) {
    using result = decltype(fn());
    if (on_io_thread() || closed_) return fn();  // closed: nodes are gone, fn sees that
    auto p = std::make_shared<std::promise<result>>();
    auto f = p->get_future();
    asio::post(*io_, [p, fn = std::move(fn)]() mutable { p->set_value(fn()); });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        throw std::runtime_error("ksn: the notifier's I/O thread did not answer (is it running?)");
    }
    return f.get();
}

}  // namespace ksn::detail
