// SPDX-License-Identifier: Apache-2.0
//
// Validation of what people type: IPv4 CIDR addresses, namespace and port
// names, MAC addresses and bounded integers.
//
// Each parser returns either the value or one line saying what is wrong and
// what a valid value looks like, ready to be sent back to dpbridgectl. The
// daemon validates every request with these before touching the switch, so
// a bad argument never reaches DPDK or the kernel.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dpbridge/mac_address.h"
#include "status.h"

namespace dpbridge {

struct Ipv4Cidr {
  uint32_t address = 0;       // host order
  uint8_t prefix_length = 0;  // 0..32

  [[nodiscard]] std::string ToString() const;
  friend bool operator==(const Ipv4Cidr&, const Ipv4Cidr&) = default;
};

// Parses "a.b.c.d/len". The address may not be 0.0.0.0, multicast or
// broadcast, and must not be the network or broadcast address of its subnet
// when the prefix is shorter than 31.
[[nodiscard]] Result<Ipv4Cidr> ParseCidr(std::string_view text);

// Parses a unicast MAC ("aa:bb:cc:dd:ee:ff"). Multicast and all-zero
// addresses are rejected: neither can be an interface address or an FDB key.
[[nodiscard]] Result<MacAddress> ParseUnicastMac(std::string_view text);

// A network namespace name as `ip netns` accepts it and as a file in
// /run/netns: 1..64 characters of [A-Za-z0-9_.-], not "." or "..".
[[nodiscard]] Status ValidateNetnsName(std::string_view name);

// Parses a decimal integer in [min, max]; `what` names it in the error.
[[nodiscard]] Result<uint64_t> ParseBoundedUint(std::string_view text, uint64_t min,
                                                uint64_t max, std::string_view what);

// A locally administered, unicast MAC with random low bits, for interfaces
// that the user gave no address, so that it stays the same across restarts
// once saved.
[[nodiscard]] MacAddress RandomLocalMac();

}  // namespace dpbridge
