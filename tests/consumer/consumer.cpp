// A program outside the tree, built against the installed ksn (pkg-config or CMake):
// subscribes on the port given and exits 0 once one notification arrived (1 after 10 s).
#include <cstdlib>
#include <iostream>
#include <ksn/cluster/slot.hpp>
#include <ksn/notifications/keyspace_notifications.hpp>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: consumer PORT\n";
        return 2;
    }
    ksn::notifier_options options;
    options.connection.address = {"127.0.0.1", static_cast<std::uint16_t>(std::atoi(argv[1]))};
    ksn::keyspace_notifications notifications(options);
    notifications.subscribe_keyspace("consumer");
    ksn::delivery d;
    if (notifications.next(d, std::chrono::seconds(10)) && d.is_notification()) {
        std::cout << "consumer: " << d.notification().key() << ' ' << d.notification().event()
                  << " (slot " << ksn::cluster::key_slot(d.notification().key()) << ")\n";
        return 0;
    }
    std::cerr << "consumer: no notification\n";
    return 1;
}
