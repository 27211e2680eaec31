// UTF-8 validation, base64 and the JSON object writer of the ksn program.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tools/json.hpp"

namespace ksn::tools {
namespace {

using namespace std::string_literals;

TEST(Utf8, AcceptsWellFormedText) {
    EXPECT_TRUE(valid_utf8(""));
    EXPECT_TRUE(valid_utf8("plain ascii \x01\x7f"));
    EXPECT_TRUE(valid_utf8("caf\xc3\xa9"));       // U+00E9
    EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));      // U+20AC
    EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));  // U+1F600
    EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the last one
    EXPECT_TRUE(valid_utf8("\xed\x9f\xbf"));      // U+D7FF, before surrogates
    EXPECT_TRUE(valid_utf8("\xee\x80\x80"));      // U+E000, after them
    EXPECT_TRUE(valid_utf8("a\0b"s));             // NUL is a character
}

TEST(Utf8, RejectsMalformedBytes) {
    for (const std::string& bad : {
             "\xff"s,              // never in UTF-8
             "\x80"s,              // a lone continuation byte
             "\xc3"s,              // truncated
             "\xc3\x28"s,          // bad continuation
             "\xc0\xaf"s,          // overlong '/'
             "\xc1\xbf"s,          // overlong
             "\xe0\x80\xaf"s,      // overlong, 3 bytes
             "\xf0\x80\x80\xaf"s,  // overlong, 4 bytes
             "\xed\xa0\x80"s,      // U+D800, a surrogate
             "\xed\xbf\xbf"s,      // U+DFFF
             "\xf4\x90\x80\x80"s,  // U+110000
             "\xf5\x80\x80\x80"s,  // lead byte above F4
             "\xe2\x82"s,          // truncated 3-byte
             "ok\xe2\x82"s,        // truncated at the end
             "\xf0\x9f\x98"s,      // truncated 4-byte
         }) {
        EXPECT_FALSE(valid_utf8(bad)) << testing::PrintToString(bad);
    }
}

TEST(Utf8, SequenceLength) {
    EXPECT_EQ(utf8_sequence_length(""), 0u);
    EXPECT_EQ(utf8_sequence_length("a"), 1u);
    EXPECT_EQ(utf8_sequence_length("\xc3\xa9x"), 2u);
    EXPECT_EQ(utf8_sequence_length("\xe2\x82\xac"), 3u);
    EXPECT_EQ(utf8_sequence_length("\xf0\x9f\x98\x80"), 4u);
    EXPECT_EQ(utf8_sequence_length("\xff"), 0u);
    EXPECT_EQ(utf8_sequence_length("\xe2\x82"), 0u);
}

TEST(Base64, Rfc4648Vectors) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : cases) {
        EXPECT_EQ(base64_encode(plain), encoded);
        EXPECT_EQ(base64_decode(encoded), plain);
    }
    EXPECT_EQ(base64_encode("\xff\xfe\x00"s), "//4A");
}

TEST(Base64, RoundTripsEveryByteAndLength) {
    std::mt19937 rng(7);
    for (std::size_t len = 0; len < 300; ++len) {
        std::string bytes(len, '\0');
        for (auto& c : bytes)
            c = static_cast<char>(rng() & 0xFF);
        const auto decoded = base64_decode(base64_encode(bytes));
        ASSERT_TRUE(decoded.has_value()) << len;
        EXPECT_EQ(*decoded, bytes) << len;
    }
}

TEST(Base64, RejectsMalformedText) {
    for (const std::string_view bad :
         {"Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "Zh==", "Zm9=", "Zm 9v", "=Zm9"}) {
        EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
    }
}

TEST(JsonString, EscapesWhatJsonRequires) {
    std::string out;
    append_json_string(out, "a\"b\\c\n\r\t\b\f\x01\x1f\x7f caf\xc3\xa9 \0z"s);
    EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f caf\xc3\xa9 \\u0000z\"");
}

TEST(JsonObject, WritesFieldsInOrder) {
    std::string line = "left over";
    json_object(line)
        .text("type", "keyspace")
        .number("db", std::int64_t{-1})
        .number("big", std::uint64_t{18446744073709551615ULL})
        .null("none")
        .end_line();
    EXPECT_EQ(line,
              "{\"type\":\"keyspace\",\"db\":-1,\"big\":18446744073709551615,\"none\":null}\n");
}

TEST(JsonObject, BytesFallBackToBase64ByField) {
    std::string line;
    json_object(line).bytes("key", "caf\xc3\xa9\n").bytes("event", "\xff").end_line();
    EXPECT_EQ(line, "{\"key\":\"caf\xc3\xa9\\n\",\"event_b64\":\"/w==\"}\n");
}

TEST(JsonObject, ArraysAreAllTextOrAllBase64) {
    std::string line;
    const std::vector<std::string_view> text = {"a", "b c"};
    const std::vector<std::string_view> mixed = {"a", "\xff"};
    const std::vector<std::string_view> none;
    json_object(line)
        .bytes_array("subkeys", text)
        .bytes_array("other", mixed)
        .bytes_array("empty", none)
        .end_line();
    EXPECT_EQ(line,
              "{\"subkeys\":[\"a\",\"b c\"],\"other_b64\":[\"YQ==\",\"/w==\"],\"empty\":[]}\n");
}

TEST(JsonObject, IntegerPairs) {
    std::string line;
    const std::vector<std::pair<std::uint16_t, std::uint16_t>> ranges = {
        {0, 5460}, {7, 7}, {10923, 16383}};
    json_object(line).number_pairs("slots", ranges).number_pairs("none", {}).end_line();
    EXPECT_EQ(line, "{\"slots\":[[0,5460],[7,7],[10923,16383]],\"none\":[]}\n");
}

}  // namespace
}  // namespace ksn::tools
