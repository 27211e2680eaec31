// A primary that Redis Sentinel manages: the sentinels say where it is, and the notifier
// follows it through failovers, reporting each switch as a gap on the new primary.
#include <chrono>
#include <iostream>

#include <ksn/sentinel/sentinel_keyspace_notifications.hpp>

int main() {
    ksn::sentinel_options options;
    options.sentinels = {{"10.0.0.1", 26379}, {"10.0.0.2", 26379}, {"10.0.0.3", 26379}};
    options.primary_name = "mymaster";
    options.sentinel_connection.password = "sentinel-secret";  // the sentinels' requirepass
    options.connection.password = "data-secret";               // the data nodes'
    ksn::sentinel_keyspace_notifications notifications(options);
    try {
        notifications.subscribe_keyspace("orders:*");
    } catch (const ksn::error& e) {
        // e.g. "sentinel: no sentinel named a primary for 'mymaster': 10.0.0.1:26379: ..."
        std::cerr << e.what() << '\n';
        return 1;
    }
    ksn::delivery d;
    while (notifications.next(d, std::chrono::seconds(10))) {
        if (d.is_notification()) {
            std::cout << d.notification().node() << ": " << d.notification().key() << '\n';
        } else if (d.is_gap()) {
            // A failover: what the new primary acknowledged before it was subscribed.
            std::cout << "invalidate everything: " << d.gap().detail << '\n';
        }
    }
}
