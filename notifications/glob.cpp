#include "glob.hpp"

#include <cstddef>

namespace ksn {
namespace {

constexpr bool needs_escape(char c) noexcept {
    return c == '*' || c == '?' || c == '[' || c == ']' || c == '\\';
}

}  // namespace

bool is_glob_pattern(std::string_view s) noexcept {
    // The reference's scan: `\` skips the next byte; `*` and `?` decide at once; `[`
    // counts only when an unescaped `]` follows somewhere after it. The reference rescans
    // for `]` after every `[` (quadratic on a long run of `[`); here a failed rescan is
    // not repeated. That gives the same answers: the scan from a later `[` visits a suffix
    // of the positions the failed scan visited (both step over `\` pairs the same way
    // from any visited position), so it cannot find a `]` either.
    const std::size_t n = s.size();
    bool bracket_may_close = true;
    for (std::size_t i = 0; i < n;) {
        const char c = s[i];
        if (c == '\\') {
            i += 2;
            continue;
        }
        if (c == '*' || c == '?') return true;
        if (c == '[' && bracket_may_close) {
            bracket_may_close = false;
            for (std::size_t j = i + 1; j < n;) {
                if (s[j] == '\\') {
                    j += 2;
                    continue;
                }
                if (s[j] == ']') return true;
                ++j;
            }
        }
        ++i;
    }
    return false;
}

void append_glob_escaped(std::string& out, std::string_view s) {
    std::size_t extra = 0;
    for (const char c : s)
        extra += needs_escape(c) ? 1 : 0;
    out.reserve(out.size() + s.size() + extra);
    for (const char c : s) {
        if (needs_escape(c)) out.push_back('\\');
        out.push_back(c);
    }
}

std::string glob_escape(std::string_view s) {
    std::string out;
    append_glob_escaped(out, s);
    return out;
}

}  // namespace ksn
