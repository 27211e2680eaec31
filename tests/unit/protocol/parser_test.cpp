// Table-driven tests of the RESP parser: every case of data/*.txt is parsed whole, byte by
// byte, at seeded random split points and from a buffer that ends at a guard page, and
// must give the same node log, error and offset every time.
#include "protocol/parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "case_file.hpp"
#include "parse_driver.hpp"

namespace ksn::protocol {
namespace {

using test::parse_case;

const std::vector<parse_case>& all_cases() {
    static const std::vector<parse_case> cases = test::load_cases(KSN_TEST_DATA_DIR);
    return cases;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines)
        s += l + "\n";
    return s;
}

std::uint64_t seed_of(std::string_view name) {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (const char c : name)
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return h;
}

class parser_case : public ::testing::TestWithParam<parse_case> {};

TEST_P(parser_case, SameLogWholeBytewiseAndSplit) {
    const parse_case& c = GetParam();
    ASSERT_TRUE(c.format_error.empty()) << c.format_error;
    ASSERT_FALSE(c.input.empty()) << c.where << ": a case needs input";
    ASSERT_FALSE(c.log.empty()) << c.where << ": a case needs an expected log";
    const std::string expected = joined(c.log);
    SCOPED_TRACE(c.where);

    EXPECT_EQ(joined(test::run_parser(c.input, c.lim)), expected) << "fed whole";
    EXPECT_EQ(joined(test::run_parser_bytewise(c.input, c.lim)), expected) << "fed byte by byte";

    std::mt19937_64 rng(seed_of(c.name));
    const std::size_t n = c.input.size();
    for (int round = 0; round < 32 && n > 1; ++round) {
        const std::size_t max_cuts = std::min<std::size_t>(n - 1, 8);
        const std::size_t cut_count = 1 + rng() % max_cuts;
        std::set<std::size_t> cut_set;
        for (std::size_t i = 0; i < cut_count; ++i)
            cut_set.insert(1 + rng() % (n - 1));
        const std::vector<std::size_t> cuts(cut_set.begin(), cut_set.end());
        std::string where = "cuts:";
        for (const auto cut : cuts) {
            where += ' ';
            where += std::to_string(cut);
        }
        const std::string got = joined(test::run_parser(c.input, c.lim, cuts));
        if (got != expected) {
            ADD_FAILURE() << where << "\n got:\n" << got << " expected:\n" << expected;
            break;  // one split that fails says enough
        }
    }
}

// The input (and each of its prefixes) ends exactly at a PROT_NONE page: any read past
// the end crashes the test, with or without a sanitizer.
TEST_P(parser_case, GuardPage) {
    const parse_case& c = GetParam();
    ASSERT_TRUE(c.format_error.empty()) << c.format_error;
    SCOPED_TRACE(c.where);
    {
        const test::guarded_bytes bytes(c.input);
        ASSERT_TRUE(bytes.ok());
        EXPECT_EQ(joined(test::run_parser(bytes.view(), c.lim, {}, false)), joined(c.log));
    }
    // Every prefix logs a prefix of the nodes, then either waits for more or stops at the
    // same error as the whole input.
    const std::string& last = c.log.back();
    const bool ends_in_error = last.starts_with("error ");
    for (std::size_t k = 0; k < c.input.size(); ++k) {
        const test::guarded_bytes bytes(std::string_view(c.input).substr(0, k));
        ASSERT_TRUE(bytes.ok());
        std::vector<std::string> log = test::run_parser(bytes.view(), c.lim, {}, false);
        if (!log.empty() &&
            (log.back().starts_with("need_more ") || (ends_in_error && log.back() == last))) {
            log.pop_back();
        }
        ASSERT_LE(log.size(), c.log.size()) << "prefix " << k;
        EXPECT_TRUE(std::equal(log.begin(), log.end(), c.log.begin())) << "prefix " << k << "\n"
                                                                       << joined(log);
    }
}

std::string case_name(const ::testing::TestParamInfo<parse_case>& info) {
    std::string name;
    for (const char ch : info.param.name)
        name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    return name + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Data, parser_case, ::testing::ValuesIn(all_cases()), case_name);

TEST(ParserData, AtLeastFortyDistinctMalformedFrames) {
    std::set<std::string> inputs;
    std::set<std::string> codes;
    for (const auto& c : all_cases()) {
        if (c.where.starts_with("malformed.txt") && !c.log.empty() &&
            c.log.back().starts_with("error ")) {
            inputs.insert(c.input);
            codes.insert(c.log.back().substr(0, c.log.back().find(" @")));
        }
    }
    EXPECT_GE(inputs.size(), 40u);
    // Every error code that input alone can cause (all but the limits, which
    // limits.txt covers) appears in malformed.txt.
    for (const char* code :
         {"invalid_type_byte", "empty_number", "invalid_number", "number_overflow",
          "negative_length", "expected_crlf", "bare_lf", "invalid_boolean", "invalid_double",
          "invalid_big_number", "invalid_null", "invalid_verbatim", "streamed_not_supported"}) {
        EXPECT_TRUE(codes.count(std::string("error ") + code)) << code;
    }
}

TEST(Parser, ErrorIsStickyUntilReset) {
    parser p;
    node n;
    parse_result r = p.next("+OK\r\n", n);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(r.consumed, 5u);
    r = p.next(":1x\r\n", n);
    ASSERT_EQ(r.status, parse_status::error);
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_EQ(p.error(), make_error_code(errc::invalid_number));
    EXPECT_EQ(p.error_offset(), 7u);
    for (int i = 0; i < 3; ++i) {
        r = p.next("+OK\r\n", n);
        EXPECT_EQ(r.status, parse_status::error);
        EXPECT_EQ(r.consumed, 0u);
        EXPECT_EQ(p.error(), errc::invalid_number);
        EXPECT_EQ(p.error_offset(), 7u);
    }
    p.reset();
    EXPECT_FALSE(p.error());
    EXPECT_EQ(p.offset(), 0u);
    EXPECT_EQ(p.error_offset(), 0u);
    EXPECT_EQ(p.depth(), 0u);
    r = p.next("+OK\r\n", n);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(n.data, "OK");
    EXPECT_TRUE(p.message_complete());
}

TEST(Parser, ResetMidMessageStartsAFreshStream) {
    parser p;
    node n;
    ASSERT_EQ(p.next("*2\r\n", n).status, parse_status::complete);
    ASSERT_EQ(p.next("+a", n).status, parse_status::need_more);
    EXPECT_EQ(p.depth(), 1u);
    EXPECT_FALSE(p.message_complete());
    p.reset();
    EXPECT_EQ(p.depth(), 0u);
    const parse_result r = p.next(":5\r\n", n);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(n.depth, 0u);
    EXPECT_EQ(n.integer, 5);
    EXPECT_TRUE(p.message_complete());
}

TEST(Parser, ErrorOffsetCountsTheWholeStream) {
    parser p;
    node n;
    std::string stream;
    for (int i = 0; i < 100; ++i)
        stream += ":12345\r\n";
    stream += "$2\r\nab\r";
    stream += "x";
    std::size_t pos = 0;
    parse_result r{};
    for (int i = 0; i < 200; ++i) {
        r = p.next(std::string_view(stream).substr(pos), n);
        if (r.status != parse_status::complete) break;
        pos += r.consumed;
    }
    ASSERT_EQ(r.status, parse_status::error);
    EXPECT_EQ(p.error(), errc::expected_crlf);
    EXPECT_EQ(p.error_offset(), stream.size() - 1);
}

TEST(Parser, NeedMoreConsumesNothingWithoutSkippedAttributes) {
    parser p;
    node n;
    const parse_result r = p.next("$10\r\nabc", n);
    EXPECT_EQ(r.status, parse_status::need_more);
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_EQ(p.offset(), 0u);
}

TEST(Parser, NeedMoreKeepsSkippedAttributesConsumed) {
    limits lim;
    lim.skip_attributes = true;
    parser p(lim);
    node n;
    const std::string_view input = "|1\r\n+a\r\n+b\r\n$5\r\nab";
    parse_result r = p.next(input, n);
    EXPECT_EQ(r.status, parse_status::need_more);
    EXPECT_EQ(r.consumed, 12u);
    EXPECT_FALSE(p.message_complete());
    r = p.next("$5\r\nabcde\r\n", n);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(r.consumed, 11u);
    EXPECT_EQ(n.data, "abcde");
    EXPECT_TRUE(p.message_complete());
}

TEST(Parser, LimitsAreClampedToTheStackCapacity) {
    limits lim;
    lim.max_depth = 1000;
    const parser p(lim);
    EXPECT_EQ(p.get_limits().max_depth, max_depth_capacity);
}

TEST(Parser, ViewsOfAMessageStayValidUntilItCompletes) {
    // A caller that keeps the buffer until message_complete() can use every node's view.
    const std::string buffer = "*3\r\n$3\r\nfoo\r\n+bar\r\n=7\r\ntxt:baz\r\n";
    parser p;
    std::vector<node> nodes;
    std::size_t pos = 0;
    for (int i = 0; i < 10 && !(pos > 0 && p.message_complete()); ++i) {
        node n;
        const parse_result r = p.next(std::string_view(buffer).substr(pos), n);
        ASSERT_EQ(r.status, parse_status::complete);
        pos += r.consumed;
        nodes.push_back(n);
    }
    ASSERT_EQ(nodes.size(), 4u);
    EXPECT_EQ(pos, buffer.size());
    EXPECT_EQ(nodes[1].data, "foo");
    EXPECT_EQ(nodes[2].data, "bar");
    EXPECT_EQ(nodes[3].data, "baz");
    EXPECT_EQ(nodes[3].format, "txt");
}

// The parser's value of a double must be bit for bit what from_chars gives (correctly
// rounded), on its fast path (short mantissas, small exponents) and off it: random bit
// patterns printed with %.17g as Redis does, short decimals like scores, integers, and
// exponents on both sides of the fast path's +-22 bound.
TEST(Double, ValueIsFromCharsBitForBit) {
    std::mt19937_64 rng(42);
    std::vector<std::string> texts;
    char buffer[64];
    for (int i = 0; i < 20000; ++i) {
        double d = 0.0;
        do {
            d = std::bit_cast<double>(rng());
        } while (!std::isfinite(d));
        std::snprintf(buffer, sizeof buffer, "%.17g", d);
        texts.emplace_back(buffer);
        std::snprintf(buffer, sizeof buffer, "%llu.%03llu",
                      static_cast<unsigned long long>(rng() % 10000000),
                      static_cast<unsigned long long>(rng() % 1000));
        texts.emplace_back(buffer);
        std::snprintf(buffer, sizeof buffer, "%llu", static_cast<unsigned long long>(rng()));
        texts.emplace_back(buffer);
        std::snprintf(buffer, sizeof buffer, "%llue%d",
                      static_cast<unsigned long long>(rng() % (std::uint64_t{1} << 54)),
                      static_cast<int>(rng() % 61) - 30);
        texts.emplace_back(buffer);
        std::snprintf(buffer, sizeof buffer, "-0.%019llu",
                      static_cast<unsigned long long>(rng() % 10000000000000000000ULL));
        texts.emplace_back(buffer);
    }
    texts.insert(texts.end(), {"0", "-0", "0.0", "9007199254740993", "9007199254740992", "1e22",
                               "1e23", "1e-22", "1e-23", "123456789012345678.9",
                               "1.7976931348623157e308", "4.9406564584124654e-324"});
    parser p;
    for (const auto& text : texts) {
        const std::string wire = "," + text + "\r\n";
        node n;
        const parse_result r = p.next(wire, n);
        ASSERT_EQ(r.status, parse_status::complete) << text;
        double expected = 0.0;
        const std::string_view digits =
            text.front() == '-' ? std::string_view(text).substr(1) : std::string_view(text);
        ASSERT_EQ(std::from_chars(digits.data(), digits.data() + digits.size(), expected).ec,
                  std::errc{})
            << text;
        if (text.front() == '-') expected = -expected;
        EXPECT_EQ(std::bit_cast<std::uint64_t>(n.number), std::bit_cast<std::uint64_t>(expected))
            << text << ": " << n.number << " against " << expected;
    }
}

TEST(ErrorCategory, EveryCodeHasAMessage) {
    EXPECT_STREQ(resp_category().name(), "ksn.resp");
    for (int e = static_cast<int>(errc::invalid_type_byte);
         e <= static_cast<int>(errc::line_too_long); ++e) {
        const std::string m = make_error_code(static_cast<errc>(e)).message();
        EXPECT_FALSE(m.empty());
        EXPECT_EQ(m.find("unknown"), std::string::npos) << e;
    }
    // The test's table of names follows the enum.
    EXPECT_EQ(std::size(test::errc_names), static_cast<std::size_t>(errc::line_too_long) + 1);
    EXPECT_EQ(test::errc_name(static_cast<int>(errc::invalid_type_byte)), "invalid_type_byte");
    EXPECT_EQ(test::errc_name(static_cast<int>(errc::line_too_long)), "line_too_long");
    EXPECT_NE(make_error_code(static_cast<errc>(999)).message().find("unknown"), std::string::npos);
    const std::error_code ec = errc::bare_lf;
    EXPECT_EQ(ec.category(), resp_category());
}

}  // namespace
}  // namespace ksn::protocol
