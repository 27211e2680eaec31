#include "notifications/engine/operation_table.hpp"

#include <algorithm>
#include <utility>

namespace ksn::detail {

void operation_table::finished::fail(const std::error_code& e, std::string why) {
    if (ec || !e) return;
    ec = e;
    detail = std::move(why);
}

std::vector<subscription_key> operation_table::finished::undo() const {
    if (!ec || unsubscribe) return {};
    return added;
}

bool operation_table::finished::needs_flags_check(notify_check check) const noexcept {
    return !ec && !unsubscribe && check != notify_check::off;
}

std::optional<std::string> operation_table::finished::apply_flags_check(
    notify_check check, const std::optional<std::string>& missing) {
    if (!missing || !needs_flags_check(check)) return std::nullopt;
    if (check == notify_check::require) {
        fail(make_error_code(notifier_errc::notifications_disabled), *missing);
        return std::nullopt;
    }
    return *missing + "; nothing will arrive for those subscriptions";
}

std::uint64_t operation_table::open(bool unsubscribe, std::vector<subscription_key> added,
                                    std::size_t nodes, bool parked, completion done,
                                    clock::time_point now, bool partial) {
    const std::uint64_t id = next_id_++;
    operation op;
    op.result.id = id;
    op.result.unsubscribe = unsubscribe;
    if (!unsubscribe) op.result.added = std::move(added);
    op.result.done = std::move(done);
    op.waiting = nodes;
    op.result.opened = now;
    op.due = now + timeout_;
    op.parked = parked;
    op.partial = partial && !unsubscribe;
    ops_.emplace(id, std::move(op));
    return id;
}

std::optional<operation_table::finished> operation_table::answer(std::uint64_t id,
                                                                 const std::error_code& ec,
                                                                 const std::string& detail,
                                                                 const std::string& node) {
    auto it = ops_.find(id);
    if (it == ops_.end()) return std::nullopt;
    operation& op = it->second;
    if (op.parked) return std::nullopt;  // not sent yet: nobody can answer it
    if (op.waiting > 0) --op.waiting;
    if (op.partial && ec == notifier_errc::not_connected) {
        op.result.degraded.push_back({node, detail});
    } else if (ec) {
        op.result.fail(ec, detail);
        op.result.degraded.clear();
        return extract(it);
    } else {
        ++op.confirmed;
    }
    if (op.waiting > 0) return std::nullopt;
    settle(op);
    return extract(it);
}

void operation_table::settle(operation& op) {
    if (op.confirmed > 0 || op.result.degraded.empty()) return;
    std::string why;
    for (const auto& d : op.result.degraded)
        why += (why.empty() ? "" : "; ") + d.why;
    op.result.degraded.clear();
    op.result.fail(make_error_code(notifier_errc::not_connected),
                   "no node could be reached: " + why);
}

std::optional<clock::time_point> operation_table::deadline() const {
    std::optional<clock::time_point> earliest;
    for (const auto& [id, op] : ops_) {
        if (!earliest || op.due < *earliest) earliest = op.due;
    }
    return earliest;
}

std::vector<std::uint64_t> operation_table::expired(clock::time_point now) const {
    std::vector<std::pair<clock::time_point, std::uint64_t>> due;
    for (const auto& [id, op] : ops_) {
        if (op.due <= now) due.emplace_back(op.due, id);
    }
    std::sort(due.begin(), due.end());
    std::vector<std::uint64_t> ids;
    ids.reserve(due.size());
    for (const auto& d : due)
        ids.push_back(d.second);
    return ids;
}

operation_table::finished operation_table::time_out(std::uint64_t id, const std::string& late,
                                                    const std::vector<std::string>& late_nodes) {
    auto it = ops_.find(id);
    operation& op = it->second;
    if (op.partial && op.confirmed > 0) {
        for (const auto& n : late_nodes)
            op.result.degraded.push_back(
                {n, "no confirmation within " + std::to_string(timeout_.count()) + " ms"});
        return extract(it);
    }
    const bool unsubscribe = op.result.unsubscribe;
    return fail(id, make_error_code(notifier_errc::subscribe_timeout),
                std::string(unsubscribe ? "unsubscribe: " : "") + "no confirmation within " +
                    std::to_string(timeout_.count()) + " ms from " +
                    (late.empty() ? "any node (the cluster topology is not known yet)" : late));
}

operation_table::finished operation_table::fail(std::uint64_t id, const std::error_code& ec,
                                                const std::string& detail) {
    auto it = ops_.find(id);
    it->second.result.fail(ec, detail);
    it->second.result.degraded.clear();
    return extract(it);
}

operation_table::finished operation_table::take(std::uint64_t id) {
    return extract(ops_.find(id));
}

std::vector<std::uint64_t> operation_table::parked() const {
    std::vector<std::uint64_t> ids;
    for (const auto& [id, op] : ops_) {
        if (op.parked) ids.push_back(id);
    }
    return ids;
}

const std::vector<subscription_key>& operation_table::unpark(std::uint64_t id, std::size_t nodes) {
    operation& op = ops_.find(id)->second;
    op.parked = false;
    op.waiting = nodes;
    return op.result.added;
}

std::vector<operation_table::finished> operation_table::take_all(const std::error_code& ec,
                                                                 const std::string& detail) {
    std::vector<finished> all;
    while (!ops_.empty()) {
        auto it = ops_.begin();
        it->second.result.fail(ec, detail);
        it->second.result.degraded.clear();
        all.push_back(extract(it));
    }
    return all;
}

operation_table::finished operation_table::extract(
    std::map<std::uint64_t, operation>::iterator it) {
    finished f = std::move(it->second.result);
    ops_.erase(it);
    return f;
}

}  // namespace ksn::detail
