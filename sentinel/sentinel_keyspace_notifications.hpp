// Keyspace notifications from a primary that Redis Sentinel manages.
//
// The sentinels say where the primary is (SENTINEL GET-MASTER-ADDR-BY-NAME, asking each
// in turn, the one that answered last first); ROLE on that node confirms it. The address
// is re-checked every check_interval, at once when the primary's connection is lost, and
// when a sentinel announces +switch-master (one sentinel connection listens for it).
// sentinel_keyspace_notifications has the API of keyspace_notifications (both are
// notifier_base). On a switch:
//   - the new primary is subscribed with every subscription; the gap it reports
//     (topology_change) runs from the last notification read from the old primary (or,
//     when none came, from when the old one was confirmed) to the new one's confirmation:
//     writes the new primary acknowledged before ksn had subscribed it are lost;
//   - the old primary is not closed at once: a node failed over while stalled (SIGSTOP,
//     a long fork) still acknowledges writes when it resumes, until the sentinels make it
//     a replica, and ksn still delivers what it publishes. It is closed once it answers
//     ROLE as a replica or once connecting to it is refused (gone); if its connection was
//     down then, its open gap is reported, ending then;
//   - each notification says which node it came from (received_notification::node());
//   - with sentinel_options::redundancy, a replica of the primary stands by (below).
// Limits (left to the zero-loss work): writes the new primary acknowledged before the
// old primary's last notification (both primaries at once, during a manual failover)
// lie outside that gap; a notification still in the old primary's socket when it is
// closed as a replica is not read.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "../net/options.hpp"
#include "../notifications/keyspace_notifications.hpp"

namespace ksn {

struct sentinel_options : notifier_options {
    /// The sentinels (at least one); any one that knows the primary will do.
    std::vector<net::endpoint> sentinels;
    /// The name the sentinels monitor the primary by (`sentinel monitor <name> ...`).
    std::string primary_name;
    /// The sentinels' own credentials, TLS and timeouts (the address is ignored). A
    /// sentinel has its own password (`requirepass` in sentinel.conf), so nothing is taken
    /// from `connection`, whose credentials and TLS are the data nodes'. Default: no
    /// authentication, no TLS, the same timeouts as `connection`'s defaults.
    net::connection_options sentinel_connection;
    /// How often the sentinels are asked again, and former primaries checked.
    std::chrono::milliseconds check_interval{1000};
    /// How long a sentinel (or a node asked ROLE) may take to answer before the next is
    /// asked.
    std::chrono::milliseconds reply_timeout{2000};
    /// redundancy_mode::replica: the first replica the primary's ROLE lists (asked every
    /// check_interval) is subscribed too as a standby, its stream held in a window, as
    /// cluster_options::redundancy does for each shard. When the primary's stream stops
    /// (CLIENT KILL, output-buffer limit, a crash, a stall) the standby continues it, and
    /// hands back to the primary once that one is subscribed again and the replica has
    /// caught up with it. The sentinels cut every subscriber of a replica they promote
    /// (CLIENT KILL TYPE pubsub, with the promotion): a promoted standby that had continued
    /// its primary reports a gap only from that cut until it is subscribed again (a few
    /// milliseconds, before the sentinels name it to any client), not from the primary's
    /// last notification.
    redundancy_mode redundancy = redundancy_mode::none;
    /// As cluster_options::redundancy_window.
    std::chrono::milliseconds redundancy_window{10000};
    /// As cluster_options::redundancy_window_bytes.
    std::size_t redundancy_window_bytes = 32u << 20;
};

class sentinel_keyspace_notifications : public notifier_base {
  public:
    /// Runs on a thread of its own; asking the sentinels starts at once. subscribe() waits
    /// for the first confirmed primary (bounded by subscribe_timeout) and fails with
    /// not_connected naming every sentinel and why when none names one. Throws
    /// std::invalid_argument without a sentinel or a primary name.
    explicit sentinel_keyspace_notifications(sentinel_options options);
    /// Runs on `io` (handlers inline there, as for keyspace_notifications).
    sentinel_keyspace_notifications(asio::io_context& io, sentinel_options options);
    ~sentinel_keyspace_notifications() override;

    /// The primary as last confirmed (nullopt before the first).
    [[nodiscard]] std::optional<net::endpoint> primary() const;
    /// Asks the sentinels now, and confirms the answer with ROLE (returns at once).
    void refresh_primary();

  private:
    void init(sentinel_options options);
    struct controller;
    std::shared_ptr<controller> controller_;
};

}  // namespace ksn
