#include "protocol/encoder.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocol/value.hpp"

namespace ksn::protocol {
namespace {

using namespace std::string_view_literals;

TEST(Encoder, WritesArrayOfBulkStrings) {
    std::string out;
    append_command(out, {"SUBSCRIBE", "__keyspace@0__:*"});
    EXPECT_EQ(out, "*2\r\n$9\r\nSUBSCRIBE\r\n$16\r\n__keyspace@0__:*\r\n");
}

TEST(Encoder, SizeIsExactAndAppends) {
    const std::string big(12345, 'x');
    const std::vector<std::string_view> args{"SET", "k\0\r\n"sv, "", big};
    std::string out = "prefix";
    append_command(out, args);
    EXPECT_EQ(out.size(), 6 + command_size(args));
    EXPECT_EQ(out.substr(0, 6), "prefix");
}

TEST(Encoder, RoundTripsBinaryArgumentsThroughTheParser) {
    const std::vector<std::string_view> args{"PUBLISH", "a\0b\r\nc"sv, "", "\xff\xfe"sv};
    std::string out;
    append_command(out, args);
    value_reader reader;
    value v;
    const parse_result r = reader.read(out, v);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(r.consumed, out.size());
    ASSERT_EQ(v.type, resp_type::array);
    ASSERT_EQ(v.elements.size(), args.size());
    for (std::size_t i = 0; i < args.size(); ++i) {
        EXPECT_EQ(v.elements[i].type, resp_type::bulk_string);
        EXPECT_EQ(v.elements[i].data, args[i]);
    }
}

TEST(Encoder, EmptyCommandIsAnEmptyArray) {
    std::string out;
    append_command(out, std::span<const std::string_view>{});
    EXPECT_EQ(out, "*0\r\n");
}

}  // namespace
}  // namespace ksn::protocol
