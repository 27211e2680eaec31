// The set of subscriptions a notifier holds, replayed on every (re)connect and applied to
// every node of a cluster. Internal to the notifiers; touched only on the I/O thread.
//
// A subscription is a channel name plus whether it is a pattern (PSUBSCRIBE) or exact
// (SUBSCRIBE): `a*b` exact and `a*b` as a pattern are two subscriptions. Each may have a
// handler. Lookups by the channel (message) or the pattern (pmessage) take a string_view
// and allocate nothing.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../delivery.hpp"
#include "../flags.hpp"

namespace ksn {

struct subscription_key {
    std::string name;
    bool pattern = false;
    friend bool operator==(const subscription_key&, const subscription_key&) = default;
};

class subscription_registry {
  public:
    struct entry {
        std::shared_ptr<const notification_handler> handler;  // null: pull API
        flag_requirement flags;
    };

    /// Adds or, when present, replaces the handler. Returns true when it is new.
    bool add(const subscription_key& key, notification_handler handler);
    /// Returns true when it was present.
    bool remove(const subscription_key& key);

    /// The subscription for a message's channel (exact) or a pmessage's pattern.
    const entry* find(std::string_view name, bool pattern) const noexcept;

    bool empty() const noexcept { return exact_.empty() && patterns_.empty(); }
    std::size_t size() const noexcept { return exact_.size() + patterns_.size(); }
    std::vector<std::string> names(bool pattern) const;
    /// Subscriptions without a handler, as "SUBSCRIBE name" / "PSUBSCRIBE name".
    std::vector<std::string> without_handler() const;

    /// What notify-keyspace-events must contain for every subscription to receive
    /// notifications; a subscription on a channel that is not a notification channel
    /// needs nothing.
    std::vector<flag_requirement> requirements() const;

  private:
    struct hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    using map = std::unordered_map<std::string, entry, hash, std::equal_to<>>;

    map& of(bool pattern) noexcept { return pattern ? patterns_ : exact_; }
    const map& of(bool pattern) const noexcept { return pattern ? patterns_ : exact_; }

    map exact_;
    map patterns_;
};

/// The flags a subscription to the channel `name` needs (see required_flags()).
flag_requirement required_flags_for_name(std::string_view name) noexcept;

}  // namespace ksn
