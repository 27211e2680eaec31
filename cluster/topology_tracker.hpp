// Follows a Redis Cluster's topology: asks CLUSTER SLOTS on a timer (default every
// second), at once when asked (a subscriber connection was lost, a subscribe failed, the
// user wants it), and reports each change. When the node it asks fails, it asks the
// next known one (the seeds, then every node of the last topology). It runs on the
// notifier's io_context and never blocks it.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../net/connection.hpp"
#include "topology.hpp"

namespace ksn::cluster {

using net::clock;

struct tracker_options {
    /// Where to start: any reachable seed will do.
    std::vector<net::endpoint> seeds;
    std::chrono::milliseconds refresh_interval{1000};
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
    ~topology_tracker();

    void start();
    void stop();
    /// Refreshes now (coalesced with one under way).
    void refresh_now();

    const std::optional<topology>& current() const noexcept { return current_; }
    std::uint64_t refreshes() const noexcept { return refreshes_; }

  private:
    topology_tracker(asio::io_context& io, tracker_options options, change_handler on_change,
                     error_handler on_error);

    class observer;
    void schedule();
    void refresh();
    void connect_next();
    void ask();
    void failed(const std::string& why);
    void done();

    asio::io_context& io_;
    tracker_options options_;
    change_handler on_change_;
    error_handler on_error_;
    asio::steady_timer timer_;
    std::unique_ptr<observer> observer_;
    std::shared_ptr<net::connection> conn_;
    std::vector<net::endpoint> candidates_;
    std::size_t next_candidate_ = 0;
    std::size_t failures_in_round_ = 0;
    std::string round_errors_;
    bool in_flight_ = false;
    bool again_ = false;
    bool stopped_ = false;
    std::optional<topology> current_;
    clock::time_point last_refresh_{};
    std::uint64_t refreshes_ = 0;
};

}  // namespace ksn::cluster
