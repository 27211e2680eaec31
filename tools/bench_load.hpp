// What `ksn bench` writes: the command mix, the key space, and the events they publish.
//
// Keys are typed by name so that no command ever meets a key of the wrong type (and
// fails with WRONGTYPE, publishing nothing): "<prefix>s:<i>" are strings (SET),
// "<prefix>h:<i>" hashes (HSET), "<prefix>l:<i>" lists (LPUSH); DEL and EXPIRE pick a key
// of any type in the mix. The key space (--keys) is split among the types in proportion
// to their weights. Each key belongs to one writer (key index modulo the writer count),
// so the commands on a key execute in the order they were sent and their notifications
// can be matched in order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "notifications/flags.hpp"

namespace ksn::tools::bench {

enum class op : std::uint8_t { set, del, expire, hset, lpush };
inline constexpr std::size_t op_count = 5;
inline constexpr std::array<op, op_count> all_ops{op::set, op::del, op::expire, op::hset,
                                                  op::lpush};

/// The command name, which is also the event it publishes ("set", "del", ...).
[[nodiscard]] std::string_view name(op o) noexcept;
/// The op whose event is `event`, if any.
[[nodiscard]] std::optional<op> op_of_event(std::string_view event) noexcept;

/// Relative weights of the commands, e.g. "set=50,hset=20,lpush=10,expire=10,del=10".
struct command_mix {
    std::array<std::uint32_t, op_count> weight{};

    /// Parses "name=weight,..." (names: set del expire hset lpush; weights 0..1000000).
    /// Throws std::invalid_argument with a sentence naming the bad part.
    static command_mix parse(std::string_view text);
    [[nodiscard]] std::uint32_t of(op o) const noexcept {
        return weight[static_cast<std::size_t>(o)];
    }
    [[nodiscard]] std::uint64_t total() const noexcept;
    /// The op for a uniform random number r in [0, total()).
    [[nodiscard]] op pick(std::uint64_t r) const noexcept;
    /// "set=50,hset=20,..." (ops of weight 0 left out).
    [[nodiscard]] std::string to_string() const;
    /// The notify-keyspace-events classes the mix publishes in ($ g h l).
    [[nodiscard]] notify_flags event_classes() const noexcept;
};

inline constexpr std::string_view default_mix = "set=50,hset=20,lpush=10,expire=10,del=10";

/// The key types: strings (SET), hashes (HSET), lists (LPUSH).
enum class key_type : std::uint8_t { string, hash, list };
inline constexpr std::size_t key_type_count = 3;

class key_space {
  public:
    /// `keys` split among the types the mix creates (in proportion to the weights of
    /// SET, HSET, LPUSH), each type at least `writers` keys so every writer has some.
    /// Throws std::invalid_argument when the mix creates no key or keys < writers * types.
    key_space(std::string prefix, std::uint64_t keys, const command_mix& mix,
              std::uint32_t writers);

    [[nodiscard]] const std::string& prefix() const noexcept { return prefix_; }
    [[nodiscard]] std::uint32_t size() const noexcept { return total_; }
    [[nodiscard]] std::uint32_t size(key_type t) const noexcept {
        return count_[static_cast<std::size_t>(t)];
    }
    /// The dense id of key `index` of type `t`.
    [[nodiscard]] std::uint32_t id(key_type t, std::uint32_t index) const noexcept {
        return offset_[static_cast<std::size_t>(t)] + index;
    }
    [[nodiscard]] key_type type_of(std::uint32_t id) const noexcept;
    /// Appends the key's name without the prefix ("s:12"), or with it.
    void append_suffix(std::string& out, std::uint32_t id) const;
    [[nodiscard]] std::string name(std::uint32_t id) const;
    /// The id of a key name without the prefix ("s:12"), if it is one of this space's.
    [[nodiscard]] std::optional<std::uint32_t> id_of_suffix(std::string_view suffix) const noexcept;

    /// The key type an op writes (SET: string, ...); nullopt for DEL and EXPIRE.
    [[nodiscard]] static std::optional<key_type> creates(op o) noexcept;

  private:
    std::string prefix_;
    std::array<std::uint32_t, key_type_count> count_{};
    std::array<std::uint32_t, key_type_count> offset_{};
    std::uint32_t total_ = 0;
};

}  // namespace ksn::tools::bench
