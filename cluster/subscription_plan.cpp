#include "cluster/subscription_plan.hpp"

#include <algorithm>

namespace ksn::cluster {

namespace {

std::string describe(const std::vector<std::pair<std::uint16_t, std::uint16_t>>& slots) {
    std::string out;
    for (const auto& [a, b] : slots) {
        if (!out.empty()) out += ",";
        out += std::to_string(a) + (a == b ? "" : "-" + std::to_string(b));
    }
    return out;
}

}  // namespace

std::string node_key(const node_info& n) {
    return n.id.empty() ? n.address.to_string() : n.id;
}

void add_served(const topology& t, std::set<std::string>& served) {
    for (const auto& s : t.shards()) {
        served.insert(node_key(s.primary));
        for (const auto& r : s.replicas)
            served.insert(node_key(r));
    }
}

subscription_plan plan_subscriptions(
    const topology& now, const topology* before, clock::time_point previous_refresh,
    const std::map<std::string, std::optional<clock::time_point>>& subscribed,
    bool subscribe_replicas, const std::set<std::string>* served) {
    subscription_plan p;
    for (const auto& s : now.shards()) {
        auto& entry = p.wanted[s.primary.address.to_string()];
        entry.address = s.primary.address;
        for (const auto& r : s.slots)
            entry.slots.emplace_back(r.first, r.last);
        if (subscribe_replicas) {
            for (const auto& r : s.replicas)
                p.wanted[r.address.to_string()].address = r.address;
        }
    }
    for (const auto& n : now.spares()) {
        const auto name = n.address.to_string();
        if (served && served->count(node_key(n)) && !subscribed.count(name)) continue;
        auto& entry = p.wanted[name];
        entry.address = n.address;
        entry.spare = true;
    }
    for (const auto& [name, since] : subscribed) {
        if (!p.wanted.count(name)) p.close.push_back(name);
    }
    const auto d = before ? diff(*before, now) : topology_diff{};
    for (const auto& [name, entry] : p.wanted) {
        if (subscribed.count(name)) continue;
        p.open.push_back(name);
        if (!before) continue;  // the first topology: nothing was subscribed before it
        // A new node that takes over slots from another: their events may have been lost
        // from when the old owner stopped being trustworthy until the new one is covered.
        std::vector<std::pair<std::uint16_t, std::uint16_t>> taken;
        clock::time_point lost = previous_refresh;
        std::string from;
        for (const auto& m : d.moved) {
            if (m.to != name) continue;
            taken.emplace_back(m.range.first, m.range.last);
            if (auto it = subscribed.find(m.from); it != subscribed.end() && it->second) {
                lost = std::min(lost, *it->second);
            }
            if (!m.from.empty() && p.took_from[name].insert(m.from).second) {
                from += (from.empty() ? "" : ", ") + m.from;
            }
        }
        if (taken.empty()) continue;
        gap_event g;
        g.node = name;
        g.reason = gap_reason::topology_change;
        g.lost = lost;
        g.slots = taken;
        g.detail = name + " took over slots " + describe(taken) +
                   (from.empty() ? std::string() : " from " + from) +
                   " (failover or resharding); events of those slots may have been lost until "
                   "it was subscribed";
        p.gaps.emplace_back(name, std::move(g));
    }
    return p;
}

}  // namespace ksn::cluster
