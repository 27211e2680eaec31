// Fan-in latency and failover recovery of cluster_keyspace_notifications on a local
// Redis Cluster that the benchmark starts itself (3 primaries, plus 3 replicas for the
// failover cases). Every figure is a counter of a single-iteration run:
//
//   FanInLatency/<writes per second>: a writer thread sets keys "lat:<n>" across all
//     slots at a steady rate; a handler on the I/O thread records, per notification,
//       e2e    = write sent -> handler called (what a user sees),
//       server = write sent -> notification bytes read (server + loopback),
//       client = bytes read -> handler called (ksn's parse and dispatch),
//     as p50/p99/p99.9/max in microseconds, overall and per node.
//   FailoverRecovery/manual|crash: writes go to one shard at ~2000/s; its replica is
//     promoted (CLUSTER FAILOVER, or SIGKILL of the primary); recovery_ms is the time
//     from the promotion (seen by polling the replica every 5 ms) to the first
//     notification from the new primary, gap_ms the length of the gap ksn reported.
#include <benchmark/benchmark.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/histogram.hpp"
#include "cluster/cluster_keyspace_notifications.hpp"
#include "cluster/slot.hpp"
#include "tests/support/redis_cluster.hpp"

namespace {

using namespace std::chrono_literals;
using ksn::clock;
using ksn::bench::histogram;

std::int64_t ns(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

ksn::cluster_options options_for(ksn::test::redis_cluster& c) {
    ksn::cluster_options o;
    o.seeds = c.seeds();
    o.refresh_interval = 500ms;
    o.dispatch = ksn::dispatch_mode::io_thread;
    o.connection.reconnect.initial_delay = 10ms;
    o.connection.reconnect.max_delay = 100ms;
    o.connection.health_check_interval = 1s;
    o.connection.health_check_timeout = 1s;
    return o;
}

void report(benchmark::State& st, const std::string& name, const histogram& h) {
    const auto us = [](std::uint64_t v) { return static_cast<double>(v) / 1000.0; };
    st.counters[name + "_p50_us"] = us(h.quantile(0.50));
    st.counters[name + "_p99_us"] = us(h.quantile(0.99));
    st.counters[name + "_p999_us"] = us(h.quantile(0.999));
    st.counters[name + "_max_us"] = us(h.max());
}

void FanInLatency(benchmark::State& st) {
    const auto rate = static_cast<int>(st.range(0));
    const int total = rate * 5;  // five seconds of writes
    ksn::test::redis_cluster c(3, 0);
    ksn::cluster_keyspace_notifications n(options_for(c));
    std::vector<std::atomic<std::int64_t>> sent(static_cast<std::size_t>(total));
    histogram e2e, server, client;
    std::map<std::string, histogram> per_node;
    std::atomic<int> received{0};
    n.subscribe_keyspace("lat:*", 0, [&](const ksn::received_notification& x) {
        const auto now = ns(clock::now());
        const auto key = x.key();
        const auto seq = std::stoi(std::string(key.substr(4)));
        const auto t_sent = sent[static_cast<std::size_t>(seq)].load(std::memory_order_acquire);
        const auto t_read = ns(x.received());
        e2e.record(now - t_sent);
        server.record(t_read - t_sent);
        client.record(now - t_read);
        per_node[std::string(x.node())].record(now - t_sent);
        received.fetch_add(1, std::memory_order_release);
    });
    ksn::test::cluster_writer w(c);
    std::vector<std::string> keys;
    for (int i = 0; i < total; ++i)
        keys.push_back("lat:" + std::to_string(i));
    for (auto _ : st) {
        const auto start = clock::now();
        const auto period = std::chrono::nanoseconds(1000000000LL / rate);
        for (int i = 0; i < total; ++i) {
            std::this_thread::sleep_until(start + period * i);
            sent[static_cast<std::size_t>(i)].store(ns(clock::now()), std::memory_order_release);
            w.set(keys[static_cast<std::size_t>(i)]);
        }
        const auto deadline = clock::now() + 10s;
        while (received.load() < total && clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        st.SetIterationTime(std::chrono::duration<double>(clock::now() - start).count());
    }
    n.close();
    st.counters["received"] = received.load();
    st.counters["lost"] = total - received.load();
    report(st, "e2e", e2e);
    report(st, "server", server);
    report(st, "client", client);
    int i = 0;
    for (const auto& [node, h] : per_node) {
        const std::string name = "node" + std::to_string(i++);
        st.counters[name + "_p50_us"] = static_cast<double>(h.quantile(0.5)) / 1000.0;
        st.counters[name + "_p99_us"] = static_cast<double>(h.quantile(0.99)) / 1000.0;
    }
}
BENCHMARK(FanInLatency)
    ->Arg(1000)
    ->Arg(5000)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void FailoverRecovery(benchmark::State& st) {
    const bool crash = st.range(0) == 1;
    ksn::test::redis_cluster c(3, 1);
    ksn::cluster_keyspace_notifications n(options_for(c));
    n.on_diagnostic([](ksn::severity, const std::string&) {});
    const auto t = c.topology();
    const auto* shard = t.owner(0);
    const auto old_primary = shard->primary.address;
    const auto replica = shard->replicas.front().address;
    const std::string replica_name = replica.to_string();
    std::atomic<std::int64_t> first_from_new{0};
    std::mutex m;
    std::vector<ksn::gap_event> gaps;
    n.on_gap([&](const ksn::gap_event& g) {
        std::lock_guard lock(m);
        gaps.push_back(g);
    });
    n.subscribe_keyspace("fo:*", 0, [&](const ksn::received_notification& x) {
        if (x.node() == replica_name && first_from_new.load() == 0) {
            first_from_new.store(ns(x.received()));
        }
    });
    // Keys of the shard that fails over.
    std::vector<std::string> keys;
    for (int i = 0; keys.size() < 20000; ++i) {
        std::string k = "fo:" + std::to_string(i);
        if (t.owner(ksn::cluster::key_slot(k)) == shard) keys.push_back(std::move(k));
    }
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        ksn::test::cluster_writer w(c);
        for (std::size_t i = 0; !stop && i < keys.size(); ++i) {
            w.set(keys[i]);
            std::this_thread::sleep_for(500us);
        }
    });
    std::int64_t promoted = 0;
    for (auto _ : st) {
        std::this_thread::sleep_for(500ms);
        const auto start = clock::now();
        if (crash) {
            c.node(old_primary.port).kill9();
        } else {
            c.node(replica.port).command({"CLUSTER", "FAILOVER"});
        }
        ksn::test::client poll(replica.port);
        const auto deadline = clock::now() + 30s;
        while (promoted == 0 && clock::now() < deadline) {
            std::string error;
            const auto now_t = ksn::cluster::parse_cluster_slots(poll.command({"CLUSTER", "SLOTS"}),
                                                                 replica, error);
            if (now_t && now_t->owner(0) && now_t->owner(0)->primary.address == replica) {
                promoted = ns(clock::now());
            } else {
                std::this_thread::sleep_for(5ms);
            }
        }
        while (first_from_new.load() == 0 && clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        st.SetIterationTime(std::chrono::duration<double>(clock::now() - start).count());
    }
    stop = true;
    writer.join();
    n.close();
    st.counters["recovery_ms"] = first_from_new.load() && promoted
                                     ? static_cast<double>(first_from_new.load() - promoted) / 1e6
                                     : -1;
    std::lock_guard lock(m);
    for (const auto& g : gaps) {
        if (g.node == replica_name && g.restored) {
            st.counters["gap_ms"] =
                std::chrono::duration<double, std::milli>(*g.restored - g.lost).count();
        }
    }
}
BENCHMARK(FailoverRecovery)
    ->Arg(0)
    ->Arg(1)
    ->ArgNames({"crash"})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
