// Helpers shared by the notification unit tests: exact-size heap copies (so ASan sees an
// over-read by one byte) and an encoder that writes notifications the way the server's
// notify.c does, to check parse(encode(x)) == x.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "notifications/channel.hpp"

namespace ksn::test {

/// Bytes in a heap block of exactly their size: reading one byte past the end is a
/// heap-buffer-overflow under ASan.
class exact_bytes {
  public:
    explicit exact_bytes(std::string_view s)
        : size_(s.size()), data_(std::make_unique<char[]>(s.size() == 0 ? 1 : s.size())) {
        if (size_ != 0) std::memcpy(data_.get(), s.data(), size_);
    }
    // An empty input still points into a live block, at its end.
    std::string_view view() const noexcept {
        return size_ == 0 ? std::string_view(data_.get(), 0) : std::string_view(data_.get(), size_);
    }

  private:
    std::size_t size_;
    std::unique_ptr<char[]> data_;
};

inline std::string subkey_list(const std::vector<std::string>& subkeys) {
    std::string out;
    for (std::size_t i = 0; i < subkeys.size(); ++i) {
        if (i > 0) out.push_back(',');
        out += std::to_string(subkeys[i].size());
        out.push_back(':');
        out += subkeys[i];
    }
    return out;
}

struct wire_message {
    std::string channel;
    std::string payload;
};

/// The message the server publishes for (kind, db, key, event, subkeys), following
/// notify.c; for subkeyspaceitem, the one for the first subkey.
inline wire_message server_message(channel_kind kind, std::int32_t db, std::string_view key,
                                   std::string_view event,
                                   const std::vector<std::string>& subkeys = {}) {
    std::string c(channel_prefix(kind));
    c += db < 0 ? std::string("*") : std::to_string(db);
    c += "__:";
    std::string p;
    switch (kind) {
        case channel_kind::keyspace:
            c += key;
            p = event;
            break;
        case channel_kind::keyevent:
            c += event;
            p = key;
            break;
        case channel_kind::subkeyspace:
            c += key;
            p = std::string(event) + "|" + subkey_list(subkeys);
            break;
        case channel_kind::subkeyevent:
            c += event;
            p = std::to_string(key.size()) + ":" + std::string(key) + "|" + subkey_list(subkeys);
            break;
        case channel_kind::subkeyspaceitem:
            c += key;
            c += '\n';
            c += subkeys.at(0);
            p = event;
            break;
        case channel_kind::subkeyspaceevent:
            c += event;
            c += '|';
            c += key;
            p = subkey_list(subkeys);
            break;
    }
    return {std::move(c), std::move(p)};
}

}  // namespace ksn::test
