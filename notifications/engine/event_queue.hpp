// The bounded queue between a notifier's I/O thread and the threads that pull (next(),
// listen(), run_in_thread()). Internal to the notifier (not installed).
//
// The I/O thread never blocks on it: when it is full, the overflow policy decides what is
// lost, every loss is counted, and a gap_event says so in order. Slots are allocated as
// depth requires (the ring doubles, up to the capacity; nothing is allocated up front),
// then reused, and their buffers recycled through the consumer's delivery, so
// steady-state pushing and pulling allocate nothing.
//
// A slot is small: one buffer holds the channel, the payload, the pattern and the
// parse result's subkey table (detail::notification_layout), so the consumer rebuilds
// the views without parsing again; the node is a pointer to a name the queue keeps (one
// per node, never copied per message); the handler is a pin the queue counts under its
// own lock (no atomic reference count per message). Confirmations, invalid
// notifications and the gaps before a slot live in a side record only slots that carry
// one have.
//
// Gaps ride on the slots: each slot carries the gaps that precede its notification, and
// gaps after the newest slot wait in a tail list. A consumer therefore meets every gap
// exactly where it happened in the stream.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../delivery.hpp"
#include "../notifier_options.hpp"

namespace ksn {

namespace detail {
/// A handler held by the queue: one shared reference however many slots (and
/// consumers) use it, counted under the queue's lock.
struct handler_pin {
    std::shared_ptr<const notification_handler> handler;
    std::size_t uses = 0;
};
}  // namespace detail

class event_queue {
  public:
    enum class push_result : std::uint8_t { queued, dropped, full };

    event_queue(std::size_t capacity, overflow_policy policy);

    /// Producer side (one thread). `full` is answered only under overflow_policy::disconnect:
    /// the notification was not queued and the caller must disconnect its node. `parsed`
    /// is the notification parse_notification() answered ok for; every view of it points
    /// into its channel() or payload(), which are copied with the parse result.
    push_result push_notification(const key_notification& parsed, std::string_view pattern,
                                  std::string_view node, clock::time_point received,
                                  const std::shared_ptr<const notification_handler>& handler,
                                  bool redelivered = false);
    void push_gap(gap_event gap);
    void push_confirmation(const confirmation& c);
    /// Informational like confirmations: never evicts, dropped when the queue is full.
    void push_invalid(invalid_notification i);
    /// Producer side: from hold_wakes() to release_wakes(), consumers waiting in pop() are
    /// not woken per push but once, by release_wakes(), for everything pushed in between.
    /// The I/O thread holds wakes while it dispatches one read's worth of frames, so a
    /// burst costs one wake-up (a futex system call) instead of one per notification.
    void hold_wakes() noexcept { hold_ = true; }
    void release_wakes();

    /// Consumer side. Waits until an item is there (true) or the deadline passes or the
    /// queue is closed and empty (false). The deadline is `deadline` if set, else it is
    /// set to now + `timeout` when pop() first has to wait: an item that is already there
    /// is taken without reading the clock (a clock read costs as much as the rest of a
    /// pop on some virtual machines); a zero `timeout` without a deadline never waits. The
    /// delivery's buffers are swapped with the slot's, so a delivery reused across calls keeps the
    /// allocation count at zero.
    ///
    /// A notification's handler, if any, is held by `out` (handler_of()) until `out` is
    /// given to pop() again or to release().
    bool pop(delivery& out, clock::duration timeout, std::optional<clock::time_point>& deadline);
    /// The handler `out` holds, or null.
    static const notification_handler* handler_of(const delivery& out) noexcept;
    /// Lets go of the handler `out` holds (pop() does this itself first).
    void release(delivery& out);

    /// Wakes every waiting consumer; pop() answers false once the queue is empty.
    void close();

    /// Called (on the consuming thread, without the lock) when the queue drains to half
    /// of its capacity after a `full` answer.
    void set_drained_callback(std::function<void()> cb);

    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t size() const;
    std::size_t high_water() const;
    /// Slots allocated so far (at most capacity()).
    std::size_t slots_allocated() const;
    std::uint64_t dropped() const;
    /// What the queue lost of one node's notifications: the drops, and the
    /// queue_overflow gaps they make (node_stats counts both with the node's own).
    struct node_losses {
        std::uint64_t dropped = 0;
        std::uint64_t gaps = 0;
    };
    node_losses losses_of(std::string_view node) const;

  private:
    struct rare {
        std::vector<gap_event> gaps_before;
        confirmation conf;
        invalid_notification invalid;
    };
    struct slot {
        std::string bytes;
        detail::notification_layout layout;
        const std::string* node = nullptr;
        detail::handler_pin* pin = nullptr;
        clock::time_point received{};
        delivery::type type = delivery::type::notification;
        bool redelivered = false;
        std::unique_ptr<rare> more;
    };

    static rare& more(slot& s);
    slot& claim_tail();  // under the lock; capacity available
    void grow();         // under the lock; every allocated slot is in use
    void record_drop(std::vector<gap_event>& into, std::string_view node, clock::time_point when);
    node_losses& losses(std::string_view node);
    const std::string* intern(std::string_view node);  // producer thread
    detail::handler_pin* pin(const std::shared_ptr<const notification_handler>& handler);
    /// One use of `p` less; the last one hands its handler to `doomed`, to be destroyed
    /// outside the lock.
    void unpin(detail::handler_pin* p, std::shared_ptr<const notification_handler>& doomed);
    void wake();

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<slot> slots_;
    std::size_t capacity_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    std::vector<gap_event> tail_gaps_;
    overflow_policy policy_;
    bool closed_ = false;
    bool hold_ = false;     // producer thread only
    std::size_t held_ = 0;  // pushes whose wake-up is held
    bool wants_drained_ = false;
    std::size_t waiting_ = 0;
    std::size_t high_water_ = 0;
    std::uint64_t dropped_ = 0;
    std::map<std::string, node_losses, std::less<>> losses_;  // touched only on a drop
    std::function<void()> drained_;
    // Node names, one each; elements are never changed or erased, so a slot's pointer
    // stays valid, and only the producer inserts.
    std::set<std::string, std::less<>> nodes_;
    const std::string* last_node_ = nullptr;  // producer thread only
    std::unordered_map<const notification_handler*, detail::handler_pin> pins_;
    detail::handler_pin* last_pin_ = nullptr;
};

}  // namespace ksn
