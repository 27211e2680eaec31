// A real Redis Sentinel deployment for integration tests: one primary and one replica
// (redis-server processes on free loopback ports, notify-keyspace-events KEA) watched by
// three sentinels (redis-server --sentinel, each in its own temporary directory with a
// config file it rewrites, kept across its restarts), all torn down by the destructor.
// The constructor returns once the deployment is stable in wait_stable()'s sense, so a
// test can kill the primary or ask for a failover at once.
//
// The sentinels run with shorter periods than a production sentinel (SENTINEL DEBUG, as
// Redis's own Sentinel tests do; redis_sentinel.cpp says which and why), and
// down-after-milliseconds is 1 s (scaled). Costs at time scale 1, Redis 7.0: the start
// takes under 1 s. kill9() of the primary to every sentinel naming the replica: about
// 2.5 s (down-after, the quorum, the vote, the promotion). A manual failover() switches
// in about 0.6 s, but the old primary answers ROLE master, accepting writes, until a
// sentinel makes it a replica about 2 s later (8 s and more with the default periods);
// a restarted old primary likewise. wait_stable() after a failover: about 3 s.
//
// Every time limit here is scaled by time_scale() (tests/support/timing.hpp): callers pass
// the bound an unsanitized build needs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/options.hpp"
#include "tests/support/redis_server.hpp"

namespace ksn::test {

struct sentinel_options {
    /// The name the sentinels monitor the primary by (`sentinel monitor <name> ...`).
    std::string primary_name = "ksnprimary";
    /// How many sentinels (at least 1) and how many must agree that the primary is down.
    int sentinels = 3;
    int quorum = 2;
    /// Extra config lines for both data nodes and for every sentinel, after the fixture's
    /// own (so after `sentinel monitor`: a line may name the primary).
    std::vector<std::string> data_config;
    std::vector<std::string> sentinel_config;
    /// Authentication on the data nodes. With a password and no user: `requirepass`.
    /// With both: `user default off` and the user with every permission. Either way the
    /// data nodes get masterauth (and masteruser), the sentinels `sentinel auth-pass`
    /// (and `auth-user`), and the fixture authenticates its own commands to the data nodes.
    std::string data_user;
    std::string data_password;
    /// Authentication on the sentinels: `requirepass` (with a user: `user default off` and
    /// the user), and `sentinel sentinel-pass` (`sentinel-user`) so that they can talk to
    /// each other; the fixture authenticates its own commands to them.
    std::string sentinel_user;
    std::string sentinel_password;
};

class redis_sentinel_set {
  public:
    using options = sentinel_options;

    /// Starts the primary, then the replica (`replicaof` the primary) and waits for its
    /// link, then the sentinels, and returns once wait_stable(30 s) holds. Throws
    /// std::runtime_error naming the condition that did not hold and the node's view.
    explicit redis_sentinel_set(options opts = {});
    ~redis_sentinel_set();
    redis_sentinel_set(const redis_sentinel_set&) = delete;
    redis_sentinel_set& operator=(const redis_sentinel_set&) = delete;

    const options& opts() const noexcept { return opts_; }
    const std::string& primary_name() const noexcept { return opts_.primary_name; }

    /// The sentinels' addresses (127.0.0.1), in the order of sentinel(i).
    std::vector<net::endpoint> sentinel_endpoints() const;
    /// Sentinel i (to stop, kill9 or pause it). Its command() authenticates. Restart it
    /// with start_sentinel(i), which sets the fixture's periods again.
    redis_server& sentinel(std::size_t i) { return *sentinels_.at(i); }
    /// Starts sentinel i again (after stop() or kill9()) with the config it rewrote (its
    /// id, epochs and the primary it last followed) and the fixture's periods.
    void start_sentinel(std::size_t i);
    std::size_t sentinel_count() const noexcept { return sentinels_.size(); }

    /// The data nodes: [0] was the primary at start, [1] its replica. Their command()
    /// authenticates. node(port) throws when no data node has that port.
    std::vector<std::unique_ptr<redis_server>>& data_nodes() noexcept { return data_; }
    redis_server& node(std::uint16_t port);
    redis_server& primary_at_start() { return *data_[0]; }
    redis_server& replica_at_start() { return *data_[1]; }
    /// The data node other than `port` (there are two).
    redis_server& other_node(std::uint16_t port);

    /// The port every live sentinel (running, not paused) names for the primary now
    /// (SENTINEL GET-MASTER-ADDR-BY-NAME). Throws when they disagree, when one does not
    /// answer or names none, or when no sentinel is live.
    std::uint16_t current_primary();
    /// Waits until every live sentinel names one primary other than `from_port` and that
    /// node answers ROLE "master"; returns its port. Throws, with what each sentinel said,
    /// after `limit` (scaled). (The promoted replica answers ROLE master about 1 s before
    /// the failover's leader names it, and the leader names it a moment before the others.)
    std::uint16_t wait_primary_changed(std::uint16_t from_port,
                                       std::chrono::seconds limit = std::chrono::seconds(30));
    /// Waits until the data node on `port` answers ROLE "slave" of 127.0.0.1:`primary_port`
    /// in state "connected" and INFO replication says master_link_status:up. Throws with its
    /// last answer after `limit` (scaled).
    void wait_replica_of(std::uint16_t port, std::uint16_t primary_port,
                         std::chrono::seconds limit = std::chrono::seconds(30));

    /// SENTINEL FAILOVER <name> on the first live sentinel; throws with the server's text
    /// when refused (-NOGOODSLAVE while no sentinel-approved replica is known, -INPROG
    /// during a failover: call wait_stable() first). Returns at once: wait for the switch
    /// with wait_primary_changed(). (After an automatic failover attempt that did not
    /// complete, a split vote or no good replica, a sentinel waits 2 * failover-timeout,
    /// 10 s scaled, before it tries again; a completed failover resets that.)
    void failover();

    /// Waits until every live sentinel is out of TILT mode and names the same primary,
    /// whose flags there are just "master" (no failover in progress, not down, connected);
    /// that node answers ROLE "master"; every other data node is running, not paused, and
    /// its replica with the link up; every live sentinel lists each replica with the flags
    /// "slave", reporting the role slave of that primary with its link ok, and lists every
    /// other live sentinel as not down. Then SENTINEL FAILOVER succeeds, and so does an
    /// automatic failover. Throws (with the condition that failed last and that node's
    /// view) after `limit` (scaled). Returns the primary's port.
    std::uint16_t wait_stable(std::chrono::seconds limit = std::chrono::seconds(30));

  private:
    /// Why the deployment is not stable in wait_stable()'s sense; empty when it is.
    std::string unstable_reason(std::uint16_t& primary);
    /// The sentinels that are running and not paused.
    std::vector<std::size_t> live_sentinels() const;

    options opts_;
    std::vector<std::string> data_auth_;      ///< AUTH arguments for the data nodes, or none
    std::vector<std::string> sentinel_auth_;  ///< and for the sentinels
    std::vector<std::unique_ptr<redis_server>> data_;
    std::vector<std::unique_ptr<redis_server>> sentinels_;
};

}  // namespace ksn::test
