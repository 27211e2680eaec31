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
// them) and rate:2000 (10,000 SETs at 2,000/s, one every 500 us). Stdout goes
// to /dev/null. Counters: cpu_us (user + system CPU of the consumer process over its whole
// life, from wait4(), divided by the notifications), user_us, sys_us, and max_rss_mb.
// The process's start-up (connect, subscribe) is included; it is the same for every row.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using ksn::test::client;
using ksn::test::redis_server;

constexpr const char* pattern = "__keyspace@0__:b:*";

struct finished {
    bool ok = false;
    rusage usage{};
};

pid_t spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
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

std::vector<std::string> consumer_args(const std::string& kind, std::uint64_t count,
                                       std::uint16_t port) {
    const std::string n = std::to_string(count);
    const std::string node = "127.0.0.1:" + std::to_string(port);
    if (kind == "hiredis") return {HIREDIS_CONSUMER, n, pattern, node};
    if (kind == "hiredis_print") return {HIREDIS_CONSUMER, n, pattern, "--print", node};
    if (kind == "ksn_handler") return {KSN_CONSUMER, n, pattern, "handler", node};
    if (kind == "ksn_next") return {KSN_CONSUMER, n, pattern, "next", node};
    if (kind == "ksn_next_print") return {KSN_CONSUMER, n, pattern, "next", "--print", node};
    std::vector<std::string> watch = {KSN_BINARY,  "watch", "--port",  std::to_string(port),
                                      "--pattern", pattern, "--count", n,
                                      "--timeout", "120"};
    if (kind == "watch_json") watch.push_back("--json");
    if (kind == "watch_format") watch.insert(watch.end(), {"--format", "{ts_ns} {key}"});
    return watch;
}

void Consumer(benchmark::State& st, std::string kind, bool burst) {
    static redis_server server;  // one for every row: the same server, warmed up alike
    const std::uint64_t count = burst ? 200'000 : 10'000;
    finished f;
    for (auto _ : st) {
        client c(server.port());
        c.command({"FLUSHALL"});
        const pid_t pid = spawn(consumer_args(kind, count, server.port()));
        // Subscribed once the server counts its pattern (bounded).
        const auto until = std::chrono::steady_clock::now() + 20s;
        while (c.command({"PUBSUB", "NUMPAT"}).integer < 1 &&
               std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(5ms);
        }
        const std::uint64_t batch = burst ? 1000 : 1;
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::vector<std::string>> cmds;
        for (std::uint64_t i = 0; i < count; i += batch) {
            cmds.clear();
            for (std::uint64_t k = i; k < i + batch && k < count; ++k)
                cmds.push_back({"SET", "b:" + std::to_string(k), "v"});
            c.pipeline(cmds);
            if (!burst) {
                std::this_thread::sleep_until(start + (i + batch) * 1'000'000us / 2000);
            }
        }
        f = reap(pid, 120s);
    }
    if (!f.ok) {
        st.SkipWithError("the consumer did not receive every notification");
        return;
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

void consumers(bool burst) {
    for (const char* kind : {"hiredis", "hiredis_print", "ksn_handler", "ksn_next",
                             "ksn_next_print", "watch_format", "watch_text", "watch_json"}) {
        const std::string name =
            std::string("Consumer/") + kind + (burst ? "/burst" : "/rate:2000");
        benchmark::RegisterBenchmark(name.c_str(), Consumer, std::string(kind), burst)
            ->Iterations(1)
            ->Unit(benchmark::kMillisecond);
    }
}

}  // namespace

int main(int argc, char** argv) {
    consumers(true);
    consumers(false);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
