// `ksn parse`'s decoder: subscriber byte streams (RESP2 and RESP3, with handshake
// replies, confirmations and other replies in between) fed whole, byte by byte and split
// at every point and at random points must all give the same notifications.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/unit/tools/resp_frames.hpp"
#include "tools/stream_decoder.hpp"

namespace ksn::tools {
namespace {

using namespace std::string_literals;

using test::bulk;
using test::frame;

std::string confirmation(char type, std::string_view kind, std::string_view channel, int count) {
    return type + "3\r\n"s + bulk(kind) + bulk(channel) + ":" + std::to_string(count) + "\r\n";
}

/// Records what the decoder reports as one line per event.
struct recorder : stream_decoder::sink {
    void notification(const key_notification& n) override {
        std::string line = std::string(to_string(n.kind())) + " " + std::to_string(n.db()) + " " +
                           std::string(n.key()) + " " + std::string(n.event());
        for (const auto s : n.subkeys())
            line += " " + std::string(s);
        log.push_back(line);
    }
    void invalid(std::string_view channel, std::string_view, const parse_result& r) override {
        log.push_back("invalid " + std::string(channel) + " " + r.error_code().message());
    }
    std::vector<std::string> log;
};

struct outcome {
    std::vector<std::string> log;
    bool ok = true;
    std::uint64_t error_offset = 0;
    std::uint64_t pending = 0;  // meaningful only when ok
    stream_decoder::counters stats;
};

/// Decodes `input` cut at `cuts` (ascending offsets).
outcome decode(std::string_view input, const std::vector<std::size_t>& cuts,
               std::string prefix = {}) {
    stream_decoder d(std::move(prefix));
    recorder r;
    outcome out;
    std::size_t at = 0;
    for (std::size_t i = 0; i <= cuts.size() && out.ok; ++i) {
        const std::size_t end = i < cuts.size() ? cuts[i] : input.size();
        // Each chunk is a fresh copy, so nothing may keep a view into an old one.
        const std::string chunk(input.substr(at, end - at));
        out.ok = d.feed(chunk, r);
        at = end;
    }
    out.log = r.log;
    out.error_offset = d.error_offset();
    out.pending = d.pending();
    out.stats = d.stats();
    EXPECT_EQ(!out.ok, static_cast<bool>(d.error()));
    return out;
}

/// Checks that every way of splitting `input` gives the same outcome as the whole.
outcome decode_all_splits(std::string_view input, std::string prefix = {}) {
    const outcome whole = decode(input, {}, prefix);
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < input.size(); ++i)
        bytes.push_back(i);
    const auto check = [&](const outcome& o, const std::string& how) {
        EXPECT_EQ(o.log, whole.log) << how;
        EXPECT_EQ(o.ok, whole.ok) << how;
        EXPECT_EQ(o.error_offset, whole.error_offset) << how;
        if (whole.ok) {
            EXPECT_EQ(o.pending, whole.pending) << how;
        }
    };
    check(decode(input, bytes, prefix), "byte by byte");
    for (std::size_t i = 1; i < input.size(); ++i)
        check(decode(input, {i}, prefix), "split at " + std::to_string(i));
    std::mt19937 rng(42);
    for (int round = 0; round < 50; ++round) {
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < input.size(); ++i) {
            if (rng() % 7 == 0) cuts.push_back(i);
        }
        check(decode(input, cuts, prefix), "random round " + std::to_string(round));
    }
    return whole;
}

TEST(StreamDecoder, Resp2WithAuthConfirmationsAndReplies) {
    std::string s = "+OK\r\n";  // AUTH
    s += confirmation('*', "psubscribe", "__keyspace@0__:*", 1);
    s += confirmation('*', "subscribe", "__keyevent@0__:del", 2);
    s += frame('*', {"pmessage", "__keyspace@0__:*", "__keyspace@0__:user:1", "set"});
    s += frame('*', {"message", "__keyevent@0__:del", "user:1"});
    s += frame('*', {"pong", ""});                         // PING while subscribed
    s += "-ERR unknown command\r\n";                       // an error reply
    s += frame('*', {"message", "news", "hello"});         // not a notification
    s += frame('*', {"message", "__keyspace@0__:k", ""});  // empty event: invalid
    s += frame('*', {"message", "__keyspace@0__:bin\0\n\xff"s, "set"});
    s += confirmation('*', "unsubscribe", "__keyevent@0__:del", 1);
    const auto o = decode_all_splits(s);
    EXPECT_TRUE(o.ok);
    EXPECT_EQ(o.pending, 0u);
    EXPECT_EQ(o.log, (std::vector<std::string>{
                         "keyspace 0 user:1 set",
                         "keyevent 0 user:1 del",
                         "invalid __keyspace@0__:k empty event name",
                         "keyspace 0 bin\0\n\xff set"s,
                     }));
    EXPECT_EQ(o.stats.notifications, 3u);
    EXPECT_EQ(o.stats.invalid, 1u);
    EXPECT_EQ(o.stats.other_messages, 1u);
    EXPECT_EQ(o.stats.confirmations, 4u);
    EXPECT_EQ(o.stats.replies, 2u);
}

TEST(StreamDecoder, Resp3WithHelloPushesAndLookalikeReplies) {
    // HELLO 3's reply is a map; RESP3 attributes may precede a reply.
    std::string s = "%2\r\n" + bulk("server") + bulk("redis") + bulk("proto") + ":3\r\n";
    s += confirmation('>', "psubscribe", "__key*@0__:*", 1);
    s += frame('>', {"pmessage", "__key*@0__:*", "__keyevent@0__:expired", "session:9"});
    // On RESP3, an array shaped like a message is a command reply (LRANGE ...).
    s += frame('*', {"message", "__keyevent@0__:del", "not-a-notification"});
    s += "|1\r\n+key-popularity\r\n%0\r\n:5\r\n";  // an attribute, then a reply
    s += frame('>', {"invalidate", "x"});          // another kind of push
    s += frame('>', {"message", "__subkeyspace@2__:h", "hset|1:a,2:bc"});
    s += ",3.5\r\n#t\r\n_\r\n";
    const auto o = decode_all_splits(s);
    EXPECT_TRUE(o.ok);
    EXPECT_EQ(o.log, (std::vector<std::string>{"keyevent 0 session:9 expired",
                                               "subkeyspace 2 h hset a bc"}));
    EXPECT_EQ(o.stats.replies, 7u);  // map, lookalike, attribute+int, push, double, bool, null
}

TEST(StreamDecoder, ManySubkeys) {
    std::string payload = "hset|";
    std::string expected = "subkeyspace 0 h hset";
    for (int i = 0; i < 40; ++i) {
        const std::string f = "f" + std::to_string(i);
        payload += (i > 0 ? "," : "") + std::to_string(f.size()) + ":" + f;
        expected += " " + f;
    }
    const auto o = decode(frame('*', {"message", "__subkeyspace@0__:h", payload}), {});
    EXPECT_EQ(o.log, std::vector<std::string>{expected});
}

TEST(StreamDecoder, KeyPrefixFilters) {
    std::string s = frame('*', {"message", "__keyspace@0__:app:k", "set"});
    s += frame('*', {"message", "__keyspace@0__:other", "set"});
    s += frame('*', {"message", "__keyevent@0__:del", "app:j"});
    const auto o = decode_all_splits(s, "app:");
    EXPECT_EQ(o.log, (std::vector<std::string>{"keyspace 0 k set", "keyevent 0 j del"}));
    EXPECT_EQ(o.stats.filtered, 1u);
}

TEST(StreamDecoder, ProtocolErrorStopsWithItsOffset) {
    const std::string good = frame('*', {"message", "__keyspace@0__:a", "set"});
    // A message whose bulk data is not followed by CRLF: the byte after "xy" is wrong.
    const std::string bad = "*3\r\n$7\r\nmessage\r\n$3\r\nabc\r\n$2\r\nxyz\r\n";
    const auto o = decode_all_splits(good + bad + good);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error_offset, good.size() + bad.find("xyz") + 2);
    EXPECT_EQ(o.log, std::vector<std::string>{"keyspace 0 a set"});

    const auto garbage = decode_all_splits(good + "?what\r\n");
    EXPECT_FALSE(garbage.ok);
    EXPECT_EQ(garbage.error_offset, good.size());
}

TEST(StreamDecoder, ErrorIsSticky) {
    stream_decoder d;
    recorder r;
    EXPECT_FALSE(d.feed("?", r));
    EXPECT_FALSE(d.feed(frame('*', {"message", "__keyspace@0__:a", "set"}), r));
    EXPECT_TRUE(r.log.empty());
    EXPECT_EQ(d.error_offset(), 0u);
}

TEST(StreamDecoder, TruncatedInputIsPending) {
    const std::string s = frame('*', {"message", "__keyspace@0__:a", "set"});
    const auto o = decode(s.substr(0, s.size() - 3), {5});
    EXPECT_TRUE(o.ok);
    EXPECT_TRUE(o.log.empty());
    EXPECT_EQ(o.pending, s.size() - 3);
    // Inside a generic value, the bytes the reader already took count too.
    const auto v = decode("*2\r\n:1\r\n", {3});
    EXPECT_TRUE(v.ok);
    EXPECT_EQ(v.pending, 8u);
    EXPECT_EQ(decode("", {}).pending, 0u);
}

}  // namespace
}  // namespace ksn::tools
