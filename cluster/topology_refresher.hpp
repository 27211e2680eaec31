// The decisions of the cluster topology tracker, without I/O and without a clock.
//
// A topology_refresher is told what happens — it was started, a deadline passed, someone
// asked for a refresh, the command connection to a node is ready or failed, the node
// answered or refused, it was stopped — each with the time it happened, and answers
// with actions for its driver to perform: connect to a node, send CLUSTER SHARDS or
// CLUSTER SLOTS, close
// the connection, report a new topology, report a round in which no node answered, and
// the deadline at which it wants to be woken (next_deadline). It decides when to ask,
// whom to ask next, what counts as a failure and what counts as a change; the Asio driver
// (topology_tracker.hpp) only owns one timer and one command connection. So every
// sequence of refreshes, failures and changes is a unit test with a clock the test moves.
//
// Rounds. A refresh is one round: the candidates are asked one at a time until one gives
// a reply that parses. The order is the node that answered last (its connection is kept
// open between rounds), then the seeds, then every node of the last topology (primaries
// first). A node fails when its connection fails, when it refuses, when its reply does not
// parse, or when the reply takes longer than reply_timeout; the next one is then asked. A
// round in which every candidate failed is reported as one sentence naming each node and
// why; the refresh timer tries again.
//
// The question. CLUSTER SHARDS (Redis 7+) is asked first: unlike CLUSTER SLOTS it lists
// the primaries that serve no slot yet, so a node added to the cluster is subscribed
// before it takes slots over (make before break: no gap). A node that refuses it (an
// older server, an ACL without cluster|shards) is asked CLUSTER SLOTS on the same
// connection, and only that from then on, until a connection to it fails (it may come
// back upgraded).
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
#include "topology.hpp"

namespace ksn::cluster {

using clock = std::chrono::steady_clock;

struct refresher_options {
    /// Where to start: any reachable seed will do. Duplicates are ignored.
    std::vector<net::endpoint> seeds;
    /// A refresh starts this long after the previous timer refresh (and at start()).
    std::chrono::milliseconds refresh_interval{1000};
    /// A node that has not answered CLUSTER SLOTS this long after it was sent counts as
    /// failed (a stopped process keeps its socket open; without this a round could wait
    /// forever). Connecting is bounded by the connection's own connect_timeout.
    std::chrono::milliseconds reply_timeout{2000};
    /// The nodes are reached over TLS: CLUSTER SHARDS gives their "tls-port".
    bool tls = false;
};

/// What a node is asked for the topology.
enum class topology_query : std::uint8_t { shards, slots };
/// "CLUSTER SHARDS" or "CLUSTER SLOTS".
std::string_view command_name(topology_query q) noexcept;

class topology_refresher {
  public:
    // Actions: what the driver is asked to do, in the order the refresher answers them.

    /// Open the command connection to `address` and start it. Any previous one has been
    /// closed by an earlier close action.
    struct connect {
        net::endpoint address;
    };
    /// Send CLUSTER SHARDS or CLUSTER SLOTS on the connection to `address` (it is ready).
    struct send_query {
        net::endpoint address;
        topology_query query = topology_query::shards;
    };
    /// Close the connection to `address` (it may already have failed) and forget it.
    struct close {
        net::endpoint address;
    };
    /// The topology changed: `now` is the new one, `before` the previous one (none the
    /// first time), `previous_refresh` when `before` was last confirmed (a default time
    /// point the first time): the change happened after it.
    struct report_change {
        topology now;
        std::optional<topology> before;
        clock::time_point previous_refresh;
    };
    /// No candidate answered in one round; `sentence` names each node and why.
    struct report_error {
        std::string sentence;
    };
    using action = std::variant<connect, send_query, close, report_change, report_error>;

    explicit topology_refresher(refresher_options options);

    // Events. Each one may queue actions; take them with next_action() after each event.

    /// Starts refreshing: a round at once, then one every refresh_interval. A no-op
    /// while running; after stop() it starts again (the last topology is kept).
    void start(clock::time_point now);
    /// Stops: the connection is closed, queued actions are dropped, no deadline is
    /// wanted and every event but start() is ignored.
    void stop();
    /// A refresh was asked for (a subscriber lost its node, a subscribe failed, the user).
    /// While a round is under way, exactly one more round follows it, however many
    /// requests came, because what prompted them may postdate the reply in flight.
    void refresh(clock::time_point now);
    /// The deadline returned by next_deadline() has passed (calling it early is harmless:
    /// nothing is due).
    void on_timer(clock::time_point now);
    /// The connection opened for `address` completed its handshake.
    void on_connected(const net::endpoint& address, clock::time_point now);
    /// The connection to `address` failed or was lost; `detail` says why (a sentence that
    /// usually names the node already).
    void on_connection_failed(const net::endpoint& address, std::string_view detail,
                              clock::time_point now);
    /// `address` answered the query last sent to it with `reply`.
    void on_reply(const net::endpoint& address, const protocol::value& reply,
                  clock::time_point now);
    /// `address` answered the query last sent to it with an error reply; `text` is the
    /// server's.
    void on_refused(const net::endpoint& address, std::string_view text, clock::time_point now);

    /// The next action to perform, in order; nullopt when there is none.
    [[nodiscard]] std::optional<action> next_action();
    bool has_actions() const noexcept { return !actions_.empty(); }
    /// When on_timer() must be called next: the refresh timer or a reply deadline,
    /// whichever is first; nullopt when stopped.
    std::optional<clock::time_point> next_deadline() const noexcept;

    // State.

    const std::optional<topology>& current() const noexcept { return current_; }
    /// When current() was last confirmed by a reply.
    clock::time_point last_refresh() const noexcept { return last_refresh_; }
    /// Rounds that ended with a parsed reply.
    std::uint64_t refreshes() const noexcept { return refreshes_; }
    /// True while a round is under way.
    bool refreshing() const noexcept { return phase_ == phase::asking; }
    /// The nodes asked when the last answering node fails: seeds, then every node of the
    /// last topology.
    const std::vector<net::endpoint>& candidates() const noexcept { return known_; }

  private:
    enum class phase : std::uint8_t { stopped, idle, asking };
    enum class link : std::uint8_t { none, connecting, ready };

    void begin_round(clock::time_point now);
    void ask_current(clock::time_point now);
    void send(const net::endpoint& address, topology_query q, clock::time_point now);
    // `address` by value: callers pass link_address_, which the next attempt overwrites.
    void node_failed(net::endpoint address, std::string_view why, clock::time_point now);
    void answered(const net::endpoint& address, topology t, clock::time_point now);
    void close_link();
    bool asking(const net::endpoint& address) const noexcept;

    refresher_options options_;
    phase phase_ = phase::stopped;
    std::deque<action> actions_;

    // The command connection: at most one, to link_address_.
    link link_ = link::none;
    net::endpoint link_address_;

    // Candidates: seeds, then the last topology's nodes; the node that answered last.
    std::vector<net::endpoint> known_;
    std::optional<net::endpoint> preferred_;

    // The round under way.
    std::vector<net::endpoint> round_;
    std::size_t round_index_ = 0;
    std::vector<std::string> round_errors_;
    bool awaiting_reply_ = false;
    topology_query asked_ = topology_query::shards;
    std::string shards_refusal_;  // CLUSTER SHARDS's refusal while CLUSTER SLOTS is asked
    bool again_ = false;
    // Nodes that refused CLUSTER SHARDS and answered CLUSTER SLOTS.
    std::vector<net::endpoint> slots_only_;

    std::optional<clock::time_point> next_refresh_;
    std::optional<clock::time_point> reply_deadline_;

    std::optional<topology> current_;
    clock::time_point last_refresh_{};
    std::uint64_t refreshes_ = 0;
};

}  // namespace ksn::cluster
