// Matches every notification `ksn bench` receives to the write that caused it.
//
// Each write is registered when it is sent (sent()), and its reply says whether it
// published an event (replied()): SET, HSET and LPUSH always do; DEL and EXPIRE only when
// the key existed. Each key is written by one writer connection, in order, so a key's
// notifications arrive in the order of its writes: a notification (key, event) matches
// the oldest unmatched write of that key with that event after the write matched last
// (else the oldest one at all, which then counts as out of order); writes that lost their
// connection before the reply (which may not have executed) are taken only when no other
// write fits. A notification with no
// write left to match is a duplicate (or, marked redelivered by ksn, a repeat). A node no
// writer goes to (redundancy's standby replica) publishes what its primary executed: its
// notifications match that primary's writes and count there.
//
// At the end (finish()), a write whose reply said it published and whose notification
// never came is lost. Losses are explained by the gaps ksn reported: when a gap on a node
// is delivered (after every notification received before the interruption), the writes
// executed there (for a cluster gap naming slots: on keys in those slots, wherever they
// executed) that are still unmatched and were sent before the gap ended form its window; each may
// have been published while nothing was subscribed. Which of a key's writes were lost can be
// ambiguous (the notification of a later SET is taken for an earlier lost one), but how
// many is not, so a key's lost writes count as "in a gap" up to the number of its writes
// in gap windows, and the rest as unexplained: notifications the server should have
// delivered and did not. A gap that never ended (the node was given up) also covers every
// write to its node (or slots) sent after it.
//
// Thread-safe: the writers call sent()/resent()/replied() from their thread while the
// notifier calls notified()/gap() from its I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "notifications/delivery.hpp"
#include "tools/bench_load.hpp"
#include "tools/histogram.hpp"

namespace ksn::tools::bench {

using ksn::clock;

/// Latency percentiles in nanoseconds.
struct latency_summary {
    std::uint64_t count = 0;
    std::uint64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
    static latency_summary of(const histogram& h);
};

/// Counts for one node, or for all of them.
struct node_result {
    std::string node;
    std::uint64_t writes_sent = 0;    ///< commands sent (a redirected one counts once)
    std::uint64_t writes_acked = 0;   ///< commands the server answered (not an error)
    std::uint64_t writes_failed = 0;  ///< error replies and commands lost with a connection
    std::uint64_t writes_silent = 0;  ///< acked but published nothing (DEL/EXPIRE of no key)
    std::uint64_t expected = 0;       ///< notifications the writes published
    std::uint64_t received = 0;       ///< notifications matched to a write
    std::uint64_t lost = 0;           ///< expected and never received
    std::uint64_t lost_in_gaps = 0;   ///< of those, within a gap ksn reported
    std::uint64_t duplicated = 0;     ///< received with no write left to match
    /// Received with no write left to match, marked redelivered by ksn (the repeats of a
    /// handover or of redundancy's standby): expected repeats, not duplicates.
    std::uint64_t redelivered = 0;
    std::uint64_t out_of_order = 0;  ///< matched a write older than one already matched
    std::uint64_t unconfirmed = 0;   ///< failed writes (no reply) that no notification confirmed
    std::uint64_t gaps = 0;          ///< gap events reported for the node
    latency_summary latency;         ///< write sent -> notification received

    /// Adds the counts of `o` (not its node or latency).
    node_result& operator+=(const node_result& o) noexcept;
};

/// A gap ksn reported, and how many lost writes it explains.
struct gap_result {
    std::string node;
    std::string reason;
    std::string detail;
    double lost_s = 0;                 ///< since the start of the run
    std::optional<double> restored_s;  ///< nullopt: never restored
    std::uint64_t dropped = 0;         ///< dropped by ksn itself (queue overflow)
    std::vector<std::pair<std::uint16_t, std::uint16_t>> slots;
    std::uint64_t lost_writes = 0;  ///< lost writes this gap explains
};

/// One second of the run (by the time things happened).
struct second_result {
    std::uint32_t second = 0;  ///< 0 is [0 s, 1 s) from the start
    std::uint64_t sent = 0;
    std::uint64_t acked = 0;
    std::uint64_t received = 0;
    std::uint64_t p50_ns = 0;  ///< latency of the notifications received in the second
    std::uint64_t p99_ns = 0;
};

/// A running tally for the progress line.
struct progress {
    std::uint64_t sent = 0;
    std::uint64_t acked = 0;
    std::uint64_t expected = 0;
    std::uint64_t received = 0;
    std::uint64_t missing = 0;  ///< published, acked over `late` ago and not yet received
    std::uint64_t p99_ns = 0;
};

struct match_result {
    node_result total;
    std::vector<node_result> nodes;  ///< in the order they were first seen
    std::vector<gap_result> gaps;
    std::uint64_t other_events = 0;  ///< notifications on our keys of events we never cause
};

class matcher {
  public:
    struct ticket {
        std::uint32_t key = 0;
        std::uint64_t seq = 0;
    };
    enum class outcome : std::uint8_t {
        published,  ///< the reply says the write published its event
        silent,     ///< the reply says it published nothing (DEL or EXPIRE of no key)
        rejected,   ///< an error reply: it did not execute and published nothing
        failed,     ///< no reply (the connection was lost): it may have executed
    };

    matcher(const key_space& keys, clock::time_point start);

    /// A writer connection to `node`; returns its id.
    std::uint32_t add_connection(std::string_view node);
    /// A write of `o` on key `key`, sent on connection `conn` as its `index`th write.
    ticket sent(std::uint32_t key, op o, std::uint32_t conn, std::uint64_t index,
                clock::time_point t);
    /// The write was redirected (MOVED, ASK) and sent again on `conn` as its `index`th.
    void resent(const ticket& t, std::uint32_t conn, std::uint64_t index);
    void replied(const ticket& t, outcome o, clock::time_point at);

    /// A notification: the key without the bench's prefix, the event, where and when.
    /// `redelivered`: ksn marked it a repeat (received_notification::redelivered()).
    void notified(std::string_view key_suffix, std::string_view event, std::string_view node,
                  clock::time_point received, bool redelivered = false);
    void gap(const gap_event& g);

    /// True when every write that published has been matched.
    [[nodiscard]] bool settled() const;
    [[nodiscard]] progress snapshot(clock::time_point now, clock::duration late) const;
    /// The seconds before `now`'s second not yet taken.
    std::vector<second_result> take_seconds(clock::time_point now);
    /// The whole timeline (after finish()).
    [[nodiscard]] std::vector<second_result> timeline() const;
    /// Classifies what never arrived (call once, after the drain).
    match_result finish();

  private:
    enum class state : std::uint8_t { pending, published, silent, failed };
    struct entry {
        std::uint64_t seq = 0;
        clock::time_point sent{};
        clock::time_point replied{};
        std::uint64_t conn_index = 0;
        std::uint32_t conn = 0;
        op o = op::set;
        state s = state::pending;
        bool matched = false;
        bool counted = false;  // counted in expected
    };
    struct key_state {
        std::vector<entry> pending;
        std::uint64_t next_seq = 0;
        std::uint64_t matched_high = 0;  // highest matched seq + 1
    };
    struct connection {
        std::uint32_t node = 0;
    };
    struct gap_record {
        gap_result result;
        std::uint32_t node = 0;
        bool open = false;  ///< never restored: it covers every write sent since `lost`
        clock::time_point lost{};
        /// Keys with writes in the window, and how many.
        std::vector<std::pair<std::uint32_t, std::uint32_t>> window;
    };
    struct node_state {
        node_result counts;
        histogram latency;
        bool written = false;  ///< a writer connection goes to it
    };

    std::uint32_t node_id(std::string_view node);
    second_result& second_of(clock::time_point t);
    void count_expected(const entry& e);
    void close_second_latency(std::uint32_t upto);
    using slot_ranges = std::vector<std::pair<std::uint16_t, std::uint16_t>>;
    bool in_slots(std::uint32_t key, const slot_ranges& slots) const;
    gap_record* open_gap(std::uint32_t key, const entry& e);
    double since_start(clock::time_point t) const;

    mutable std::mutex mutex_;
    const key_space& keys_;
    clock::time_point start_;
    std::vector<key_state> key_states_;
    std::vector<connection> conns_;
    std::vector<node_state> nodes_;
    std::vector<gap_record> gaps_;
    histogram total_latency_;
    std::vector<second_result> seconds_;
    histogram second_latency_;  // of seconds_[latency_second_]
    std::uint32_t latency_second_ = 0;
    std::uint32_t seconds_taken_ = 0;
    std::uint64_t other_events_ = 0;
    std::uint64_t outstanding_ = 0;  // published and not matched
};

}  // namespace ksn::tools::bench
