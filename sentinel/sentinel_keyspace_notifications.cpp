#include "sentinel/sentinel_keyspace_notifications.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <stdexcept>

#include "net/command_connection.hpp"
#include "notifications/engine/handover_runner.hpp"
#include "notifications/engine/notifier_core.hpp"
#include "notifications/engine/redundancy.hpp"
#include "sentinel/primary_watcher.hpp"

namespace ksn {

namespace {

notifier_options on_caller_thread(notifier_options o) {
    o.dispatch = dispatch_mode::io_thread;
    return o;
}

const sentinel_options& validated(const sentinel_options& o) {
    if (o.sentinels.empty())
        throw std::invalid_argument("ksn: sentinel_options.sentinels names no sentinel");
    if (o.primary_name.empty())
        throw std::invalid_argument("ksn: sentinel_options.primary_name is empty");
    return o;
}

}  // namespace

// Lives on the I/O thread; turns the watcher's reports into node subscribers and gaps.
struct sentinel_keyspace_notifications::controller
    : std::enable_shared_from_this<sentinel_keyspace_notifications::controller> {
    detail::notifier_core& core;
    std::string name;  // the primary's, as the sentinels know it
    std::shared_ptr<sentinel::primary_watcher> watcher;
    std::map<std::string, clock::time_point> confirmed_at;  // node -> when it became primary
    bool first = true;
    // Make before break (notifications/engine/handover.hpp): a former primary that stays
    // up (SENTINEL FAILOVER) is kept until it has caught up with the new one.
    std::shared_ptr<detail::handover_runner> handovers;
    std::map<std::string, std::string> deferred;  // retired while handing over: why
    // Redundancy (notifications/engine/redundancy.hpp); null without it. The standby is
    // the first replica the primary's ROLE lists, asked every check_interval.
    std::shared_ptr<detail::redundancy> standbys;
    std::shared_ptr<net::command_connection> role_conn;  // that question, in flight
    clock::time_point role_asked{};
    asio::steady_timer role_timer;
    std::chrono::milliseconds role_interval, role_timeout;

    controller(detail::notifier_core& c, const sentinel_options& o)
        : core(c),
          name(o.primary_name),
          handovers(detail::handover_runner::create(c, "sentinel", c.options().handover_timeout,
                                                    c.options().handover_window)),
          role_timer(c.io()),
          role_interval(o.check_interval),
          role_timeout(o.reply_timeout) {
        if (o.redundancy == redundancy_mode::replica) {
            standbys = detail::redundancy::create(c, "sentinel",
                                                  {o.redundancy_window, o.redundancy_window_bytes},
                                                  c.options().handover_timeout);
        }
    }

    void start(sentinel::watcher_options opts) {
        core.await_nodes();
        std::weak_ptr<controller> weak = shared_from_this();
        // Guarded: an exception here (out of memory) must neither escape into the I/O
        // loop nor leave the watcher stuck in the middle of its callback.
        watcher = sentinel::primary_watcher::create(
            core.io(), std::move(opts),
            [weak](const sentinel::primary_resolver::report_primary& r) {
                if (auto self = weak.lock())
                    self->core.events().guarded("the sentinel controller",
                                                [&] { self->switched(r); });
            },
            [weak](const net::endpoint& address, const std::string& why) {
                if (auto self = weak.lock())
                    self->core.events().guarded("the sentinel controller",
                                                [&] { self->retired(address, why); });
            },
            [weak](const std::string& sentence) {
                auto self = weak.lock();
                if (!self) return;
                self->core.report(severity::error, "sentinel: " + sentence);
                if (self->first) self->core.fail_parked("sentinel: " + sentence);
            },
            [weak](const net::endpoint& sentinel, std::string_view payload) {
                if (auto self = weak.lock()) {
                    self->core.report(severity::info, "sentinel: " + sentinel.to_string() +
                                                          " announced +switch-master " +
                                                          std::string(payload));
                }
            });
        core.on_node_lost = [weak](const std::string& node) {
            if (auto self = weak.lock()) {
                if (self->standbys) self->standbys->lost(node);
                self->watcher->refresh_now(true);
            }
        };
        if (standbys) standbys->filter_gaps();
        core.on_shutdown = [weak] {
            if (auto self = weak.lock()) {
                self->watcher->stop();
                self->handovers->stop();
                self->role_timer.cancel();
                if (self->role_conn) self->role_conn->close();
                self->role_conn.reset();
                if (self->standbys) self->standbys->stop();
            }
        };
        handovers->on_end = [weak](const std::string& from, const std::string&, bool ok) {
            auto self = weak.lock();
            if (!self || self->core.closed()) return;
            auto d = self->deferred.find(from);
            std::string why = d != self->deferred.end() ? d->second : std::string();
            if (d != self->deferred.end()) self->deferred.erase(d);
            // Handed over: its stream holds nothing more the new primary does not deliver.
            if (ok) why = "handed over to the new primary";
            if (!why.empty()) self->remove(from, why);
        };
        watcher->start();
        if (standbys) arm_standby_check();
    }

    /// Redundancy: asks the primary ROLE every check_interval for its replicas.
    void arm_standby_check() {
        if (core.closed()) return;
        role_timer.expires_after(role_interval);
        std::weak_ptr<controller> weak = shared_from_this();
        role_timer.async_wait([weak](const std::error_code& ec) {
            auto self = weak.lock();
            if (ec || !self) return;
            self->core.events().guarded("the sentinel controller", [&] { self->ask_replicas(); });
            self->arm_standby_check();
        });
    }

    void ask_replicas() {
        if (!standbys || core.closed() || !watcher || !watcher->primary()) return;
        if (role_conn) {
            if (clock::now() - role_asked < role_timeout) return;
            role_conn->close();  // unanswered (a stalled primary): asked again
            role_conn.reset();
        }
        role_asked = clock::now();
        const auto primary = *watcher->primary();
        auto opts = core.options().connection;
        opts.address = primary;
        role_conn = net::command_connection::create(core.io(), opts, nullptr, nullptr);
        std::weak_ptr<controller> weak = shared_from_this();
        role_conn->command({"ROLE"}, [weak, primary, c = role_conn.get()](
                                         const std::error_code& ec, const protocol::value& v) {
            auto self = weak.lock();
            if (!self) return;
            self->core.events().guarded("the sentinel controller", [&] {
                if (self->role_conn.get() != c) return;
                // Drop the one-shot connection outside its own handler.
                asio::post(self->core.io(), [conn = std::move(self->role_conn)] {
                    if (conn) conn->close();
                });
                if (!ec) self->stand_by(primary, sentinel::parse_role_replicas(v));
            });
        });
        role_conn->start();
    }

    /// The standby of `primary` (still the one confirmed): the one it has while ROLE lists
    /// it, else the first listed; none when it lists none (unless the standby delivers, or
    /// its stream is up).
    void stand_by(const net::endpoint& primary, const std::vector<net::endpoint>& replicas) {
        const auto current = watcher->primary();
        if (core.closed() || !current || *current != primary) return;  // switched meanwhile
        const std::string p = primary.to_string();
        auto* node = core.find_node(p);
        if (node == nullptr || node->standby()) return;
        const std::string* now = standbys->standby_of(p);
        const net::endpoint* pick = nullptr;
        for (const auto& r : replicas) {
            if (now != nullptr && *now == r.to_string()) {
                pick = &r;
                break;
            }
            if (pick == nullptr && core.find_node(r.to_string()) == nullptr) pick = &r;
        }
        if (pick != nullptr) {
            standbys->pair(p, *pick);
        } else if (now != nullptr && !standbys->following(p)) {
            // Listing none, it keeps a standby whose stream is up: a stalled primary resumed
            // lists none once its replica was promoted, and the sentinels may name that
            // replica only later (when it is promoted() from its standby).
            if (replicas.empty()) {
                const auto* r = core.find_node(*now);
                if (r != nullptr && r->covered()) return;
            }
            standbys->unpair(p);
        }
    }

    void switched(const sentinel::primary_resolver::report_primary& r) {
        if (core.closed()) return;
        const auto now = clock::now();
        const std::string to = r.address.to_string();
        detail::node_link* node = core.find_node(to);
        // A promoted standby: whether its stream continued the old primary's, and where
        // it was cut if the sentinels cut it.
        std::optional<detail::redundancy::promotion> promoted;
        if (standbys && node != nullptr && node->standby()) promoted = standbys->promoted(to);
        if (node == nullptr) node = &core.add_node(r.address);
        confirmed_at[to] = now;
        if (first) {
            first = false;
            core.report(severity::info, "sentinel: primary '" + name + "' is " + to +
                                            " (named by " + r.named_by.to_string() + ")");
            core.nodes_ready();
            if (standbys) ask_replicas();
            return;
        }
        const std::string from = r.previous ? r.previous->to_string() : std::string("?");
        if (standbys) {
            // Pairs of a primary that is no longer one end (the promoted one's ended above).
            for (const auto& p : standbys->primaries()) {
                if (p != to) standbys->unpair(p);
            }
            ask_replicas();
        }
        const bool continued = promoted && promoted->continued && promoted->primary == from;
        if (continued && !promoted->cut) {
            standbys->cover(from, now);
            core.report(severity::info, "sentinel: primary '" + name + "' moved from " + from +
                                            " to " + to + ", its standby, whose stream covers " +
                                            from + "'s without a break (no gap)");
            return;
        }
        if (continued) {
            // Its stream continued the old primary's until the sentinels cut it (they cut a
            // replica's subscribers when they promote it): only what it acknowledged from
            // then until it was subscribed again may be lost.
            const auto broke = *promoted->cut;
            standbys->cover(from, broke);
            gap_event g;
            g.node = to;
            g.reason = gap_reason::topology_change;
            g.lost = broke;
            g.detail = "sentinel: primary '" + name + "' moved from " + from + " to " + to +
                       ", its standby, whose stream continued " + from +
                       "'s until its own subscription was cut (the sentinels cut a replica's "
                       "subscribers when they promote it): what " +
                       to + " acknowledged before it was subscribed again is lost";
            if (node->covered() && node->covered_at() >= broke) {
                // Subscribed again already (at once, before the sentinels named it).
                g.restored = node->covered_at();
                core.emit_node_gap(*node, std::move(g));
            } else {
                node->expect_gap(std::move(g));
            }
            core.report(severity::warning, "sentinel: primary '" + name + "' moved from " + from +
                                               " to " + to + " (named by " +
                                               r.named_by.to_string() + "), its standby");
            return;
        }
        // From the last notification read from the old primary: anything the new one
        // acknowledged after that, before it was subscribed, is lost.
        clock::time_point lost = now;
        if (const auto it = confirmed_at.find(from); it != confirmed_at.end()) lost = it->second;
        if (const auto* old = core.find_node(from)) {
            if (old->last_message()) lost = *old->last_message();
            if (old->gap_start()) lost = std::min(lost, *old->gap_start());
        }
        gap_event g;
        g.node = to;
        g.reason = gap_reason::topology_change;
        g.lost = lost;
        g.detail = "sentinel: primary '" + name + "' moved from " + from + " to " + to + ": what " +
                   to + " acknowledged before it was subscribed is lost";
        if (!handovers->start(to, from, g)) node->expect_gap(std::move(g));
        core.report(severity::warning, "sentinel: primary '" + name + "' moved from " + from +
                                           " to " + to + " (named by " + r.named_by.to_string() +
                                           "); " + from +
                                           " stays subscribed until it is a replica or gone");
    }

    void retired(const net::endpoint& address, const std::string& why) {
        if (core.closed()) return;
        const std::string old = address.to_string();
        if (handovers->handing_over(old)) {
            deferred[old] = why;  // its stream is needed until the handover ends
            return;
        }
        remove(old, why);
    }

    void remove(const std::string& old, const std::string& why) {
        auto* node = core.find_node(old);
        if (node == nullptr) return;
        // Its connection is down: what it acknowledged until now may be lost (with
        // redundancy, only after its standby stopped covering it, and nothing when gone).
        auto gap = node->gap_until_now(why);
        if (standbys) {
            standbys->unpair(old);
            gap = standbys->retired(old, std::move(gap), why.rfind("it is gone", 0) == 0);
        }
        core.report(severity::info, "sentinel: " + old + " is no longer the primary of '" + name +
                                        "' (" + why + "): closed");
        confirmed_at.erase(old);
        core.remove_node(old, std::move(gap));
    }
};

sentinel_keyspace_notifications::sentinel_keyspace_notifications(sentinel_options options)
    : notifier_base(std::make_shared<detail::notifier_core>(nullptr, validated(options))) {
    init(std::move(options));
}

sentinel_keyspace_notifications::sentinel_keyspace_notifications(asio::io_context& io,
                                                                 sentinel_options options)
    : notifier_base(
          std::make_shared<detail::notifier_core>(&io, on_caller_thread(validated(options)))) {
    init(std::move(options));
}

void sentinel_keyspace_notifications::init(sentinel_options options) {
    controller_ = std::make_shared<controller>(*core_, options);
    // A subscribe succeeds on the primary while a former one, kept until it is a
    // replica, cannot confirm it (that one then reports node_unreachable once it can).
    core_->set_partial(true);
    sentinel::watcher_options w;
    w.resolver.sentinels = options.sentinels;
    w.resolver.primary_name = options.primary_name;
    w.resolver.check_interval = options.check_interval;
    w.resolver.reply_timeout = options.reply_timeout;
    w.sentinel_connection = options.sentinel_connection;
    w.node_connection = options.connection;
    core_->start([c = controller_, w] { c->start(w); });
}

sentinel_keyspace_notifications::~sentinel_keyspace_notifications() {
    close();
}

std::optional<net::endpoint> sentinel_keyspace_notifications::primary() const {
    return core_->query([c = controller_]() -> std::optional<net::endpoint> {
        if (!c->watcher) return std::nullopt;
        return c->watcher->primary();
    });
}

void sentinel_keyspace_notifications::refresh_primary() {
    asio::post(core_->io(), [c = controller_] {
        if (c->watcher) c->watcher->refresh_now(true);
    });
}

}  // namespace ksn
