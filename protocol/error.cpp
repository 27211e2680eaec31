#include "protocol/error.hpp"

namespace ksn::protocol {
namespace {

class resp_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "ksn.resp"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::invalid_type_byte:
                return "invalid RESP type byte";
            case errc::empty_number:
                return "empty length or integer field";
            case errc::invalid_number:
                return "malformed length or integer (sign, leading zero or trailing bytes)";
            case errc::number_overflow:
                return "length or integer out of range";
            case errc::negative_length:
                return "negative length not allowed here";
            case errc::expected_crlf:
                return "expected CRLF";
            case errc::bare_lf:
                return "line feed without carriage return";
            case errc::invalid_boolean:
                return "malformed RESP3 boolean";
            case errc::invalid_double:
                return "malformed RESP3 double";
            case errc::invalid_big_number:
                return "malformed RESP3 big number";
            case errc::invalid_null:
                return "malformed RESP3 null";
            case errc::invalid_verbatim:
                return "malformed RESP3 verbatim string (needs a 3-byte format and ':')";
            case errc::bulk_too_long:
                return "bulk length exceeds the configured limit";
            case errc::aggregate_too_large:
                return "aggregate element count exceeds the configured limit";
            case errc::nesting_too_deep:
                return "aggregates nested deeper than the configured limit";
            case errc::streamed_not_supported:
                return "RESP3 streamed strings and aggregates are not supported";
            case errc::line_too_long:
                return "line exceeds the configured limit without CRLF";
        }
        return "unknown RESP error " + std::to_string(ev);
    }
};

}  // namespace

const std::error_category& resp_category() noexcept {
    static const resp_category_impl instance;
    return instance;
}

}  // namespace ksn::protocol
