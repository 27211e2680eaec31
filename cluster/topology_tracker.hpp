// Follows a Redis Cluster's topology: asks CLUSTER SLOTS on a timer (default every
// second), at once when asked (a subscriber connection was lost, a subscribe failed, the
// user wants it), and reports each change. When the node it asks fails, it asks the
// next known one (the seeds, then every node of the last topology). It runs on the
// notifier's io_context and never blocks it.
//
// Every decision is made by a topology_refresher (topology_refresher.hpp), which is
// unit-tested without a socket; this driver owns the one timer, armed at the
// refresher's next deadline, and the one command connection, and turns their callbacks
// into the refresher's events.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../net/command_connection.hpp"
#include "topology.hpp"
#include "topology_refresher.hpp"

namespace ksn::cluster {

struct tracker_options {
    /// Where to start: any reachable seed will do.
    std::vector<net::endpoint> seeds;
    std::chrono::milliseconds refresh_interval{1000};
    /// How long a node may take to answer CLUSTER SLOTS before the next one is asked.
    std::chrono::milliseconds reply_timeout{2000};
    /// Credentials, RESP version and timeouts for the tracker's command connection.
    net::connection_options connection;
};

class topology_tracker : public std::enable_shared_from_this<topology_tracker> {
  public:
    /// `now` is the new topology, `before` the previous one (nullptr the first time), and
    /// `previous_refresh` when `before` was last confirmed: a change happened after it.
    using change_handler = std::function<void(const topology& now, const topology* before,
                                              clock::time_point previous_refresh)>;
    /// Every known node failed in one round; the sentence names each and why. The tracker
    /// keeps trying on its timer.
    using error_handler = std::function<void(const std::string& sentence)>;

    static std::shared_ptr<topology_tracker> create(asio::io_context& io, tracker_options options,
                                                    change_handler on_change,
                                                    error_handler on_error);
    topology_tracker(const topology_tracker&) = delete;
    topology_tracker& operator=(const topology_tracker&) = delete;
    ~topology_tracker();

    void start();
    /// Closes the connection and cancels the timer; no handler runs after it returns.
    void stop();
    /// Refreshes now (coalesced with one under way: exactly one more follows it).
    void refresh_now();

    const std::optional<topology>& current() const noexcept { return refresher_.current(); }
    std::uint64_t refreshes() const noexcept { return refresher_.refreshes(); }

  private:
    topology_tracker(asio::io_context& io, tracker_options options, change_handler on_change,
                     error_handler on_error);

    /// Performs the refresher's actions, then arms the timer at its next deadline.
    void drive();
    void perform(topology_refresher::action& a);
    void arm_timer();

    asio::io_context& io_;
    net::connection_options connection_options_;
    change_handler on_change_;
    error_handler on_error_;
    topology_refresher refresher_;
    asio::steady_timer timer_;
    std::optional<clock::time_point> armed_;
    std::uint64_t timer_generation_ = 0;  // a wait from before the last re-arm is stale
    std::shared_ptr<net::command_connection> conn_;
    bool driving_ = false;  // a handler called back into us: the outer drive() goes on
};

}  // namespace ksn::cluster
