// SPDX-License-Identifier: Apache-2.0
// PortSpec names and validation.
#include "port_spec.h"

#include <array>
#include <utility>

namespace dpbridge {

namespace {

constexpr std::array<std::pair<PortType, std::string_view>, 7> kPortTypeNames = {{
    {PortType::kTap, "tap"},
    {PortType::kTapVnet, "tap-vnet"},
    {PortType::kVhostUser, "vhost-user"},
    {PortType::kAfPacket, "af-packet"},
    {PortType::kAfXdp, "af-xdp"},
    {PortType::kRing, "ring"},
    {PortType::kPci, "pci"},
}};

constexpr size_t kMaxNameLength = 15;  // a Linux interface name (IFNAMSIZ - 1)
constexpr uint16_t kMaxQueues = 16;
constexpr uint32_t kMinMtu = 68;
constexpr uint32_t kMaxMtu = 9000;

bool IsNameCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.';
}

std::string CheckName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return std::string(what) + " '" + std::string(name) + "' must be 1 to 15 characters";
  }
  for (char c : name) {
    if (!IsNameCharacter(c)) {
      return std::string(what) + " '" + std::string(name) +
             "' may only use letters, digits, '_', '-' and '.'";
    }
  }
  return "";
}

}  // namespace

std::string_view PortTypeName(PortType type) {
  for (const auto& [value, name] : kPortTypeNames) {
    if (value == type) return name;
  }
  return "unknown";
}

std::optional<PortType> ParsePortType(std::string_view name) {
  for (const auto& [value, type_name] : kPortTypeNames) {
    if (type_name == name) return value;
  }
  return std::nullopt;
}

std::string ValidatePortSpec(const PortSpec& spec) {
  if (std::string problem = CheckName("port name", spec.name); !problem.empty()) return problem;
  if (spec.queues == 0 || spec.queues > kMaxQueues) {
    return "port " + spec.name + ": queues must be between 1 and 16";
  }
  if (spec.mtu != 0 && (spec.mtu < kMinMtu || spec.mtu > kMaxMtu)) {
    return "port " + spec.name + ": MTU must be between 68 and 9000";
  }
  switch (spec.type) {
    case PortType::kTap:
    case PortType::kTapVnet:
      if (!spec.iface.empty()) return CheckName("interface name", spec.iface);
      break;
    case PortType::kVhostUser:
      if (spec.path.empty() || spec.path.front() != '/') {
        return "port " + spec.name + ": vhost-user needs --path with an absolute socket path";
      }
      if (spec.path.size() >= 108) {
        return "port " + spec.name + ": socket path longer than 107 bytes";
      }
      break;
    case PortType::kAfPacket:
    case PortType::kAfXdp:
      if (spec.iface.empty()) {
        return "port " + spec.name + ": " + std::string(PortTypeName(spec.type)) +
               " needs --iface naming an existing interface";
      }
      return CheckName("interface name", spec.iface);
    case PortType::kRing:
      break;
    case PortType::kPci:
      if (spec.pci_address.empty()) {
        return "port " + spec.name + ": pci needs a PCI address such as 0000:00:04.0";
      }
      break;
  }
  if (spec.mac && !spec.mac->IsStation()) {
    return "port " + spec.name + ": MAC " + spec.mac->ToString() +
           " must be a unicast, non-zero address";
  }
  return "";
}

}  // namespace dpbridge
