// Test driver for the RESP parser, shared by the unit tests and the fuzz target.
//
// It feeds an input to a parser in chunks (whole, byte by byte, or cut at given points),
// the way a connection feeds socket reads: the unconsumed tail is passed again followed
// by the next chunk. Every call sees a fresh, exactly sized heap copy of its window, so
// AddressSanitizer catches a read past the window. What the parser reports is written as
// a node log, one line per node, in the format the data files under data/ use:
//
//   <type byte> d=<depth>[ n=<size>][ fmt=<format>][ "<data>"][ int=<i>][ num=<x>][ end]
//   error <errc name> @<offset>      (last line: the sticky error and its offset)
//   need_more @<offset>              (last line: the input ends inside a value)
//
// `end` marks a node after which message_complete() is true. Data is escaped with
// escape(): printable ASCII as is, `\\`, `\"`, `\r`, `\n`, `\t`, `\0` and `\xHH` otherwise.
// Problems of the parser that are not part of the log (a view outside the window, a
// complete node that consumed nothing, an error that is not sticky) are logged as lines
// starting with "BUG", so they make any comparison fail.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/parser.hpp"
#include "protocol/pubsub.hpp"

namespace ksn::protocol::test {

inline constexpr const char* errc_names[] = {
    "success",
    "invalid_type_byte",
    "empty_number",
    "invalid_number",
    "number_overflow",
    "negative_length",
    "expected_crlf",
    "bare_lf",
    "invalid_boolean",
    "invalid_double",
    "invalid_big_number",
    "invalid_null",
    "invalid_verbatim",
    "bulk_too_long",
    "aggregate_too_large",
    "nesting_too_deep",
    "streamed_not_supported",
    "line_too_long",
};

/// The enumerator's name of an errc value ("bulk_too_long"), or "errc(N)".
inline std::string errc_name(int value) {
    if (value >= 0 && value < static_cast<int>(std::size(errc_names))) return errc_names[value];
    return "errc(" + std::to_string(value) + ")";
}

inline std::string escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\0':
                out += "\\0";
                break;
            default:
                if (c >= 0x20 && c < 0x7f) {
                    out += c;
                } else {
                    char hex[5];
                    std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
                    out += hex;
                }
        }
    }
    return out;
}

/// One node as a log line.
inline std::string render(const node& n, bool message_complete) {
    std::string s(1, static_cast<char>(n.type));
    s += " d=" + std::to_string(n.depth);
    if (is_aggregate(n.type)) s += " n=" + std::to_string(n.aggregate_size);
    if (n.type == resp_type::verbatim_string) s += " fmt=" + escape(n.format);
    if (!is_aggregate(n.type) && n.type != resp_type::null) s += " \"" + escape(n.data) + "\"";
    if (n.type == resp_type::integer || n.type == resp_type::boolean) {
        s += " int=" + std::to_string(n.integer);
    }
    if (n.type == resp_type::double_number) {
        char buf[40];
        if (std::isnan(n.number)) {
            std::snprintf(buf, sizeof buf, "nan");
        } else {
            std::snprintf(buf, sizeof buf, "%.17g", n.number);
        }
        s += " num=";
        s += buf;
    }
    if (message_complete) s += " end";
    return s;
}

inline bool inside(std::string_view part, std::string_view whole) noexcept {
    if (part.empty()) return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

/// Parses `input` fed in chunks that end at `cuts` (ascending offsets inside the input;
/// the last chunk ends at the end of the input) and returns the node log. With `copy`
/// false the parser reads `input` in place (for inputs that end at a guard page).
inline std::vector<std::string> run_parser(std::string_view input, const limits& lim,
                                           std::span<const std::size_t> cuts = {},
                                           bool copy = true) {
    std::vector<std::string> log;
    parser p(lim);
    std::size_t consumed = 0;
    std::size_t cut_index = 0;
    // Every call either consumes bytes or moves to the next chunk, so the number of calls
    // is bounded by the input size plus the number of chunks; the extra margin only guards
    // against a parser that breaks this.
    const std::size_t max_calls = 2 * input.size() + cuts.size() + 16;
    std::size_t calls = 0;
    std::size_t fed = cuts.empty() ? input.size() : cuts[0];
    for (;;) {
        if (++calls > max_calls) {
            log.emplace_back("BUG no progress");
            return log;
        }
        const std::size_t window_size = fed - consumed;
        std::unique_ptr<char[]> window;
        std::string_view view = input.substr(consumed, window_size);
        if (copy) {
            window = std::make_unique<char[]>(window_size == 0 ? 1 : window_size);
            if (window_size) std::memcpy(window.get(), view.data(), window_size);
            view = {window.get(), window_size};
        }
        node n;
        const parse_result r = p.next(view, n);
        if (r.consumed > window_size) {
            log.emplace_back("BUG consumed past the window");
            return log;
        }
        consumed += r.consumed;
        if (r.status == parse_status::complete) {
            if (r.consumed == 0) {
                log.emplace_back("BUG complete without consuming");
                return log;
            }
            if (!inside(n.data, view) || !inside(n.format, view)) {
                log.emplace_back("BUG view outside the input");
            }
            log.push_back(render(n, p.message_complete()));
            if (p.offset() != consumed) log.emplace_back("BUG offset() disagrees");
            continue;
        }
        if (r.status == parse_status::error) {
            if (r.consumed != 0) log.emplace_back("BUG error consumed bytes");
            log.push_back("error " + errc_name(p.error().value()) + " @" +
                          std::to_string(p.error_offset()));
            if (p.error().category() != resp_category()) log.emplace_back("BUG foreign category");
            // Sticky: the same answer again, whatever comes next.
            node again;
            const parse_result r2 = p.next("+OK\r\n", again);
            if (r2.status != parse_status::error || r2.consumed != 0 ||
                log.back() != "error " + errc_name(p.error().value()) + " @" +
                                  std::to_string(p.error_offset())) {
                log.emplace_back("BUG error not sticky");
            }
            return log;
        }
        // need_more: feed the next chunk, or stop at the end of the input.
        if (fed == input.size()) break;
        ++cut_index;
        fed = cut_index < cuts.size() ? cuts[cut_index] : input.size();
    }
    if (consumed < input.size()) log.push_back("need_more @" + std::to_string(p.offset()));
    return log;
}

/// Parses `input` one byte at a time.
inline std::vector<std::string> run_parser_bytewise(std::string_view input, const limits& lim) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < input.size(); ++i)
        cuts.push_back(i);
    return run_parser(input, lim, cuts);
}

/// Elements of a pub/sub frame of kind `k`, the kind's name included.
inline std::size_t pubsub_elements(pubsub_kind k) noexcept {
    return k == pubsub_kind::pmessage ? 4 : k == pubsub_kind::pong ? 2 : 3;
}

/// Checks that the generic parser, given `bytes`, reads the values of `f` (which
/// decode_pubsub took from the first `consumed` bytes) from the same bytes and ends its
/// message at the same place. Returns what differs, or an empty string.
inline std::string pubsub_disagreement(std::string_view bytes, const pubsub_frame& f,
                                       std::size_t consumed) {
    parser p;
    std::vector<node> nodes;
    std::size_t pos = 0;
    for (int i = 0; i < 8; ++i) {
        node n;
        const parse_result r = p.next(bytes.substr(pos), n);
        if (r.status != parse_status::complete) return "the parser did not complete a message";
        pos += r.consumed;
        nodes.push_back(n);
        if (p.message_complete()) break;
    }
    if (!p.message_complete()) return "the parser's message is longer";
    if (pos != consumed)
        return "consumed " + std::to_string(pos) + " != " + std::to_string(consumed);
    const std::size_t elements = pubsub_elements(f.kind);
    if (nodes.size() != elements + 1) return "node count " + std::to_string(nodes.size());
    if (nodes[0].type != (f.push ? resp_type::push : resp_type::array) ||
        nodes[0].aggregate_size != elements) {
        return "header " + render(nodes[0], false);
    }
    const auto same_bulk = [](const node& n, std::string_view data) {
        return n.type == resp_type::bulk_string && n.data == data &&
               (data.empty() || n.data.data() == data.data());
    };
    if (nodes[1].type != resp_type::bulk_string || nodes[1].data != to_string(f.kind)) {
        return "kind " + render(nodes[1], false);
    }
    bool ok = true;
    switch (f.kind) {
        case pubsub_kind::message:
        case pubsub_kind::smessage:
            ok = same_bulk(nodes[2], f.channel) && same_bulk(nodes[3], f.payload);
            break;
        case pubsub_kind::pmessage:
            ok = same_bulk(nodes[2], f.pattern) && same_bulk(nodes[3], f.channel) &&
                 same_bulk(nodes[4], f.payload);
            break;
        case pubsub_kind::pong:
            ok = same_bulk(nodes[2], f.payload);
            break;
        default:
            ok = (f.channel_null ? nodes[2].type == resp_type::null
                                 : same_bulk(nodes[2], f.channel)) &&
                 nodes[3].type == resp_type::integer && nodes[3].integer == f.count;
    }
    return ok ? std::string{} : std::string("element values differ");
}

/// A copy of some bytes that ends exactly where an inaccessible (PROT_NONE) page starts,
/// so that reading one byte past the end crashes even without a sanitizer.
class guarded_bytes {
  public:
    explicit guarded_bytes(std::string_view bytes) {
        const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        const std::size_t data_pages = (bytes.size() + page - 1) / page;
        length_ = (data_pages + 1) * page;
        void* m =
            ::mmap(nullptr, length_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return;
        base_ = static_cast<char*>(m);
        char* const guard = base_ + data_pages * page;
        if (::mprotect(guard, page, PROT_NONE) != 0) return;
        char* const start = guard - bytes.size();
        if (!bytes.empty()) std::memcpy(start, bytes.data(), bytes.size());
        view_ = {start, bytes.size()};
        ok_ = true;
    }
    guarded_bytes(const guarded_bytes&) = delete;
    guarded_bytes& operator=(const guarded_bytes&) = delete;
    ~guarded_bytes() {
        if (base_) ::munmap(base_, length_);
    }

    /// False when mmap or mprotect failed.
    bool ok() const noexcept { return ok_; }
    std::string_view view() const noexcept { return view_; }

  private:
    char* base_ = nullptr;
    std::size_t length_ = 0;
    std::string_view view_;
    bool ok_ = false;
};

}  // namespace ksn::protocol::test
