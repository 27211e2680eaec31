// Parsing keyspace notifications: (channel, payload[, key prefix]) -> key_notification.
//
// The grammar, byte for byte as the server writes it (notify.c):
//
//   channel                                   payload
//   __keyspace@<db>__:<key>                   <event>
//   __keyevent@<db>__:<event>                 <key>
//   __subkeyspace@<db>__:<key>                <event>|<subkeys>
//   __subkeyevent@<db>__:<event>              <keylen>:<key>|<subkeys>
//   __subkeyspaceitem@<db>__:<key>\n<subkey>  <event>
//   __subkeyspaceevent@<db>__:<event>|<key>   <subkeys>
//
//   <subkeys> := <len>:<subkey>[,<len>:<subkey>...]    (at least one)
//   <db>, <len>, <keylen> := decimal, no sign, no leading zero ("0" itself is fine)
//
// Keys, subkeys and events are raw bytes: `:`, `@`, `|`, `,`, `\n`, CRLF, NUL, invalid
// UTF-8 and the empty string are all legal (events are never empty). Lengths count
// bytes and are followed, never searched for. Only two splits search for a separator,
// and both are unambiguous because the server refuses to publish the ambiguous case:
// subkeyspaceitem splits at the first `\n` (never published for a key holding `\n`;
// the subkey may hold `\n`), and subkeyspace / subkeyspaceevent split at the first `|`
// (never published for an event holding `|`; the key may hold `|`).
//
// parse_notification() allocates nothing and never throws. Subkeys are written into the
// notification's storage: a small inline array, or a caller-supplied span for messages
// with many subkeys (HSET of a hundred fields). Every place where this parser behaves
// differently from the reference (redis-py) is listed in docs/notifications.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "channel.hpp"
#include "error.hpp"

namespace ksn {

struct owned_key_notification;
namespace detail {
struct notification_layout;
}

/// A parsed notification made of views. key(), event(), subkeys() point into the channel
/// and payload given to parse_notification(), channel() and payload() are those inputs:
/// all are valid while those bytes are (for a handler: until it returns). Copying a
/// key_notification copies the views; with inline storage it copies the subkey array too,
/// with caller storage the copy shares it.
class key_notification {
  public:
    /// Subkeys held without caller storage; more need set_storage().
    static constexpr std::size_t inline_capacity = 8;

    key_notification() noexcept = default;
    /// Uses `storage` for subkeys instead of the inline array (see set_storage()).
    explicit key_notification(std::span<std::string_view> storage) noexcept {
        set_storage(storage);
    }

    /// Subkeys go to `storage`, which must outlive this object's use; an empty span
    /// switches back to the inline array. Clears the subkeys currently held.
    void set_storage(std::span<std::string_view> storage) noexcept {
        // An empty span may still carry a non-null pointer (a reserved vector): ignore it.
        external_ = storage.empty() ? nullptr : storage.data();
        capacity_ = storage.empty() ? inline_capacity : storage.size();
        subkey_count_ = 0;
    }
    /// How many subkeys fit.
    [[nodiscard]] std::size_t subkey_capacity() const noexcept { return capacity_; }

    [[nodiscard]] channel_kind kind() const noexcept { return kind_; }
    /// The db, or any_db (-1) for a channel with `@*`.
    [[nodiscard]] std::int32_t db() const noexcept { return db_; }
    /// The key, without the key prefix given to the parser.
    [[nodiscard]] std::string_view key() const noexcept { return key_; }
    /// The event name ("set", "hexpired", ... any bytes; compare with ksn::event).
    [[nodiscard]] std::string_view event() const noexcept { return event_; }
    /// The subkeys (hash fields) of a subkey notification, in the server's order,
    /// duplicates kept; empty for keyspace and keyevent.
    [[nodiscard]] std::span<const std::string_view> subkeys() const noexcept {
        return {external_ != nullptr ? external_ : inline_.data(), subkey_count_};
    }
    /// The channel and payload exactly as received.
    [[nodiscard]] std::string_view channel() const noexcept { return channel_; }
    [[nodiscard]] std::string_view payload() const noexcept { return payload_; }

    /// True for the kinds whose channel names the key (the reference's is_keyspace).
    [[nodiscard]] bool is_keyspace() const noexcept { return is_keyspace_kind(kind_); }
    /// key().starts_with(prefix), as the reference's key_starts_with().
    [[nodiscard]] bool key_starts_with(std::string_view prefix) const noexcept {
        return key_.starts_with(prefix);
    }

    /// An owning copy (allocates; not for the hot path unless the handler keeps it).
    [[nodiscard]] owned_key_notification to_owned() const;

  private:
    friend struct notification_parser;
    friend struct detail::notification_layout;

    std::array<std::string_view, inline_capacity> inline_{};
    std::string_view* external_ = nullptr;
    std::size_t capacity_ = inline_capacity;
    std::size_t subkey_count_ = 0;
    std::string_view key_;
    std::string_view event_;
    std::string_view channel_;
    std::string_view payload_;
    std::int32_t db_ = 0;
    channel_kind kind_ = channel_kind::keyspace;
};

/// A notification that owns its bytes; made by key_notification::to_owned().
struct owned_key_notification {
    channel_kind kind = channel_kind::keyspace;
    std::int32_t db = 0;
    std::string key;
    std::string event;
    std::vector<std::string> subkeys;
    std::string channel;
    std::string payload;

    [[nodiscard]] bool is_keyspace() const noexcept { return is_keyspace_kind(kind); }
    friend bool operator==(const owned_key_notification&, const owned_key_notification&) = default;
};

/// True when every field of `owned` equals the same field of `view`.
[[nodiscard]] bool operator==(const owned_key_notification& owned,
                              const key_notification& view) noexcept;

enum class parse_status : std::uint8_t {
    ok,                 ///< `out` holds the notification
    filtered,           ///< well formed, but the key lacks the key prefix: "not for me"
    not_notification,   ///< the channel has none of the six prefixes (any other channel)
    malformed,          ///< a notification prefix, then bytes off the grammar: see `error`
    storage_too_small,  ///< well formed, but more subkeys than the storage: see `subkeys`
};

/// Which input an error offset refers to.
enum class notification_part : std::uint8_t { channel, payload };

struct parse_result {
    parse_status status = parse_status::ok;
    /// For malformed, the reason; for storage_too_small, too_many_subkeys.
    notification_errc error{};
    /// For malformed, the input and byte offset where parsing failed.
    notification_part part = notification_part::channel;
    std::size_t offset = 0;
    /// The number of subkeys in the message (ok, filtered, storage_too_small).
    std::size_t subkeys = 0;

    [[nodiscard]] bool ok() const noexcept { return status == parse_status::ok; }
    /// The error as a std::error_code; empty unless malformed or storage_too_small.
    [[nodiscard]] std::error_code error_code() const noexcept {
        return error == notification_errc{} ? std::error_code() : make_error_code(error);
    }
};

/// Parses one notification from a pub/sub message's channel and payload (for a
/// pmessage, the channel, not the pattern).
///
/// A non-empty `key_prefix` keeps only keys that start with it and strips it from key(),
/// for every kind (the reference's key_prefix); other keys answer `filtered`. The prefix
/// is applied after the whole message has been checked, so a malformed message is
/// reported whatever the prefix.
///
/// Returns ok; filtered; not_notification; malformed with a notification_errc (any but
/// too_many_subkeys) and where; or storage_too_small with `subkeys`, the number of
/// subkeys needed (call again with out.set_storage() of at least that size). `out` is
/// complete only on ok; on storage_too_small all but its subkeys are set; otherwise its
/// contents are unspecified. Views in `out` live as long as `channel` and `payload`.
[[nodiscard]] parse_result parse_notification(std::string_view channel, std::string_view payload,
                                              key_notification& out,
                                              std::string_view key_prefix = {}) noexcept;

/// parse_notification() that never answers storage_too_small: when the message has more
/// subkeys than `out` can hold, `storage` grows to fit (the only allocation, once per new
/// largest message) and `out` uses it from then on. Throws std::bad_alloc only.
[[nodiscard]] parse_result parse_notification(std::string_view channel, std::string_view payload,
                                              key_notification& out,
                                              std::vector<std::string_view>& storage,
                                              std::string_view key_prefix = {});

namespace detail {

/// A parsed notification stored in one buffer: its channel, its payload, one more string
/// (the pattern it matched), then a table of its subkeys (offset and length, 4 bytes
/// each). The layout holds the lengths and where key and event begin, so that the views
/// are rebuilt over a copy of the bytes without parsing again: ksn's queue carries the
/// parse result across threads this way. Internal to ksn.
struct notification_layout {
    std::uint32_t channel = 0;  ///< lengths of the three strings, in this order
    std::uint32_t payload = 0;
    std::uint32_t extra = 0;
    std::uint32_t key_at = 0;  ///< offsets into the buffer, and lengths
    std::uint32_t key = 0;
    std::uint32_t event_at = 0;
    std::uint32_t event = 0;
    std::uint32_t subkeys = 0;
    std::int32_t db = 0;
    channel_kind kind = channel_kind::keyspace;

    /// Replaces `out` with n's channel and payload, `extra` and the subkey table, and
    /// answers their layout. Every view of `n` must point into its channel() or payload().
    /// Allocates only when `out` must grow.
    static notification_layout store(const key_notification& n, std::string_view extra,
                                     std::string& out);
    /// Points `view` into `bytes`, laid out by store(); subkeys beyond the view's inline
    /// array go to `storage`, which grows (the only allocation, once per new largest count).
    void restore(std::string_view bytes, key_notification& view,
                 std::vector<std::string_view>& storage) const;
    /// The extra string (the pattern) inside `bytes`.
    [[nodiscard]] std::string_view extra_in(std::string_view bytes) const noexcept {
        return bytes.substr(channel + payload, extra);
    }
};

}  // namespace detail

}  // namespace ksn
