// Counts heap allocations made by the process, so that benchmarks can report
// allocations per message. Include it in exactly one translation unit of a benchmark
// program: it replaces the global operator new/delete.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace ksn::bench {

inline std::atomic<std::uint64_t> allocation_count{0};

/// Allocations made so far by this process.
inline std::uint64_t allocations() noexcept {
    return allocation_count.load(std::memory_order_relaxed);
}

}  // namespace ksn::bench

// noinline: once inlined, GCC 12 pairs the malloc/free inside with the new/delete
// expressions of the caller and reports a false -Wmismatched-new-delete.
#define KSN_NOINLINE __attribute__((noinline))

KSN_NOINLINE void* operator new(std::size_t size) {
    ksn::bench::allocation_count.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
KSN_NOINLINE void* operator new[](std::size_t size) {
    return ::operator new(size);
}
KSN_NOINLINE void operator delete(void* p) noexcept {
    std::free(p);
}
KSN_NOINLINE void operator delete[](void* p) noexcept {
    std::free(p);
}
KSN_NOINLINE void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
KSN_NOINLINE void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
