// Async mode: the notifier runs on an io_context the service already runs; handlers run
// there, and subscriptions complete through callbacks.
#include <iostream>

#include <ksn/io_context.hpp>  // the io_context API: Asio's io_context and every notifier

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
