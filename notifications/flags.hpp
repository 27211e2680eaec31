// The server's `notify-keyspace-events` flags, as a bitmask, with the letters of its
// configuration string in both directions, and which flags a subscription needs.
//
// Letters and meanings are those of the Redis server's notify.c
// (keyspaceEventsStringToFlags, keyspaceEventsFlagsToString) and server.h:
//
//   K keyspace  E keyevent  g generic  $ string  l list  s set  h hash  z zset
//   x expired  e evicted  t stream  m key_miss  d module  n new_key  o overwritten
//   c type_changed  r rate_limit  S subkeyspace  T subkeyevent  I subkeyspaceitem
//   V subkeyspaceevent  A = g$lshzxetd
//
// `A` does not include K, E, m, n, o, c, r or S/T/I/V: the server leaves those out of
// NOTIFY_ALL on purpose, so "KEA" delivers no key-miss, new-key or subkey notification.
// The bit values are ksn's own; only the letters are shared with the server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "channel.hpp"

namespace ksn {

enum class notify_flags : std::uint32_t {
    none = 0,
    keyspace = 1u << 0,           ///< K: publish on __keyspace@ channels
    keyevent = 1u << 1,           ///< E: publish on __keyevent@ channels
    generic = 1u << 2,            ///< g: del, expire, rename, ...
    string = 1u << 3,             ///< $: string commands
    list = 1u << 4,               ///< l: list commands
    set = 1u << 5,                ///< s: set commands
    hash = 1u << 6,               ///< h: hash commands, hash field expiry
    zset = 1u << 7,               ///< z: sorted set commands
    expired = 1u << 8,            ///< x: key expired
    evicted = 1u << 9,            ///< e: key evicted by maxmemory
    stream = 1u << 10,            ///< t: stream commands
    key_miss = 1u << 11,          ///< m: key miss on read (not in A)
    module = 1u << 13,            ///< d: module key type events
    new_key = 1u << 14,           ///< n: a key was created (not in A)
    overwritten = 1u << 15,       ///< o: a key's value was overwritten (not in A)
    type_changed = 1u << 16,      ///< c: a key's type changed (not in A)
    rate_limit = 1u << 17,        ///< r: rate limit events (not in A)
    subkeyspace = 1u << 18,       ///< S: publish on __subkeyspace@ channels
    subkeyevent = 1u << 19,       ///< T: publish on __subkeyevent@ channels
    subkeyspaceitem = 1u << 20,   ///< I: publish on __subkeyspaceitem@ channels
    subkeyspaceevent = 1u << 21,  ///< V: publish on __subkeyspaceevent@ channels
    /// A: the event classes NOTIFY_ALL covers.
    all = generic | string | list | set | hash | zset | expired | evicted | stream | module,
};

constexpr notify_flags operator|(notify_flags a, notify_flags b) noexcept {
    return static_cast<notify_flags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
constexpr notify_flags operator&(notify_flags a, notify_flags b) noexcept {
    return static_cast<notify_flags>(static_cast<std::uint32_t>(a) & static_cast<std::uint32_t>(b));
}
constexpr notify_flags operator^(notify_flags a, notify_flags b) noexcept {
    return static_cast<notify_flags>(static_cast<std::uint32_t>(a) ^ static_cast<std::uint32_t>(b));
}
/// The complement within the flags that have letters.
constexpr notify_flags operator~(notify_flags a) noexcept;
constexpr notify_flags& operator|=(notify_flags& a, notify_flags b) noexcept {
    return a = a | b;
}
constexpr notify_flags& operator&=(notify_flags& a, notify_flags b) noexcept {
    return a = a & b;
}

/// Every flag that has a letter.
inline constexpr notify_flags every_notify_flag =
    notify_flags::keyspace | notify_flags::keyevent | notify_flags::all | notify_flags::key_miss |
    notify_flags::new_key | notify_flags::overwritten | notify_flags::type_changed |
    notify_flags::rate_limit | notify_flags::subkeyspace | notify_flags::subkeyevent |
    notify_flags::subkeyspaceitem | notify_flags::subkeyspaceevent;

/// Every event class (what a keyspace subscription on any event may need one of).
inline constexpr notify_flags every_event_class =
    notify_flags::all | notify_flags::key_miss | notify_flags::new_key | notify_flags::overwritten |
    notify_flags::type_changed | notify_flags::rate_limit;

constexpr notify_flags operator~(notify_flags a) noexcept {
    return static_cast<notify_flags>(~static_cast<std::uint32_t>(a) &
                                     static_cast<std::uint32_t>(every_notify_flag));
}

/// True when every flag of `wanted` is in `set`.
constexpr bool has_all(notify_flags set, notify_flags wanted) noexcept {
    return (set & wanted) == wanted;
}
/// True when some flag of `wanted` is in `set`.
constexpr bool has_any(notify_flags set, notify_flags wanted) noexcept {
    return (set & wanted) != notify_flags::none;
}

/// The flags of a `notify-keyspace-events` string, as the server reads it: any order,
/// repeats allowed, "" is none. Returns nullopt when a byte is not one of the letters
/// above (the server rejects the whole string then).
[[nodiscard]] std::optional<notify_flags> from_letters(std::string_view letters) noexcept;

/// The letters of `flags`, canonical: "A" when every class of A is set, else the class
/// letters among g$lshzxetd; then n, o, c, r, K, E, m, S, T, I, V. Bits without a letter
/// are ignored. from_letters(to_letters(f)) == f for every f within every_notify_flag.
/// Unlike the server's keyspaceEventsFlagsToString, n, o, c and r are written after "A"
/// too (the server drops them there, so CONFIG GET after "KEAn" forgets the n).
[[nodiscard]] std::string to_letters(notify_flags flags);

/// The flag of one letter, or none for a byte that is not a letter (A gives all).
[[nodiscard]] notify_flags flag_of_letter(char letter) noexcept;

/// The notify-keyspace-events class of a known event name (one flag, from
/// event::known), or none for a name ksn does not know. Byte comparison: "SET" is not
/// "set".
[[nodiscard]] notify_flags event_class(std::string_view event) noexcept;

/// The flag of a channel kind: K, E, S, T, I or V.
[[nodiscard]] notify_flags kind_flag(channel_kind kind) noexcept;

/// What `notify-keyspace-events` must contain for a subscription to receive anything:
/// every flag of all_of, and at least one flag of any_of unless any_of is none.
struct flag_requirement {
    notify_flags all_of = notify_flags::none;
    notify_flags any_of = notify_flags::none;

    [[nodiscard]] constexpr bool satisfied_by(notify_flags configured) const noexcept {
        return has_all(configured, all_of) &&
               (any_of == notify_flags::none || has_any(configured, any_of));
    }
    friend bool operator==(const flag_requirement&, const flag_requirement&) = default;
};

/// The flags a subscription of `kind` on `event` needs. `event` is the event name or
/// pattern of the subscription, or empty when the channel does not name one (keyspace,
/// subkeyspace, subkeyspaceitem):
///   - a known event (see event.hpp): the kind's flag and the event's class, e.g.
///     subkeyspaceevent on "hset" needs V and h; keyevent on "keymiss" needs E and m;
///   - no event, a glob pattern or an unknown event on keyspace/keyevent: the kind's flag
///     and any one event class;
///   - the same on a subkey kind: the kind's flag and h, since the server publishes subkey
///     notifications for hash fields only (notifyKeyspaceEventWithSubkeys on NOTIFY_HASH).
[[nodiscard]] flag_requirement required_flags(channel_kind kind,
                                              std::string_view event = {}) noexcept;

/// required_flags() for a channel built with `channel`: its kind and its event part (an
/// event part that is a pattern counts as any event).
[[nodiscard]] flag_requirement required_flags(const channel& c) noexcept;

}  // namespace ksn
