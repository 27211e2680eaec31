#include "notifications/engine/subscription_registry.hpp"

#include <algorithm>

namespace ksn {

flag_requirement required_flags_for_name(std::string_view name) noexcept {
    const auto kind = channel_type(name);
    if (!kind) return {};
    // The event part, for the kinds whose channel names one.
    std::string_view event;
    const auto sep = name.find("__:", channel_prefix(*kind).size());
    if (sep != std::string_view::npos) {
        const std::string_view rest = name.substr(sep + 3);
        if (*kind == channel_kind::keyevent || *kind == channel_kind::subkeyevent) {
            event = rest;
        } else if (*kind == channel_kind::subkeyspaceevent) {
            event = rest.substr(0, rest.find('|'));
        }
    }
    // A pattern's event part may be a glob: required_flags() treats an unknown event
    // (and "*", "s?t", ...) as "any event class".
    return required_flags(*kind, event);
}

bool subscription_registry::add(const subscription_key& key, notification_handler handler) {
    map& m = of(key.pattern);
    auto h = handler ? std::make_shared<const notification_handler>(std::move(handler)) : nullptr;
    const auto it = m.find(std::string_view(key.name));
    if (it != m.end()) {
        it->second.handler = std::move(h);
        return false;
    }
    m.emplace(key.name, entry{std::move(h), required_flags_for_name(key.name)});
    return true;
}

bool subscription_registry::remove(const subscription_key& key) {
    map& m = of(key.pattern);
    const auto it = m.find(std::string_view(key.name));
    if (it == m.end()) return false;
    m.erase(it);
    return true;
}

const subscription_registry::entry* subscription_registry::find(std::string_view name,
                                                                bool pattern) const noexcept {
    const map& m = of(pattern);
    const auto it = m.find(name);
    return it == m.end() ? nullptr : &it->second;
}

std::vector<std::string> subscription_registry::names(bool pattern) const {
    std::vector<std::string> out;
    for (const auto& [name, e] : of(pattern))
        out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> subscription_registry::without_handler() const {
    std::vector<std::string> out;
    for (const auto& [name, e] : exact_) {
        if (!e.handler) out.push_back("SUBSCRIBE " + name);
    }
    for (const auto& [name, e] : patterns_) {
        if (!e.handler) out.push_back("PSUBSCRIBE " + name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<flag_requirement> subscription_registry::requirements() const {
    std::vector<flag_requirement> out;
    for (const map* m : {&exact_, &patterns_}) {
        for (const auto& [name, e] : *m) {
            if (std::find(out.begin(), out.end(), e.flags) == out.end()) out.push_back(e.flags);
        }
    }
    return out;
}

}  // namespace ksn
