// One node's subscriber as a state machine, without I/O.
//
// Like net::session, it is told what happened — the connection is ready, a reply or a
// confirmation came, the connection was lost or given up, an operation wants channels
// (un)subscribed, the queue overflowed, the cluster says the node took over slots — and
// answers actions: commands to send, gaps to emit, operations to complete, diagnostics,
// disconnect or reconnect. It owns everything about the node that is a decision:
//   - which subscriptions a new connection replays (the registry's), and when the node
//     is covered (every one of them confirmed on the current connection);
//   - the operations waiting on this node and what each still waits for; what a lost
//     connection means for them (subscribe_when_disconnected);
//   - the gap state: an interruption opens a gap (reason, detail, lost), a new run_id
//     after a loss refines it to server_restarted, the same run_id after an EOF to
//     server_closed_connection; it is emitted (restored) once the node is covered, or at
//     once (without restored) when the node is given up;
//   - the overflow pause under overflow_policy::disconnect and the resume after it;
//   - the notify-keyspace-events check of each connection.
// The Asio side (node_link.hpp) only runs the actions, so every fault sequence is a unit
// test without a socket (tests/unit/notifications/node_subscriber_test.cpp).
//
// Times come in as arguments; nothing here reads a clock. Not thread-safe: one thread
// (the notifier's I/O thread) drives it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "../../protocol/pubsub.hpp"
#include "../delivery.hpp"
#include "../flags.hpp"
#include "../notifier_options.hpp"
#include "subscription_registry.hpp"

namespace ksn::detail {

/// Cluster slot ranges [first, last] a node serves.
using slot_ranges = std::vector<std::pair<std::uint16_t, std::uint16_t>>;

class node_subscriber {
  public:
    struct settings {
        notify_check check = notify_check::warn;
        when_disconnected subscribe_when_disconnected = when_disconnected::fail;
        /// How often a ready connection asks CONFIG GET notify-keyspace-events again
        /// (notifier_options::notify_check_interval); 0: only on each connect.
        std::chrono::milliseconds flags_check_interval{5000};
    };

    // --- actions ------------------------------------------------------------------------
    /// Send one (P)(UN)SUBSCRIBE command: args[0] is the command, then the channels. An
    /// error reply to it comes back through on_refused(op, ...).
    struct send_command {
        std::vector<std::string> args;
        std::uint64_t op;
    };
    /// Send INFO server; its run_id goes to on_run_id().
    struct ask_run_id {};
    /// Send CONFIG GET notify-keyspace-events; the letters go to on_flags(), an error
    /// reply to on_flags_refused(). `subscribed`: a re-check on a connection already in
    /// subscribed mode (RESP2 allows no CONFIG there: ask on another connection).
    struct ask_flags {
        bool subscribed = false;
    };
    /// Deliver this gap now, in order with the node's notifications.
    struct emit_gap {
        gap_event gap;
    };
    /// The node is done with operation `op` (ec empty: confirmed, or nothing to do).
    struct complete {
        std::uint64_t op;
        std::error_code ec;
        std::string detail;
    };
    struct report {
        severity level;
        std::string message;
    };
    /// A notify-keyspace-events warning (the notifier does not repeat an identical one).
    struct warn_flags {
        std::string message;
    };
    /// Close the connection (overflow pause, or close()); no reconnect until `reconnect`.
    struct disconnect {};
    /// Open a new connection (after an overflow pause).
    struct reconnect {};
    /// The connection was lost or given up (the cluster refreshes its topology). Answered
    /// for the first failure of an outage, then at most once a second while it retries.
    struct lost {};

    using action = std::variant<send_command, ask_run_id, ask_flags, emit_gap, complete, report,
                                warn_flags, disconnect, reconnect, lost>;
    using actions = std::vector<action>;

    /// Where the node's connection is.
    enum class link : std::uint8_t {
        first_attempt,  ///< never connected nor failed yet: operations wait for it
        ready,          ///< connected; commands flow
        down,           ///< lost; the connection reconnects on its own
        paused,         ///< disconnected on purpose (overflow) until resume()
        closed,         ///< for good
    };

    /// `registry` is the notifier's: replayed on every connection, read for the flags
    /// check; it must outlive this object.
    node_subscriber(std::string name, const subscription_registry& registry, settings s);

    // --- connection events ----------------------------------------------------------------
    [[nodiscard]] actions on_ready(clock::time_point now);
    /// The run_id of INFO server; empty when INFO was refused (ACL) or had none.
    [[nodiscard]] actions on_run_id(std::string_view run_id);
    /// CONFIG GET's value of notify-keyspace-events, read at `now`. Flags that do not
    /// serve every subscription open a notifications_disabled gap (or turn the open one
    /// into it), from the later of the last check that found them set and
    /// `delivered_until`; it stays open until a check finds them set again.
    [[nodiscard]] actions on_flags(std::string_view letters, clock::time_point now,
                                   std::optional<clock::time_point> delivered_until);
    /// A re-check's own connection failed before CONFIG GET was answered: asked again
    /// one interval later.
    [[nodiscard]] actions on_flags_unanswered(clock::time_point now);
    /// CONFIG GET was refused (ACL, a managed service): the flags stay unknown.
    [[nodiscard]] actions on_flags_refused(std::string_view error);
    /// A (p)subscribe or (p)unsubscribe confirmation of `channel`.
    [[nodiscard]] actions on_confirmation(protocol::pubsub_kind kind, std::string_view channel,
                                          clock::time_point now);
    /// The server answered a send_command of `op` with an error reply.
    [[nodiscard]] actions on_refused(std::uint64_t op, std::string_view command,
                                     std::string_view error);
    /// The connection was lost, or a reconnect attempt failed; it reconnects on its own.
    /// The first failure of an outage is reported as a warning, later attempts as info.
    /// `delivered_until`: up to when the connection's stream is known whole (the receive
    /// time of the last notification read, or the send time of the last PING answered);
    /// the gap begins there, or when the node was covered if that is later (its
    /// confirmations were read then), not at `now`. A node not covered: `now`.
    [[nodiscard]] actions on_disconnected(
        const std::error_code& ec, const std::string& detail, clock::time_point now,
        std::optional<clock::time_point> delivered_until = std::nullopt);
    /// The deadline passed: a ready connection re-checks notify-keyspace-events.
    [[nodiscard]] actions on_timer(clock::time_point now);
    /// When on_timer() is next due; nullopt: no timer needed.
    std::optional<clock::time_point> next_deadline() const noexcept;
    /// The connection gave up for good (auth failure, attempts exhausted, TLS refused).
    [[nodiscard]] actions on_closed(const std::error_code& ec, const std::string& detail,
                                    clock::time_point now);

    // --- requests -------------------------------------------------------------------------
    /// (Un)subscribe `keys` for operation `op` (op 0 is reserved for the replay). A
    /// subscribe queued while the node is down (when_disconnected::queue) opens a gap at
    /// `now` if none is open, closed by the replay that subscribes it.
    [[nodiscard]] actions send(const std::vector<subscription_key>& keys, bool unsubscribe,
                               std::uint64_t op, clock::time_point now);
    /// Forgets what `op` waits for on this node; returns the keys it still waited for.
    std::vector<subscription_key> cancel(std::uint64_t op);
    /// overflow_policy::disconnect: the queue is full. Disconnects and opens a
    /// slow_consumer_disconnect gap (unless one is open) from `now`.
    [[nodiscard]] actions pause_for_overflow(clock::time_point now);
    /// The queue drained: reconnect (and resubscribe) after a pause.
    [[nodiscard]] actions resume();
    /// Cluster: the node took over slots whose events may have been lost since
    /// `gap.lost`; reported once the node is covered (at once if it is).
    [[nodiscard]] actions expect_gap(gap_event gap, clock::time_point now);
    /// Cluster: a subscribe went ahead without this node (it could not be reached, or did
    /// not confirm in time; `why` says which). Opens a node_unreachable gap from `lost`
    /// unless one is open already; reported once the node is covered (at once if it is).
    [[nodiscard]] actions expect_unreachable(clock::time_point lost, const std::string& why,
                                             clock::time_point now);
    /// Closes for good, without a gap (the caller decides what to report). With `retired`
    /// (the node left the topology) waiting operations complete: it owes them nothing;
    /// otherwise they fail with notifier_errc::closed.
    [[nodiscard]] actions close(bool retired);

    // --- state ----------------------------------------------------------------------------
    const std::string& name() const noexcept { return name_; }
    link state() const noexcept { return link_; }
    bool ready() const noexcept { return link_ == link::ready; }
    bool paused() const noexcept { return link_ == link::paused; }
    bool closed() const noexcept { return link_ == link::closed; }
    /// True once every subscription was confirmed on the current connection.
    bool covered() const noexcept { return covered_; }
    /// When the current interruption began, if the node is in one.
    std::optional<clock::time_point> gap_start() const noexcept {
        return gap_ ? std::optional<clock::time_point>(gap_->lost) : std::nullopt;
    }
    /// When the current connection was covered (meaningful while covered()).
    clock::time_point covered_at() const noexcept { return covered_at_; }
    /// The gap not yet reported, if any.
    const std::optional<gap_event>& open_gap() const noexcept { return gap_; }
    /// Whether the last connection ended with the server closing it (end of stream): all
    /// it sent before the close was read.
    bool lost_by_eof() const noexcept { return lost_by_eof_; }
    /// When the connection lost last had been covered, if it had been.
    std::optional<clock::time_point> lost_covered_at() const noexcept { return lost_covered_at_; }
    /// Operations (op != 0) waiting on this node.
    std::size_t waiting() const noexcept;
    /// Cluster: the slot ranges this node serves, named in its gap events.
    void set_slots(slot_ranges slots) { slots_ = std::move(slots); }
    const slot_ranges& slots() const noexcept { return slots_; }
    std::optional<notify_flags> configured_flags() const noexcept { return configured_; }
    /// True while the last check found notify-keyspace-events not serving every
    /// subscription (a notifications_disabled gap is open).
    bool notifications_off() const noexcept { return flags_off_; }
    std::uint64_t reconnects() const noexcept { return reconnects_; }
    std::uint64_t gaps() const noexcept { return gaps_; }

  private:
    struct waiter {
        std::uint64_t op;  // 0: the replay of a new connection
        bool unsubscribe;
        std::vector<subscription_key> remaining;
    };

    void send_commands(const std::vector<subscription_key>& keys, bool unsubscribe,
                       std::uint64_t op, actions& out) const;
    void become_covered(clock::time_point now, actions& out);
    void finish_waiter(std::size_t index, const std::error_code& ec, std::string detail,
                       clock::time_point now, actions& out);
    void fail_waiters(const std::error_code& ec, const std::string& detail, bool keep_subscribes,
                      actions& out);

    std::string name_;
    const subscription_registry& registry_;
    settings settings_;
    link link_ = link::first_attempt;
    std::vector<waiter> waiters_;
    bool ever_ready_ = false;
    bool covered_ = false;
    bool lost_by_eof_ = false;
    std::optional<clock::time_point> lost_covered_at_;
    std::optional<gap_event> gap_;  // an interruption not yet reported
    slot_ranges slots_;
    std::string last_error_;  // why the connection last went down, for later errors
    std::string gave_up_;     // why the connection gave up for good, if it did
    std::string run_id_;
    clock::time_point last_lost_{};  // when the last lost{} was answered
    std::optional<notify_flags> configured_;
    bool flags_off_ = false;                        // the last check found the flags short
    bool flags_asked_ = false;                      // a CONFIG GET is in flight on this connection
    bool flags_refused_ = false;                    // CONFIG GET was refused on this connection
    std::optional<clock::time_point> flags_ok_at_;  // the last check that found them set
    clock::time_point flags_checked_at_{};          // the last answer, either way
    clock::time_point covered_at_{};                // when this connection was covered
    std::uint64_t reconnects_ = 0;
    std::uint64_t gaps_ = 0;
};

/// "SUBSCRIBE a, PSUBSCRIBE b*": the keys as the commands that name them.
std::string join_names(const std::vector<subscription_key>& keys);

/// The first of `requirements` that `configured` does not meet, as a sentence naming the
/// letters to set (`shown` is how the server spelled the configured value); nullopt when
/// every one is met.
std::optional<std::string> unmet_flags(std::string_view shown, notify_flags configured,
                                       const std::vector<flag_requirement>& requirements);

/// The run_id of an INFO server reply ("run_id:<hex>"), empty when there is none.
std::string run_id_of(std::string_view info);

}  // namespace ksn::detail
