// ksn's library as a consumer process, for consumer_bench: one notifier in
// dispatch_mode::caller (no thread of its own) PSUBSCRIBEs the pattern on one node (or a
// cluster, through its first seed), counts each notification and, with --print, writes
// "<CLOCK_MONOTONIC ns> <key>" like hiredis_consumer. Exits 0 after COUNT notifications,
// 1 when they do not come within 60 s.
//
//   ksn_consumer COUNT PATTERN handler|next [--print] [--cluster] HOST:PORT
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "notifications/keyspace_notifications.hpp"

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr,
                     "usage: ksn_consumer COUNT PATTERN handler|next [--print] [--cluster] "
                     "HOST:PORT\n");
        return 2;
    }
    const unsigned long long count = std::strtoull(argv[1], nullptr, 10);
    const std::string pattern = argv[2];
    const bool handler = std::strcmp(argv[3], "handler") == 0;
    bool print = false;
    bool cluster = false;
    int i = 4;
    for (; i < argc - 1; ++i) {
        print = print || std::strcmp(argv[i], "--print") == 0;
        cluster = cluster || std::strcmp(argv[i], "--cluster") == 0;
    }
    const std::string address = argv[argc - 1];
    const auto colon = address.rfind(':');
    const ksn::net::endpoint node{
        address.substr(0, colon),
        static_cast<std::uint16_t>(std::atoi(address.c_str() + colon + 1))};

    unsigned long long seen = 0;
    const auto on_notification = [&](const ksn::received_notification& n) {
        ++seen;
        if (print) {
            std::printf("%lld %.*s\n",
                        static_cast<long long>(n.received().time_since_epoch().count()),
                        static_cast<int>(n.key().size()), n.key().data());
        }
    };
    std::unique_ptr<ksn::notifier_base> notifier;
    if (cluster) {
        ksn::cluster_options o;
        o.dispatch = ksn::dispatch_mode::caller;
        o.seeds = {node};
        notifier = std::make_unique<ksn::cluster_keyspace_notifications>(o);
    } else {
        ksn::notifier_options o;
        o.dispatch = ksn::dispatch_mode::caller;
        o.connection.address = node;
        notifier = std::make_unique<ksn::keyspace_notifications>(o);
    }
    if (handler) {
        notifier->subscribe(pattern, on_notification, ksn::match::pattern);
    } else {
        notifier->subscribe(pattern, {}, ksn::match::pattern);
    }
    ksn::delivery d;
    const auto deadline = ksn::clock::now() + std::chrono::seconds(60);
    while (seen < count && ksn::clock::now() < deadline) {
        if (notifier->next(d, std::chrono::milliseconds(200)) && d.is_notification()) {
            on_notification(d.notification());
        }
    }
    std::fflush(stdout);
    return seen >= count ? 0 : 1;
}
