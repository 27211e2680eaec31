// Error codes of the notification parser.
//
// parse_notification() returns one of these, as a value, for a channel that starts with
// one of the six keyspace notification prefixes but does not follow the server's grammar
// (see notification.hpp for the grammar and docs/notifications.md for every decision).
// They never travel as exceptions. Each code has a short English message through
// notification_category(), so a caller can log std::error_code(e).message().
#pragma once

#include <string>
#include <system_error>

namespace ksn {

enum class notification_errc : int {
    // 0 is reserved for success, as std::error_code expects.
    bad_db = 1,             ///< db is empty, not decimal or `*`, signed, zero-padded or > 2^31-1
    missing_db_terminator,  ///< no `__:` after the db
    empty_event,            ///< the event name is empty (the server never sends one)
    missing_pipe,           ///< no `|` where the grammar needs one
    missing_newline,        ///< a subkeyspaceitem channel without `\n` between key and subkey
    bad_length,             ///< a length is empty, signed, zero-padded or not decimal
    length_overflow,        ///< a length does not fit in 64 bits
    missing_colon,          ///< a length runs to the end of the input without `:`
    length_past_end,        ///< a length counts more bytes than the input has left
    trailing_garbage,       ///< bytes after a subkey that are not `,<len>:`
    dangling_comma,         ///< a `,` that ends the subkey list
    no_subkeys,             ///< an empty subkey list (the server always sends at least one)
    too_many_subkeys,       ///< more subkeys than the caller's storage holds (not malformed)
};

/// The category of notification_errc ("ksn.notification").
const std::error_category& notification_category() noexcept;

inline std::error_code make_error_code(notification_errc e) noexcept {
    return {static_cast<int>(e), notification_category()};
}

}  // namespace ksn

template <>
struct std::is_error_code_enum<ksn::notification_errc> : std::true_type {};
