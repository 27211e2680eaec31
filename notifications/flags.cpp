#include "flags.hpp"

#include <array>

#include "event.hpp"
#include "glob.hpp"

namespace ksn {
namespace {

struct letter {
    char c;
    notify_flags flag;
};

// The class letters inside A, in the server's output order.
constexpr std::array<letter, 10> class_letters = {{
    {'g', notify_flags::generic},
    {'$', notify_flags::string},
    {'l', notify_flags::list},
    {'s', notify_flags::set},
    {'h', notify_flags::hash},
    {'z', notify_flags::zset},
    {'x', notify_flags::expired},
    {'e', notify_flags::evicted},
    {'t', notify_flags::stream},
    {'d', notify_flags::module},
}};

// Every other letter, in ksn's output order (see to_letters()).
constexpr std::array<letter, 11> other_letters = {{
    {'n', notify_flags::new_key},
    {'o', notify_flags::overwritten},
    {'c', notify_flags::type_changed},
    {'r', notify_flags::rate_limit},
    {'K', notify_flags::keyspace},
    {'E', notify_flags::keyevent},
    {'m', notify_flags::key_miss},
    {'S', notify_flags::subkeyspace},
    {'T', notify_flags::subkeyevent},
    {'I', notify_flags::subkeyspaceitem},
    {'V', notify_flags::subkeyspaceevent},
}};

}  // namespace

notify_flags flag_of_letter(char c) noexcept {
    if (c == 'A') return notify_flags::all;
    for (const letter& l : class_letters) {
        if (l.c == c) return l.flag;
    }
    for (const letter& l : other_letters) {
        if (l.c == c) return l.flag;
    }
    return notify_flags::none;
}

std::optional<notify_flags> from_letters(std::string_view letters) noexcept {
    notify_flags flags = notify_flags::none;
    for (const char c : letters) {
        const notify_flags f = flag_of_letter(c);
        if (f == notify_flags::none) return std::nullopt;
        flags |= f;
    }
    return flags;
}

std::string to_letters(notify_flags flags) {
    std::string out;
    if (has_all(flags, notify_flags::all)) {
        out.push_back('A');
    } else {
        for (const letter& l : class_letters) {
            if (has_all(flags, l.flag)) out.push_back(l.c);
        }
    }
    for (const letter& l : other_letters) {
        if (has_all(flags, l.flag)) out.push_back(l.c);
    }
    return out;
}

notify_flags kind_flag(channel_kind kind) noexcept {
    switch (kind) {
        case channel_kind::keyspace:
            return notify_flags::keyspace;
        case channel_kind::keyevent:
            return notify_flags::keyevent;
        case channel_kind::subkeyspace:
            return notify_flags::subkeyspace;
        case channel_kind::subkeyevent:
            return notify_flags::subkeyevent;
        case channel_kind::subkeyspaceitem:
            return notify_flags::subkeyspaceitem;
        case channel_kind::subkeyspaceevent:
            return notify_flags::subkeyspaceevent;
    }
    return notify_flags::none;
}

notify_flags event_class(std::string_view event) noexcept {
    for (const event::info& e : event::known) {
        if (e.name == event) return flag_of_letter(e.class_letter);
    }
    return notify_flags::none;
}

flag_requirement required_flags(channel_kind kind, std::string_view event) noexcept {
    const notify_flags k = kind_flag(kind);
    const notify_flags cls = event_class(event);
    if (cls != notify_flags::none) return {.all_of = k | cls};
    if (is_subkey_kind(kind)) return {.all_of = k | notify_flags::hash};
    return {.all_of = k, .any_of = every_event_class};
}

flag_requirement required_flags(const channel& c) noexcept {
    const std::string_view event = c.event();
    if (c.is_pattern() && is_glob_pattern(event)) return required_flags(c.kind());
    return required_flags(c.kind(), event);
}

}  // namespace ksn
