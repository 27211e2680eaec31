// Thread mode: run_in_thread() pulls in a worker thread and runs every subscription's
// handler there (each subscription needs one, or run_in_thread() throws).
#include <iostream>
#include <thread>

#include <ksn/notifications/keyspace_notifications.hpp>

int main() {
    ksn::keyspace_notifications notifications;
    notifications.subscribe(ksn::channel::keyspace("session:*"),
                            [](const ksn::received_notification& n) {
                                std::cout << n.key() << ' ' << n.event() << '\n';
                            });
    ksn::worker worker = notifications.run_in_thread([](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            std::cerr << "handler failed: " << ex.what() << '\n';  // the worker goes on
        }
    });
    std::this_thread::sleep_for(std::chrono::seconds(10));
    worker.stop();
}
