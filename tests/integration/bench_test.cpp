// `ksn bench` (KSN_BINARY) against real redis-server processes, a real cluster and a real
// Sentinel deployment: every notification matched to its write, a subscriber cut by the
// server reported as lost writes inside the gap ksn reported, a cluster or Sentinel
// failover mid-run losing nothing outside its gaps, the notify-keyspace-events check,
// usage errors, Ctrl-C with partial results, and the JSON document and CSV rows checked
// against the schema the help and docs give.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cluster/slot.hpp"
#include "tests/support/ksn_process.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tests/support/redis_sentinel.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/tls.hpp"

namespace ksn::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using namespace std::string_literals;

/// The fields of a COUNTS object (schema ksn-bench/1).
const std::vector<std::string> count_fields{
    "writes_sent",  "writes_acked", "writes_failed", "writes_silent", "expected",
    "received",     "lost",         "lost_in_gaps",  "duplicated",    "redelivered",
    "out_of_order", "unconfirmed",  "gaps"};

std::uint64_t u(const json& j, const std::string& field) {
    return j.at(field).get<std::uint64_t>();
}

/// Checks one COUNTS object's shape, and what holds in every run.
void check_counts(const json& c) {
    ASSERT_TRUE(c.at("node").is_string());
    for (const auto& f : count_fields)
        ASSERT_TRUE(c.at(f).is_number_unsigned()) << f << " in " << c.dump();
    const auto& l = c.at("latency_us");
    for (const auto* f : {"count", "p50", "p90", "p99", "p999", "max"})
        ASSERT_TRUE(l.at(f).is_number()) << f;
    EXPECT_EQ(l.at("count").get<std::uint64_t>(), u(c, "received"));
    EXPECT_LE(l.at("p50").get<double>(), l.at("p90").get<double>());
    EXPECT_LE(l.at("p90").get<double>(), l.at("p99").get<double>());
    EXPECT_LE(l.at("p99").get<double>(), l.at("p999").get<double>());
    EXPECT_LE(l.at("p999").get<double>(), l.at("max").get<double>());
    EXPECT_LE(u(c, "lost_in_gaps"), u(c, "lost"));
    EXPECT_EQ(u(c, "received") + u(c, "lost"), u(c, "expected")) << c.dump();
    EXPECT_LE(u(c, "writes_silent"), u(c, "writes_acked"));
}

/// Parses and checks a whole document; returns it.
json parse_report(const result& r) {
    json j;
    try {
        j = json::parse(r.out);
    } catch (const json::exception& e) {
        ADD_FAILURE() << "not JSON: " << e.what() << "\n" << describe(r);
        return j;
    }
    EXPECT_EQ(j.at("schema"), "ksn-bench/1");
    for (const auto* f : {"mode", "address", "tls"})
        EXPECT_TRUE(j.at("target").contains(f)) << f;
    for (const auto* f :
         {"writers", "pipeline", "rate", "duration_s", "ops", "keys", "mix", "hset_fields",
          "value_size", "prefix", "db", "channel", "match", "extra_patterns", "drain_s", "seed"})
        EXPECT_TRUE(j.at("config").contains(f)) << f;
    EXPECT_TRUE(j.at("required_flags").is_string());
    EXPECT_TRUE(j.at("configured_nodes").is_array());
    EXPECT_TRUE(j.at("subscriptions").is_number_unsigned());
    EXPECT_TRUE(j.at("elapsed_s").is_number());
    EXPECT_TRUE(j.at("interrupted").is_boolean());
    EXPECT_TRUE(j.at("write_rate").is_number());
    EXPECT_TRUE(j.at("notification_rate").is_number());
    EXPECT_TRUE(j.at("first_error").is_null() || j.at("first_error").is_string());
    EXPECT_TRUE(j.at("other_events").is_number_unsigned());
    for (const auto* f : {"moved", "ask", "retries"})
        EXPECT_TRUE(j.at("redirects").at(f).is_number_unsigned()) << f;
    check_counts(j.at("total"));
    // The nodes add up to the total.
    for (const auto& f : count_fields) {
        std::uint64_t sum = 0;
        for (const auto& n : j.at("nodes")) {
            check_counts(n);
            sum += u(n, f);
        }
        EXPECT_EQ(sum, u(j.at("total"), f)) << f;
    }
    for (const auto& g : j.at("gaps")) {
        for (const auto* f : {"node", "reason", "detail"})
            EXPECT_TRUE(g.at(f).is_string()) << f;
        EXPECT_TRUE(g.at("lost_s").is_number());
        EXPECT_TRUE(g.at("restored_s").is_null() || g.at("restored_s").is_number());
        EXPECT_TRUE(g.at("slots").is_array());
        EXPECT_TRUE(g.at("lost_writes").is_number_unsigned());
    }
    // The timeline adds up to the totals.
    std::uint64_t sent = 0, received = 0;
    std::uint32_t second = 0;
    for (const auto& s : j.at("timeline")) {
        EXPECT_EQ(s.at("second").get<std::uint32_t>(), second++);
        sent += u(s, "sent");
        received += u(s, "received");
        EXPECT_TRUE(s.at("p50_us").is_number());
        EXPECT_LE(s.at("p50_us").get<double>(), s.at("p99_us").get<double>());
    }
    EXPECT_EQ(sent, u(j.at("total"), "writes_sent"));
    EXPECT_EQ(received, u(j.at("total"), "received"));
    return j;
}

/// A run in which nothing may be missing.
void expect_all_matched(const json& j) {
    const auto& t = j.at("total");
    EXPECT_GT(u(t, "writes_sent"), 0u);
    EXPECT_EQ(u(t, "writes_acked"), u(t, "writes_sent"));
    EXPECT_EQ(u(t, "writes_failed"), 0u);
    EXPECT_EQ(u(t, "expected"), u(t, "writes_acked") - u(t, "writes_silent"));
    EXPECT_GT(u(t, "received"), 0u);
    EXPECT_EQ(u(t, "received"), u(t, "expected"));
    EXPECT_EQ(u(t, "lost"), 0u);
    EXPECT_EQ(u(t, "duplicated"), 0u);
    EXPECT_EQ(u(t, "out_of_order"), 0u);
    EXPECT_EQ(u(t, "unconfirmed"), 0u);
    EXPECT_TRUE(j.at("gaps").empty()) << j.at("gaps").dump();
    EXPECT_TRUE(j.at("first_error").is_null());
}

std::string port_of(const redis_server& s) {
    return std::to_string(s.port());
}

/// Waits until ksn bench's writers are connected to `node`.
bool bench_writing(redis_server& node, std::chrono::seconds limit) {
    return wait_until(
        [&] {
            return node.command({"CLIENT", "LIST"}).data.find("name=ksn-bench-writer") !=
                   std::string::npos;
        },
        limit);
}

/// The server's total_commands_processed (INFO stats).
std::int64_t commands_processed(redis_server& s) {
    const auto info = s.command({"INFO", "stats"}).data;
    const std::string field = "total_commands_processed:";
    const auto at = info.find(field);
    return at == std::string::npos ? 0 : std::stoll(info.substr(at + field.size()));
}

/// Waits until `node` has processed `count` more commands than now: ksn bench has been
/// writing to it (and its subscriber receiving) for a while. The test's own INFO calls
/// count too, a few in a hundred.
bool bench_wrote(redis_server& node, std::int64_t count) {
    const auto from = commands_processed(node);
    return wait_until([&] { return commands_processed(node) >= from + count; });
}

std::int64_t dbsize(redis_server& s) {
    return s.command({"DBSIZE"}).integer;
}

TEST(BenchCli, StandaloneEveryNotificationMatchedAndKeysDeleted) {
    redis_server server;
    const auto r =
        run_ksn({"bench", "--port", port_of(server), "--duration", "1.5", "--json", "-q"}, {}, {});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    expect_all_matched(j);
    EXPECT_EQ(j.at("target").at("mode"), "standalone");
    EXPECT_EQ(j.at("target").at("address"), server.address());
    EXPECT_FALSE(j.at("interrupted").get<bool>());
    EXPECT_EQ(j.at("config").at("channel"), "keyspace");
    EXPECT_EQ(j.at("config").at("match"), "pattern");
    EXPECT_EQ(j.at("subscriptions"), 1);
    ASSERT_EQ(j.at("nodes").size(), 1u);
    EXPECT_EQ(j.at("nodes")[0].at("node"), server.address());
    // The default mix has DEL and EXPIRE, some of which find no key.
    EXPECT_GT(u(j.at("total"), "writes_silent"), 0u);
    EXPECT_EQ(dbsize(server), 0) << "the keys written are deleted at the end";
}

TEST(BenchCli, OverAUnixSocket) {
    redis_server server(with_unix_socket());
    const auto r = run_ksn(
        {"bench", "--socket", server.socket_path(), "--duration", "1", "--json", "-q"}, {}, {});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    expect_all_matched(j);
    EXPECT_EQ(j.at("target").at("address"), "unix:" + server.socket_path());
    ASSERT_EQ(j.at("nodes").size(), 1u);
    EXPECT_EQ(j.at("nodes")[0].at("node"), "unix:" + server.socket_path());
    // The writers used the socket too: writes into any other server (nothing listens on
    // the default 127.0.0.1:6379 the flags would fall back to) would not be matched.
    EXPECT_GT(u(j.at("total"), "writes_acked"), 0u);
    EXPECT_EQ(u(j.at("total"), "writes_failed"), 0u);
    EXPECT_EQ(dbsize(server), 0);
}

TEST(BenchCli, KeyeventExactAtARateWithCsvRows) {
    redis_server server;
    const auto csv = std::filesystem::temp_directory_path() /
                     ("ksn-bench-" + std::to_string(::getpid()) + ".csv");
    const auto r = run_ksn({"bench",
                            "--port",
                            port_of(server),
                            "--channel",
                            "keyevent",
                            "--exact",
                            "--rate",
                            "3000",
                            "--duration",
                            "1.5",
                            "--writers",
                            "2",
                            "--pipeline",
                            "4",
                            "--mix",
                            "set=2,del=1,expire=1,hset=1,lpush=1",
                            "--hset-fields",
                            "3",
                            "--keys",
                            "100",
                            "--keep-keys",
                            "--db",
                            "2",
                            "--csv",
                            csv.string(),
                            "--json"});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    expect_all_matched(j);
    EXPECT_EQ(j.at("config").at("channel"), "keyevent");
    EXPECT_EQ(j.at("config").at("match"), "exact");
    EXPECT_EQ(j.at("subscriptions"), 5) << "one channel per event of the mix";
    // The pacing never runs ahead of the rate by more than the pipelines' worth.
    const double elapsed = j.at("elapsed_s").get<double>();
    EXPECT_LE(static_cast<double>(u(j.at("total"), "writes_sent")), 3000 * elapsed + 2 * 4 + 1);
    // --keep-keys: the keys stay, in the db the channels name (--db 2), not in db 0.
    EXPECT_EQ(dbsize(server), 0);
    const auto keyspace = server.command({"INFO", "keyspace"}).data;
    EXPECT_NE(keyspace.find("db2:keys="), std::string::npos) << keyspace;
    // Every hash there has the 3 fields of --hset-fields 3.
    client db2(server.port());
    db2.command({"SELECT", "2"});
    const auto scan = db2.command({"SCAN", "0", "MATCH", "*:h:*", "COUNT", "1000"});
    ASSERT_EQ(scan.elements.size(), 2u);
    ASSERT_FALSE(scan.elements[1].elements.empty());
    for (const auto& key : scan.elements[1].elements)
        EXPECT_EQ(db2.command({"HLEN", key.data}).integer, 3) << key.data;

    std::ifstream in(csv);
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_EQ(line, "second,sent,acked,received,p50_us,p99_us");
    std::uint64_t sent = 0, received = 0, rows = 0;
    while (std::getline(in, line)) {
        unsigned long long sec = 0, s = 0, a = 0, rc = 0;
        double p50 = 0, p99 = 0;
        ASSERT_EQ(
            std::sscanf(line.c_str(), "%llu,%llu,%llu,%llu,%lf,%lf", &sec, &s, &a, &rc, &p50, &p99),
            6)
            << line;
        EXPECT_EQ(sec, rows++);
        sent += s;
        received += rc;
    }
    std::filesystem::remove(csv);
    EXPECT_GE(rows, 2u);
    EXPECT_EQ(sent, u(j.at("total"), "writes_sent"));
    EXPECT_EQ(received, u(j.at("total"), "received"));
}

TEST(BenchCli, RefusesWhenNotificationsAreOffAndConfiguresOnRequest) {
    redis_server server(with_notify(""));
    const auto refused = run_ksn({"bench", "--port", port_of(server), "--duration", "1", "-q"});
    EXPECT_EQ(refused.status, 1) << describe(refused);
    EXPECT_NE(refused.err.find(server.address() + " has notify-keyspace-events \"\""),
              std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("--configure"), std::string::npos) << refused.err;
    EXPECT_TRUE(refused.out.empty());
    EXPECT_EQ(server.command({"CONFIG", "GET", "notify-keyspace-events"}).elements.at(1).data, "");

    const auto r = run_ksn(
        {"bench", "--port", port_of(server), "--duration", "1", "--configure", "--json", "-q"});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    expect_all_matched(j);
    EXPECT_EQ(j.at("configured_nodes"), json::array({server.address()}));
    const auto flags =
        server.command({"CONFIG", "GET", "notify-keyspace-events"}).elements.at(1).data;
    for (const char c : std::string("K$ghl"))
        EXPECT_NE(flags.find(c), std::string::npos) << flags;
}

TEST(BenchCli, SubscriberCutByTheServerIsReportedAsLostInItsGap) {
    redis_server server;
    ksn_process bench({"bench", "--port", port_of(server), "--rate", "4000", "--duration", "3",
                       "--drain", scaled_seconds(2), "--json", "-q"});
    // Once the benchmark is subscribed and writing, the server drops its subscriber. (The
    // drain never settles, the writes lost in the gap stay missing: it is scaled so that
    // a notification slowed by a sanitizer is not counted lost.)
    ASSERT_TRUE(wait_until(
        [&] {
            const auto list = server.command({"CLIENT", "LIST"}).data;
            return list.find("name=ksn-bench ") != std::string::npos &&
                   list.find("psub=1") != std::string::npos &&
                   list.find("name=ksn-bench-writer") != std::string::npos;
        },
        10s));
    ASSERT_TRUE(bench_wrote(server, 2000));
    EXPECT_EQ(server.command({"CLIENT", "KILL", "TYPE", "pubsub"}).integer, 1);
    const auto r = bench.wait(30s);
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    const auto& t = j.at("total");
    EXPECT_EQ(u(t, "writes_failed"), 0u);
    EXPECT_GT(u(t, "lost"), 0u) << "writes went on while ksn resubscribed";
    EXPECT_EQ(u(t, "lost_in_gaps"), u(t, "lost")) << "every loss falls in the reported gap";
    EXPECT_GT(u(t, "received"), 0u);
    EXPECT_EQ(u(t, "duplicated"), 0u);
    EXPECT_EQ(u(t, "out_of_order"), 0u);
    ASSERT_EQ(j.at("gaps").size(), 1u) << j.at("gaps").dump();
    const auto& g = j.at("gaps")[0];
    EXPECT_EQ(g.at("node"), server.address());
    EXPECT_EQ(g.at("reason"), "server_closed_connection");
    ASSERT_TRUE(g.at("restored_s").is_number());
    EXPECT_LT(g.at("lost_s").get<double>(), g.at("restored_s").get<double>());
    EXPECT_EQ(u(g, "lost_writes"), u(t, "lost"));
    EXPECT_EQ(u(j.at("nodes")[0], "gaps"), 1u);
}

TEST(BenchCli, TableForAnOpsBudgetOverResp2WithExtraPatterns) {
    redis_server server;
    const auto r = run_ksn({"bench", "--port", port_of(server), "--ops", "3000", "--duration", "0",
                            "--resp", "2", "--patterns", "3", "-q"});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto& out = r.out;
    for (const std::string& line :
         {"ksn bench: standalone " + server.address() + ", 4 writers x 16 in flight, rate max, ",
          ", 4 keyspace channel(s)\n"s, "  writes:        sent 3000 ("s,
          "acked 3000, failed 0, publishing nothing "s, "lost 0 (0 in gaps), duplicated 0, "s,
          "out of order 0, unconfirmed 0\n"s,
          "  latency (write sent -> notification received): p50 "s,
          "\n  " + server.address() + " "})
        EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
    // expected == received, whatever the number.
    const auto at = out.find("notifications: expected ");
    ASSERT_NE(at, std::string::npos) << out;
    unsigned long long expected = 0, received = 0;
    ASSERT_EQ(std::sscanf(out.c_str() + at, "notifications: expected %llu, received %llu",
                          &expected, &received),
              2)
        << out;
    EXPECT_GT(expected, 0u);
    EXPECT_EQ(received, expected);
}

TEST(BenchCli, InterruptedRunPrintsItsPartialResults) {
    redis_server server;
    ksn_process bench(
        {"bench", "--port", port_of(server), "--rate", "2000", "--duration", "60", "--json", "-q"});
    ASSERT_TRUE(bench_writing(server, 10s));
    ASSERT_TRUE(bench_wrote(server, 2000));
    bench.signal(SIGINT);
    const auto r = bench.wait(30s);
    ASSERT_EQ(r.status, 130) << describe(r);
    const auto j = parse_report(r);
    EXPECT_TRUE(j.at("interrupted").get<bool>());
    EXPECT_LT(j.at("elapsed_s").get<double>(), 30.0);
    expect_all_matched(j);
    EXPECT_EQ(dbsize(server), 0);
}

TEST(BenchCli, OverMutualTlsWithAnAclUser) {
    tls_material m;
    const auto tls_port = free_port();
    redis_server server(with_config(
        {m.server_config(tls_port, true), "user bench on >secret ~* &* +@all -flushall"}));
    const auto r = run_ksn({"bench", "--port", std::to_string(tls_port), "--tls", "--cacert",
                            m.ca_cert(), "--cert", m.client_cert(), "--key", m.client_key(),
                            "--user", "bench", "--duration", "1", "--json", "-q"},
                           {"KSN_PASSWORD=secret"});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    expect_all_matched(j);
    EXPECT_TRUE(j.at("target").at("tls").get<bool>());
    // The wrong CA: a clear error naming the cause, exit 1.
    const auto bad = run_ksn({"bench", "--port", std::to_string(tls_port), "--tls", "--cacert",
                              m.other_ca_cert(), "--cert", m.client_cert(), "--key", m.client_key(),
                              "--duration", "1"});
    EXPECT_EQ(bad.status, 1) << describe(bad);
    EXPECT_NE(bad.err.find("certificate verification failed"), std::string::npos) << describe(bad);
    const auto wrong = run_ksn(
        {"bench", "--port", std::to_string(tls_port), "--tls", "--cacert", m.ca_cert(), "--cert",
         m.client_cert(), "--key", m.client_key(), "--user", "bench", "--duration", "1"},
        {"KSN_PASSWORD=wrong"});
    EXPECT_EQ(wrong.status, 1) << describe(wrong);
    EXPECT_NE(wrong.err.find("WRONGPASS"), std::string::npos) << describe(wrong);
}

TEST(BenchCli, PassFileIsReadAgainWhenTheWritersAndTheSubscriberReconnect) {
    redis_server server(with_config({"user app on >first ~* &* +@all",
                                     "user admin on >admin ~* &* +@all", "user default off"}));
    server.set_auth({"admin", "admin"});
    const std::string file = server.dir() + "/password";
    std::ofstream(file) << "first\n";
    ksn_process bench({"bench", "--port", port_of(server), "--user", "app", "--pass-file", file,
                       "--rate", "2000", "--duration", "120", "--drain", scaled_seconds(3),
                       "--json", "-q"});
    ASSERT_TRUE(bench_writing(server, 15s));
    ASSERT_TRUE(bench_wrote(server, 500));
    // Rotate: the server, then the file, then cut every connection of the user; the
    // writers and the notifier log in again with what the file says now.
    server.command({"ACL", "SETUSER", "app", "resetpass", ">second"});
    std::ofstream(file, std::ios::trunc) << "second\n";
    ASSERT_GT(server.command({"CLIENT", "KILL", "USER", "app"}).integer, 0);
    ASSERT_TRUE(wait_until([&] {
        return server.command({"PUBSUB", "NUMPAT"}).integer >= 1 &&
               server.command({"CLIENT", "LIST"}).data.find("name=ksn-bench-writer") !=
                   std::string::npos;
    }));
    ASSERT_TRUE(bench_wrote(server, 3000));  // 1.5 s of writes at 2000/s
    bench.signal(SIGINT);
    const auto r = bench.wait(60s);
    ASSERT_EQ(r.status, 130) << describe(r);
    EXPECT_EQ(r.err.find("WRONGPASS"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("authentication failed"), std::string::npos) << r.err;
    const auto j = parse_report(r);
    const auto& t = j.at("total");
    EXPECT_GT(u(t, "received"), 0u);
    EXPECT_EQ(u(t, "lost_in_gaps"), u(t, "lost")) << j.dump(2);
    // The subscriber's connection was cut: one gap, closed when it was back.
    ASSERT_EQ(j.at("gaps").size(), 1u) << j.at("gaps").dump(2);
    EXPECT_TRUE(j.at("gaps")[0].at("restored_s").is_number()) << j.at("gaps").dump(2);
    // Writes went on with the new password: notifications arrived in a second that
    // began after the gap closed.
    const double restored = j.at("gaps")[0].at("restored_s").get<double>();
    std::uint64_t later = 0;
    for (const auto& s : j.at("timeline"))
        if (s.at("second").get<double>() >= restored) later += u(s, "received");
    EXPECT_GT(later, 0u) << j.at("timeline").dump();
}

TEST(BenchCli, UsageErrorsNameTheOption) {
    const struct {
        std::vector<std::string> args;
        std::string message;
    } cases[] = {
        {{"--mix", "set=1,foo=2"}, "--mix set=1,foo=2: unknown command \"foo\""},
        {{"--mix", "del=1"}, "del and expire need keys to act on"},
        {{"--mix", "set=x"}, "the weight of set must be a whole number"},
        {{"--duration", "0"}, "give --duration or --ops"},
        {{"--keys", "3", "--writers", "4"}, "--keys 3 is too small"},
        {{"--prefix", "a*"}, "--prefix a*: glob characters"},
        {{"--exact", "--keys", "200000"}, "at most 100000 --keys"},
        {{"--channel", "subkeyspace"}, "--channel"},
        {{"--cluster", "--seed", "nohost"}, "--seed nohost: expected HOST:PORT"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args{"bench", "--port", "1"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        const auto r = run_ksn(args);
        EXPECT_EQ(r.status, 2) << describe(r);
        EXPECT_NE(r.err.find(c.message), std::string::npos) << describe(r);
    }
    const auto help = run_ksn({"bench", "--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("ksn-bench/1"), std::string::npos) << "the help gives the schema";
    const auto down = run_ksn({"bench", "--port", "1", "--duration", "1"});
    EXPECT_EQ(down.status, 1) << describe(down);
    EXPECT_NE(down.err.find("127.0.0.1:1"), std::string::npos) << describe(down);
}

TEST(BenchCli, ClusterEveryPrimaryMatched) {
    redis_cluster cluster(3, 0);
    const auto seeds = cluster.seeds();
    const auto r = run_ksn({"bench", "--cluster", "--port", std::to_string(seeds[0].port),
                            "--channel", "keyevent", "--duration", "1.5", "--json", "-q"},
                           {}, {});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    expect_all_matched(j);
    EXPECT_EQ(j.at("target").at("mode"), "cluster");
    std::set<std::string> nodes;
    for (const auto& n : j.at("nodes")) {
        nodes.insert(n.at("node").get<std::string>());
        EXPECT_GT(u(n, "received"), 0u) << n.dump();
        EXPECT_EQ(u(n, "received"), u(n, "expected")) << n.dump();
    }
    std::set<std::string> primaries;
    const auto topology = cluster.topology();
    for (const auto& s : topology.shards())
        primaries.insert(s.primary.address.to_string());
    EXPECT_EQ(nodes, primaries);
    std::int64_t keys = 0;
    for (auto& n : cluster.nodes())
        keys += dbsize(*n);
    EXPECT_EQ(keys, 0);

    // A hash tag in the prefix puts every key in the tag's slot: one primary gets it all.
    const auto tagged =
        run_ksn({"bench", "--cluster", "--port", std::to_string(seeds[0].port), "--prefix",
                 "{ksn-tag}:", "--ops", "2000", "--duration", "0", "--json", "-q"});
    ASSERT_EQ(tagged.status, 0) << describe(tagged);
    const auto t = parse_report(tagged);
    expect_all_matched(t);
    const auto owner = topology.owner(cluster::key_slot("ksn-tag"))->primary.address.to_string();
    for (const auto& n : t.at("nodes")) {
        if (n.at("node") == owner) {
            EXPECT_EQ(u(n, "writes_sent"), 2000u) << n.dump();
        } else {
            EXPECT_EQ(u(n, "writes_sent"), 0u) << n.dump();
        }
    }
}

}  // namespace
}  // namespace ksn::test

namespace ksn::test {
namespace {

TEST(BenchCli, ClusterPrimaryKilledMidRunReportsItsGaps) {
    redis_cluster cluster(3, 1);
    cluster.wait_stable(30s, 1);
    const auto seeds = cluster.seeds();
    const auto before = cluster.topology();
    const auto victim = before.shards()[0].primary.address;
    ASSERT_EQ(before.shards()[0].replicas.size(), 1u);
    auto& heir = cluster.node(before.shards()[0].replicas[0].address.port);
    // The run lasts until the test has seen what it checks, then is interrupted (its
    // partial results are the whole results): a fixed duration would race the failover,
    // which takes longer when the machine is loaded. The drain waits for the
    // notifications still due (it never settles: the writes lost in the gap stay
    // missing), so it is scaled: under TSan a notification came 2.1 s after its write.
    ksn_process bench({"bench", "--cluster", "--port", std::to_string(seeds[1].port), "--seed",
                       "127.0.0.1:" + std::to_string(seeds[2].port), "--rate", "2000", "--duration",
                       "120", "--drain", scaled_seconds(3), "--json", "-q"});
    auto& node = cluster.node(victim.port);
    ASSERT_TRUE(bench_writing(node, 15s));
    ASSERT_TRUE(bench_wrote(node, 1000));
    node.kill9();
    // The replica is promoted, ksn bench's notifier subscribes it (its one pattern), and
    // the writers go on there.
    ASSERT_TRUE(wait_until(
        [&] {
            try {
                return heir.command({"ROLE"}).elements.at(0).data == "master" &&
                       heir.command({"PUBSUB", "NUMPAT"}).integer >= 1;
            } catch (const std::exception&) {
                return false;
            }
        },
        60s, 50ms));
    ASSERT_TRUE(bench_wrote(heir, 1000));
    bench.signal(SIGINT);
    const auto r = bench.wait(60s);
    ASSERT_EQ(r.status, 130) << describe(r);
    const auto j = parse_report(r);
    const auto& t = j.at("total");
    EXPECT_EQ(u(t, "lost_in_gaps"), u(t, "lost")) << j.dump(2);
    EXPECT_EQ(u(t, "duplicated"), 0u);
    EXPECT_GT(u(t, "received"), 0u);
    // The replica that took over the victim's slots reports them as a gap from the moment
    // the victim's connection broke until it was subscribed.
    const auto& victim_slots = before.shards()[0].slots;
    bool covered = false;
    for (const auto& g : j.at("gaps")) {
        if (g.at("reason") != "topology_change") continue;
        if (g.at("detail").get<std::string>().find(victim.to_string()) == std::string::npos)
            continue;
        ASSERT_EQ(g.at("slots").size(), victim_slots.size()) << g.dump();
        for (std::size_t i = 0; i < victim_slots.size(); ++i) {
            EXPECT_EQ(g.at("slots")[i][0], victim_slots[i].first);
            EXPECT_EQ(g.at("slots")[i][1], victim_slots[i].last);
        }
        EXPECT_TRUE(g.at("restored_s").is_number());
        covered = true;
    }
    EXPECT_TRUE(covered) << j.at("gaps").dump(2);
    // The writes went on at the promoted replica, and its notifications arrived.
    std::set<std::string> old_primaries;
    for (const auto& s : before.shards())
        old_primaries.insert(s.primary.address.to_string());
    bool promoted_received = false;
    for (const auto& n : j.at("nodes"))
        if (!old_primaries.contains(n.at("node").get<std::string>()))
            promoted_received = promoted_received || u(n, "received") > 0;
    EXPECT_TRUE(promoted_received) << j.at("nodes").dump(2);
}

}  // namespace
}  // namespace ksn::test

namespace ksn::test {
namespace {

TEST(BenchCli, ClusterRedundancyCoversACutSubscriberAndCountsItsRepeatsApart) {
    redis_cluster cluster(3, 1);
    cluster.wait_stable(30s, 1);
    const auto seeds = cluster.seeds();
    const auto before = cluster.topology();
    const auto victim = before.shards()[0].primary.address;
    ksn_process bench({"bench", "--cluster", "--port", std::to_string(seeds[1].port),
                       "--redundancy", "replica", "--rate", "2000", "--duration", "120", "--mix",
                       "set=1,hset=1,lpush=1", "--keys", "100000", "--drain", scaled_seconds(3),
                       "--json", "-q"});
    auto& node = cluster.node(victim.port);
    ASSERT_TRUE(bench_writing(node, 15s));
    ASSERT_TRUE(bench_wrote(node, 1000));
    // Its standby on the replica is subscribed.
    auto& standby = cluster.node(before.shards()[0].replicas.at(0).address.port);
    ASSERT_TRUE(wait_until([&] { return standby.command({"PUBSUB", "NUMPAT"}).integer >= 1; }));
    // Cuts ksn bench's subscriber on the primary (its writers are not pub/sub clients);
    // the standby on its replica delivers until the primary's new subscription is
    // confirmed and the replica has caught up with it.
    const auto killed = node.command({"CLIENT", "KILL", "TYPE", "pubsub"});
    ASSERT_EQ(killed.integer, 1) << killed.data;
    ASSERT_TRUE(wait_until([&] { return node.command({"PUBSUB", "NUMPAT"}).integer >= 1; }, 10s));
    ASSERT_TRUE(bench_wrote(node, 2000));
    bench.signal(SIGINT);
    const auto r = bench.wait(60s);
    ASSERT_EQ(r.status, 130) << describe(r);
    const auto j = parse_report(r);
    const auto& t = j.at("total");
    EXPECT_EQ(u(t, "lost"), 0u) << j.dump(2);
    EXPECT_TRUE(j.at("gaps").empty()) << j.at("gaps").dump(2);
    EXPECT_EQ(u(t, "duplicated"), 0u) << j.at("nodes").dump();
    // Both streams delivered the writes of the overlap: the second copy of each is marked.
    // (No DEL or EXPIRE in the mix: a replica publishes an expiry as del, docs/notifications.md,
    // and the standby's del would match no write. A large key space: a key written again
    // within a round trip of the primary's resubscription may have its copies told apart
    // wrongly, replica_window::primary_resumed().)
    EXPECT_GT(u(t, "redelivered"), 0u) << j.dump(2);
    std::cout << "bench, CLIENT KILL with --redundancy replica: received " << u(t, "received")
              << ", lost " << u(t, "lost") << ", redelivered " << u(t, "redelivered")
              << ", duplicated " << u(t, "duplicated") << "\n";
}

TEST(BenchCli, ClusterWithAPrimaryDownGoesOnWithTheOthersUnlessEveryOneIsRequired) {
    redis_cluster cluster(3, 0, {"cluster-require-full-coverage no"});
    const auto before = cluster.topology();
    auto& live = *cluster.nodes()[0];
    auto& down = *cluster.nodes()[2];
    std::vector<std::pair<std::int64_t, std::int64_t>> down_slots;
    for (const auto& shard : before.shards())
        if (shard.primary.address.port == down.port())
            for (const auto& range : shard.slots)
                down_slots.emplace_back(range.first, range.last);
    ASSERT_FALSE(down_slots.empty());
    down.kill9();
    const auto seed = port_of(live);

    // All or nothing: the run stops before writing, naming the node.
    const auto strict = run_ksn({"bench", "--cluster", "--port", seed, "--require-every-primary",
                                 "--duration", "1", "--json", "-q"});
    EXPECT_EQ(strict.status, 1) << describe(strict);
    EXPECT_NE(strict.err.find(down.address()), std::string::npos) << strict.err;
    EXPECT_TRUE(strict.out.empty()) << strict.out;

    // By default the others are written to; the primary that comes back is written to
    // once it is reachable, after the node_unreachable gap that covers its slots until the
    // notifier subscribed it.
    ksn_process bench({"bench", "--cluster", "--port", seed, "--rate", "2000", "--duration", "120",
                       "--drain", scaled_seconds(3), "--json", "-q"});
    ASSERT_TRUE(bench_writing(live, 15s));
    ASSERT_TRUE(bench_wrote(live, 500));
    down.start();
    ASSERT_TRUE(wait_until(
        [&] {
            try {
                return down.command({"PUBSUB", "NUMPAT"}).integer >= 1;
            } catch (const std::exception&) {
                return false;
            }
        },
        30s, 50ms));
    ASSERT_TRUE(bench_wrote(down, 500));
    bench.signal(SIGINT);
    const auto r = bench.wait(60s);
    ASSERT_EQ(r.status, 130) << describe(r);
    EXPECT_NE(r.err.find("ksn bench: warning: " + down.address() + ": "), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("going on with the other primaries"), std::string::npos) << r.err;
    const auto j = parse_report(r);
    const auto& t = j.at("total");
    // Writes the node took before the notifier had subscribed it lie in its gap.
    EXPECT_EQ(u(t, "lost_in_gaps"), u(t, "lost")) << j.dump(2);
    EXPECT_EQ(u(t, "duplicated"), 0u) << j.dump(2);
    // The node back answers CLUSTERDOWN until the cluster takes it in again: those writes
    // are sent again 100 ms later, after later writes of the same key, whose notifications
    // then come first (an ASan run saw 1). Without retries, nothing is out of order.
    if (j.at("redirects").at("retries") == 0) {
        EXPECT_EQ(u(t, "out_of_order"), 0u) << j.dump(2);
    }
    // Every node took writes and delivered their notifications, the one back too.
    std::map<std::string, json> nodes;
    for (const auto& n : j.at("nodes"))
        nodes[n.at("node").get<std::string>()] = n;
    for (const auto& shard : before.shards()) {
        const auto name = shard.primary.address.to_string();
        ASSERT_EQ(nodes.count(name), 1u) << j.at("nodes").dump(2);
        EXPECT_GT(u(nodes[name], "received"), 0u) << nodes[name].dump();
    }
    // One gap: the node that was down, its slots, closed when it was subscribed.
    ASSERT_EQ(j.at("gaps").size(), 1u) << j.at("gaps").dump(2);
    const auto& g = j.at("gaps")[0];
    EXPECT_EQ(g.at("node"), down.address());
    EXPECT_EQ(g.at("reason"), "node_unreachable");
    EXPECT_TRUE(g.at("restored_s").is_number()) << g.dump();
    ASSERT_EQ(g.at("slots").size(), down_slots.size()) << g.dump();
    for (std::size_t i = 0; i < down_slots.size(); ++i) {
        EXPECT_EQ(g.at("slots")[i][0], down_slots[i].first) << g.dump();
        EXPECT_EQ(g.at("slots")[i][1], down_slots[i].second) << g.dump();
    }

    const auto usage = run_ksn({"bench", "--require-every-primary"});
    EXPECT_EQ(usage.status, 2) << describe(usage);
    EXPECT_NE(usage.err.find("--require-every-primary requires --cluster"), std::string::npos)
        << usage.err;
}

TEST(BenchCli, ClusterReshardedMidRunFollowsAskAndMoved) {
    redis_cluster cluster(3, 0);
    const auto t = cluster.topology();
    auto& from = cluster.node(t.shards()[0].primary.address.port);
    auto& to = cluster.node(t.shards()[1].primary.address.port);
    // The drain is scaled: under TSan a notification came 2.1 s after its write, past
    // the default drain of 2 s (its write counted lost outside any gap).
    ksn_process bench({"bench", "--cluster", "--port", std::to_string(to.port()), "--rate", "3000",
                       "--duration", "6", "--keys", "3000", "--drain", scaled_seconds(3), "--json",
                       "-q"});
    ASSERT_TRUE(bench_writing(from, 15s));
    ASSERT_TRUE(bench_wrote(from, 1000));
    cluster.reshard(from, to, 2000);  // keys migrate under the writes
    const auto r = bench.wait(60s);
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    const auto& t2 = j.at("total");
    EXPECT_GT(j.at("redirects").at("moved").get<std::uint64_t>(), 0u)
        << "writes to the old owner of the moved slots were redirected";
    EXPECT_EQ(u(t2, "writes_failed"), 0u) << j.at("first_error");
    EXPECT_EQ(u(t2, "writes_acked"), u(t2, "writes_sent"));
    EXPECT_EQ(u(t2, "lost_in_gaps"), u(t2, "lost")) << j.dump(2);
    // MIGRATE publishes events of its own for each key it moves: del on the source (no
    // write of the bench's is left to match it: a duplicate) and restore on the target
    // (an event the bench never causes).
    EXPECT_GT(u(j, "other_events"), 0u);
    EXPECT_EQ(u(t2, "duplicated"), u(j, "other_events"));
    EXPECT_GT(u(t2, "received"), 0u);
}

}  // namespace
}  // namespace ksn::test

namespace ksn::test {
namespace {

/// `ksn bench --sentinel S --sentinel S... --primary NAME` then `extra`.
std::vector<std::string> sentinel_bench(redis_sentinel_set& s,
                                        const std::vector<std::string>& extra) {
    std::vector<std::string> args{"bench"};
    for (const auto& e : s.sentinel_endpoints())
        args.insert(args.end(), {"--sentinel", e.to_string()});
    args.insert(args.end(), {"--primary", s.primary_name()});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

TEST(BenchCli, SentinelWritesToThePrimaryAndMatchesEveryNotification) {
    redis_sentinel_set s;
    auto& primary = s.primary_at_start();
    const auto r = run_ksn(sentinel_bench(s, {"--duration", "1.5", "--json", "-q"}));
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto j = parse_report(r);
    expect_all_matched(j);
    const auto& target = j.at("target");
    EXPECT_EQ(target.at("mode"), "sentinel");
    EXPECT_EQ(target.at("address"), primary.address()) << "the primary at the start";
    EXPECT_EQ(target.at("primary_name"), "ksnprimary");
    EXPECT_EQ(target.at("sentinels").size(), s.sentinel_count());
    EXPECT_FALSE(target.at("sentinel_tls").get<bool>());
    EXPECT_EQ(j.at("redirects").at("switches"), 0);
    ASSERT_EQ(j.at("nodes").size(), 1u) << j.at("nodes").dump();
    EXPECT_EQ(j.at("nodes")[0].at("node"), primary.address());
    EXPECT_EQ(dbsize(primary), 0) << "the keys written are deleted at the end";

    // The table names the mode, the primary's name and where it was.
    const auto table = run_ksn(sentinel_bench(s, {"--ops", "500", "--duration", "0", "-q"}));
    ASSERT_EQ(table.status, 0) << describe(table);
    EXPECT_NE(table.out.find("ksn bench: sentinel 'ksnprimary' (primary " + primary.address() +
                             " at the start), 4 writers x 16 in flight, "),
              std::string::npos)
        << table.out;
    EXPECT_NE(table.out.find("lost 0 (0 in gaps)"), std::string::npos) << table.out;

    // A name the sentinels do not monitor: exit 1, naming each sentinel.
    auto args = sentinel_bench(s, {"--duration", "1"});
    *std::find(args.begin(), args.end(), s.primary_name()) = "nosuchprimary";
    const auto unknown = run_ksn(args);
    EXPECT_EQ(unknown.status, 1) << describe(unknown);
    EXPECT_NE(unknown.err.find("no sentinel named a primary for 'nosuchprimary': "),
              std::string::npos)
        << unknown.err;
    for (const auto& e : s.sentinel_endpoints()) {
        EXPECT_NE(unknown.err.find(e.to_string() + ": does not know the primary"),
                  std::string::npos)
            << unknown.err;
    }
}

TEST(BenchCli, SentinelRedundancyCoversACutSubscriberAndCountsItsRepeatsApart) {
    redis_sentinel_set s;
    auto& primary = s.primary_at_start();
    auto& replica = s.replica_at_start();
    ksn_process bench(sentinel_bench(s, {"--redundancy", "replica", "--rate", "2000", "--duration",
                                         "120", "--mix", "set=1,hset=1,lpush=1", "--keys", "100000",
                                         "--drain", scaled_seconds(3), "--json", "-q"}));
    ASSERT_TRUE(bench_writing(primary, 15s));
    ASSERT_TRUE(bench_wrote(primary, 1000));
    // Its standby on the replica is subscribed.
    ASSERT_TRUE(wait_until([&] { return replica.command({"PUBSUB", "NUMPAT"}).integer >= 1; }));
    // Cuts the subscriber on the primary: the standby delivers until the primary's new
    // subscription is confirmed and the replica has caught up with it.
    // (The sentinels' own hello subscriptions are pub/sub clients too, without patterns.)
    std::istringstream clients(primary.command({"CLIENT", "LIST", "TYPE", "pubsub"}).data);
    std::int64_t killed = 0;
    for (std::string line; std::getline(clients, line);) {
        if (line.find(" psub=0 ") != std::string::npos) continue;
        const auto id = line.substr(3, line.find(' ') - 3);  // "id=N ..."
        killed += primary.command({"CLIENT", "KILL", "ID", id}).integer;
    }
    ASSERT_EQ(killed, 1);
    ASSERT_TRUE(wait_until(
        [&] {
            return primary.command({"PUBSUB", "NUMPAT"}).integer >= 1;
        },
        10s));
    ASSERT_TRUE(bench_wrote(primary, 2000));
    bench.signal(SIGINT);
    const auto r = bench.wait(60s);
    ASSERT_EQ(r.status, 130) << describe(r);
    const auto j = parse_report(r);
    const auto& t = j.at("total");
    EXPECT_EQ(u(t, "lost"), 0u) << j.dump(2);
    EXPECT_TRUE(j.at("gaps").empty()) << j.at("gaps").dump(2);
    EXPECT_EQ(u(t, "duplicated"), 0u) << j.at("nodes").dump();
    // The overlap's second copies are marked, and counted apart (as in the cluster test).
    EXPECT_GT(u(t, "redelivered"), 0u) << j.dump(2);
    EXPECT_EQ(j.at("redirects").at("switches"), 0);
    std::cout << "bench, sentinel CLIENT KILL with --redundancy replica: received "
              << u(t, "received") << ", lost " << u(t, "lost") << ", redelivered "
              << u(t, "redelivered") << ", duplicated " << u(t, "duplicated") << "\n";
}

enum class failover_kind { manual, crash };

/// A Sentinel run in which the primary fails over (SENTINEL FAILOVER, or kill -9) once ksn
/// bench has written to it; returns the report, and checks what every such run shows.
json sentinel_failover_run(failover_kind kind) {
    redis_sentinel_set s;
    auto& old_primary = s.primary_at_start();
    auto& heir = s.replica_at_start();
    const auto old_name = old_primary.address();
    // As in the cluster failover test: the run lasts until the test has seen what it
    // checks, then is interrupted; the drain (which never settles while writes lost in a
    // gap stay missing) is scaled.
    ksn_process bench(sentinel_bench(
        s, {"--rate", "2000", "--duration", "120", "--drain", scaled_seconds(3), "--json", "-q"}));
    if (!bench_writing(old_primary, 15s) || !bench_wrote(old_primary, 1000)) {
        ADD_FAILURE() << "ksn bench did not write to the primary";
        return {};
    }
    if (kind == failover_kind::manual) {
        s.failover();
    } else {
        old_primary.kill9();
    }
    EXPECT_EQ(s.wait_primary_changed(old_primary.port()), heir.port());
    // ksn bench's notifier subscribes the new primary (its one pattern), and the writers
    // go on there.
    EXPECT_TRUE(wait_until(
        [&] {
            try {
                return heir.command({"PUBSUB", "NUMPAT"}).integer >= 1;
            } catch (const std::exception&) {
                return false;
            }
        },
        20s, 50ms));
    EXPECT_TRUE(bench_wrote(heir, 1000));
    // A live old primary is made a replica (the sentinels cut its clients then): what
    // that costs is reported before the run ends. A dead one is given up once connecting
    // to it is refused, within the drain.
    if (kind == failover_kind::manual) s.wait_replica_of(old_primary.port(), heir.port());
    bench.signal(SIGINT);
    const auto r = bench.wait(60s);
    EXPECT_EQ(r.status, 130) << describe(r);
    if (r.status != 130) return {};
    const auto j = parse_report(r);
    const auto& t = j.at("total");
    EXPECT_EQ(u(t, "lost_in_gaps"), u(t, "lost")) << j.dump(2);
    EXPECT_EQ(u(t, "out_of_order"), 0u);
    EXPECT_EQ(j.at("redirects").at("switches"), 1) << j.at("redirects").dump();
    // Both primaries took writes, and delivered their notifications.
    std::map<std::string, json> nodes;
    for (const auto& n : j.at("nodes"))
        nodes[n.at("node").get<std::string>()] = n;
    EXPECT_EQ(nodes.size(), 2u) << j.at("nodes").dump(2);
    EXPECT_GT(u(nodes[old_name], "received"), 0u) << j.at("nodes").dump(2);
    EXPECT_GT(u(nodes[heir.address()], "received"), 0u) << j.at("nodes").dump(2);
    EXPECT_GT(u(nodes[heir.address()], "writes_acked"), 0u) << j.at("nodes").dump(2);
    // The new primary reports the switch as a standalone gap: no slots.
    std::size_t switch_gaps = 0;
    for (const auto& g : j.at("gaps")) {
        if (g.at("node") != heir.address() || g.at("reason") != "topology_change") continue;
        ++switch_gaps;
        EXPECT_TRUE(g.at("slots").empty()) << g.dump();
        EXPECT_TRUE(g.at("restored_s").is_number()) << g.dump();
        EXPECT_NE(g.at("detail").get<std::string>().find("moved from " + old_name),
                  std::string::npos)
            << g.dump();
    }
    EXPECT_EQ(switch_gaps, 1u) << j.at("gaps").dump(2);
    return j;
}

TEST(BenchCli, SentinelManualFailoverMidRunLosesNothingOutsideItsGaps) {
    const auto j = sentinel_failover_run(failover_kind::manual);
    ASSERT_FALSE(j.is_null());
    // The writers moved before the old primary was demoted: nothing failed.
    EXPECT_EQ(u(j.at("total"), "writes_failed"), 0u) << j.at("first_error");
}

TEST(BenchCli, SentinelCrashMidRunLosesNothingOutsideItsGaps) {
    const auto j = sentinel_failover_run(failover_kind::crash);
    ASSERT_FALSE(j.is_null());
    // The dead primary's connection gap is reported when it is given up.
    bool old_gap = false;
    for (const auto& g : j.at("gaps"))
        old_gap =
            old_gap || (g.at("reason") == "connection_lost" &&
                        g.at("detail").get<std::string>().find("it is gone") != std::string::npos);
    EXPECT_TRUE(old_gap) << j.at("gaps").dump(2);
}

}  // namespace
}  // namespace ksn::test
