// Fast path for pub/sub frames: decodes one whole message or subscription confirmation
// from the front of the caller's buffer into a small fixed structure, without building a
// tree and without allocating.
//
// It recognises exactly the shapes a Redis server sends to a subscriber, in RESP2 (an
// array `*`) and RESP3 (a push `>`):
//   message       [kind, channel, payload]
//   pmessage      [kind, pattern, channel, payload]
//   smessage      [kind, channel, payload]
//   (p|s)(un)subscribe [kind, channel or null, count]
//   pong          [kind, payload]   (PING on a RESP2 connection in subscribed mode)
// with the kind and strings as bulk strings and the count as an integer.
//
// Anything else, including a malformed frame, answers not_pubsub and consumes nothing: the
// caller hands those bytes to the generic parser, which reports the precise error. The
// fast path applies the same strict rules and the same bulk length limit as the parser,
// so whatever it accepts, the parser accepts with the same values (with limits that
// allow a depth of 1 and 4 elements), and where it answers need_more, the parser has
// found no error either. tests/fuzz/fuzz_parser.cpp checks both.
//
// On a RESP3 connection the server sends pub/sub frames only as pushes, and a command
// reply may well be an array that looks like one (LRANGE of ["message", "a", "b"]): a
// RESP3 caller must treat a decoded frame with push == false as a reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parser.hpp"

namespace ksn::protocol {

enum class pubsub_kind : std::uint8_t {
    message,
    pmessage,
    smessage,
    subscribe,
    psubscribe,
    ssubscribe,
    unsubscribe,
    punsubscribe,
    sunsubscribe,
    pong,
};

/// The kind's name as the server writes it ("message", "psubscribe", ...).
std::string_view to_string(pubsub_kind k) noexcept;

/// True for message, pmessage and smessage.
constexpr bool is_message(pubsub_kind k) noexcept {
    return k <= pubsub_kind::smessage;
}

/// One decoded frame. Views point into the buffer given to decode_pubsub() and are valid
/// while those bytes stay in place.
struct pubsub_frame {
    pubsub_kind kind = pubsub_kind::message;
    /// True for a RESP3 push (`>`), false for a RESP2 array (`*`).
    bool push = false;
    /// True when a confirmation's channel is null (an unsubscribe with no subscription).
    bool channel_null = false;
    std::string_view pattern;  ///< pmessage only
    std::string_view channel;  ///< the channel of a message or of a confirmation
    std::string_view payload;  ///< a message's payload, or a pong's
    std::int64_t count = 0;    ///< subscription count of a confirmation
};

enum class pubsub_status : std::uint8_t {
    complete,    ///< a frame was decoded; `consumed` bytes belong to it
    need_more,   ///< the input is a prefix of a pub/sub frame; call again with more
    not_pubsub,  ///< not a pub/sub frame (or malformed): use the generic parser
};

struct pubsub_result {
    pubsub_status status;
    std::size_t consumed;  ///< non-zero only for complete
};

/// Decodes one pub/sub frame from the front of `input`. Only `lim.max_bulk_length` is
/// consulted. Never reads past the end of `input`.
[[nodiscard]] pubsub_result decode_pubsub(std::string_view input, pubsub_frame& out,
                                          const limits& lim = {}) noexcept;

}  // namespace ksn::protocol
