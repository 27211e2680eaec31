// What a cluster notifier does about a new topology, decided without I/O: which nodes to
// subscribe (the primaries, the spares — primaries that serve no slot yet, so that a node
// added to the cluster is subscribed before it takes slots over and nothing it executes
// goes unheard — plus the replicas when asked), with the slot ranges each serves, which
// subscribed nodes to close (demoted, removed, failed over), and which gap each new node
// reports once it is covered (the slots it took over from another node, since the last
// topology in which that node still owned them, or since that node's connection broke,
// whichever is earlier).
//
// cluster_keyspace_notifications applies the plan to its node subscribers; the decisions
// are unit-tested here (tests/unit/cluster/subscription_plan_test.cpp).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../notifications/delivery.hpp"
#include "topology.hpp"

namespace ksn::cluster {

struct subscription_plan {
    struct node {
        net::endpoint address;
        /// [first, last] ranges; empty for a replica and a spare.
        std::vector<std::pair<std::uint16_t, std::uint16_t>> slots;
        /// A primary that serves no slot (topology::spares()): subscribed while it is
        /// one, but no reason to take back a node that is leaving.
        bool spare = false;
    };
    /// Every node to be subscribed after the change, by name ("host:port"), sorted.
    std::map<std::string, node> wanted;
    /// Subscribed nodes to close: no longer wanted.
    std::vector<std::string> close;
    /// Of the wanted nodes, those not subscribed yet.
    std::vector<std::string> open;
    /// Gaps the new nodes report once covered (reason topology_change), by node name.
    std::vector<std::pair<std::string, gap_event>> gaps;
    /// For each node of `gaps`, the nodes it took the slots from (empty names left out).
    std::map<std::string, std::set<std::string>> took_from;
};

/// `now` and `before` (nullptr the first time) as the tracker reports them, with
/// `previous_refresh` the time `before` was last confirmed. `subscribed` names the nodes
/// subscribed now, each with the start of its current interruption if it is in one.
/// `served` (may be null) holds the nodes (node_key()) that earlier topologies listed
/// as a primary with slots or as a replica: such a spare is not opened (a primary failed
/// over while down is a spare for a moment when it runs again, on its way to becoming a
/// replica whose stream would repeat its new primary's); a subscribed one is kept.
[[nodiscard]] subscription_plan plan_subscriptions(
    const topology& now, const topology* before, clock::time_point previous_refresh,
    const std::map<std::string, std::optional<clock::time_point>>& subscribed,
    bool subscribe_replicas, const std::set<std::string>* served = nullptr);

/// A node's identity for `served`: its id, or its address when the server gives none.
[[nodiscard]] std::string node_key(const node_info& n);
/// Adds every primary with slots and every replica of `t` to `served`.
void add_served(const topology& t, std::set<std::string>& served);

}  // namespace ksn::cluster
