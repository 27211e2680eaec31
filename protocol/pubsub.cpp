#include "protocol/pubsub.hpp"

#include <cstring>

#include "protocol/detail/scan.hpp"

namespace ksn::protocol {

using detail::scan;

std::string_view to_string(pubsub_kind k) noexcept {
    switch (k) {
        case pubsub_kind::message:
            return "message";
        case pubsub_kind::pmessage:
            return "pmessage";
        case pubsub_kind::smessage:
            return "smessage";
        case pubsub_kind::subscribe:
            return "subscribe";
        case pubsub_kind::psubscribe:
            return "psubscribe";
        case pubsub_kind::ssubscribe:
            return "ssubscribe";
        case pubsub_kind::unsubscribe:
            return "unsubscribe";
        case pubsub_kind::punsubscribe:
            return "punsubscribe";
        case pubsub_kind::sunsubscribe:
            return "sunsubscribe";
        case pubsub_kind::pong:
            return "pong";
    }
    return "unknown";
}

namespace {

// Outcome of reading one field; `miss` means "not a pub/sub frame" (or malformed).
enum class field : std::uint8_t { ok, need_more, miss };

field to_field(scan s) noexcept {
    return s == scan::ok ? field::ok : s == scan::need_more ? field::need_more : field::miss;
}

// Reads a bulk string at p, whatever its shape: long lengths, null (allow_null lets
// "$-1" and RESP3 "_" stand for a null channel), incomplete or malformed fields. Kept out
// of line so that the inlined fast path below stays small.
[[gnu::noinline]] field read_bulk_general(const char*& p, const char* end, std::uint64_t max_len,
                                          std::string_view& out, bool allow_null,
                                          bool& null) noexcept {
    if (p == end) return field::need_more;
    if (*p != '$') {
        // RESP3 null ("_\r\n") for the channel of an unsubscribe confirmation.
        if (allow_null && *p == '_') {
            detail::scan_error err;
            const field f = to_field(detail::scan_crlf(p + 1, end, err));
            if (f != field::ok) return f;
            p += 3;
            out = {};
            null = true;
            return field::ok;
        }
        return field::miss;
    }
    std::int64_t len = 0;
    const char* data = nullptr;
    detail::scan_error err;
    const field f = to_field(detail::scan_length(p + 1, end, allow_null, len, data, err));
    if (f != field::ok) return f;
    if (len < 0) {
        p = data;
        out = {};
        null = true;
        return field::ok;
    }
    const auto n = static_cast<std::uint64_t>(len);
    if (n > max_len) return field::miss;
    // As in the parser, the CRLF after the data is checked as its bytes arrive, so that
    // need_more here always means the generic parser would need more too.
    const auto available = static_cast<std::uint64_t>(end - data);
    if (available <= n) return field::need_more;
    if (data[n] != '\r') return field::miss;
    if (available == n + 1) return field::need_more;
    if (data[n + 1] != '\n') return field::miss;
    out = {data, static_cast<std::size_t>(n)};
    p = data + n + 2;
    return field::ok;
}

// Reads a bulk string at p: the usual complete "$<1 or 2 digits>\r\n<data>\r\n" here,
// everything else in read_bulk_general(), which gives the same answer for this case.
inline field read_bulk(const char*& p, const char* end, std::uint64_t max_len,
                       std::string_view& out, bool allow_null, bool& null) noexcept {
    std::uint64_t n = 0;
    const char* data = nullptr;
    if (p != end && *p == '$' && detail::scan_short_length(p + 1, end, n, data) && n <= max_len &&
        static_cast<std::uint64_t>(end - data) >= n + 2 && data[n] == '\r' && data[n + 1] == '\n') {
        out = {data, static_cast<std::size_t>(n)};
        p = data + n + 2;
        return field::ok;
    }
    return read_bulk_general(p, end, max_len, out, allow_null, null);
}

inline bool same(std::string_view a, const char* lit, std::size_t n) noexcept {
    return std::memcmp(a.data(), lit, n) == 0;
}

// Identifies the kind from its name and the frame's element count.
inline bool classify(std::string_view name, std::int64_t elements, pubsub_kind& kind) noexcept {
    switch (name.size()) {
        case 4:
            if (same(name, "pong", 4))
                kind = pubsub_kind::pong;
            else
                return false;
            return elements == 2;
        case 7:
            if (same(name, "message", 7))
                kind = pubsub_kind::message;
            else
                return false;
            return elements == 3;
        case 8:
            if (same(name, "pmessage", 8)) {
                kind = pubsub_kind::pmessage;
                return elements == 4;
            }
            if (same(name, "smessage", 8))
                kind = pubsub_kind::smessage;
            else
                return false;
            return elements == 3;
        case 9:
            if (same(name, "subscribe", 9))
                kind = pubsub_kind::subscribe;
            else
                return false;
            return elements == 3;
        case 10:
            if (same(name, "psubscribe", 10))
                kind = pubsub_kind::psubscribe;
            else if (same(name, "ssubscribe", 10))
                kind = pubsub_kind::ssubscribe;
            else
                return false;
            return elements == 3;
        case 11:
            if (same(name, "unsubscribe", 11))
                kind = pubsub_kind::unsubscribe;
            else
                return false;
            return elements == 3;
        case 12:
            if (same(name, "punsubscribe", 12))
                kind = pubsub_kind::punsubscribe;
            else if (same(name, "sunsubscribe", 12))
                kind = pubsub_kind::sunsubscribe;
            else
                return false;
            return elements == 3;
        default:
            return false;
    }
}

constexpr pubsub_result need_more{pubsub_status::need_more, 0};
constexpr pubsub_result not_pubsub{pubsub_status::not_pubsub, 0};

}  // namespace

pubsub_result decode_pubsub(std::string_view input, pubsub_frame& out, const limits& lim) noexcept {
    const char* const begin = input.data();
    const char* const end = begin + input.size();
    const char* p = begin;
    if (p == end) return need_more;
    if (*p != '*' && *p != '>') return not_pubsub;
    out.push = *p == '>';

    // The element count: 2, 3 or 4, one digit then CRLF.
    if (end - p < 4) {
        // Decide what can be decided on a short prefix, exactly as on the whole frame.
        if (end - p >= 2 && (p[1] < '2' || p[1] > '4')) return not_pubsub;
        if (end - p >= 3 && p[2] != '\r') return not_pubsub;
        return need_more;
    }
    bool null = false;
    field f = field::ok;
    // The headers of the frames a keyspace subscriber receives all the time, matched
    // whole; what they match, the general path below reads the same way.
    static constexpr char message_head[] = "3\r\n$7\r\nmessage\r\n";
    static constexpr char pmessage_head[] = "4\r\n$8\r\npmessage\r\n";
    if (end - p >= 17 && lim.max_bulk_length >= 8 && std::memcmp(p + 1, message_head, 16) == 0) {
        out.kind = pubsub_kind::message;
        p += 17;
    } else if (end - p >= 18 && lim.max_bulk_length >= 8 &&
               std::memcmp(p + 1, pmessage_head, 17) == 0) {
        out.kind = pubsub_kind::pmessage;
        p += 18;
    } else {
        if (p[1] < '2' || p[1] > '4' || p[2] != '\r' || p[3] != '\n') return not_pubsub;
        const std::int64_t elements = p[1] - '0';
        p += 4;
        std::string_view name;
        f = read_bulk(p, end, lim.max_bulk_length, name, false, null);
        if (f != field::ok) return f == field::need_more ? need_more : not_pubsub;
        if (!classify(name, elements, out.kind)) return not_pubsub;
    }

    out.pattern = {};
    out.payload = {};
    out.channel_null = false;
    out.count = 0;
    const std::uint64_t max = lim.max_bulk_length;
    switch (out.kind) {
        case pubsub_kind::pmessage:
            f = read_bulk(p, end, max, out.pattern, false, null);
            if (f != field::ok) break;
            [[fallthrough]];
        case pubsub_kind::message:
        case pubsub_kind::smessage:
            f = read_bulk(p, end, max, out.channel, false, null);
            if (f != field::ok) break;
            f = read_bulk(p, end, max, out.payload, false, null);
            break;
        case pubsub_kind::pong:
            out.channel = {};
            f = read_bulk(p, end, max, out.payload, false, null);
            break;
        default: {  // a subscription confirmation
            f = read_bulk(p, end, max, out.channel, true, out.channel_null);
            if (f != field::ok) break;
            if (p == end) {
                f = field::need_more;
                break;
            }
            if (*p != ':') {
                f = field::miss;
                break;
            }
            const char* next = nullptr;
            detail::scan_error err;
            f = to_field(detail::scan_integer(p + 1, end, out.count, next, err));
            if (f == field::ok) p = next;
            break;
        }
    }
    if (f != field::ok) return f == field::need_more ? need_more : not_pubsub;
    return {pubsub_status::complete, static_cast<std::size_t>(p - begin)};
}

}  // namespace ksn::protocol
