// RESP frames for tests of `ksn parse`: what a server sends to a subscriber, built from
// parts (the unit tests of the decoder and the tests of the ksn program share them).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "protocol/encoder.hpp"

namespace ksn::test {

/// `$<len>\r\n<bytes>\r\n`.
inline std::string bulk(std::string_view s) {
    return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

/// An array (`*`, RESP2) or push (`>`, RESP3) of bulk strings.
inline std::string frame(char type, std::initializer_list<std::string_view> items) {
    std::string out;
    protocol::append_command(out, items);
    out[0] = type;
    return out;
}

}  // namespace ksn::test
