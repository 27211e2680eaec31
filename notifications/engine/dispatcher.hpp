// Where notifications, gaps and diagnostics go: the notifier's hot path and its user
// callbacks.
//
// dispatch() takes one message frame from a node: registry lookup, parse (no allocation),
// then the subscription's handler inline (dispatch_mode::io_thread) or a push into the
// bounded queue, whose consumers are woken once per read, not once per message.
// emit_gap() and emit_confirmation() put the node's other events in the same order.
// next() is the pull side: it runs the handlers of what it pops in the caller's thread.
//
// Every user callback run on the I/O thread (handlers, the gap handler, the diagnostic
// handler, async completions) runs guarded: whatever it throws, std::exception or not,
// is counted and reported, and the I/O thread goes on.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "../../protocol/pubsub.hpp"
#include "../delivery.hpp"
#include "../notifier_options.hpp"
#include "event_queue.hpp"
#include "subscription_registry.hpp"

namespace ksn::detail {

class dispatcher {
  public:
    /// `options` and `registry` are the notifier's and must outlive this object.
    dispatcher(const notifier_options& options, const subscription_registry& registry);

    /// Called when dispatch() holds the queue's wake-ups: it must arrange for
    /// release_wakes() to run on the I/O thread after the current read is dispatched.
    void set_release_scheduler(std::function<void()> schedule) {
        schedule_release_ = std::move(schedule);
    }
    void release_wakes();

    // I/O thread.
    /// One message or pmessage from `node` (its counters in `stats`); `redelivered`: a
    /// repeat of one delivered from another node (received_notification::redelivered()).
    /// Answers the queue's push_result: `full` means the node must pause
    /// (overflow_policy::disconnect).
    event_queue::push_result dispatch(const protocol::pubsub_frame& frame,
                                      clock::time_point received, node_stats& stats,
                                      std::string_view node, bool redelivered = false);
    void emit_gap(gap_event gap);
    void emit_confirmation(const protocol::pubsub_frame& frame, std::string_view node);
    /// A diagnostic to the diagnostic handler (guarded; any thread).
    void report(severity s, const std::string& message);
    /// A notify-keyspace-events warning, not repeated when it says the same as the last.
    void warn_flags(const std::string& message);

    /// Runs `fn` (a user callback); an exception is counted and reported as "`what` threw".
    template <class F>
    void guarded(std::string_view what, F&& fn) noexcept;

    // Any thread.
    bool next(delivery& out, clock::duration timeout);
    void set_gap_handler(gap_handler h);
    void set_diagnostic_handler(diagnostic_handler h);
    event_queue& queue() noexcept { return queue_; }
    const event_queue& queue() const noexcept { return queue_; }
    /// Exceptions thrown by gap handlers, diagnostic handlers and async completions.
    std::uint64_t callback_exceptions() const noexcept { return callback_exceptions_.load(); }

  private:
    void threw(std::string_view what, std::exception_ptr e) noexcept;

    const notifier_options& options_;
    const subscription_registry& registry_;
    event_queue queue_;
    std::function<void()> schedule_release_;
    std::string last_flags_warning_;

    // Scratch for dispatch: reused so that parsing allocates nothing per message.
    received_notification scratch_;
    std::vector<std::string_view> scratch_storage_;
    bool wakes_held_ = false;  // queue wake-ups held until the current read is dispatched

    mutable std::mutex handlers_mutex_;
    gap_handler gap_handler_;
    diagnostic_handler diagnostic_handler_;
    std::atomic<std::uint64_t> callback_exceptions_{0};
};

template <class F>
void dispatcher::guarded(std::string_view what, F&& fn) noexcept {
    try {
        fn();
    } catch (...) {
        threw(what, std::current_exception());
    }
}

}  // namespace ksn::detail
