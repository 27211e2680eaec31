// Sentinel failover recovery against real processes (tests/support/redis_sentinel.hpp: 1
// primary, 1 replica, 3 sentinels with down-after-milliseconds 1000).
//
//   SentinelFailover/crash:0|1: a writer writes one key every ~0.5 ms to both data nodes
//     (the replica refuses with READONLY until it is promoted, so writes reach the new
//     primary from its promotion on, whoever names it); then SENTINEL FAILOVER (crash:0)
//     or SIGKILL of the primary (crash:1). A redis-cli process subscribed to
//     +switch-master on a sentinel timestamps the announcement. Counters:
//       switch_to_subscribed_ms — from +switch-master to ksn's confirmed subscription on
//         the new primary (the end of the gap it reports): from then on every write is
//         notified; the bound is 1000 ms;
//       switch_to_first_ms — from +switch-master to the first notification from the new
//         primary;
//       promoted_before_switch_ms — how long before +switch-master the new primary
//         acknowledged its first write (those writes lie in ksn's gap: no sentinel had
//         named the node yet);
//       gap_ms — the gap ksn reported on the new primary.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sentinel/sentinel_keyspace_notifications.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tests/support/redis_sentinel.hpp"

namespace {

using namespace std::chrono_literals;
using ksn::clock;

std::int64_t ns(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
double ms_between(std::int64_t from, std::int64_t to) {
    return from && to ? static_cast<double>(to - from) / 1e6 : -1;
}

/// `redis-cli --csv subscribe +switch-master` on one sentinel; the time the first
/// announcement's line was read.
class switch_listener {
  public:
    explicit switch_listener(std::uint16_t sentinel_port) {
        child_ = ksn::test::spawn_reading(
            {ksn::test::redis_cli_path(), "-h", "127.0.0.1", "-p", std::to_string(sentinel_port),
             "--csv", "subscribe", "+switch-master"},
            false, true);
    }
    ~switch_listener() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        ::kill(child_.pid, SIGKILL);
        int status = 0;
        ::waitpid(child_.pid, &status, 0);
        ::close(child_.out);
    }
    /// Reads until redis-cli printed its subscribe confirmation (true) or `limit`, then
    /// reads on in a thread of its own.
    bool start(std::chrono::milliseconds limit) {
        bool subscribed = false;
        const auto deadline = clock::now() + limit;
        while (!subscribed && clock::now() < deadline) {
            read_lines([&](std::string_view line) {
                subscribed = subscribed || line.find("\"subscribe\"") != std::string_view::npos;
            });
        }
        thread_ = std::thread([this] {
            const auto until = clock::now() + 120s;
            while (!stop_ && clock::now() < until) {
                read_lines([this](std::string_view line) {
                    if (line.find("\"message\",\"+switch-master\"") != std::string_view::npos &&
                        seen_.load() == 0)
                        seen_.store(ns(clock::now()));
                });
            }
        });
        return subscribed;
    }
    std::int64_t seen() const noexcept { return seen_.load(); }

  private:
    template <class F>
    void read_lines(F on_line) {
        pollfd p{child_.out, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) return;
        char buf[4096];
        const auto n = ::read(child_.out, buf, sizeof buf);
        if (n <= 0) return;
        partial_.append(buf, static_cast<std::size_t>(n));
        std::size_t at = 0;
        for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', at)) {
            on_line(std::string_view(partial_).substr(at, nl - at));
            at = nl + 1;
        }
        partial_.erase(0, at);
    }

    ksn::test::spawned child_;
    std::string partial_;
    std::atomic<bool> stop_{false};
    std::atomic<std::int64_t> seen_{0};
    std::thread thread_;
};

/// Writes "sf:<n>" to both data nodes in turn, a 0.5 ms pause between rounds; records
/// when the node on `watch` first acknowledged one.
class both_nodes_writer {
  public:
    both_nodes_writer(std::vector<std::uint16_t> ports, std::uint16_t watch)
        : ports_(std::move(ports)), watch_(watch), thread_([this] { run(); }) {}
    ~both_nodes_writer() {
        stop_ = true;
        thread_.join();
    }
    std::int64_t first_on_watched() const noexcept { return first_.load(); }

  private:
    void run() {
        std::vector<std::unique_ptr<ksn::test::client>> clients(ports_.size());
        const auto until = clock::now() + 120s;
        for (std::size_t i = 0; !stop_ && clock::now() < until; ++i) {
            for (std::size_t c = 0; c < ports_.size(); ++c) {
                try {
                    if (!clients[c])
                        clients[c] = std::make_unique<ksn::test::client>(ports_[c], 200ms);
                    const auto r = clients[c]->command({"SET", "sf:" + std::to_string(i), "v"});
                    if (!r.is_error() && ports_[c] == watch_ && first_.load() == 0)
                        first_.store(ns(clock::now()));
                } catch (const std::exception&) {
                    clients[c].reset();  // dead or stopped: connect again next round
                }
            }
            std::this_thread::sleep_for(500us);
        }
    }

    std::vector<std::uint16_t> ports_;
    std::uint16_t watch_;
    std::atomic<bool> stop_{false};
    std::atomic<std::int64_t> first_{0};
    std::thread thread_;
};

void SentinelFailover(benchmark::State& st) {
    const bool crash = st.range(0) == 1;
    ksn::test::redis_sentinel_set s;
    const auto old_primary = s.primary_at_start().port();
    const auto replica = s.replica_at_start().port();
    const std::string replica_name = "127.0.0.1:" + std::to_string(replica);

    ksn::sentinel_options o;
    o.sentinels = s.sentinel_endpoints();
    o.primary_name = s.primary_name();
    o.dispatch = ksn::dispatch_mode::io_thread;
    o.connection.reconnect.initial_delay = 10ms;
    o.connection.reconnect.max_delay = 100ms;
    o.connection.health_check_interval = 1s;
    o.connection.health_check_timeout = 1s;
    ksn::sentinel_keyspace_notifications n(o);
    n.on_diagnostic([](ksn::severity, const std::string&) {});
    std::mutex m;
    std::vector<ksn::gap_event> gaps;
    n.on_gap([&](const ksn::gap_event& g) {
        std::lock_guard lock(m);
        gaps.push_back(g);
    });
    std::atomic<std::int64_t> first_from_new{0};
    n.subscribe_keyspace("sf:*", 0, [&](const ksn::received_notification& x) {
        if (x.node() == replica_name && first_from_new.load() == 0)
            first_from_new.store(ns(x.received()));
    });

    switch_listener announcements(s.sentinel(0).port());
    if (!announcements.start(10s)) {
        st.SkipWithError("redis-cli did not subscribe to +switch-master");
        return;
    }
    both_nodes_writer writer({old_primary, replica}, replica);
    for (auto _ : st) {
        std::this_thread::sleep_for(500ms);  // writes flow before the fault
        const auto start = clock::now();
        if (crash) {
            s.primary_at_start().kill9();
        } else {
            s.failover();
        }
        const auto deadline = clock::now() + 30s;
        while ((announcements.seen() == 0 || first_from_new.load() == 0) && clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        st.SetIterationTime(std::chrono::duration<double>(clock::now() - start).count());
    }
    // The gap closes once the subscription on the new primary is confirmed.
    const auto deadline = clock::now() + 10s;
    std::optional<ksn::gap_event> gap;
    while (!gap && clock::now() < deadline) {
        {
            std::lock_guard lock(m);
            for (const auto& g : gaps) {
                if (g.node == replica_name && g.reason == ksn::gap_reason::topology_change &&
                    g.restored)
                    gap = g;
            }
        }
        if (!gap) std::this_thread::sleep_for(5ms);
    }
    const auto seen = announcements.seen();
    st.counters["switch_to_first_ms"] = ms_between(seen, first_from_new.load());
    st.counters["promoted_before_switch_ms"] = ms_between(writer.first_on_watched(), seen);
    st.counters["switch_to_subscribed_ms"] = gap ? ms_between(seen, ns(*gap->restored)) : -1;
    st.counters["gap_ms"] =
        gap ? std::chrono::duration<double, std::milli>(*gap->restored - gap->lost).count() : -1;
    n.close();
}
BENCHMARK(SentinelFailover)
    ->Arg(0)
    ->Arg(1)
    ->ArgNames({"crash"})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
