#include "channel.hpp"

#include <array>
#include <charconv>
#include <stdexcept>

#include "glob.hpp"

namespace ksn {
namespace {

constexpr std::array<std::string_view, 6> prefixes = {
    "__keyspace@",    "__keyevent@",        "__subkeyspace@",
    "__subkeyevent@", "__subkeyspaceitem@", "__subkeyspaceevent@",
};

constexpr std::array<std::string_view, 6> names = {
    "keyspace", "keyevent", "subkeyspace", "subkeyevent", "subkeyspaceitem", "subkeyspaceevent",
};

[[noreturn]] void reject(channel_kind kind, const char* why) {
    throw std::invalid_argument(std::string("ksn::channel::") + std::string(to_string(kind)) +
                                ": " + why);
}

}  // namespace

std::string_view to_string(channel_kind k) noexcept {
    const auto i = static_cast<std::size_t>(k);
    return i < names.size() ? names[i] : std::string_view("unknown");
}

std::string_view channel_prefix(channel_kind k) noexcept {
    const auto i = static_cast<std::size_t>(k);
    return i < prefixes.size() ? prefixes[i] : std::string_view();
}

std::optional<channel_kind> channel_type(std::string_view channel) noexcept {
    // Longest first, as the reference does. With the `@` included no prefix is a prefix
    // of another, so the order cannot change an answer; it is kept for fidelity.
    constexpr std::array<channel_kind, 6> order = {
        channel_kind::subkeyspaceevent, channel_kind::subkeyspaceitem, channel_kind::subkeyevent,
        channel_kind::subkeyspace,      channel_kind::keyevent,        channel_kind::keyspace,
    };
    for (const channel_kind k : order) {
        if (channel.starts_with(channel_prefix(k))) return k;
    }
    return std::nullopt;
}

channel channel::make(channel_kind kind, std::int32_t db, std::string_view first,
                      std::string_view second, match m) {
    if (db < 0 && db != any_db) reject(kind, "db must be >= 0 or any_db");
    if (db == any_db && m == match::exact) {
        reject(kind, "db '*' is a pattern; it cannot be subscribed exactly");
    }
    const bool event_first = kind == channel_kind::keyevent || kind == channel_kind::subkeyevent ||
                             kind == channel_kind::subkeyspaceevent;
    if (event_first && first.empty()) reject(kind, "empty event name");
    if (kind == channel_kind::subkeyspaceitem && first.find('\n') != std::string_view::npos) {
        reject(kind, "the server never publishes it for a key containing '\\n'");
    }
    if (kind == channel_kind::subkeyspaceevent && first.find('|') != std::string_view::npos) {
        reject(kind, "the server never publishes it for an event containing '|'");
    }
    const bool two_parts =
        kind == channel_kind::subkeyspaceitem || kind == channel_kind::subkeyspaceevent;

    channel c;
    c.kind_ = kind;
    c.db_ = db;
    const std::string_view prefix = channel_prefix(kind);
    std::array<char, 16> digits{};
    std::size_t ndigits = 1;
    if (db == any_db) {
        digits[0] = '*';
    } else {
        ndigits = static_cast<std::size_t>(
            std::to_chars(digits.data(), digits.data() + digits.size(), db).ptr - digits.data());
    }
    c.name_.reserve(prefix.size() + ndigits + 3 + first.size() + (two_parts ? 1 : 0) +
                    second.size());
    c.name_.append(prefix).append(digits.data(), ndigits).append("__:");
    const range r1{c.name_.size(), first.size()};
    c.name_.append(first);
    range r2{};
    if (two_parts) {
        c.name_.push_back(kind == channel_kind::subkeyspaceitem ? '\n' : '|');
        r2 = {c.name_.size(), second.size()};
        c.name_.append(second);
    }
    switch (kind) {
        case channel_kind::keyspace:
        case channel_kind::subkeyspace:
            c.key_ = r1;
            break;
        case channel_kind::keyevent:
        case channel_kind::subkeyevent:
            c.event_ = r1;
            break;
        case channel_kind::subkeyspaceitem:
            c.key_ = r1;
            c.subkey_ = r2;
            break;
        case channel_kind::subkeyspaceevent:
            c.event_ = r1;
            c.key_ = r2;
            break;
    }
    switch (m) {
        case match::exact:
            c.pattern_ = false;
            break;
        case match::pattern:
            c.pattern_ = true;
            break;
        case match::detect:
            // Each part is judged on its own, as the reference's is_pattern does (its
            // subscribe() judges the whole name instead: docs/notifications.md); `@*` is a
            // pattern.
            c.pattern_ =
                db == any_db || is_glob_pattern(first) || (two_parts && is_glob_pattern(second));
            break;
    }
    return c;
}

channel channel::keyspace(std::string_view key_or_pattern, std::int32_t db, match m) {
    return make(channel_kind::keyspace, db, key_or_pattern, {}, m);
}

channel channel::keyevent(std::string_view event, std::int32_t db, match m) {
    return make(channel_kind::keyevent, db, event, {}, m);
}

channel channel::all_keyevents(std::int32_t db) {
    return make(channel_kind::keyevent, db, "*", {}, match::pattern);
}

channel channel::subkeyspace(std::string_view key_or_pattern, std::int32_t db, match m) {
    return make(channel_kind::subkeyspace, db, key_or_pattern, {}, m);
}

channel channel::subkeyevent(std::string_view event, std::int32_t db, match m) {
    return make(channel_kind::subkeyevent, db, event, {}, m);
}

channel channel::all_subkeyevents(std::int32_t db) {
    return make(channel_kind::subkeyevent, db, "*", {}, match::pattern);
}

channel channel::subkeyspaceitem(std::string_view key_or_pattern,
                                 std::string_view subkey_or_pattern, std::int32_t db, match m) {
    return make(channel_kind::subkeyspaceitem, db, key_or_pattern, subkey_or_pattern, m);
}

channel channel::subkeyspaceevent(std::string_view event, std::string_view key_or_pattern,
                                  std::int32_t db, match m) {
    return make(channel_kind::subkeyspaceevent, db, event, key_or_pattern, m);
}

}  // namespace ksn
