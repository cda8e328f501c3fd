// SPDX-License-Identifier: Apache-2.0
//
// NetnsManager: named network namespaces and the links dpbridge moves into
// them, through netlink (libnl-route-3), never by running `ip`.
//
// Namespaces are the ones `ip netns` sees: a namespace NAME is a bind mount
// of a namespace file on /run/netns/NAME. To create one, a short-lived helper
// thread unshares its own network namespace and bind-mounts
// /proc/thread-self/ns/net there (the rest of the process stays where it
// is). Work inside a namespace (configuring a link, reading its state) runs
// on a helper thread that has entered it with setns(), or on a netlink socket
// opened by such a thread: a netlink socket stays in the namespace it was
// created in.
//
// Thread-safety: any one thread at a time; the helper threads are joined
// before each call returns. Probes from MakeLinkProbe() run on the caller's
// thread and share nothing but their own socket.
//
// Limitations: IPv4 addresses only; one address per attached link.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dpbridge/mac_address.h"
#include "status.h"
#include "validation.h"

namespace dpbridge {

struct LinkSettings {
  std::optional<MacAddress> mac;
  uint32_t mtu = 0;                // 0: leave as is
  std::optional<Ipv4Cidr> ip;
  std::optional<std::string> rename;  // a new name for the link
  // Checksums computed by the stack instead of left to the device: a packet or
  // XDP socket at the other end of a veth pair gets frames without the
  // checksum metadata that the pair carries (turns TSO off with it).
  bool no_tx_checksum_offload = false;
};

class NetnsManager {
 public:
  explicit NetnsManager(std::string run_dir = "/run/netns");

  [[nodiscard]] bool Exists(const std::string& name) const;
  // Creates namespace `name`; an error if it exists.
  [[nodiscard]] Status Add(const std::string& name) const;
  // Unmounts and removes namespace `name`. Processes still inside keep it
  // alive, as with `ip netns del`.
  [[nodiscard]] Status Delete(const std::string& name) const;
  [[nodiscard]] Result<std::vector<std::string>> List() const;

  // Moves interface `iface` from the caller's namespace into `netns`.
  [[nodiscard]] Status MoveLink(const std::string& iface, const std::string& netns) const;
  // In the caller's namespace: a veth pair `name` <-> `peer`, `name` up (with
  // `mtu` unless 0). An error if either name is taken.
  [[nodiscard]] Status AddVethPair(const std::string& name, const std::string& peer,
                                   uint32_t mtu) const;
  // In the caller's namespace: deletes link `iface` if it exists and is of
  // kind `kind` (e.g. "veth"); true if it deleted one.
  [[nodiscard]] Result<bool> DeleteLink(const std::string& iface, const std::string& kind) const;
  // Inside `netns`: renames `iface` if asked (then uses the new name), sets
  // MAC, MTU and checksum offload, brings it up and adds the address.
  [[nodiscard]] Status ConfigureLink(const std::string& netns, const std::string& iface,
                                     const LinkSettings& settings) const;
  // A probe for Switch::SetLinkProbe: true while `iface` in `netns` is
  // administratively up and has carrier. It keeps a netlink socket inside
  // the namespace, so each call is one netlink round trip.
  [[nodiscard]] Result<std::function<bool()>> MakeLinkProbe(const std::string& netns,
                                                            const std::string& iface) const;

  [[nodiscard]] const std::string& run_dir() const { return run_dir_; }

 private:
  [[nodiscard]] std::string PathOf(const std::string& name) const { return run_dir_ + "/" + name; }
  [[nodiscard]] Status PrepareRunDir() const;
  // Runs `work` on a helper thread inside namespace `name`.
  [[nodiscard]] Status RunInside(const std::string& name,
                                 const std::function<Status()>& work) const;

  std::string run_dir_;
};

}  // namespace dpbridge
