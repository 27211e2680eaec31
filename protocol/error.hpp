// Error codes of the RESP protocol layer.
//
// Every malformed input the parser or the pub/sub fast path can meet maps to one of
// these codes. They are values, never exceptions: the parser returns them through
// parse_result and keeps the first one (sticky) together with the byte offset at which
// parsing failed, until reset(). A RESP stream cannot be resynchronised after an error,
// so the connection that produced it must be closed.
#pragma once

#include <string>
#include <system_error>

namespace ksn::protocol {

enum class errc : int {
    // 0 is reserved for success, as std::error_code expects.
    invalid_type_byte = 1,   ///< the first byte of a value is not a RESP2/RESP3 type byte
    empty_number,            ///< a length or integer field with no digits (`$\r\n`, `:\r\n`)
    invalid_number,          ///< a non-digit, a leading `+` or `0`, `-0`, or trailing bytes
    number_overflow,         ///< an integer outside int64, or a length with too many digits
    negative_length,         ///< a length below -1, or -1 where the type has no null form
    expected_crlf,           ///< `\r` not followed by `\n`, or data not followed by `\r\n`
    bare_lf,                 ///< a `\n` not preceded by `\r` inside a line
    invalid_boolean,         ///< `#` followed by anything but `t` or `f`
    invalid_double,          ///< `,` followed by text that is not a RESP3 double
    invalid_big_number,      ///< `(` followed by text that is not an optionally signed integer
    invalid_null,            ///< `_` not immediately followed by `\r\n`
    invalid_verbatim,        ///< `=` whose data is shorter than 4 bytes or lacks `:` at byte 3
    bulk_too_long,           ///< a declared bulk length above limits::max_bulk_length
    aggregate_too_large,     ///< a declared element count above limits::max_aggregate_size
    nesting_too_deep,        ///< aggregates nested deeper than limits::max_depth
    streamed_not_supported,  ///< RESP3 streamed strings or aggregates (`$?`, `*?`, `;`, `.`)
    line_too_long,           ///< a simple string, error or number longer than its limit
};

/// The category of errc; its messages are short English sentences.
const std::error_category& resp_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), resp_category()};
}

}  // namespace ksn::protocol

template <>
struct std::is_error_code_enum<ksn::protocol::errc> : std::true_type {};
