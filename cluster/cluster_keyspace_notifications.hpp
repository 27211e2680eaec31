// Keyspace notifications from a whole Redis Cluster.
//
// Each node publishes only the events of the keys it owns, on its own non-sharded
// pub/sub (SSUBSCRIBE never sees them), so a cluster consumer must subscribe on every
// primary and follow the topology. cluster_keyspace_notifications does, with the same
// API as keyspace_notifications (both are notifier_base):
//   - subscriptions are registered once and applied to every primary; a new primary
//     (scale out, failover promotion) gets the whole set, and only when it confirmed all
//     of it is it counted as covered;
//   - a node that is no longer a primary stays subscribed until it says so itself (a
//     stalled primary failed over still acknowledges what waits in its sockets when it
//     runs again), then it is closed;
//   - a manual CLUSTER FAILOVER keeps the old primary alive as a replica of the new one,
//     publishing what it applies: it is kept until it has caught up with the new
//     primary's subscription (notifier_options::handover_timeout), and then the slots
//     changed hands with no gap; the overlap's repeats are marked redelivered;
//   - each change that may have lost events yields a gap_event naming the node, the slot
//     ranges and the interval: a primary that takes over slots reports
//     topology_change from the last topology in which another node still owned them
//     (or from when that node's connection broke) until it is covered;
//   - each notification says which node it came from (received_notification::node()).
// The topology is refreshed every refresh_interval, at once when a subscriber connection
// is lost, and on demand; all of it on the notifier's I/O thread, ready-driven: a hot
// shard never starves the others and an idle one never slows a hot one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "../notifications/keyspace_notifications.hpp"
#include "topology.hpp"

namespace ksn {

struct cluster_options : notifier_options {
    /// Seed nodes; empty means connection.address. Any reachable one will do.
    std::vector<net::endpoint> seeds;
    /// How often the topology is refreshed (also at once when a node's connection is lost).
    std::chrono::milliseconds refresh_interval{1000};
    /// Subscribe replicas as well as primaries. Replicas also publish the events of the
    /// writes they replicate, so this DUPLICATES every notification (once per copy of
    /// the data); in exchange a promoted replica is already subscribed when it takes
    /// over. Off by default.
    bool subscribe_replicas = false;
    /// redundancy_mode::replica: each primary's first replica in the topology is
    /// subscribed too, and its stream held (not delivered) in a window bounded by
    /// redundancy_window and redundancy_window_bytes, matched against what the primary
    /// delivers. When the primary's stream stops (crash, CLIENT KILL, output-buffer
    /// limit, a stalled node), the replica's continues it: the window is replayed from
    /// where the primary's stream was last known whole, then the replica delivers until
    /// the primary is subscribed again and the replica has caught up with it (replication
    /// offsets, as a handover: handover_timeout), or until the replica is promoted (it is
    /// subscribed already). Replayed and overlapping copies are marked redelivered; a gap
    /// is reported only for what no stream covered. Not with subscribe_replicas.
    redundancy_mode redundancy = redundancy_mode::none;
    /// How long a standby replica's messages are held (the primary's stream must be found
    /// stopped within it: a stalled primary takes up to the health check's interval plus
    /// its timeout).
    std::chrono::milliseconds redundancy_window{10000};
    /// What one standby's window may hold (its messages' bytes plus about 100 bytes
    /// each); the oldest are forgotten first, and a takeover older than what it holds
    /// reports the difference as a gap.
    std::size_t redundancy_window_bytes = 32u << 20;
    /// false (the default): subscribe() succeeds on the primaries it reaches while at
    /// least one confirms; each primary it cannot reach (refused, or no confirmation
    /// within subscribe_timeout) is named in a warning and reports a node_unreachable
    /// gap, with its slots, once it is subscribed (it is retried under the reconnect
    /// policy). true: all or nothing, as a standalone subscribe is: one unreachable
    /// primary fails the subscribe with not_connected and undoes it on every node.
    bool require_every_primary = false;
};

class cluster_keyspace_notifications : public notifier_base {
  public:
    /// Runs on a thread of its own; discovery starts at once. subscribe() waits for the
    /// first topology (bounded by subscribe_timeout) and fails with not_connected naming
    /// every seed when none answers.
    explicit cluster_keyspace_notifications(cluster_options options);
    /// Runs on `io` (handlers inline there, as for keyspace_notifications).
    cluster_keyspace_notifications(asio::io_context& io, cluster_options options);
    ~cluster_keyspace_notifications() override;

    /// The topology as last seen (nullopt before the first).
    [[nodiscard]] std::optional<cluster::topology> topology() const;
    /// Asks for a refresh now (returns at once).
    void refresh_topology();

  private:
    void init(cluster_options options);
    struct controller;
    std::shared_ptr<controller> controller_;
};

}  // namespace ksn
