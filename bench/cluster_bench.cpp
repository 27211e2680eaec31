// Fan-in latency and failover recovery of cluster_keyspace_notifications on a local
// Redis Cluster that the benchmark starts itself (3 primaries, plus 3 replicas for the
// failover cases). Every figure is a counter of a single-iteration run:
//
//   FanInLatency/rate:<writes per second>/cli_first:<0|1>: a writer thread sets keys "lat:<n>"
//   across all
//     slots at a steady rate; a handler on the I/O thread records, per notification,
//       e2e    = write sent -> handler called (what a user sees),
//       server = write sent -> notification bytes read (server + loopback),
//       client = bytes read -> handler called (ksn's parse and dispatch),
//     as p50/p99/p99.9/max in microseconds, overall and per node. In the same run, the
//     baseline: one `redis-cli --csv psubscribe '__keyspace@0__:lat:*'` per primary
//     (Debian's redis-tools), whose stdout pipes one thread of this process polls; it
//       cli_e2e = write sent -> the line read from redis-cli's stdout
//     (redis-cli fflush()es stdout after every pub/sub message, also into a pipe: checked
//     with redis-cli 7.0, so no stdbuf is needed), so both see the same writes at the same
//     rate on the same machine. Redis writes to the subscribers of a message in the
//     reverse order of their subscriptions, so each rate runs twice: ksn subscribed
//     first (cli_first:0, redis-cli is written first) and redis-cli first (cli_first:1).
//   FailoverRecovery/manual|crash: writes go to one shard at ~2000/s; its replica is
//     promoted (CLUSTER FAILOVER, or SIGKILL of the primary); recovery_ms is the time
//     from the promotion (seen by polling the replica every 5 ms) to the first
//     notification from the new primary, gap_ms the length of the gap ksn reported (0:
//     none, a manual failover handed over without loss), gaps how many, redelivered the
//     repeats of a handover's overlap among the notified.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <csignal>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "cluster/slot.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tools/histogram.hpp"

namespace {

using namespace std::chrono_literals;
using ksn::clock;
using ksn::tools::histogram;

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

/// The sequence number n of the last "lat:<n>" in `text` (a key, or a line of redis-cli's
/// output), or -1.
int seq_of(std::string_view text) {
    const auto at = text.rfind("lat:");
    if (at == std::string_view::npos) return -1;
    int seq = -1;
    const char* first = text.data() + at + 4;
    std::from_chars(first, text.data() + text.size(), seq);
    return seq;
}

/// The baseline subscriber: one `redis-cli --csv psubscribe <pattern>` process per node,
/// each line of their stdout handed to `on_line` with the time its bytes were read.
/// One thread polls every pipe, as ksn's one I/O thread serves every connection.
class cli_subscribers {
  public:
    using line_handler = std::function<void(std::string_view line, clock::time_point read)>;

    cli_subscribers(const std::vector<std::uint16_t>& ports, const std::string& pattern) {
        const std::string cli = ksn::test::redis_cli_path();
        for (const auto port : ports) {
            spawn({cli, "-h", "127.0.0.1", "-p", std::to_string(port), "--csv", "psubscribe",
                   pattern});
        }
    }
    ~cli_subscribers() {
        stop();
        for (auto& c : children_) {
            ::kill(c.pid, SIGTERM);
            int status = 0;
            for (int i = 0; i < 200 && ::waitpid(c.pid, &status, WNOHANG) == 0; ++i)
                std::this_thread::sleep_for(5ms);
            if (::waitpid(c.pid, &status, WNOHANG) == 0) {
                ::kill(c.pid, SIGKILL);
                ::waitpid(c.pid, &status, 0);
            }
            ::close(c.fd);
        }
    }
    cli_subscribers(const cli_subscribers&) = delete;
    cli_subscribers& operator=(const cli_subscribers&) = delete;

    /// Reads until every process printed its psubscribe confirmation (true) or `limit`.
    bool wait_subscribed(std::chrono::milliseconds limit) {
        std::size_t confirmed = 0;
        const auto deadline = clock::now() + limit;
        while (confirmed < children_.size() && clock::now() < deadline) {
            poll_once(20, [&](std::string_view line, clock::time_point) {
                if (line.find("\"psubscribe\"") != std::string_view::npos) ++confirmed;
            });
        }
        return confirmed == children_.size();
    }
    /// Hands every line to `h` on a thread of its own until stop().
    void start(line_handler h) {
        thread_ = std::thread([this, h = std::move(h)] {
            const auto deadline = clock::now() + 120s;
            while (!stop_.load() && clock::now() < deadline)
                poll_once(20, h);
        });
    }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }

  private:
    struct child {
        pid_t pid;
        int fd;
        std::string partial;  // a line not yet complete
    };

    void spawn(const std::vector<std::string>& argv) {
        // stdout only: redis-cli's psubscribe lines; never outliving the benchmark.
        const auto c = ksn::test::spawn_reading(argv, false, true);
        children_.push_back({c.pid, c.out, {}});
    }

    template <class F>
    void poll_once(int timeout_ms, F&& on_line) {
        std::vector<pollfd> p;
        for (const auto& c : children_)
            p.push_back({c.fd, POLLIN, 0});
        if (::poll(p.data(), p.size(), timeout_ms) <= 0) return;
        for (std::size_t i = 0; i < p.size(); ++i) {
            if ((p[i].revents & (POLLIN | POLLHUP)) == 0) continue;
            char buf[65536];
            const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            const auto now = clock::now();
            if (n <= 0) continue;
            std::string& partial = children_[i].partial;
            partial.append(buf, static_cast<std::size_t>(n));
            std::size_t begin = 0;
            for (std::size_t end; (end = partial.find('\n', begin)) != std::string::npos;
                 begin = end + 1) {
                on_line(std::string_view(partial).substr(begin, end - begin), now);
            }
            partial.erase(0, begin);
        }
    }

    std::vector<child> children_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
};

void report(benchmark::State& st, const std::string& name, const histogram& h) {
    const auto us = [](std::uint64_t v) { return static_cast<double>(v) / 1000.0; };
    st.counters[name + "_p50_us"] = us(h.quantile(0.50));
    st.counters[name + "_p99_us"] = us(h.quantile(0.99));
    st.counters[name + "_p999_us"] = us(h.quantile(0.999));
    st.counters[name + "_max_us"] = us(h.max());
}

void FanInLatency(benchmark::State& st) {
    const auto rate = static_cast<int>(st.range(0));
    const bool cli_first = st.range(1) == 1;
    const int total = rate * 5;  // five seconds of writes
    ksn::test::redis_cluster c(3, 0);
    ksn::cluster_keyspace_notifications n(options_for(c));
    std::vector<std::atomic<std::int64_t>> sent(static_cast<std::size_t>(total));
    histogram e2e, server, client, cli_e2e;
    std::map<std::string, histogram> per_node;
    std::atomic<int> received{0};
    std::atomic<int> cli_received{0};
    std::atomic<int> gaps{0};  // interruptions ksn reported (the reason for any loss)
    n.on_gap([&](const ksn::gap_event&) { gaps.fetch_add(1); });
    const auto latency_of = [&](std::string_view text, std::int64_t now) -> std::int64_t {
        const auto seq = seq_of(text);
        if (seq < 0 || seq >= total) return -1;
        return now - sent[static_cast<std::size_t>(seq)].load(std::memory_order_acquire);
    };
    const auto subscribe_ksn = [&] {
        n.subscribe_keyspace("lat:*", 0, [&](const ksn::received_notification& x) {
            const auto now = ns(clock::now());
            const auto latency = latency_of(x.key(), now);
            if (latency < 0) return;
            const auto t_read = ns(x.received());
            e2e.record(latency);
            server.record(latency - (now - t_read));
            client.record(now - t_read);
            per_node[std::string(x.node())].record(latency);
            received.fetch_add(1, std::memory_order_release);
        });
    };
    // Redis writes a message's subscribers in the reverse order of their subscriptions
    // (clients_pending_write is a LIFO list), so whoever subscribed last reads first:
    // every rate runs in both orders.
    if (!cli_first) subscribe_ksn();
    std::vector<std::uint16_t> primaries;
    for (const auto& node : c.nodes())
        primaries.push_back(node->port());
    cli_subscribers cli(primaries, "__keyspace@0__:lat:*");
    if (!cli.wait_subscribed(10s)) {
        st.SkipWithError("redis-cli did not confirm its psubscribe within 10 s");
        return;
    }
    if (cli_first) subscribe_ksn();
    cli.start([&](std::string_view line, clock::time_point read) {
        const auto latency = latency_of(line, ns(read));
        if (latency < 0) return;
        cli_e2e.record(latency);
        cli_received.fetch_add(1, std::memory_order_release);
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
        while ((received.load() < total || cli_received.load() < total) && clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        st.SetIterationTime(std::chrono::duration<double>(clock::now() - start).count());
    }
    n.close();
    cli.stop();
    st.counters["received"] = received.load();
    st.counters["lost"] = total - received.load();
    st.counters["cli_lost"] = total - cli_received.load();
    st.counters["gaps"] = gaps.load();
    report(st, "e2e", e2e);
    report(st, "server", server);
    report(st, "client", client);
    report(st, "cli_e2e", cli_e2e);
    int i = 0;
    for (const auto& [node, h] : per_node) {
        const std::string name = "node" + std::to_string(i++);
        st.counters[name + "_p50_us"] = static_cast<double>(h.quantile(0.5)) / 1000.0;
        st.counters[name + "_p99_us"] = static_cast<double>(h.quantile(0.99)) / 1000.0;
    }
}
BENCHMARK(FanInLatency)
    ->ArgsProduct({{1000, 5000, 10000}, {0, 1}})
    ->ArgNames({"rate", "cli_first"})
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
    std::atomic<std::uint64_t> notified{0}, redelivered{0};
    std::mutex m;
    std::vector<ksn::gap_event> gaps;
    n.on_gap([&](const ksn::gap_event& g) {
        std::lock_guard lock(m);
        gaps.push_back(g);
    });
    n.subscribe_keyspace("fo:*", 0, [&](const ksn::received_notification& x) {
        notified.fetch_add(1);
        if (x.redelivered()) redelivered.fetch_add(1);
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
    st.counters["notified"] = static_cast<double>(notified.load());
    st.counters["redelivered"] = static_cast<double>(redelivered.load());
    std::lock_guard lock(m);
    st.counters["gaps"] = static_cast<double>(gaps.size());
    st.counters["gap_ms"] = 0;  // no gap: a handover without loss
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
