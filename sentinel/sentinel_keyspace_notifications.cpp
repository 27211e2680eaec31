#include "sentinel/sentinel_keyspace_notifications.hpp"

#include <asio/post.hpp>
#include <map>
#include <stdexcept>

#include "notifications/engine/handover_runner.hpp"
#include "notifications/engine/notifier_core.hpp"
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

    controller(detail::notifier_core& c, std::string n)
        : core(c),
          name(std::move(n)),
          handovers(detail::handover_runner::create(c, "sentinel", c.options().handover_timeout,
                                                    c.options().handover_window)) {}

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
        core.on_node_lost = [weak](const std::string&) {
            if (auto self = weak.lock()) self->watcher->refresh_now(true);
        };
        core.on_shutdown = [weak] {
            if (auto self = weak.lock()) {
                self->watcher->stop();
                self->handovers->stop();
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
    }

    void switched(const sentinel::primary_resolver::report_primary& r) {
        if (core.closed()) return;
        const auto now = clock::now();
        const std::string to = r.address.to_string();
        detail::node_link* node = core.find_node(to);
        if (node == nullptr) node = &core.add_node(r.address);
        confirmed_at[to] = now;
        if (first) {
            first = false;
            core.report(severity::info, "sentinel: primary '" + name + "' is " + to +
                                            " (named by " + r.named_by.to_string() + ")");
            core.nodes_ready();
            return;
        }
        const std::string from = r.previous ? r.previous->to_string() : std::string("?");
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
        // Its connection is down: what it acknowledged until now may be lost.
        auto gap = node->gap_until_now(why);
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
    controller_ = std::make_shared<controller>(*core_, options.primary_name);
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
