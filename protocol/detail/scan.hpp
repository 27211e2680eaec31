// Strict scanners for RESP number fields, shared by the generic parser and the pub/sub
// fast path so that both accept exactly the same bytes. Internal: not installed.
//
// Each scanner looks at [p, end), never past end, and answers ok (with the value and the
// position after the CRLF), need_more (the bytes so far are a valid prefix) or error
// (with the code and the offending byte). The answer depends only on the bytes seen, so
// a field split at any boundary yields the same final answer as the field whole.
#pragma once

#include <cstdint>

#include "../error.hpp"

namespace ksn::protocol::detail {

enum class scan : std::uint8_t { ok, need_more, error };

struct scan_error {
    errc code{};
    const char* at = nullptr;
};

constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// Checks "\r\n" at p. A lone '\n' is bare_lf, '\r' followed by anything else is
/// expected_crlf.
inline scan scan_crlf(const char* p, const char* end, scan_error& err) noexcept {
    if (p == end) return scan::need_more;
    if (*p != '\r') {
        err = {*p == '\n' ? errc::bare_lf : errc::expected_crlf, p};
        return scan::error;
    }
    if (p + 1 == end) return scan::need_more;
    if (p[1] != '\n') {
        err = {errc::expected_crlf, p + 1};
        return scan::error;
    }
    return scan::ok;
}

/// The usual 1- or 2-digit length field ("7\r\n", "42\r\n"), decoded without a loop when at
/// least 4 bytes are there. Answers true only where scan_length() answers ok, with the
/// same value and `next`; false means "ask scan_length()".
inline bool scan_short_length(const char* p, const char* end, std::uint64_t& value,
                              const char*& next) noexcept {
    if (end - p < 4) return false;
    const unsigned d0 = static_cast<unsigned char>(p[0]) - unsigned{'0'};
    if (d0 > 9) return false;
    if (p[1] == '\r') {
        if (p[2] != '\n') return false;
        value = d0;
        next = p + 3;
        return true;
    }
    const unsigned d1 = static_cast<unsigned char>(p[1]) - unsigned{'0'};
    if (d0 == 0 || d1 > 9 || p[2] != '\r' || p[3] != '\n') return false;
    value = d0 * 10 + d1;
    next = p + 4;
    return true;
}

/// Parses a length field "<digits>\r\n" (or "-1\r\n" when allow_null) starting at p.
/// Rejects an empty field, a sign other than the "-1" of null, leading zeros, non-digits
/// and more than 18 digits (no real length needs them; this keeps the arithmetic exact).
/// On ok, `value` is the length (-1 for null) and `next` points after the CRLF.
inline scan scan_length(const char* p, const char* end, bool allow_null, std::int64_t& value,
                        const char*& next, scan_error& err) noexcept {
    std::uint64_t short_value = 0;
    if (scan_short_length(p, end, short_value, next)) {
        value = static_cast<std::int64_t>(short_value);
        return scan::ok;
    }
    if (p == end) return scan::need_more;
    if (*p == '-') {
        // Only "-1" is a legal negative length, and only where the type has a null form.
        const char* q = p + 1;
        if (q == end) return scan::need_more;
        if (*q == '\r' || *q == '\n') {
            err = {errc::empty_number, q};
            return scan::error;
        }
        if (!is_digit(*q)) {
            err = {errc::invalid_number, q};
            return scan::error;
        }
        if (*q != '1' || !allow_null) {
            err = {*q == '0' ? errc::invalid_number : errc::negative_length, p};
            return scan::error;
        }
        ++q;
        if (q == end) return scan::need_more;
        if (is_digit(*q)) {
            err = {errc::negative_length, p};
            return scan::error;
        }
        if (*q != '\r') {
            err = {*q == '\n' ? errc::bare_lf : errc::invalid_number, q};
            return scan::error;
        }
        const scan s = scan_crlf(q, end, err);
        if (s != scan::ok) return s;
        value = -1;
        next = q + 2;
        return scan::ok;
    }
    const char* q = p;
    std::uint64_t v = 0;
    while (q != end && is_digit(*q)) {
        if (q - p == 18) {
            err = {errc::number_overflow, q};
            return scan::error;
        }
        if (q != p && *p == '0') {
            err = {errc::invalid_number, q};
            return scan::error;
        }
        v = v * 10 + static_cast<std::uint64_t>(*q - '0');
        ++q;
    }
    if (q == end) return scan::need_more;
    if (q == p) {
        err = {(*q == '\r' || *q == '\n') ? errc::empty_number : errc::invalid_number, q};
        return scan::error;
    }
    if (*q != '\r') {
        err = {*q == '\n' ? errc::bare_lf : errc::invalid_number, q};
        return scan::error;
    }
    const scan s = scan_crlf(q, end, err);
    if (s != scan::ok) return s;
    value = static_cast<std::int64_t>(v);
    next = q + 2;
    return scan::ok;
}

/// Parses a RESP integer "[-]<digits>\r\n" into int64: no '+', no leading zeros, no
/// "-0", no overflow (INT64_MIN is accepted).
inline scan scan_integer(const char* p, const char* end, std::int64_t& value, const char*& next,
                         scan_error& err) noexcept {
    if (p == end) return scan::need_more;
    const bool negative = *p == '-';
    const char* digits = negative ? p + 1 : p;
    const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
    const char* q = digits;
    std::uint64_t v = 0;
    while (q != end && is_digit(*q)) {
        if (q != digits && *digits == '0') {
            err = {errc::invalid_number, q};
            return scan::error;
        }
        const auto d = static_cast<std::uint64_t>(*q - '0');
        if (v > (limit - d) / 10) {
            err = {errc::number_overflow, q};
            return scan::error;
        }
        v = v * 10 + d;
        ++q;
    }
    if (q == end) return scan::need_more;
    if (q == digits) {
        err = {(*q == '\r' || *q == '\n') ? errc::empty_number : errc::invalid_number, q};
        return scan::error;
    }
    if (*q != '\r') {
        err = {*q == '\n' ? errc::bare_lf : errc::invalid_number, q};
        return scan::error;
    }
    if (negative && v == 0) {
        err = {errc::invalid_number, p};
        return scan::error;
    }
    const scan s = scan_crlf(q, end, err);
    if (s != scan::ok) return s;
    value = negative ? static_cast<std::int64_t>(~v + 1) : static_cast<std::int64_t>(v);
    next = q + 2;
    return scan::ok;
}

}  // namespace ksn::protocol::detail
