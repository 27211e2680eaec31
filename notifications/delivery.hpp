// What a notifier delivers: notifications (with the node they came from and the time
// their bytes were read), gap events, and optionally subscription confirmations.
//
// Redis pub/sub is fire-and-forget: what is published while a subscription is
// interrupted is lost. ksn cannot prevent that, so it reports it: a gap_event says which
// node's stream was interrupted, why, and from when to when, and it is delivered in order
// with that node's notifications (after every notification received before the
// interruption, before every one received after it). A cache that listens to ksn
// invalidates what a gap covers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "notification.hpp"

namespace ksn {

namespace detail {
class dispatcher;
struct handler_pin;
}  // namespace detail

using clock = std::chrono::steady_clock;

enum class gap_reason : std::uint8_t {
    connection_lost,           ///< the socket failed or closed; the server's fate is unknown
    server_restarted,          ///< the node came back with a new run_id: it restarted
    server_closed_connection,  ///< the node stayed up and closed the connection itself:
                               ///< most often client-output-buffer-limit pubsub (a slow
                               ///< consumer), else CLIENT KILL or client eviction
    health_check_timeout,      ///< the node stopped answering PING (stalled, SIGSTOP)
    protocol_error,            ///< the node sent malformed bytes; the connection was reset
    queue_overflow,            ///< ksn's bounded queue was full: notifications were dropped
    slow_consumer_disconnect,  ///< the queue was full under overflow_policy::disconnect:
                               ///< ksn unsubscribed by disconnecting until it drained
    node_closed,               ///< the node was given up (closed, auth failure, attempts
                               ///< exhausted): nothing more will come from it
    topology_change,           ///< cluster: the node's slots moved or it stopped being primary
    node_unreachable,          ///< the node could not be reached yet (never connected, or a
                               ///< cluster subscribe went ahead without it): its
                               ///< notifications are lost until it is subscribed
    notifications_disabled,    ///< the node's notify-keyspace-events no longer served every
                               ///< subscription (a restart without it, CONFIG SET): open
                               ///< until a check finds the flags set again
};

std::string_view to_string(gap_reason r) noexcept;

/// An interval in which notifications from one node may have been lost.
struct gap_event {
    /// The node, "host:port".
    std::string node;
    gap_reason reason = gap_reason::connection_lost;
    /// A sentence for people, naming the node and the cause.
    std::string detail;
    /// When the interruption began (the disconnect, or the first dropped notification).
    clock::time_point lost{};
    /// When the subscription was whole again (resubscribed and confirmed, or the last
    /// dropped notification); nullopt when the node was given up.
    std::optional<clock::time_point> restored;
    /// Notifications ksn itself dropped (queue overflow); 0 when the count is unknown
    /// (what the server published while disconnected is never known).
    std::uint64_t dropped = 0;
    /// Cluster only: the slot ranges [first, last] the node served, whose keys' events are
    /// covered by this gap; empty for a standalone server.
    std::vector<std::pair<std::uint16_t, std::uint16_t>> slots;
};

/// A parsed notification plus where and when it was received. Views are valid for the
/// duration of a handler call, or while the delivery that holds it is not reused.
class received_notification : public key_notification {
  public:
    /// The node it came from, "host:port".
    [[nodiscard]] std::string_view node() const noexcept { return node_; }
    /// CLOCK_MONOTONIC time at which its bytes were read from the socket.
    [[nodiscard]] clock::time_point received() const noexcept { return received_; }
    /// The pattern of a PSUBSCRIBE subscription it matched; empty for SUBSCRIBE.
    [[nodiscard]] std::string_view pattern() const noexcept { return pattern_; }
    /// True when the same notification was delivered before from another node's stream:
    /// while a former primary (now replicating from the new one) hands over to the new
    /// primary, both publish the writes of the overlap, and the second copy of each is
    /// marked. A repeat the window could not hold (notifier_options::handover_window)
    /// arrives unmarked.
    [[nodiscard]] bool redelivered() const noexcept { return redelivered_; }

    void set_origin(std::string_view node, clock::time_point received, std::string_view pattern,
                    bool redelivered = false) noexcept {
        node_ = node;
        received_ = received;
        pattern_ = pattern;
        redelivered_ = redelivered;
    }

  private:
    std::string_view node_;
    std::string_view pattern_;
    clock::time_point received_{};
    bool redelivered_ = false;
};

using notification_handler = std::function<void(const received_notification&)>;
using gap_handler = std::function<void(const gap_event&)>;

/// A subscription confirmation ((p)subscribe / (p)unsubscribe), delivered only when
/// notifier_options::deliver_confirmations is set.
struct confirmation {
    std::string node;
    std::string kind;  ///< "subscribe", "psubscribe", "unsubscribe", "punsubscribe"
    std::string channel;
    std::int64_t count = 0;  ///< the connection's subscription count after it
};

/// A message on a notification channel that does not follow the grammar, delivered only
/// when notifier_options::deliver_invalid is set (it is always counted and diagnosed).
struct invalid_notification {
    std::string node;
    std::string channel;
    std::string payload;
    /// A notification_errc.
    std::error_code error;
    /// Which input `offset` refers to, and where parsing failed.
    notification_part part = notification_part::channel;
    std::size_t offset = 0;
};

/// One item of the pull API: a notification, a gap or a confirmation. It owns its bytes;
/// reuse one delivery across next() calls and steady-state pulling allocates nothing.
class delivery {
  public:
    enum class type : std::uint8_t { notification, gap, confirmation, invalid };

    delivery() = default;
    /// Copies and moves rebuild the notification's views over the new object's bytes.
    delivery(const delivery& other);
    delivery(delivery&& other) noexcept;
    delivery& operator=(const delivery& other);
    delivery& operator=(delivery&& other) noexcept;
    ~delivery() = default;

    [[nodiscard]] type kind() const noexcept { return type_; }
    [[nodiscard]] bool is_notification() const noexcept { return type_ == type::notification; }
    [[nodiscard]] bool is_gap() const noexcept { return type_ == type::gap; }
    [[nodiscard]] bool is_confirmation() const noexcept { return type_ == type::confirmation; }
    [[nodiscard]] bool is_invalid() const noexcept { return type_ == type::invalid; }

    /// Valid when is_notification(); views live as long as this delivery is not reused.
    [[nodiscard]] const received_notification& notification() const noexcept { return view_; }
    /// Valid when is_gap().
    [[nodiscard]] const gap_event& gap() const noexcept { return gap_; }
    /// Valid when is_confirmation().
    [[nodiscard]] const struct confirmation& confirmation() const noexcept { return confirmation_; }
    /// Valid when is_invalid().
    [[nodiscard]] const invalid_notification& invalid() const noexcept { return invalid_; }

  private:
    friend class event_queue;
    friend class detail::dispatcher;

    /// Points view_ into bytes_ as layout_ says (no parsing), sets its origin.
    void rebuild() noexcept;

    type type_ = type::notification;
    // The channel, payload, pattern and subkey table, as the queue stored them.
    std::string bytes_;
    detail::notification_layout layout_;
    std::string node_;
    clock::time_point received_{};
    bool redelivered_ = false;
    std::vector<std::string_view> subkey_storage_;
    received_notification view_;
    gap_event gap_;
    struct confirmation confirmation_;
    invalid_notification invalid_;
    // The handler the queue lent a puller (never set in a delivery next() returns; not
    // copied or moved).
    detail::handler_pin* pin_ = nullptr;
};

}  // namespace ksn
