// Make before break: a primary that hands over to its replica (a manual CLUSTER FAILOVER,
// a SENTINEL FAILOVER) stays up and, as a replica of the new primary, goes on publishing
// the writes it applies from it. So nothing is lost if the old connection is kept until the
// new primary's subscription is confirmed and the old node has applied (and published
// to us, and we read) everything the new one had acknowledged by then:
//
//   1. the new primary is covered (every subscription confirmed);
//   2. the new primary is asked INFO replication: its offset X and replication ids;
//   3. the old node is asked INFO replication until it is a replica with the same
//      replication id, the same replid2 (it continued with a partial resync: a full
//      resync clears replid2, and the writes an RDB load brings publish nothing) and has
//      applied X (slave_repl_offset >= X);
//   4. a PING is sent on the old node's subscriber connection, and once it is answered
//      everything the old node published before it has been read.
//
// Throughout, the old node's subscriber connection must stay unbroken (the same
// connection that was up when the slots moved, no open gap). Then the handover succeeded:
// no gap, and the old node can be closed. Otherwise (it broke, a full resync, no catch-up
// within the timeout) the new primary's topology_change gap is reported as before.
//
// Pure code, no I/O and no clock (time comes in with each event), unit-tested in
// tests/unit/notifications/handover_test.cpp; handover_runner.hpp drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "../delivery.hpp"

namespace ksn::detail {

/// What INFO replication says that a handover needs.
struct replication_info {
    std::string role;     ///< "master" or "slave"
    std::string replid;   ///< master_replid
    std::string replid2;  ///< master_replid2 (all zeros when there is none)
    /// master_repl_offset (a primary's); -1 when absent.
    std::int64_t offset = -1;
    /// slave_repl_offset (what a replica applied); -1 when absent.
    std::int64_t applied = -1;
};

/// Parses the text of INFO replication (`name:value` lines); missing fields stay empty.
[[nodiscard]] replication_info parse_replication_info(std::string_view info);

/// Empty when `old_node` has applied everything `new_primary` acknowledged (see above);
/// otherwise why not, as a phrase ("it is still a primary", ...).
///
/// With `continued_replid` (redundancy's switch back, redundancy.hpp): `old_node` is a
/// replica that stayed with `new_primary` throughout, not a former primary; instead of
/// the partial resync, the primary must still have the replication id it had then (a
/// restart or a reset gives it a new one, and its replica a full resync).
[[nodiscard]] std::string not_caught_up(const replication_info& new_primary,
                                        const replication_info& old_node,
                                        std::string_view continued_replid = {});

class handover {
  public:
    /// What the driver does next.
    enum class action : std::uint8_t {
        wait,      ///< nothing now
        ask_new,   ///< INFO replication on the new primary, answer to new_answered()
        ask_old,   ///< INFO replication on the old node, answer to old_answered()
        ping_old,  ///< a PING on the old node's subscriber connection
        succeed,   ///< done without loss: drop the gap, close the old node
        fail,      ///< report the gap (failure() says why)
    };

    /// `gap`: the new primary's topology_change gap, reported if the handover fails.
    /// `continued_replid`: see not_caught_up().
    handover(std::string to, std::string from, gap_event gap, std::chrono::milliseconds timeout,
             std::string continued_replid = {})
        : to_(std::move(to)),
          from_(std::move(from)),
          gap_(std::move(gap)),
          timeout_(timeout),
          continued_replid_(std::move(continued_replid)) {}

    /// What the links say now: whether the new primary is covered, whether the old
    /// node's subscriber connection is still the unbroken one, and its last answered PING
    /// (session::ping_answered()). The old node must catch up within `timeout` of the new
    /// primary's coverage, which must come within 3 × `timeout` of the first tick.
    [[nodiscard]] action on_tick(clock::time_point now, bool new_covered, bool old_unbroken,
                                 std::optional<clock::time_point> old_ping_answered);
    /// The new primary's INFO replication (nullopt: no answer, an error).
    void new_answered(const std::optional<replication_info>& info, clock::time_point now);
    /// The old node's; on catch-up the next tick asks for the PING.
    void old_answered(const std::optional<replication_info>& info, clock::time_point now);

    const std::string& to() const noexcept { return to_; }
    const std::string& from() const noexcept { return from_; }
    const gap_event& gap() const noexcept { return gap_; }
    /// Why it failed (a sentence part), once on_tick() answered `fail`.
    const std::string& failure() const noexcept { return failure_; }
    /// The new primary's offset the old node caught up with (after `succeed`).
    std::int64_t offset() const noexcept { return new_.offset; }

  private:
    enum class stage : std::uint8_t { covering, asking_new, catching_up, pinging, over };
    action finish(action a, std::string why = {});

    std::string to_, from_;
    gap_event gap_;
    std::chrono::milliseconds timeout_;
    std::string continued_replid_;
    stage stage_ = stage::covering;
    std::optional<clock::time_point> started_;   // the first tick
    std::optional<clock::time_point> deadline_;  // set when the new primary is covered
    bool asked_ = false;                         // a question in flight
    bool ping_due_ = false;
    replication_info new_;
    clock::time_point caught_up_at_{};
    std::string behind_;  // the old node's last answer: why it has not caught up
    std::string failure_;
};

}  // namespace ksn::detail
