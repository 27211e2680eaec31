// Redis Cluster key slots: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.
// https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#key-distribution-model
#pragma once

#include <cstdint>
#include <string_view>

namespace ksn::cluster {

inline constexpr std::uint16_t slot_count = 16384;

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as the cluster uses it.
[[nodiscard]] std::uint16_t crc16(std::string_view bytes) noexcept;

/// The hash tag of a key: the bytes between the first `{` and the next `}` when that is
/// not empty; otherwise the whole key.
[[nodiscard]] std::string_view hash_tag(std::string_view key) noexcept;

/// The slot of a key (0..16383).
[[nodiscard]] inline std::uint16_t key_slot(std::string_view key) noexcept {
    return static_cast<std::uint16_t>(crc16(hash_tag(key)) & (slot_count - 1));
}

}  // namespace ksn::cluster
