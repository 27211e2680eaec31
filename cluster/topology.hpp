// A Redis Cluster topology: which primary serves which slot ranges, with its replicas,
// and which primaries serve no slot yet (spares), parsed from CLUSTER SHARDS (Redis 7+)
// or CLUSTER SLOTS (RESP2 and RESP3 shapes, Redis 7 node ids and hostname metadata; it
// lists no spare), and the difference between two of them.
//
// An empty or "?" endpoint in a reply means "the address you asked" (the server does not
// know its own address); parse functions take that address for it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../net/options.hpp"
#include "../protocol/value.hpp"
#include "slot.hpp"

namespace ksn::cluster {

struct slot_range {
    std::uint16_t first = 0;
    std::uint16_t last = 0;  ///< inclusive
    friend bool operator==(const slot_range&, const slot_range&) = default;
    friend auto operator<=>(const slot_range&, const slot_range&) = default;
};

struct node_info {
    std::string id;  ///< the node id (40 hex), empty when the server does not say
    net::endpoint address;
    friend bool operator==(const node_info&, const node_info&) = default;
};

struct shard {
    std::vector<slot_range> slots;  ///< sorted, merged
    node_info primary;
    std::vector<node_info> replicas;
};

class topology {
  public:
    topology() = default;
    /// Groups ranges by primary (by endpoint), sorts and merges them, and computes the
    /// signature. A spare that is also a shard's primary is left out of the spares.
    explicit topology(std::vector<shard> shards, std::vector<node_info> spares = {});

    /// The primaries that serve slots, with their replicas.
    const std::vector<shard>& shards() const noexcept { return shards_; }
    /// The reachable primaries that serve no slot, sorted by address: a node added to
    /// the cluster and not given slots yet, or one emptied before its removal. Only
    /// CLUSTER SHARDS lists them (a primary the cluster marks failed is not one).
    const std::vector<node_info>& spares() const noexcept { return spares_; }
    /// A hash of the slot assignment and primaries: equal topologies have equal
    /// signatures, so a refresh that changed nothing costs one comparison.
    std::uint64_t signature() const noexcept { return signature_; }
    /// The shard serving `slot`, or nullptr for an unassigned slot.
    const shard* owner(std::uint16_t slot) const noexcept;
    /// Every node address, primaries first, then spares, then replicas (for asking
    /// another node when one fails).
    std::vector<net::endpoint> endpoints() const;
    bool empty() const noexcept { return shards_.empty(); }
    /// True when every slot is served.
    bool complete() const noexcept;

  private:
    std::vector<shard> shards_;
    std::vector<node_info> spares_;
    std::vector<std::uint16_t> owner_;  // slot -> shard index + 1 (0: none)
    std::uint64_t signature_ = 0;
};

/// What changed between two topologies, by primary endpoint.
struct topology_diff {
    std::vector<node_info> added;     ///< primaries now that were not primaries before
    std::vector<node_info> removed;   ///< primaries before that are not now
    std::vector<node_info> promoted;  ///< of `added`, those that were replicas before
    std::vector<node_info> demoted;   ///< of `removed`, those that are replicas now
    /// Slot ranges whose primary changed: [range, old primary endpoint (may be empty),
    /// new primary endpoint (may be empty)].
    struct move {
        slot_range range;
        std::string from;
        std::string to;
    };
    std::vector<move> moved;
    bool empty() const noexcept { return added.empty() && removed.empty() && moved.empty(); }
};

[[nodiscard]] topology_diff diff(const topology& before, const topology& after);

/// Parses a CLUSTER SLOTS reply. `asked` stands in for empty or "?" hosts. Returns
/// nullopt (and sets `error` to a sentence) when the reply does not have the documented
/// shape.
[[nodiscard]] std::optional<topology> parse_cluster_slots(const protocol::value& reply,
                                                          const net::endpoint& asked,
                                                          std::string& error);

/// Parses a CLUSTER SHARDS reply (Redis 7+). Nodes whose health is not "online" are
/// left out of the replicas; a shard whose primary is not online keeps it (its slots
/// still belong to it until a failover). A shard without slots whose primary is online
/// gives a spare. `tls`: the port to reach a node on is its "tls-port" (else "port"), as
/// a server with tls-cluster lists both or only the TLS one.
[[nodiscard]] std::optional<topology> parse_cluster_shards(const protocol::value& reply,
                                                           const net::endpoint& asked,
                                                           std::string& error, bool tls = false);

/// What a node says of itself: the "myself" line of its CLUSTER NODES reply.
struct own_view {
    bool primary = false;       ///< flags say master (else slave/replica)
    bool serves_slots = false;  ///< a primary with at least one slot (or slot range)
};

/// Parses the "myself" line of a CLUSTER NODES reply (`<id> <addr> <flags> <primary-id>
/// <ping> <pong> <epoch> <link> [<slot> ...]`); nullopt when there is none or it is short.
/// Importing and migrating slots (`[5461->-id]`) are not served slots.
[[nodiscard]] std::optional<own_view> parse_myself(std::string_view cluster_nodes);

/// Why a former primary asked CLUSTER NODES can be let go, from the answer (`ec` empty:
/// `reply` is the text) or the error (a net::errc): "it is a replica now", "it serves no
/// slot", "it is gone (connection refused)"; empty while it must be kept (it says it is a
/// primary with slots, it did not answer in time, the answer does not parse).
[[nodiscard]] std::string retire_reason(const std::error_code& ec, std::string_view reply);
/// retire_reason()'s answer for a node that refuses connections.
inline constexpr std::string_view retired_gone = "it is gone (connection refused)";

}  // namespace ksn::cluster
