// A server on the same host over its Unix socket, and credentials asked for on every
// connection attempt: a short-lived token (a managed service's IAM token, a password a
// secret store rotates) is fetched afresh for each connect and reconnect.
#include <chrono>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include <ksn/notifications/keyspace_notifications.hpp>

// Stands in for a call to the service that hands out tokens.
std::string fetch_token() {
    std::ifstream in("/run/secrets/redis-token");
    std::string token;
    std::getline(in, token);
    if (token.empty()) throw std::runtime_error("no token in /run/secrets/redis-token");
    return token;
}

int main() {
    ksn::notifier_options options;
    options.connection.address = ksn::net::endpoint::unix_socket("/run/redis/redis.sock");
    options.connection.credentials_provider = [](const ksn::net::endpoint&) {
        // Asked on every attempt; a throw fails this attempt, which is retried.
        return ksn::net::credentials{"notifier", fetch_token()};
    };
    ksn::keyspace_notifications notifications(options);
    try {
        notifications.subscribe_keyspace("sessions:*");
    } catch (const ksn::error& e) {
        // e.g. "unix:/run/redis/redis.sock: connection failed: No such file or directory"
        std::cerr << e.what() << '\n';
        return 1;
    }
    ksn::delivery d;
    while (notifications.next(d, std::chrono::seconds(1))) {
        if (d.is_notification()) std::cout << d.notification().key() << '\n';
    }
}
