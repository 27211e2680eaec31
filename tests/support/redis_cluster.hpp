// A real Redis Cluster for integration tests: N primaries with R replicas each, made of
// redis-server processes on free loopback ports and built directly (CLUSTER ADDSLOTSRANGE,
// MEET, REPLICATE: what `redis-cli --cluster create` does, without its fixed waits); torn
// down by the destructor. Resharding still goes through `redis-cli --cluster reshard`.
// Plus a writer that routes each key to the primary owning its slot and follows MOVED /
// ASK.
//
// Every time limit here is scaled by time_scale() (tests/support/timing.hpp).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/router.hpp"
#include "cluster/topology.hpp"
#include "net/options.hpp"
#include "tests/support/redis_server.hpp"

namespace ksn::test {

/// The node's id (CLUSTER MYID).
std::string cluster_node_id(redis_server& node);

/// redis-cli; throws with a clear message if absent.
std::string redis_cli_path();

/// A child process started by spawn_reading().
struct spawned {
    pid_t pid = -1;
    int out = -1;  ///< the read end of its stdout (and stderr, when asked)
};

/// Starts argv[0] (a path) with stdin from /dev/null and stdout on a pipe (stderr too
/// with `with_stderr`); with `die_with_parent` the kernel kills it if the caller dies.
/// Throws std::runtime_error when pipe() or fork() fails; exec failure exits 127.
spawned spawn_reading(const std::vector<std::string>& argv, bool with_stderr,
                      bool die_with_parent = false);

/// Runs a command line, returns its exit status and output (stdout and stderr), bounded
/// by `limit` scaled by time_scale() (then killed).
int run_command(const std::vector<std::string>& argv, std::string& output,
                std::chrono::seconds limit = std::chrono::seconds(60));

class redis_cluster {
  public:
    /// Extra config lines for every node, and optionally per node (given its index and
    /// the port it got).
    using per_node_config =
        std::function<std::vector<std::string>(std::size_t index, std::uint16_t port)>;
    /// Starts the nodes, gives primary i the i-th of `primaries` equal slot ranges, joins
    /// them, makes replica j (j = 0 .. primaries * replicas - 1) follow primary
    /// j % primaries, and returns once wait_stable(30 s, replicas) holds. Throws
    /// std::runtime_error saying which condition did not hold.
    explicit redis_cluster(int primaries = 3, int replicas = 1,
                           std::vector<std::string> extra_config = {},
                           per_node_config per_node = {});
    ~redis_cluster();

    std::vector<std::unique_ptr<redis_server>>& nodes() noexcept { return nodes_; }
    redis_server& node(std::uint16_t port);
    std::vector<net::endpoint> seeds() const;

    /// CLUSTER SLOTS as seen by the first live node.
    cluster::topology topology();
    /// Waits until every live node says cluster_state:ok, they all agree on the topology
    /// (the same CLUSTER SLOTS signature), every replica's link to its primary is up and,
    /// when `replicas` is set, every primary has that many replicas. Throws (with the
    /// condition that failed last and the failing node's view) after `limit`, scaled.
    void wait_stable(std::chrono::seconds limit = std::chrono::seconds(30), int replicas = -1);
    /// The port of the primary that owns `key` now.
    std::uint16_t owner_port(std::string_view key);

    /// Starts a new empty cluster node and joins it (CLUSTER MEET); returns it once every
    /// live node knows every other and they agree on the slots (what reshard needs).
    redis_server& add_node();

    /// Moves `slots` slots from one primary to another with `redis-cli --cluster reshard`
    /// (keys migrate with MIGRATE; clients meet ASK, then MOVED). Asks again while
    /// redis-cli refuses because a node's view still lags; throws with redis-cli's output
    /// if it fails otherwise. Every primary must then see `to` own each slot redis-cli
    /// moved; one that does not within 5 s (scaled) (a Redis 7.0 race: the slot's new owner can
    /// drop it on a stale gossip message of the node that lost its last slot, and no node
    /// claims it again) is told again with CLUSTER SETSLOT NODE, and that is printed.
    void reshard(redis_server& from, redis_server& to, int slots);

  private:
    /// The primaries that do not see `to` own each of `slots`, one line each; with
    /// `repair`, each is sent CLUSTER SETSLOT <slot> NODE <to> for those slots.
    std::string misowned(const std::vector<std::uint16_t>& slots, redis_server& to, bool repair);
    /// Why the cluster is not stable in wait_stable()'s sense; empty when it is.
    std::string unstable_reason(int replicas);

    std::vector<std::unique_ptr<redis_server>> nodes_;
    std::vector<std::string> config_;
};

/// Writes to a cluster: each command goes to the owner of its key's slot.
class cluster_writer {
  public:
    explicit cluster_writer(redis_cluster& c) : cluster_(c) { refresh(); }
    /// Sends `args` (whose key is args[key_index]) to the key's owner; follows MOVED and
    /// ASK and retries TRYAGAIN/CLUSTERDOWN/LOADING/MASTERDOWN (bounded); a malformed
    /// redirect or another error throws. Returns the port that executed it.
    std::uint16_t command(const std::vector<std::string>& args, std::size_t key_index = 1);
    /// SET each key on its owner, pipelined per node; returns the port of each key.
    std::vector<std::uint16_t> set_many(const std::vector<std::string>& keys);
    /// SET key value on the owner.
    std::uint16_t set(const std::string& key, const std::string& value = "v") {
        return command({"SET", key, value});
    }
    void refresh();
    /// Connections open now (one per node written to since it last failed).
    std::size_t connections() const noexcept { return clients_.size(); }

  private:
    client& to(std::uint16_t port);
    /// The port of the primary that owns `key` in the router's table.
    std::uint16_t port_of(std::string_view key) const;
    redis_cluster& cluster_;
    std::map<std::uint16_t, std::unique_ptr<client>> clients_;
    // The same slot router as ksn bench's writers (cluster/router.hpp).
    std::optional<cluster::router> router_;
};

}  // namespace ksn::test
