#include "tools/bench_matcher.hpp"

#include <algorithm>

#include "cluster/slot.hpp"

namespace ksn::tools::bench {

latency_summary latency_summary::of(const histogram& h) {
    latency_summary s;
    s.count = h.count();
    s.p50 = h.quantile(0.50);
    s.p90 = h.quantile(0.90);
    s.p99 = h.quantile(0.99);
    s.p999 = h.quantile(0.999);
    s.max = h.max();
    return s;
}

node_result& node_result::operator+=(const node_result& o) noexcept {
    writes_sent += o.writes_sent;
    writes_acked += o.writes_acked;
    writes_failed += o.writes_failed;
    writes_silent += o.writes_silent;
    expected += o.expected;
    received += o.received;
    lost += o.lost;
    lost_in_gaps += o.lost_in_gaps;
    duplicated += o.duplicated;
    redelivered += o.redelivered;
    out_of_order += o.out_of_order;
    unconfirmed += o.unconfirmed;
    gaps += o.gaps;
    return *this;
}

matcher::matcher(const key_space& keys, clock::time_point start)
    : keys_(keys), start_(start), key_states_(keys.size()) {}

std::uint32_t matcher::node_id(std::string_view node) {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i].counts.node == node) return static_cast<std::uint32_t>(i);
    nodes_.emplace_back();
    nodes_.back().counts.node = std::string(node);
    return static_cast<std::uint32_t>(nodes_.size() - 1);
}

std::uint32_t matcher::add_connection(std::string_view node) {
    std::lock_guard lock(mutex_);
    conns_.push_back({node_id(node)});
    nodes_[conns_.back().node].written = true;
    return static_cast<std::uint32_t>(conns_.size() - 1);
}

double matcher::since_start(clock::time_point t) const {
    return std::chrono::duration<double>(t - start_).count();
}

second_result& matcher::second_of(clock::time_point t) {
    const auto s = t <= start_
                       ? 0
                       : static_cast<std::uint32_t>(
                             std::chrono::duration_cast<std::chrono::seconds>(t - start_).count());
    while (seconds_.size() <= s) {
        seconds_.emplace_back();
        seconds_.back().second = static_cast<std::uint32_t>(seconds_.size() - 1);
    }
    return seconds_[s];
}

matcher::ticket matcher::sent(std::uint32_t key, op o, std::uint32_t conn, std::uint64_t index,
                              clock::time_point t) {
    std::lock_guard lock(mutex_);
    auto& k = key_states_[key];
    entry e;
    e.seq = k.next_seq++;
    e.sent = t;
    e.conn = conn;
    e.conn_index = index;
    e.o = o;
    k.pending.push_back(e);
    ++nodes_[conns_[conn].node].counts.writes_sent;
    ++second_of(t).sent;
    return {key, e.seq};
}

void matcher::resent(const ticket& t, std::uint32_t conn, std::uint64_t index) {
    std::lock_guard lock(mutex_);
    for (auto& e : key_states_[t.key].pending) {
        if (e.seq != t.seq) continue;
        e.conn = conn;
        e.conn_index = index;
        return;
    }
}

void matcher::count_expected(const entry& e) {
    ++nodes_[conns_[e.conn].node].counts.expected;
}

void matcher::replied(const ticket& t, outcome o, clock::time_point at) {
    std::lock_guard lock(mutex_);
    auto& pending = key_states_[t.key].pending;
    const auto it = std::find_if(pending.begin(), pending.end(),
                                 [&](const entry& e) { return e.seq == t.seq; });
    if (it == pending.end()) return;
    auto& counts = nodes_[conns_[it->conn].node].counts;
    it->replied = at;
    switch (o) {
        case outcome::published:
            it->s = state::published;
            ++counts.writes_acked;
            ++second_of(at).acked;
            if (!it->counted) {
                it->counted = true;
                count_expected(*it);
                if (!it->matched) ++outstanding_;
            }
            break;
        case outcome::silent:
            it->s = state::silent;
            ++counts.writes_acked;
            ++counts.writes_silent;
            ++second_of(at).acked;
            break;
        case outcome::rejected:
            it->s = state::silent;
            ++counts.writes_failed;
            break;
        case outcome::failed:
            it->s = state::failed;
            ++counts.writes_failed;
            break;
    }
    // A matched write is done once its reply is in; a silent one has nothing to wait for.
    if (it->matched || it->s == state::silent) pending.erase(it);
}

void matcher::notified(std::string_view key_suffix, std::string_view event, std::string_view node,
                       clock::time_point received, bool redelivered) {
    std::lock_guard lock(mutex_);
    const auto n = node_id(node);
    auto& counts = nodes_[n].counts;
    const auto key = keys_.id_of_suffix(key_suffix);
    const auto o = op_of_event(event);
    if (!key || !o) {
        ++other_events_;  // e.g. "new" with the n flag; foreign keys are cut by the prefix
        return;
    }
    auto& k = key_states_[*key];
    // Only a write executed on the notifying node: a node publishes the events of its own
    // commands. (MIGRATE's del on the source of a resharding must not take the match of a
    // DEL the bench ran on the target: it would count one received too many on the
    // source and turn the target's own notification into a duplicate.) A node no writer
    // goes to is a replica publishing what its primary executed (redundancy's standby):
    // any node's writes.
    const bool any_node = !nodes_[n].written;
    const auto candidate = [&](const entry& e) {
        return !e.matched && e.o == *o && e.s != state::silent &&
               (any_node || conns_[e.conn].node == n);
    };
    const auto after_last = [&](bool take_failed) {
        return std::find_if(k.pending.begin(), k.pending.end(), [&](const entry& e) {
            return candidate(e) && e.seq >= k.matched_high && (take_failed || e.s != state::failed);
        });
    };
    auto it = after_last(false);
    if (it == k.pending.end()) it = after_last(true);
    if (it == k.pending.end()) it = std::find_if(k.pending.begin(), k.pending.end(), candidate);
    if (it == k.pending.end()) {
        ++(redelivered ? counts.redelivered : counts.duplicated);
        return;
    }
    it->matched = true;
    // Counted where the write executed: a standby delivers for its primary.
    const auto at = any_node ? conns_[it->conn].node : n;
    auto& owner = nodes_[at].counts;
    ++owner.received;
    if (it->seq + 1 < k.matched_high) {
        ++owner.out_of_order;
    } else {
        k.matched_high = it->seq + 1;
    }
    if (it->counted) {
        --outstanding_;
    } else {
        // The notification came before the reply (or instead of one): it proves the write.
        it->counted = true;
        count_expected(*it);
    }
    const auto latency = std::chrono::duration_cast<std::chrono::nanoseconds>(received - it->sent);
    nodes_[at].latency.record(latency.count());
    total_latency_.record(latency.count());
    auto& sec = second_of(received);
    ++sec.received;
    if (sec.second > latency_second_) close_second_latency(sec.second);
    if (sec.second == latency_second_) second_latency_.record(latency.count());
    if (it->s != state::pending) k.pending.erase(it);
}

void matcher::close_second_latency(std::uint32_t upto) {
    if (latency_second_ < seconds_.size()) {
        seconds_[latency_second_].p50_ns = second_latency_.quantile(0.5);
        seconds_[latency_second_].p99_ns = second_latency_.quantile(0.99);
    }
    second_latency_ = histogram();
    latency_second_ = upto;
}

bool matcher::in_slots(std::uint32_t key, const slot_ranges& slots) const {
    if (slots.empty()) return true;
    const auto slot = cluster::key_slot(keys_.name(key));
    return std::any_of(slots.begin(), slots.end(),
                       [&](const auto& r) { return slot >= r.first && slot <= r.second; });
}

void matcher::gap(const gap_event& g) {
    std::lock_guard lock(mutex_);
    gap_record r;
    const auto node = node_id(g.node);
    r.node = node;
    r.open = !g.restored;
    r.lost = g.lost;
    r.result.node = g.node;
    r.result.reason = std::string(to_string(g.reason));
    r.result.detail = g.detail;
    r.result.lost_s = since_start(g.lost);
    if (g.restored) r.result.restored_s = since_start(*g.restored);
    r.result.dropped = g.dropped;
    r.result.slots = g.slots;
    for (std::uint32_t key = 0; key < key_states_.size(); ++key) {
        std::uint32_t n = 0;
        for (const auto& e : key_states_[key].pending) {
            if (e.matched || e.s == state::silent) continue;
            if (g.slots.empty() && conns_[e.conn].node != node) continue;
            if (g.restored && e.sent > *g.restored) continue;
            ++n;
        }
        if (n > 0 && in_slots(key, g.slots)) r.window.emplace_back(key, n);
    }
    ++nodes_[node].counts.gaps;
    gaps_.push_back(std::move(r));
}

bool matcher::settled() const {
    std::lock_guard lock(mutex_);
    return outstanding_ == 0;
}

progress matcher::snapshot(clock::time_point now, clock::duration late) const {
    std::lock_guard lock(mutex_);
    progress p;
    for (const auto& n : nodes_) {
        p.sent += n.counts.writes_sent;
        p.acked += n.counts.writes_acked;
        p.expected += n.counts.expected;
        p.received += n.counts.received;
    }
    for (const auto& k : key_states_) {
        for (const auto& e : k.pending)
            if (e.s == state::published && !e.matched && now - e.replied > late) ++p.missing;
    }
    p.p99_ns = total_latency_.quantile(0.99);
    return p;
}

std::vector<second_result> matcher::take_seconds(clock::time_point now) {
    std::lock_guard lock(mutex_);
    const auto current = static_cast<std::uint32_t>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::seconds>(now - start_).count()));
    if (latency_second_ < current) close_second_latency(current);
    std::vector<second_result> out;
    while (seconds_taken_ < current) {
        if (seconds_taken_ < seconds_.size()) {
            out.push_back(seconds_[seconds_taken_]);
        } else {
            second_result empty;
            empty.second = seconds_taken_;
            out.push_back(empty);
        }
        ++seconds_taken_;
    }
    return out;
}

std::vector<second_result> matcher::timeline() const {
    std::lock_guard lock(mutex_);
    return seconds_;
}

matcher::gap_record* matcher::open_gap(std::uint32_t key, const entry& e) {
    for (auto& g : gaps_) {
        if (!g.open || e.sent < g.lost) continue;
        if (g.result.slots.empty() ? conns_[e.conn].node == g.node : in_slots(key, g.result.slots))
            return &g;
    }
    return nullptr;
}

match_result matcher::finish() {
    std::lock_guard lock(mutex_);
    close_second_latency(latency_second_ + 1);
    // How many writes of each key the gaps' windows hold, gap by gap.
    std::vector<std::vector<std::pair<std::size_t, std::uint32_t>>> windows(key_states_.size());
    for (std::size_t g = 0; g < gaps_.size(); ++g)
        for (const auto& [key, n] : gaps_[g].window)
            windows[key].emplace_back(g, n);
    for (std::uint32_t key = 0; key < key_states_.size(); ++key) {
        auto& room = windows[key];
        std::size_t next = 0;
        for (const auto& e : key_states_[key].pending) {
            if (e.matched) continue;
            auto& counts = nodes_[conns_[e.conn].node].counts;
            if (e.s == state::published) {
                ++counts.lost;
                while (next < room.size() && room[next].second == 0)
                    ++next;
                if (next < room.size()) {
                    --room[next].second;
                    ++counts.lost_in_gaps;
                    ++gaps_[room[next].first].result.lost_writes;
                } else if (auto* g = open_gap(key, e)) {
                    ++counts.lost_in_gaps;
                    ++g->result.lost_writes;
                }
            } else if (e.s == state::pending || e.s == state::failed) {
                ++counts.unconfirmed;
            }
        }
        key_states_[key].pending.clear();
    }
    outstanding_ = 0;
    match_result r;
    r.total.node = "total";
    for (auto& n : nodes_) {
        n.counts.latency = latency_summary::of(n.latency);
        const auto& c = n.counts;
        r.total += c;
        r.nodes.push_back(c);
    }
    r.total.latency = latency_summary::of(total_latency_);
    for (const auto& g : gaps_)
        r.gaps.push_back(g.result);
    r.other_events = other_events_;
    return r;
}

}  // namespace ksn::tools::bench
