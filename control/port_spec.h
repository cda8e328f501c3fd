// SPDX-License-Identifier: Apache-2.0
//
// PortSpec: what a user asks for when adding a port, and PortType.
//
// A spec is plain data: it is what `dpbridgectl port add` sends, what the
// state file stores, and what the Switch turns into a DPDK device.
//
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dpbridge/mac_address.h"

namespace dpbridge {

enum class PortType : uint8_t { kTap, kVhostUser, kAfPacket, kAfXdp, kRing, kPci, kTapVnet };

[[nodiscard]] std::string_view PortTypeName(PortType type);
[[nodiscard]] std::optional<PortType> ParsePortType(std::string_view name);

struct PortSpec {
  std::string name;                 // dpbridge's name: [A-Za-z0-9_.-], 1..15 chars
  PortType type = PortType::kTap;
  std::string path;                 // vhost-user: socket path
  bool client = false;              // vhost-user: connect to the peer's socket
  std::string iface;                // tap: interface name (default: name);
                                    // af-packet / af-xdp: existing interface
  std::optional<MacAddress> mac;    // tap: interface MAC
  uint32_t mtu = 0;                 // 0: driver default
  std::string pci_address;          // pci: e.g. 0000:00:04.0
  uint16_t queues = 1;              // RX/TX queue pairs (vhost-user, af-xdp, pci)
};

// Checks the spec alone (name, required fields per type, ranges).
// Returns an empty string if it is valid, else the problem in one line.
[[nodiscard]] std::string ValidatePortSpec(const PortSpec& spec);

}  // namespace dpbridge
