// CPU per notification of whole consumer processes against a real redis-server that the
// benchmark starts itself, each beside the baseline in the same run: the same writer,
// the same keys, one consumer process at a time. Consumers (one row each):
//   hiredis        bench/hiredis_consumer: a bare hiredis loop (poll(), redisBufferRead,
//                  redisGetReplyFromReader) that counts each pmessage;
//   hiredis_print  the same, writing "<ns> <key>" per notification to stdout;
//   ksn_handler    bench/ksn_consumer: ksn's library, dispatch_mode::caller, a handler
//                  that counts (run inside next());
//   ksn_next       the same notifier without a handler: next() returns each one;
//   ksn_next_print the same, writing "<ns> <key>" like hiredis_print;
//   watch_format   `ksn watch --pattern ... --count N --format '{ts_ns} {key}'`, the
//                  line hiredis_print writes;
//   watch_text     the same with its text lines;
//   watch_json     the same with --json.
// Loads: burst (200,000 SETs written in pipelines of 1,000 as fast as the server takes
// them) and rate:2000 (10,000 SETs at 2,000/s, one every 500 us), on one redis-server, or
// (cluster_burst, cluster_rate:2000) on a cluster of 3 primaries without replicas, where
// each consumer subscribes every primary (hiredis: one connection per primary; ksn: from
// a seed) and the writer sends each key to its slot's owner (pipelined per primary in a
// burst). Counters: cpu_us (user + system CPU of the consumer process over its whole
// life, from wait4(), divided by the notifications), user_us, sys_us, and max_rss_mb.
// The process's start-up (connect, subscribe) is included; it is the same for every row.
// Stdout goes to /dev/null, except for the consumers that print at a rate: their lines
// ("<CLOCK_MONOTONIC ns> <key>") go to a file, and p50_us / p99_us are the latency from
// the write (the writer's clock just before it sends the SET) to the notification's
// receive time, over every key.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/redis_cluster.hpp"
#include "tests/support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using ksn::test::client;
using ksn::test::cluster_writer;
using ksn::test::redis_cluster;
using ksn::test::redis_server;

constexpr const char* pattern = "__keyspace@0__:b:*";

struct finished {
    bool ok = false;
    rusage usage{};
};

/// Starts the consumer with its stdout on `out` (a path: /dev/null or a file it creates).
pid_t spawn(const std::vector<std::string>& args, const std::string& out) {
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) ::_exit(126);
        ::dup2(fd, 1);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

/// Waits (bounded) for the child's exit and its resource usage.
finished reap(pid_t pid, std::chrono::seconds limit) {
    finished f;
    const auto until = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
        const pid_t r = ::wait4(pid, &status, WNOHANG, &f.usage);
        if (r == pid) {
            f.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            return f;
        }
        std::this_thread::sleep_for(5ms);
    }
    ::kill(pid, SIGKILL);
    ::wait4(pid, &status, 0, &f.usage);
    return f;
}

/// The consumer's command line; `ports` are the primaries (one for a single server).
std::vector<std::string> consumer_args(const std::string& kind, std::uint64_t count,
                                       const std::vector<std::uint16_t>& ports) {
    const std::string n = std::to_string(count);
    const bool cluster = ports.size() > 1;
    const std::string seed = "127.0.0.1:" + std::to_string(ports.front());
    if (kind == "hiredis" || kind == "hiredis_print") {
        std::vector<std::string> args = {HIREDIS_CONSUMER, n, pattern};
        if (kind == "hiredis_print") args.push_back("--print");
        for (const std::uint16_t p : ports)
            args.push_back("127.0.0.1:" + std::to_string(p));
        return args;
    }
    if (kind.rfind("ksn_", 0) == 0) {
        std::vector<std::string> args = {KSN_CONSUMER, n, pattern,
                                         kind == "ksn_handler" ? "handler" : "next"};
        if (kind == "ksn_next_print") args.push_back("--print");
        if (cluster) args.push_back("--cluster");
        args.push_back(seed);
        return args;
    }
    std::vector<std::string> watch = {KSN_BINARY,  "watch", "--port",  std::to_string(ports[0]),
                                      "--pattern", pattern, "--count", n,
                                      "--timeout", "120"};
    if (cluster) watch.push_back("--cluster");
    if (kind == "watch_json") watch.push_back("--json");
    if (kind == "watch_format") watch.insert(watch.end(), {"--format", "{ts_ns} {key}"});
    return watch;
}

bool prints_times(const std::string& kind) {
    return kind == "hiredis_print" || kind == "ksn_next_print" || kind == "watch_format";
}

std::int64_t monotonic_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// The servers of a row: one redis-server, or a cluster of 3 primaries (built on first
/// use, kept for every row: the same servers, warmed up alike).
struct target {
    std::vector<std::uint16_t> ports;  // the primaries
    redis_cluster* cluster = nullptr;
};

target servers(bool cluster) {
    if (!cluster) {
        static redis_server server;
        return {{server.port()}, nullptr};
    }
    static redis_cluster primaries(3, 0);
    target t{{}, &primaries};
    for (const auto& node : primaries.nodes())
        t.ports.push_back(node->port());
    return t;
}

/// p50 and p99 latency (us) of `file`'s "<ns> <key>" lines against the send times of
/// keys "b:<i>"; false unless every key of 0..count-1 is there once.
bool latencies(const std::string& file, const std::vector<std::int64_t>& sent, double& p50,
               double& p99) {
    std::ifstream in(file);
    std::vector<double> us;
    us.reserve(sent.size());
    std::vector<bool> seen(sent.size(), false);
    std::int64_t ns = 0;
    std::string key;
    while (in >> ns >> key) {
        if (key.rfind("b:", 0) != 0) return false;
        const std::size_t i = std::strtoull(key.c_str() + 2, nullptr, 10);
        if (i >= sent.size() || seen[i]) return false;
        seen[i] = true;
        us.push_back(static_cast<double>(ns - sent[i]) / 1000.0);
    }
    if (us.size() != sent.size() || us.empty()) return false;
    std::sort(us.begin(), us.end());
    p50 = us[us.size() / 2];
    p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    return true;
}

void Consumer(benchmark::State& st, std::string kind, bool burst, bool cluster) {
    const target t = servers(cluster);
    const std::uint64_t count = burst ? 200'000 : 10'000;
    const bool timed = prints_times(kind) && !burst;
    const std::string out =
        timed ? std::string(std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp") +
                    "/consumer_bench." + std::to_string(::getpid()) + ".out"
              : "/dev/null";
    std::vector<std::int64_t> sent(timed ? count : 0);
    finished f;
    for (auto _ : st) {
        std::vector<std::unique_ptr<client>> primaries;
        for (const std::uint16_t p : t.ports) {
            primaries.push_back(std::make_unique<client>(p));
            primaries.back()->command({"FLUSHALL"});
        }
        std::optional<cluster_writer> writer;
        if (t.cluster != nullptr) writer.emplace(*t.cluster);
        const pid_t pid = spawn(consumer_args(kind, count, t.ports), out);
        // Subscribed once every primary counts its pattern (bounded).
        const auto until = std::chrono::steady_clock::now() + 20s;
        for (auto& c : primaries) {
            while (c->command({"PUBSUB", "NUMPAT"}).integer < 1 &&
                   std::chrono::steady_clock::now() < until) {
                std::this_thread::sleep_for(5ms);
            }
        }
        const std::uint64_t batch = burst ? 1000 : 1;
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::vector<std::string>> cmds;
        std::vector<std::string> keys;
        for (std::uint64_t i = 0; i < count; i += batch) {
            cmds.clear();
            keys.clear();
            for (std::uint64_t k = i; k < i + batch && k < count; ++k) {
                keys.push_back("b:" + std::to_string(k));
                cmds.push_back({"SET", keys.back(), "v"});
            }
            if (timed) sent[i] = monotonic_ns();  // batch 1: one key
            if (writer) {
                if (burst) {
                    writer->set_many(keys);
                } else {
                    writer->set(keys.front());
                }
            } else {
                primaries.front()->pipeline(cmds);
            }
            if (!burst) {
                std::this_thread::sleep_until(start + (i + batch) * 1'000'000us / 2000);
            }
        }
        f = reap(pid, 120s);
    }
    if (!f.ok) {
        if (timed) std::remove(out.c_str());
        st.SkipWithError("the consumer did not receive every notification");
        return;
    }
    if (timed) {
        double p50 = 0;
        double p99 = 0;
        const bool ok = latencies(out, sent, p50, p99);
        std::remove(out.c_str());
        if (!ok) {
            st.SkipWithError("the consumer's output does not hold every key once");
            return;
        }
        st.counters["p50_us"] = p50;
        st.counters["p99_us"] = p99;
    }
    const auto us = [](const timeval& t) {
        return t.tv_sec * 1e6 + static_cast<double>(t.tv_usec);
    };
    const double n = static_cast<double>(count);
    st.counters["cpu_us"] = (us(f.usage.ru_utime) + us(f.usage.ru_stime)) / n;
    st.counters["user_us"] = us(f.usage.ru_utime) / n;
    st.counters["sys_us"] = us(f.usage.ru_stime) / n;
    st.counters["max_rss_mb"] = static_cast<double>(f.usage.ru_maxrss) / 1024.0;
}

void consumers(bool burst, bool cluster) {
    for (const char* kind : {"hiredis", "hiredis_print", "ksn_handler", "ksn_next",
                             "ksn_next_print", "watch_format", "watch_text", "watch_json"}) {
        const std::string name = std::string("Consumer/") + kind + (cluster ? "/cluster_" : "/") +
                                 (burst ? "burst" : "rate:2000");
        benchmark::RegisterBenchmark(name.c_str(), Consumer, std::string(kind), burst, cluster)
            ->Iterations(1)
            ->Unit(benchmark::kMillisecond);
    }
}

}  // namespace

int main(int argc, char** argv) {
    for (const bool cluster : {false, true}) {
        consumers(true, cluster);
        consumers(false, cluster);
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
