// Tests of the pub/sub fast path: every kind in RESP2 and RESP3, need_more on every strict
// prefix, not_pubsub on everything else, guard pages, and agreement with the generic
// parser on every input the tests know.
#include "protocol/pubsub.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "case_file.hpp"
#include "parse_driver.hpp"
#include "protocol/parser.hpp"

namespace ksn::protocol {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

std::string bulk(std::string_view s) {
    return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

struct frame_case {
    std::string name;
    std::string bytes;
    pubsub_frame expected;
};

pubsub_frame frame(pubsub_kind kind, bool push, std::string_view pattern, std::string_view channel,
                   std::string_view payload, std::int64_t count = 0, bool channel_null = false) {
    pubsub_frame f;
    f.kind = kind;
    f.push = push;
    f.pattern = pattern;
    f.channel = channel;
    f.payload = payload;
    f.count = count;
    f.channel_null = channel_null;
    return f;
}

std::vector<frame_case> frame_cases() {
    std::vector<frame_case> cases;
    // Static: the expected frames' views point into it.
    static const std::string binary_key = "__keyspace@0__:a\r\n\0b\xff"s;
    static const std::string long_channel = "__keyspace@0__:" + std::string(200, 'k');
    static const std::string long_payload(1234, 'p');
    for (const bool push : {false, true}) {
        const std::string p = push ? ">" : "*";
        const std::string v = push ? "resp3 " : "resp2 ";
        using k = pubsub_kind;
        cases.push_back(
            {v + "message",
             p + "3\r\n" + bulk("message") + bulk("__keyspace@0__:user:1") + bulk("set"),
             frame(k::message, push, "", "__keyspace@0__:user:1", "set")});
        cases.push_back({v + "message with a 3-digit and a 4-digit length",
                         p + "3\r\n" + bulk("message") + bulk(long_channel) + bulk(long_payload),
                         frame(k::message, push, "", long_channel, long_payload)});
        cases.push_back({v + "message with binary channel and empty payload",
                         p + "3\r\n" + bulk("message") + bulk(binary_key) + bulk(""),
                         frame(k::message, push, "", binary_key, "")});
        cases.push_back(
            {v + "pmessage",
             p + "4\r\n" + bulk("pmessage") + bulk("__keyevent@*__:*") +
                 bulk("__keyevent@0__:expired") + bulk("session:42"),
             frame(k::pmessage, push, "__keyevent@*__:*", "__keyevent@0__:expired", "session:42")});
        cases.push_back({v + "smessage", p + "3\r\n" + bulk("smessage") + bulk("s") + bulk("x"),
                         frame(k::smessage, push, "", "s", "x")});
        cases.push_back({v + "subscribe", p + "3\r\n" + bulk("subscribe") + bulk("ch") + ":1\r\n",
                         frame(k::subscribe, push, "", "ch", "", 1)});
        cases.push_back({v + "psubscribe",
                         p + "3\r\n" + bulk("psubscribe") + bulk("__key*__:*") + ":2\r\n",
                         frame(k::psubscribe, push, "", "__key*__:*", "", 2)});
        cases.push_back({v + "ssubscribe", p + "3\r\n" + bulk("ssubscribe") + bulk("s") + ":3\r\n",
                         frame(k::ssubscribe, push, "", "s", "", 3)});
        cases.push_back({v + "unsubscribe",
                         p + "3\r\n" + bulk("unsubscribe") + bulk("ch") + ":0\r\n",
                         frame(k::unsubscribe, push, "", "ch", "", 0)});
        cases.push_back({v + "punsubscribe",
                         p + "3\r\n" + bulk("punsubscribe") + bulk("p*") + ":10\r\n",
                         frame(k::punsubscribe, push, "", "p*", "", 10)});
        cases.push_back({v + "sunsubscribe",
                         p + "3\r\n" + bulk("sunsubscribe") + bulk("s") + ":-1\r\n",
                         frame(k::sunsubscribe, push, "", "s", "", -1)});
        cases.push_back({v + "unsubscribe with RESP2 null channel",
                         p + "3\r\n" + bulk("unsubscribe") + "$-1\r\n:0\r\n",
                         frame(k::unsubscribe, push, "", "", "", 0, true)});
        cases.push_back({v + "punsubscribe with RESP3 null channel",
                         p + "3\r\n" + bulk("punsubscribe") + "_\r\n:0\r\n",
                         frame(k::punsubscribe, push, "", "", "", 0, true)});
        cases.push_back({v + "subscribe with large count",
                         p + "3\r\n" + bulk("subscribe") + bulk("c") + ":9223372036854775807\r\n",
                         frame(k::subscribe, push, "", "c", "", INT64_MAX)});
        cases.push_back(
            {v + "pong", p + "2\r\n" + bulk("pong") + bulk(""), frame(k::pong, push, "", "", "")});
        cases.push_back({v + "pong with payload", p + "2\r\n" + bulk("pong") + bulk("hello"),
                         frame(k::pong, push, "", "", "hello")});
    }
    return cases;
}

void expect_frame(const pubsub_frame& got, const pubsub_frame& want) {
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.push, want.push);
    EXPECT_EQ(got.channel_null, want.channel_null);
    EXPECT_EQ(got.pattern, want.pattern);
    EXPECT_EQ(got.channel, want.channel);
    EXPECT_EQ(got.payload, want.payload);
    EXPECT_EQ(got.count, want.count);
}

void expect_parser_agrees(std::string_view bytes, const pubsub_frame& f, std::size_t consumed) {
    EXPECT_EQ(test::pubsub_disagreement(bytes, f, consumed), "") << test::escape(bytes);
}

TEST(PubSub, DecodesEveryKindInResp2AndResp3) {
    for (const auto& c : frame_cases()) {
        SCOPED_TRACE(c.name);
        const test::guarded_bytes bytes(c.bytes);
        ASSERT_TRUE(bytes.ok());
        pubsub_frame f;
        const pubsub_result r = decode_pubsub(bytes.view(), f);
        ASSERT_EQ(r.status, pubsub_status::complete);
        EXPECT_EQ(r.consumed, c.bytes.size());
        expect_frame(f, c.expected);
        // Views point into the input.
        for (const auto v : {f.pattern, f.channel, f.payload})
            EXPECT_TRUE(test::inside(v, bytes.view()));
    }
}

TEST(PubSub, EveryKindIsCovered) {
    std::vector<int> seen(static_cast<int>(pubsub_kind::pong) + 1, 0);
    for (const auto& c : frame_cases())
        seen[static_cast<int>(c.expected.kind)] += c.expected.push ? 1 : 100;
    for (std::size_t k = 0; k < seen.size(); ++k) {
        EXPECT_GE(seen[k] % 100, 1) << "no RESP3 case for " << to_string(pubsub_kind(k));
        EXPECT_GE(seen[k] / 100, 1) << "no RESP2 case for " << to_string(pubsub_kind(k));
    }
}

TEST(PubSub, ConsumesOnlyTheFirstFrame) {
    for (const auto& c : frame_cases()) {
        SCOPED_TRACE(c.name);
        const std::string two = c.bytes + c.bytes + "+OK";
        pubsub_frame f;
        pubsub_result r = decode_pubsub(two, f);
        ASSERT_EQ(r.status, pubsub_status::complete);
        ASSERT_EQ(r.consumed, c.bytes.size());
        r = decode_pubsub(std::string_view(two).substr(r.consumed), f);
        ASSERT_EQ(r.status, pubsub_status::complete);
        EXPECT_EQ(r.consumed, c.bytes.size());
        expect_frame(f, c.expected);
        EXPECT_EQ(decode_pubsub(std::string_view(two).substr(2 * c.bytes.size()), f).status,
                  pubsub_status::not_pubsub);
    }
}

TEST(PubSub, NeedMoreOnEveryStrictPrefix) {
    for (const auto& c : frame_cases()) {
        SCOPED_TRACE(c.name);
        for (std::size_t k = 0; k < c.bytes.size(); ++k) {
            const test::guarded_bytes bytes(std::string_view(c.bytes).substr(0, k));
            ASSERT_TRUE(bytes.ok());
            pubsub_frame f;
            const pubsub_result r = decode_pubsub(bytes.view(), f);
            EXPECT_EQ(r.status, pubsub_status::need_more) << "prefix " << k;
            EXPECT_EQ(r.consumed, 0u);
        }
    }
}

TEST(PubSub, AgreesWithTheGenericParser) {
    for (const auto& c : frame_cases()) {
        SCOPED_TRACE(c.name);
        pubsub_frame f;
        const pubsub_result r = decode_pubsub(c.bytes, f);
        ASSERT_EQ(r.status, pubsub_status::complete);
        expect_parser_agrees(c.bytes, f, r.consumed);
    }
}

TEST(PubSub, AgreementCheckSeesADifference) {
    const std::string in = "*3\r\n" + bulk("message") + bulk("c") + bulk("p");
    pubsub_frame f;
    ASSERT_EQ(decode_pubsub(in, f).status, pubsub_status::complete);
    EXPECT_EQ(test::pubsub_disagreement(in, f, in.size()), "");
    EXPECT_NE(test::pubsub_disagreement(in, f, in.size() - 1), "");
    pubsub_frame other = f;
    other.payload = "p";  // same text, other bytes
    EXPECT_NE(test::pubsub_disagreement(in, other, in.size()), "");
    other = f;
    other.kind = pubsub_kind::smessage;
    EXPECT_NE(test::pubsub_disagreement(in, other, in.size()), "");
}

std::vector<std::string> not_pubsub_inputs() {
    const std::string msg = bulk("message");
    return {
        "+OK\r\n",
        "-ERR wrong\r\n",
        ":1\r\n",
        "$7\r\nmessage\r\n",
        "_\r\n",
        "%3\r\n" + msg + bulk("c") + bulk("p"),
        "~3\r\n" + msg + bulk("c") + bulk("p"),
        "*0\r\n",
        "*1\r\n" + msg,
        "*5\r\n" + msg,
        "*10\r\n" + msg,
        "*-1\r\n",
        "*3x\r\n",
        "*3\r" + msg,
        "*4\r\n" + msg + bulk("c") + bulk("p") + bulk("x"),   // message with 4 elements
        "*3\r\n" + bulk("pmessage") + bulk("p") + bulk("c"),  // pmessage with 3
        "*3\r\n" + bulk("MESSAGE") + bulk("c") + bulk("p"),   // names are lower case
        "*3\r\n" + bulk("messagf") + bulk("c") + bulk("p"),
        "*3\r\n" + bulk("invalidate") + bulk("c") + bulk("p"),
        ">2\r\n" + bulk("invalidate") + "*1\r\n" + bulk("key"),  // client tracking push
        "*3\r\n+message\r\n" + bulk("c") + bulk("p"),            // kind as simple string
        "*3\r\n" + msg + "+c\r\n" + bulk("p"),
        "*3\r\n" + msg + "$-1\r\n" + bulk("p"),  // null channel in a message
        "*3\r\n" + msg + bulk("c") + "_\r\n",    // null payload
        "*3\r\n" + msg + bulk("c") + ":1\r\n",
        "*3\r\n" + bulk("subscribe") + bulk("c") + bulk("1"),  // count as bulk
        "*3\r\n" + bulk("subscribe") + bulk("c") + ":01\r\n",  // malformed count
        "*3\r\n" + bulk("subscribe") + bulk("c") + ":1x\r\n",
        "*3\r\n" + bulk("subscribe") + "_x\r\n:1\r\n",
        "*3\r\n" + bulk("subscribe") + "$-2\r\n:1\r\n",
        "*2\r\n" + bulk("pong") + "$-1\r\n",
        "*3\r\n$7x\r\nmessage\r\n" + bulk("c") + bulk("p"),  // malformed length
        "*3\r\n$07\r\nmessage\r\n" + bulk("c") + bulk("p"),  // leading zero
        "*3\r\n$7\r\nmessageXY" + bulk("c") + bulk("p"),     // missing CRLF after data
        "*3\r\n" + msg + "$1\r\ncX\n" + bulk("p"),
        "*3\r\n" + msg + bulk("c") + "$1\r\np\n\n",
        "*3\r\n" + msg + "$?\r\n;1\r\nc\r\n;0\r\n" + bulk("p"),
        "*3\r\n" + msg + bulk("c") + "$1\r\np\r\n" + "x",  // fine frame: covered below
    };
}

TEST(PubSub, NotPubSubOnOtherRepliesAndMalformedFrames) {
    const auto inputs = not_pubsub_inputs();
    for (std::size_t i = 0; i + 1 < inputs.size(); ++i) {
        const std::string& in = inputs[i];
        SCOPED_TRACE(test::escape(in));
        const test::guarded_bytes bytes(in);
        ASSERT_TRUE(bytes.ok());
        pubsub_frame f;
        const pubsub_result r = decode_pubsub(bytes.view(), f);
        EXPECT_EQ(r.status, pubsub_status::not_pubsub);
        EXPECT_EQ(r.consumed, 0u);
        // No prefix is ever taken for a frame, and none is read past its end.
        for (std::size_t k = 0; k < in.size(); ++k) {
            const test::guarded_bytes prefix(std::string_view(in).substr(0, k));
            ASSERT_TRUE(prefix.ok());
            EXPECT_NE(decode_pubsub(prefix.view(), f).status, pubsub_status::complete) << k;
        }
    }
    // The last input is a valid frame followed by a stray byte: only the frame is taken.
    pubsub_frame f;
    const pubsub_result r = decode_pubsub(inputs.back(), f);
    ASSERT_EQ(r.status, pubsub_status::complete);
    EXPECT_EQ(r.consumed, inputs.back().size() - 1);
}

TEST(PubSub, EmptyInputNeedsMore) {
    pubsub_frame f;
    const pubsub_result r = decode_pubsub({}, f);
    EXPECT_EQ(r.status, pubsub_status::need_more);
    EXPECT_EQ(r.consumed, 0u);
}

TEST(PubSub, HonoursTheBulkLengthLimit) {
    const std::string in = "*3\r\n" + bulk("message") + bulk("chan") + bulk("0123456789");
    limits lim;
    lim.max_bulk_length = 10;
    pubsub_frame f;
    EXPECT_EQ(decode_pubsub(in, f, lim).status, pubsub_status::complete);
    lim.max_bulk_length = 9;
    EXPECT_EQ(decode_pubsub(in, f, lim).status, pubsub_status::not_pubsub);
    // The limit is checked on the header, before the payload arrives.
    EXPECT_EQ(decode_pubsub(std::string_view(in).substr(0, in.size() - 12), f, lim).status,
              pubsub_status::not_pubsub);
    lim.max_bulk_length = 6;  // even the kind is limited
    EXPECT_EQ(decode_pubsub(in, f, lim).status, pubsub_status::not_pubsub);
    const std::string pin = "*4\r\n" + bulk("pmessage") + bulk("p") + bulk("c") + bulk("x");
    lim.max_bulk_length = 8;
    EXPECT_EQ(decode_pubsub(pin, f, lim).status, pubsub_status::complete);
    lim.max_bulk_length = 7;
    EXPECT_EQ(decode_pubsub(pin, f, lim).status, pubsub_status::not_pubsub);
}

TEST(PubSub, KindNames) {
    EXPECT_EQ(to_string(pubsub_kind::message), "message");
    EXPECT_EQ(to_string(pubsub_kind::sunsubscribe), "sunsubscribe");
    EXPECT_EQ(to_string(pubsub_kind::pong), "pong");
    EXPECT_EQ(to_string(static_cast<pubsub_kind>(200)), "unknown");
    EXPECT_TRUE(is_message(pubsub_kind::message));
    EXPECT_TRUE(is_message(pubsub_kind::pmessage));
    EXPECT_TRUE(is_message(pubsub_kind::smessage));
    EXPECT_FALSE(is_message(pubsub_kind::subscribe));
    EXPECT_FALSE(is_message(pubsub_kind::pong));
}

// Every input of the parser's data files, and each of its prefixes, ending at a guard
// page: decode_pubsub never crashes, and whenever it takes a frame, the generic parser
// reads the same values from the same bytes.
TEST(PubSub, GuardPageAndAgreementOnAllParserCases) {
    int decoded = 0;
    for (const auto& c : test::load_cases(KSN_TEST_DATA_DIR)) {
        ASSERT_TRUE(c.format_error.empty()) << c.format_error;
        SCOPED_TRACE(c.where);
        for (std::size_t k = 0; k <= c.input.size(); ++k) {
            const test::guarded_bytes bytes(std::string_view(c.input).substr(0, k));
            ASSERT_TRUE(bytes.ok());
            pubsub_frame f;
            const pubsub_result r = decode_pubsub(bytes.view(), f);
            if (r.status != pubsub_status::complete) {
                EXPECT_EQ(r.consumed, 0u);
                continue;
            }
            ++decoded;
            expect_parser_agrees(bytes.view(), f, r.consumed);
        }
    }
    EXPECT_GT(decoded, 0) << "the data files hold pub/sub frames";
}

}  // namespace
}  // namespace ksn::protocol
