// Runs the handovers of a notifier (handover.hpp) on its I/O thread: one 250 ms timer
// while any is in progress, one one-shot INFO replication connection per question, the
// repeat window shared by the two node links, and the end: on success the old node's
// removal is left to the caller (on_end), on failure the new node gets its gap first.
// Used by the cluster and the Sentinel notifiers alike.
#pragma once

#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "../../net/command_connection.hpp"
#include "handover.hpp"
#include "repeat_window.hpp"

namespace ksn::detail {

class notifier_core;

class handover_runner : public std::enable_shared_from_this<handover_runner> {
  public:
    /// `who` prefixes its diagnostics ("cluster", "sentinel"). 0 `timeout`: never starts.
    /// `switch_back`: redundancy's (redundancy.hpp): the old node is the standby replica
    /// that delivered while its primary (the new node) was gone, repeats are marked by
    /// the pair's replica_window (no repeat window here), and each start() names the
    /// replication id the primary must still have (not_caught_up()).
    static std::shared_ptr<handover_runner> create(notifier_core& core, std::string who,
                                                   std::chrono::milliseconds timeout,
                                                   std::size_t window, bool switch_back = false);

    /// Begins a handover from `from` to `to` in place of `gap` (to's gap if it fails);
    /// false, and nothing done, when one cannot begin: handovers off, either node unknown,
    /// `from` not covered or its stream interrupted, or one of them in a handover already.
    /// `quiet`: the new node's stream covers the old one's already (redundancy's standby
    /// promoted): the handover only marks the overlap's repeats, and a failure gives no gap
    /// and leaves the two nodes' repeat window in place (the caller clears it with
    /// node_link::set_repeats(nullptr, 0) when the old node retires).
    bool start(const std::string& to, const std::string& from, const gap_event& gap,
               std::string continued_replid = {}, bool quiet = false);
    /// Whether `from` is the old node of a handover in progress.
    bool handing_over(const std::string& from) const;
    /// Called once each ends, after a failure's gap was given to the new node: the
    /// caller removes the old node (at once on success: its stream holds nothing more).
    std::function<void(const std::string& from, const std::string& to, bool ok)> on_end;
    /// Drops the handover to `to` without a gap or on_end (its nodes changed roles).
    void cancel(const std::string& to);
    /// Shutdown: drops every handover without a gap.
    void stop();

    handover_runner(notifier_core& core, std::string who, std::chrono::milliseconds timeout,
                    std::size_t window, bool switch_back);

  private:
    struct entry {
        handover h;
        std::uint64_t from_serial = 0;      // the old node's link when it began
        std::uint64_t from_reconnects = 0;  // and its connection
        std::shared_ptr<repeat_window> window;
        std::shared_ptr<net::command_connection> conn;  // the INFO replication in flight
        bool quiet = false;
    };
    void arm();
    void step(const std::string& to);
    void ask(const std::string& to, const net::endpoint& address, bool of_new);
    void end(const std::string& to, bool ok);

    notifier_core& core_;
    std::string who_;
    std::chrono::milliseconds timeout_;
    std::size_t window_;
    bool switch_back_;
    std::map<std::string, entry> running_;  // by the new node's name
    asio::steady_timer timer_;
    bool armed_ = false;
    bool stopped_ = false;
};

}  // namespace ksn::detail
