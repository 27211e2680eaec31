#include "tools/json.hpp"

#include <array>
#include <charconv>

namespace ksn::tools {

std::size_t utf8_sequence_length(std::string_view bytes) noexcept {
    if (bytes.empty()) return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const unsigned char c = p[0];
    if (c < 0x80) return 1;
    // The lead byte fixes the length and the allowed range of the second byte
    // (RFC 3629 section 4), which excludes overlong forms, surrogates and > U+10FFFF.
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;  // a continuation byte, C0/C1 or F5..FF as a lead byte
    }
    if (bytes.size() < len || p[1] < lo || p[1] > hi) return 0;
    for (std::size_t i = 2; i < len; ++i) {
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    }
    return len;
}

bool valid_utf8(std::string_view bytes) noexcept {
    while (!bytes.empty()) {
        // ASCII runs are the common case: skip them without the general check.
        if (static_cast<unsigned char>(bytes.front()) < 0x80) {
            bytes.remove_prefix(1);
            continue;
        }
        const std::size_t n = utf8_sequence_length(bytes);
        if (n == 0) return false;
        bytes.remove_prefix(n);
    }
    return true;
}

namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> decode_table() {
    std::array<signed char, 256> t{};
    for (auto& v : t)
        v = -1;
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return t;
}

constexpr auto decoding = decode_table();

void append_base64(std::string& out, std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    out.reserve(out.size() + (n + 2) / 3 * 4);
    for (; n >= 3; n -= 3, p += 3) {
        const std::uint32_t v = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (n == 0) return;
    const std::uint32_t v = (std::uint32_t{p[0]} << 16) | (n == 2 ? std::uint32_t{p[1]} << 8 : 0);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += n == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    append_base64(out, bytes);
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        int pad = 0;
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char ch = text[i + j];
            if (ch == '=' && last && j >= 2) {
                ++pad;
                v <<= 6;
                continue;
            }
            const int d = decoding[static_cast<unsigned char>(ch)];
            if (d < 0 || pad > 0) return std::nullopt;  // bad character, or data after '='
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        // Canonical form only: the bits under the padding must be zero.
        if ((pad == 1 && (v & 0xFF) != 0) || (pad == 2 && (v & 0xFFFF) != 0)) return std::nullopt;
        out += static_cast<char>((v >> 16) & 0xFF);
        if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
        if (pad < 1) out += static_cast<char>(v & 0xFF);
    }
    return out;
}

namespace {
template <typename Integer>
void append_digits(std::string& out, Integer value) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
}
}  // namespace

void append_integer(std::string& out, std::int64_t value) {
    append_digits(out, value);
}

void append_integer(std::string& out, std::uint64_t value) {
    append_digits(out, value);
}

void append_json_string(std::string& out, std::string_view text) {
    static constexpr std::string_view hex = "0123456789abcdef";
    out += '"';
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(text, run, i - run);
        run = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
        }
    }
    out.append(text, run);
    out += '"';
}

json_object::json_object(std::string& out) : out_(out) {
    out_.clear();
    out_ += '{';
}

void json_object::key(std::string_view name, std::string_view suffix) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += name;
    out_ += suffix;
    out_ += "\":";
}

json_object& json_object::text(std::string_view name, std::string_view text) {
    key(name);
    append_json_string(out_, text);
    return *this;
}

json_object& json_object::bytes(std::string_view name, std::string_view bytes) {
    if (valid_utf8(bytes)) return text(name, bytes);
    key(name, "_b64");
    out_ += '"';
    append_base64(out_, bytes);
    out_ += '"';
    return *this;
}

json_object& json_object::bytes_array(std::string_view name,
                                      std::span<const std::string_view> items) {
    bool utf8 = true;
    for (const auto item : items)
        utf8 = utf8 && valid_utf8(item);
    key(name, utf8 ? "" : "_b64");
    out_ += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out_ += ',';
        if (utf8) {
            append_json_string(out_, items[i]);
        } else {
            out_ += '"';
            append_base64(out_, items[i]);
            out_ += '"';
        }
    }
    out_ += ']';
    return *this;
}

json_object& json_object::number(std::string_view name, std::int64_t value) {
    key(name);
    append_integer(out_, value);
    return *this;
}

json_object& json_object::number(std::string_view name, std::uint64_t value) {
    key(name);
    append_integer(out_, value);
    return *this;
}

json_object& json_object::null(std::string_view name) {
    key(name);
    out_ += "null";
    return *this;
}

json_object& json_object::boolean(std::string_view name, bool value) {
    key(name);
    out_ += value ? "true" : "false";
    return *this;
}

json_object& json_object::number_pairs(
    std::string_view name, std::span<const std::pair<std::uint16_t, std::uint16_t>> pairs) {
    key(name);
    out_ += '[';
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (i > 0) out_ += ',';
        out_ += '[';
        append_integer(out_, std::uint64_t{pairs[i].first});
        out_ += ',';
        append_integer(out_, std::uint64_t{pairs[i].second});
        out_ += ']';
    }
    out_ += ']';
    return *this;
}

std::string& json_object::end_line() {
    out_ += "}\n";
    return out_;
}

}  // namespace ksn::tools
