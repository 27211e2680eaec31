// Slot routing for a client that writes to a Redis Cluster: the slot -> node table built
// from a topology and corrected by MOVED redirections, the strict parser of MOVED / ASK
// error replies, and the classification of the error replies a cluster client acts on.
// Pure code: no I/O, no Asio; the caller owns the connections, indexed by the node numbers
// the router hands out.
//
// The redirect grammar is what Redis 7 sends (cluster.c, clusterRedirectClient()):
//   "MOVED <slot> <endpoint>:<port>" and "ASK <slot> <endpoint>:<port>"
// with the slot and port printed by %d and the endpoint as cluster-preferred-endpoint-type
// says: the node's IP (IPv6 without brackets: "MOVED 3999 ::1:7001"), its hostname, "?"
// (hostname preferred but the node has none) or "" (unknown-endpoint: "MOVED 3999 :7001").
// https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#moved-redirection
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "../net/options.hpp"
#include "slot.hpp"
#include "topology.hpp"

namespace ksn::cluster {

enum class redirect_kind : std::uint8_t {
    moved,  ///< the slot lives on another node now: update the table, resend there
    ask,    ///< the slot is migrating: send ASKING then the command there, once
};

/// A parsed MOVED or ASK. `host` is a view into the message given to parse_redirect():
/// valid as long as those bytes are.
struct redirect {
    redirect_kind kind = redirect_kind::moved;
    std::uint16_t slot = 0;  ///< 0..16383
    /// Brackets removed ("[::1]" gives "::1"). Empty or "?": the server did not say (its
    /// cluster-preferred-endpoint-type is unknown-endpoint, or hostname without one).
    std::string_view host;
    std::uint16_t port = 0;  ///< 1..65535

    /// Where to go: {host, port}, or, when the host is empty or "?", the host of the node
    /// that answered with `port` (the documented meaning of unknown-endpoint: use the
    /// endpoint you already use).
    [[nodiscard]] net::endpoint target(const net::endpoint& answered) const;
};

/// Parses `message`, the text of an error reply (without the leading '-'), as
/// "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>": the word in capitals, one
/// space, the slot as decimal digits only (no sign, no empty field, at most 16383), one
/// space, the host (no byte below 0x21 or 0x7f; "[...]" brackets allowed around it), the
/// last ':' and the port as decimal digits only (1..65535), and nothing after it.
/// nullopt for anything else, including every malformed redirect.
[[nodiscard]] std::optional<redirect> parse_redirect(std::string_view message) noexcept;

/// What a cluster client does about an error reply.
enum class error_class : std::uint8_t {
    moved,        ///< a well-formed MOVED (parse_redirect() succeeds)
    ask,          ///< a well-formed ASK
    retry_later,  ///< TRYAGAIN, CLUSTERDOWN, LOADING or MASTERDOWN: the same node, later
    other,        ///< anything else, including a malformed MOVED or ASK: give up
};

/// Classifies the text of an error reply by its first word (exact, in capitals, followed
/// by a space or the end). A MOVED or ASK counts as such only when it parses.
[[nodiscard]] error_class classify_error(std::string_view message) noexcept;

/// The slot -> node table. Nodes are numbered in the order they are first seen, from 0;
/// a number never changes and never goes away (a node that left the cluster keeps its
/// number, owning no slot), so the caller may index its connections by it.
class router {
  public:
    /// The owner of a slot no node serves.
    static constexpr std::uint32_t no_node = ~0u;

    /// A standalone server: node 0 serves every slot; clustered() is false.
    explicit router(net::endpoint node);
    /// A cluster: each slot to the primary of its shard in `t` (no_node where none).
    explicit router(const topology& t);

    /// False for a standalone server (redirects cannot happen there).
    bool clustered() const noexcept { return clustered_; }

    /// The node serving `slot`, or no_node (an unserved slot, or slot >= slot_count).
    [[nodiscard]] std::uint32_t node_of(std::uint16_t slot) const noexcept;
    [[nodiscard]] std::uint32_t node_of_key(std::string_view key) const noexcept {
        return node_of(key_slot(key));
    }

    /// Replaces the whole table by a fresh topology (after a failover, a resharding):
    /// every slot goes to the primary `t` names for it, no_node where it names none. New
    /// primaries are added; numbers already given stay. On a standalone router it does
    /// nothing.
    void update(const topology& t);

    /// Follows a redirect answered by `answered`: adds its target (see
    /// redirect::target()) and, for MOVED on a cluster router, makes it the owner of the
    /// slot. ASK changes nothing in the table. Returns the target's number.
    std::uint32_t follow(const redirect& r, const net::endpoint& answered);

    /// The number of `e`, adding it if it is new.
    std::uint32_t add(const net::endpoint& e);
    /// The number of `e`, if it was seen.
    [[nodiscard]] std::optional<std::uint32_t> find(const net::endpoint& e) const noexcept;
    /// The address of node `i` (i < size()).
    const net::endpoint& node(std::uint32_t i) const { return nodes_[i]; }
    /// Nodes seen so far.
    std::size_t size() const noexcept { return nodes_.size(); }

  private:
    std::vector<net::endpoint> nodes_;
    std::vector<std::uint32_t> owner_;  // by slot; one entry (node 0) when standalone
    bool clustered_ = false;
};

}  // namespace ksn::cluster
