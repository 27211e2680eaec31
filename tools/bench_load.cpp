#include "tools/bench_load.hpp"

#include <charconv>

namespace ksn::tools::bench {

namespace {
constexpr std::array<std::string_view, op_count> op_names{"set", "del", "expire", "hset", "lpush"};
constexpr std::array<char, key_type_count> type_letters{'s', 'h', 'l'};
constexpr std::uint32_t max_weight = 1000000;
}  // namespace

std::string_view name(op o) noexcept {
    return op_names[static_cast<std::size_t>(o)];
}

std::optional<op> op_of_event(std::string_view event) noexcept {
    for (const op o : all_ops)
        if (name(o) == event) return o;
    return std::nullopt;
}

command_mix command_mix::parse(std::string_view text) {
    command_mix m;
    std::array<bool, op_count> seen{};
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto comma = text.find(',', pos);
        const auto item =
            text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos);
        const auto eq = item.find('=');
        const auto bad = [&](const std::string& why) {
            return std::invalid_argument("--mix " + std::string(text) + ": " + why);
        };
        if (eq == std::string_view::npos)
            throw bad("expected NAME=WEIGHT, got \"" + std::string(item) + "\"");
        const auto o = op_of_event(item.substr(0, eq));
        if (!o) {
            throw bad("unknown command \"" + std::string(item.substr(0, eq)) +
                      "\" (known: set, del, expire, hset, lpush)");
        }
        const auto digits = item.substr(eq + 1);
        std::uint32_t w = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), w);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
            w > max_weight) {
            throw bad("the weight of " + std::string(name(*o)) +
                      " must be a whole number from 0 to 1000000");
        }
        const auto i = static_cast<std::size_t>(*o);
        if (seen[i]) throw bad(std::string(name(*o)) + " is given twice");
        seen[i] = true;
        m.weight[i] = w;
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    if (m.total() == 0)
        throw std::invalid_argument("--mix " + std::string(text) + ": every weight is 0");
    if (m.of(op::set) + m.of(op::hset) + m.of(op::lpush) == 0) {
        throw std::invalid_argument("--mix " + std::string(text) +
                                    ": del and expire need keys to act on: give set, hset or "
                                    "lpush a weight too");
    }
    return m;
}

std::uint64_t command_mix::total() const noexcept {
    std::uint64_t t = 0;
    for (const auto w : weight)
        t += w;
    return t;
}

op command_mix::pick(std::uint64_t r) const noexcept {
    for (std::size_t i = 0; i < op_count; ++i) {
        if (r < weight[i]) return static_cast<op>(i);
        r -= weight[i];
    }
    return op::set;  // unreachable for r < total()
}

std::string command_mix::to_string() const {
    std::string out;
    for (const op o : all_ops) {
        if (of(o) == 0) continue;
        if (!out.empty()) out += ',';
        out += name(o);
        out += '=';
        out += std::to_string(of(o));
    }
    return out;
}

notify_flags command_mix::event_classes() const noexcept {
    notify_flags f = notify_flags::none;
    if (of(op::set) > 0) f |= notify_flags::string;
    if (of(op::del) > 0 || of(op::expire) > 0) f |= notify_flags::generic;
    if (of(op::hset) > 0) f |= notify_flags::hash;
    if (of(op::lpush) > 0) f |= notify_flags::list;
    return f;
}

std::optional<key_type> key_space::creates(op o) noexcept {
    switch (o) {
        case op::set:
            return key_type::string;
        case op::hset:
            return key_type::hash;
        case op::lpush:
            return key_type::list;
        case op::del:
        case op::expire:
            break;
    }
    return std::nullopt;
}

key_space::key_space(std::string prefix, std::uint64_t keys, const command_mix& mix,
                     std::uint32_t writers)
    : prefix_(std::move(prefix)) {
    const std::array<std::uint64_t, key_type_count> w{mix.of(op::set), mix.of(op::hset),
                                                      mix.of(op::lpush)};
    const std::uint64_t sum = w[0] + w[1] + w[2];
    if (sum == 0) throw std::invalid_argument("the command mix creates no keys");
    std::size_t types = 0;
    for (const auto x : w)
        types += x > 0 ? 1 : 0;
    if (writers == 0) throw std::invalid_argument("--writers must be at least 1");
    if (keys > 100'000'000) throw std::invalid_argument("--keys must be at most 100000000");
    if (keys < std::uint64_t{writers} * types) {
        throw std::invalid_argument("--keys " + std::to_string(keys) +
                                    " is too small: each of the " + std::to_string(writers) +
                                    " writers needs a key of each of the " + std::to_string(types) +
                                    " key types in the mix (at least " +
                                    std::to_string(std::uint64_t{writers} * types) + " keys)");
    }
    std::uint32_t offset = 0;
    for (std::size_t t = 0; t < key_type_count; ++t) {
        offset_[t] = offset;
        if (w[t] == 0) continue;
        auto n = static_cast<std::uint32_t>(keys * w[t] / sum);
        if (n < writers) n = writers;
        count_[t] = n;
        offset += n;
    }
    total_ = offset;
}

key_type key_space::type_of(std::uint32_t id) const noexcept {
    for (std::size_t t = key_type_count; t-- > 0;)
        if (count_[t] > 0 && id >= offset_[t]) return static_cast<key_type>(t);
    return key_type::string;
}

void key_space::append_suffix(std::string& out, std::uint32_t id) const {
    const auto t = static_cast<std::size_t>(type_of(id));
    out += type_letters[t];
    out += ':';
    char digits[16];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, id - offset_[t]);
    (void)ec;
    out.append(digits, end);
}

std::string key_space::name(std::uint32_t id) const {
    std::string out = prefix_;
    append_suffix(out, id);
    return out;
}

std::optional<std::uint32_t> key_space::id_of_suffix(std::string_view s) const noexcept {
    if (s.size() < 3 || s[1] != ':') return std::nullopt;
    std::size_t t = 0;
    while (t < key_type_count && type_letters[t] != s[0])
        ++t;
    if (t == key_type_count) return std::nullopt;
    std::uint32_t index = 0;
    const auto digits = s.substr(2);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec != std::errc() || end != digits.data() + digits.size() || index >= count_[t] ||
        (digits.size() > 1 && digits[0] == '0')) {
        return std::nullopt;
    }
    return offset_[t] + index;
}

}  // namespace ksn::tools::bench
