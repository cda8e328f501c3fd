// SPDX-License-Identifier: Apache-2.0
//
// SavedState: what dpbridge restores after a restart, and its JSON form.
//
// The state holds what people configured, never what the switch learned:
// ports added with `port add`, attachments (a TAP port moved into a
// namespace and configured there), static FDB entries, and settings changed
// at run time. The JSON form is the state file (docs/control-protocol.md
// shows it); the port form is also what `port.add` requests carry.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dpbridge/mac_address.h"
#include "port_spec.h"
#include "status.h"
#include "validation.h"

namespace dpbridge {

inline constexpr int kStateVersion = 1;

struct Attachment {
  std::string port;                // the port's name, and the interface's in the namespace
  std::string netns;
  std::optional<Ipv4Cidr> ip;
  MacAddress mac;                  // chosen at attach time if not given
  uint32_t mtu = 0;                // 0: kernel default
  // How the namespace is linked: kTapVnet or kTap (a TAP device moved into it), or a veth
  // pair whose host end (named as the port) is a kAfXdp or kAfPacket port. The default
  // of `attach`: the fastest way in (see docs/performance.md, container path).
  PortType via = PortType::kTapVnet;
  bool operator==(const Attachment&) const = default;
};

// Whether `type` can link an attached namespace (tap, af-xdp, af-packet).
[[nodiscard]] bool IsAttachLink(PortType type);

struct StaticFdbEntry {
  MacAddress mac;
  uint16_t vlan = 0;
  std::string port;
  bool operator==(const StaticFdbEntry&) const = default;
};

struct SavedSettings {
  std::optional<uint32_t> aging_time_s;
  std::optional<uint32_t> default_mac_limit;
  std::map<std::string, uint32_t> port_mac_limits;
  bool operator==(const SavedSettings&) const = default;
};

struct SavedState {
  std::vector<PortSpec> ports;     // plain ports; attached ones are in `attachments`
  std::vector<Attachment> attachments;
  std::vector<StaticFdbEntry> static_fdb;
  SavedSettings settings;

  [[nodiscard]] const Attachment* FindAttachment(const std::string& port) const;
  // Forgets a port everywhere: its spec or attachment, its static entries
  // and its MAC limit.
  void ForgetPort(const std::string& port);
};

[[nodiscard]] nlohmann::json PortSpecToJson(const PortSpec& spec);
// Reads a spec strictly (unknown keys and wrong types are errors) and checks
// it with ValidatePortSpec.
[[nodiscard]] Result<PortSpec> PortSpecFromJson(const nlohmann::json& object);

[[nodiscard]] nlohmann::json AttachmentToJson(const Attachment& attachment);
[[nodiscard]] nlohmann::json StateToJson(const SavedState& state);
// Any problem is reported with the JSON path of the bad value.
[[nodiscard]] Result<SavedState> StateFromJson(const nlohmann::json& object);

}  // namespace dpbridge
