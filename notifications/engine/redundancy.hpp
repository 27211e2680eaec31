// Redundancy (cluster_options::redundancy, sentinel_options::redundancy): a standby replica
// beside a primary, so that when the primary's stream stops the replica's continues it.
//
// A pair is a primary's node_link and a standby node_link on one of its replicas, sharing
// a replica_window (replica_window.hpp). Its states:
//   - holding: the primary delivers; the standby's messages are held and matched;
//   - following: the primary's connection was lost (lost()); if the standby is covered
//     and unbroken and its window holds everything since the primary's stream was last
//     known whole (the primary's open gap starts there), the window is replayed from
//     that instant, marked redelivered, and the standby delivers;
//   - switching back: the primary is subscribed again and reports its gap (filter()):
//     the gap is held back while a handover_runner in switch-back mode checks that the
//     standby has applied what the primary had acknowledged when it was covered again
//     (INFO replication, with the primary still on the replication id it had when the
//     pair began) and reads the standby's stream past that point (a PING). Then the gap
//     is dropped: the standby covered it. If not, the gap is reported, its detail saying
//     why; if the standby itself broke while following, the gap is reported from where
//     it broke.
// A standby promoted (the primary failed over) becomes an ordinary node: promoted() says
// whether it continued its primary's stream unbroken since it stopped, and then the
// slots changed hands with no gap.
//
// The standby's own gaps are never reported: only a stream that delivers can lose
// anything. Everything here runs on the notifier's I/O thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../../net/command_connection.hpp"
#include "../delivery.hpp"
#include "handover_runner.hpp"
#include "replica_window.hpp"

namespace ksn::detail {

class notifier_core;
class node_link;

class redundancy : public std::enable_shared_from_this<redundancy> {
  public:
    /// `who` prefixes its diagnostics ("cluster"); `switch_back`: how long the standby
    /// may take to catch up with its primary's new subscription (handover_timeout).
    static std::shared_ptr<redundancy> create(notifier_core& core, std::string who,
                                              replica_window::limits limits,
                                              std::chrono::milliseconds switch_back);
    redundancy(notifier_core& core, std::string who, replica_window::limits limits,
               std::chrono::milliseconds switch_back);

    /// Makes the node at `replica` the standby of `primary` (a node of the core), adding
    /// its link; a pair of `primary` with another replica ends first. Idempotent.
    void pair(const std::string& primary, const net::endpoint& replica);
    /// Ends the pair of `primary` (if any): the standby's link is removed.
    void unpair(const std::string& primary);
    /// The standby of `primary`; nullptr when it has none.
    const std::string* standby_of(const std::string& primary) const;
    /// Whether the standby of `primary` delivers in its place (following or switching back).
    bool following(const std::string& primary) const;
    /// The primaries paired now.
    std::vector<std::string> primaries() const;

    /// The standby `replica` is a primary now: it becomes an ordinary node and its pair
    /// ends. Answers the primary it stood by when its stream covers that primary's
    /// without a break (nothing was lost between the two), else nullopt: it had continued
    /// it unbroken since it stopped, or (promoted while the primary's stream still seemed
    /// whole: a stalled primary, a manual failover) its window, replayed from where the
    /// primary's stream was last known whole, holds everything since; or it followed the
    /// primary until its own stream broke (the primary's gap counts from that break) and
    /// its window holds everything since.
    /// What a promoted standby's stream covers of its primary's.
    struct promotion {
        std::string primary;  ///< the primary it stood by
        /// Its stream continues the primary's without a break (cut unset), or until its
        /// own stream was cut by the server (the sentinels cut a replica's subscribers
        /// when they promote it): only what came after the cut may be lost.
        bool continued = false;
        std::optional<clock::time_point> cut;
    };
    std::optional<promotion> promoted(const std::string& replica);

    /// `former`, a primary whose promoted standby continued its stream, is covered until
    /// `until`: its own later gaps count only from then on (filter(), retired()).
    void cover(const std::string& former, clock::time_point until);
    [[nodiscard]] bool covers(const std::string& former) const;
    /// The last gap of `former`, now retired (its connection is closed), as its coverage
    /// leaves it: none when `gone` (it refuses connections, so it acknowledged nothing
    /// after its standby took over), else counted from the end of its coverage. Forgets
    /// the coverage; a node not covered keeps its gap.
    std::optional<gap_event> retired(const std::string& former, std::optional<gap_event> gap,
                                     bool gone);

    /// Hook: `node`'s connection was lost.
    void lost(const std::string& node);
    /// Hook (notifier_core::gap_filter): a node's own gap; nullopt drops it.
    std::optional<gap_event> filter(node_link& node, gap_event gap);
    /// Sets the core's gap_filter to filter().
    void filter_gaps();
    /// Shutdown.
    void stop();

  private:
    enum class state : std::uint8_t { holding, following, switching_back };
    struct pair_state {
        std::string replica;
        std::shared_ptr<replica_window> window;
        state st = state::holding;
        std::string replid;  // the primary's master_replid when the pair began
        std::shared_ptr<net::command_connection> conn;  // that question, in flight
        // The standby's link when it began to follow, and where it broke since, if it did.
        std::uint64_t serial = 0, reconnects = 0;
        std::optional<clock::time_point> replica_lost;
        clock::time_point since{};  // where the standby took over
        // Holding: the server closed the standby's connection (cut), which had been whole
        // since cut_whole_since; the window holds its stream until then.
        std::optional<clock::time_point> cut, cut_whole_since;
        // Holding again after following until the standby's own stream broke at this
        // instant (its primary's gap, reported, counts from there): the window holds the
        // standby's stream since it was subscribed again.
        std::optional<clock::time_point> followed_until;
    };
    using iterator = std::map<std::string, pair_state>::iterator;
    iterator pair_of_standby(const std::string& replica);
    void ask_replid(const std::string& primary);
    void take_over(const std::string& primary, pair_state& p);
    void handed_back(const std::string& primary, bool ok);

    notifier_core& core_;
    std::string who_;
    replica_window::limits limits_;
    std::map<std::string, pair_state> pairs_;           // by primary
    std::map<std::string, clock::time_point> covered_;  // former primary: covered until
    std::shared_ptr<handover_runner> switch_back_;
    bool stopped_ = false;
};

}  // namespace ksn::detail
