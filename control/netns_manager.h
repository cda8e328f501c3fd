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
  // Inside `netns`: sets MAC and MTU, brings `iface` up and adds the address.
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
