// Helpers shared by the notifier integration tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "notifications/keyspace_notifications.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/timing.hpp"

namespace ksn::test {

using namespace std::chrono_literals;

/// Options for a notifier on `server` with short timeouts (scaled by time_scale(): bounds a
/// slow, sanitized notifier must meet), silent diagnostics.
inline notifier_options options_for(const redis_server& server,
                                    net::resp_version resp = net::resp_version::automatic) {
    notifier_options o;
    o.connection.address = {"127.0.0.1", server.port()};
    o.connection.resp = resp;
    o.connection.connect_timeout = scaled(2s);
    o.connection.health_check_interval = 1s;
    o.connection.health_check_timeout = scaled(1s);
    o.connection.reconnect.initial_delay = 20ms;
    o.connection.reconnect.max_delay = 200ms;
    o.subscribe_timeout = scaled(3s);
    return o;
}

/// Collects diagnostics instead of printing them. The handler shares the messages, so
/// a notifier that outlives this object (declared after it) still reports safely.
struct diagnostics {
    void attach(notifier_base& n) { n.on_diagnostic(handler()); }
    /// For notifier_options::diagnostics.
    diagnostic_handler handler() {
        return [s = state_](severity, const std::string& m) {
            std::lock_guard lock(s->mutex);
            s->messages.push_back(m);
        };
    }
    bool contains(const std::string& needle) {
        std::lock_guard lock(state_->mutex);
        for (const auto& m : state_->messages) {
            if (m.find(needle) != std::string::npos) return true;
        }
        return false;
    }
    std::string all() {
        std::lock_guard lock(state_->mutex);
        std::string out;
        for (const auto& m : state_->messages)
            out += m + "\n";
        return out;
    }

  private:
    struct state {
        std::mutex mutex;
        std::vector<std::string> messages;
    };
    std::shared_ptr<state> state_ = std::make_shared<state>();
};

struct pulled {
    std::vector<owned_key_notification> notifications;
    std::vector<gap_event> gaps;
};

/// Pulls until `count` notifications arrived or `limit` (scaled) passed.
inline pulled pull(notifier_base& n, std::size_t count, std::chrono::milliseconds limit = 5s) {
    pulled out;
    delivery d;
    const auto deadline = std::chrono::steady_clock::now() + scaled(limit);
    while (out.notifications.size() < count && std::chrono::steady_clock::now() < deadline) {
        if (!n.next(d, 50ms)) continue;
        if (d.is_gap()) out.gaps.push_back(d.gap());
        if (d.is_notification()) out.notifications.push_back(d.notification().to_owned());
    }
    return out;
}

/// The next gap, skipping notifications, within `limit` (scaled).
inline std::optional<gap_event> next_gap(notifier_base& n, std::chrono::milliseconds limit = 10s) {
    delivery d;
    const auto deadline = std::chrono::steady_clock::now() + scaled(limit);
    while (std::chrono::steady_clock::now() < deadline) {
        if (n.next(d, 100ms) && d.is_gap()) return d.gap();
    }
    return std::nullopt;
}

/// "key event" pairs, for readable comparisons.
inline std::vector<std::string> key_events(const std::vector<owned_key_notification>& ns) {
    std::vector<std::string> out;
    for (const auto& n : ns)
        out.push_back(n.key + " " + n.event);
    return out;
}

}  // namespace ksn::test
