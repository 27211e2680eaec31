// notifier_core: subscribe and unsubscribe as operations over every node (see
// notifier_core.hpp). The decisions are operation_table's (when an operation is finished,
// which times out, what is undone); this file asks the nodes, keeps the one deadline
// timer on the table's earliest deadline and applies what a finished operation leaves.
#include <utility>

#include "notifications/engine/notifier_core.hpp"

namespace ksn::detail {

std::optional<std::string> notifier_core::flags_missing() const {
    const auto requirements = registry_.requirements();
    for (const auto& n : nodes_) {
        const auto configured = n->configured_flags();
        if (!configured) continue;
        if (auto unmet = unmet_flags(to_letters(*configured), *configured, requirements))
            return n->name() + ": " + *unmet;
    }
    return std::nullopt;
}

void notifier_core::subscribe(std::vector<subscription_key> keys, notification_handler handler,
                              completion done) {
    if (closed_) {
        complete(done, make_error_code(notifier_errc::closed), "the notifier is closed");
        return;
    }
    std::vector<subscription_key> added;
    for (const auto& k : keys) {
        if (registry_.add(k, handler)) added.push_back(k);
    }
    subscription_count_ = registry_.size();
    const bool park = nodes_.empty() && awaiting_nodes_;
    if (added.empty() || (serving_nodes() == 0 && !park)) {
        // Only handlers changed, or no node (every node was given up): nothing to wait for.
        complete(done, {}, {});
        return;
    }
    const auto id = operations_.open(false, added, serving_nodes(), park, std::move(done),
                                     clock::now(), partial_);
    rearm_deadline();
    if (!park) send_to_nodes(id, added, false);  // parked: nodes_ready() sends it
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
    if (removed.empty() || serving_nodes() == 0) {
        complete(done, {}, {});
        return;
    }
    const auto id =
        operations_.open(true, {}, serving_nodes(), false, std::move(done), clock::now());
    rearm_deadline();
    send_to_nodes(id, removed, true);
}

void notifier_core::send_to_nodes(std::uint64_t id, const std::vector<subscription_key>& keys,
                                  bool unsubscribe) {
    // A node's send() may answer at once; the operation counts every node in advance. A
    // retiring node is left out: it is leaving, owes no answer (its next connection
    // replays the registry), and one stalled must not fail or hold up the operation.
    const std::size_t count = nodes_.size();
    for (std::size_t i = 0; i < count && i < nodes_.size(); ++i) {
        if (!operations_.contains(id)) return;  // already finished (failed)
        if (nodes_[i]->retiring()) continue;
        // A standby owes no answer: an id of its own, that nobody waits for.
        nodes_[i]->send(keys, unsubscribe, nodes_[i]->standby() ? operations_.reserve_id() : id);
    }
}

std::size_t notifier_core::serving_nodes() const noexcept {
    std::size_t n = 0;
    for (const auto& node : nodes_)
        n += node->retiring() || node->standby() ? 0 : 1;
    return n;
}

void notifier_core::nodes_ready() {
    awaiting_nodes_ = false;
    for (const auto id : operations_.parked()) {
        if (!operations_.contains(id)) continue;  // finished by an earlier one's completion
        if (nodes_.empty()) {
            finish(operations_.take(id));
            continue;
        }
        const auto keys = operations_.unpark(id, serving_nodes());  // a copy: send may finish it
        send_to_nodes(id, keys, false);
    }
}

void notifier_core::fail_parked(const std::string& detail) {
    for (const auto id : operations_.parked()) {
        if (!operations_.contains(id)) continue;
        finish(operations_.fail(id, make_error_code(notifier_errc::not_connected), detail));
    }
}

void notifier_core::rearm_deadline() {
    const auto due = operations_.deadline();
    if (!due) {
        if (armed_for_) deadline_timer_.cancel();
        armed_for_.reset();
        return;
    }
    if (armed_for_ == due) return;
    armed_for_ = due;
    deadline_timer_.expires_at(*due);  // cancels the wait for an earlier deadline, if any
    // A weak reference: a cancelled wait's handler may outlive the notifier's I/O loop,
    // and must not keep the core (and so the io_context that holds it) alive.
    deadline_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        self->armed_for_.reset();
        self->on_deadline();
    });
}

void notifier_core::on_deadline() {
    for (const auto id : operations_.expired(clock::now())) {
        if (!operations_.contains(id)) continue;  // finished by an earlier one's completion
        std::string late;
        std::vector<std::string> late_nodes;
        for (auto& n : nodes_) {
            const auto keys = n->cancel(id);
            if (keys.empty()) continue;
            late += (late.empty() ? "" : "; ") + n->name() + ": " + join_names(keys);
            late_nodes.push_back(n->name());
        }
        finish(operations_.time_out(id, late, late_nodes));
    }
    rearm_deadline();
}

void notifier_core::node_done(std::uint64_t id, const std::error_code& ec,
                              const std::string& detail, const std::string& node) {
    if (auto f = operations_.answer(id, ec, detail, node)) finish(std::move(*f));
}

void notifier_core::finish(operation_table::finished op) {
    for (auto& n : nodes_)
        (void)n->cancel(op.id);
    // New subscriptions may need flags the connect-time check did not ask about. (Nodes
    // whose CONFIG GET has not answered yet are checked when it does.)
    if (op.needs_flags_check(options_.check)) {
        if (auto warning = op.apply_flags_check(options_.check, flags_missing()))
            warn_flags(*warning);
    }
    for (const auto& d : op.degraded) {
        // Subscribed without it: it says so now, and reports a gap once it is subscribed.
        node_link* n = find_node(d.node);
        if (n == nullptr) continue;  // left the topology meanwhile
        std::string slots;
        for (const auto& [first, last] : n->slots())
            slots += (slots.empty() ? " (slots " : ",") + std::to_string(first) +
                     (first == last ? "" : "-" + std::to_string(last));
        if (!slots.empty()) slots += ")";
        report(severity::warning,
               d.node + slots + ": subscribed without it (" + d.why +
                   "); its notifications are lost until it is subscribed (a node_unreachable "
                   "gap will say when)");
        n->expect_unreachable(op.opened, d.why);
    }
    const auto undo = op.undo();
    if (!undo.empty()) {
        // The caller learns the subscribe failed, so nothing of it may stay.
        for (const auto& k : undo)
            registry_.remove(k);
        subscription_count_ = registry_.size();
        for (auto& n : nodes_) {
            if (n->ready()) n->send(undo, true, operations_.reserve_id());  // nobody waits
        }
    }
    rearm_deadline();
    complete(op.done, op.ec, op.detail);
}

void notifier_core::fail_all(const std::error_code& ec, const std::string& detail) {
    deadline_timer_.cancel();
    armed_for_.reset();
    for (auto& op : operations_.take_all(ec, detail))
        complete(op.done, op.ec, op.detail);
}

}  // namespace ksn::detail
