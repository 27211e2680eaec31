// Caller-driven mode: no thread of its own. next() runs the connection on the calling
// thread and the handlers run there, inline, like a hiredis loop: one thread, no queue
// hand-off for handlers, no wake-up.
#include <chrono>
#include <iostream>
#include <string>
#include <unordered_set>

#include <ksn/notifications/event.hpp>
#include <ksn/notifications/keyspace_notifications.hpp>

int main() {
    std::unordered_set<std::string> cache = {"user:1", "user:2"};
    ksn::notifier_options options;
    options.dispatch = ksn::dispatch_mode::caller;
    ksn::keyspace_notifications notifications(options);
    notifications.subscribe_keyspace("user:*", 0, [&](const ksn::received_notification& n) {
        cache.erase(std::string(n.key()));  // runs inside next(), on this thread
    });
    ksn::delivery d;
    // Handlers run while next() waits; it returns for gaps (and notifications without a
    // handler), or false once the timeout passed.
    while (!cache.empty()) {
        if (notifications.next(d, std::chrono::seconds(1)) && d.is_gap()) cache.clear();
    }
    std::cout << "cache invalidated\n";
}
