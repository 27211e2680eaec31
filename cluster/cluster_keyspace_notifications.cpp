#include "cluster/cluster_keyspace_notifications.hpp"

#include <asio/post.hpp>
#include <map>

#include "cluster/subscription_plan.hpp"
#include "cluster/topology_tracker.hpp"
#include "notifications/engine/notifier_core.hpp"

namespace ksn {

namespace {

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

    controller(detail::notifier_core& c, bool replicas) : core(c), subscribe_replicas(replicas) {}

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
        core.on_node_lost = [weak](const std::string&) {
            if (auto self = weak.lock()) self->tracker->refresh_now();
        };
        core.on_shutdown = [weak] {
            if (auto self = weak.lock()) self->tracker->stop();
        };
        tracker->start();
    }

    void changed(const cluster::topology& now, const cluster::topology* before,
                 clock::time_point previous) {
        if (core.closed()) return;
        std::map<std::string, std::optional<clock::time_point>> subscribed;
        for (const auto& n : core.nodes())
            subscribed[n->name()] = n->gap_start();
        auto plan =
            cluster::plan_subscriptions(now, before, previous, subscribed, subscribe_replicas);
        // Close nodes that are no longer wanted (demoted, removed, failed).
        for (const auto& name : plan.close) {
            core.report(severity::info, "cluster: " + name + " is no longer a primary: closed");
            core.remove_node(name, std::nullopt);
        }
        // Open new ones, give every one its slots; a node that took over slots from
        // another reports the gap once it is covered.
        for (auto& [name, entry] : plan.wanted) {
            detail::node_link* node = core.find_node(name);
            if (node == nullptr) node = &core.add_node(entry.address);
            node->set_slots(std::move(entry.slots));
        }
        for (auto& [name, gap] : plan.gaps) {
            if (auto* node = core.find_node(name)) node->expect_gap(std::move(gap));
        }
        if (first) {
            first = false;
            core.nodes_ready();
        }
    }
};

cluster_keyspace_notifications::cluster_keyspace_notifications(cluster_options options)
    : notifier_base(std::make_shared<detail::notifier_core>(nullptr, options)) {
    init(std::move(options));
}

cluster_keyspace_notifications::cluster_keyspace_notifications(asio::io_context& io,
                                                               cluster_options options)
    : notifier_base(std::make_shared<detail::notifier_core>(&io, on_caller_thread(options))) {
    init(std::move(options));
}

void cluster_keyspace_notifications::init(cluster_options options) {
    controller_ = std::make_shared<controller>(*core_, options.subscribe_replicas);
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
