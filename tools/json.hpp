// JSON lines for the ksn program: strict UTF-8 validation, base64, and a small writer
// for one JSON object per line (scalar fields, arrays of strings, arrays of integer pairs).
//
// Keys, events, subkeys and channels are bytes, and JSON strings are Unicode text. A
// field whose bytes are valid UTF-8 is written as a JSON string (control characters,
// `"` and `\` escaped as JSON requires); a field whose bytes are not is written under
// its name with `_b64` appended, as standard base64 (RFC 4648, with padding), so every
// byte round-trips. A reader checks for `key`, then `key_b64`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace ksn::tools {

/// True when `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF).
[[nodiscard]] bool valid_utf8(std::string_view bytes) noexcept;

/// The length (1 to 4) of the well-formed UTF-8 sequence at the front of `bytes`, or 0
/// when it does not start with one (or is empty).
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view bytes) noexcept;

/// Standard base64 with `=` padding.
[[nodiscard]] std::string base64_encode(std::string_view bytes);

/// Decodes standard base64 (padding required, no whitespace); nullopt when malformed.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

/// Appends the decimal digits of `value`.
void append_integer(std::string& out, std::int64_t value);
void append_integer(std::string& out, std::uint64_t value);

/// Appends `text` as a quoted JSON string. `text` must be valid UTF-8; control characters
/// (below U+0020), `"` and `\` are escaped, everything else is copied as is.
void append_json_string(std::string& out, std::string_view text);

/// Builds one JSON object, field by field, into a caller-owned string that can be reused
/// line after line (so steady-state printing allocates nothing).
class json_object {
  public:
    /// Starts a new object in `out` (clearing it).
    explicit json_object(std::string& out);

    /// "name":"text" — for text known to be valid UTF-8 (names of kinds, reasons).
    json_object& text(std::string_view name, std::string_view text);
    /// "name":"bytes" when they are valid UTF-8, else "name_b64":"<base64>".
    json_object& bytes(std::string_view name, std::string_view bytes);
    /// "name":["…",…] when every element is valid UTF-8, else "name_b64":["<base64>",…]
    /// with every element in base64, so a reader decodes one way.
    json_object& bytes_array(std::string_view name, std::span<const std::string_view> items);
    json_object& number(std::string_view name, std::int64_t value);
    json_object& number(std::string_view name, std::uint64_t value);
    json_object& null(std::string_view name);
    json_object& boolean(std::string_view name, bool value);
    /// "name":[[a,b],…] — pairs of integers (slot ranges); "name":[] for none.
    json_object& number_pairs(std::string_view name,
                              std::span<const std::pair<std::uint16_t, std::uint16_t>> pairs);

    /// Closes the object and appends a newline; returns the line.
    std::string& end_line();

  private:
    void key(std::string_view name, std::string_view suffix = {});
    std::string& out_;
    bool first_ = true;
};

}  // namespace ksn::tools
