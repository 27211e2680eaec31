// The connection options `ksn watch` and `ksn bench` share (tools/server_flags.hpp), parsed
// by CLI11 as the program does: the Sentinel options, what they need and exclude, and the
// connection options built from them; and the pure pieces of ksn bench's Sentinel mode
// (the replicas a sentinel lists, the READONLY error).
#include "tools/server_flags.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/value.hpp"
#include "tools/bench_run.hpp"

namespace ksn::tools {
namespace {

/// What parsing `args` (after the program's name) did: the flags, or the parser's message.
struct parsed {
    server_flags flags;
    bool ok = false;
    std::string error;
};

parsed parse(std::vector<std::string> args) {
    parsed p;
    CLI::App app;
    p.flags.add_to(app);
    args.insert(args.begin(), "ksn");
    std::vector<const char*> argv;
    for (const auto& a : args)
        argv.push_back(a.c_str());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
        p.ok = true;
    } catch (const CLI::ParseError& e) {
        p.error = e.what();
    }
    return p;
}

TEST(ServerFlags, SentinelsAndThePrimaryName) {
    const auto p = parse({"--sentinel", "10.0.0.5:26379", "--sentinel", "[::1]:26380", "--sentinel",
                          "sentinel.example:5000", "--primary", "mymaster"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_TRUE(p.flags.sentinel());
    EXPECT_EQ(p.flags.primary_name, "mymaster");
    const auto s = p.flags.sentinel_endpoints();
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0], net::endpoint("10.0.0.5", 26379));
    EXPECT_EQ(s[1], net::endpoint("::1", 26380));
    EXPECT_EQ(s[2], net::endpoint("sentinel.example", 5000));
    EXPECT_FALSE(parse({}).flags.sentinel());
}

TEST(ServerFlags, MalformedSentinelAddressesAreRefusedByTheParser) {
    for (const std::string bad : {"nohost", "h:", ":26379", "h:0", "h:65536", "h:26379x", "h:-1"}) {
        const auto p = parse({"--sentinel", bad, "--primary", "m"});
        EXPECT_FALSE(p.ok) << bad;
        EXPECT_EQ(p.error, "--sentinel: " + bad + ": expected HOST:PORT") << bad;
    }
}

TEST(ServerFlags, ModeOptionsNeedTheirModeAndExcludeTheOthers) {
    const struct {
        std::vector<std::string> args;
        std::string error;
    } cases[] = {
        {{"--sentinel", "h:1"}, "--sentinel requires --primary"},
        {{"--primary", "m"}, "--primary requires --sentinel"},
        {{"--sentinel", "h:1", "--primary", "m", "--cluster"}, "--cluster excludes --sentinel"},
        {{"--sentinel", "h:1", "--primary", "m", "--seed", "h:2"}, "--seed excludes --sentinel"},
        {{"--sentinel", "h:1", "--primary", "m", "--host", "h"}, "--host excludes --sentinel"},
        {{"--sentinel", "h:1", "--primary", "m", "--port", "7"}, "--port excludes --sentinel"},
        {{"--sentinel", "h:1", "--primary", "m", "--socket", "/s"}, "--socket excludes --sentinel"},
        {{"--sentinel-user", "u"}, "--sentinel-user requires --sentinel"},
        {{"--sentinel-tls"}, "--sentinel-tls requires --sentinel"},
        {{"--require-every-primary"}, "--require-every-primary requires --cluster"},
    };
    for (const auto& c : cases) {
        const auto p = parse(c.args);
        EXPECT_FALSE(p.ok) << c.error;
        EXPECT_EQ(p.error, c.error);
    }
    const auto strict = parse({"--cluster", "--require-every-primary"});
    ASSERT_TRUE(strict.ok) << strict.error;
    EXPECT_TRUE(strict.flags.require_every_primary);
    EXPECT_FALSE(parse({"--cluster"}).flags.require_every_primary);
    // The password alone is no error (from the environment, it is there in every mode).
    EXPECT_TRUE(parse({"--sentinel-pass", "x"}).ok);
    // TLS and the data nodes' credentials go with --sentinel.
    EXPECT_TRUE(parse({"--sentinel", "h:1", "--primary", "m", "--tls", "--user", "u", "--pass", "p",
                       "--sni", "data.example"})
                    .ok);
}

TEST(ServerFlags, TheSentinelsConnectionIsTheirOwn) {
    const auto p = parse({"--sentinel",
                          "h:1",
                          "--primary",
                          "m",
                          "--user",
                          "app",
                          "--pass",
                          "data-secret",
                          "--tls",
                          "--cacert",
                          "ca.pem",
                          "--cert",
                          "me.pem",
                          "--key",
                          "me.key",
                          "--sni",
                          "data.example",
                          "--resp",
                          "2",
                          "--sentinel-user",
                          "watcher",
                          "--sentinel-pass",
                          "sentinel-secret"});
    ASSERT_TRUE(p.ok) << p.error;
    const auto data = p.flags.connection("ksn-watch");
    EXPECT_EQ(data.username, "app");
    EXPECT_EQ(data.password, "data-secret");
    EXPECT_TRUE(data.tls.enabled);
    EXPECT_EQ(data.tls.server_name, "data.example");

    const auto s = p.flags.sentinel_connection("ksn-watch");
    EXPECT_EQ(s.username, "watcher");
    EXPECT_EQ(s.password, "sentinel-secret");
    EXPECT_EQ(s.client_name, "ksn-watch");
    EXPECT_EQ(s.resp, net::resp_version::resp2);
    EXPECT_FALSE(s.credentials_provider);
    // No --sentinel-tls: plain TCP to the sentinels, whatever the data nodes use.
    EXPECT_FALSE(s.tls.enabled);

    const auto tls =
        parse({"--sentinel", "h:1", "--primary", "m", "--sentinel-tls", "--cacert", "ca.pem",
               "--cert", "me.pem", "--key", "me.key", "--sni", "data.example", "--insecure"});
    ASSERT_TRUE(tls.ok) << tls.error;
    const auto t = tls.flags.sentinel_connection("ksn-bench");
    EXPECT_TRUE(t.tls.enabled);
    EXPECT_EQ(t.tls.ca_file, "ca.pem");
    EXPECT_EQ(t.tls.cert_file, "me.pem");
    EXPECT_EQ(t.tls.key_file, "me.key");
    EXPECT_TRUE(t.tls.server_name.empty()) << "each sentinel's host, not the data nodes' --sni";
    EXPECT_FALSE(t.tls.verify);
    EXPECT_TRUE(t.username.empty());
    EXPECT_TRUE(t.password.empty()) << "not --pass: a sentinel has its own";
    EXPECT_FALSE(tls.flags.connection("x").tls.enabled) << "--sentinel-tls is not --tls";
}

// --- ksn bench with sentinels -------------------------------------------------------------

protocol::value text(std::string s) {
    protocol::value v;
    v.type = protocol::resp_type::bulk_string;
    v.data = std::move(s);
    return v;
}

/// One entry of SENTINEL REPLICAS: a flat list of names and values.
protocol::value replica(const std::vector<std::pair<std::string, std::string>>& fields,
                        protocol::resp_type type = protocol::resp_type::array) {
    protocol::value v;
    v.type = type;
    for (const auto& [name, value] : fields) {
        v.elements.push_back(text(name));
        v.elements.push_back(text(value));
    }
    return v;
}

protocol::value list(std::vector<protocol::value> entries) {
    protocol::value v;
    v.type = protocol::resp_type::array;
    v.elements = std::move(entries);
    return v;
}

TEST(BenchSentinel, ReplicasThatTheSentinelDoesNotFlagDown) {
    const auto reply = list({
        replica({{"name", "10.0.0.2:6379"},
                 {"ip", "10.0.0.2"},
                 {"port", "6379"},
                 {"runid", "x"},
                 {"flags", "slave"}}),
        replica({{"ip", "10.0.0.3"}, {"port", "6380"}, {"flags", "s_down,slave,disconnected"}}),
        replica({{"ip", "10.0.0.4"}, {"port", "6381"}, {"flags", "slave,o_down"}}),
        replica({{"ip", "10.0.0.5"}, {"port", "6382"}, {"flags", "slave,disconnected"}}),
        // RESP3: a map, the same names and values.
        replica({{"ip", "::1"}, {"port", "6383"}, {"flags", "slave"}}, protocol::resp_type::map),
        // No flags: taken.
        replica({{"ip", "10.0.0.6"}, {"port", "6384"}}),
    });
    const auto r = bench::sentinel_replicas(reply);
    EXPECT_EQ(r,
              (std::vector<net::endpoint>{{"10.0.0.2", 6379}, {"::1", 6383}, {"10.0.0.6", 6384}}));
}

TEST(BenchSentinel, EntriesWithoutAUsableAddressAreLeftOut) {
    protocol::value integer_port = replica({{"ip", "10.0.0.9"}, {"flags", "slave"}});
    integer_port.elements.push_back(text("port"));
    protocol::value n;
    n.type = protocol::resp_type::integer;
    n.integer = 6390;
    integer_port.elements.push_back(n);
    const auto reply = list({
        replica({{"ip", "10.0.0.2"}, {"flags", "slave"}}),                     // no port
        replica({{"port", "6379"}, {"flags", "slave"}}),                       // no ip
        replica({{"ip", ""}, {"port", "6379"}}),                               // empty ip
        replica({{"ip", "10.0.0.3"}, {"port", "0"}}),                          // port 0
        replica({{"ip", "10.0.0.3"}, {"port", "65536"}}),                      // too big
        replica({{"ip", "10.0.0.3"}, {"port", "63x"}}),                        // not digits
        replica({{"ip", "10.0.0.3"}, {"port", "+6379"}}),                      // a sign
        replica({{"ip", "10.0.0.3"}, {"port", "6379"}, {"flags", "s_down"}}),  // down
        integer_port,
        text("not an entry"),
    });
    EXPECT_EQ(bench::sentinel_replicas(reply), (std::vector<net::endpoint>{{"10.0.0.9", 6390}}));
    EXPECT_TRUE(bench::sentinel_replicas(text("ERR no such master")).empty());
    EXPECT_TRUE(bench::sentinel_replicas(list({})).empty());
}

TEST(BenchSentinel, ReadonlyIsTheDemotedPrimarysError) {
    EXPECT_TRUE(bench::is_readonly_error("READONLY You can't write against a read only replica."));
    EXPECT_TRUE(bench::is_readonly_error("READONLY"));
    EXPECT_FALSE(bench::is_readonly_error("READONLYX you"));
    EXPECT_FALSE(bench::is_readonly_error("readonly You can't write"));
    EXPECT_FALSE(bench::is_readonly_error("ERR READONLY"));
    EXPECT_FALSE(bench::is_readonly_error(""));
    EXPECT_FALSE(bench::is_readonly_error("MASTERDOWN Link with MASTER is down"));
}

}  // namespace
}  // namespace ksn::tools
