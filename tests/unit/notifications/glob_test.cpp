// Pattern detection with the reference's rules, and escaping.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "notifications/glob.hpp"

namespace ksn {
namespace {

using namespace std::string_literals;

// The reference's _is_pattern (keyspace_notifications.py lines 1002-1023), transcribed
// literally, to compare against on random inputs.
bool reference_is_pattern(std::string_view channel) {
    std::size_t i = 0;
    while (i < channel.size()) {
        const char c = channel[i];
        if (c == '\\') {
            i += 2;
            continue;
        }
        if (c == '*' || c == '?') return true;
        if (c == '[') {
            std::size_t j = i + 1;
            while (j < channel.size()) {
                if (channel[j] == '\\') {
                    j += 2;
                    continue;
                }
                if (channel[j] == ']') return true;
                j += 1;
            }
        }
        i += 1;
    }
    return false;
}

TEST(is_glob_pattern, reference_cases) {
    struct example {
        std::string s;
        bool pattern;
    };
    const example examples[] = {
        {"", false},
        {"user:123", false},
        {"user:*", true},
        {"user:?", true},
        {"*", true},
        {"user:[abc]", true},
        {"user:[a-z]x", true},
        {"my[key", false},      // a lone '[' is a literal
        {"my]key", false},      // so is a lone ']'
        {"]x[", false},         // ']' before '[' closes nothing
        {"a\\*b", false},       // escaped '*'
        {"a\\?b", false},       // escaped '?'
        {"a\\[b]", false},      // escaped '[' leaves only a ']'
        {"a[b\\]", false},      // the only ']' is escaped
        {"a[b\\]]", true},      // an unescaped ']' after the escaped one
        {"a[\\\\]", true},      // an escaped backslash, then ']'
        {"a\\\\*", true},       // an escaped backslash, then a real '*'
        {"trailing\\", false},  // a final '\' escapes nothing
        {"[[[[", false},
        {"[[[]", true},
        {"a[]", true},  // the reference counts "[]" as a class
        {"\0*"s, true},
        {"\xff\xfe[\x80]"s, true},  // bytes, not UTF-8
        {"\xff\xfe[\x80"s, false},
        {"__keyspace@0__:user:*", true},
        {"__keyspace@*__:user", true},
    };
    for (const example& e : examples) {
        EXPECT_EQ(is_glob_pattern(e.s), e.pattern) << testing::PrintToString(e.s);
        EXPECT_EQ(reference_is_pattern(e.s), e.pattern) << testing::PrintToString(e.s);
    }
}

TEST(is_glob_pattern, agrees_with_the_reference_on_random_strings) {
    std::mt19937 rng(7);
    const std::string alphabet = "*?[]\\a"s;
    for (int round = 0; round < 20000; ++round) {
        std::string s(std::uniform_int_distribution<std::size_t>(0, 10)(rng), 'a');
        for (char& c : s)
            c = alphabet[std::uniform_int_distribution<std::size_t>(0, 5)(rng)];
        ASSERT_EQ(is_glob_pattern(s), reference_is_pattern(s)) << s;
    }
}

TEST(is_glob_pattern, a_long_run_of_brackets_is_linear) {
    // The reference rescans for ']' after every '['; this would take ~10^10 steps there.
    const std::string s(100000, '[');
    EXPECT_FALSE(is_glob_pattern(s));
    EXPECT_TRUE(is_glob_pattern(s + "]"));
    EXPECT_TRUE(is_glob_pattern(s + "*"));
}

TEST(glob_escape, escapes_every_special_byte) {
    EXPECT_EQ(glob_escape("a*b"), "a\\*b");
    EXPECT_EQ(glob_escape("what?"), "what\\?");
    EXPECT_EQ(glob_escape("my[key]"), "my\\[key\\]");
    EXPECT_EQ(glob_escape("back\\slash"), "back\\\\slash");
    EXPECT_EQ(glob_escape(""), "");
    EXPECT_EQ(glob_escape("plain:key|,@\n"), "plain:key|,@\n");
    EXPECT_EQ(glob_escape("\0*\xff"s), "\0\\*\xff"s);
    std::string out = "user:";
    append_glob_escaped(out, "a*");
    out += "*";
    EXPECT_EQ(out, "user:a\\**");
    EXPECT_TRUE(is_glob_pattern(out));
}

TEST(glob_escape, the_result_is_never_a_pattern) {
    std::mt19937 rng(11);
    const std::string alphabet = "*?[]\\a\0"s;
    for (int round = 0; round < 20000; ++round) {
        std::string s(std::uniform_int_distribution<std::size_t>(0, 12)(rng), 'a');
        for (char& c : s)
            c = alphabet[std::uniform_int_distribution<std::size_t>(0, 6)(rng)];
        const std::string e = glob_escape(s);
        ASSERT_FALSE(is_glob_pattern(e)) << s;
        // Unescaping (drop each '\' and keep the byte after it) gives the input back.
        std::string back;
        for (std::size_t i = 0; i < e.size(); ++i) {
            if (e[i] == '\\') ++i;
            back.push_back(e[i]);
        }
        ASSERT_EQ(back, s);
    }
}

}  // namespace
}  // namespace ksn
