// Glob pattern detection and escaping for pub/sub channel names.
//
// Redis matches PSUBSCRIBE patterns with its glob matcher (stringmatchlen in util.c):
// `*` any run of bytes, `?` any one byte, `[...]` a class, `\` escapes the next byte.
// is_glob_pattern() decides, with exactly the rules of the reference
// (redis-py's _is_pattern), whether a string would behave as a pattern; glob_escape()
// makes arbitrary bytes match only themselves inside a pattern. Both are byte-based and
// binary safe; neither assumes UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace ksn {

/// True when `s` contains an unescaped `*` or `?`, or an unescaped `[` that is closed by
/// a later unescaped `]`. A lone `[` (as in a key named `my[key`) is a literal; `\`
/// escapes the byte after it (a trailing `\` escapes nothing).
[[nodiscard]] bool is_glob_pattern(std::string_view s) noexcept;

/// `s` with `\` in front of every `*`, `?`, `[`, `]` and `\`, so that the result, used
/// inside a pattern, matches exactly the bytes of `s`. For every `s`,
/// is_glob_pattern(glob_escape(s)) is false.
[[nodiscard]] std::string glob_escape(std::string_view s);

/// Appends glob_escape(s) to `out`.
void append_glob_escaped(std::string& out, std::string_view s);

}  // namespace ksn
