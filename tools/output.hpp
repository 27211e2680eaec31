// How the ksn program prints what it receives: one line per notification, gap or invalid
// notification, either for people (text) or as one JSON object per line (json).
//
// JSON lines (fields whose bytes are not valid UTF-8 get `_b64` names, see json.hpp):
//   {"type":"keyspace","db":0,"key":"k","event":"set","subkeys":[],"channel":"…",
//    "node":"host:port","ts_ns":N}                        (node and ts_ns: watch only)
//   a repeat from another node's stream also has "redelivered":true (watch only; the
//   text line ends with ` redelivered`)
//   {"type":"gap","node":"…","reason":"connection_lost","detail":"…","lost_ts_ns":N,
//    "restored_ts_ns":N|null,"dropped":N,"slots":[[first,last],…]}
//                                            (slots: [] for a standalone server)
//   {"type":"invalid","channel":"…","payload":"…","error":"…","part":"channel","offset":N}
// `type` is the channel kind ("keyspace", "keyevent", "subkeyspace", "subkeyevent",
// "subkeyspaceitem", "subkeyspaceevent"); db is -1 for a channel published with `@*`;
// ts_ns values are CLOCK_MONOTONIC nanoseconds (steady_clock on Linux) of the moment the
// bytes were read from the socket.
//
// Text lines show the same facts, with bytes that are not printable UTF-8 escaped C-style
// inside double quotes (see append_quoted()); a gap line names its slots as
// `slots=0-5460,10923-16383` (see append_slot_ranges()).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "notifications/delivery.hpp"
#include "notifications/notification.hpp"

namespace ksn::tools {

enum class output_format { text, json };

/// Where and when a notification was received (watch); parse has neither.
struct origin {
    std::string_view node;
    clock::time_point received{};
    /// A repeat from another node's stream (received_notification::redelivered()).
    bool redelivered = false;
};

/// Appends `bytes` for a terminal: as is when they are non-empty printable UTF-8 without
/// spaces, quotes, backslashes or brackets; otherwise in double quotes with `\"`, `\\`,
/// `\n`, `\r`, `\t` and `\xNN` for every other control byte or byte that is not part of
/// a well-formed UTF-8 sequence.
void append_quoted(std::string& out, std::string_view bytes);

/// Appends slot ranges the way CLUSTER NODES writes them, comma-separated:
/// `0-5460,10923-16383`, a single slot as `5`; nothing for none.
void append_slot_ranges(std::string& out,
                        std::span<const std::pair<std::uint16_t, std::uint16_t>> ranges);

/// The lines below replace `line` with one whole line, newline included.
void format_notification(std::string& line, output_format f, const key_notification& n,
                         const origin* from = nullptr);
void format_gap(std::string& line, output_format f, const gap_event& g);
/// `ksn watch --format TEMPLATE`: a line made of literal text and fields, compiled once.
/// Fields: {ts_ns} (CLOCK_MONOTONIC ns when its bytes were read), {time} (local
/// HH:MM:SS.mmm of that moment), {node}, {kind} (keyspace, keyevent, ...), {db} (a
/// number, or * for @*), {event}, {key}, {subkeys} (space-separated), {channel},
/// {redelivered} (true or false). Bytes fields (event, key, subkeys, channel) are written
/// by append_quoted(), as in the text lines; `{{` and `}}` are literal braces. Each line
/// ends with a newline.
class line_template {
  public:
    /// The fields a template may name, as `{ts_ns} {time} ...`, for --help and errors.
    static std::string_view fields() noexcept;
    /// Compiles `text`; on an unknown field, a `{` without its `}` or a lone `}`, answers
    /// nullopt and says which in `error`.
    static std::optional<line_template> compile(std::string_view text, std::string& error);
    /// Replaces `line` with the rendered line.
    void render(std::string& line, const key_notification& n, const origin& from) const;

  private:
    enum class field : std::uint8_t {
        literal,
        ts_ns,
        time,
        node,
        kind,
        db,
        event,
        key,
        subkeys,
        channel,
        redelivered
    };
    struct part {
        field what = field::literal;
        std::string text;  // literal only
    };
    std::vector<part> parts_;
};

/// A message on a notification channel that does not follow the grammar.
void format_invalid(std::string& line, output_format f, std::string_view channel,
                    std::string_view payload, const parse_result& r);

/// Nanoseconds since the steady clock's epoch (CLOCK_MONOTONIC on Linux).
[[nodiscard]] std::int64_t monotonic_ns(clock::time_point t) noexcept;

}  // namespace ksn::tools
