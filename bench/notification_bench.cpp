// Notification parsing cost: ns per parse and allocations per parse for each of the six
// channel kinds, with a 32-byte key (the target: 0 allocations and under 25 ns for
// keyspace and keyevent), plus subkey lists of several sizes and the key-prefix filter.
//
// Run: build/bench/notification_bench (see docs/benchmarks.md for figures).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// GCC 12 inlines the counting operator new/delete (malloc/free) into the static
// initializers of BENCHMARK() and then reports the pair as mismatched: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "alloc_counter.hpp"
#include "notifications/notification.hpp"

namespace {

const std::string key32 = "user:0000000000000000000000:1234";  // 32 bytes
static_assert(sizeof("user:0000000000000000000000:1234") - 1 == 32);

std::string subkey_list(std::size_t count) {
    std::string p;
    for (std::size_t i = 0; i < count; ++i) {
        if (i > 0) p += ',';
        std::string f = "field:";
        f += std::to_string(1000 + i);
        p += std::to_string(f.size());
        p += ':';
        p += f;
    }
    return p;
}

void run(benchmark::State& state, const std::string& channel, const std::string& payload,
         std::string_view prefix = {}, ksn::parse_status expected = ksn::parse_status::ok) {
    ksn::key_notification n;
    {
        const ksn::parse_result r = ksn::parse_notification(channel, payload, n, prefix);
        if (r.status != expected) {
            state.SkipWithError("unexpected parse status");
            return;
        }
    }
    const std::uint64_t allocs_before = ksn::bench::allocations();
    for (auto _ : state) {
        const ksn::parse_result r = ksn::parse_notification(channel, payload, n, prefix);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(n);
    }
    const std::uint64_t allocs = ksn::bench::allocations() - allocs_before;
    state.counters["allocs/parse"] =
        benchmark::Counter(static_cast<double>(allocs), benchmark::Counter::kAvgIterations);
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() *
                            static_cast<std::int64_t>(channel.size() + payload.size()));
}

void bm_keyspace(benchmark::State& state) {
    run(state, "__keyspace@0__:" + key32, "set");
}
BENCHMARK(bm_keyspace);

void bm_keyevent(benchmark::State& state) {
    run(state, "__keyevent@0__:set", key32);
}
BENCHMARK(bm_keyevent);

void bm_keyspace_db15_prefix_strip(benchmark::State& state) {
    run(state, "__keyspace@15__:" + key32, "expired", "user:");
}
BENCHMARK(bm_keyspace_db15_prefix_strip);

void bm_keyspace_prefix_filtered(benchmark::State& state) {
    run(state, "__keyspace@0__:" + key32, "set", "order:", ksn::parse_status::filtered);
}
BENCHMARK(bm_keyspace_prefix_filtered);

void bm_not_notification(benchmark::State& state) {
    run(state, "chat:room:42", "hello", {}, ksn::parse_status::not_notification);
}
BENCHMARK(bm_not_notification);

void bm_subkeyspace(benchmark::State& state) {
    const auto fields = static_cast<std::size_t>(state.range(0));
    run(state, "__subkeyspace@0__:" + key32, "hset|" + subkey_list(fields));
}
BENCHMARK(bm_subkeyspace)->Arg(1)->Arg(4)->Arg(8);

void bm_subkeyevent(benchmark::State& state) {
    const auto fields = static_cast<std::size_t>(state.range(0));
    run(state, "__subkeyevent@0__:hset", "32:" + key32 + "|" + subkey_list(fields));
}
BENCHMARK(bm_subkeyevent)->Arg(1)->Arg(4)->Arg(8);

void bm_subkeyspaceitem(benchmark::State& state) {
    run(state, "__subkeyspaceitem@0__:" + key32 + "\nfield:1000", "hset");
}
BENCHMARK(bm_subkeyspaceitem);

void bm_subkeyspaceevent(benchmark::State& state) {
    const auto fields = static_cast<std::size_t>(state.range(0));
    run(state, "__subkeyspaceevent@0__:hset|" + key32, subkey_list(fields));
}
BENCHMARK(bm_subkeyspaceevent)->Arg(1)->Arg(4)->Arg(8);

// Many subkeys in caller storage: the per-subkey cost.
void bm_subkeyspace_caller_storage(benchmark::State& state) {
    const auto fields = static_cast<std::size_t>(state.range(0));
    const std::string channel = "__subkeyspace@0__:" + key32;
    const std::string payload = "hset|" + subkey_list(fields);
    std::vector<std::string_view> storage(fields);
    ksn::key_notification n(storage);
    const std::uint64_t allocs_before = ksn::bench::allocations();
    for (auto _ : state) {
        const ksn::parse_result r = ksn::parse_notification(channel, payload, n);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(n);
    }
    state.counters["allocs/parse"] =
        benchmark::Counter(static_cast<double>(ksn::bench::allocations() - allocs_before),
                           benchmark::Counter::kAvgIterations);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_subkeyspace_caller_storage)->Arg(100);

// The owning copy, for comparison (allocates by design).
void bm_to_owned_keyspace(benchmark::State& state) {
    const std::string channel = "__keyspace@0__:" + key32;
    ksn::key_notification n;
    (void)ksn::parse_notification(channel, "set", n);
    const std::uint64_t allocs_before = ksn::bench::allocations();
    for (auto _ : state) {
        ksn::owned_key_notification o = n.to_owned();
        benchmark::DoNotOptimize(o);
    }
    state.counters["allocs/copy"] =
        benchmark::Counter(static_cast<double>(ksn::bench::allocations() - allocs_before),
                           benchmark::Counter::kAvgIterations);
}
BENCHMARK(bm_to_owned_keyspace);

}  // namespace

BENCHMARK_MAIN();
