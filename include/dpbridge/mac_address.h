// SPDX-License-Identifier: Apache-2.0
//
// MacAddress and FdbKey: the 48-bit Ethernet address and the (VLAN, MAC) key
// of the forwarding database.
//
// Both are plain 64-bit integers so that the hot path compares and hashes
// them with single instructions. The MAC sits in the low 48 bits in network
// order (first octet most significant), the VLAN id in bits 48..59 of a key.
//
// Thread-safety: value types; safe to copy between threads.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace dpbridge {

class MacAddress {
 public:
  constexpr MacAddress() = default;
  constexpr explicit MacAddress(uint64_t bits) : bits_(bits & kMask) {}

  // Reads six octets in wire order.
  [[nodiscard]] static MacAddress FromBytes(const uint8_t* octets) noexcept {
    uint64_t bits = 0;
    for (int i = 0; i < 6; ++i) bits = (bits << 8) | octets[i];
    return MacAddress(bits);
  }

  // Parses "aa:bb:cc:dd:ee:ff" (also '-' separated, any case).
  // Returns nothing for any other text.
  [[nodiscard]] static std::optional<MacAddress> Parse(std::string_view text);

  [[nodiscard]] constexpr uint64_t bits() const noexcept { return bits_; }
  // The I/G bit of the first octet: broadcast and multicast both have it.
  [[nodiscard]] constexpr bool IsMulticast() const noexcept {
    return (bits_ >> 40) & 1;
  }
  [[nodiscard]] constexpr bool IsBroadcast() const noexcept { return bits_ == kMask; }
  [[nodiscard]] constexpr bool IsZero() const noexcept { return bits_ == 0; }
  // An address one station may own and send from: neither zero nor a group
  // address. Only these are learned, accepted as frame sources or given to ports.
  [[nodiscard]] constexpr bool IsStation() const noexcept { return !IsZero() && !IsMulticast(); }
  [[nodiscard]] std::array<uint8_t, 6> Bytes() const noexcept;
  [[nodiscard]] std::string ToString() const;

  friend constexpr bool operator==(MacAddress, MacAddress) = default;

 private:
  static constexpr uint64_t kMask = (uint64_t{1} << 48) - 1;
  uint64_t bits_ = 0;
};

inline constexpr uint16_t kMaxVlanId = 4095;

// (VLAN, MAC) packed as vlan << 48 | mac. Zero is never a valid key because
// an all-zero source MAC is never learned, which lets tables use it as "empty".
class FdbKey {
 public:
  constexpr FdbKey() = default;
  constexpr FdbKey(uint16_t vlan, MacAddress mac)
      : bits_((uint64_t{vlan} & 0xfff) << 48 | mac.bits()) {}

  [[nodiscard]] static constexpr FdbKey FromBits(uint64_t bits) noexcept {
    FdbKey key;
    key.bits_ = bits;
    return key;
  }

  [[nodiscard]] constexpr uint64_t bits() const noexcept { return bits_; }
  [[nodiscard]] constexpr uint16_t vlan() const noexcept {
    return static_cast<uint16_t>(bits_ >> 48) & 0xfff;
  }
  [[nodiscard]] constexpr MacAddress mac() const noexcept { return MacAddress(bits_); }

  friend constexpr bool operator==(FdbKey, FdbKey) = default;

 private:
  uint64_t bits_ = 0;
};

}  // namespace dpbridge
