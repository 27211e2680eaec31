// TLS and an ACL user: the certificate is verified by default (verify = false is the
// explicit insecure switch); a wrong password or an untrusted certificate is a clear
// error, not a retry loop.
#include <iostream>

#include <ksn/notifications/keyspace_notifications.hpp>

int main() {
    ksn::notifier_options options;
    options.connection.address = {"redis.internal", 6380};
    options.connection.username = "notifier";  // ACL user (AUTH notifier <password>)
    options.connection.password = "secret";
    options.connection.tls.enabled = true;
    options.connection.tls.ca_file = "/etc/ssl/redis/ca.crt";        // empty: the system's CAs
    options.connection.tls.cert_file = "/etc/ssl/redis/client.crt";  // mutual TLS only
    options.connection.tls.key_file = "/etc/ssl/redis/client.key";
    ksn::keyspace_notifications notifications(options);
    try {
        notifications.subscribe_keyspace("orders:*");
    } catch (const ksn::error& e) {
        // e.g. "redis.internal:6380: TLS certificate verification failed: ..." or
        // "redis.internal:6380: authentication failed: WRONGPASS ..."
        std::cerr << e.what() << '\n';
        return 1;
    }
}
