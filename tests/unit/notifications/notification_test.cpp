// Parsing of all six notification kinds: valid vectors with hostile bytes, every
// malformed case with its error and position, the reference's behaviours (key prefix,
// `@*`), subkey storage, and a seeded round trip against a notify.c-style encoder.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "notifications/event.hpp"
#include "notifications/flags.hpp"
#include "notifications/notification.hpp"
#include "test_support.hpp"

namespace ksn {
namespace {

using namespace std::string_literals;
using test::exact_bytes;

struct valid_case {
    const char* name;
    std::string channel;
    std::string payload;
    channel_kind kind;
    std::int32_t db;
    std::string key;
    std::string event;
    std::vector<std::string> subkeys;
};

// Bytes every key and field below may hold: every delimiter of the grammar, CRLF, NUL,
// invalid UTF-8.
const std::string hostile = "a:b@c|d,e\nf\r\ng\0h\xff\xfe__:1:x"s;
const std::string field_1000(1000, 'f');

std::vector<valid_case> valid_cases() {
    return {
        {"keyspace",
         "__keyspace@0__:user:1",
         "set",
         channel_kind::keyspace,
         0,
         "user:1",
         "set",
         {}},
        {"keyspace_db15", "__keyspace@15__:k", "del", channel_kind::keyspace, 15, "k", "del", {}},
        {"keyspace_max_db",
         "__keyspace@2147483647__:k",
         "del",
         channel_kind::keyspace,
         2147483647,
         "k",
         "del",
         {}},
        {"keyspace_hostile_key",
         "__keyspace@0__:" + hostile,
         "set",
         channel_kind::keyspace,
         0,
         hostile,
         "set",
         {}},
        {"keyspace_empty_key", "__keyspace@0__:", "set", channel_kind::keyspace, 0, "", "set", {}},
        {"keyspace_any_db",
         "__keyspace@*__:k",
         "set",
         channel_kind::keyspace,
         any_db,
         "k",
         "set",
         {}},
        {"keyspace_utf8_key",
         "__keyspace@0__:поле",
         "hset",
         channel_kind::keyspace,
         0,
         "поле",
         "hset",
         {}},
        {"keyspace_unknown_event",
         "__keyspace@0__:k",
         "brand-new|event",
         channel_kind::keyspace,
         0,
         "k",
         "brand-new|event",
         {}},
        {"keyspace_key_like_channel",
         "__keyspace@0__:__keyspace@1__:x",
         "set",
         channel_kind::keyspace,
         0,
         "__keyspace@1__:x",
         "set",
         {}},
        {"keyevent",
         "__keyevent@0__:expired",
         "session:9",
         channel_kind::keyevent,
         0,
         "session:9",
         "expired",
         {}},
        {"keyevent_db15", "__keyevent@15__:del", "k", channel_kind::keyevent, 15, "k", "del", {}},
        {"keyevent_hostile_key",
         "__keyevent@0__:set",
         hostile,
         channel_kind::keyevent,
         0,
         hostile,
         "set",
         {}},
        {"keyevent_empty_key", "__keyevent@0__:set", "", channel_kind::keyevent, 0, "", "set", {}},
        {"keyevent_hostile_event",
         "__keyevent@3__:" + hostile,
         "k",
         channel_kind::keyevent,
         3,
         "k",
         hostile,
         {}},
        {"keyevent_any_db",
         "__keyevent@*__:set",
         "k",
         channel_kind::keyevent,
         any_db,
         "k",
         "set",
         {}},
        {"subkeyspace",
         "__subkeyspace@0__:myhash",
         "hset|3:foo,5:hello",
         channel_kind::subkeyspace,
         0,
         "myhash",
         "hset",
         {"foo", "hello"}},
        {"subkeyspace_db15",
         "__subkeyspace@15__:h",
         "hdel|1:a",
         channel_kind::subkeyspace,
         15,
         "h",
         "hdel",
         {"a"}},
        {"subkeyspace_hostile",
         "__subkeyspace@0__:" + hostile,
         "hset|" + std::to_string(hostile.size()) + ":" + hostile + ",0:",
         channel_kind::subkeyspace,
         0,
         hostile,
         "hset",
         {hostile, ""}},
        {"subkeyspace_fields_like_grammar",
         "__subkeyspace@0__:h",
         "hset|3:a,b,3:1:x,1:|,1:,",
         channel_kind::subkeyspace,
         0,
         "h",
         "hset",
         {"a,b", "1:x", "|", ","}},
        {"subkeyspace_utf8_counts_bytes",
         "__subkeyspace@0__:h",
         "hset|8:поле",
         channel_kind::subkeyspace,
         0,
         "h",
         "hset",
         {"поле"}},
        {"subkeyspace_empty_fields",
         "__subkeyspace@0__:h",
         "hset|0:,1:a,0:",
         channel_kind::subkeyspace,
         0,
         "h",
         "hset",
         {"", "a", ""}},
        {"subkeyspace_duplicates",
         "__subkeyspace@0__:h",
         "hset|1:a,1:a",
         channel_kind::subkeyspace,
         0,
         "h",
         "hset",
         {"a", "a"}},
        {"subkeyspace_1000_byte_field",
         "__subkeyspace@0__:h",
         "hset|1000:" + field_1000,
         channel_kind::subkeyspace,
         0,
         "h",
         "hset",
         {field_1000}},
        {"subkeyspace_empty_key",
         "__subkeyspace@0__:",
         "hset|1:a",
         channel_kind::subkeyspace,
         0,
         "",
         "hset",
         {"a"}},
        {"subkeyspace_any_db",
         "__subkeyspace@*__:h",
         "hset|1:a",
         channel_kind::subkeyspace,
         any_db,
         "h",
         "hset",
         {"a"}},
        {"subkeyevent",
         "__subkeyevent@0__:hexpire",
         "8:skn:hash|11:field-alpha",
         channel_kind::subkeyevent,
         0,
         "skn:hash",
         "hexpire",
         {"field-alpha"}},
        {"subkeyevent_db15",
         "__subkeyevent@15__:hdel",
         "1:k|1:a,1:b",
         channel_kind::subkeyevent,
         15,
         "k",
         "hdel",
         {"a", "b"}},
        {"subkeyevent_key_with_pipes",
         "__subkeyevent@0__:hset",
         "5:a|b|c|1:x",
         channel_kind::subkeyevent,
         0,
         "a|b|c",
         "hset",
         {"x"}},
        {"subkeyevent_hostile",
         "__subkeyevent@0__:hset",
         std::to_string(hostile.size()) + ":" + hostile + "|" + std::to_string(hostile.size()) +
             ":" + hostile,
         channel_kind::subkeyevent,
         0,
         hostile,
         "hset",
         {hostile}},
        {"subkeyevent_empty_key_and_field",
         "__subkeyevent@0__:hset",
         "0:|0:",
         channel_kind::subkeyevent,
         0,
         "",
         "hset",
         {""}},
        {"subkeyevent_utf8",
         "__subkeyevent@0__:hset",
         "8:ключ|8:поле",
         channel_kind::subkeyevent,
         0,
         "ключ",
         "hset",
         {"поле"}},
        {"subkeyevent_1000_byte_key_and_field",
         "__subkeyevent@0__:hset",
         "1000:" + field_1000 + "|1000:" + field_1000,
         channel_kind::subkeyevent,
         0,
         field_1000,
         "hset",
         {field_1000}},
        {"subkeyspaceitem",
         "__subkeyspaceitem@0__:myhash\nmyfield",
         "hset",
         channel_kind::subkeyspaceitem,
         0,
         "myhash",
         "hset",
         {"myfield"}},
        {"subkeyspaceitem_db15",
         "__subkeyspaceitem@15__:h\nf",
         "hdel",
         channel_kind::subkeyspaceitem,
         15,
         "h",
         "hdel",
         {"f"}},
        {"subkeyspaceitem_newlines_in_field",
         "__subkeyspaceitem@0__:k\nf\nield\r\n",
         "hset",
         channel_kind::subkeyspaceitem,
         0,
         "k",
         "hset",
         {"f\nield\r\n"}},
        {"subkeyspaceitem_empty_field",
         "__subkeyspaceitem@0__:k\n",
         "hset",
         channel_kind::subkeyspaceitem,
         0,
         "k",
         "hset",
         {""}},
        {"subkeyspaceitem_empty_key",
         "__subkeyspaceitem@0__:\nf",
         "hset",
         channel_kind::subkeyspaceitem,
         0,
         "",
         "hset",
         {"f"}},
        {"subkeyspaceitem_other_delimiters",
         "__subkeyspaceitem@0__:a|b,c:d@\r\0\xff\n1:x,|"s,
         "hset",
         channel_kind::subkeyspaceitem,
         0,
         "a|b,c:d@\r\0\xff"s,
         "hset",
         {"1:x,|"}},
        {"subkeyspaceevent",
         "__subkeyspaceevent@0__:hset|myhash",
         "7:myfield",
         channel_kind::subkeyspaceevent,
         0,
         "myhash",
         "hset",
         {"myfield"}},
        {"subkeyspaceevent_db15",
         "__subkeyspaceevent@15__:hdel|h",
         "1:a,1:b",
         channel_kind::subkeyspaceevent,
         15,
         "h",
         "hdel",
         {"a", "b"}},
        {"subkeyspaceevent_key_with_pipes",
         "__subkeyspaceevent@0__:hset|a|b\n",
         "1:x",
         channel_kind::subkeyspaceevent,
         0,
         "a|b\n",
         "hset",
         {"x"}},
        {"subkeyspaceevent_empty_key",
         "__subkeyspaceevent@0__:hset|",
         "0:",
         channel_kind::subkeyspaceevent,
         0,
         "",
         "hset",
         {""}},
        {"subkeyspaceevent_hostile",
         "__subkeyspaceevent@0__:hexpired|" + hostile,
         std::to_string(hostile.size()) + ":" + hostile + ",1000:" + field_1000,
         channel_kind::subkeyspaceevent,
         0,
         hostile,
         "hexpired",
         {hostile, field_1000}},
    };
}

void expect_parsed(const key_notification& n, const valid_case& c) {
    EXPECT_EQ(n.kind(), c.kind);
    EXPECT_EQ(n.db(), c.db);
    EXPECT_EQ(n.key(), c.key);
    EXPECT_EQ(n.event(), c.event);
    ASSERT_EQ(n.subkeys().size(), c.subkeys.size());
    for (std::size_t i = 0; i < c.subkeys.size(); ++i)
        EXPECT_EQ(n.subkeys()[i], c.subkeys[i]);
    EXPECT_EQ(n.channel(), c.channel);
    EXPECT_EQ(n.payload(), c.payload);
}

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

TEST(parse_notification, valid_vectors) {
    for (const valid_case& c : valid_cases()) {
        SCOPED_TRACE(c.name);
        const exact_bytes channel(c.channel);
        const exact_bytes payload(c.payload);
        key_notification n;
        const parse_result r = parse_notification(channel.view(), payload.view(), n);
        ASSERT_EQ(r.status, parse_status::ok) << r.error_code().message();
        EXPECT_TRUE(r.ok());
        EXPECT_FALSE(r.error_code());
        EXPECT_EQ(r.subkeys, c.subkeys.size());
        expect_parsed(n, c);
        EXPECT_EQ(n.channel().data(), channel.view().data());
        EXPECT_EQ(n.payload().data(), payload.view().data());
        EXPECT_TRUE(inside(n.key(), channel.view()) || inside(n.key(), payload.view()));
        EXPECT_TRUE(inside(n.event(), channel.view()) || inside(n.event(), payload.view()));
        for (const std::string_view s : n.subkeys()) {
            EXPECT_TRUE(inside(s, channel.view()) || inside(s, payload.view()));
        }
        EXPECT_EQ(channel_type(c.channel), c.kind);
        EXPECT_EQ(n.is_keyspace(), is_keyspace_kind(c.kind));

        const owned_key_notification o = n.to_owned();
        EXPECT_TRUE(o == n);
        EXPECT_EQ(o.key, c.key);
        EXPECT_EQ(o.event, c.event);
        EXPECT_EQ(o.subkeys, c.subkeys);
        EXPECT_EQ(o.channel, c.channel);
        EXPECT_EQ(o.payload, c.payload);
        EXPECT_EQ(o.db, c.db);
        EXPECT_EQ(o.kind, c.kind);
    }
}

struct malformed_case {
    const char* name;
    std::string channel;
    std::string payload;
    notification_errc error;
    notification_part part;
    std::size_t offset;
};

constexpr auto in_channel = notification_part::channel;
constexpr auto in_payload = notification_part::payload;

std::vector<malformed_case> malformed_cases() {
    using e = notification_errc;
    return {
        // The db: canonical decimal or `*`, then `__:`.
        {"db_empty", "__keyspace@__:k", "set", e::bad_db, in_channel, 11},
        {"db_letters", "__keyspace@x__:k", "set", e::bad_db, in_channel, 11},
        {"db_negative", "__keyspace@-1__:k", "set", e::bad_db, in_channel, 11},
        {"db_plus", "__keyspace@+1__:k", "set", e::bad_db, in_channel, 11},
        {"db_zero_padded", "__keyspace@01__:k", "set", e::bad_db, in_channel, 11},
        {"db_double_zero", "__keyevent@00__:set", "k", e::bad_db, in_channel, 11},
        {"db_above_int32", "__keyspace@2147483648__:k", "set", e::bad_db, in_channel, 11},
        {"db_eleven_digits", "__keyspace@12345678901__:k", "set", e::bad_db, in_channel, 11},
        {"db_star_and_digit", "__keyspace@*1__:k", "set", e::bad_db, in_channel, 11},
        {"db_space", "__keyspace@ 1__:k", "set", e::bad_db, in_channel, 11},
        {"db_non_ascii_digit", "__keyspace@\xd9\xa3__:k", "set", e::bad_db, in_channel, 11},
        {"db_unterminated", "__keyspace@0", "set", e::missing_db_terminator, in_channel, 12},
        {"db_prefix_only", "__keyspace@", "set", e::missing_db_terminator, in_channel, 11},
        {"db_one_underscore", "__keyspace@0_:k", "set", e::missing_db_terminator, in_channel, 12},
        {"db_no_colon", "__keyspace@0__k", "set", e::missing_db_terminator, in_channel, 12},
        {"db_channel_ends_in_terminator", "__keyspace@0__", "set", e::missing_db_terminator,
         in_channel, 12},
        {"subkeyspaceevent_bad_db", "__subkeyspaceevent@1a__:hset|k", "1:a", e::bad_db, in_channel,
         19},
        // Empty events: the server never publishes one.
        {"keyspace_empty_event", "__keyspace@0__:k", "", e::empty_event, in_payload, 0},
        {"keyevent_empty_remainder", "__keyevent@0__:", "k", e::empty_event, in_channel, 15},
        {"subkeyevent_empty_remainder", "__subkeyevent@0__:", "1:k|1:a", e::empty_event, in_channel,
         18},
        {"subkeyspaceitem_empty_event", "__subkeyspaceitem@0__:k\nf", "", e::empty_event,
         in_payload, 0},
        {"subkeyspace_empty_event", "__subkeyspace@0__:h", "|1:a", e::empty_event, in_payload, 0},
        {"subkeyspaceevent_empty_event", "__subkeyspaceevent@0__:|h", "1:a", e::empty_event,
         in_channel, 23},
        // Separators.
        {"subkeyspace_missing_pipe", "__subkeyspace@0__:h", "hset", e::missing_pipe, in_payload, 4},
        {"subkeyspace_empty_payload", "__subkeyspace@0__:h", "", e::missing_pipe, in_payload, 0},
        {"subkeyevent_missing_pipe", "__subkeyevent@0__:hset", "1:k", e::missing_pipe, in_payload,
         3},
        {"subkeyevent_wrong_byte_for_pipe", "__subkeyevent@0__:hset", "1:kX1:a", e::missing_pipe,
         in_payload, 3},
        {"subkeyevent_key_shorter_than_length", "__subkeyevent@0__:hset", "1:ab|1:a",
         e::missing_pipe, in_payload, 3},
        {"subkeyspaceevent_missing_pipe", "__subkeyspaceevent@0__:hset", "1:a", e::missing_pipe,
         in_channel, 27},
        {"subkeyspaceitem_missing_newline", "__subkeyspaceitem@0__:k", "hset", e::missing_newline,
         in_channel, 23},
        // Lengths: canonical decimal then `:`, within the input.
        {"subkeyevent_empty_payload", "__subkeyevent@0__:hset", "", e::bad_length, in_payload, 0},
        {"subkeyevent_key_length_letters", "__subkeyevent@0__:hset", "x:k|1:a", e::bad_length,
         in_payload, 0},
        {"subkeyevent_key_length_negative", "__subkeyevent@0__:hset", "-1:|1:a", e::bad_length,
         in_payload, 0},
        {"subkeyevent_key_length_past_end", "__subkeyevent@0__:hset", "9:k|1:a", e::length_past_end,
         in_payload, 0},
        {"subkeyevent_key_length_no_colon", "__subkeyevent@0__:hset", "12", e::missing_colon,
         in_payload, 2},
        {"length_letters", "__subkeyspace@0__:h", "hset|a", e::bad_length, in_payload, 5},
        {"length_plus", "__subkeyspace@0__:h", "hset|+1:a", e::bad_length, in_payload, 5},
        {"length_negative", "__subkeyspace@0__:h", "hset|-1:a", e::bad_length, in_payload, 5},
        {"length_zero_padded", "__subkeyspace@0__:h", "hset|01:a", e::bad_length, in_payload, 5},
        {"length_zero_zero", "__subkeyspace@0__:h", "hset|00:", e::bad_length, in_payload, 5},
        {"length_space", "__subkeyspace@0__:h", "hset| 1:a", e::bad_length, in_payload, 5},
        {"length_digit_then_letter", "__subkeyspace@0__:h", "hset|1a:x", e::bad_length, in_payload,
         6},
        {"length_no_colon", "__subkeyspace@0__:h", "hset|1", e::missing_colon, in_payload, 6},
        {"length_past_end", "__subkeyspace@0__:h", "hset|5:abc", e::length_past_end, in_payload, 5},
        {"length_one_past_end", "__subkeyspace@0__:h", "hset|4:abc", e::length_past_end, in_payload,
         5},
        {"length_19_digits", "__subkeyspace@0__:h", "hset|9999999999999999999:a",
         e::length_past_end, in_payload, 5},
        {"length_20_digits", "__subkeyspace@0__:h", "hset|18446744073709551616:a",
         e::length_overflow, in_payload, 5},
        {"length_40_digits", "__subkeyspaceevent@0__:hset|h",
         "1234567890123456789012345678901234567890:a", e::length_overflow, in_payload, 0},
        // The reference loops forever on this one (a negative length moves backwards).
        {"reference_hang_negative_length", "__subkeyspaceevent@0__:hset|h", "-3:", e::bad_length,
         in_payload, 0},
        {"second_length_past_end", "__subkeyspace@0__:h", "hset|1:a,2:b", e::length_past_end,
         in_payload, 9},
        // The list itself.
        {"no_subkeys_subkeyspace", "__subkeyspace@0__:h", "hset|", e::no_subkeys, in_payload, 5},
        {"no_subkeys_subkeyevent", "__subkeyevent@0__:hset", "1:k|", e::no_subkeys, in_payload, 4},
        {"no_subkeys_subkeyspaceevent", "__subkeyspaceevent@0__:hset|h", "", e::no_subkeys,
         in_payload, 0},
        {"trailing_byte", "__subkeyspace@0__:h", "hset|1:ab", e::trailing_garbage, in_payload, 8},
        {"missing_comma", "__subkeyspace@0__:h", "hset|1:a1:b", e::trailing_garbage, in_payload, 8},
        {"semicolon_separator", "__subkeyspace@0__:h", "hset|1:a;1:b", e::trailing_garbage,
         in_payload, 8},
        {"trailing_crlf", "__subkeyspaceevent@0__:hset|h", "1:a\r\n", e::trailing_garbage,
         in_payload, 3},
        {"dangling_comma", "__subkeyspace@0__:h", "hset|1:a,", e::dangling_comma, in_payload, 8},
        {"double_comma", "__subkeyspace@0__:h", "hset|1:a,,1:b", e::bad_length, in_payload, 9},
        {"subkeyevent_trailing", "__subkeyevent@0__:hset", "1:k|1:a,", e::dangling_comma,
         in_payload, 7},
    };
}

TEST(parse_notification, malformed_vectors) {
    for (const malformed_case& c : malformed_cases()) {
        SCOPED_TRACE(c.name);
        const exact_bytes channel(c.channel);
        const exact_bytes payload(c.payload);
        key_notification n;
        const parse_result r = parse_notification(channel.view(), payload.view(), n);
        EXPECT_EQ(r.status, parse_status::malformed);
        EXPECT_EQ(r.error, c.error) << r.error_code().message();
        EXPECT_EQ(r.part, c.part);
        EXPECT_EQ(r.offset, c.offset);
        EXPECT_EQ(r.error_code(), make_error_code(c.error));
        EXPECT_FALSE(r.ok());
        // Malformed stays malformed whatever the key prefix.
        const parse_result filtered = parse_notification(channel.view(), payload.view(), n, "zz");
        EXPECT_EQ(filtered.status, parse_status::malformed);
        EXPECT_EQ(filtered.error, c.error);
    }
}

TEST(parse_notification, every_error_has_a_readable_message) {
    for (int e = 1; e <= static_cast<int>(notification_errc::too_many_subkeys); ++e) {
        const std::error_code ec = make_error_code(static_cast<notification_errc>(e));
        EXPECT_STREQ(ec.category().name(), "ksn.notification");
        EXPECT_FALSE(ec.message().empty());
        EXPECT_EQ(ec.message().find("unknown"), std::string::npos) << e;
    }
    EXPECT_NE(make_error_code(static_cast<notification_errc>(999)).message().find("unknown"),
              std::string::npos);
    EXPECT_EQ(std::error_code(notification_errc::bad_db).message(),
              "db is not a canonical decimal number below 2^31 or '*'");
}

TEST(parse_notification, other_channels_are_not_notifications) {
    const std::vector<std::string> channels = {
        "",
        "news",
        "_",
        "__keyspace",
        "__keyspace0__:k",
        "__keyspac@0__:k",
        "__KEYSPACE@0__:k",
        "_keyspace@0__:k",
        " __keyspace@0__:k",
        "__subkey@0__:k",
        "__subkeyspaceitems@0__:k",
        "__subkeyspaceevents@0__:k",
        "__subkeyevents@0__:k",
        "__keyevents@0__:k",
        "__key@0__:k",
        "\0_keyspace@0__:k"s,
    };
    for (const std::string& c : channels) {
        SCOPED_TRACE(testing::PrintToString(c));
        const exact_bytes channel(c);
        key_notification n;
        const parse_result r = parse_notification(channel.view(), "set", n);
        EXPECT_EQ(r.status, parse_status::not_notification);
        EXPECT_FALSE(r.error_code());
        EXPECT_EQ(channel_type(c), std::nullopt);
    }
}

// The reference filters on key_prefix and strips it, for every kind (lines 391-523).
TEST(parse_notification, key_prefix_filters_and_strips_for_every_kind) {
    struct prefixed {
        std::string channel;
        std::string payload;
        std::string other_channel;  // the same message for a key outside the prefix
        std::string other_payload;
    };
    const std::vector<prefixed> cases = {
        {"__keyspace@0__:app:user:1", "set", "__keyspace@0__:other:1", "set"},
        {"__keyevent@0__:set", "app:user:1", "__keyevent@0__:set", "other:1"},
        {"__subkeyspace@0__:app:user:1", "hset|1:f", "__subkeyspace@0__:other:1", "hset|1:f"},
        {"__subkeyevent@0__:hset", "10:app:user:1|1:f", "__subkeyevent@0__:hset", "7:other:1|1:f"},
        {"__subkeyspaceitem@0__:app:user:1\nf", "hset", "__subkeyspaceitem@0__:other:1\nf", "hset"},
        {"__subkeyspaceevent@0__:hset|app:user:1", "1:f", "__subkeyspaceevent@0__:hset|other:1",
         "1:f"},
    };
    for (const prefixed& c : cases) {
        SCOPED_TRACE(c.channel);
        key_notification n;
        parse_result r = parse_notification(c.channel, c.payload, n, "app:");
        ASSERT_EQ(r.status, parse_status::ok);
        EXPECT_EQ(n.key(), "user:1");
        EXPECT_TRUE(n.key_starts_with("user"));
        EXPECT_FALSE(n.key_starts_with("app:"));

        r = parse_notification(c.other_channel, c.other_payload, n, "app:");
        EXPECT_EQ(r.status, parse_status::filtered);
        EXPECT_FALSE(r.error_code());

        // The whole key as the prefix leaves an empty key; an empty prefix keeps all.
        r = parse_notification(c.channel, c.payload, n, "app:user:1");
        ASSERT_EQ(r.status, parse_status::ok);
        EXPECT_EQ(n.key(), "");
        r = parse_notification(c.other_channel, c.other_payload, n, "");
        ASSERT_EQ(r.status, parse_status::ok);
        EXPECT_EQ(n.key(), "other:1");
        // A prefix longer than the key filters.
        r = parse_notification(c.channel, c.payload, n, "app:user:1:more");
        EXPECT_EQ(r.status, parse_status::filtered);
    }
}

// The queue stores a parse result as one buffer and a layout (detail::notification_layout)
// and rebuilds the views from them on the consumer's side: the rebuilt notification must
// equal the parsed one field by field, its views inside the new buffer, for every vector
// (subkeys inline and beyond the inline array) and with a key prefix stripped.
TEST(notification_layout, store_then_restore_gives_the_parse_result_back) {
    for (const valid_case& c : valid_cases()) {
        SCOPED_TRACE(c.name);
        key_notification parsed;
        std::vector<std::string_view> parse_storage;
        ASSERT_TRUE(parse_notification(c.channel, c.payload, parsed, parse_storage).ok());
        std::string bytes = "stale bytes of a longer message before this one";
        const auto layout = detail::notification_layout::store(parsed, "__key*__:*", bytes);
        const std::string copy = bytes;  // the buffer moves to another owner
        key_notification rebuilt;
        std::vector<std::string_view> storage;
        layout.restore(copy, rebuilt, storage);
        expect_parsed(rebuilt, c);
        EXPECT_EQ(layout.extra_in(copy), "__key*__:*");
        EXPECT_TRUE(inside(rebuilt.key(), copy));
        EXPECT_TRUE(inside(rebuilt.event(), copy));
        for (const std::string_view sub : rebuilt.subkeys())
            EXPECT_TRUE(inside(sub, copy));
        // Caller storage is used, and grown to fit, only beyond the inline array.
        EXPECT_EQ(!storage.empty(), c.subkeys.size() > key_notification::inline_capacity);
        EXPECT_GE(storage.size(), storage.empty() ? 0 : c.subkeys.size());
    }
}

TEST(notification_layout, keeps_the_key_with_its_prefix_stripped_and_an_empty_extra) {
    key_notification parsed;
    std::vector<std::string_view> storage;
    ASSERT_TRUE(parse_notification("__subkeyevent@7__:hset", "10:app:user:1|1:f,2:gh", parsed,
                                   storage, "app:")
                    .ok());
    std::string bytes;
    const auto layout = detail::notification_layout::store(parsed, {}, bytes);
    key_notification rebuilt;
    layout.restore(bytes, rebuilt, storage);
    EXPECT_EQ(rebuilt.kind(), channel_kind::subkeyevent);
    EXPECT_EQ(rebuilt.db(), 7);
    EXPECT_EQ(rebuilt.key(), "user:1");
    EXPECT_EQ(rebuilt.event(), "hset");
    ASSERT_EQ(rebuilt.subkeys().size(), 2u);
    EXPECT_EQ(rebuilt.subkeys()[0], "f");
    EXPECT_EQ(rebuilt.subkeys()[1], "gh");
    EXPECT_EQ(layout.extra_in(bytes), "");
    EXPECT_EQ(bytes.size(),
              std::string_view("__subkeyevent@7__:hset10:app:user:1|1:f,2:gh").size() +
                  2 * 2 * sizeof(std::uint32_t));
}

TEST(parse_notification, key_prefix_is_binary) {
    key_notification n;
    const std::string channel = "__keyspace@0__:\0\xff:k"s;
    ASSERT_EQ(parse_notification(channel, "set", n, "\0\xff:"s).status, parse_status::ok);
    EXPECT_EQ(n.key(), "k");
    EXPECT_EQ(parse_notification(channel, "set", n, "\0\xfe"s).status, parse_status::filtered);
}

TEST(parse_notification, filtered_reports_the_subkey_count) {
    key_notification n;
    const parse_result r = parse_notification("__subkeyspace@0__:h", "hset|1:a,1:b,1:c", n, "x");
    EXPECT_EQ(r.status, parse_status::filtered);
    EXPECT_EQ(r.subkeys, 3u);
}

TEST(parse_notification, any_db_is_minus_one_for_every_kind) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"__keyspace@*__:k", "set"},
        {"__keyevent@*__:set", "k"},
        {"__subkeyspace@*__:k", "hset|1:a"},
        {"__subkeyevent@*__:hset", "1:k|1:a"},
        {"__subkeyspaceitem@*__:k\na", "hset"},
        {"__subkeyspaceevent@*__:hset|k", "1:a"},
    };
    for (const auto& [channel, payload] : cases) {
        key_notification n;
        ASSERT_EQ(parse_notification(channel, payload, n).status, parse_status::ok) << channel;
        EXPECT_EQ(n.db(), -1);
        EXPECT_EQ(n.key(), "k");
    }
}

std::string many_subkeys(std::size_t count) {
    std::string p = "hset|";
    for (std::size_t i = 0; i < count; ++i) {
        if (i > 0) p += ',';
        std::string f(1, 'f');
        f += std::to_string(i);
        p += std::to_string(f.size());
        p += ':';
        p += f;
    }
    return p;
}

TEST(parse_notification, inline_storage_holds_eight_subkeys) {
    key_notification n;
    ASSERT_EQ(n.subkey_capacity(), key_notification::inline_capacity);
    const std::string eight = many_subkeys(key_notification::inline_capacity);
    parse_result r = parse_notification("__subkeyspace@0__:h", eight, n);
    ASSERT_EQ(r.status, parse_status::ok);
    ASSERT_EQ(n.subkeys().size(), 8u);
    EXPECT_EQ(n.subkeys()[7], "f7");

    const std::string nine = many_subkeys(9);
    r = parse_notification("__subkeyspace@0__:h", nine, n);
    EXPECT_EQ(r.status, parse_status::storage_too_small);
    EXPECT_EQ(r.error, notification_errc::too_many_subkeys);
    EXPECT_EQ(r.error_code(), notification_errc::too_many_subkeys);
    EXPECT_EQ(r.subkeys, 9u);
    // All but the subkeys is set.
    EXPECT_EQ(n.key(), "h");
    EXPECT_EQ(n.event(), "hset");
    EXPECT_TRUE(n.subkeys().empty());
}

TEST(parse_notification, caller_storage_takes_any_number_of_subkeys) {
    const std::string payload = many_subkeys(1000);
    key_notification n;
    parse_result r = parse_notification("__subkeyspace@0__:h", payload, n);
    ASSERT_EQ(r.status, parse_status::storage_too_small);
    ASSERT_EQ(r.subkeys, 1000u);

    std::vector<std::string_view> storage(r.subkeys);
    n.set_storage(storage);
    EXPECT_EQ(n.subkey_capacity(), 1000u);
    r = parse_notification("__subkeyspace@0__:h", payload, n);
    ASSERT_EQ(r.status, parse_status::ok);
    ASSERT_EQ(n.subkeys().size(), 1000u);
    EXPECT_EQ(n.subkeys().data(), storage.data());
    EXPECT_EQ(n.subkeys()[999], "f999");

    // A smaller caller span is reported the same way.
    std::vector<std::string_view> small(2);
    key_notification m(small);
    r = parse_notification("__subkeyspaceevent@0__:hset|h", "1:a,1:b,1:c", m);
    EXPECT_EQ(r.status, parse_status::storage_too_small);
    EXPECT_EQ(r.subkeys, 3u);

    // An empty span goes back to the inline array, even with a non-null pointer.
    std::vector<std::string_view> reserved;
    reserved.reserve(1);
    m.set_storage(reserved);
    EXPECT_EQ(m.subkey_capacity(), key_notification::inline_capacity);
    ASSERT_EQ(parse_notification("__subkeyspaceevent@0__:hset|h", "1:a,1:b,1:c", m).status,
              parse_status::ok);
    EXPECT_NE(m.subkeys().data(), reserved.data());
    m.set_storage({});
    EXPECT_EQ(m.subkey_capacity(), key_notification::inline_capacity);
    ASSERT_EQ(parse_notification("__subkeyspaceevent@0__:hset|h", "1:a,1:b,1:c", m).status,
              parse_status::ok);
    EXPECT_EQ(m.subkeys().size(), 3u);
}

TEST(parse_notification, a_copy_keeps_its_inline_subkeys) {
    key_notification n;
    ASSERT_TRUE(parse_notification("__subkeyspace@0__:h", "hset|1:a,1:b", n).ok());
    const key_notification copy = n;
    ASSERT_TRUE(parse_notification("__subkeyspace@0__:k", "hdel|1:x", n).ok());
    ASSERT_EQ(copy.subkeys().size(), 2u);
    EXPECT_EQ(copy.subkeys()[0], "a");
    EXPECT_EQ(copy.subkeys()[1], "b");
    EXPECT_NE(copy.subkeys().data(), n.subkeys().data());
    EXPECT_EQ(n.subkeys().size(), 1u);
}

TEST(parse_notification, reparse_clears_previous_subkeys) {
    key_notification n;
    ASSERT_TRUE(parse_notification("__subkeyspace@0__:h", "hset|1:a,1:b", n).ok());
    ASSERT_TRUE(parse_notification("__keyspace@0__:h", "del", n).ok());
    EXPECT_TRUE(n.subkeys().empty());
    EXPECT_EQ(n.kind(), channel_kind::keyspace);
}

TEST(parse_notification, unknown_events_parse) {
    key_notification n;
    ASSERT_TRUE(parse_notification("__keyevent@0__:my-module.event", "k", n).ok());
    EXPECT_EQ(n.event(), "my-module.event");
    EXPECT_EQ(event_class(n.event()), notify_flags::none);
    ASSERT_TRUE(parse_notification("__keyspace@0__:k", event::hexpired, n).ok());
    EXPECT_EQ(n.event(), event::hexpired);
}

TEST(parse_notification, every_prefix_of_a_valid_message_is_handled_in_bounds) {
    // Every truncation of every valid vector, in exact-size buffers: the parser must
    // answer without reading past either input (ASan) and never report ok with views
    // outside them.
    for (const valid_case& c : valid_cases()) {
        for (std::size_t cut = 0; cut <= c.channel.size(); ++cut) {
            const exact_bytes channel(std::string_view(c.channel).substr(0, cut));
            const exact_bytes payload(c.payload);
            key_notification n;
            const parse_result r = parse_notification(channel.view(), payload.view(), n);
            if (r.ok()) {
                EXPECT_TRUE(inside(n.key(), channel.view()) || inside(n.key(), payload.view()));
            }
        }
        for (std::size_t cut = 0; cut <= c.payload.size(); ++cut) {
            const exact_bytes channel(c.channel);
            const exact_bytes payload(std::string_view(c.payload).substr(0, cut));
            key_notification n;
            const parse_result r = parse_notification(channel.view(), payload.view(), n);
            if (r.ok()) {
                for (const std::string_view s : n.subkeys()) {
                    EXPECT_TRUE(inside(s, channel.view()) || inside(s, payload.view()));
                }
            }
        }
    }
}

// What the server publishes, for random keys, events and fields over an alphabet heavy in
// delimiters, parses back to what went in.
TEST(parse_notification, round_trip_with_server_encoding) {
    std::mt19937 rng(20240607);
    const std::string alphabet = "ab:@|,\n\r\0\xff\xd0\xbf_*0123456789"s;
    auto bytes = [&](std::size_t max_len) {
        std::string s(std::uniform_int_distribution<std::size_t>(0, max_len)(rng), 'x');
        for (char& ch : s) {
            ch = alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
        }
        return s;
    };
    const std::vector<std::string_view> events = {event::hset, event::hdel, event::hexpired,
                                                  "x-y.z:w", "\xff\n"};
    for (int round = 0; round < 3000; ++round) {
        const auto kind = static_cast<channel_kind>(round % 6);
        const std::int32_t db = std::uniform_int_distribution<std::int32_t>(-1, 20)(rng);
        std::string key = bytes(12);
        const std::string_view ev = events[static_cast<std::size_t>(round / 6) % events.size()];
        std::vector<std::string> subkeys(std::uniform_int_distribution<std::size_t>(1, 10)(rng));
        for (std::string& s : subkeys)
            s = bytes(12);
        if (kind == channel_kind::subkeyspaceitem) {
            // The server never publishes it for a key holding '\n'.
            std::erase(key, '\n');
            subkeys.resize(1);
        }
        if (kind == channel_kind::keyspace || kind == channel_kind::keyevent) subkeys.clear();
        const test::wire_message m = test::server_message(kind, db, key, ev, subkeys);
        std::vector<std::string_view> storage(subkeys.size() + 1);
        key_notification n(storage);
        const parse_result r = parse_notification(m.channel, m.payload, n);
        ASSERT_EQ(r.status, parse_status::ok)
            << to_string(kind) << " " << testing::PrintToString(m.channel) << " "
            << testing::PrintToString(m.payload) << ": " << r.error_code().message();
        EXPECT_EQ(n.kind(), kind);
        EXPECT_EQ(n.db(), db);
        EXPECT_EQ(n.key(), key);
        EXPECT_EQ(n.event(), ev);
        ASSERT_EQ(n.subkeys().size(), subkeys.size());
        for (std::size_t i = 0; i < subkeys.size(); ++i)
            EXPECT_EQ(n.subkeys()[i], subkeys[i]);
        EXPECT_TRUE(n.to_owned() == n);
    }
}

TEST(owned_key_notification, compares_with_views_field_by_field) {
    key_notification n;
    ASSERT_TRUE(parse_notification("__subkeyspace@2__:h", "hset|1:a,1:b", n).ok());
    owned_key_notification o = n.to_owned();
    EXPECT_TRUE(o == n);
    EXPECT_TRUE(o.is_keyspace());
    owned_key_notification other = o;
    EXPECT_EQ(other, o);
    other.subkeys[1] = "c";
    EXPECT_FALSE(other == n);
    other = o;
    other.db = 3;
    EXPECT_FALSE(other == n);
    other = o;
    other.subkeys.pop_back();
    EXPECT_FALSE(other == n);
}

}  // namespace
}  // namespace ksn
