// Async mode: the notifier runs on an io_context the service already runs; handlers run
// there, and subscriptions complete through callbacks.
#include <asio/io_context.hpp>
#include <iostream>

#include <ksn/notifications/keyspace_notifications.hpp>

int main() {
    asio::io_context io;
    ksn::keyspace_notifications notifications(io, ksn::notifier_options{});
    notifications.async_subscribe(
        {ksn::channel::keyspace("cache:*")},
        [](const ksn::received_notification& n) {
            std::cout << n.key() << ' ' << n.event() << '\n';
        },
        [](const std::error_code& ec, const std::string& detail) {
            if (ec) std::cerr << "subscribe failed: " << detail << '\n';
        });
    io.run_for(std::chrono::seconds(10));
}
