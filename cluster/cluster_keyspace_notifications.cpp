#include "cluster/cluster_keyspace_notifications.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

#include "net/command_connection.hpp"

#include "cluster/subscription_plan.hpp"
#include "cluster/topology_tracker.hpp"
#include "notifications/engine/handover_runner.hpp"
#include "notifications/engine/notifier_core.hpp"
#include "notifications/engine/redundancy.hpp"

namespace ksn {

namespace {

/// The options, checked before anything starts.
const cluster_options& checked(const cluster_options& o) {
    if (o.redundancy == redundancy_mode::replica && o.subscribe_replicas) {
        throw std::invalid_argument(
            "ksn: cluster_options: redundancy_mode::replica and subscribe_replicas exclude each "
            "other (subscribe_replicas delivers every replica's stream already)");
    }
    return o;
}

notifier_options on_caller_thread(notifier_options o) {
    o.dispatch = dispatch_mode::io_thread;
    return o;
}

}  // namespace

// Lives on the I/O thread; turns topology changes into node subscribers and gaps.
struct cluster_keyspace_notifications::controller
    : std::enable_shared_from_this<cluster_keyspace_notifications::controller> {
    detail::notifier_core& core;
    bool subscribe_replicas;
    std::shared_ptr<cluster::topology_tracker> tracker;
    bool first = true;
    // Nodes the topology no longer names as primaries, kept subscribed (a stalled primary
    // failed over still acknowledges what waits in its sockets when it runs again) until
    // the node itself says it is a replica or serves no slot, or it is gone. Asked with
    // CLUSTER NODES every retire_check on a one-shot connection each.
    static constexpr std::chrono::milliseconds retire_check{250};
    std::map<std::string, std::shared_ptr<net::command_connection>> retiring;
    asio::steady_timer retire_timer;
    bool retire_armed = false;
    // Make before break (notifications/engine/handover.hpp).
    std::shared_ptr<detail::handover_runner> handovers;
    // Retired nodes whose removal waits for the handover of their slots (name: why).
    std::map<std::string, std::string> deferred;
    // Redundancy (notifications/engine/redundancy.hpp); null without it.
    std::shared_ptr<detail::redundancy> standbys;
    // Former primaries whose quiet handover failed (name: the promoted standby): their
    // repeat window stays until they retire.
    std::map<std::string, std::string> marking;
    // Every node a topology listed as a primary with slots or as a replica (node_key()):
    // not a new node when it shows up as a spare.
    std::set<std::string> served;

    controller(detail::notifier_core& c, const cluster_options& o)
        : core(c),
          subscribe_replicas(o.subscribe_replicas),
          retire_timer(c.io()),
          handovers(detail::handover_runner::create(c, "cluster", c.options().handover_timeout,
                                                    c.options().handover_window)) {
        if (o.redundancy == redundancy_mode::replica) {
            standbys = detail::redundancy::create(c, "cluster",
                                                  {o.redundancy_window, o.redundancy_window_bytes},
                                                  c.options().handover_timeout);
        }
    }

    void start(cluster::tracker_options opts) {
        core.await_nodes();
        std::weak_ptr<controller> weak = shared_from_this();
        tracker = cluster::topology_tracker::create(
            core.io(), std::move(opts),
            [weak](const cluster::topology& now, const cluster::topology* before,
                   clock::time_point previous) {
                // Guarded: an exception here (out of memory) must neither escape into the
                // I/O loop nor leave the tracker stuck in the middle of its callback.
                if (auto self = weak.lock()) {
                    self->core.events().guarded("the cluster controller",
                                                [&] { self->changed(now, before, previous); });
                }
            },
            [weak](const std::string& sentence) {
                auto self = weak.lock();
                if (!self) return;
                self->core.report(severity::error, "cluster: " + sentence);
                if (self->first) self->core.fail_parked("cluster: " + sentence);
            });
        core.on_node_lost = [weak](const std::string& name) {
            if (auto self = weak.lock()) {
                if (self->standbys) self->standbys->lost(name);
                self->tracker->refresh_now();
            }
        };
        if (standbys) standbys->filter_gaps();
        core.on_shutdown = [weak] {
            if (auto self = weak.lock()) {
                self->tracker->stop();
                self->retire_timer.cancel();
                for (auto& [name, conn] : self->retiring) {
                    if (conn) conn->close();
                }
                self->retiring.clear();
                self->handovers->stop();
                if (self->standbys) self->standbys->stop();
            }
        };
        handovers->on_end = [weak](const std::string& from, const std::string& to, bool ok) {
            if (auto self = weak.lock()) self->handed_over(from, to, ok);
        };
        tracker->start();
    }

    void changed(const cluster::topology& now, const cluster::topology* before,
                 clock::time_point previous) {
        if (core.closed()) return;
        if (before) cluster::add_served(*before, served);
        auto plan = plan_for(now, before, previous);
        // A retiring node wanted again (promoted back) missed the operations made while it
        // was leaving: it starts over as a new node (its old connection's open gap is
        // reported), which replays every subscription. Listed as a spare it is not wanted
        // back: a primary failed over while stalled is one for a moment once it runs again.
        bool restarted = false;
        for (auto it = retiring.begin(); it != retiring.end();) {
            const auto w = plan.wanted.find(it->first);
            if (w == plan.wanted.end() || w->second.spare) {
                ++it;
                continue;
            }
            if (it->second) it->second->close();
            const std::string name = it->first;
            it = retiring.erase(it);
            if (auto* node = core.find_node(name)) {
                core.remove_node(name, node->gap_until_now("a primary again, subscribed anew"));
                restarted = true;
            }
        }
        if (restarted) plan = plan_for(now, before, previous);
        // Nodes no longer wanted (demoted, removed, failed) stay until they say so.
        for (const auto& name : plan.close) {
            if (retiring.count(name)) continue;
            core.report(severity::info, "cluster: " + name +
                                            " is no longer a primary in the topology; kept "
                                            "subscribed until it says so itself");
            retiring.emplace(name, nullptr);
            if (auto* node = core.find_node(name)) node->set_retiring(true);
        }
        arm_retire_check();
        // Open new ones, give every one its slots; a node that took over slots from
        // another reports the gap once it is covered. A standby wanted as a primary was
        // promoted: it is subscribed already.
        std::map<std::string, std::string> continued;  // promoted standby: the primary
        for (auto& [name, entry] : plan.wanted) {
            if (!standbys) break;
            auto* node = core.find_node(name);
            if (entry.spare || node == nullptr || !node->standby()) continue;
            // Continued without a break only: a cluster does not cut a promoted
            // replica's subscribers, so a cut standby stream reports its gap as usual.
            if (auto p = standbys->promoted(name); p && p->continued && !p->cut) {
                continued[name] = p->primary;
                standbys->cover(p->primary, clock::now());
            }
        }
        for (auto& [name, entry] : plan.wanted) {
            detail::node_link* node = core.find_node(name);
            // A leaving node keeps the slots its gap names; a standby stays what it is.
            if (entry.spare && node != nullptr && (node->retiring() || node->standby())) continue;
            if (node == nullptr) node = &core.add_node(entry.address);
            node->set_slots(std::move(entry.slots));
        }
        for (auto& [name, gap] : plan.gaps) {
            auto* node = core.find_node(name);
            if (node == nullptr) continue;
            if (continued_without_loss(name, continued, plan)) {
                // The former primary may still publish (a demoted one replicates; a stalled
                // one comes back as a replica): its repeats are marked until it retires,
                // through a quiet handover while its connection is whole, else directly.
                const auto& from = continued[name];
                if (!handovers->start(name, from, gap, {}, true)) mark_repeats(from, name);
                continue;
            }
            if (start_handover(name, gap, plan)) continue;
            node->expect_gap(std::move(gap));
        }
        if (standbys) stand_by(now);
        arm_retire_check();
        if (first) {
            first = false;
            core.nodes_ready();
        }
    }

    cluster::subscription_plan plan_for(const cluster::topology& now,
                                        const cluster::topology* before,
                                        clock::time_point previous) const {
        std::map<std::string, std::optional<clock::time_point>> subscribed;
        for (const auto& n : core.nodes()) {
            if (!n->standby()) subscribed[n->name()] = n->gap_start();
        }
        return cluster::plan_subscriptions(now, before, previous, subscribed, subscribe_replicas,
                                           &served);
    }

    void arm_retire_check() {
        if (retiring.empty() || retire_armed || core.closed()) return;
        retire_armed = true;
        retire_timer.expires_after(retire_check);
        std::weak_ptr<controller> weak = shared_from_this();
        retire_timer.async_wait([weak](const std::error_code& ec) {
            auto self = weak.lock();
            if (ec || !self) return;
            self->retire_armed = false;
            self->core.events().guarded("the cluster controller", [&] { self->ask_retiring(); });
            self->arm_retire_check();
        });
    }

    /// Asks each retiring node without a question in flight what it is now.
    void ask_retiring() {
        std::weak_ptr<controller> weak = shared_from_this();
        for (auto it = retiring.begin(); it != retiring.end();) {
            auto& [name, conn] = *it;
            auto* node = core.find_node(name);
            if (node == nullptr) {  // removed meanwhile
                if (conn) conn->close();
                it = retiring.erase(it);
                continue;
            }
            if (conn) {
                ++it;
                continue;
            }
            auto opts = core.options().connection;
            opts.address = node->address();
            conn = net::command_connection::create(core.io(), opts, nullptr, nullptr);
            conn->command({"CLUSTER", "NODES"},
                          [weak, name = name](const std::error_code& ec, const protocol::value& v) {
                              if (auto self = weak.lock()) {
                                  self->core.events().guarded("the cluster controller",
                                                              [&] { self->answered(name, ec, v); });
                              }
                          });
            conn->start();
            ++it;
        }
    }

    void answered(const std::string& name, const std::error_code& ec, const protocol::value& v) {
        auto it = retiring.find(name);
        if (it == retiring.end()) return;
        // Drop the one-shot connection outside its own handler.
        asio::post(core.io(), [conn = std::move(it->second)] {
            if (conn) conn->close();
        });
        const std::string why = cluster::retire_reason(ec, v.data);
        if (why.empty()) return;  // still a primary with slots, or stalled: asked again
        retiring.erase(it);
        if (handovers->handing_over(name)) {
            deferred[name] = why;  // its stream is needed until the handover ends
            return;
        }
        retire(name, why);
    }

    /// A new primary that took all its slots from one node the topology no longer names
    /// begins a handover instead of its gap (the runner checks that node's stream).
    bool start_handover(const std::string& to, const gap_event& gap,
                        const cluster::subscription_plan& plan) {
        const auto src = plan.took_from.find(to);
        if (src == plan.took_from.end() || src->second.size() != 1) return false;
        const std::string& from = *src->second.begin();
        if (plan.wanted.count(from)) return false;
        return handovers->start(to, from, gap);
    }

    void handed_over(const std::string& from, const std::string& to, bool ok) {
        if (core.closed()) return;
        if (!ok && standbys && standbys->covers(from)) marking[from] = to;
        if (ok) {
            // Its stream holds nothing more the new primary does not deliver.
            if (auto r = retiring.find(from); r != retiring.end()) {
                if (r->second) r->second->close();
                retiring.erase(r);
            }
            deferred.erase(from);
            retire(from, "handed its slots over to " + to);
            return;
        }
        if (auto d = deferred.find(from); d != deferred.end()) {
            const std::string why = d->second;
            deferred.erase(d);
            retire(from, why);
        }
    }

    /// A promoted standby whose slots all came from the primary it continued unbroken:
    /// nothing was lost between the two streams, so no gap.
    bool continued_without_loss(const std::string& to,
                                const std::map<std::string, std::string>& continued,
                                const cluster::subscription_plan& plan) {
        const auto c = continued.find(to);
        const auto src = plan.took_from.find(to);
        if (c == continued.end() || src == plan.took_from.end() || src->second.size() != 1 ||
            *src->second.begin() != c->second) {
            return false;
        }
        core.report(severity::info, "cluster: " + to + " took over from " + c->second +
                                        " without loss: as its standby its stream covers " +
                                        c->second + "'s (no gap)");
        return true;
    }

    /// Marks what `from` (a former primary kept until it retires) publishes that `to`
    /// delivered already as redelivered, until `from` retires.
    void mark_repeats(const std::string& from, const std::string& to) {
        auto* f = core.find_node(from);
        auto* t = core.find_node(to);
        if (f == nullptr || t == nullptr) return;
        auto w = std::make_shared<detail::repeat_window>(core.options().handover_window);
        t->set_repeats(w, 0);
        f->set_repeats(w, 1);
        marking[from] = to;
    }

    /// Redundancy: each subscribed primary gets a standby on its first replica (the one
    /// it has already, while the topology still names it); pairs whose primary is no
    /// longer one end, unless the standby delivers in its place.
    void stand_by(const cluster::topology& now) {
        std::map<std::string, const cluster::shard*> shards;
        for (const auto& sh : now.shards())
            shards[sh.primary.address.to_string()] = &sh;
        for (const auto& primary : standbys->primaries()) {
            if (!shards.count(primary) && !standbys->following(primary)) standbys->unpair(primary);
        }
        for (const auto& [primary, sh] : shards) {
            auto* node = core.find_node(primary);
            if (node == nullptr || node->standby() || node->retiring()) continue;
            const std::string* current = standbys->standby_of(primary);
            const net::endpoint* pick = nullptr;
            for (const auto& r : sh->replicas) {
                const auto name = r.address.to_string();
                if (current != nullptr && *current == name) {
                    pick = &r.address;
                    break;
                }
                auto* existing = core.find_node(name);
                if (pick == nullptr && existing == nullptr) pick = &r.address;
            }
            if (pick != nullptr) {
                standbys->pair(primary, *pick);
            } else if (current != nullptr && !standbys->following(primary)) {
                standbys->unpair(primary);
            }
        }
    }

    /// Removes a retired node, with its open gap if its connection is down: what it
    /// acknowledged until now may be lost (with redundancy, only after its standby's
    /// promotion, and nothing when it refuses connections).
    void retire(const std::string& name, const std::string& why) {
        auto* node = core.find_node(name);
        if (node == nullptr) return;
        if (standbys) standbys->unpair(name);
        if (const auto m = marking.find(name); m != marking.end()) {
            if (auto* to = core.find_node(m->second)) to->set_repeats(nullptr, 0);
            marking.erase(m);
        }
        auto gap = node->gap_until_now(why);
        // Its standby covered it until it was promoted; after that, a node refusing
        // connections acknowledged nothing, a live one (stalled, then resumed) may have.
        if (standbys) gap = standbys->retired(name, std::move(gap), why == cluster::retired_gone);
        core.report(severity::info, "cluster: " + name + " retired (" + why + "): closed");
        core.remove_node(name, std::move(gap));
        // It may be a replica now: a standby for the primary that replaced it.
        if (standbys && tracker && tracker->current()) stand_by(*tracker->current());
    }
};

cluster_keyspace_notifications::cluster_keyspace_notifications(cluster_options options)
    : notifier_base(std::make_shared<detail::notifier_core>(nullptr, checked(options))) {
    init(std::move(options));
}

cluster_keyspace_notifications::cluster_keyspace_notifications(asio::io_context& io,
                                                               cluster_options options)
    : notifier_base(
          std::make_shared<detail::notifier_core>(&io, on_caller_thread(checked(options)))) {
    init(std::move(options));
}

void cluster_keyspace_notifications::init(cluster_options options) {
    controller_ = std::make_shared<controller>(*core_, options);
    core_->set_partial(!options.require_every_primary);
    cluster::tracker_options t;
    t.seeds = options.seeds.empty() ? std::vector<net::endpoint>{options.connection.address}
                                    : options.seeds;
    t.refresh_interval = options.refresh_interval;
    t.connection = options.connection;
    core_->start([c = controller_, t] { c->start(t); });
}

cluster_keyspace_notifications::~cluster_keyspace_notifications() {
    close();
}

std::optional<cluster::topology> cluster_keyspace_notifications::topology() const {
    return core_->query([c = controller_]() -> std::optional<cluster::topology> {
        if (!c->tracker) return std::nullopt;
        return c->tracker->current();
    });
}

void cluster_keyspace_notifications::refresh_topology() {
    asio::post(core_->io(), [c = controller_] {
        if (c->tracker) c->tracker->refresh_now();
    });
}

}  // namespace ksn
