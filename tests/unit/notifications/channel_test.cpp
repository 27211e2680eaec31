// channel_type(), the channel builders, and their pattern detection and overrides.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "notifications/channel.hpp"
#include "notifications/glob.hpp"
#include "notifications/notification.hpp"
#include "test_support.hpp"

namespace ksn {
namespace {

using namespace std::string_literals;

TEST(channel_type, recognises_the_six_prefixes) {
    EXPECT_EQ(channel_type("__keyspace@0__:mykey"), channel_kind::keyspace);
    EXPECT_EQ(channel_type("__keyevent@0__:set"), channel_kind::keyevent);
    EXPECT_EQ(channel_type("__subkeyspace@0__:myhash"), channel_kind::subkeyspace);
    EXPECT_EQ(channel_type("__subkeyevent@0__:hset"), channel_kind::subkeyevent);
    EXPECT_EQ(channel_type("__subkeyspaceitem@0__:h\nf"), channel_kind::subkeyspaceitem);
    EXPECT_EQ(channel_type("__subkeyspaceevent@0__:hset|h"), channel_kind::subkeyspaceevent);
    // Only the prefix counts, as in the reference.
    EXPECT_EQ(channel_type("__keyspace@"), channel_kind::keyspace);
    EXPECT_EQ(channel_type("__keyspace@garbage"), channel_kind::keyspace);
    EXPECT_EQ(channel_type("regular_channel"), std::nullopt);
    EXPECT_EQ(channel_type(""), std::nullopt);
    EXPECT_EQ(channel_type("__subkeyspac@0__:h"), std::nullopt);
    EXPECT_EQ(channel_type("\0__keyspace@0__:k"s), std::nullopt);
}

TEST(channel_kind, names_and_prefixes) {
    const char* names[] = {"keyspace",    "keyevent",        "subkeyspace",
                           "subkeyevent", "subkeyspaceitem", "subkeyspaceevent"};
    for (int i = 0; i < 6; ++i) {
        const auto k = static_cast<channel_kind>(i);
        EXPECT_EQ(to_string(k), names[i]);
        EXPECT_EQ(channel_prefix(k), "__" + std::string(names[i]) + "@");
        EXPECT_EQ(channel_type(channel_prefix(k)), k);
        EXPECT_EQ(is_subkey_kind(k), i >= 2);
    }
    EXPECT_EQ(to_string(static_cast<channel_kind>(42)), "unknown");
    EXPECT_TRUE(is_keyspace_kind(channel_kind::keyspace));
    EXPECT_TRUE(is_keyspace_kind(channel_kind::subkeyspace));
    EXPECT_TRUE(is_keyspace_kind(channel_kind::subkeyspaceitem));
    EXPECT_FALSE(is_keyspace_kind(channel_kind::keyevent));
    EXPECT_FALSE(is_keyspace_kind(channel_kind::subkeyevent));
    EXPECT_FALSE(is_keyspace_kind(channel_kind::subkeyspaceevent));
}

TEST(channel, builders_write_the_server_names) {
    const channel ks = channel::keyspace("user:123");
    EXPECT_EQ(ks.name(), "__keyspace@0__:user:123");
    EXPECT_EQ(ks.kind(), channel_kind::keyspace);
    EXPECT_EQ(ks.db(), 0);
    EXPECT_FALSE(ks.is_pattern());
    EXPECT_EQ(ks.subscribe_command(), "SUBSCRIBE");
    EXPECT_EQ(ks.key(), "user:123");
    EXPECT_EQ(ks.event(), "");

    const channel ke = channel::keyevent("set", 15);
    EXPECT_EQ(ke.name(), "__keyevent@15__:set");
    EXPECT_EQ(ke.event(), "set");
    EXPECT_EQ(ke.key(), "");

    const channel all = channel::all_keyevents();
    EXPECT_EQ(all.name(), "__keyevent@0__:*");
    EXPECT_TRUE(all.is_pattern());
    EXPECT_EQ(all.subscribe_command(), "PSUBSCRIBE");

    EXPECT_EQ(channel::subkeyspace("myhash").name(), "__subkeyspace@0__:myhash");
    EXPECT_EQ(channel::subkeyevent("hdel", 2).name(), "__subkeyevent@2__:hdel");
    EXPECT_EQ(channel::all_subkeyevents(3).name(), "__subkeyevent@3__:*");
    EXPECT_TRUE(channel::all_subkeyevents().is_pattern());

    const channel item = channel::subkeyspaceitem("myhash", "myfield");
    EXPECT_EQ(item.name(), "__subkeyspaceitem@0__:myhash\nmyfield");
    EXPECT_EQ(item.key(), "myhash");
    EXPECT_EQ(item.subkey(), "myfield");
    EXPECT_EQ(item.event(), "");

    const channel kse = channel::subkeyspaceevent("hset", "myhash");
    EXPECT_EQ(kse.name(), "__subkeyspaceevent@0__:hset|myhash");
    EXPECT_EQ(kse.event(), "hset");
    EXPECT_EQ(kse.key(), "myhash");
    EXPECT_EQ(kse.subkey(), "");
}

TEST(channel, names_are_binary_safe) {
    const std::string key = "a\0b\xff|\n,:"s;
    const channel c = channel::keyspace(key, 7);
    EXPECT_EQ(c.name(), "__keyspace@7__:" + key);
    EXPECT_EQ(c.key(), key);
    EXPECT_EQ(channel::subkeyspaceitem("k", "f\nield\0"s).subkey(), "f\nield\0"s);
    EXPECT_EQ(channel::subkeyspaceevent("hset", "a|b").key(), "a|b");
}

TEST(channel, detects_patterns_like_the_reference) {
    EXPECT_TRUE(channel::keyspace("user:*").is_pattern());
    EXPECT_TRUE(channel::keyspace("user:?").is_pattern());
    EXPECT_TRUE(channel::keyspace("user:[ab]").is_pattern());
    EXPECT_FALSE(channel::keyspace("my[key").is_pattern());
    EXPECT_FALSE(channel::keyspace("a\\*b").is_pattern());
    EXPECT_TRUE(channel::keyevent("h*").is_pattern());
    EXPECT_TRUE(channel::subkeyspace("h:*").is_pattern());
    EXPECT_TRUE(channel::subkeyevent("h?et").is_pattern());
    // Two-part channels: a pattern when either part is; each part judged alone.
    EXPECT_TRUE(channel::subkeyspaceitem("h*", "f").is_pattern());
    EXPECT_TRUE(channel::subkeyspaceitem("h", "f*").is_pattern());
    EXPECT_FALSE(channel::subkeyspaceitem("h[", "]").is_pattern());
    EXPECT_TRUE(channel::subkeyspaceevent("*", "h").is_pattern());
    EXPECT_TRUE(channel::subkeyspaceevent("hset", "h?").is_pattern());
    EXPECT_FALSE(channel::subkeyspaceevent("hset", "h").is_pattern());
}

TEST(channel, match_overrides_detection) {
    // A literal key named a*b, subscribed exactly, stays exact.
    const channel exact = channel::keyspace("a*b", 0, match::exact);
    EXPECT_FALSE(exact.is_pattern());
    EXPECT_EQ(exact.name(), "__keyspace@0__:a*b");
    const channel detected = channel::keyspace("a*b");
    EXPECT_TRUE(detected.is_pattern());
    EXPECT_NE(exact, detected);  // same bytes, different subscriptions
    EXPECT_EQ(exact.name(), detected.name());

    const channel forced = channel::keyspace("plain", 0, match::pattern);
    EXPECT_TRUE(forced.is_pattern());
    EXPECT_EQ(forced.subscribe_command(), "PSUBSCRIBE");
    EXPECT_FALSE(channel::subkeyspaceitem("h*", "f?", 0, match::exact).is_pattern());
    EXPECT_TRUE(channel::subkeyspaceevent("hset", "h", 0, match::pattern).is_pattern());

    // The escaped form is what a literal key looks like inside a pattern.
    const channel escaped = channel::keyspace(glob_escape("a*b"), 0, match::pattern);
    EXPECT_EQ(escaped.name(), "__keyspace@0__:a\\*b");
}

TEST(channel, any_db_is_a_pattern) {
    const channel c = channel::keyspace("user:1", any_db);
    EXPECT_EQ(c.name(), "__keyspace@*__:user:1");
    EXPECT_EQ(c.db(), any_db);
    EXPECT_TRUE(c.is_pattern());
    EXPECT_TRUE(channel::all_keyevents(any_db).is_pattern());
    EXPECT_EQ(channel::all_keyevents(any_db).name(), "__keyevent@*__:*");
    EXPECT_TRUE(channel::keyevent("set", any_db, match::pattern).is_pattern());
    EXPECT_EQ(channel::subkeyspaceitem("h", "f", any_db).name(), "__subkeyspaceitem@*__:h\nf");
}

TEST(channel, rejects_subscriptions_that_can_never_receive) {
    EXPECT_THROW((void)channel::keyspace("k", any_db, match::exact), std::invalid_argument);
    EXPECT_THROW((void)channel::keyspace("k", -2), std::invalid_argument);
    EXPECT_THROW((void)channel::keyevent(""), std::invalid_argument);
    EXPECT_THROW((void)channel::subkeyevent(""), std::invalid_argument);
    EXPECT_THROW((void)channel::subkeyspaceevent("", "h"), std::invalid_argument);
    EXPECT_THROW((void)channel::subkeyspaceitem("a\nb", "f"), std::invalid_argument);
    EXPECT_THROW((void)channel::subkeyspaceevent("a|b", "h"), std::invalid_argument);
    try {
        (void)channel::subkeyspaceitem("a\nb", "f");
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("subkeyspaceitem"), std::string::npos);
    }
    // Allowed: empty keys and subkeys (the server publishes them), '\n' in a subkey,
    // '|' in a key.
    EXPECT_NO_THROW((void)channel::keyspace(""));
    EXPECT_NO_THROW((void)channel::subkeyspaceitem("", ""));
    EXPECT_NO_THROW((void)channel::subkeyspaceitem("k", "a\nb"));
    EXPECT_NO_THROW((void)channel::subkeyspaceevent("hset", "a|b"));
    EXPECT_NO_THROW((void)channel::keyspace("k", 2147483647));
}

// A channel built for an exact key receives, from the server, a message that parses
// back to that key: builders and parser agree on the grammar.
TEST(channel, an_exact_channel_matches_the_parsed_server_message) {
    const std::string key = "a:b|c\0\xff"s;
    struct built {
        channel c;
        test::wire_message m;
    };
    const std::vector<std::string> fields = {"f"};
    const built cases[] = {
        {channel::keyspace(key, 4), test::server_message(channel_kind::keyspace, 4, key, "set")},
        {channel::subkeyspace(key, 4),
         test::server_message(channel_kind::subkeyspace, 4, key, "hset", fields)},
        {channel::subkeyspaceitem(key, "f", 4),
         test::server_message(channel_kind::subkeyspaceitem, 4, key, "hset", fields)},
        {channel::subkeyspaceevent("hset", key, 4),
         test::server_message(channel_kind::subkeyspaceevent, 4, key, "hset", fields)},
        {channel::keyevent("set", 4), test::server_message(channel_kind::keyevent, 4, key, "set")},
        {channel::subkeyevent("hset", 4),
         test::server_message(channel_kind::subkeyevent, 4, key, "hset", fields)},
    };
    for (const built& b : cases) {
        SCOPED_TRACE(to_string(b.c.kind()));
        EXPECT_EQ(b.c.name(), b.m.channel);
        key_notification n;
        ASSERT_TRUE(parse_notification(b.c.name(), b.m.payload, n).ok());
        EXPECT_EQ(n.kind(), b.c.kind());
        EXPECT_EQ(n.db(), b.c.db());
        EXPECT_EQ(n.key(), key);
        if (!b.c.key().empty()) {
            EXPECT_EQ(n.key(), b.c.key());
        }
        if (!b.c.event().empty()) {
            EXPECT_EQ(n.event(), b.c.event());
        }
    }
}

}  // namespace
}  // namespace ksn
