// A whole Redis Cluster: one subscription, applied to every primary and kept there across
// failovers, resharding and scaling; gaps name the slots that may have lost events.
#include <iostream>

#include <ksn/cluster/cluster_keyspace_notifications.hpp>

int main() {
    ksn::cluster_options options;
    options.seeds = {{"127.0.0.1", 7000}, {"127.0.0.1", 7001}};
    ksn::cluster_keyspace_notifications notifications(options);
    notifications.subscribe_keyspace("*");
    ksn::delivery d;
    while (notifications.next(d, std::chrono::seconds(10))) {
        if (d.is_notification()) {
            std::cout << d.notification().node() << ": " << d.notification().key() << '\n';
        } else if (d.is_gap()) {
            for (const auto& [first, last] : d.gap().slots) {
                std::cout << "invalidate slots " << first << '-' << last << '\n';
            }
        }
    }
}
