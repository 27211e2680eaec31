#include "cluster/cluster_keyspace_notifications.hpp"

#include <asio/post.hpp>
#include <map>
#include <set>

#include "cluster/topology_tracker.hpp"
#include "notifications/engine/notifier_core.hpp"

namespace ksn {

namespace {

std::string describe(const std::vector<std::pair<std::uint16_t, std::uint16_t>>& slots) {
    std::string out;
    for (const auto& [a, b] : slots) {
        if (!out.empty()) out += ",";
        out += std::to_string(a) + (a == b ? "" : "-" + std::to_string(b));
    }
    return out;
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
        // The nodes to subscribe, with the slots each serves.
        std::map<std::string,
                 std::pair<net::endpoint, std::vector<std::pair<std::uint16_t, std::uint16_t>>>>
            wanted;
        for (const auto& s : now.shards()) {
            auto& entry = wanted[s.primary.address.to_string()];
            entry.first = s.primary.address;
            for (const auto& r : s.slots)
                entry.second.emplace_back(r.first, r.last);
            if (subscribe_replicas) {
                for (const auto& r : s.replicas) {
                    auto& rep = wanted[r.address.to_string()];
                    rep.first = r.address;
                }
            }
        }
        // When did the old owner of each moved slot stop being trustworthy?
        std::map<std::string, clock::time_point> lost_since;
        for (const auto& n : core.nodes()) {
            if (auto g = n->gap_start()) lost_since[n->name()] = *g;
        }
        const auto d = before ? cluster::diff(*before, now) : cluster::topology_diff{};

        // Close nodes that are no longer wanted (demoted, removed, failed).
        std::vector<std::string> gone;
        for (const auto& n : core.nodes()) {
            if (!wanted.count(n->name())) gone.push_back(n->name());
        }
        for (const auto& name : gone) {
            core.report(severity::info, "cluster: " + name + " is no longer a primary: closed");
            core.remove_node(name, std::nullopt);
        }
        // Open new ones; a node that takes over slots from another reports a gap.
        for (auto& [name, entry] : wanted) {
            detail::node_link* node = core.find_node(name);
            const bool added = node == nullptr;
            if (added) node = &core.add_node(entry.first);
            node->set_slots(entry.second);
            if (!added || !before) continue;
            std::vector<std::pair<std::uint16_t, std::uint16_t>> taken;
            clock::time_point lost = previous;
            std::string from;
            for (const auto& m : d.moved) {
                if (m.to != name) continue;
                taken.emplace_back(m.range.first, m.range.last);
                if (auto it = lost_since.find(m.from); it != lost_since.end()) {
                    lost = std::min(lost, it->second);
                }
                if (from.find(m.from) == std::string::npos)
                    from += (from.empty() ? "" : ", ") + m.from;
            }
            if (taken.empty()) continue;
            gap_event g;
            g.reason = gap_reason::topology_change;
            g.lost = lost;
            g.slots = taken;
            g.detail = name + " took over slots " + describe(taken) +
                       (from.empty() ? std::string() : " from " + from) +
                       " (failover or resharding); events of those slots may have been lost "
                       "until it was subscribed";
            node->expect_gap(std::move(g));
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
