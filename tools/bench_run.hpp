// `ksn bench`: drives a write load at a Redis server or cluster with its own writer
// connections, subscribes with ksn, matches every notification to its write (see
// bench_matcher.hpp) and reports what arrived, what did not, and how late.
//
// A run: discover the nodes (CLUSTER SLOTS in cluster mode; with sentinels, the primary
// and replicas they name); check notify-keyspace-events on every node (or set it with
// `configure`); subscribe; write for `duration` or `ops`
// (whichever comes first, or until stop_requested()); wait for the replies still due and
// then up to `drain` for the notifications still due; delete the keys written (unless
// `keep_keys`); report.
//
// With sentinels, the notifier is a sentinel_keyspace_notifications and the writers write
// to the primary it confirmed. A thread of the run's own asks it again (primary(), a
// blocking query to the notifier's I/O thread) four times a second, and at once when a
// write's connection fails or a write answers READONLY (a demoted primary); the writers
// then move to the new primary. A READONLY write is sent again there, every 100 ms, at
// most 50 times, like a cluster's TRYAGAIN.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "net/options.hpp"
#include "notifications/channel.hpp"
#include "protocol/value.hpp"
#include "tools/bench_matcher.hpp"

namespace ksn::tools::bench {

struct bench_config {
    net::connection_options connection;  ///< address, credentials, TLS of every connection
    bool cluster = false;
    std::vector<net::endpoint> seeds;  ///< cluster: where to discover it (connection.address too)
    /// Cluster: stop unless every primary is reachable at the start. false (the default):
    /// the run goes on with the primaries it reaches; the keys of an unreachable one are
    /// not written while it stays so, and its slots lie in a node_unreachable gap.
    bool require_every_primary = false;
    /// --redundancy (cluster or sentinel): a standby replica per primary.
    ksn::redundancy_mode redundancy = ksn::redundancy_mode::none;
    /// Redis Sentinel (not with `cluster`): the sentinels that name the primary
    /// `primary_name`; `connection` is then the data nodes' credentials and TLS, and its
    /// address the primary at the start (the run fills it in).
    std::vector<net::endpoint> sentinels;
    std::string primary_name;
    net::connection_options sentinel_connection;  ///< the sentinels' own (address ignored)

    std::uint32_t writers = 4;    ///< writers (in a cluster, each connects to every primary)
    std::uint32_t pipeline = 16;  ///< commands in flight per writer
    double rate = 0;              ///< writes per second over all writers; 0: as fast as possible
    double duration = 10;         ///< seconds of writing (0: until `ops`)
    std::uint64_t ops = 0;        ///< writes in all (0: until `duration`)
    std::uint64_t keys = 10000;   ///< the key space
    std::string mix = std::string(default_mix);
    std::uint32_t hset_fields = 1;               ///< field-value pairs per HSET
    std::uint32_t value_size = 16;               ///< bytes per value
    std::string prefix;                          ///< key prefix; empty: "ksn-bench:<random>:"
    std::int32_t db = 0;                         ///< standalone only (a cluster has db 0)
    channel_kind kind = channel_kind::keyspace;  ///< keyspace or keyevent
    bool exact = false;                ///< SUBSCRIBE each channel instead of one PSUBSCRIBE
    std::uint32_t extra_patterns = 0;  ///< non-matching patterns that load the server
    bool configure = false;            ///< set notify-keyspace-events where it lacks flags
    double drain = 2;                  ///< seconds to wait for late notifications
    bool keep_keys = false;
    std::uint64_t seed = 0;  ///< of the random choices; 0: from the clock

    /// Polled about every 100 ms; true stops the run early (with partial results).
    std::function<bool()> stop_requested;
    /// About twice a second while writing, for a progress line.
    std::function<void(double elapsed, const progress&)> on_progress;
    /// Once per second of the run, when it is over.
    std::function<void(const second_result&)> on_second;
    /// Warnings (a node whose flags cannot be read, the notifier's diagnostics).
    std::function<void(const std::string&)> on_warning;
};

struct bench_report {
    bench_config config;         ///< as run (prefix and seed filled in)
    std::string required_flags;  ///< the notify-keyspace-events letters the run needs
    std::vector<std::string> nodes_configured;  ///< nodes where `configure` set them
    std::size_t subscriptions = 0;              ///< channels and patterns subscribed (per node)
    double elapsed = 0;                         ///< seconds of writing
    bool interrupted = false;                   ///< stopped by stop_requested()
    double write_rate = 0;                      ///< writes sent per second of writing
    double notification_rate = 0;               ///< notifications received per second of writing
    std::string first_error;                    ///< the first error reply to a write, if any
    std::uint64_t moved = 0;                    ///< MOVED redirections followed
    std::uint64_t asked = 0;                    ///< ASK redirections followed
    std::uint64_t retried = 0;   ///< TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN, READONLY retries
    std::uint64_t switches = 0;  ///< sentinel: primary switches the writers followed
    match_result result;
    std::vector<second_result> timeline;
};

/// Why a run could not start.
struct run_error {
    std::string message;  ///< a sentence
    bool usage = false;   ///< the configuration is wrong (else: the server, the network)
};

/// Runs a benchmark. Returns nullopt with `error` set when it cannot run (a bad
/// configuration, no server, notifications off without `configure`, subscribe refused).
std::optional<bench_report> run(bench_config config, run_error& error);

// Pure pieces of the Sentinel mode, exposed for the unit tests.

/// The replicas a SENTINEL REPLICAS reply lists (RESP2 arrays or RESP3 maps of name,
/// value: "ip", "port", "flags"), leaving out those the sentinel flags s_down, o_down or
/// disconnected, and entries without a usable address.
[[nodiscard]] std::vector<net::endpoint> sentinel_replicas(const protocol::value& reply);

/// True for the error a write gets from a primary the sentinels demoted ("READONLY You
/// can't write against a read only replica."): exactly READONLY, then a space or the end.
[[nodiscard]] bool is_readonly_error(std::string_view message) noexcept;

}  // namespace ksn::tools::bench
