// The vocabulary of a notifier's public API: its options (every default named), where
// handlers run, what happens when the queue overflows, its error codes and the
// ksn::error exception, and its counters. keyspace_notifications.hpp and
// cluster_keyspace_notifications.hpp build on it; so does the engine behind them
// (notifications/engine/), which never includes the notifier classes themselves.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../net/options.hpp"

namespace ksn {

/// What happens when a notification arrives and the queue is full.
enum class overflow_policy : std::uint8_t {
    drop_newest,  ///< the arriving notification is dropped
    drop_oldest,  ///< the oldest queued notification is dropped to make room
    disconnect,   ///< the node's connection is closed (no more server-side buffering)
                  ///< until the queue has drained to half, then resubscribed
};

std::string_view to_string(overflow_policy p) noexcept;

/// What to do about notify-keyspace-events on each connect (checked with CONFIG GET).
enum class notify_check : std::uint8_t {
    off,      ///< do not look
    warn,     ///< a diagnostic names the missing letters (default)
    require,  ///< subscribe() also fails with notifier_errc::notifications_disabled
};

/// What subscribe() does while the node is not connected.
enum class when_disconnected : std::uint8_t {
    fail,  ///< fail with notifier_errc::not_connected; the subscription is not kept
    /// Keep it and return: it is sent when the connection is (re)established. What the
    /// node publishes until then is lost to it: a gap (connection_lost, or node_unreachable
    /// for a node never reached) is open from then, closed when that connection subscribes.
    queue,
};

/// Where handlers run (see keyspace_notifications.hpp): in the thread that pulls, or
/// inline on the I/O thread with zero-copy views.
enum class dispatch_mode : std::uint8_t {
    queued,     ///< an I/O thread of its own; handlers run in the thread that pulls
    io_thread,  ///< an I/O thread of its own; handlers run on it, inline, zero-copy
    /// No thread of its own: next(), listen() and the blocking calls run the connections
    /// on the calling thread (the hiredis model), and handlers run there, inline and
    /// zero-copy, inside those calls. Notifications without a handler are queued for the
    /// same thread's next(). One thread drives at a time; a call from another thread
    /// while one drives is run by that one (a blocking call waits for it, at most its
    /// usual bound), and one made while nobody drives drives for as long as it lasts.
    caller,
};

/// What ksn subscribes besides each primary (cluster_options::redundancy,
/// sentinel_options::redundancy).
enum class redundancy_mode : std::uint8_t {
    none,     ///< the primaries only
    replica,  ///< one replica of each primary too, as a standby stream
};

enum class severity : std::uint8_t { info, warning, error };
std::string_view to_string(severity s) noexcept;
/// Receives diagnostics (notifications disabled, handler exceptions with no exception
/// handler, connection state changes). The default prints warnings and errors to stderr.
using diagnostic_handler = std::function<void(severity, const std::string&)>;

struct notifier_options {
    /// Address, credentials, RESP version, timeouts, health check and reconnect policy.
    net::connection_options connection;
    /// Only keys starting with it are delivered, with it stripped (the reference's
    /// key_prefix); other notifications are counted as filtered.
    std::string key_prefix;
    /// Notifications the queue holds before its overflow policy applies.
    std::size_t queue_capacity = 65536;
    overflow_policy overflow = overflow_policy::drop_oldest;
    dispatch_mode dispatch = dispatch_mode::queued;
    /// Deliver (p)subscribe / (p)unsubscribe confirmations through the pull API
    /// (delivery::is_confirmation()). The reference has no equivalent: whatever its
    /// ignore_subscribe_messages, get_message() passes every message through
    /// KeyNotification.from_message(), which answers None for any type but message and
    /// pmessage, so no confirmation ever reaches its caller (docs/notifications.md).
    bool deliver_confirmations = false;
    /// Deliver malformed notifications (delivery::is_invalid()) through the pull API; they
    /// are always counted (node_stats::invalid) and reported as diagnostics.
    bool deliver_invalid = false;
    when_disconnected subscribe_when_disconnected = when_disconnected::fail;
    /// How long subscribe() waits for the server's confirmations.
    std::chrono::milliseconds subscribe_timeout{5000};
    notify_check check = notify_check::warn;
    /// How often each connected node is asked notify-keyspace-events again, besides on
    /// every connect (unless check is off); flags that no longer serve every subscription
    /// open a notifications_disabled gap until a check finds them set. 0: only on connect.
    std::chrono::milliseconds notify_check_interval{5000};
    /// Cluster and Sentinel: make before break (notifications/engine/handover.hpp). When a
    /// primary hands over to its replica and stays up (CLUSTER FAILOVER, SENTINEL
    /// FAILOVER), its connection is kept until the new primary is subscribed and the old
    /// node, replicating from it, has applied and published everything the new one had
    /// acknowledged by then; then no gap is reported. It must catch up within this time of
    /// the new primary's coverage (and the new primary be covered within 3 times it),
    /// else the new primary's topology_change gap is reported as without it. 0: off.
    std::chrono::milliseconds handover_timeout{5000};
    /// During a handover both streams publish the writes of the overlap; the second copy
    /// of each is delivered with received_notification::redelivered(). What is matched is
    /// held in a window of this many bytes per handover; a repeat it could not hold
    /// arrives unmarked.
    std::size_t handover_window = 8u << 20;
    /// Where diagnostics go from the start (on_diagnostic() replaces it later); empty:
    /// warnings and errors to stderr.
    diagnostic_handler diagnostics;
};

enum class notifier_errc : int {
    subscribe_timeout = 1,   ///< the server did not confirm in subscribe_timeout
    not_connected,           ///< the node is down and subscribe_when_disconnected is fail
    subscribe_refused,       ///< the server answered the subscribe with an error (ACL)
    closed,                  ///< the notifier (or the node, for good) is closed
    notifications_disabled,  ///< notify-keyspace-events lacks what the subscriptions need
    command_failed,          ///< configure_notifications(): the server refused CONFIG SET
    no_answer,               ///< the notifier's I/O thread did not answer in time (a handler
                             ///< blocks it, or the caller's io_context is not running)
};

const std::error_category& notifier_category() noexcept;
inline std::error_code make_error_code(notifier_errc e) noexcept {
    return {static_cast<int>(e), notifier_category()};
}

/// Thrown by the blocking calls; what() is a sentence naming the node and channels.
class error : public std::system_error {
  public:
    using std::system_error::system_error;
};

/// Counters of one node's subscriber connection.
struct node_stats {
    std::string node;
    net::connection_state state = net::connection_state::disconnected;
    int resp = 0;                     ///< protocol in use (2 or 3), 0 before the first connect
    std::uint64_t notifications = 0;  ///< delivered to a handler or queued
    std::uint64_t redelivered = 0;    ///< of those, repeats marked redelivered
    /// A standby replica of redundancy (cluster_options::redundancy and
    /// sentinel_options::redundancy): its messages are
    /// held, not delivered, while its primary's stream is whole.
    bool standby = false;
    std::uint64_t held = 0;   ///< messages a standby held (not delivered, not counted above)
    std::uint64_t bytes = 0;  ///< read from the socket
    std::uint64_t protocol_errors = 0;  ///< malformed RESP (each resets the connection)
    std::uint64_t invalid = 0;          ///< malformed notifications (reported, skipped)
    std::uint64_t filtered = 0;         ///< dropped by the key prefix
    std::uint64_t other_messages = 0;   ///< messages on non-notification channels
    std::uint64_t reconnects = 0;       ///< connections established after the first
    std::uint64_t gaps = 0;             ///< gap events for this node (queue_overflow ones included)
    std::uint64_t dropped = 0;          ///< its notifications ksn's queue dropped (any policy)
    std::uint64_t handler_exceptions = 0;  ///< exceptions thrown by handlers
};

struct notifier_stats {
    std::vector<node_stats> nodes;
    std::size_t queue_depth = 0;
    std::size_t queue_high_water = 0;
    /// Queue slots allocated: they grow with the depth reached (doubling, from 16), never
    /// beyond queue_capacity, and are kept for reuse.
    std::size_t queue_slots = 0;
    std::uint64_t queue_dropped = 0;
    /// Exceptions thrown by the gap handler, the diagnostic handler and async completions
    /// on the I/O thread: each was caught, counted here and reported (handler exceptions
    /// are counted per node, node_stats::handler_exceptions).
    std::uint64_t callback_exceptions = 0;
};

/// Completion of an asynchronous operation: an empty error_code once every node
/// confirmed, or the error and a sentence naming the node and channels. Runs on the
/// notifier's I/O thread.
using completion = std::function<void(const std::error_code&, const std::string&)>;

}  // namespace ksn

template <>
struct std::is_error_code_enum<ksn::notifier_errc> : std::true_type {};
