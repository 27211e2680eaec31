// What the cluster integration tests and the soak program (tests/soak/) share to check
// the delivery contract under faults: a thread that pulls everything a notifier delivers,
// a steady writer that records where and when each key was written, and the check that
// every write outside a reported gap was notified.
//
// No GoogleTest here: the soak program is a plain executable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "tests/support/redis_cluster.hpp"

namespace ksn::test {

/// Options for a notifier on `c`: seeded with its first node, topology refreshed every
/// `refresh`, short timeouts (scaled by time_scale()) and reconnect delays, a queue of 2^20.
cluster_options test_cluster_options(
    redis_cluster& c, std::chrono::milliseconds refresh = std::chrono::milliseconds(500));

/// Collects everything a notifier delivers, from a pulling thread.
class collector {
  public:
    /// `reserve`: room for that many notifications made (and touched) up front, so that
    /// a long run's own bookkeeping does not show up as growing memory.
    explicit collector(notifier_base& n, std::size_t reserve = 0);
    ~collector();
    collector(const collector&) = delete;
    collector& operator=(const collector&) = delete;

    std::size_t count();
    /// (key, node) of each notification, in arrival order.
    std::vector<std::pair<std::string, std::string>> received();
    /// When each of them was read from its node (delivery's received()), in the same order.
    std::vector<clock::time_point> received_at();
    std::vector<gap_event> gaps();
    /// Keys of the notifications delivered as redelivered (a handover's repeats), in order.
    std::vector<std::string> redelivered();
    /// Stops pulling (a slow consumer) until resume(); deliveries wait in the queue.
    void pause() { paused_ = true; }
    void resume() { paused_ = false; }

  private:
    void run();
    notifier_base& n_;
    std::mutex m_;
    std::vector<std::pair<std::string, std::string>> received_;
    std::vector<clock::time_point> received_at_;
    std::size_t count_ = 0;  ///< used entries of received_ and received_at_
    std::vector<gap_event> gaps_;
    std::vector<std::string> redelivered_;
    std::atomic<bool> paused_{false};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

/// Writes keys "<prefix><n>" one by one in a thread, recording where and when.
class write_load {
  public:
    struct write {
        std::string key;
        std::uint16_t port = 0;
        clock::time_point sent, acked;
    };
    struct options {
        /// Writes per second, paced on a schedule (a late write does not make the next
        /// ones faster); 0: one write, then a 1 ms pause (scaled by time_scale()).
        int rate = 0;
        /// At most this many writes; their records are made (and touched) up front.
        std::size_t limit = 200000;
    };
    write_load(redis_cluster& c, std::string prefix) : write_load(c, std::move(prefix), {}) {}
    write_load(redis_cluster& c, std::string prefix, options o);
    ~write_load();
    write_load(const write_load&) = delete;
    write_load& operator=(const write_load&) = delete;

    void stop();
    /// Writes acknowledged so far.
    std::size_t count() const noexcept { return count_.load(); }
    /// Writes that failed (the writer gave up retrying); not recorded.
    std::size_t failed() const noexcept { return failed_.load(); }
    std::vector<write> writes();
    /// The writer's open connections (file descriptors), for leak checks; waits for the
    /// write in progress.
    std::size_t connections();

  private:
    void run();
    std::mutex writer_m_;  ///< held during each write
    cluster_writer writer_;
    std::string prefix_;
    options options_;
    std::mutex m_;
    std::vector<write> writes_;
    std::size_t recorded_ = 0;  ///< writer thread only
    std::atomic<std::size_t> count_{0};
    std::atomic<std::size_t> failed_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

/// How far a gap's interval is widened on each side when matched against a write. A gap's
/// lost/restored times are taken on the notifier's I/O thread when it notices the
/// interruption; a write's sent/acked times on the writer's thread. The two observe the
/// same event (a node dying, a failover) at instants that differ by scheduling and
/// network delays — notably a node killed right after answering a write, before it
/// flushed the notification, leaves the write acknowledged a little before the notifier
/// sees the connection break. 100 ms is far above those delays on loopback and far below
/// the 1 ms spacing that separates writes by the thousand.
inline constexpr std::chrono::milliseconds gap_slack{100};

/// True when a gap covers a write: its slot is in the gap's slots (or the gap names the
/// node that executed it) and [sent, acked] overlaps the gap's interval widened by
/// gap_slack on each side.
bool covered_by_gap(const write_load::write& w, const std::vector<gap_event>& gaps);

struct delivery_report {
    std::size_t writes = 0;
    std::size_t received = 0;  ///< writes notified at least once
    std::size_t excused = 0;   ///< not notified, inside a gap
    std::size_t missing = 0;   ///< not notified, outside every gap
    /// Notified although a gap covered them: how much the gaps excused that was not lost
    /// (a gap is truthful when it covers the losses; this says how tight it is).
    std::size_t covered_but_notified = 0;
    /// Open gaps (no restored time: the node was given up) that were bounded where their
    /// slots were served again (a later write in them was notified).
    std::size_t open_gaps_bounded = 0;
    std::string example;  ///< the first missing write, "key on port P"
    /// The first missing writes (at most missing_kept), for a report of where they lie.
    std::vector<write_load::write> missing_writes;
    static constexpr std::size_t missing_kept = 8;
    std::map<std::string, std::size_t> gaps_by_reason;
    /// The longest time from a write's acknowledgment to the read of its notification
    /// (known when the receive times are given).
    clock::duration read_lag{};
};

/// Checks that every write outside a gap was notified (at least once). An open gap counts
/// only until its slots are served again (see delivery_report::open_gaps_bounded).
delivery_report check_delivery(const std::vector<write_load::write>& writes,
                               const std::vector<std::pair<std::string, std::string>>& received,
                               const std::vector<gap_event>& gaps);
/// The same, with each notification's receive time (collector::received_at(), in the
/// order of `received`). A queue_overflow gap starts at the read time of the first
/// notification it dropped, which was written and acknowledged before it was read: such
/// a gap then also covers the writes acknowledged up to its node's read lag before it
/// (the longest time from an acknowledgment to the read of its notification seen on that
/// node in the run).
delivery_report check_delivery(const std::vector<write_load::write>& writes,
                               const std::vector<std::pair<std::string, std::string>>& received,
                               const std::vector<gap_event>& gaps,
                               const std::vector<clock::time_point>& received_at);

/// Where each key is written once, every notification of a key after its first is a
/// repeat, and each must be marked redelivered (and no first copy).
struct repeat_report {
    std::size_t repeats = 0;     ///< notifications of a key after its first
    std::size_t mismatched = 0;  ///< keys whose marked count is not their repeat count
    std::string example;         ///< the first such key, "key: N copies, M marked"
};
repeat_report check_repeats(const std::vector<std::pair<std::string, std::string>>& received,
                            const std::vector<std::string>& redelivered);

/// Waits until `expected` notifications arrived, or until none came for a second; both
/// `limit` and the second are scaled by time_scale() (tests/support/timing.hpp).
void wait_settled(collector& col, std::size_t expected,
                  std::chrono::seconds limit = std::chrono::seconds(15));
/// Waits until every write's key was notified, or until none came for a second (both
/// scaled). Counting notifications is not enough where some arrive twice (a former
/// primary kept subscribed publishes what it replicates from the new one).
void wait_settled(collector& col, const std::vector<write_load::write>& writes,
                  std::chrono::seconds limit = std::chrono::seconds(15));

}  // namespace ksn::test
