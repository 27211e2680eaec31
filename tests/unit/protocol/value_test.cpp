// Tests of value_reader: the owned tree it builds, attributes attached to their values,
// streams split anywhere, and sticky errors.
#include "protocol/value.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "parse_driver.hpp"

namespace ksn::protocol {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// A compact text form of a tree: type byte, data, then elements in brackets and
// attributes in braces.
std::string text(const value& v) {
    std::string s(1, static_cast<char>(v.type));
    if (!v.attributes.empty()) {
        s += "{";
        for (const auto& a : v.attributes)
            s += text(a) + " ";
        s.back() = '}';
    }
    if (!v.format.empty()) s += v.format + ":";
    s += test::escape(v.data);
    if (v.is_aggregate()) {
        s += "[";
        for (const auto& e : v.elements)
            s += text(e) + " ";
        if (!v.elements.empty()) s.pop_back();
        s += "]";
    }
    return s;
}

// Reads every value of `input`, fed in chunks of `chunk` bytes (0: whole).
std::vector<std::string> read_all(std::string_view input, std::size_t chunk = 0,
                                  const limits& lim = {}) {
    value_reader reader(lim);
    std::vector<std::string> out;
    std::string pending;
    std::size_t fed = 0;
    for (std::size_t round = 0; round <= input.size() + 1; ++round) {
        const std::size_t n = chunk == 0 ? input.size() - fed : std::min(chunk, input.size() - fed);
        pending.append(input.substr(fed, n));
        fed += n;
        for (int i = 0; i < 64; ++i) {
            value v;
            const parse_result r = reader.read(pending, v);
            pending.erase(0, r.consumed);
            if (r.status == parse_status::error) {
                out.push_back("error " + test::errc_name(reader.error().value()) + " @" +
                              std::to_string(reader.error_offset()));
                return out;
            }
            if (r.status == parse_status::need_more) break;
            out.push_back(text(v));
        }
        if (fed == input.size()) break;
    }
    if (!pending.empty()) out.push_back("pending " + std::to_string(pending.size()));
    return out;
}

void expect_read(std::string_view input, const std::vector<std::string>& expected,
                 const limits& lim = {}) {
    EXPECT_EQ(read_all(input, 0, lim), expected) << "whole";
    for (const std::size_t chunk : {1, 2, 3, 7})
        EXPECT_EQ(read_all(input, chunk, lim), expected) << "chunks of " << chunk;
}

TEST(ValueReader, Scalars) {
    value_reader reader;
    value v;
    const std::string in = ":-12\r\n,2.5\r\n#t\r\n=7\r\nmkd:# x\r\n_\r\n$3\r\na\0b\r\n"s;
    std::size_t pos = 0;
    const auto read = [&] {
        const parse_result r = reader.read(std::string_view(in).substr(pos), v);
        EXPECT_EQ(r.status, parse_status::complete);
        pos += r.consumed;
    };
    read();
    EXPECT_EQ(v.type, resp_type::integer);
    EXPECT_EQ(v.integer, -12);
    read();
    EXPECT_EQ(v.type, resp_type::double_number);
    EXPECT_EQ(v.number, 2.5);
    read();
    EXPECT_EQ(v.type, resp_type::boolean);
    EXPECT_EQ(v.integer, 1);
    read();
    EXPECT_EQ(v.type, resp_type::verbatim_string);
    EXPECT_EQ(v.format, "mkd");
    EXPECT_EQ(v.data, "# x");
    EXPECT_TRUE(v.is_string());
    read();
    EXPECT_TRUE(v.is_null());
    read();
    EXPECT_EQ(v.data, "a\0b"sv);
    EXPECT_EQ(pos, in.size());
}

TEST(ValueReader, NestedTreeShape) {
    expect_read("*3\r\n:1\r\n*2\r\n+a\r\n*0\r\n%1\r\n+k\r\n~2\r\n:2\r\n:3\r\n",
                {"*[:1 *[+a *[]] %[+k ~[:2 :3]]]"});
}

TEST(ValueReader, MapKeysAndValuesAlternate) {
    value_reader reader;
    value v;
    const std::string_view in = "%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n";
    const parse_result r = reader.read(in, v);
    ASSERT_EQ(r.status, parse_status::complete);
    ASSERT_EQ(v.type, resp_type::map);
    ASSERT_EQ(v.elements.size(), 4u);
    EXPECT_EQ(v.elements[0].data, "a");
    EXPECT_EQ(v.elements[1].integer, 1);
    EXPECT_EQ(v.elements[2].data, "b");
    ASSERT_EQ(v.elements[3].elements.size(), 1u);
    EXPECT_EQ(v.elements[3].elements[0].integer, 2);
}

TEST(ValueReader, AttributesAttachToTheFollowingValue) {
    // Top level, and inside an array (where the attribute is not an element).
    expect_read("|1\r\n+ttl\r\n:10\r\n$1\r\nv\r\n*2\r\n:1\r\n|1\r\n+a\r\n*1\r\n:2\r\n:3\r\n",
                {"${+ttl :10}v", "*[:1 :{+a *[:2]}3]"});
    // Two attributes in a row: their pairs are merged in order.
    expect_read("|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n+v\r\n", {"+{+a +b +c +d}v"});
    expect_read("*1\r\n|0\r\n|1\r\n+c\r\n*1\r\n:1\r\n:2\r\n", {"*[:{+c *[:1]}2]"});
}

TEST(ValueReader, SkippedAttributesAreNotAttached) {
    limits lim;
    lim.skip_attributes = true;
    expect_read("|1\r\n+ttl\r\n:10\r\n$1\r\nv\r\n*2\r\n:1\r\n|1\r\n+a\r\n*1\r\n:2\r\n:3\r\n",
                {"$v", "*[:1 :3]"}, lim);
}

TEST(ValueReader, SeveralMessagesAndAPartialOne) {
    // The nodes of the partial value are taken as they are read; only the partial bulk
    // string stays with the caller.
    expect_read("+OK\r\n>2\r\n+a\r\n+b\r\n:1\r\n*2\r\n:1\r\n$3\r\nab",
                {"+OK", ">[+a +b]", ":1", "pending 6"});
}

TEST(ValueReader, DeepNestingBuildsTheWholeChain) {
    std::string in;
    std::string want;
    for (int i = 0; i < 32; ++i) {
        in += "*1\r\n";
        want += "*[";
    }
    in += ":7\r\n";
    want += ":7" + std::string(32, ']');
    expect_read(in, {want});
}

TEST(ValueReader, ErrorIsStickyAndResetRecovers) {
    expect_read("*2\r\n:1\r\n:1x\r\n", {"error invalid_number @10"});
    value_reader reader;
    value v;
    parse_result r = reader.read("*2\r\n:1\r\n:x\r\n", v);
    EXPECT_EQ(r.status, parse_status::error);
    EXPECT_EQ(r.consumed, 8u);  // the nodes before the error were taken
    EXPECT_EQ(reader.error(), errc::invalid_number);
    EXPECT_EQ(reader.error_offset(), 9u);
    r = reader.read("+OK\r\n", v);
    EXPECT_EQ(r.status, parse_status::error);
    reader.reset();
    EXPECT_FALSE(reader.error());
    r = reader.read("+OK\r\n", v);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(text(v), "+OK");
}

TEST(ValueReader, ResetDropsAPartialTreeAndPendingAttributes) {
    value_reader reader;
    value v;
    EXPECT_EQ(reader.read("*2\r\n|1\r\n+a\r\n+b\r\n", v).status, parse_status::need_more);
    reader.reset();
    ASSERT_EQ(reader.read("*1\r\n:5\r\n", v).status, parse_status::complete);
    EXPECT_EQ(text(v), "*[:5]");
}

}  // namespace
}  // namespace ksn::protocol
