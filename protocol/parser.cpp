#include "protocol/parser.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "protocol/detail/scan.hpp"

namespace ksn::protocol {

using detail::scan;
using detail::scan_error;

namespace {

// Longest double or big number text accepted before CRLF (Redis writes doubles with
// "%.17g": at most 24 bytes; big numbers are bounded by max_line_length instead).
constexpr std::size_t max_double_length = 512;

// RESP3 double grammar: [+-]? (inf | nan | digits [. digits] [(e|E) [+-]? digits]).
// The spec writes NaN as "nan"; servers before 7.2 format doubles with "%.17g", which
// prints "-nan" for a NaN with its sign bit set, so a sign is accepted there too.
bool valid_double_text(std::string_view s) noexcept {
    std::size_t i = 0;
    const std::size_t n = s.size();
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (s.substr(i) == "inf" || s.substr(i) == "nan") return true;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < n && detail::is_digit(s[i]))
            ++i;
        return i > start;
    };
    if (!digits()) return false;
    if (i < n && s[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == n;
}

// True when the (unsigned, grammar-checked, non-zero) decimal text is below 1 in
// magnitude, i.e. the decimal exponent of its first significant digit is negative. Only
// used for text that from_chars found out of range, to tell underflow from overflow.
bool below_one(std::string_view s) noexcept {
    std::size_t i = 0;
    std::int64_t exponent = -1;  // decimal exponent of the first significant digit
    bool significant = false;
    for (; i < s.size() && detail::is_digit(s[i]); ++i) {
        if (significant || s[i] != '0') {
            significant = true;
            ++exponent;
        }
    }
    if (i < s.size() && s[i] == '.') {
        for (++i; !significant && i < s.size() && detail::is_digit(s[i]); ++i) {
            if (s[i] != '0') {
                significant = true;
            } else {
                --exponent;
            }
        }
        while (i < s.size() && detail::is_digit(s[i]))
            ++i;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        const bool negative = i < s.size() && s[i] == '-';
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        // Saturate: any exponent beyond a few thousand decides the answer alone.
        std::int64_t e = 0;
        for (; i < s.size(); ++i)
            e = std::min<std::int64_t>(e * 10 + (s[i] - '0'), 1'000'000);
        exponent += negative ? -e : e;
    }
    return exponent < 0;
}

// The exact powers of ten a double holds: 10^0 .. 10^22.
constexpr double exact_powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                          1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                          1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The value of unsigned, grammar-checked decimal text when Clinger's fast path applies
// (see double_value()); false leaves it to from_chars.
bool fast_double_value(std::string_view s, double& out) noexcept {
    std::uint64_t mantissa = 0;
    int digits = 0;
    int exponent = 0;
    std::size_t i = 0;
    const std::size_t n = s.size();
    for (; i < n && detail::is_digit(s[i]); ++i, ++digits)
        mantissa = mantissa * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (i < n && s[i] == '.') {
        for (++i; i < n && detail::is_digit(s[i]); ++i, ++digits, --exponent)
            mantissa = mantissa * 10 + static_cast<std::uint64_t>(s[i] - '0');
    }
    if (digits > 19) return false;  // the mantissa may have wrapped
    if (i < n) {                    // (e|E) [+-] digits
        ++i;
        const bool negative = s[i] == '-';
        if (s[i] == '+' || s[i] == '-') ++i;
        int e = 0;
        for (; i < n; ++i) {
            e = e * 10 + (s[i] - '0');
            if (e > 1000) return false;
        }
        exponent += negative ? -e : e;
    }
    if (mantissa > (std::uint64_t{1} << 53) || exponent < -22 || exponent > 22) return false;
    const auto m = static_cast<double>(mantissa);
    out = exponent < 0 ? m / exact_powers_of_ten[-exponent] : m * exact_powers_of_ten[exponent];
    return true;
}

double double_value(std::string_view s) noexcept {
    const bool negative = s.front() == '-';
    if (s.front() == '+' || s.front() == '-') s.remove_prefix(1);
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") {
        return negative ? -std::numeric_limits<double>::infinity()
                        : std::numeric_limits<double>::infinity();
    }
    // Most doubles a server sends ("3.5", "1712345678.123") have at most 19 significant
    // digits forming a mantissa below 2^53 and a decimal exponent within +-22: then both
    // the mantissa and the power of ten are exact doubles, and one multiplication or
    // division by it rounds correctly (Clinger's fast path), giving what from_chars gives.
    if (double fast = 0.0; fast_double_value(s, fast)) return negative ? -fast : fast;
    double v = 0.0;
    // The grammar is already checked; from_chars reports out-of-range values as
    // result_out_of_range and leaves v untouched, so saturate those by hand: to 0 when
    // the value underflows ("1e-400", "0.000...1"), to infinity when it overflows.
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec == std::errc::result_out_of_range) {
        v = below_one(s) ? 0.0 : std::numeric_limits<double>::infinity();
    }
    return negative ? -v : v;
}

bool valid_big_number_text(std::string_view s) noexcept {
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i) {
        if (!detail::is_digit(s[i])) return false;
    }
    return true;
}

}  // namespace

parser::parser(const limits& lim) noexcept : limits_(lim) {
    limits_.max_depth = std::min(limits_.max_depth, max_depth_capacity);
}

void parser::reset() noexcept {
    depth_ = 0;
    in_attribute_prefix_ = false;
    attribute_levels_ = 0;
    error_.clear();
    error_offset_ = 0;
    offset_ = 0;
    scanned_ = 0;
}

parse_result parser::fail(errc e, std::size_t at) noexcept {
    error_ = make_error_code(e);
    error_offset_ = offset_ + at;
    return {parse_status::error, 0};
}

inline void parser::element_done(bool attribute) noexcept {
    // The common case inline: an element of an aggregate that has more to come.
    if (depth_ != 0 && !attribute && stack_[depth_ - 1].remaining > 1) [[likely]] {
        --stack_[depth_ - 1].remaining;
        return;
    }
    levels_done(attribute);
}

void parser::levels_done(bool attribute) noexcept {
    for (;;) {
        if (depth_ == 0) {
            in_attribute_prefix_ = attribute;
            return;
        }
        // An attribute describes the value after it and is not an element of its parent.
        if (attribute) return;
        level& top = stack_[depth_ - 1];
        if (--top.remaining > 0) return;
        attribute = top.attribute;
        if (attribute) --attribute_levels_;
        --depth_;
    }
}

parse_result parser::next_skipping(std::string_view input, node& out) noexcept {
    if (error_) return {parse_status::error, 0};
    std::size_t total = 0;
    for (;;) {
        const bool inside = attribute_levels_ > 0;
        const parse_result r = one(input.substr(total), out);
        if (r.status != parse_status::complete) {
            // Skipped attribute bytes stay consumed; error offsets already count them.
            return {r.status, r.status == parse_status::error ? 0 : total};
        }
        total += r.consumed;
        offset_ += r.consumed;
        if (!inside && out.type != resp_type::attribute) return {parse_status::complete, total};
    }
}

parse_result parser::one(std::string_view input, node& out) noexcept {
    const char* const begin = input.data();
    const char* const end = begin + input.size();
    if (begin == end) return {parse_status::need_more, 0};

    const auto type_byte = *begin;
    const char* p = begin + 1;
    const auto at = [begin](const char* q) { return static_cast<std::size_t>(q - begin); };
    scan_error err;
    const auto failed = [&] { return fail(err.code, at(err.at)); };

    out.depth = depth_;
    out.aggregate_size = 0;
    out.data = {};
    out.format = {};
    out.integer = 0;
    out.number = 0.0;

    // A value that is not an aggregate (or an empty aggregate) ends here.
    const auto scalar = [&](resp_type t, const char* next) {
        out.type = t;
        scanned_ = 0;
        element_done(t == resp_type::attribute);
        return parse_result{parse_status::complete, at(next)};
    };

    // Finds the CRLF ending a line that starts at p; a bare '\n' or a '\r' not followed
    // by '\n' is an error. Remembers how far it scanned when the line is incomplete.
    const char* line_end = nullptr;
    const auto find_line = [&](std::uint64_t max_length) -> scan {
        // Only the first max_length + 1 bytes can hold the '\r', so only they are
        // searched: the answer then depends on the same bytes however the input is split.
        const auto available = static_cast<std::uint64_t>(end - p);
        const bool whole_window = available > max_length;
        const char* const window_end = whole_window ? p + max_length + 1 : end;
        const char* from = p + std::min<std::size_t>(scanned_, window_end - p);
        const auto* cr = static_cast<const char*>(std::memchr(from, '\r', window_end - from));
        const char* stop = cr ? cr : window_end;
        if (const auto* lf = static_cast<const char*>(std::memchr(from, '\n', stop - from))) {
            err = {errc::bare_lf, lf};
            return scan::error;
        }
        if (!cr) {
            if (whole_window) {
                err = {errc::line_too_long, p + max_length};
                return scan::error;
            }
            scanned_ = static_cast<std::size_t>(end - p);
            return scan::need_more;
        }
        const scan s = detail::scan_crlf(cr, end, err);
        if (s == scan::need_more) scanned_ = static_cast<std::size_t>(cr - p);
        if (s != scan::ok) return s;
        line_end = cr;
        return scan::ok;
    };

    switch (type_byte) {
        case '+':
        case '-': {
            const scan s = find_line(limits_.max_line_length);
            if (s == scan::need_more) return {parse_status::need_more, 0};
            if (s == scan::error) return failed();
            out.data = {p, static_cast<std::size_t>(line_end - p)};
            return scalar(static_cast<resp_type>(type_byte), line_end + 2);
        }
        case ':': {
            const char* next = nullptr;
            const scan s = detail::scan_integer(p, end, out.integer, next, err);
            if (s == scan::need_more) return {parse_status::need_more, 0};
            if (s == scan::error) return failed();
            out.data = {p, static_cast<std::size_t>(next - 2 - p)};
            return scalar(resp_type::integer, next);
        }
        case '$':
        case '!':
        case '=': {
            // Only bulk strings have a streamed form; "!?" and "=?" are just malformed.
            if (type_byte == '$' && p != end && *p == '?') {
                return fail(errc::streamed_not_supported, at(p));
            }
            std::int64_t len = 0;
            const char* data = nullptr;
            const scan s = detail::scan_length(p, end, type_byte == '$', len, data, err);
            if (s == scan::need_more) return {parse_status::need_more, 0};
            if (s == scan::error) return failed();
            if (len < 0) return scalar(resp_type::null, data);
            const auto n = static_cast<std::uint64_t>(len);
            if (n > limits_.max_bulk_length) return fail(errc::bulk_too_long, at(p));
            // The data is skipped by its length, never scanned. The CRLF after it is
            // checked byte by byte as it arrives, so a wrong byte is reported at once
            // (not after one more byte that may never come).
            const auto available = static_cast<std::uint64_t>(end - data);
            if (available <= n) return {parse_status::need_more, 0};
            const char* const data_end = data + n;
            if (data_end[0] != '\r') return fail(errc::expected_crlf, at(data_end));
            if (available == n + 1) return {parse_status::need_more, 0};
            if (data_end[1] != '\n') return fail(errc::expected_crlf, at(data_end + 1));
            out.data = {data, static_cast<std::size_t>(n)};
            if (type_byte == '=') {
                if (n < 4 || data[3] != ':') {
                    return fail(errc::invalid_verbatim, at(n < 4 ? data : data + 3));
                }
                out.format = out.data.substr(0, 3);
                out.data.remove_prefix(4);
            }
            return scalar(static_cast<resp_type>(type_byte), data_end + 2);
        }
        case '*':
        case '%':
        case '~':
        case '|':
        case '>': {
            if (p != end && *p == '?') return fail(errc::streamed_not_supported, at(p));
            std::int64_t count = 0;
            const char* next = nullptr;
            const scan s = detail::scan_length(p, end, type_byte == '*', count, next, err);
            if (s == scan::need_more) return {parse_status::need_more, 0};
            if (s == scan::error) return failed();
            if (count < 0) return scalar(resp_type::null, next);
            const auto n = static_cast<std::uint64_t>(count);
            if (n > limits_.max_aggregate_size) return fail(errc::aggregate_too_large, at(p));
            const auto type = static_cast<resp_type>(type_byte);
            out.aggregate_size = n;
            if (n == 0) return scalar(type, next);
            if (depth_ >= limits_.max_depth) return fail(errc::nesting_too_deep, 0);
            const bool pairs = type == resp_type::map || type == resp_type::attribute;
            const bool attribute = type == resp_type::attribute;
            stack_[depth_++] = level{pairs ? n * 2 : n, attribute};
            if (attribute) ++attribute_levels_;
            out.type = type;
            scanned_ = 0;
            return {parse_status::complete, at(next)};
        }
        case '_': {
            const scan s = detail::scan_crlf(p, end, err);
            if (s == scan::need_more) return {parse_status::need_more, 0};
            if (s == scan::error) return fail(errc::invalid_null, at(p));
            return scalar(resp_type::null, p + 2);
        }
        case '#': {
            if (p == end) return {parse_status::need_more, 0};
            if (*p != 't' && *p != 'f') return fail(errc::invalid_boolean, at(p));
            const scan s = detail::scan_crlf(p + 1, end, err);
            if (s == scan::need_more) return {parse_status::need_more, 0};
            if (s == scan::error) return fail(errc::invalid_boolean, at(p + 1));
            out.data = {p, 1};
            out.integer = *p == 't' ? 1 : 0;
            return scalar(resp_type::boolean, p + 3);
        }
        case ',':
        case '(': {
            const bool is_double = type_byte == ',';
            const scan s = find_line(is_double ? max_double_length : limits_.max_line_length);
            if (s == scan::need_more) return {parse_status::need_more, 0};
            if (s == scan::error) {
                // A line that is too long for a double is simply not a double.
                if (is_double && err.code == errc::line_too_long) err.code = errc::invalid_double;
                return failed();
            }
            const std::string_view text{p, static_cast<std::size_t>(line_end - p)};
            if (is_double) {
                if (!valid_double_text(text)) return fail(errc::invalid_double, at(p));
                out.number = double_value(text);
            } else if (!valid_big_number_text(text)) {
                return fail(errc::invalid_big_number, at(p));
            }
            out.data = text;
            return scalar(static_cast<resp_type>(type_byte), line_end + 2);
        }
        case ';':
        case '.':
            return fail(errc::streamed_not_supported, 0);
        default:
            return fail(errc::invalid_type_byte, 0);
    }
}

}  // namespace ksn::protocol
