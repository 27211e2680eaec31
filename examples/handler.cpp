// Handler mode: handlers run inline on ksn's I/O thread with zero-copy views: the fastest
// path, for handlers that return quickly (a slow one holds up the socket).
#include <atomic>
#include <iostream>
#include <thread>

#include <ksn/notifications/event.hpp>
#include <ksn/notifications/keyspace_notifications.hpp>

int main() {
    ksn::notifier_options options;
    options.dispatch = ksn::dispatch_mode::io_thread;
    ksn::keyspace_notifications notifications(options);
    std::atomic<int> invalidations{0};
    notifications.on_gap([](const ksn::gap_event& gap) {
        std::cout << "gap on " << gap.node << ": " << to_string(gap.reason) << '\n';
    });
    notifications.subscribe_keyevent(ksn::event::del, 0, [&](const ksn::received_notification& n) {
        // n.key() is a view valid until this handler returns; copy what you keep.
        ++invalidations;
        (void)n;
    });
    std::this_thread::sleep_for(std::chrono::seconds(10));
    std::cout << invalidations << " keys deleted\n";
}
