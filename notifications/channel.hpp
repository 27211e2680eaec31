// The six keyspace notification channel kinds, and the channels a client subscribes to.
//
// The server publishes keyspace notifications on channels that are plain concatenations
// (notify.c): a prefix naming the kind, the decimal db, `__:`, then raw bytes:
//
//   __keyspace@<db>__:<key>                  __keyevent@<db>__:<event>
//   __subkeyspace@<db>__:<key>               __subkeyevent@<db>__:<event>
//   __subkeyspaceitem@<db>__:<key>\n<subkey> __subkeyspaceevent@<db>__:<event>|<key>
//
// channel_type() classifies a received channel by its prefix. `channel` builds the name
// to SUBSCRIBE or PSUBSCRIBE to for each kind and knows which of the two it needs:
// by default it detects glob characters like the reference does (see glob.hpp), and
// match::exact / match::pattern override the detection, so a literal key named `a*b`
// can be subscribed exactly. A db of any_db (`*`) is only possible in a pattern.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ksn {

enum class channel_kind : std::uint8_t {
    keyspace,          ///< `__keyspace@<db>__:<key>`, payload: event
    keyevent,          ///< `__keyevent@<db>__:<event>`, payload: key
    subkeyspace,       ///< `__subkeyspace@<db>__:<key>`, payload: `<event>|<subkeys>`
    subkeyevent,       ///< `__subkeyevent@<db>__:<event>`, payload: `<len>:<key>|<subkeys>`
    subkeyspaceitem,   ///< `__subkeyspaceitem@<db>__:<key>\n<subkey>`, payload: event
    subkeyspaceevent,  ///< `__subkeyspaceevent@<db>__:<event>|<key>`, payload: `<subkeys>`
};

/// "keyspace", "keyevent", "subkeyspace", ... (the words of the channel prefixes).
[[nodiscard]] std::string_view to_string(channel_kind k) noexcept;

/// The channel prefix of a kind, up to and including `@` ("__keyspace@", ...).
[[nodiscard]] std::string_view channel_prefix(channel_kind k) noexcept;

/// The kind whose prefix `channel` starts with, or nullopt for any other channel.
/// Checks the longest prefixes first, as the reference does. Only the prefix is looked
/// at: a channel with a valid prefix may still be malformed (parse_notification() says).
[[nodiscard]] std::optional<channel_kind> channel_type(std::string_view channel) noexcept;

/// True for the kinds whose channel names the key: keyspace, subkeyspace,
/// subkeyspaceitem (the reference's `is_keyspace`).
[[nodiscard]] constexpr bool is_keyspace_kind(channel_kind k) noexcept {
    return k == channel_kind::keyspace || k == channel_kind::subkeyspace ||
           k == channel_kind::subkeyspaceitem;
}

/// True for the four subkey kinds.
[[nodiscard]] constexpr bool is_subkey_kind(channel_kind k) noexcept {
    return k >= channel_kind::subkeyspace;
}

/// The db of a channel that matches every database (`@*`); the parser reports it for a
/// channel received with `@*` (which only a PUBLISH, never the server, produces).
inline constexpr std::int32_t any_db = -1;

/// How a channel is subscribed: detect glob characters (the reference's behaviour), or
/// force SUBSCRIBE (exact) or PSUBSCRIBE (pattern) regardless of the bytes.
enum class match : std::uint8_t { detect, exact, pattern };

/// A channel to subscribe to: its name, its kind, its db and whether it is a pattern.
/// Built only by the static functions below. Each one throws std::invalid_argument when
/// the subscription could never receive anything from a Redis server:
///   - db below 0 and not any_db;
///   - any_db with match::exact (`@*` is a pattern, never a channel the server uses);
///   - an empty event (the server names every event);
///   - a `\n` in the key of subkeyspaceitem, a `|` in the event of subkeyspaceevent
///     (the server skips those notifications: its separators would be ambiguous).
/// Names are bytes, binary safe. Use glob_escape() on literal parts of a pattern.
class channel {
  public:
    /// `__keyspace@<db>__:<key_or_pattern>`: every event on the matching keys.
    [[nodiscard]] static channel keyspace(std::string_view key_or_pattern, std::int32_t db = 0,
                                          match m = match::detect);
    /// `__keyevent@<db>__:<event>`: every key on which the matching events happen.
    [[nodiscard]] static channel keyevent(std::string_view event, std::int32_t db = 0,
                                          match m = match::detect);
    /// `__keyevent@<db>__:*`, a pattern for every event.
    [[nodiscard]] static channel all_keyevents(std::int32_t db = 0);
    /// `__subkeyspace@<db>__:<key_or_pattern>`: events and subkeys on the matching keys.
    [[nodiscard]] static channel subkeyspace(std::string_view key_or_pattern, std::int32_t db = 0,
                                             match m = match::detect);
    /// `__subkeyevent@<db>__:<event>`: keys and subkeys of the matching events.
    [[nodiscard]] static channel subkeyevent(std::string_view event, std::int32_t db = 0,
                                             match m = match::detect);
    /// `__subkeyevent@<db>__:*`, a pattern for every subkey event.
    [[nodiscard]] static channel all_subkeyevents(std::int32_t db = 0);
    /// `__subkeyspaceitem@<db>__:<key>\n<subkey>`: events on one subkey of one key. A
    /// pattern when either part is (detect).
    [[nodiscard]] static channel subkeyspaceitem(std::string_view key_or_pattern,
                                                 std::string_view subkey_or_pattern,
                                                 std::int32_t db = 0, match m = match::detect);
    /// `__subkeyspaceevent@<db>__:<event>|<key>`: subkeys touched by one event on one key.
    /// A pattern when either part is (detect).
    [[nodiscard]] static channel subkeyspaceevent(std::string_view event,
                                                  std::string_view key_or_pattern,
                                                  std::int32_t db = 0, match m = match::detect);

    /// The channel name: the bytes to pass to SUBSCRIBE or PSUBSCRIBE.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] channel_kind kind() const noexcept { return kind_; }
    /// The db, or any_db for `*`.
    [[nodiscard]] std::int32_t db() const noexcept { return db_; }
    /// True when this channel is subscribed with PSUBSCRIBE.
    [[nodiscard]] bool is_pattern() const noexcept { return pattern_; }
    /// "PSUBSCRIBE" or "SUBSCRIBE".
    [[nodiscard]] std::string_view subscribe_command() const noexcept {
        return pattern_ ? "PSUBSCRIBE" : "SUBSCRIBE";
    }
    /// The key (or key pattern) part of the name; empty for keyevent and subkeyevent.
    [[nodiscard]] std::string_view key() const noexcept { return part(key_); }
    /// The event (or event pattern) part; empty for keyspace, subkeyspace, subkeyspaceitem.
    [[nodiscard]] std::string_view event() const noexcept { return part(event_); }
    /// The subkey (or subkey pattern) part; empty except for subkeyspaceitem.
    [[nodiscard]] std::string_view subkey() const noexcept { return part(subkey_); }

    /// Equal when name, kind, db and pattern-ness are: `a*b` subscribed exactly and as a
    /// pattern are two different subscriptions.
    friend bool operator==(const channel&, const channel&) = default;

  private:
    struct range {
        std::size_t offset = 0;
        std::size_t size = 0;
        friend bool operator==(const range&, const range&) = default;
    };

    channel() = default;
    static channel make(channel_kind kind, std::int32_t db, std::string_view first,
                        std::string_view second, match m);
    std::string_view part(range r) const noexcept {
        return std::string_view(name_).substr(r.offset, r.size);
    }

    std::string name_;
    channel_kind kind_ = channel_kind::keyspace;
    std::int32_t db_ = 0;
    bool pattern_ = false;
    range key_;
    range event_;
    range subkey_;
};

}  // namespace ksn
