// The decisions of a Sentinel-managed notifier about where its primary is, without I/O
// and without a clock.
//
// A primary_resolver is told what happens (it was started, a deadline passed, a refresh
// was asked for because a sentinel announced +switch-master or the primary's connection
// was lost, one of its command connections is ready, failed or answered), each with the
// time it happened, and answers actions for its driver (primary_watcher.hpp): open or
// close a command connection, send a command on one, report a confirmed primary, report
// that a former primary is no longer one, report a round in which no sentinel could name
// a primary. So every sequence of failovers, dead sentinels and stale answers is a unit
// test with a clock the test moves (tests/unit/sentinel/primary_resolver_test.cpp).
//
// Rounds. A round asks the sentinels one at a time, the one that answered last first (the
// others in the order given), `SENTINEL GET-MASTER-ADDR-BY-NAME <name>`, until one names a
// primary that confirms it: `ROLE` on the named node answers "master". The address the
// sentinels name is not trusted alone: a sentinel that was partitioned away, or asked in
// the middle of a failover, can name a node that is a replica now. A sentinel fails when
// its connection fails, when it does not know the name, when its reply does not parse, or
// when it takes longer than reply_timeout; the named node fails when it cannot be reached
// or says it is not a primary. When the primary the sentinels name is the one already
// confirmed, the round ends there (no ROLE), unless the round was asked for with a
// re-check (the primary's connection was lost, a sentinel announced a switch). A round
// that confirms nothing keeps the current primary and is reported only when no sentinel
// named the current one: the sentence names each sentinel and why.
//
// Lanes. The resolver uses at most three command connections at once, one per lane:
// `sentinel` (kept open between rounds, to the sentinel that answered last), `candidate`
// (the ROLE check of a named node; closed after it) and `retiring` (the ROLE checks of
// former primaries; closed after each). A former primary is not given up at a switch: a
// node failed over while it was stalled (SIGSTOP, a long fork) still acknowledges writes
// when it resumes, until the sentinels make it a replica. It is checked every
// check_interval, and reported retired once it answers ROLE as a replica (or sentinel),
// or once connecting to it is refused (the process is gone); a node that does not answer
// stays retiring. The retiring lane never delays the others.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "../net/options.hpp"
#include "../protocol/value.hpp"

namespace ksn::sentinel {

using clock = std::chrono::steady_clock;

struct resolver_options {
    /// The sentinels to ask; duplicates are ignored. At least one.
    std::vector<net::endpoint> sentinels;
    /// The name the sentinels monitor the primary by (`sentinel monitor <name> ...`).
    std::string primary_name;
    /// A round runs this long after the previous timer round (and at start()); former
    /// primaries are checked as often.
    std::chrono::milliseconds check_interval{1000};
    /// A command that has not been answered this long after it was sent fails (a stopped
    /// process keeps its socket open). Connecting is bounded by the connection itself.
    std::chrono::milliseconds reply_timeout{2000};
};

class primary_resolver {
  public:
    enum class lane : std::uint8_t {
        sentinel,   ///< a sentinel (its own credentials and TLS)
        candidate,  ///< the node a sentinel named, for ROLE (the data nodes' options)
        retiring,   ///< a former primary, for ROLE (the data nodes' options)
    };
    static constexpr std::size_t lane_count = 3;

    // Actions, in the order the resolver answers them.

    /// Open the command connection of `which` to `address` and start it. The lane's
    /// previous connection has been closed by an earlier close action.
    struct connect {
        lane which;
        net::endpoint address;
    };
    /// Send `args` on the connection of `which` (it is ready).
    struct send {
        lane which;
        std::vector<std::string> args;
    };
    /// Close the connection of `which` (it may already have failed) and forget it.
    struct close {
        lane which;
    };
    /// `address` is the primary, confirmed by ROLE; `previous` the one before (none the
    /// first time). Reported when the primary changes (and the first time).
    struct report_primary {
        net::endpoint address;
        std::optional<net::endpoint> previous;
        /// The sentinel that named it.
        net::endpoint named_by;
    };
    /// `address`, a former primary, no longer acknowledges writes: it says it is a
    /// replica, or it is gone (`why` says which). Its subscriber may be closed.
    struct report_retired {
        net::endpoint address;
        std::string why;
    };
    /// A round confirmed no primary and no sentinel named the current one; `sentence`
    /// names each sentinel and why.
    struct report_error {
        std::string sentence;
    };
    using action = std::variant<connect, send, close, report_primary, report_retired, report_error>;

    /// Throws std::invalid_argument when there is no sentinel or no primary name.
    explicit primary_resolver(resolver_options options);

    // Events. Each one may queue actions; take them with next_action() after each event.

    /// Starts: a round at once, then one every check_interval. A no-op while running.
    void start(clock::time_point now);
    /// Stops: every connection is closed, queued actions are dropped, no deadline is
    /// wanted and every event but start() is ignored.
    void stop();
    /// A round was asked for. With `recheck` the current primary is confirmed again by
    /// ROLE even when the sentinels still name it (its connection was lost, a sentinel
    /// announced a switch). During a round, exactly one more follows it.
    void refresh(clock::time_point now, bool recheck = true);
    /// The deadline of next_deadline() has passed (early calls are harmless).
    void on_timer(clock::time_point now);
    /// The connection of `which` completed its handshake.
    void on_connected(lane which, clock::time_point now);
    /// The connection of `which` failed or was lost; `detail` says why. `refused`: the
    /// connect itself was refused (nothing listens: the process is gone), as opposed to a
    /// timeout or a handshake that did not complete.
    void on_connection_failed(lane which, std::string_view detail, bool refused,
                              clock::time_point now);
    /// The command sent on `which` was answered with `reply` (an error reply included).
    void on_reply(lane which, const protocol::value& reply, clock::time_point now);

    [[nodiscard]] std::optional<action> next_action();
    bool has_actions() const noexcept { return !actions_.empty(); }
    /// When on_timer() must be called next; nullopt when stopped.
    std::optional<clock::time_point> next_deadline() const noexcept;

    // State.

    /// The confirmed primary (nullopt before the first).
    const std::optional<net::endpoint>& primary() const noexcept { return primary_; }
    /// The sentinels in the order the next round asks them.
    const std::vector<net::endpoint>& sentinels() const noexcept { return sentinels_; }
    /// Former primaries not yet reported retired.
    const std::vector<net::endpoint>& retiring() const noexcept { return retiring_; }
    bool resolving() const noexcept { return round_active_; }
    /// Rounds that ended with the primary confirmed (named, and ROLE where asked).
    std::uint64_t confirmations() const noexcept { return confirmations_; }

  private:
    enum class link : std::uint8_t { none, connecting, ready };
    struct lane_state {
        link state = link::none;
        net::endpoint address;
        std::optional<clock::time_point> reply_deadline;  // a command is in flight
    };

    lane_state& at(lane which) noexcept { return lanes_[static_cast<std::size_t>(which)]; }
    void open(lane which, const net::endpoint& address);
    void shut(lane which);
    void ask(lane which, std::vector<std::string> args, clock::time_point now);

    void begin_round(clock::time_point now);
    void ask_sentinel(clock::time_point now);
    void sentinel_failed(std::string_view why, clock::time_point now);
    void sentinel_answered(const protocol::value& reply, clock::time_point now);
    void candidate_failed(std::string why, clock::time_point now);
    void candidate_answered(const protocol::value& reply, clock::time_point now);
    void end_round(clock::time_point now);

    void check_next_retiring(clock::time_point now);
    void retiring_done(std::optional<std::string> retired_why, clock::time_point now);

    resolver_options options_;
    bool running_ = false;
    std::deque<action> actions_;
    lane_state lanes_[lane_count];

    std::vector<net::endpoint> sentinels_;  // the answering one first
    std::optional<net::endpoint> primary_;
    std::uint64_t confirmations_ = 0;

    // The round under way.
    bool round_active_ = false;
    bool recheck_ = false;
    bool again_ = false;
    bool again_recheck_ = false;
    std::vector<net::endpoint> round_;  // the sentinels, in the order asked
    std::size_t round_index_ = 0;
    std::vector<std::string> round_errors_;
    bool named_current_ = false;  // a sentinel of this round named the current primary
    net::endpoint candidate_;
    std::optional<clock::time_point> next_round_;

    // Former primaries; the one being checked is retiring_[retiring_index_].
    std::vector<net::endpoint> retiring_;
    std::size_t retiring_index_ = 0;
    bool retiring_active_ = false;
    std::optional<clock::time_point> next_retiring_;
};

/// The primary's address from a SENTINEL GET-MASTER-ADDR-BY-NAME reply: nullopt and
/// `error` set when the reply is null (the sentinel does not know the name), an error
/// reply, or not two strings naming a host and a port.
std::optional<net::endpoint> parse_primary_address(const protocol::value& reply,
                                                   std::string& error);

/// The role of a ROLE reply ("master", "slave", "sentinel"), empty when it is not one;
/// for "slave", `primary` is set to the node it replicates from, when the reply names it.
std::string parse_role(const protocol::value& reply, std::optional<net::endpoint>& primary);

/// The replicas a primary's ROLE reply lists (["master", offset, [[host, port, offset],
/// ...]]), in its order; entries that do not name a host and a port are skipped. Empty for
/// any other reply.
std::vector<net::endpoint> parse_role_replicas(const protocol::value& reply);

}  // namespace ksn::sentinel
