// The slot router: strict MOVED / ASK parsing (every malformed form rejected, the forms
// Redis 7 sends accepted), the classification of error replies, and the slot table after
// a topology, a MOVED, an ASK and a refresh.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "cluster/router.hpp"
#include "cluster/slot.hpp"
#include "cluster/topology.hpp"

namespace ksn::cluster {
namespace {

net::endpoint at(std::uint16_t port, std::string host = "127.0.0.1") {
    return net::endpoint{std::move(host), port};
}

shard make_shard(std::uint16_t first, std::uint16_t last, std::uint16_t port) {
    shard s;
    s.slots = {slot_range{first, last}};
    s.primary.address = at(port);
    s.replicas = {node_info{{}, at(static_cast<std::uint16_t>(port + 100))}};
    return s;
}

/// Three primaries: 0-5460 on 7001, 5461-10922 on 7002, 10923-16383 on 7003.
topology three_shards() {
    return topology(
        {make_shard(0, 5460, 7001), make_shard(5461, 10922, 7002), make_shard(10923, 16383, 7003)});
}

// --- parse_redirect ---------------------------------------------------------------------

TEST(ParseRedirect, MovedAsRedisSendsIt) {
    const auto r = parse_redirect("MOVED 3999 127.0.0.1:6381");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, redirect_kind::moved);
    EXPECT_EQ(r->slot, 3999);
    EXPECT_EQ(r->host, "127.0.0.1");
    EXPECT_EQ(r->port, 6381);
}

TEST(ParseRedirect, AskAsRedisSendsIt) {
    const auto r = parse_redirect("ASK 12182 10.0.0.7:7002");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, redirect_kind::ask);
    EXPECT_EQ(r->slot, 12182);
    EXPECT_EQ(r->host, "10.0.0.7");
    EXPECT_EQ(r->port, 7002);
}

TEST(ParseRedirect, SlotAndPortBounds) {
    const auto lo = parse_redirect("MOVED 0 h:1");
    ASSERT_TRUE(lo);
    EXPECT_EQ(lo->slot, 0);
    EXPECT_EQ(lo->port, 1);
    const auto hi = parse_redirect("MOVED 16383 h:65535");
    ASSERT_TRUE(hi);
    EXPECT_EQ(hi->slot, 16383);
    EXPECT_EQ(hi->port, 65535);
}

TEST(ParseRedirect, Ipv6AsRedisSendsItAndBracketed) {
    // Redis prints the node's IP as it is ("%s:%d"): no brackets around IPv6.
    const auto bare = parse_redirect("MOVED 1 ::1:7001");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->host, "::1");
    EXPECT_EQ(bare->port, 7001);
    const auto full = parse_redirect("ASK 2 2001:db8::17:6379");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->host, "2001:db8::17");
    EXPECT_EQ(full->port, 6379);
    const auto bracketed = parse_redirect("MOVED 1 [::1]:7001");
    ASSERT_TRUE(bracketed);
    EXPECT_EQ(bracketed->host, "::1");
    EXPECT_EQ(bracketed->port, 7001);
    EXPECT_EQ(bracketed->target(at(1)), at(7001, "::1"));
}

TEST(ParseRedirect, HostnameEndpoint) {
    const auto r = parse_redirect("MOVED 5 node-3.cache.internal:6379");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->host, "node-3.cache.internal");
}

TEST(ParseRedirect, EmptyOrUnknownHostMeansTheNodeThatAnswered) {
    // cluster-preferred-endpoint-type unknown-endpoint: "MOVED 3999 :7002"; hostname with
    // no hostname set: "?".
    const auto empty = parse_redirect("MOVED 3999 :7002");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->host, "");
    EXPECT_EQ(empty->target(at(7001, "10.1.2.3")), at(7002, "10.1.2.3"));
    const auto unknown = parse_redirect("ASK 3999 ?:7002");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->target(at(7001, "10.1.2.3")), at(7002, "10.1.2.3"));
    // A named host is taken as it is.
    EXPECT_EQ(parse_redirect("MOVED 1 h:2")->target(at(7001, "10.1.2.3")), at(2, "h"));
}

TEST(ParseRedirect, LeadingZerosAreDecimal) {
    const auto r = parse_redirect("MOVED 0039 h:0080");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->slot, 39);
    EXPECT_EQ(r->port, 80);
}

TEST(ParseRedirect, EveryMalformedFormIsRejected) {
    const std::vector<std::string> bad = {
        // the slot
        "MOVED 39x9 h:1",
        "MOVED -1 h:1",
        "MOVED +1 h:1",
        "MOVED 16384 h:1",
        "MOVED 99999999999999999999 h:1",
        "MOVED 1.5 h:1",
        "MOVED 0x10 h:1",
        "MOVED  1 h:1",
        "MOVED x h:1",
        // the port
        "MOVED 1 h:99999",
        "MOVED 1 h:65536",
        "MOVED 1 h:0",
        "MOVED 1 h:",
        "MOVED 1 h:-1",
        "MOVED 1 h:+1",
        "MOVED 1 h:1x",
        "MOVED 1 h",
        "MOVED 1 h:99999999999999999999",
        // missing fields
        "MOVED 1",
        "MOVED 1 ",
        "MOVED",
        "MOVED ",
        "ASK",
        "ASK 1",
        "",
        // separators and trailing bytes
        "MOVED 1  h:1",
        "MOVED 1 h:1 ",
        "MOVED 1 h:1 extra",
        "MOVED 1 h:1\r\n",
        "MOVED 1 h:1\n",
        std::string("MOVED 1 h:1\0", 12),
        "MOVED\t1 h:1",
        "MOVED 1\th:1",
        " MOVED 1 h:1",
        // the word
        "moved 1 h:1",
        "MOVEDX 1 h:1",
        "MOVE 1 h:1",
        "ASKING 1 h:1",
        "ERR MOVED 1 h:1",
        // the host
        "MOVED 1 a b:1",
        std::string("MOVED 1 h\0st:1", 14),
        "MOVED 1 h\x7fst:1",
        "MOVED 1 [::1:1",
        "MOVED 1 ::1]:1",
        "MOVED 1 []:1",
        "MOVED 1 [[::1]]:1",
        "MOVED 1 a[b]:1",
    };
    for (const auto& m : bad) {
        EXPECT_FALSE(parse_redirect(m)) << "accepted: \"" << m << "\"";
        EXPECT_EQ(classify_error(m), error_class::other) << m;
    }
}

TEST(ParseRedirect, EveryTruncationOfAValidRedirectIsRejected) {
    const std::string full = "MOVED 3999 127.0.0.1:6381";
    for (std::size_t n = 0; n < full.size(); ++n) {
        const auto r = parse_redirect(std::string_view(full).substr(0, n));
        // Cutting the port short still leaves a well-formed (other) port, "127.0.0.1:638".
        if (n > full.rfind(':') + 1) {
            ASSERT_TRUE(r) << n;
            EXPECT_EQ(r->host, "127.0.0.1");
        } else {
            EXPECT_FALSE(r) << "accepted: \"" << full.substr(0, n) << "\"";
        }
    }
}

// --- classify_error ----------------------------------------------------------------------

TEST(ClassifyError, RedirectsRetriesAndOthers) {
    EXPECT_EQ(classify_error("MOVED 3999 127.0.0.1:6381"), error_class::moved);
    EXPECT_EQ(classify_error("ASK 3999 127.0.0.1:6381"), error_class::ask);
    EXPECT_EQ(classify_error("TRYAGAIN Multiple keys request during rehashing of slot"),
              error_class::retry_later);
    EXPECT_EQ(classify_error("CLUSTERDOWN The cluster is down"), error_class::retry_later);
    EXPECT_EQ(classify_error("CLUSTERDOWN Hash slot not served"), error_class::retry_later);
    EXPECT_EQ(classify_error("LOADING Redis is loading the dataset in memory"),
              error_class::retry_later);
    EXPECT_EQ(classify_error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data "
                             "is set to 'no'."),
              error_class::retry_later);
    EXPECT_EQ(classify_error("TRYAGAIN"), error_class::retry_later);
    EXPECT_EQ(classify_error("ERR unknown command 'FOO'"), error_class::other);
    EXPECT_EQ(classify_error("WRONGTYPE Operation against a key holding the wrong kind of value"),
              error_class::other);
    EXPECT_EQ(classify_error("CROSSSLOT Keys in request don't hash to the same slot"),
              error_class::other);
    EXPECT_EQ(classify_error("TRYAGAINX"), error_class::other);
    EXPECT_EQ(classify_error("LOADINGS x"), error_class::other);
    EXPECT_EQ(classify_error("loading x"), error_class::other);
    EXPECT_EQ(classify_error(""), error_class::other);
    // A malformed redirect is not followed.
    EXPECT_EQ(classify_error("MOVED 39x9 h:1"), error_class::other);
    EXPECT_EQ(classify_error("ASK 1"), error_class::other);
}

// --- router ------------------------------------------------------------------------------

TEST(Router, StandaloneServesEverySlotFromNodeZero) {
    router r(at(6379));
    EXPECT_FALSE(r.clustered());
    EXPECT_EQ(r.size(), 1u);
    EXPECT_EQ(r.node(0), at(6379));
    EXPECT_EQ(r.node_of(0), 0u);
    EXPECT_EQ(r.node_of(16383), 0u);
    EXPECT_EQ(r.node_of_key("foo"), 0u);
    // Neither a topology nor a MOVED changes a standalone table.
    r.update(three_shards());
    EXPECT_EQ(r.size(), 1u);
    const auto n = r.follow(*parse_redirect("MOVED 12182 127.0.0.1:7009"), at(6379));
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(r.node_of(12182), 0u);
}

TEST(Router, TableAfterATopology) {
    router r(three_shards());
    EXPECT_TRUE(r.clustered());
    ASSERT_EQ(r.size(), 3u);  // primaries only
    EXPECT_EQ(r.node(r.node_of(0)), at(7001));
    EXPECT_EQ(r.node(r.node_of(5460)), at(7001));
    EXPECT_EQ(r.node(r.node_of(5461)), at(7002));
    EXPECT_EQ(r.node(r.node_of(10922)), at(7002));
    EXPECT_EQ(r.node(r.node_of(10923)), at(7003));
    EXPECT_EQ(r.node(r.node_of(16383)), at(7003));
    EXPECT_EQ(r.node(r.node_of_key("foo")), at(7003));  // slot 12182
    EXPECT_EQ(r.node_of(16384), router::no_node);
    EXPECT_EQ(r.find(at(7002)), std::optional<std::uint32_t>(r.node_of(6000)));
    EXPECT_FALSE(r.find(at(7102)));  // a replica
}

TEST(Router, UnservedSlotsHaveNoNode) {
    router r(topology({make_shard(0, 99, 7001), make_shard(200, 16383, 7002)}));
    EXPECT_EQ(r.node(r.node_of(99)), at(7001));
    EXPECT_EQ(r.node_of(100), router::no_node);
    EXPECT_EQ(r.node_of(199), router::no_node);
    EXPECT_EQ(r.node(r.node_of(200)), at(7002));
}

TEST(Router, MovedUpdatesOneSlotAskNone) {
    router r(three_shards());
    const auto foo = key_slot("foo");  // 12182, on 7003
    const auto before = r.node_of(foo);

    // ASK: go to the importing node once; the table stays.
    const auto asked = r.follow(*parse_redirect("ASK 12182 127.0.0.1:7004"), at(7003));
    EXPECT_EQ(r.node(asked), at(7004));
    EXPECT_EQ(r.size(), 4u);
    EXPECT_EQ(r.node_of(foo), before);

    // MOVED: that slot only now belongs to the new node (known already: same number).
    const auto moved = r.follow(*parse_redirect("MOVED 12182 127.0.0.1:7004"), at(7003));
    EXPECT_EQ(moved, asked);
    EXPECT_EQ(r.size(), 4u);
    EXPECT_EQ(r.node_of(foo), moved);
    EXPECT_EQ(r.node(r.node_of(foo - 1)), at(7003));
    EXPECT_EQ(r.node(r.node_of(foo + 1)), at(7003));

    // MOVED to a node already known by the topology.
    const auto back = r.follow(*parse_redirect("MOVED 0 127.0.0.1:7002"), at(7001));
    EXPECT_EQ(r.node(back), at(7002));
    EXPECT_EQ(r.node_of(0), back);
    EXPECT_EQ(r.size(), 4u);

    // An empty host is the answering node's host.
    const auto same_host = r.follow(*parse_redirect("MOVED 1 :7005"), at(7001, "10.9.9.9"));
    EXPECT_EQ(r.node(same_host), at(7005, "10.9.9.9"));
    EXPECT_EQ(r.node_of(1), same_host);
}

TEST(Router, RefreshReplacesTheTableAndKeepsNumbers) {
    router r(three_shards());
    const auto n7001 = *r.find(at(7001));
    const auto n7003 = *r.find(at(7003));
    (void)r.follow(*parse_redirect("MOVED 7 127.0.0.1:7003"), at(7001));
    EXPECT_EQ(r.node_of(7), n7003);

    // A failover: 7101 (7001's replica) took over 0-5460; 7001 is gone.
    r.update(topology({make_shard(0, 5460, 7101), make_shard(5461, 10922, 7002),
                       make_shard(10923, 16383, 7003)}));
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r.node(n7001), at(7001));  // numbers never change
    const auto n7101 = *r.find(at(7101));
    EXPECT_EQ(r.node_of(0), n7101);
    EXPECT_EQ(r.node_of(7), n7101);  // the MOVED is superseded by the fresh topology
    EXPECT_EQ(r.node_of(5460), n7101);
    for (std::uint32_t s = 0; s < slot_count; ++s)
        EXPECT_NE(r.node_of(static_cast<std::uint16_t>(s)), n7001) << s;

    // A refresh that lost a range leaves it unserved.
    r.update(topology({make_shard(0, 5460, 7101), make_shard(5461, 10922, 7002)}));
    EXPECT_EQ(r.node_of(10923), router::no_node);
    EXPECT_EQ(r.node_of(16383), router::no_node);
}

TEST(Router, AddAndFind) {
    router r(three_shards());
    EXPECT_EQ(r.add(at(7002)), *r.find(at(7002)));
    const auto v6 = r.add(at(7001, "::1"));
    EXPECT_EQ(v6, 3u);
    EXPECT_EQ(r.add(at(7001, "::1")), v6);
    EXPECT_NE(r.add(at(7001, "localhost")), *r.find(at(7001)));  // by endpoint, not resolved
}

}  // namespace
}  // namespace ksn::cluster
