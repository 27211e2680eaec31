// TLS against real redis-server processes with tls-port, and certificates the test makes
// with openssl: a good connection, a wrong CA refused with a clear error (and the insecure
// switch), mutual TLS required and satisfied, a bad file named, and a cluster over TLS.
#include <gtest/gtest.h>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "tests/integration/notifier_fixture.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tests/support/timing.hpp"
#include "tests/support/tls.hpp"

namespace ksn::test {
namespace {

struct tls_server {
    explicit tls_server(const tls_material& m, bool require_client_cert = false)
        : tls_port(free_port()),
          server(with_config({m.server_config(tls_port, require_client_cert)})) {}
    std::uint16_t tls_port;
    redis_server server;
};

notifier_options tls_options_for(const tls_server& s, const tls_material& m) {
    auto o = options_for(s.server);
    o.connection.address.port = s.tls_port;
    o.connection.tls.enabled = true;
    o.connection.tls.ca_file = m.ca_cert();
    o.connection.reconnect.max_attempts = 2;
    return o;
}

class Tls : public testing::Test {
  protected:
    tls_material material;
};

TEST_F(Tls, VerifiedConnectionDeliversNotifications) {
    tls_server s(material);
    keyspace_notifications n(tls_options_for(s, material));
    n.subscribe_keyspace("t*");
    s.server.command({"SET", "t1", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"t1 set"}));
    EXPECT_EQ(n.stats().nodes[0].resp, 3);
}

TEST_F(Tls, HostNameIsVerified) {
    tls_server s(material);
    auto o = tls_options_for(s, material);
    o.connection.address.host = "localhost";  // in the certificate's SANs, and sent as SNI
    {
        keyspace_notifications n(o);
        EXPECT_NO_THROW(n.subscribe_keyspace("x"));
    }
    o.connection.tls.server_name = "not-this-server.example";
    keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    try {
        n.subscribe_keyspace("x");
        FAIL() << "a certificate for another name was accepted";
    } catch (const ksn::error& e) {
        EXPECT_NE(std::string(e.what()).find("certificate verification failed"), std::string::npos)
            << e.what();
    }
}

TEST_F(Tls, WrongCaIsRefusedWithAClearErrorAndNotRetried) {
    tls_server s(material);
    auto o = tls_options_for(s, material);
    o.connection.tls.ca_file = material.other_ca_cert();
    keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    try {
        n.subscribe_keyspace("x");
        FAIL() << "a server signed by an untrusted CA was accepted";
    } catch (const ksn::error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("127.0.0.1:" + std::to_string(s.tls_port)), std::string::npos) << what;
        EXPECT_NE(what.find("certificate verification failed"), std::string::npos) << what;
    }
    EXPECT_EQ(n.stats().nodes[0].state, net::connection_state::closed);
}

TEST_F(Tls, InsecureSwitchSkipsVerification) {
    tls_server s(material);
    auto o = tls_options_for(s, material);
    o.connection.tls.ca_file = material.other_ca_cert();
    o.connection.tls.verify = false;
    keyspace_notifications n(o);
    n.subscribe_keyspace("i");
    s.server.command({"SET", "i", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"i set"}));
}

TEST_F(Tls, MutualTlsRequiredAndSatisfied) {
    tls_server s(material, true);
    {
        keyspace_notifications n(tls_options_for(s, material));  // no client certificate
        n.on_diagnostic([](severity, const std::string&) {});
        EXPECT_THROW(n.subscribe_keyspace("m"), ksn::error);
    }
    auto o = tls_options_for(s, material);
    o.connection.tls.cert_file = material.client_cert();
    o.connection.tls.key_file = material.client_key();
    keyspace_notifications n(o);
    n.subscribe_keyspace("m");
    s.server.command({"SET", "m", "x"});
    EXPECT_EQ(key_events(pull(n, 1).notifications), (std::vector<std::string>{"m set"}));
}

TEST_F(Tls, UnreadableFileIsNamed) {
    tls_server s(material);
    auto o = tls_options_for(s, material);
    o.connection.tls.ca_file = material.dir() + "/missing.crt";
    keyspace_notifications n(o);
    n.on_diagnostic([](severity, const std::string&) {});
    try {
        n.subscribe_keyspace("x");
        FAIL();
    } catch (const ksn::error& e) {
        EXPECT_NE(
            std::string(e.what()).find("cannot load CA file " + material.dir() + "/missing.crt"),
            std::string::npos)
            << e.what();
    }
}

TEST_F(Tls, ClusterOverTls) {
    // Every node also listens with TLS; with tls-cluster the bus and the addresses the
    // cluster announces to TLS clients are the TLS ones.
    std::vector<std::uint16_t> tls_ports;
    for (int i = 0; i < 3; ++i)
        tls_ports.push_back(free_port(true));
    // redis-cli --cluster create meets the nodes by their plain ports and expects the bus
    // at port + 10000; with tls-cluster the bus would follow the TLS port, so pin it.
    redis_cluster c(
        3, 0, {"tls-cluster yes", "tls-replication yes"}, [&](std::size_t i, std::uint16_t port) {
            return std::vector<std::string>{material.server_config(tls_ports[i], false),
                                            "cluster-port " + std::to_string(port + 10000)};
        });
    cluster_options o;
    o.seeds = {{"127.0.0.1", tls_ports[0]}};
    o.refresh_interval = 500ms;
    o.connection.tls.enabled = true;
    o.connection.tls.ca_file = material.ca_cert();
    o.subscribe_timeout = scaled(5s);
    cluster_keyspace_notifications n(o);
    n.subscribe_keyevent("set");
    const auto t = n.topology();
    ASSERT_TRUE(t);
    for (const auto& s : t->shards()) {
        EXPECT_NE(std::find(tls_ports.begin(), tls_ports.end(), s.primary.address.port),
                  tls_ports.end())
            << "the cluster announced a non-TLS port to a TLS client";
    }
    cluster_writer w(c);
    std::vector<std::string> keys;
    for (int i = 0; i < 30; ++i)
        keys.push_back("tls:" + std::to_string(i));
    w.set_many(keys);
    const auto got = pull(n, keys.size(), 10s);
    EXPECT_EQ(got.notifications.size(), keys.size());
    std::set<std::string> nodes;
    for (const auto& x : n.stats().nodes)
        nodes.insert(x.node);
    EXPECT_EQ(nodes.size(), 3u);
}

}  // namespace
}  // namespace ksn::test
