// Backpressure: the queue between ksn's I/O thread and a slow consumer is bounded; what
// overflows is dropped by the chosen policy, counted, and reported as a gap, so memory
// stays bounded and the consumer knows what it missed.
#include <iostream>

#include <ksn/notifications/keyspace_notifications.hpp>

int main() {
    ksn::notifier_options options;
    options.queue_capacity = 10000;
    options.overflow = ksn::overflow_policy::drop_oldest;  // or drop_newest, disconnect
    ksn::keyspace_notifications notifications(options);
    notifications.subscribe_keyspace("*");
    ksn::delivery d;
    while (notifications.next(d, std::chrono::seconds(10))) {
        if (d.is_gap() && d.gap().reason == ksn::gap_reason::queue_overflow) {
            std::cerr << d.gap().dropped << " notifications dropped: " << d.gap().detail << '\n';
        }
    }
    const ksn::notifier_stats stats = notifications.stats();
    std::cout << "queue high water " << stats.queue_high_water << ", dropped "
              << stats.queue_dropped << '\n';
}
