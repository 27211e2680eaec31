// libFuzzer target for the notification parser, the channel builders, glob escaping and
// the flag letters.
//
// Input: byte 0 chooses the subkey storage (bits 0-1) and a key prefix length (bits 2-4);
// bytes 1-2 are the channel length (little endian, clamped); the channel follows, and the
// rest is the payload. Channel and payload are copied into separate exact-size heap
// blocks, so that reading one byte past either is caught by ASan.
//
// Checked: no crash; every view inside its input; ok results consistent with the grammar
// (kind, db, non-empty event, subkey count); the owning copy equals the view; a key prefix
// taken from the key filters nothing and strips exactly; an exact channel built from an
// ok result has the received channel's name; glob_escape() output is never a pattern;
// flag letters round-trip.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "notifications/channel.hpp"
#include "notifications/flags.hpp"
#include "notifications/glob.hpp"
#include "notifications/notification.hpp"

namespace {

#define KSN_FUZZ_CHECK(cond)                                                              \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)

class heap_copy {
  public:
    explicit heap_copy(const std::uint8_t* p, std::size_t n)
        : n_(n), data_(std::make_unique<char[]>(n == 0 ? 1 : n)) {
        if (n != 0) std::memcpy(data_.get(), p, n);
    }
    std::string_view view() const noexcept { return {data_.get(), n_}; }

  private:
    std::size_t n_;
    std::unique_ptr<char[]> data_;
};

bool inside(std::string_view part, std::string_view whole) {
    if (part.empty()) return true;
    const auto p = reinterpret_cast<std::uintptr_t>(part.data());
    const auto w = reinterpret_cast<std::uintptr_t>(whole.data());
    return p >= w && p + part.size() <= w + whole.size();
}

bool in_either(std::string_view part, std::string_view a, std::string_view b) {
    return inside(part, a) || inside(part, b);
}

void check_ok(const ksn::key_notification& n, const ksn::parse_result& r, std::string_view channel,
              std::string_view payload) {
    using ksn::channel_kind;
    KSN_FUZZ_CHECK(n.channel().data() == channel.data() && n.channel().size() == channel.size());
    KSN_FUZZ_CHECK(n.payload().data() == payload.data() && n.payload().size() == payload.size());
    KSN_FUZZ_CHECK(in_either(n.key(), channel, payload));
    KSN_FUZZ_CHECK(in_either(n.event(), channel, payload));
    KSN_FUZZ_CHECK(!n.event().empty());
    KSN_FUZZ_CHECK(n.db() >= ksn::any_db);
    KSN_FUZZ_CHECK(ksn::channel_type(channel) == n.kind());
    KSN_FUZZ_CHECK(n.subkeys().size() == r.subkeys);
    KSN_FUZZ_CHECK(n.subkeys().size() <= n.subkey_capacity());
    for (const std::string_view s : n.subkeys())
        KSN_FUZZ_CHECK(in_either(s, channel, payload));
    switch (n.kind()) {
        case channel_kind::keyspace:
        case channel_kind::keyevent:
            KSN_FUZZ_CHECK(n.subkeys().empty());
            break;
        case channel_kind::subkeyspaceitem:
            KSN_FUZZ_CHECK(n.subkeys().size() == 1);
            break;
        default:
            KSN_FUZZ_CHECK(!n.subkeys().empty());
            break;
    }
    const ksn::owned_key_notification o = n.to_owned();
    KSN_FUZZ_CHECK(o == n);
}

// The exact channel the builders make for this notification is the received channel.
void check_builders(const ksn::key_notification& n) {
    using ksn::channel;
    using ksn::channel_kind;
    using ksn::match;
    if (n.db() < 0) return;  // `@*` channels are patterns only
    std::string name;
    switch (n.kind()) {
        case channel_kind::keyspace:
            name = channel::keyspace(n.key(), n.db(), match::exact).name();
            break;
        case channel_kind::keyevent:
            name = channel::keyevent(n.event(), n.db(), match::exact).name();
            break;
        case channel_kind::subkeyspace:
            name = channel::subkeyspace(n.key(), n.db(), match::exact).name();
            break;
        case channel_kind::subkeyevent:
            name = channel::subkeyevent(n.event(), n.db(), match::exact).name();
            break;
        case channel_kind::subkeyspaceitem:
            name = channel::subkeyspaceitem(n.key(), n.subkeys()[0], n.db(), match::exact).name();
            break;
        case channel_kind::subkeyspaceevent:
            name = channel::subkeyspaceevent(n.event(), n.key(), n.db(), match::exact).name();
            break;
    }
    KSN_FUZZ_CHECK(name == n.channel());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const std::uint8_t options = data[0];
    std::size_t channel_len =
        static_cast<std::size_t>(data[1]) | (static_cast<std::size_t>(data[2]) << 8);
    data += 3;
    size -= 3;
    if (channel_len > size) channel_len = size;
    const heap_copy channel_bytes(data, channel_len);
    const heap_copy payload_bytes(data + channel_len, size - channel_len);
    const std::string_view channel = channel_bytes.view();
    const std::string_view payload = payload_bytes.view();

    static constexpr std::size_t storage_sizes[] = {0, 1, 3, 64};
    std::vector<std::string_view> storage(storage_sizes[options & 3]);
    ksn::key_notification n(storage);
    const ksn::parse_result r = ksn::parse_notification(channel, payload, n);

    switch (r.status) {
        case ksn::parse_status::ok:
            check_ok(n, r, channel, payload);
            check_builders(n);
            break;
        case ksn::parse_status::not_notification:
            KSN_FUZZ_CHECK(!ksn::channel_type(channel).has_value());
            KSN_FUZZ_CHECK(!r.error_code());
            break;
        case ksn::parse_status::malformed:
            KSN_FUZZ_CHECK(ksn::channel_type(channel).has_value());
            KSN_FUZZ_CHECK(r.error != ksn::notification_errc{} &&
                           r.error != ksn::notification_errc::too_many_subkeys);
            KSN_FUZZ_CHECK(
                r.offset <=
                (r.part == ksn::notification_part::channel ? channel.size() : payload.size()));
            KSN_FUZZ_CHECK(!r.error_code().message().empty());
            break;
        case ksn::parse_status::storage_too_small: {
            KSN_FUZZ_CHECK(r.subkeys > n.subkey_capacity());
            KSN_FUZZ_CHECK(n.subkeys().empty());
            std::vector<std::string_view> big(r.subkeys);
            ksn::key_notification m(big);
            const ksn::parse_result again = ksn::parse_notification(channel, payload, m);
            KSN_FUZZ_CHECK(again.ok() && again.subkeys == r.subkeys);
            check_ok(m, again, channel, payload);
            KSN_FUZZ_CHECK(m.key() == n.key() && m.event() == n.event());
            break;
        }
        case ksn::parse_status::filtered:
            KSN_FUZZ_CHECK(false);  // no prefix was given
            break;
    }

    if (r.ok() || r.status == ksn::parse_status::storage_too_small) {
        // A prefix taken from the key itself keeps the message and strips exactly.
        const std::string key(n.key());
        const std::size_t cut = std::min<std::size_t>((options >> 2) & 7, key.size());
        const std::string prefix = key.substr(0, cut);
        std::vector<std::string_view> big(r.subkeys);
        ksn::key_notification m(big);
        const ksn::parse_result p = ksn::parse_notification(channel, payload, m, prefix);
        KSN_FUZZ_CHECK(p.ok());
        KSN_FUZZ_CHECK(m.key() == std::string_view(key).substr(cut));
        // One more byte than the key has filters it out.
        const ksn::parse_result q =
            ksn::parse_notification(channel, payload, m, key + std::string(1, '\x01'));
        KSN_FUZZ_CHECK(q.status == ksn::parse_status::filtered);
    } else {
        // Any prefix leaves non-ok answers unchanged.
        const ksn::parse_result p =
            ksn::parse_notification(channel, payload, n, payload.substr(0, (options >> 2) & 7));
        KSN_FUZZ_CHECK(p.status == r.status && p.error == r.error && p.offset == r.offset);
    }

    // Glob escaping makes any bytes literal; detection never crashes.
    (void)ksn::is_glob_pattern(channel);
    KSN_FUZZ_CHECK(!ksn::is_glob_pattern(ksn::glob_escape(payload)));

    // Flag letters round-trip.
    if (const auto flags = ksn::from_letters(payload)) {
        KSN_FUZZ_CHECK(ksn::from_letters(ksn::to_letters(*flags)) == flags);
    }
    return 0;
}
