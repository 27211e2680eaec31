// The subscribe and unsubscribe operations in flight, without I/O.
//
// An operation is sent to every node the notifier has and finishes when each node has
// answered, when one node fails it, or when its deadline (opened + subscribe_timeout)
// passes first. A subscribe may be parked: a cluster notifier that does not know its
// nodes yet keeps it (its deadline running) until they are known. The table owns the
// decisions around that:
//   - when an operation is finished, and which error wins (the first one);
//   - which operations time out at a given time, and the one deadline the notifier's
//     single timer waits for;
//   - what a timeout says (the operation, the bound, the nodes that did not confirm);
//   - what a finished operation leaves behind: a failed subscribe is undone (what it
//     added to the registry is removed and unsubscribed again), a successful one is
//     checked against the servers' notify-keyspace-events under notify_check;
//   - partial availability (a cluster subscribe opened `partial`): a node that cannot be
//     reached (not_connected) or does not confirm in time does not fail it while another
//     node confirmed; the subscribe succeeds and names those nodes (degraded), each owing
//     a node_unreachable gap. With no node confirmed it fails as before.
// notifier_core (operations.cpp) only runs it: it asks the nodes, arms the timer at
// deadline(), applies the undo and runs the completion. Times come in as arguments;
// nothing here reads a clock (tests/unit/notifications/operation_table_test.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "../delivery.hpp"
#include "../notifier_options.hpp"
#include "subscription_registry.hpp"

namespace ksn::detail {

class operation_table {
  public:
    /// A node a partial subscribe went ahead without, and why.
    struct degraded_node {
        std::string node;
        std::string why;
        friend bool operator==(const degraded_node&, const degraded_node&) = default;
    };

    /// An operation out of the table: what the notifier does with it next.
    struct finished {
        std::uint64_t id = 0;
        bool unsubscribe = false;
        /// When it was opened (where a degraded node's gap begins).
        clock::time_point opened;
        /// Partial: the nodes it succeeded without (empty when it failed).
        std::vector<degraded_node> degraded;
        /// The keys the subscribe added to the registry (empty for an unsubscribe).
        std::vector<subscription_key> added;
        completion done;
        std::error_code ec;
        std::string detail;

        /// Fails it with `ec` unless it failed already (the first error wins).
        void fail(const std::error_code& e, std::string why);
        /// What must be undone: a failed subscribe's added keys (removed from the registry
        /// and unsubscribed on every ready node); empty otherwise.
        std::vector<subscription_key> undo() const;
        /// Whether the notify-keyspace-events check applies: a subscribe that succeeded,
        /// under a check other than off.
        bool needs_flags_check(notify_check check) const noexcept;
        /// Applies the check's outcome: `missing` names what no server provides (nullopt:
        /// everything is). Under require it fails the operation with
        /// notifications_disabled (so undo() undoes it); under warn it returns the warning
        /// to report and the operation stands.
        std::optional<std::string> apply_flags_check(notify_check check,
                                                     const std::optional<std::string>& missing);
    };

    explicit operation_table(std::chrono::milliseconds timeout) : timeout_(timeout) {}

    /// Opens an operation waiting for `nodes` answers, due at now + timeout. `added` are
    /// the keys a subscribe added (what an undo removes); `parked`: it waits for the first
    /// nodes before it is sent (unpark()); `partial`: a subscribe that may succeed without
    /// the nodes it cannot reach (see above).
    std::uint64_t open(bool unsubscribe, std::vector<subscription_key> added, std::size_t nodes,
                       bool parked, completion done, clock::time_point now, bool partial = false);
    /// A fresh id for a command nobody waits for (the unsubscribes of an undo), never one
    /// an operation has.
    std::uint64_t reserve_id() noexcept { return next_id_++; }

    bool contains(std::uint64_t id) const noexcept { return ops_.count(id) != 0; }
    std::size_t size() const noexcept { return ops_.size(); }
    bool empty() const noexcept { return ops_.empty(); }

    /// Node `node` answered `id` (ec empty: confirmed). Returns the operation once every
    /// node has answered or at the first error (for a partial subscribe, not_connected is
    /// not one: the node is degraded); nullopt while it waits, or when `id` is not in the
    /// table (it finished already: a late answer).
    std::optional<finished> answer(std::uint64_t id, const std::error_code& ec,
                                   const std::string& detail, const std::string& node = {});

    /// The earliest deadline of an operation in the table (what the timer waits for).
    std::optional<clock::time_point> deadline() const;
    /// The operations due by `now` (deadline <= now), earliest deadline first.
    std::vector<std::uint64_t> expired(clock::time_point now) const;
    /// Takes `id` out as timed out: notifier_errc::subscribe_timeout, its detail naming
    /// the bound and `late` (the nodes and keys that did not confirm; empty: no node was
    /// known). A partial subscribe that a node confirmed succeeds instead, `late_nodes`
    /// degraded. `id` must be in the table.
    finished time_out(std::uint64_t id, const std::string& late,
                      const std::vector<std::string>& late_nodes = {});
    /// Takes `id` out with `ec` (a no-op error keeps its own first error). `id` must be in
    /// the table.
    finished fail(std::uint64_t id, const std::error_code& ec, const std::string& detail);
    /// Takes `id` out as it is (succeeded unless a node failed it). `id` must be in the table.
    finished take(std::uint64_t id);

    /// The parked operations, in id order.
    std::vector<std::uint64_t> parked() const;
    /// Sends parked `id` to `nodes` nodes: it now waits for their answers. Returns the keys
    /// to send. `id` must be in the table and parked.
    const std::vector<subscription_key>& unpark(std::uint64_t id, std::size_t nodes);

    /// Every operation, each failed with `ec` unless it failed already, in id order; the
    /// table is empty after (the notifier closes).
    std::vector<finished> take_all(const std::error_code& ec, const std::string& detail);

  private:
    struct operation {
        finished result;
        std::size_t waiting = 0;
        std::size_t confirmed = 0;
        clock::time_point due;
        bool parked = false;
        bool partial = false;
    };
    /// Every node answered: a partial subscribe no node confirmed fails.
    static void settle(operation& op);
    finished extract(std::map<std::uint64_t, operation>::iterator it);

    std::chrono::milliseconds timeout_;
    std::map<std::uint64_t, operation> ops_;
    std::uint64_t next_id_ = 1;
};

}  // namespace ksn::detail
