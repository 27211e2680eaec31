// Slots, CLUSTER SLOTS / SHARDS parsing and topology diffs, from RESP bytes as the server
// writes them.
#include <gtest/gtest.h>

#include <string>

#include "cluster/slot.hpp"
#include "cluster/topology.hpp"
#include "net/error.hpp"
#include "protocol/value.hpp"

namespace ksn::cluster {
namespace {

protocol::value parse(const std::string& resp) {
    protocol::value_reader reader;
    protocol::value v;
    const auto r = reader.read(resp, v);
    EXPECT_EQ(r.status, protocol::parse_status::complete);
    EXPECT_EQ(r.consumed, resp.size());
    return v;
}

std::string bulk(const std::string& s) {
    return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}
std::string integer(long v) {
    return ":" + std::to_string(v) + "\r\n";
}

const std::string id_a(40, 'a'), id_b(40, 'b'), id_c(40, 'c'), id_d(40, 'd');

// A CLUSTER SLOTS entry with one replica; `meta` is the Redis 7 metadata element.
std::string slots_entry(int first, int last, const std::string& host_a, int port_a,
                        const std::string& id1, int port_b, const std::string& id2,
                        const std::string& meta) {
    return "*4\r\n" + integer(first) + integer(last) + "*4\r\n" + bulk(host_a) + integer(port_a) +
           bulk(id1) + meta + "*4\r\n" + bulk("127.0.0.1") + integer(port_b) + bulk(id2) + meta;
}

TEST(Slot, Crc16MatchesTheClusterSpec) {
    EXPECT_EQ(crc16("123456789"), 0x31C3);
    EXPECT_EQ(key_slot("foo"), 12182);
    EXPECT_EQ(key_slot("somekey"), 11058);
    EXPECT_EQ(key_slot("foo{hash_tag}"), 2515);
    EXPECT_EQ(key_slot("bar{hash_tag}"), 2515);
}

TEST(Slot, HashTags) {
    EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
    EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
    EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty tag: the whole key
    EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");
    EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");
    EXPECT_EQ(hash_tag("no tag"), "no tag");
    EXPECT_EQ(hash_tag("{unclosed"), "{unclosed");
    EXPECT_EQ(hash_tag(std::string("\0{x}", 4)), "x");
}

TEST(Topology, ClusterSlotsResp3WithMetadataAndUnknownHost) {
    // Redis 7: [start, end, [host, port, id, {metadata}], replicas...]; "?" is "the node
    // you asked".
    const std::string meta3 = "%1\r\n" + bulk("hostname") + bulk("node-a");
    const std::string reply = "*3\r\n" + slots_entry(0, 5460, "?", 7000, id_a, 7003, id_d, meta3) +
                              slots_entry(5461, 10922, "127.0.0.1", 7001, id_b, 7004, id_d, meta3) +
                              slots_entry(10923, 16383, "", 7002, id_c, 7005, id_d, meta3);
    std::string error;
    const auto t = parse_cluster_slots(parse(reply), {"10.1.2.3", 7000}, error);
    ASSERT_TRUE(t) << error;
    ASSERT_EQ(t->shards().size(), 3u);
    EXPECT_TRUE(t->complete());
    EXPECT_EQ(t->shards()[0].primary.address.host, "10.1.2.3");
    EXPECT_EQ(t->shards()[0].primary.id, id_a);
    EXPECT_EQ(t->shards()[1].primary.address.to_string(), "127.0.0.1:7001");
    EXPECT_EQ(t->shards()[2].primary.address.host, "10.1.2.3");
    EXPECT_EQ(t->owner(0)->primary.address.port, 7000);
    EXPECT_EQ(t->owner(12182)->primary.address.port, 7002);
    ASSERT_EQ(t->shards()[0].replicas.size(), 1u);
    EXPECT_EQ(t->shards()[0].replicas[0].address.port, 7003);
}

TEST(Topology, ClusterSlotsResp2AndSplitRangesOfOnePrimary) {
    const std::string meta2 = "*0\r\n";
    const std::string reply = "*3\r\n" +
                              slots_entry(0, 99, "127.0.0.1", 7000, id_a, 7003, id_d, meta2) +
                              slots_entry(100, 16283, "127.0.0.1", 7001, id_b, 7004, id_d, meta2) +
                              slots_entry(16284, 16383, "127.0.0.1", 7000, id_a, 7003, id_d, meta2);
    std::string error;
    const auto t = parse_cluster_slots(parse(reply), {"127.0.0.1", 7000}, error);
    ASSERT_TRUE(t) << error;
    ASSERT_EQ(t->shards().size(), 2u);  // grouped by primary
    const auto& a = *t->owner(0);
    ASSERT_EQ(a.slots.size(), 2u);
    EXPECT_EQ(a.slots[0], (slot_range{0, 99}));
    EXPECT_EQ(a.slots[1], (slot_range{16284, 16383}));
    EXPECT_EQ(t->owner(16300), &a);
    EXPECT_EQ(t->endpoints().size(), 4u);  // two primaries and their replicas
}

TEST(Topology, OlderServersWithoutIdsAndIncompleteCoverage) {
    const std::string reply =
        "*1\r\n*3\r\n" + integer(0) + integer(100) + "*2\r\n" + bulk("127.0.0.1") + integer(7000);
    std::string error;
    const auto t = parse_cluster_slots(parse(reply), {"127.0.0.1", 7000}, error);
    ASSERT_TRUE(t) << error;
    EXPECT_TRUE(t->shards()[0].primary.id.empty());
    EXPECT_FALSE(t->complete());
    EXPECT_EQ(t->owner(101), nullptr);
}

TEST(Topology, MalformedRepliesAreErrors) {
    std::string error;
    const net::endpoint asked{"127.0.0.1", 7000};
    EXPECT_FALSE(parse_cluster_slots(parse("-ERR This instance has cluster support disabled\r\n"),
                                     asked, error));
    EXPECT_NE(error.find("cluster support disabled"), std::string::npos);
    EXPECT_FALSE(parse_cluster_slots(parse("*1\r\n*2\r\n:0\r\n:1\r\n"), asked, error));
    EXPECT_FALSE(parse_cluster_slots(parse("*1\r\n*3\r\n:5\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n"),
                                     asked, error));  // last < first
    EXPECT_FALSE(parse_cluster_slots(parse("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n"),
                                     asked, error));
    EXPECT_FALSE(parse_cluster_slots(parse("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:70000\r\n"),
                                     asked, error));  // port
}

TEST(Topology, SignatureChangesOnlyWithTheAssignment) {
    const std::string meta2 = "*0\r\n";
    const auto make = [&](int split) {
        const std::string reply =
            "*2\r\n" + slots_entry(0, split, "127.0.0.1", 7000, id_a, 7003, id_d, meta2) +
            slots_entry(split + 1, 16383, "127.0.0.1", 7001, id_b, 7004, id_d, meta2);
        std::string error;
        return *parse_cluster_slots(parse(reply), {"127.0.0.1", 7000}, error);
    };
    EXPECT_EQ(make(8000).signature(), make(8000).signature());
    EXPECT_NE(make(8000).signature(), make(8001).signature());
}

TEST(Topology, DiffOfAFailover) {
    const std::string meta2 = "*0\r\n";
    std::string error;
    const auto before = *parse_cluster_slots(
        parse("*1\r\n" + slots_entry(0, 16383, "127.0.0.1", 7000, id_a, 7003, id_d, meta2)),
        {"127.0.0.1", 7000}, error);
    // The replica on 7003 is promoted; 7000 became its replica.
    const std::string after_reply = "*1\r\n*4\r\n" + integer(0) + integer(16383) + "*3\r\n" +
                                    bulk("127.0.0.1") + integer(7003) + bulk(id_d) + "*3\r\n" +
                                    bulk("127.0.0.1") + integer(7000) + bulk(id_a);
    const auto after = *parse_cluster_slots(parse(after_reply), {"127.0.0.1", 7000}, error);
    const auto d = diff(before, after);
    ASSERT_EQ(d.added.size(), 1u);
    EXPECT_EQ(d.added[0].address.port, 7003);
    ASSERT_EQ(d.promoted.size(), 1u);
    ASSERT_EQ(d.removed.size(), 1u);
    EXPECT_EQ(d.removed[0].address.port, 7000);
    ASSERT_EQ(d.demoted.size(), 1u);
    ASSERT_EQ(d.moved.size(), 1u);
    EXPECT_EQ(d.moved[0].range, (slot_range{0, 16383}));
    EXPECT_EQ(d.moved[0].from, "127.0.0.1:7000");
    EXPECT_EQ(d.moved[0].to, "127.0.0.1:7003");
    EXPECT_TRUE(diff(after, after).empty());
}

TEST(Topology, DiffOfAReshard) {
    const std::string meta2 = "*0\r\n";
    std::string error;
    const auto make = [&](int split) {
        return *parse_cluster_slots(
            parse("*2\r\n" + slots_entry(0, split, "127.0.0.1", 7000, id_a, 7003, id_d, meta2) +
                  slots_entry(split + 1, 16383, "127.0.0.1", 7001, id_b, 7004, id_d, meta2)),
            {"127.0.0.1", 7000}, error);
    };
    const auto d = diff(make(8000), make(7900));
    EXPECT_TRUE(d.added.empty());
    EXPECT_TRUE(d.removed.empty());
    ASSERT_EQ(d.moved.size(), 1u);
    EXPECT_EQ(d.moved[0].range, (slot_range{7901, 8000}));
    EXPECT_EQ(d.moved[0].to, "127.0.0.1:7001");
}

TEST(Topology, ClusterShardsResp2FlatMaps) {
    // [ [slots, [0, 16383], nodes, [ [id, .., port, .., ip, .., endpoint, .., role, ..,
    //   health, ..], ... ]] ]
    const auto node = [](const std::string& id, int port, const std::string& endpoint,
                         const std::string& role, const std::string& health) {
        return "*12\r\n" + bulk("id") + bulk(id) + bulk("port") + integer(port) + bulk("ip") +
               bulk("127.0.0.1") + bulk("endpoint") + bulk(endpoint) + bulk("role") + bulk(role) +
               bulk("health") + bulk(health);
    };
    const std::string reply = "*1\r\n*4\r\n" + bulk("slots") + "*2\r\n" + integer(0) +
                              integer(16383) + bulk("nodes") + "*3\r\n" +
                              node(id_a, 7000, "?", "master", "online") +
                              node(id_b, 7001, "127.0.0.1", "replica", "online") +
                              node(id_c, 7002, "127.0.0.1", "replica", "fail");
    std::string error;
    const auto t = parse_cluster_shards(parse(reply), {"10.0.0.9", 7000}, error);
    ASSERT_TRUE(t) << error;
    ASSERT_EQ(t->shards().size(), 1u);
    EXPECT_EQ(t->shards()[0].primary.address.to_string(), "10.0.0.9:7000");
    ASSERT_EQ(t->shards()[0].replicas.size(), 1u);  // the failed one is left out
    EXPECT_EQ(t->shards()[0].replicas[0].id, id_b);
    EXPECT_TRUE(t->complete());
}

TEST(Topology, ClusterShardsResp3Maps) {
    const std::string reply =
        "*1\r\n%2\r\n" + bulk("slots") + "*2\r\n" + integer(0) + integer(16383) + bulk("nodes") +
        "*1\r\n%5\r\n" + bulk("id") + bulk(id_a) + bulk("port") + integer(7000) + bulk("ip") +
        bulk("127.0.0.1") + bulk("role") + bulk("master") + bulk("health") + bulk("online");
    std::string error;
    const auto t = parse_cluster_shards(parse(reply), {"127.0.0.1", 7000}, error);
    ASSERT_TRUE(t) << error;
    EXPECT_EQ(t->shards()[0].primary.id, id_a);
}

namespace {

// A RESP3 CLUSTER SHARDS shard: `slots` as [first, last, ...], nodes as maps of id, port
// (and tls-port when given), ip, role and health.
struct shard_node {
    std::string id;
    int port = 0;
    int tls_port = 0;
    std::string role;
    std::string health = "online";
};

std::string shards_entry(const std::vector<int>& slots, const std::vector<shard_node>& nodes) {
    std::string out = "%2\r\n" + bulk("slots") + "*" + std::to_string(slots.size()) + "\r\n";
    for (const int s : slots)
        out += integer(s);
    out += bulk("nodes") + "*" + std::to_string(nodes.size()) + "\r\n";
    for (const auto& n : nodes) {
        const int fields = 4 + (n.port ? 1 : 0) + (n.tls_port ? 1 : 0);
        out += "%" + std::to_string(fields) + "\r\n" + bulk("id") + bulk(n.id) + bulk("ip") +
               bulk("127.0.0.1") + bulk("role") + bulk(n.role) + bulk("health") + bulk(n.health);
        if (n.port) out += bulk("port") + integer(n.port);
        if (n.tls_port) out += bulk("tls-port") + integer(n.tls_port);
    }
    return out;
}

}  // namespace

TEST(Topology, ClusterShardsListsAnOnlinePrimaryWithoutSlotsAsASpare) {
    // 7003 was just added (no slot yet); 7004 is a primary failed over while down: the
    // cluster marks it failed and its slots went to its replica.
    const std::string reply = "*3\r\n" + shards_entry({0, 16383}, {{id_a, 7000, 0, "master"}}) +
                              shards_entry({}, {{id_b, 7003, 0, "master"}}) +
                              shards_entry({}, {{id_c, 7004, 0, "master", "fail"}});
    std::string error;
    const auto t = parse_cluster_shards(parse(reply), {"127.0.0.1", 7000}, error);
    ASSERT_TRUE(t) << error;
    ASSERT_EQ(t->shards().size(), 1u);
    ASSERT_EQ(t->spares().size(), 1u);
    EXPECT_EQ(t->spares()[0].address.to_string(), "127.0.0.1:7003");
    EXPECT_EQ(t->spares()[0].id, id_b);
    const auto endpoints = t->endpoints();
    ASSERT_EQ(endpoints.size(), 2u);
    EXPECT_EQ(endpoints[1].port, 7003);

    // A spare is part of the signature: its arrival (and its departure) is a change.
    const auto without = parse_cluster_shards(
        parse("*1\r\n" + shards_entry({0, 16383}, {{id_a, 7000, 0, "master"}})),
        {"127.0.0.1", 7000}, error);
    ASSERT_TRUE(without) << error;
    EXPECT_TRUE(without->spares().empty());
    EXPECT_NE(without->signature(), t->signature());
    // Not a primary that serves slots: a diff names no addition, no move.
    EXPECT_TRUE(diff(*without, *t).empty());
}

TEST(Topology, ClusterShardsGivesTheTlsPortToATlsClient) {
    // tls-cluster yes: a node lists its TLS port, and its plain one only when it has one.
    const std::string reply = "*1\r\n" + shards_entry({0, 16383}, {{id_a, 7000, 17000, "master"},
                                                                   {id_b, 0, 17001, "replica"}});
    std::string error;
    const auto tls = parse_cluster_shards(parse(reply), {"127.0.0.1", 17000}, error, true);
    ASSERT_TRUE(tls) << error;
    EXPECT_EQ(tls->shards()[0].primary.address.port, 17000);
    ASSERT_EQ(tls->shards()[0].replicas.size(), 1u);
    EXPECT_EQ(tls->shards()[0].replicas[0].address.port, 17001);
    // Without TLS the plain port; a node without one cannot be reached: an error.
    const auto plain = parse_cluster_shards(parse(reply), {"127.0.0.1", 7000}, error);
    EXPECT_FALSE(plain);
    EXPECT_EQ(error, "CLUSTER SHARDS node lacks port or role");
}

TEST(RetireReason, LetsAFormerPrimaryGoOnlyOnceItSaysSoOrIsGone) {
    const std::string mine = "e7d1 127.0.0.1:30001@40001 myself,";
    EXPECT_EQ(retire_reason({}, mine + "slave 07c3 0 0 4 connected\n"), "it is a replica now");
    EXPECT_EQ(retire_reason({}, mine + "master - 0 0 1 connected\n"), "it serves no slot");
    EXPECT_EQ(retire_reason({}, mine + "master - 0 0 1 connected 0-5460\n"), "");
    EXPECT_EQ(retire_reason({}, "garbage"), "");
    EXPECT_EQ(retire_reason(make_error_code(net::errc::connect_failed), ""),
              "it is gone (connection refused)");
    // Stalled (the kernel accepts, nothing answers), or an error reply: kept.
    EXPECT_EQ(retire_reason(make_error_code(net::errc::connect_timeout), ""), "");
    EXPECT_EQ(retire_reason(make_error_code(net::errc::server_error), "ERR"), "");
}

TEST(ParseMyself, ReadsTheNodesOwnRoleAndSlots) {
    const std::string primary =
        "07c3 127.0.0.1:30004@40004 master - 0 1700000000000 4 connected\r\n"
        "e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 6000\r\n";
    auto v = parse_myself(primary);
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->primary);
    EXPECT_TRUE(v->serves_slots);
    // Demoted: a replica of the node that took over.
    v = parse_myself("e7d1 127.0.0.1:30001@40001 myself,slave 07c3 0 0 4 connected\n");
    ASSERT_TRUE(v);
    EXPECT_FALSE(v->primary);
    EXPECT_FALSE(v->serves_slots);
    // A primary whose slots all moved away (scale in), or that only imports one.
    v = parse_myself("e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected\n");
    ASSERT_TRUE(v && v->primary);
    EXPECT_FALSE(v->serves_slots);
    v = parse_myself("e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected [100-<-07c3]\n");
    ASSERT_TRUE(v);
    EXPECT_FALSE(v->serves_slots);
    // No myself line, or a short one.
    EXPECT_FALSE(parse_myself("07c3 127.0.0.1:30004@40004 master - 0 0 4 connected 1-2\n"));
    EXPECT_FALSE(parse_myself("e7d1 127.0.0.1:30001@40001 myself,master -\n"));
    EXPECT_FALSE(parse_myself(""));
}

}  // namespace
}  // namespace ksn::cluster
