// The one time multiplier of the tests. Under a sanitizer everything ksn does runs a few
// times slower, so every bound a test waits on (wait_until limits, wait_stable, client
// timeouts, collector waits, the soak's bounds, ksn_process waits) is multiplied by
// time_scale(). tests/meson.build computes it from b_sanitize and passes it to every test
// as KSN_TEST_TIME_SCALE (and scales meson's own per-test timeouts by it); a test run by
// hand without the variable uses 1.
//
// The shared helpers (wait_until, wait_stable, pull, next_gap, wait_settled, client,
// ksn_process::wait) scale the limits they are given themselves: callers pass the bound
// an unsanitized build needs. Code that waits on its own (a notifier's next(), an elapsed
// time checked after a wait, a deadline loop) wraps its bound in scaled().
#pragma once

#include <chrono>
#include <cstdlib>

namespace ksn::test {

/// KSN_TEST_TIME_SCALE as a whole number from 1 to 100; 1 when unset or not such a number.
inline int time_scale() {
    static const int scale = [] {
        const char* env = std::getenv("KSN_TEST_TIME_SCALE");
        if (env == nullptr || *env == '\0') return 1;
        char* end = nullptr;
        const long v = std::strtol(env, &end, 10);
        return (*end == '\0' && v >= 1 && v <= 100) ? static_cast<int>(v) : 1;
    }();
    return scale;
}

/// `d` times time_scale(), in the same unit.
template <class Rep, class Period>
constexpr std::chrono::duration<Rep, Period> scaled(std::chrono::duration<Rep, Period> d) {
    return d * time_scale();
}

}  // namespace ksn::test
