// The lines the ksn program prints: text quoting, JSON notifications, gaps, invalid ones.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tools/output.hpp"

namespace ksn::tools {
namespace {

using namespace std::string_literals;

key_notification parsed(std::string_view channel, std::string_view payload,
                        std::string_view prefix = {}) {
    key_notification n;
    const auto r = parse_notification(channel, payload, n, prefix);
    EXPECT_TRUE(r.ok()) << r.error_code().message();
    return n;
}

std::string shown(std::string_view bytes) {
    std::string out;
    append_quoted(out, bytes);
    return out;
}

/// `line` without its leading "HH:MM:SS.mmm " (no std::regex: GCC 12 warns inside it).
std::string without_time(const std::string& line) {
    constexpr std::string_view shape = "00:00:00.000 ";
    if (line.size() < shape.size()) return "<short line>";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const bool digit = line[i] >= '0' && line[i] <= '9';
        if (shape[i] == '0' ? !digit : line[i] != shape[i]) return "<no time>";
    }
    return line.substr(shape.size());
}

TEST(Quote, PlainTextStaysAsIs) {
    EXPECT_EQ(shown("user:1"), "user:1");
    EXPECT_EQ(shown("caf\xc3\xa9"), "caf\xc3\xa9");
    EXPECT_EQ(shown("a*b?{c}"), "a*b?{c}");
}

TEST(Quote, OddBytesAreQuotedAndEscaped) {
    EXPECT_EQ(shown(""), "\"\"");
    EXPECT_EQ(shown("my key"), "\"my key\"");
    EXPECT_EQ(shown("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(shown("[x]"), "\"[x]\"");
    EXPECT_EQ(shown("bin\0\n\r\t\x7f\xff"s), "\"bin\\x00\\n\\r\\t\\x7f\\xff\"");
    // A valid sequence next to an invalid one: only the invalid bytes are escaped.
    EXPECT_EQ(shown("\xc3\xa9\xc3"), "\"\xc3\xa9\\xc3\"");
}

TEST(NotificationLine, JsonWithOrigin) {
    const auto n = parsed("__keyspace@3__:user:1", "set");
    const origin from{"127.0.0.1:6379", clock::time_point(std::chrono::nanoseconds(123456789))};
    std::string line;
    format_notification(line, output_format::json, n, &from);
    EXPECT_EQ(line,
              "{\"type\":\"keyspace\",\"db\":3,\"key\":\"user:1\",\"event\":\"set\","
              "\"subkeys\":[],\"channel\":\"__keyspace@3__:user:1\","
              "\"node\":\"127.0.0.1:6379\",\"ts_ns\":123456789}\n");
}

TEST(NotificationLine, ARepeatSaysRedeliveredInBothFormats) {
    const auto n = parsed("__keyspace@0__:k", "set");
    const origin from{"127.0.0.1:7000", clock::time_point(std::chrono::nanoseconds(5)), true};
    std::string line;
    format_notification(line, output_format::json, n, &from);
    EXPECT_EQ(line,
              "{\"type\":\"keyspace\",\"db\":0,\"key\":\"k\",\"event\":\"set\","
              "\"subkeys\":[],\"channel\":\"__keyspace@0__:k\","
              "\"node\":\"127.0.0.1:7000\",\"ts_ns\":5,\"redelivered\":true}\n");
    format_notification(line, output_format::text, n, &from);
    EXPECT_EQ(without_time(line), "keyspace@0 set k redelivered\n") << line;
}

line_template compiled(std::string_view text) {
    std::string why;
    auto t = line_template::compile(text, why);
    EXPECT_TRUE(t.has_value()) << why;
    return t ? *t : line_template{};
}

std::string compile_error(std::string_view text) {
    std::string why;
    EXPECT_FALSE(line_template::compile(text, why).has_value()) << text;
    return why;
}

TEST(LineTemplate, EveryFieldWithTheTextLinesEscaping) {
    const auto n = parsed("__subkeyspace@*__:a key", "hset|1:f,3:g h");
    const origin from{"127.0.0.1:7000", clock::time_point(std::chrono::nanoseconds(42)), true};
    std::string line;
    compiled("{ts_ns}|{node}|{kind}|{db}|{event}|{key}|{subkeys}|{channel}|{redelivered}")
        .render(line, n, from);
    EXPECT_EQ(line,
              "42|127.0.0.1:7000|subkeyspace|*|hset|\"a key\"|f \"g h\"|"
              "\"__subkeyspace@*__:a key\"|true\n");
    compiled("{ts_ns} {key}").render(line, parsed("__keyevent@5__:del", "k\xff"), origin{});
    EXPECT_EQ(line, "0 \"k\\xff\"\n");
    compiled("{db} {subkeys}.").render(line, parsed("__keyspace@5__:k", "set"), from);
    EXPECT_EQ(line, "5 .\n");  // no subkeys: empty
}

TEST(LineTemplate, TimeIsTheLocalTimeOfDayOfTheReceiveTime) {
    const origin from{"n", clock::now()};
    std::string line;
    compiled("{time}").render(line, parsed("__keyspace@0__:k", "set"), from);
    ASSERT_EQ(line.size(), 13u) << line;  // HH:MM:SS.mmm and the newline
    EXPECT_EQ(without_time(line.substr(0, 12) + " "), "");
}

TEST(LineTemplate, LiteralsAndBraces) {
    std::string line;
    const auto n = parsed("__keyspace@0__:k", "set");
    compiled("{{key}} {key} }}{{").render(line, n, origin{});
    EXPECT_EQ(line, "{key} k }{\n");
    compiled("").render(line, n, origin{});
    EXPECT_EQ(line, "\n");
    compiled("no fields").render(line, n, origin{});
    EXPECT_EQ(line, "no fields\n");
}

TEST(LineTemplate, BadTemplatesSayWhatIsWrong) {
    EXPECT_EQ(compile_error("{nope}"),
              "unknown field {nope} (fields: " + std::string(line_template::fields()) + ")");
    EXPECT_EQ(compile_error("{}"),
              "unknown field {} (fields: " + std::string(line_template::fields()) + ")");
    EXPECT_EQ(compile_error("ab{key"), "the '{' at byte 2 has no '}' (write {{ for a brace)");
    EXPECT_EQ(compile_error("a}b"), "a '}' at byte 1 closes no field (write }} for a brace)");
    EXPECT_EQ(compile_error("{KEY}").substr(0, 19), "unknown field {KEY}");  // case matters
}

TEST(NotificationLine, JsonOfEveryKindWithoutOrigin) {
    struct row {
        std::string channel, payload, json;
    };
    const std::vector<row> rows = {
        {"__keyevent@0__:del", "k",
         R"({"type":"keyevent","db":0,"key":"k","event":"del","subkeys":[],"channel":"__keyevent@0__:del"})"},
        {"__subkeyspace@0__:h", "hset|1:a,2:bc",
         R"({"type":"subkeyspace","db":0,"key":"h","event":"hset","subkeys":["a","bc"],"channel":"__subkeyspace@0__:h"})"},
        {"__subkeyevent@1__:hdel", "1:h|1:a",
         R"({"type":"subkeyevent","db":1,"key":"h","event":"hdel","subkeys":["a"],"channel":"__subkeyevent@1__:hdel"})"},
        {"__subkeyspaceitem@0__:h\nf", "hexpired",
         R"({"type":"subkeyspaceitem","db":0,"key":"h","event":"hexpired","subkeys":["f"],"channel":"__subkeyspaceitem@0__:h\nf"})"},
        {"__subkeyspaceevent@0__:hset|h", "1:a",
         R"({"type":"subkeyspaceevent","db":0,"key":"h","event":"hset","subkeys":["a"],"channel":"__subkeyspaceevent@0__:hset|h"})"},
        {"__keyspace@*__:k", "set",
         R"({"type":"keyspace","db":-1,"key":"k","event":"set","subkeys":[],"channel":"__keyspace@*__:k"})"},
    };
    std::string line;
    for (const auto& r : rows) {
        format_notification(line, output_format::json, parsed(r.channel, r.payload));
        EXPECT_EQ(line, r.json + "\n");
    }
}

TEST(NotificationLine, JsonBase64ForBytesThatAreNotUtf8) {
    std::string line;
    format_notification(line, output_format::json,
                        parsed("__subkeyspace@0__:k\xff", "hset|1:\xfe,1:a"));
    EXPECT_EQ(line,
              "{\"type\":\"subkeyspace\",\"db\":0,\"key_b64\":\"a/8=\",\"event\":\"hset\","
              "\"subkeys_b64\":[\"/g==\",\"YQ==\"],"
              "\"channel_b64\":\"X19zdWJrZXlzcGFjZUAwX186a/8=\"}\n");
}

TEST(NotificationLine, JsonKeyWithoutThePrefix) {
    std::string line;
    format_notification(line, output_format::json, parsed("__keyevent@0__:set", "app:k", "app:"));
    EXPECT_EQ(
        line,
        R"({"type":"keyevent","db":0,"key":"k","event":"set","subkeys":[],"channel":"__keyevent@0__:set"})"
        "\n");
}

TEST(NotificationLine, Text) {
    std::string line;
    format_notification(line, output_format::text, parsed("__keyspace@0__:a b", "set"));
    EXPECT_EQ(line, "keyspace@0 set \"a b\"\n");
    format_notification(line, output_format::text, parsed("__subkeyspace@2__:h", "hset|1:a,3:b c"));
    EXPECT_EQ(line, "subkeyspace@2 hset h [a \"b c\"]\n");
    format_notification(line, output_format::text, parsed("__keyevent@*__:del", "k"));
    EXPECT_EQ(line, "keyevent@* del k\n");
    const origin from{"n:1", clock::now()};
    format_notification(line, output_format::text, parsed("__keyspace@0__:k", "del"), &from);
    EXPECT_EQ(without_time(line), "keyspace@0 del k\n") << line;
}

TEST(GapLine, Json) {
    gap_event g;
    g.node = "127.0.0.1:7000";
    g.reason = gap_reason::server_restarted;
    g.detail = "127.0.0.1:7000: restarted";
    g.lost = clock::time_point(std::chrono::nanoseconds(1000));
    g.restored = clock::time_point(std::chrono::nanoseconds(5000));
    std::string line;
    format_gap(line, output_format::json, g);
    EXPECT_EQ(line,
              "{\"type\":\"gap\",\"node\":\"127.0.0.1:7000\",\"reason\":\"server_restarted\","
              "\"detail\":\"127.0.0.1:7000: restarted\",\"lost_ts_ns\":1000,"
              "\"restored_ts_ns\":5000,\"dropped\":0,\"slots\":[]}\n");
    g.restored.reset();
    g.dropped = 7;
    g.reason = gap_reason::node_closed;
    format_gap(line, output_format::json, g);
    EXPECT_NE(line.find("\"reason\":\"node_closed\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"restored_ts_ns\":null,\"dropped\":7,\"slots\":[]}"), std::string::npos)
        << line;
}

TEST(GapLine, JsonOfAClusterGapCarriesItsSlots) {
    gap_event g;
    g.node = "127.0.0.1:7000";
    g.reason = gap_reason::topology_change;
    g.detail = "took over";
    g.lost = clock::time_point(std::chrono::nanoseconds(1000));
    g.restored = clock::time_point(std::chrono::nanoseconds(5000));
    g.slots = {{0, 5460}, {10923, 16383}};
    std::string line;
    format_gap(line, output_format::json, g);
    EXPECT_EQ(line,
              "{\"type\":\"gap\",\"node\":\"127.0.0.1:7000\",\"reason\":\"topology_change\","
              "\"detail\":\"took over\",\"lost_ts_ns\":1000,\"restored_ts_ns\":5000,"
              "\"dropped\":0,\"slots\":[[0,5460],[10923,16383]]}\n");
}

TEST(GapLine, Text) {
    gap_event g;
    g.node = "h:1";
    g.reason = gap_reason::queue_overflow;
    g.detail = "dropped";
    g.lost = clock::now() - std::chrono::milliseconds(30);
    g.restored = g.lost + std::chrono::milliseconds(25);
    g.dropped = 12;
    std::string line;
    format_gap(line, output_format::text, g);
    EXPECT_EQ(without_time(line), "gap h:1 queue_overflow (25 ms) dropped=12: dropped\n") << line;
}

TEST(GapLine, TextNamesTheSlotsOfAClusterGap) {
    gap_event g;
    g.node = "127.0.0.1:7000";
    g.reason = gap_reason::server_restarted;
    g.detail = "127.0.0.1:7000: restarted";
    g.lost = clock::now() - std::chrono::milliseconds(30);
    g.restored = g.lost + std::chrono::milliseconds(25);
    g.slots = {{0, 5460}, {7000, 7000}, {10923, 16383}};
    std::string line;
    format_gap(line, output_format::text, g);
    EXPECT_EQ(without_time(line),
              "gap 127.0.0.1:7000 server_restarted (25 ms) slots=0-5460,7000,10923-16383: "
              "127.0.0.1:7000: restarted\n")
        << line;
    // Given up: no duration, the slots still named; a standalone gap names none.
    g.restored.reset();
    g.slots = {{5461, 10922}};
    format_gap(line, output_format::text, g);
    EXPECT_EQ(without_time(line),
              "gap 127.0.0.1:7000 server_restarted (not restored) slots=5461-10922: "
              "127.0.0.1:7000: restarted\n")
        << line;
    g.slots.clear();
    format_gap(line, output_format::text, g);
    EXPECT_EQ(line.find("slots"), std::string::npos) << line;
}

TEST(SlotRanges, AsClusterNodesWritesThem) {
    std::string out = "x ";
    append_slot_ranges(out, {});
    EXPECT_EQ(out, "x ");
    const std::vector<std::pair<std::uint16_t, std::uint16_t>> ranges = {{0, 0}, {2, 16383}};
    append_slot_ranges(out, ranges);
    EXPECT_EQ(out, "x 0,2-16383");
}

TEST(InvalidLine, JsonAndText) {
    key_notification n;
    const auto r = parse_notification("__keyspace@01__:k", "set", n);
    ASSERT_EQ(r.status, parse_status::malformed);
    std::string line;
    format_invalid(line, output_format::json, "__keyspace@01__:k", "set", r);
    EXPECT_EQ(line,
              "{\"type\":\"invalid\",\"channel\":\"__keyspace@01__:k\",\"payload\":\"set\","
              "\"error\":\"" +
                  r.error_code().message() +
                  "\",\"part\":\"channel\",\"offset\":" + std::to_string(r.offset) + "}\n");
    format_invalid(line, output_format::text, "__keyspace@01__:k", "set", r);
    EXPECT_EQ(line, "invalid __keyspace@01__:k set: " + r.error_code().message() +
                        " at channel byte " + std::to_string(r.offset) + "\n");
}

}  // namespace
}  // namespace ksn::tools
