// Follows a Sentinel-managed primary: asks the sentinels where it is on a timer (default
// every second), at once when asked (the primary's connection was lost) and when a
// sentinel announces +switch-master, confirms each answer with ROLE on the named node,
// and reports each change; former primaries are checked until they are replicas or gone.
// It runs on the notifier's io_context and never blocks it.
//
// Every decision is made by a primary_resolver (primary_resolver.hpp), unit-tested
// without a socket; this driver owns one timer armed at the resolver's next deadline,
// one command connection per lane, and the announcement listener: one net::connection
// to a sentinel (the one that answered last) subscribed to +switch-master, which
// reconnects on its own and moves to another sentinel when a different one answers.
#pragma once

#include <array>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "../net/command_connection.hpp"
#include "../net/connection.hpp"
#include "primary_resolver.hpp"

namespace ksn::sentinel {

struct watcher_options {
    /// The sentinels, the primary's name, the check interval and the reply timeout.
    resolver_options resolver;
    /// Credentials, TLS and timeouts for the sentinels (the address is ignored).
    net::connection_options sentinel_connection;
    /// Credentials, TLS and timeouts for the data nodes' ROLE checks (the address is
    /// ignored).
    net::connection_options node_connection;
};

class primary_watcher : public std::enable_shared_from_this<primary_watcher> {
  public:
    using primary_handler = std::function<void(const primary_resolver::report_primary&)>;
    using retired_handler = std::function<void(const net::endpoint&, const std::string& why)>;
    using error_handler = std::function<void(const std::string& sentence)>;
    /// A sentinel announced +switch-master for our primary; `sentinel` names it and
    /// `payload` is the announcement ("<name> <old ip> <old port> <new ip> <new port>").
    using announce_handler =
        std::function<void(const net::endpoint& sentinel, std::string_view payload)>;

    static std::shared_ptr<primary_watcher> create(asio::io_context& io, watcher_options options,
                                                   primary_handler on_primary,
                                                   retired_handler on_retired,
                                                   error_handler on_error,
                                                   announce_handler on_announce = {});
    primary_watcher(const primary_watcher&) = delete;
    primary_watcher& operator=(const primary_watcher&) = delete;
    ~primary_watcher();

    void start();
    /// Closes every connection and cancels the timer; no handler runs after it returns.
    void stop();
    /// A round now (coalesced with one under way); with `recheck`, the primary is
    /// confirmed by ROLE again even if the sentinels still name it.
    void refresh_now(bool recheck = true);

    const std::optional<net::endpoint>& primary() const noexcept { return resolver_.primary(); }
    const primary_resolver& resolver() const noexcept { return resolver_; }

  private:
    primary_watcher(asio::io_context& io, watcher_options options, primary_handler on_primary,
                    retired_handler on_retired, error_handler on_error,
                    announce_handler on_announce);

    class listener;

    void drive();
    void perform(primary_resolver::action& a);
    void arm_timer();
    /// Keeps the announcement listener on the sentinel asked first.
    void follow_sentinel();
    void announced(const net::endpoint& sentinel, std::string_view payload);

    asio::io_context& io_;
    watcher_options options_;
    primary_handler on_primary_;
    retired_handler on_retired_;
    error_handler on_error_;
    announce_handler on_announce_;
    primary_resolver resolver_;
    asio::steady_timer timer_;
    std::optional<clock::time_point> armed_;
    std::uint64_t timer_generation_ = 0;
    std::array<std::shared_ptr<net::command_connection>, primary_resolver::lane_count> lanes_;
    std::shared_ptr<listener> listener_;
    bool driving_ = false;
    bool stopped_ = false;
};

}  // namespace ksn::sentinel
