// Command encoder: a command (a sequence of byte strings) as a RESP array of bulk
// strings, appended to a buffer the caller owns. The exact size is computed first, so the
// buffer grows at most once per command, and no argument is copied anywhere else.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace ksn::protocol {

/// Bytes that append_command() writes for `args`.
[[nodiscard]] std::size_t command_size(std::span<const std::string_view> args) noexcept;

/// Appends `*<n>\r\n` and `$<len>\r\n<arg>\r\n` for each argument to `out`. Arguments
/// are bytes: any value, including NUL and CRLF, is written as is.
/// Throws std::bad_alloc (only) if `out` cannot grow.
void append_command(std::string& out, std::span<const std::string_view> args);

inline void append_command(std::string& out, std::initializer_list<std::string_view> args) {
    append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

}  // namespace ksn::protocol
