// Pull mode: next() waits for the next notification (or gap) in the calling thread.
#include <iostream>

#include <ksn/notifications/keyspace_notifications.hpp>

int main(int argc, char** argv) {
    ksn::notifier_options options;
    options.connection.address = {
        "127.0.0.1", argc > 1 ? std::uint16_t(std::stoi(argv[1])) : std::uint16_t(6379)};
    ksn::keyspace_notifications notifications(options);
    notifications.subscribe_keyspace("user:*");  // a pattern: PSUBSCRIBE __keyspace@0__:user:*

    ksn::delivery d;  // reused: pulling allocates nothing in steady state
    for (int i = 0; i < 10 && notifications.next(d, std::chrono::seconds(5));) {
        if (d.is_gap()) {
            // Notifications from d.gap().node may have been lost between lost and restored:
            // a cache invalidates what it holds from that node.
            std::cout << "gap: " << d.gap().detail << '\n';
        } else if (d.is_notification()) {
            const auto& n = d.notification();
            std::cout << n.key() << ' ' << n.event() << " from " << n.node() << '\n';
            ++i;
        }
    }
}
