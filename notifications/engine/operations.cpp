// notifier_core: subscribe and unsubscribe as operations over every node (see
// notifier_core.hpp).
//
// An operation counts the nodes it was sent to and completes when each has answered
// (node_done), when one fails, or when subscribe_timeout passes first. A failed
// subscribe is undone: what it added to the registry is removed again and unsubscribed
// where it had been sent, so the caller that learns of the failure finds nothing of it.
#include <utility>

#include "notifications/engine/notifier_core.hpp"

namespace ksn::detail {

bool notifier_core::flags_missing(std::string& why) const {
    const auto requirements = registry_.requirements();
    for (const auto& n : nodes_) {
        const auto configured = n->configured_flags();
        if (!configured) continue;
        if (auto unmet = unmet_flags(to_letters(*configured), *configured, requirements)) {
            why = n->name() + ": " + *unmet;
            return true;
        }
    }
    return false;
}

void notifier_core::subscribe(std::vector<subscription_key> keys, notification_handler handler,
                              completion done) {
    if (closed_) {
        complete(done, make_error_code(notifier_errc::closed), "the notifier is closed");
        return;
    }
    const std::uint64_t id = next_op_++;
    operation op;
    op.id = id;
    op.waiting = nodes_.size();
    op.done = std::move(done);
    for (const auto& k : keys) {
        if (registry_.add(k, handler)) op.added.push_back(k);
    }
    subscription_count_ = registry_.size();
    const bool park = nodes_.empty() && awaiting_nodes_;
    if (op.added.empty() || (nodes_.empty() && !park)) {
        // Only handlers changed, or no node (every node was given up): nothing to wait for.
        complete(op.done, {}, {});
        return;
    }
    op.parked = park;
    arm_timeout(op);
    const auto added = op.added;
    operations_.emplace(id, std::move(op));
    if (park) return;  // nodes_ready() sends it
    send_to_nodes(id, added, false);
}

void notifier_core::unsubscribe(std::vector<subscription_key> keys, completion done) {
    if (closed_) {
        complete(done, make_error_code(notifier_errc::closed), "the notifier is closed");
        return;
    }
    std::vector<subscription_key> removed;
    for (const auto& k : keys) {
        if (registry_.remove(k)) removed.push_back(k);
    }
    subscription_count_ = registry_.size();
    if (removed.empty() || nodes_.empty()) {
        complete(done, {}, {});
        return;
    }
    const std::uint64_t id = next_op_++;
    operation op;
    op.id = id;
    op.waiting = nodes_.size();
    op.unsubscribe = true;
    op.done = std::move(done);
    arm_timeout(op);
    operations_.emplace(id, std::move(op));
    send_to_nodes(id, removed, true);
}

void notifier_core::send_to_nodes(std::uint64_t id, const std::vector<subscription_key>& keys,
                                  bool unsubscribe) {
    // A node's send() may answer at once; the operation counts every node in advance.
    const std::size_t count = nodes_.size();
    for (std::size_t i = 0; i < count && i < nodes_.size(); ++i) {
        if (operations_.find(id) == operations_.end()) return;  // already finished (failed)
        nodes_[i]->send(keys, unsubscribe, id);
    }
}

std::vector<std::uint64_t> notifier_core::parked_operations() const {
    std::vector<std::uint64_t> parked;
    for (const auto& [id, op] : operations_) {
        if (op.parked) parked.push_back(id);
    }
    return parked;
}

void notifier_core::nodes_ready() {
    awaiting_nodes_ = false;
    for (const auto id : parked_operations()) {
        auto it = operations_.find(id);
        if (it == operations_.end()) continue;
        it->second.parked = false;
        it->second.waiting = nodes_.size();
        if (nodes_.empty()) {
            finish(id);
            continue;
        }
        send_to_nodes(id, it->second.added, false);
    }
}

void notifier_core::fail_parked(const std::string& detail) {
    for (const auto id : parked_operations()) {
        auto it = operations_.find(id);
        if (it == operations_.end()) continue;
        it->second.ec = make_error_code(notifier_errc::not_connected);
        it->second.detail = detail;
        finish(id);
    }
}

void notifier_core::arm_timeout(operation& op) {
    op.timer = std::make_unique<asio::steady_timer>(*io_, options_.subscribe_timeout);
    // A weak reference: a cancelled timer's handler may outlive the notifier's I/O loop,
    // and must not keep the core (and so the io_context that holds it) alive.
    op.timer->async_wait([weak = weak_from_this(), id = op.id](const std::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        auto it = self->operations_.find(id);
        if (it == self->operations_.end()) return;
        std::string late;
        for (auto& n : self->nodes_) {
            const auto keys = n->cancel(id);
            if (!keys.empty())
                late += (late.empty() ? "" : "; ") + n->name() + ": " + join_names(keys);
        }
        if (late.empty()) late = "any node (the cluster topology is not known yet)";
        it->second.ec = make_error_code(notifier_errc::subscribe_timeout);
        it->second.detail =
            std::string(it->second.unsubscribe ? "unsubscribe: " : "") + "no confirmation within " +
            std::to_string(self->options_.subscribe_timeout.count()) + " ms from " + late;
        self->finish(id);
    });
}

void notifier_core::node_done(std::uint64_t id, const std::error_code& ec,
                              const std::string& detail) {
    auto it = operations_.find(id);
    if (it == operations_.end()) return;
    operation& op = it->second;
    if (ec && !op.ec) {
        op.ec = ec;
        op.detail = detail;
    }
    if (--op.waiting == 0 || ec) finish(id);
}

void notifier_core::finish(std::uint64_t id) {
    auto it = operations_.find(id);
    if (it == operations_.end()) return;
    operation op = std::move(it->second);
    operations_.erase(it);
    if (op.timer) op.timer->cancel();
    for (auto& n : nodes_)
        (void)n->cancel(id);
    // New subscriptions may need flags the connect-time check did not ask about. (Nodes
    // whose CONFIG GET has not answered yet are checked when it does.)
    if (!op.ec && !op.unsubscribe && options_.check != notify_check::off) {
        std::string why;
        if (flags_missing(why)) {
            if (options_.check == notify_check::require) {
                op.ec = make_error_code(notifier_errc::notifications_disabled);
                op.detail = why;
            } else {
                warn_flags(why + "; nothing will arrive for those subscriptions");
            }
        }
    }
    if (op.ec && !op.unsubscribe && !op.added.empty()) {
        // Undo: the caller learns the subscribe failed, so nothing of it may stay.
        for (const auto& k : op.added)
            registry_.remove(k);
        subscription_count_ = registry_.size();
        for (auto& n : nodes_) {
            if (n->ready()) n->send(op.added, true, next_op_++);  // nobody waits for it
        }
    }
    complete(op.done, op.ec, op.detail);
}

}  // namespace ksn::detail
