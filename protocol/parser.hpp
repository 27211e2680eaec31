// Incremental, zero-copy RESP2/RESP3 pull parser.
//
// The caller owns the bytes. parser::next() reads one value header (and, for scalars,
// the value) from the front of the caller's buffer, describes it in a `node` whose views
// point into that buffer, and says how many bytes it consumed. Aggregates are reported
// as a header node followed by their elements, depth first; the parser keeps the
// nesting on a fixed-size stack and allocates nothing.
//
// Contract:
//  - Input may be split at any byte boundary. When next() answers need_more, the caller
//    passes the same unconsumed bytes again, followed by more. The parser never reads
//    past the end of what it is given.
//  - Views in a node stay valid as long as the caller keeps those bytes in place; a
//    caller that compacts its buffer only at message boundaries (message_complete())
//    keeps every node of the current message valid.
//  - Every length and number is validated strictly (see errc). Limits are checked on
//    the header, before waiting for the bytes it announces; nothing is preallocated
//    from a declared size. Bulk data is skipped by its declared length, never scanned;
//    the CRLF after it is checked byte by byte as it arrives, so a wrong byte there is
//    reported at once.
//  - Errors are sticky: after one, every call answers error until reset(). error()
//    and error_offset() tell what and where (offset from the start of the stream).
//
// Types: every RESP2 and RESP3 type is parsed: simple string `+`, simple error `-`,
// integer `:`, bulk string `$`, array `*`, null `_` (and RESP2 `$-1` / `*-1`, reported as
// null), boolean `#`, double `,` (including `inf`, `-inf`, `nan`, and the `-nan` that
// servers before 7.2 print with "%.17g"; out-of-range values saturate to 0 or infinity),
// big number `(`, bulk error `!`, verbatim string `=` (3-byte format exposed), map `%`,
// set `~`, attribute `|` (reported, or skipped when limits::skip_attributes is set) and
// push `>`. RESP3 streamed strings and aggregates (`$?`, `*?`, `%?`, `~?`, `|?`, `>?`, `;`,
// `.`) are rejected with errc::streamed_not_supported: no Redis server sends them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

#include "error.hpp"

namespace ksn::protocol {

/// RESP type of a value; each enumerator equals its type byte on the wire.
enum class resp_type : char {
    simple_string = '+',
    simple_error = '-',
    integer = ':',
    bulk_string = '$',
    array = '*',
    null = '_',
    boolean = '#',
    double_number = ',',
    big_number = '(',
    bulk_error = '!',
    verbatim_string = '=',
    map = '%',
    set = '~',
    attribute = '|',
    push = '>',
};

/// True for the types whose node is followed by its elements.
constexpr bool is_aggregate(resp_type t) noexcept {
    return t == resp_type::array || t == resp_type::map || t == resp_type::set ||
           t == resp_type::attribute || t == resp_type::push;
}

/// Parser limits. The defaults suit a client of a Redis server.
struct limits {
    /// Largest bulk/verbatim/bulk-error length accepted; the server's own
    /// proto-max-bulk-len default is 512 MiB.
    std::uint64_t max_bulk_length = 512ULL * 1024 * 1024;
    /// Largest declared element count of an array, set or push, or pair count of a map or
    /// attribute (hiredis uses the same default, 2^32 - 1).
    std::uint64_t max_aggregate_size = 0xFFFFFFFFULL;
    /// Deepest nesting accepted; a top-level aggregate's elements are at depth 1.
    /// Values above max_depth_capacity are treated as max_depth_capacity.
    std::uint32_t max_depth = 32;
    /// Longest simple string, simple error, double or big number line (without CRLF).
    std::uint64_t max_line_length = 64ULL * 1024 * 1024;
    /// When set, attributes (`|`) and everything inside them are consumed silently.
    bool skip_attributes = false;
};

/// The fixed capacity of the parser's nesting stack.
inline constexpr std::uint32_t max_depth_capacity = 64;

/// One value header or scalar, as reported by parser::next().
struct node {
    resp_type type = resp_type::null;
    /// Nesting depth: 0 for a top-level value, 1 for its elements, and so on.
    std::uint32_t depth = 0;
    /// Elements of an array/set/push, pairs of a map/attribute; 0 for scalars.
    std::uint64_t aggregate_size = 0;
    /// Contents of a string-like value (simple string, error, bulk string, bulk error,
    /// verbatim text after its "fmt:" prefix), or the text of an integer, boolean,
    /// double or big number. Empty for null and aggregates.
    std::string_view data;
    /// The 3-byte format of a verbatim string ("txt", "mkd"); empty otherwise.
    std::string_view format;
    /// Value of an integer; 1 or 0 for a boolean.
    std::int64_t integer = 0;
    /// Value of a double.
    double number = 0.0;
};

enum class parse_status : std::uint8_t {
    complete,   ///< a node was produced
    need_more,  ///< the input ends inside a value; call again with more bytes
    error,      ///< the input is malformed; see parser::error()
};

struct parse_result {
    parse_status status;
    /// Bytes of the input taken by this call; the caller must not pass them again.
    /// Non-zero only for complete, or for need_more after skipped attributes.
    std::size_t consumed;
};

class parser {
  public:
    explicit parser(const limits& lim = {}) noexcept;

    /// Parses the next node from the front of `input`.
    /// Returns complete (with the node in `out`), need_more, or error (sticky; the
    /// error code is one of errc).
    [[nodiscard]] parse_result next(std::string_view input, node& out) noexcept {
        if (!error_ && !limits_.skip_attributes) [[likely]] {
            const parse_result r = one(input, out);
            if (r.status == parse_status::complete) offset_ += r.consumed;
            return r;
        }
        return next_skipping(input, out);
    }

    /// True when the last node completed a top-level value (the stack is empty).
    bool message_complete() const noexcept { return depth_ == 0 && !in_attribute_prefix_; }

    /// Current nesting depth (0 between messages).
    std::uint32_t depth() const noexcept { return depth_; }

    /// The sticky error, or an empty error_code.
    std::error_code error() const noexcept { return error_; }

    /// Byte offset, from the start of the stream (or the last reset), of the first byte
    /// that made the input malformed.
    std::uint64_t error_offset() const noexcept { return error_offset_; }

    /// Bytes consumed since construction or the last reset.
    std::uint64_t offset() const noexcept { return offset_; }

    /// Forgets all state, including a sticky error, for a new stream.
    void reset() noexcept;

    const limits& get_limits() const noexcept { return limits_; }

  private:
    struct level {
        std::uint64_t remaining;  // elements still to come at this level
        bool attribute;           // level belongs to an attribute
    };

    parse_result one(std::string_view input, node& out) noexcept;
    // next() after an error, or with skip_attributes.
    parse_result next_skipping(std::string_view input, node& out) noexcept;
    parse_result fail(errc e, std::size_t at) noexcept;
    inline void element_done(bool attribute) noexcept;
    [[gnu::noinline]] void levels_done(bool attribute) noexcept;

    limits limits_;
    std::array<level, max_depth_capacity> stack_{};
    std::uint32_t depth_ = 0;
    // Levels on the stack that belong to an attribute.
    std::uint32_t attribute_levels_ = 0;
    // A top-level attribute was read and its value has not arrived yet.
    bool in_attribute_prefix_ = false;
    std::error_code error_;
    std::uint64_t error_offset_ = 0;
    std::uint64_t offset_ = 0;
    // Bytes of the current line already scanned without finding CRLF (avoids rescanning
    // a long simple string that arrives in pieces).
    std::size_t scanned_ = 0;
};

}  // namespace ksn::protocol
