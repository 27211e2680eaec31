#include "tests/support/cluster_checks.hpp"

#include <unordered_map>
#include <unordered_set>

#include "cluster/slot.hpp"
#include "tests/support/timing.hpp"

namespace ksn::test {

using namespace std::chrono_literals;

cluster_options test_cluster_options(redis_cluster& c, std::chrono::milliseconds refresh) {
    cluster_options o;
    o.seeds = {c.seeds().front()};
    o.refresh_interval = refresh;
    // Timeouts are bounds a slow (sanitized) notifier must meet: scaled. Intervals and
    // reconnect delays are the notifier's own pacing and stay as they are.
    o.connection.connect_timeout = scaled(2s);
    o.connection.health_check_interval = 1s;
    o.connection.health_check_timeout = scaled(1s);
    o.connection.reconnect.initial_delay = 20ms;
    o.connection.reconnect.max_delay = 200ms;
    o.subscribe_timeout = scaled(5s);
    o.queue_capacity = 1 << 20;
    return o;
}

// --- collector ------------------------------------------------------------------------------

collector::collector(notifier_base& n, std::size_t reserve) : n_(n) {
    received_.resize(reserve);
    received_at_.resize(reserve);
    thread_ = std::thread([this] { run(); });
}

collector::~collector() {
    stop_ = true;
    thread_.join();
}

std::size_t collector::count() {
    std::lock_guard lock(m_);
    return count_;
}

std::vector<std::pair<std::string, std::string>> collector::received() {
    std::lock_guard lock(m_);
    return {received_.begin(), received_.begin() + static_cast<std::ptrdiff_t>(count_)};
}

std::vector<clock::time_point> collector::received_at() {
    std::lock_guard lock(m_);
    return {received_at_.begin(), received_at_.begin() + static_cast<std::ptrdiff_t>(count_)};
}

std::vector<gap_event> collector::gaps() {
    std::lock_guard lock(m_);
    return gaps_;
}

std::vector<std::string> collector::redelivered() {
    std::lock_guard lock(m_);
    return redelivered_;
}

void collector::run() {
    delivery d;
    while (!stop_) {
        if (paused_) {
            std::this_thread::sleep_for(10ms);
            continue;
        }
        if (!n_.next(d, 50ms)) continue;
        std::lock_guard lock(m_);
        if (d.is_gap()) gaps_.push_back(d.gap());
        if (d.is_notification()) {
            const auto key = d.notification().key();
            const auto node = d.notification().node();
            if (count_ < received_.size()) {
                received_[count_].first.assign(key);
                received_[count_].second.assign(node);
                received_at_[count_] = d.notification().received();
            } else {
                received_.emplace_back(std::string(key), std::string(node));
                received_at_.push_back(d.notification().received());
            }
            ++count_;
            if (d.notification().redelivered()) redelivered_.emplace_back(key);
        }
    }
}

// --- write_load -----------------------------------------------------------------------------

write_load::write_load(redis_cluster& c, std::string prefix, options o)
    : writer_(c), prefix_(std::move(prefix)), options_(o) {
    writes_.resize(options_.limit);
    thread_ = std::thread([this] { run(); });
}

write_load::~write_load() {
    stop();
}

void write_load::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

std::vector<write_load::write> write_load::writes() {
    std::lock_guard lock(m_);
    return {writes_.begin(), writes_.begin() + static_cast<std::ptrdiff_t>(count_.load())};
}

std::size_t write_load::connections() {
    std::lock_guard lock(writer_m_);
    return writer_.connections();
}

void write_load::run() {
    const auto period = options_.rate > 0 ? clock::duration(1s) / options_.rate : clock::duration{};
    auto next = clock::now();
    for (std::size_t i = 0; !stop_ && i < options_.limit; ++i) {
        write w{prefix_ + std::to_string(i), 0, clock::now(), {}};
        bool ok = true;
        {
            std::lock_guard lock(writer_m_);
            try {
                w.port = writer_.set(w.key);
            } catch (const std::exception&) {
                // Not acknowledged (the cluster was down longer than the writer retries):
                // whether it happened is unknown, so it is not recorded.
                ok = false;
                ++failed_;
            }
        }
        w.acked = clock::now();
        if (ok) {
            std::lock_guard lock(m_);
            writes_[recorded_] = std::move(w);
            count_ = ++recorded_;
        }
        if (options_.rate <= 0) {
            // Pacing, not synchronisation: a pause that leaves the notifier (slower under a
            // sanitizer, hence scaled) the CPU to keep up with the writes.
            std::this_thread::sleep_for(scaled(1ms));
            continue;
        }
        // After a stall (a failover) the schedule restarts from now: no catching up.
        next = std::max(next + period, clock::now() - period);
        std::this_thread::sleep_until(next);
    }
}

// --- checks ---------------------------------------------------------------------------------

namespace {

/// Whether `g` names the slot of `w` (or, without slots, the node that executed it).
bool names(const gap_event& g, const write_load::write& w) {
    if (g.slots.empty()) return g.node == "127.0.0.1:" + std::to_string(w.port);
    const auto slot = cluster::key_slot(w.key);
    for (const auto& [a, b] : g.slots) {
        if (slot >= a && slot <= b) return true;
    }
    return false;
}

}  // namespace

bool covered_by_gap(const write_load::write& w, const std::vector<gap_event>& gaps) {
    for (const auto& g : gaps) {
        if (!names(g, w)) continue;
        const auto end = g.restored ? *g.restored + gap_slack : clock::time_point::max();
        if (w.sent <= end && w.acked + gap_slack >= g.lost) return true;
    }
    return false;
}

repeat_report check_repeats(const std::vector<std::pair<std::string, std::string>>& received,
                            const std::vector<std::string>& redelivered) {
    std::map<std::string, std::size_t> copies, marked;
    for (const auto& [key, node] : received)
        ++copies[key];
    for (const auto& key : redelivered)
        ++marked[key];
    repeat_report r;
    for (const auto& [key, count] : copies) {
        r.repeats += count - 1;
        if (marked[key] == count - 1) continue;
        if (r.mismatched++ == 0) {
            r.example = key + ": " + std::to_string(count) + " copies, " +
                        std::to_string(marked[key]) + " marked";
        }
    }
    for (const auto& [key, count] : marked) {
        if (copies.count(key) == 0 && r.mismatched++ == 0) r.example = key + ": marked, never seen";
    }
    return r;
}

delivery_report check_delivery(const std::vector<write_load::write>& writes,
                               const std::vector<std::pair<std::string, std::string>>& received,
                               const std::vector<gap_event>& gaps) {
    return check_delivery(writes, received, gaps, {});
}

delivery_report check_delivery(const std::vector<write_load::write>& writes,
                               const std::vector<std::pair<std::string, std::string>>& received,
                               const std::vector<gap_event>& gaps,
                               const std::vector<clock::time_point>& received_at) {
    delivery_report r;
    r.writes = writes.size();
    std::unordered_set<std::string> got;
    got.reserve(received.size());
    for (const auto& [key, node] : received)
        got.insert(key);
    for (const auto& g : gaps)
        ++r.gaps_by_reason[std::string(to_string(g.reason))];
    // An open gap (its node given up) excuses nothing once its slots are served again:
    // it ends where the first write in them sent after it began was notified.
    std::vector<gap_event> bounded = gaps;
    if (!received_at.empty()) {
        // Each node's read lag: first read of a key against its write's acknowledgment.
        std::unordered_map<std::string, clock::time_point> first_read;
        first_read.reserve(received.size());
        for (std::size_t i = 0; i < received.size() && i < received_at.size(); ++i)
            first_read.emplace(received[i].first, received_at[i]);
        std::unordered_map<std::string, clock::duration> lag;  // by node name
        for (const auto& w : writes) {
            const auto f = first_read.find(w.key);
            if (f == first_read.end() || f->second <= w.acked) continue;
            auto& l = lag["127.0.0.1:" + std::to_string(w.port)];
            l = std::max(l, f->second - w.acked);
            r.read_lag = std::max(r.read_lag, f->second - w.acked);
        }
        for (auto& g : bounded) {
            if (g.reason != gap_reason::queue_overflow) continue;
            if (const auto l = lag.find(g.node); l != lag.end()) g.lost -= l->second;
        }
    }
    for (auto& g : bounded) {
        if (g.restored) continue;
        for (const auto& w : writes) {
            if (w.sent <= g.lost + gap_slack || !got.count(w.key) || !names(g, w)) continue;
            if (!g.restored || w.sent < *g.restored) g.restored = w.sent;
        }
        if (g.restored) ++r.open_gaps_bounded;
    }
    for (const auto& w : writes) {
        if (got.count(w.key)) {
            ++r.received;
            if (covered_by_gap(w, bounded)) ++r.covered_but_notified;
        } else if (covered_by_gap(w, bounded)) {
            ++r.excused;
        } else {
            if (r.missing++ == 0) r.example = w.key + " on port " + std::to_string(w.port);
            if (r.missing_writes.size() < delivery_report::missing_kept)
                r.missing_writes.push_back(w);
        }
    }
    return r;
}

void wait_settled(collector& col, std::size_t expected, std::chrono::seconds limit) {
    const auto deadline = clock::now() + scaled(limit);
    const auto quiet = scaled(std::chrono::milliseconds(1s));
    std::size_t last = col.count();
    auto last_change = clock::now();
    while (clock::now() < deadline && col.count() < expected) {
        std::this_thread::sleep_for(50ms);
        const std::size_t now = col.count();
        if (now != last) {
            last = now;
            last_change = clock::now();
        } else if (clock::now() - last_change > quiet) {
            return;
        }
    }
}

void wait_settled(collector& col, const std::vector<write_load::write>& writes,
                  std::chrono::seconds limit) {
    const auto deadline = clock::now() + scaled(limit);
    const auto quiet = scaled(std::chrono::milliseconds(1s));
    std::size_t last = col.count();
    auto last_change = clock::now();
    const auto every_key = [&] {
        std::unordered_set<std::string> got;
        for (const auto& [key, node] : col.received())
            got.insert(key);
        for (const auto& w : writes) {
            if (!got.count(w.key)) return false;
        }
        return true;
    };
    while (clock::now() < deadline) {
        const std::size_t now = col.count();
        if (now >= writes.size() && every_key()) return;
        std::this_thread::sleep_for(50ms);
        if (col.count() != last) {
            last = col.count();
            last_change = clock::now();
        } else if (clock::now() - last_change > quiet) {
            return;
        }
    }
}

}  // namespace ksn::test
