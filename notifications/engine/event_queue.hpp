// The bounded queue between a notifier's I/O thread and the threads that pull (next(),
// listen(), run_in_thread()). Internal to the notifier (not installed).
//
// The I/O thread never blocks on it: when it is full, the overflow policy decides what is
// lost, every loss is counted, and a gap_event says so in order. Slots are reused and
// their buffers recycled through the consumer's delivery, so steady-state pushing and
// pulling allocate nothing.
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
#include <string>
#include <string_view>
#include <vector>

#include "../delivery.hpp"
#include "../notifier_options.hpp"

namespace ksn {

class event_queue {
  public:
    enum class push_result : std::uint8_t { queued, dropped, full };

    event_queue(std::size_t capacity, overflow_policy policy);

    /// Producer side (one thread). `full` is answered only under overflow_policy::disconnect:
    /// the notification was not queued and the caller must disconnect its node.
    push_result push_notification(std::string_view channel, std::string_view payload,
                                  std::string_view pattern, std::string_view node,
                                  clock::time_point received,
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
    /// pop on some virtual machines). The delivery's buffers are swapped with the slot's,
    /// so a delivery reused across calls keeps the allocation count at zero.
    bool pop(delivery& out, clock::duration timeout, std::optional<clock::time_point>& deadline);

    /// Wakes every waiting consumer; pop() answers false once the queue is empty.
    void close();

    /// Called (on the consuming thread, without the lock) when the queue drains to half
    /// of its capacity after a `full` answer.
    void set_drained_callback(std::function<void()> cb);

    std::size_t capacity() const noexcept { return slots_.size(); }
    std::size_t size() const;
    std::size_t high_water() const;
    std::uint64_t dropped() const;
    /// What the queue lost of one node's notifications: the drops, and the
    /// queue_overflow gaps they make (node_stats counts both with the node's own).
    struct node_losses {
        std::uint64_t dropped = 0;
        std::uint64_t gaps = 0;
    };
    node_losses losses_of(std::string_view node) const;

  private:
    struct slot {
        delivery::type type = delivery::type::notification;
        std::string channel;
        std::string payload;
        std::string pattern;
        std::string node;
        clock::time_point received{};
        bool redelivered = false;
        std::shared_ptr<const notification_handler> handler;
        confirmation conf;
        invalid_notification invalid;
        std::vector<gap_event> gaps_before;
    };

    slot& claim_tail();  // under the lock; capacity available
    void record_drop(std::vector<gap_event>& into, std::string_view node, clock::time_point when);
    node_losses& losses(std::string_view node);
    void wake();

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<slot> slots_;
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
};

}  // namespace ksn
