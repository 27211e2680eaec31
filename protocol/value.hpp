// An owned RESP value tree and a reader that builds one from the pull parser.
//
// This is the convenient, allocating path for command replies off the hot path
// (HELLO, CONFIG GET, CLUSTER SLOTS) and for tests. Notifications never go through it:
// they use the zero-copy pub/sub fast path (pubsub.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parser.hpp"

namespace ksn::protocol {

struct value {
    resp_type type = resp_type::null;
    /// As node::data, owned.
    std::string data;
    /// The 3-byte format of a verbatim string.
    std::string format;
    std::int64_t integer = 0;
    double number = 0.0;
    /// Elements of an aggregate; a map's or attribute's keys and values alternate.
    std::vector<value> elements;
    /// Key/value pairs (alternating) of the attributes that preceded this value, if any.
    std::vector<value> attributes;

    bool is_null() const noexcept { return type == resp_type::null; }
    bool is_error() const noexcept {
        return type == resp_type::simple_error || type == resp_type::bulk_error;
    }
    /// True for simple strings, bulk strings and verbatim strings.
    bool is_string() const noexcept {
        return type == resp_type::simple_string || type == resp_type::bulk_string ||
               type == resp_type::verbatim_string;
    }
    bool is_aggregate() const noexcept { return protocol::is_aggregate(type); }
};

/// Builds whole values from a byte stream, one top-level value at a time.
class value_reader {
  public:
    explicit value_reader(const limits& lim = {}) noexcept : parser_(lim) {}

    /// Parses from the front of `input`. complete: a whole top-level value is ready in
    /// `out` (take it before the next call). need_more: give the unconsumed bytes again
    /// with more. error: see error() / error_offset(); sticky until reset().
    /// `consumed` bytes are taken in every case (parsed nodes are copied out, so the
    /// caller may drop them at once).
    [[nodiscard]] parse_result read(std::string_view input, value& out);

    std::error_code error() const noexcept { return parser_.error(); }
    std::uint64_t error_offset() const noexcept { return parser_.error_offset(); }
    void reset() noexcept;

  private:
    parser parser_;
    value root_;
    std::vector<value*> open_;  // open_[d]: the aggregate whose elements are at depth d+1
    std::array<value, max_depth_capacity + 1> pending_attributes_;
    std::array<bool, max_depth_capacity + 1> has_pending_{};
};

}  // namespace ksn::protocol
