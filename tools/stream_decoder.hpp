// `ksn parse`: decodes the bytes a subscriber connection receives (for example the server
// side of a TCP capture) into notifications, skipping everything else a subscriber sees.
//
// The stream may be RESP2 or RESP3 and may hold HELLO and AUTH replies, subscribe and
// unsubscribe confirmations, PING replies and other command replies. Pub/sub frames go
// through the zero-copy fast path (protocol::decode_pubsub); anything it does not
// recognise goes to the generic parser (protocol::value_reader), which skips well-formed
// values and reports malformed RESP with the byte offset where it went wrong. A RESP
// stream cannot be resynchronised after a protocol error, so decoding stops there.
//
// Once the stream shows it is RESP3 (a push, or a map such as the HELLO 3 reply), a
// message-shaped array is a command reply, never a notification (see pubsub.hpp).
//
// Input may be fed in chunks split anywhere. Memory holds at most one unfinished pub/sub
// frame (generic values are consumed as they are parsed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "notifications/notification.hpp"
#include "protocol/value.hpp"

namespace ksn::tools {

class stream_decoder {
  public:
    /// Receives what the decoder finds. Views live until the call returns.
    class sink {
      public:
        virtual ~sink() = default;
        virtual void notification(const key_notification& n) = 0;
        /// A message on a notification channel that does not follow the grammar.
        virtual void invalid(std::string_view channel, std::string_view payload,
                             const parse_result& r) = 0;
    };

    struct counters {
        std::uint64_t notifications = 0;
        std::uint64_t invalid = 0;
        std::uint64_t filtered = 0;        ///< notifications without the key prefix
        std::uint64_t other_messages = 0;  ///< messages on other channels
        std::uint64_t confirmations = 0;   ///< (p|s)(un)subscribe and pong frames
        std::uint64_t replies = 0;         ///< everything else (HELLO, errors, ...)
    };

    /// Only keys starting with `key_prefix` are reported, with it stripped.
    explicit stream_decoder(std::string key_prefix = {});

    /// Decodes what it can of `bytes` (appended to what is pending) and keeps the rest.
    /// Returns false once a protocol error was found (sticky); see error().
    bool feed(std::string_view bytes, sink& out);

    /// The protocol error, or an empty error_code.
    [[nodiscard]] std::error_code error() const noexcept { return error_; }
    /// Offset of the first malformed byte from the start of the stream.
    [[nodiscard]] std::uint64_t error_offset() const noexcept { return error_offset_; }
    /// Bytes of an unfinished frame held at the end of the input (0 when the stream
    /// ended between frames).
    [[nodiscard]] std::uint64_t pending() const noexcept;
    /// Bytes consumed so far, frames and skipped values.
    [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
    [[nodiscard]] const counters& stats() const noexcept { return counters_; }

  private:
    void message(std::string_view channel, std::string_view payload, sink& out);
    void reply(const protocol::value& v);

    std::string key_prefix_;
    std::string buffer_;        // unconsumed input
    std::uint64_t offset_ = 0;  // stream offset of buffer_[0]
    protocol::value_reader reader_;
    protocol::value value_;
    bool in_value_ = false;          // the generic reader is inside a value
    std::uint64_t value_start_ = 0;  // stream offset where that value began
    std::uint64_t value_taken_ = 0;  // bytes of it the reader has consumed
    bool resp3_ = false;
    key_notification notification_;
    std::vector<std::string_view> subkeys_;  // storage for many subkeys
    std::error_code error_;
    std::uint64_t error_offset_ = 0;
    counters counters_;
};

}  // namespace ksn::tools
