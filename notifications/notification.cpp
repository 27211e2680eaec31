#include "notification.hpp"

#include <cstring>
#include <limits>

namespace ksn {

namespace {

constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

struct failure {
    notification_errc error;
    notification_part part;
    std::size_t offset;
};

/// Parses `<len>:` at `pos` in `s` and checks that `len` bytes follow the colon.
/// On success `pos` points at the first byte after the colon.
[[nodiscard]] bool parse_length(std::string_view s, notification_part part, std::size_t& pos,
                                std::size_t& len, failure& f) noexcept {
    const std::size_t start = pos;
    const std::size_t n = s.size();
    std::size_t i = start;
    while (i < n && is_digit(s[i]))
        ++i;
    const std::size_t digits = i - start;
    if (digits == 0) {  // empty, or a sign or other byte where the first digit belongs
        f = {notification_errc::bad_length, part, start};
        return false;
    }
    if (digits > 1 && s[start] == '0') {  // the server never pads (ll2string)
        f = {notification_errc::bad_length, part, start};
        return false;
    }
    if (i == n) {
        f = {notification_errc::missing_colon, part, i};
        return false;
    }
    if (s[i] != ':') {
        f = {notification_errc::bad_length, part, i};
        return false;
    }
    // 19 digits always fit in 64 bits; more never can (no leading zeros).
    if (digits > 19) {
        f = {notification_errc::length_overflow, part, start};
        return false;
    }
    std::uint64_t value = 0;
    for (std::size_t k = start; k < i; ++k) {
        value = value * 10 + static_cast<std::uint64_t>(s[k] - '0');
    }
    const std::size_t after_colon = i + 1;
    if (value > n - after_colon) {
        f = {notification_errc::length_past_end, part, start};
        return false;
    }
    pos = after_colon;
    len = static_cast<std::size_t>(value);
    return true;
}

/// Parses the db between the prefix and `__:`. On success `pos` is after `__:`.
[[nodiscard]] bool parse_db(std::string_view channel, std::size_t& pos, std::int32_t& db,
                            failure& f) noexcept {
    // A db has at most 10 digits: look for its `_` within 11 bytes, not through the key.
    constexpr std::size_t max_token = 10;
    const std::size_t start = pos;
    const std::string_view window = channel.substr(start, max_token + 1);
    const std::size_t underscore = window.find('_');
    if (underscore == std::string_view::npos) {
        if (window.size() <= max_token) {  // the channel ends inside the db
            f = {notification_errc::missing_db_terminator, notification_part::channel,
                 channel.size()};
        } else {
            f = {notification_errc::bad_db, notification_part::channel, start};
        }
        return false;
    }
    const std::size_t end = start + underscore;
    const std::string_view token = window.substr(0, underscore);
    if (token == "*") {
        db = any_db;
    } else {
        // Canonical decimal in [0, 2^31-1]: the server writes the db with ll2string and
        // `databases` is an int.
        const bool padded = token.size() > 1 && token[0] == '0';
        if (token.empty() || padded) {
            f = {notification_errc::bad_db, notification_part::channel, start};
            return false;
        }
        std::int64_t value = 0;
        for (const char c : token) {
            if (!is_digit(c)) {
                f = {notification_errc::bad_db, notification_part::channel, start};
                return false;
            }
            value = value * 10 + (c - '0');
        }
        if (value > std::numeric_limits<std::int32_t>::max()) {
            f = {notification_errc::bad_db, notification_part::channel, start};
            return false;
        }
        db = static_cast<std::int32_t>(value);
    }
    if (channel.substr(end, 3) != "__:") {
        f = {notification_errc::missing_db_terminator, notification_part::channel, end};
        return false;
    }
    pos = end + 3;
    return true;
}

/// Which prefix `channel` has, and its length; checked by the first distinguishing bytes
/// so that the common case costs a couple of compares.
[[nodiscard]] bool match_prefix(std::string_view channel, channel_kind& kind) noexcept {
    if (channel.size() < 11 || channel[0] != '_' || channel[1] != '_') return false;
    if (channel[2] == 'k') {
        if (channel.starts_with("__keyspace@")) {
            kind = channel_kind::keyspace;
            return true;
        }
        if (channel.starts_with("__keyevent@")) {
            kind = channel_kind::keyevent;
            return true;
        }
        return false;
    }
    if (channel[2] != 's' || !channel.starts_with("__subkey")) return false;
    const std::string_view rest = channel.substr(8);
    if (rest.starts_with("space@")) {
        kind = channel_kind::subkeyspace;
    } else if (rest.starts_with("event@")) {
        kind = channel_kind::subkeyevent;
    } else if (rest.starts_with("spaceitem@")) {
        kind = channel_kind::subkeyspaceitem;
    } else if (rest.starts_with("spaceevent@")) {
        kind = channel_kind::subkeyspaceevent;
    } else {
        return false;
    }
    return true;
}

}  // namespace

/// The parser proper; a struct so that key_notification can befriend it.
struct notification_parser {
    static parse_result run(std::string_view channel, std::string_view payload,
                            key_notification& out, std::string_view key_prefix) noexcept;

    /// Parses `<subkeys>` from `pos` to the end of `s` into out's storage (as many as
    /// fit), counting all of them.
    static bool parse_subkeys(std::string_view s, notification_part part, std::size_t pos,
                              key_notification& out, std::size_t& count, failure& f) noexcept {
        const std::size_t n = s.size();
        if (pos == n) {
            f = {notification_errc::no_subkeys, part, pos};
            return false;
        }
        std::string_view* const store = storage(out);
        // Each round consumes at least "0:" so the loop ends within n/2 rounds.
        for (;;) {
            std::size_t len = 0;
            if (!parse_length(s, part, pos, len, f)) return false;
            if (count < out.capacity_) store[count] = s.substr(pos, len);
            ++count;
            pos += len;
            if (pos == n) return true;
            if (s[pos] != ',') {
                f = {notification_errc::trailing_garbage, part, pos};
                return false;
            }
            ++pos;
            if (pos == n) {
                f = {notification_errc::dangling_comma, part, pos - 1};
                return false;
            }
        }
    }

    static void store_one(key_notification& out, std::string_view subkey) noexcept {
        if (out.capacity_ > 0) storage(out)[0] = subkey;
    }

    static std::string_view* storage(key_notification& out) noexcept {
        return out.external_ != nullptr ? out.external_ : out.inline_.data();
    }
};

parse_result notification_parser::run(std::string_view channel, std::string_view payload,
                                      key_notification& out, std::string_view key_prefix) noexcept {
    channel_kind kind{};
    if (!match_prefix(channel, kind)) return {.status = parse_status::not_notification};

    failure f{};
    auto malformed = [&f]() noexcept {
        return parse_result{.status = parse_status::malformed,
                            .error = f.error,
                            .part = f.part,
                            .offset = f.offset};
    };

    std::size_t pos = channel_prefix(kind).size();
    std::int32_t db = 0;
    if (!parse_db(channel, pos, db, f)) return malformed();
    const std::string_view rest = channel.substr(pos);

    std::string_view key;
    std::string_view event;
    std::size_t count = 0;
    switch (kind) {
        case channel_kind::keyspace:
            key = rest;
            event = payload;
            break;
        case channel_kind::keyevent:
            event = rest;
            key = payload;
            break;
        case channel_kind::subkeyspace: {
            key = rest;
            const std::size_t pipe = payload.find('|');
            if (pipe == std::string_view::npos) {
                f = {notification_errc::missing_pipe, notification_part::payload, payload.size()};
                return malformed();
            }
            event = payload.substr(0, pipe);
            if (!parse_subkeys(payload, notification_part::payload, pipe + 1, out, count, f)) {
                return malformed();
            }
            break;
        }
        case channel_kind::subkeyevent: {
            event = rest;
            std::size_t p = 0;
            std::size_t len = 0;
            if (!parse_length(payload, notification_part::payload, p, len, f)) {
                return malformed();
            }
            key = payload.substr(p, len);
            p += len;
            if (p == payload.size() || payload[p] != '|') {
                f = {notification_errc::missing_pipe, notification_part::payload, p};
                return malformed();
            }
            if (!parse_subkeys(payload, notification_part::payload, p + 1, out, count, f)) {
                return malformed();
            }
            break;
        }
        case channel_kind::subkeyspaceitem: {
            const std::size_t nl = rest.find('\n');
            if (nl == std::string_view::npos) {
                f = {notification_errc::missing_newline, notification_part::channel,
                     channel.size()};
                return malformed();
            }
            key = rest.substr(0, nl);
            event = payload;
            store_one(out, rest.substr(nl + 1));
            count = 1;
            break;
        }
        case channel_kind::subkeyspaceevent: {
            const std::size_t pipe = rest.find('|');
            if (pipe == std::string_view::npos) {
                f = {notification_errc::missing_pipe, notification_part::channel, channel.size()};
                return malformed();
            }
            event = rest.substr(0, pipe);
            key = rest.substr(pipe + 1);
            if (!parse_subkeys(payload, notification_part::payload, 0, out, count, f)) {
                return malformed();
            }
            break;
        }
    }

    if (event.empty()) {
        // The server names every event. The keyspace kinds carry it at the start of the
        // payload, the others right after `__:` in the channel.
        f = is_keyspace_kind(kind)
                ? failure{notification_errc::empty_event, notification_part::payload, 0}
                : failure{notification_errc::empty_event, notification_part::channel, pos};
        return malformed();
    }

    if (!key.starts_with(key_prefix)) {
        return {.status = parse_status::filtered, .subkeys = count};
    }
    key.remove_prefix(key_prefix.size());

    out.kind_ = kind;
    out.db_ = db;
    out.key_ = key;
    out.event_ = event;
    out.channel_ = channel;
    out.payload_ = payload;
    if (count > out.capacity_) {
        out.subkey_count_ = 0;
        return {.status = parse_status::storage_too_small,
                .error = notification_errc::too_many_subkeys,
                .subkeys = count};
    }
    out.subkey_count_ = count;
    return {.status = parse_status::ok, .subkeys = count};
}

parse_result parse_notification(std::string_view channel, std::string_view payload,
                                key_notification& out, std::string_view key_prefix) noexcept {
    return notification_parser::run(channel, payload, out, key_prefix);
}

parse_result parse_notification(std::string_view channel, std::string_view payload,
                                key_notification& out, std::vector<std::string_view>& storage,
                                std::string_view key_prefix) {
    auto r = notification_parser::run(channel, payload, out, key_prefix);
    if (r.status != parse_status::storage_too_small) return r;
    storage.resize(r.subkeys);
    out.set_storage(storage);
    return notification_parser::run(channel, payload, out, key_prefix);
}

owned_key_notification key_notification::to_owned() const {
    owned_key_notification o;
    o.kind = kind_;
    o.db = db_;
    o.key.assign(key_);
    o.event.assign(event_);
    const auto subs = subkeys();
    o.subkeys.reserve(subs.size());
    for (const std::string_view s : subs)
        o.subkeys.emplace_back(s);
    o.channel.assign(channel_);
    o.payload.assign(payload_);
    return o;
}

bool operator==(const owned_key_notification& owned, const key_notification& view) noexcept {
    const auto subs = view.subkeys();
    if (owned.kind != view.kind() || owned.db != view.db() || owned.key != view.key() ||
        owned.event != view.event() || owned.channel != view.channel() ||
        owned.payload != view.payload() || owned.subkeys.size() != subs.size()) {
        return false;
    }
    for (std::size_t i = 0; i < subs.size(); ++i) {
        if (owned.subkeys[i] != subs[i]) return false;
    }
    return true;
}

namespace detail {

namespace {

/// Where `v` begins in a buffer that holds `channel` then `payload`.
std::uint32_t offset_of(std::string_view v, std::string_view channel, std::string_view payload) {
    if (v.empty()) return 0;
    if (v.data() >= channel.data() && v.data() + v.size() <= channel.data() + channel.size()) {
        return static_cast<std::uint32_t>(v.data() - channel.data());
    }
    return static_cast<std::uint32_t>(channel.size() + (v.data() - payload.data()));
}

}  // namespace

notification_layout notification_layout::store(const key_notification& n, std::string_view extra,
                                               std::string& out) {
    const std::string_view channel = n.channel_;
    const std::string_view payload = n.payload_;
    const auto subs = n.subkeys();
    notification_layout l;
    l.channel = static_cast<std::uint32_t>(channel.size());
    l.payload = static_cast<std::uint32_t>(payload.size());
    l.extra = static_cast<std::uint32_t>(extra.size());
    l.key_at = offset_of(n.key_, channel, payload);
    l.key = static_cast<std::uint32_t>(n.key_.size());
    l.event_at = offset_of(n.event_, channel, payload);
    l.event = static_cast<std::uint32_t>(n.event_.size());
    l.subkeys = static_cast<std::uint32_t>(subs.size());
    l.db = n.db_;
    l.kind = n.kind_;
    const std::size_t table = subs.size() * 2 * sizeof(std::uint32_t);
    out.resize(channel.size() + payload.size() + extra.size() + table);
    char* p = out.data();
    std::memcpy(p, channel.data(), channel.size());
    p += channel.size();
    if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
    p += payload.size();
    if (!extra.empty()) std::memcpy(p, extra.data(), extra.size());
    p += extra.size();
    for (const std::string_view s : subs) {
        const std::uint32_t entry[2] = {offset_of(s, channel, payload),
                                        static_cast<std::uint32_t>(s.size())};
        std::memcpy(p, entry, sizeof entry);
        p += sizeof entry;
    }
    return l;
}

void notification_layout::restore(std::string_view bytes, key_notification& view,
                                  std::vector<std::string_view>& storage) const {
    if (subkeys > key_notification::inline_capacity) {
        if (storage.size() < subkeys) storage.resize(subkeys);
        view.set_storage(storage);
    } else {
        view.set_storage({});
    }
    const char* table = bytes.data() + channel + payload + extra;
    std::string_view* const store =
        view.external_ != nullptr ? view.external_ : view.inline_.data();
    for (std::uint32_t i = 0; i < subkeys; ++i) {
        std::uint32_t entry[2];
        std::memcpy(entry, table + i * sizeof entry, sizeof entry);
        store[i] = bytes.substr(entry[0], entry[1]);
    }
    view.subkey_count_ = subkeys;
    view.kind_ = kind;
    view.db_ = db;
    view.key_ = bytes.substr(key_at, key);
    view.event_ = bytes.substr(event_at, event);
    view.channel_ = bytes.substr(0, channel);
    view.payload_ = bytes.substr(channel, payload);
}

}  // namespace detail

}  // namespace ksn
