// SPDX-License-Identifier: Apache-2.0
// Network namespaces and links through libnl-route-3.
#include "netns_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

namespace dpbridge {

namespace {

std::string Errno() { return std::strerror(errno); }

struct SocketFree {
  void operator()(nl_sock* sock) const { nl_socket_free(sock); }
};
struct LinkPut {
  void operator()(rtnl_link* link) const { rtnl_link_put(link); }
};
struct AddrPut {
  void operator()(rtnl_addr* addr) const { rtnl_addr_put(addr); }
};
struct NlAddrPut {
  void operator()(nl_addr* addr) const { nl_addr_put(addr); }
};
using SocketPtr = std::unique_ptr<nl_sock, SocketFree>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;

// A route netlink socket in the calling thread's namespace.
Result<SocketPtr> OpenRouteSocket() {
  SocketPtr sock(nl_socket_alloc());
  if (!sock) return Status::Error("netlink: cannot allocate a socket");
  if (const int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) {
    return Status::Error(std::string("netlink: cannot connect: ") + nl_geterror(err));
  }
  return sock;
}

Result<LinkPtr> GetLink(nl_sock* sock, const std::string& iface, const std::string& where) {
  rtnl_link* link = nullptr;
  if (const int err = rtnl_link_get_kernel(sock, 0, iface.c_str(), &link); err < 0) {
    return Status::Error("interface " + iface + ": not found in " + where + " (" +
                         nl_geterror(err) + ")");
  }
  return LinkPtr(link);
}

// Turns the device's TX checksum offload off (ethtool), in the calling thread's namespace.
Status DisableTxChecksumOffload(const std::string& iface) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("ethtool: cannot open a socket: " + Errno());
  ethtool_value value{};
  value.cmd = ETHTOOL_STXCSUM;
  value.data = 0;
  ifreq request{};
  std::strncpy(request.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&value);
  const int rc = ioctl(fd, SIOCETHTOOL, &request);
  const std::string error = rc != 0 ? Errno() : "";
  close(fd);
  if (rc != 0) {
    return Status::Error("interface " + iface + ": cannot turn TX checksum offload off: " + error);
  }
  return Status();
}

Status ApplyLinkSettings(nl_sock* sock, const std::string& netns, const std::string& iface,
                         const LinkSettings& settings) {
  Result<LinkPtr> link = GetLink(sock, iface, "namespace " + netns);
  if (!link.ok()) return link.status();

  // A name changes only while the link is down, so on its own and first.
  const std::string name = settings.rename.value_or(iface);
  if (settings.rename) {
    LinkPtr renamed(rtnl_link_alloc());
    rtnl_link_set_name(renamed.get(), name.c_str());
    if (const int err = rtnl_link_change(sock, link.value().get(), renamed.get(), 0); err < 0) {
      return Status::Error("interface " + iface + " in namespace " + netns +
                           ": cannot rename it to " + name + ": " + nl_geterror(err));
    }
  }
  if (settings.no_tx_checksum_offload) {
    if (Status off = DisableTxChecksumOffload(name); !off.ok()) return off;
  }

  LinkPtr change(rtnl_link_alloc());
  std::unique_ptr<nl_addr, NlAddrPut> mac;
  if (settings.mac) {
    const std::array<uint8_t, 6> bytes = settings.mac->Bytes();
    mac.reset(nl_addr_build(AF_LLC, bytes.data(), bytes.size()));
    rtnl_link_set_addr(change.get(), mac.get());
  }
  if (settings.mtu != 0) rtnl_link_set_mtu(change.get(), settings.mtu);
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (const int err = rtnl_link_change(sock, link.value().get(), change.get(), 0); err < 0) {
    return Status::Error("interface " + name + " in namespace " + netns +
                         ": cannot set MAC/MTU/up: " + nl_geterror(err));
  }
  if (!settings.ip) return Status();

  const uint32_t address_be = htonl(settings.ip->address);
  std::unique_ptr<nl_addr, NlAddrPut> local(nl_addr_build(AF_INET, &address_be, 4));
  nl_addr_set_prefixlen(local.get(), settings.ip->prefix_length);
  std::unique_ptr<rtnl_addr, AddrPut> addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), rtnl_link_get_ifindex(link.value().get()));
  rtnl_addr_set_family(addr.get(), AF_INET);
  if (const int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0) {
    return Status::Error(std::string("address: ") + nl_geterror(err));
  }
  rtnl_addr_set_prefixlen(addr.get(), settings.ip->prefix_length);
  if (const int err = rtnl_addr_add(sock, addr.get(), 0); err < 0 && err != -NLE_EXIST) {
    return Status::Error("interface " + name + " in namespace " + netns + ": cannot add " +
                         settings.ip->ToString() + ": " + nl_geterror(err));
  }
  return Status();
}

}  // namespace

NetnsManager::NetnsManager(std::string run_dir) : run_dir_(std::move(run_dir)) {}

bool NetnsManager::Exists(const std::string& name) const {
  struct stat st {};
  return stat(PathOf(name).c_str(), &st) == 0;
}

Status NetnsManager::PrepareRunDir() const {
  if (mkdir(run_dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Error(run_dir_ + ": cannot create it: " + Errno());
  }
  // As iproute2 arranges it: the directory is a shared mount point, so that
  // namespace mounts made here propagate to other mount namespaces.
  if (mount("", run_dir_.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return Status();
  if (errno != EINVAL) return Status::Error(run_dir_ + ": cannot make it shared: " + Errno());
  if (mount(run_dir_.c_str(), run_dir_.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0 ||
      mount("", run_dir_.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    return Status::Error(run_dir_ + ": cannot make it a shared mount: " + Errno());
  }
  return Status();
}

Status NetnsManager::Add(const std::string& name) const {
  if (Status valid = ValidateNetnsName(name); !valid.ok()) return valid;
  if (Status prepared = PrepareRunDir(); !prepared.ok()) return prepared;

  const std::string path = PathOf(name);
  const int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::Error("namespace " + name + ": already exists; see `dpbridgectl netns list`");
    }
    return Status::Error("namespace " + name + ": cannot create " + path + ": " + Errno());
  }
  close(fd);

  // unshare() on a helper thread moves only that thread.
  Status status;
  std::thread helper([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      status = Status::Error("namespace " + name + ": unshare failed: " + Errno() +
                             "; dpbridge needs CAP_SYS_ADMIN (run as root)");
      return;
    }
    if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      status = Status::Error("namespace " + name + ": cannot bind-mount it on " + path + ": " +
                             Errno());
    }
  });
  helper.join();
  if (!status.ok()) unlink(path.c_str());
  return status;
}

Status NetnsManager::Delete(const std::string& name) const {
  if (Status valid = ValidateNetnsName(name); !valid.ok()) return valid;
  if (!Exists(name)) {
    return Status::Error("namespace " + name + ": no such namespace; see `dpbridgectl netns list`");
  }
  const std::string path = PathOf(name);
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
    return Status::Error("namespace " + name + ": cannot unmount " + path + ": " + Errno());
  }
  if (unlink(path.c_str()) != 0) {
    return Status::Error("namespace " + name + ": cannot remove " + path + ": " + Errno());
  }
  return Status();
}

Result<std::vector<std::string>> NetnsManager::List() const {
  std::vector<std::string> names;
  DIR* dir = opendir(run_dir_.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return names;
    return Status::Error(run_dir_ + ": cannot list it: " + Errno());
  }
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

Status NetnsManager::RunInside(const std::string& name,
                               const std::function<Status()>& work) const {
  const int fd = open(PathOf(name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error("namespace " + name + ": cannot open it: " + Errno() +
                         "; see `dpbridgectl netns list`");
  }
  Status status;
  std::thread helper([&] {
    if (setns(fd, CLONE_NEWNET) != 0) {
      status = Status::Error("namespace " + name + ": cannot enter it: " + Errno());
      return;
    }
    status = work();
  });
  helper.join();
  close(fd);
  return status;
}

Status NetnsManager::MoveLink(const std::string& iface, const std::string& netns) const {
  const int ns_fd = open(PathOf(netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) {
    return Status::Error("namespace " + netns + ": cannot open it: " + Errno() +
                         "; create it with `dpbridgectl netns add " + netns + "`");
  }
  Status status = [&]() -> Status {
    Result<SocketPtr> sock = OpenRouteSocket();
    if (!sock.ok()) return sock.status();
    Result<LinkPtr> link = GetLink(sock.value().get(), iface, "the host namespace");
    if (!link.ok()) return link.status();
    LinkPtr change(rtnl_link_alloc());
    rtnl_link_set_ns_fd(change.get(), ns_fd);
    const int err = rtnl_link_change(sock.value().get(), link.value().get(), change.get(), 0);
    if (err < 0) {
      return Status::Error("interface " + iface + ": cannot move it into namespace " + netns +
                           ": " + nl_geterror(err));
    }
    return Status();
  }();
  close(ns_fd);
  return status;
}

Status NetnsManager::AddVethPair(const std::string& name, const std::string& peer,
                                 uint32_t mtu) const {
  Result<SocketPtr> sock = OpenRouteSocket();
  if (!sock.ok()) return sock.status();
  for (const std::string& iface : {name, peer}) {
    rtnl_link* existing = nullptr;
    if (rtnl_link_get_kernel(sock.value().get(), 0, iface.c_str(), &existing) == 0) {
      rtnl_link_put(existing);
      return Status::Error("interface " + iface + " already exists in the host namespace; " +
                           "pick another port name");
    }
  }
  if (const int err = rtnl_link_veth_add(sock.value().get(), name.c_str(), peer.c_str(), getpid());
      err < 0) {
    return Status::Error("veth pair " + name + ": cannot create it: " + nl_geterror(err));
  }
  Result<LinkPtr> link = GetLink(sock.value().get(), name, "the host namespace");
  if (!link.ok()) return link.status();
  // The host end carries the namespace's frames only: without IPv6 the host sends nothing
  // of its own on it (router solicitations, MLD), which a packet socket would pick up and
  // the switch would learn. No IPv6 in the kernel: nothing to turn off.
  if (FILE* knob = std::fopen(("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6").c_str(), "w")) {
    std::fputs("1", knob);
    std::fclose(knob);
  }
  LinkPtr change(rtnl_link_alloc());
  if (mtu != 0) rtnl_link_set_mtu(change.get(), mtu);
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (const int err = rtnl_link_change(sock.value().get(), link.value().get(), change.get(), 0);
      err < 0) {
    return Status::Error("interface " + name + ": cannot set MTU/up: " + nl_geterror(err));
  }
  return Status();
}

Result<bool> NetnsManager::DeleteLink(const std::string& iface, const std::string& kind) const {
  Result<SocketPtr> sock = OpenRouteSocket();
  if (!sock.ok()) return sock.status();
  rtnl_link* found = nullptr;
  if (rtnl_link_get_kernel(sock.value().get(), 0, iface.c_str(), &found) < 0) return false;
  LinkPtr link(found);
  const char* type = rtnl_link_get_type(link.get());
  if (type == nullptr || kind != type) return false;
  if (const int err = rtnl_link_delete(sock.value().get(), link.get()); err < 0) {
    return Status::Error("interface " + iface + ": cannot delete it: " + nl_geterror(err));
  }
  return true;
}

Status NetnsManager::ConfigureLink(const std::string& netns, const std::string& iface,
                                   const LinkSettings& settings) const {
  return RunInside(netns, [&]() -> Status {
    Result<SocketPtr> sock = OpenRouteSocket();
    if (!sock.ok()) return sock.status();
    return ApplyLinkSettings(sock.value().get(), netns, iface, settings);
  });
}

Result<std::function<bool()>> NetnsManager::MakeLinkProbe(const std::string& netns,
                                                          const std::string& iface) const {
  std::shared_ptr<nl_sock> inside;
  Status status = RunInside(netns, [&]() -> Status {
    Result<SocketPtr> sock = OpenRouteSocket();
    if (!sock.ok()) return sock.status();
    inside.reset(sock.value().release(), SocketFree());
    return Status();
  });
  if (!status.ok()) return status;

  // The socket pins the namespace it was opened in: were it kept after
  // `ip netns del`, the namespace and the TAP in it would live on unseen. So
  // the probe first checks that the name still refers to the same namespace
  // (same inode) and otherwise reports the link down for good and lets go.
  struct stat info {};
  if (stat(PathOf(netns).c_str(), &info) != 0) {
    return Status::Error("namespace " + netns + ": vanished while attaching");
  }
  const ino_t namespace_inode = info.st_ino;
  std::function<bool()> probe = [inside, iface, path = PathOf(netns),
                                 namespace_inode]() mutable {
    if (!inside) return false;
    struct stat now {};
    if (stat(path.c_str(), &now) != 0 || now.st_ino != namespace_inode) {
      inside.reset();
      return false;
    }
    rtnl_link* link = nullptr;
    if (rtnl_link_get_kernel(inside.get(), 0, iface.c_str(), &link) < 0) return false;
    const bool up = (rtnl_link_get_flags(link) & IFF_UP) != 0 && rtnl_link_get_carrier(link) != 0;
    rtnl_link_put(link);
    return up;
  };
  return probe;
}

}  // namespace dpbridge
