// The engine behind keyspace_notifications and cluster_keyspace_notifications. Internal:
// not installed.
//
// notifier_core is the room where the rest meet: the I/O loop and its thread (or the
// caller's io_context), the subscription registry, the dispatcher (hot path, queue, user
// callbacks), the nodes (one node_link each) and the operations in flight. Its member
// functions live in three files, one concept each:
//   - notifier_core.cpp: the loop and its threads — start, shutdown, blocking calls from
//     other threads, queries, nodes added and removed;
//   - operations.cpp: subscribe / unsubscribe as operations over every node: runs the
//     operation table (operation_table.hpp: deadlines, undo, the notify-keyspace-events
//     check) with one timer on its earliest deadline;
//   - configure.cpp: configure_notifications() over one-shot command connections.
//
// Everything runs on the I/O thread except the members marked "any thread".
#pragma once

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../../net/connection.hpp"
#include "../delivery.hpp"
#include "../notifier_options.hpp"
#include "dispatcher.hpp"
#include "event_queue.hpp"
#include "node_link.hpp"
#include "operation_table.hpp"
#include "subscription_registry.hpp"

namespace ksn::detail {

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
    dispatcher& events() noexcept { return dispatcher_; }
    event_queue& queue() noexcept { return dispatcher_.queue(); }
    bool on_io_thread() const noexcept;
    bool closed() const noexcept { return closed_.load(); }

    // --- nodes (notifier_core.cpp) ---------------------------------------------------------
    node_link& add_node(const net::endpoint& address);
    /// Closes and removes a node (cluster); with `gap`, reports it first.
    void remove_node(const std::string& name, std::optional<gap_event> gap);
    node_link* find_node(const std::string& name) noexcept;
    const std::vector<std::unique_ptr<node_link>>& nodes() const noexcept { return nodes_; }

    // Called by node_link on the I/O thread.
    event_queue::push_result dispatch(const protocol::pubsub_frame& frame,
                                      clock::time_point received, node_stats& stats,
                                      bool redelivered = false) {
        return dispatcher_.dispatch(frame, received, stats, stats.node, redelivered);
    }
    void emit_gap(gap_event gap) { dispatcher_.emit_gap(std::move(gap)); }
    /// A gap of `node`'s own stream: through gap_filter when one is set.
    void emit_node_gap(node_link& node, gap_event gap) {
        if (gap_filter) {
            auto kept = gap_filter(node, std::move(gap));
            if (kept) emit_gap(std::move(*kept));
            return;
        }
        emit_gap(std::move(gap));
    }
    /// Redundancy hook: sees each node's own gap first; nullopt drops it (a stream that
    /// another stream covered).
    std::function<std::optional<gap_event>(node_link&, gap_event)> gap_filter;
    void emit_confirmation(const protocol::pubsub_frame& frame, const std::string& node) {
        dispatcher_.emit_confirmation(frame, node);
    }
    void report(severity s, const std::string& message) { dispatcher_.report(s, message); }
    void warn_flags(const std::string& message) { dispatcher_.warn_flags(message); }
    /// Node `node` is done with operation `id` (ec empty: confirmed).
    void node_done(std::uint64_t id, const std::error_code& ec, const std::string& detail,
                   const std::string& node);

    /// Cluster hook: a node lost its connection (the tracker refreshes the topology).
    std::function<void(const std::string&)> on_node_lost;
    /// Cluster hook: runs on the I/O thread when the notifier closes.
    std::function<void()> on_shutdown;

    // --- operations (operations.cpp); `done` runs exactly once, on the I/O thread ----------
    void subscribe(std::vector<subscription_key> keys, notification_handler handler,
                   completion done);
    void unsubscribe(std::vector<subscription_key> keys, completion done);
    /// Cluster: subscribe operations wait (parked) until the first nodes are known.
    void await_nodes() noexcept { awaiting_nodes_ = true; }
    /// Cluster: a subscribe succeeds without the nodes it cannot reach while another node
    /// confirms it; each of them reports a node_unreachable gap (operation_table.hpp).
    void set_partial(bool partial) noexcept { partial_ = partial; }
    /// Cluster: the first nodes were added; parked operations are sent to them.
    void nodes_ready();
    /// Cluster: no node could be found; parked operations fail with `detail`.
    void fail_parked(const std::string& detail);

    // --- configure_notifications() (configure.cpp) -----------------------------------------
    void configure(notify_flags flags, completion done);

    // --- across threads (notifier_core.cpp) ------------------------------------------------
    /// Any thread but the I/O thread: runs `op` there and waits for its completion, at
    /// most `bound` (then notifier_errc::no_answer). Throws std::logic_error when called
    /// on the I/O thread.
    std::pair<std::error_code, std::string> run_blocking(const std::function<void(completion)>& op,
                                                         std::chrono::milliseconds bound);
    /// Any thread: runs `fn` on the I/O thread and returns its result. Throws ksn::error
    /// (notifier_errc::no_answer) when the I/O thread does not run it within
    /// blocking_bound(), and rethrows what `fn` throws.
    template <class F>
    auto query(F fn) -> decltype(fn());

    // Any thread.
    bool next(delivery& out, clock::duration timeout);
    /// dispatch_mode::caller: no thread of its own; the calling threads drive the loop.
    bool caller_driven() const noexcept { return caller_driven_; }
    void set_gap_handler(gap_handler h) { dispatcher_.set_gap_handler(std::move(h)); }
    void set_diagnostic_handler(diagnostic_handler h) {
        dispatcher_.set_diagnostic_handler(std::move(h));
    }
    std::size_t subscription_count() const noexcept { return subscription_count_.load(); }
    /// How long a blocking call or a query waits for the I/O thread: the operation's own
    /// timeout (subscribe_timeout) plus a connect_timeout plus 2 s of room.
    std::chrono::milliseconds blocking_bound() const noexcept {
        return options_.subscribe_timeout + options_.connection.connect_timeout +
               std::chrono::seconds(2);
    }
    /// Handler exceptions caught by run_in_thread() workers.
    std::atomic<std::uint64_t> handler_exceptions{0};

  private:
    /// Keeps deadline_timer_ on the table's earliest deadline (cancelled when empty).
    void rearm_deadline();
    /// The deadline passed: every operation due fails with subscribe_timeout, naming the
    /// nodes that did not confirm.
    void on_deadline();
    /// The nodes operations wait for: all but the retiring and the standby ones.
    std::size_t serving_nodes() const noexcept;
    void send_to_nodes(std::uint64_t id, const std::vector<subscription_key>& keys,
                       bool unsubscribe);
    /// Applies what a finished operation leaves (flags check, undo) and completes it.
    void finish(operation_table::finished op);
    /// Completes every operation left with `ec` (the notifier closes).
    void fail_all(const std::error_code& ec, const std::string& detail);
    /// What a configured node lacks for the registry's subscriptions, if anything.
    std::optional<std::string> flags_missing() const;
    /// Runs a completion (the user's, for async calls) guarded.
    void complete(completion& done, const std::error_code& ec, const std::string& detail);
    void stop_thread();
    /// dispatch_mode::caller: makes this thread the one that drives the loop, unless
    /// another one does (false).
    bool try_drive() noexcept;
    void stop_driving() noexcept;
    /// dispatch_mode::caller: until `ready()` or `deadline`, drives the loop on this
    /// thread, or while another thread drives it, calls `wait(slice)` (which may return
    /// early) and tries again. Answers ready().
    /// A template: next() calls it when the queue is empty, without allocating.
    template <class Ready, class Wait>
    bool drive_until(Ready&& ready, clock::time_point deadline, Wait&& wait);

    std::unique_ptr<asio::io_context> own_io_;
    asio::io_context* io_;
    bool caller_driven_ = false;
    std::atomic<std::thread::id> driver_{};  // dispatch_mode::caller: who drives now
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
    std::thread thread_;
    std::future<void> run_finished_;  // set when the own thread's run() returns
    notifier_options options_;
    subscription_registry registry_;
    dispatcher dispatcher_;
    std::vector<std::unique_ptr<node_link>> nodes_;
    operation_table operations_;
    asio::steady_timer deadline_timer_;  // at operations_.deadline()
    std::optional<clock::time_point> armed_for_;
    std::atomic<bool> closed_{false};
    bool awaiting_nodes_ = false;
    bool partial_ = false;
    std::atomic<std::size_t> subscription_count_{0};
};

template <class F>
auto notifier_core::query(F fn) -> decltype(fn()) {
    using result = decltype(fn());
    if (on_io_thread() || closed_) return fn();  // closed: nodes are gone, fn sees that
    auto p = std::make_shared<std::promise<result>>();
    auto f = p->get_future();
    asio::post(*io_, [p, fn = std::move(fn)]() mutable {
        try {
            p->set_value(fn());
        } catch (...) {
            p->set_exception(std::current_exception());
        }
    });
    const auto bound = blocking_bound();
    const bool answered =
        caller_driven_
            ? drive_until(
                  [&] { return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready; },
                  clock::now() + bound, [&](clock::duration d) { f.wait_for(d); })
            : f.wait_for(bound) == std::future_status::ready;
    if (!answered) {
        throw error(make_error_code(notifier_errc::no_answer),
                    "ksn: the notifier's I/O thread did not answer within " +
                        std::to_string(bound.count()) +
                        " ms (a handler blocks it, or the io_context given to the notifier is "
                        "not running)");
    }
    return f.get();
}

template <class Ready, class Wait>
bool notifier_core::drive_until(Ready&& ready, clock::time_point deadline, Wait&& wait) {
    // Another thread drives: what this one posted runs there; look again every slice,
    // in case that thread gives the loop up meanwhile.
    constexpr auto slice = std::chrono::milliseconds(10);
    while (!ready()) {
        const auto now = clock::now();
        if (now >= deadline || closed_) return ready();
        if (!try_drive()) {
            wait(std::min<clock::duration>(slice, deadline - now));
            continue;
        }
        struct release {
            notifier_core& core;
            ~release() { core.stop_driving(); }
        } r{*this};
        while (!ready() && !closed_) {
            if (io_->stopped()) io_->restart();
            if (io_->run_one_until(deadline) == 0 && clock::now() >= deadline) break;
        }
    }
    return true;
}

}  // namespace ksn::detail
