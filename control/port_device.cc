// SPDX-License-Identifier: Apache-2.0
// PortDevice: probe, configure, start and remove one DPDK port.
#include "port_device.h"

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dpbridge {

namespace {

constexpr unsigned kRingSize = 4096;

std::string ErrorText(int error) { return rte_strerror(error < 0 ? -error : error); }

// A vhost-user server socket left behind by a previous run makes bind() fail.
// Remove it, but only if nothing answers on it: another switch may own it.
Status ClearStaleSocket(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return {};
  if (!S_ISSOCK(info.st_mode)) {
    return Status::Error(path + " exists and is not a socket; choose another --path");
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return {};
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool in_use = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  if (in_use) return Status::Error(path + " is in use by another process; choose another --path");
  unlink(path.c_str());
  return {};
}

}  // namespace

Result<std::unique_ptr<PortDevice>> PortDevice::Open(const PortSpec& spec,
                                                     const PortDeviceConfig& config) {
  std::unique_ptr<PortDevice> device(new PortDevice());
  if (spec.type == PortType::kTapVnet) {
    if (Status status = device->OpenTapVnet(spec, config); !status.ok()) return status;
    return device;
  }
  if (Status status = device->Probe(spec); !status.ok()) return status;
  if (Status status = device->Configure(spec, config); !status.ok()) return status;
  return device;
}

Status PortDevice::Probe(const PortSpec& spec) {
  const std::string prefix = "port " + spec.name + ": ";
  std::string arguments;
  switch (spec.type) {
    case PortType::kTap:
      device_name_ = "net_tap_" + spec.name;
      arguments = ",iface=" + (spec.iface.empty() ? spec.name : spec.iface);
      if (spec.mac) arguments += ",mac=" + spec.mac->ToString();
      break;
    case PortType::kVhostUser:
      if (!spec.client) {
        if (Status status = ClearStaleSocket(spec.path); !status.ok()) {
          return Status::Error(prefix + status.message());
        }
      }
      device_name_ = "net_vhost_" + spec.name;
      arguments = ",iface=" + spec.path + ",queues=" + std::to_string(spec.queues) +
                  ",client=" + (spec.client ? "1" : "0");
      break;
    case PortType::kAfPacket:
      device_name_ = "net_af_packet_" + spec.name;
      arguments = ",iface=" + spec.iface + ",qpairs=" + std::to_string(spec.queues);
      break;
    case PortType::kAfXdp:
      device_name_ = "net_af_xdp_" + spec.name;
      arguments = ",iface=" + spec.iface + ",start_queue=0,queue_count=" +
                  std::to_string(spec.queues);
      break;
    case PortType::kRing: {
      device_name_ = "net_ring_" + spec.name;
      const std::string rx_name = "dpb_" + spec.name + "_rx";
      const std::string tx_name = "dpb_" + spec.name + "_tx";
      rx_ring_ = rte_ring_create(rx_name.c_str(), kRingSize, SOCKET_ID_ANY, 0);
      tx_ring_ = rte_ring_create(tx_name.c_str(), kRingSize, SOCKET_ID_ANY, 0);
      if (rx_ring_ == nullptr || tx_ring_ == nullptr) {
        return Status::Error(prefix + "cannot create rings: " + ErrorText(rte_errno));
      }
      const int id = rte_eth_from_rings(device_name_.c_str(), &rx_ring_, 1, &tx_ring_, 1,
                                        SOCKET_ID_ANY);
      if (id < 0) return Status::Error(prefix + "cannot create ring port: " + ErrorText(rte_errno));
      dpdk_port_ = static_cast<uint16_t>(id);
      probed_ = true;
      return {};
    }
    case PortType::kPci:
      device_name_ = spec.pci_address;
      break;
    case PortType::kTapVnet:
      return Status::Error(prefix + "a tap-vnet port is no DPDK device");  // see Open()
  }

  const std::string devargs = device_name_ + arguments;
  const int result = rte_dev_probe(devargs.c_str());
  if (result < 0) {
    std::string hint;
    if (spec.type == PortType::kAfPacket || spec.type == PortType::kAfXdp) {
      hint = " (does interface " + spec.iface + " exist? see `ip link`)";
    } else if (spec.type == PortType::kPci) {
      hint = " (is the device bound to vfio-pci? see dpdk-devbind.py --status)";
    } else if (spec.type == PortType::kTap) {
      hint = " (is /dev/net/tun available, and the interface name free?)";
    }
    return Status::Error(prefix + "cannot create device " + devargs + ": " + ErrorText(result) +
                         hint);
  }
  probed_ = true;
  if (rte_eth_dev_get_port_by_name(device_name_.c_str(), &dpdk_port_) != 0) {
    return Status::Error(prefix + "device " + device_name_ + " has no ethdev port");
  }
  return {};
}

Status PortDevice::Configure(const PortSpec& spec, const PortDeviceConfig& config) {
  const std::string prefix = "port " + spec.name + ": ";
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(dpdk_port_, &info); rc != 0) {
    return Status::Error(prefix + "cannot read device info: " + ErrorText(rc));
  }
  rx_queues_ = std::clamp<uint16_t>(spec.queues, 1, std::max<uint16_t>(info.max_rx_queues, 1));
  tx_queues_ = std::clamp<uint16_t>(config.tx_queues, 1, std::max<uint16_t>(info.max_tx_queues, 1));

  rte_eth_conf port_config{};
  // Link changes as events where the driver raises them (vhost-user does on
  // connect and disconnect), so the switch reacts in milliseconds.
  if (info.dev_flags != nullptr && (*info.dev_flags & RTE_ETH_DEV_INTR_LSC) != 0) {
    port_config.intr_conf.lsc = 1;
  }
  // RX interrupts where the driver raises them for the queue's own file
  // descriptor (net_tap: the TAP fd is readable when a frame waits), so that
  // an idle PMD thread waits in epoll instead of sleeping a fixed time.
  // Limitation: vhost-user also has RX interrupts, but its driver frees them
  // when the guest disconnects, at a moment the PMD thread does not see; its
  // ports stay polled with timed back-off sleeps.
  rx_interrupts_ = spec.type == PortType::kTap;
  port_config.intr_conf.rxq = rx_interrupts_ ? 1 : 0;
  if (int rc = rte_eth_dev_configure(dpdk_port_, rx_queues_, tx_queues_, &port_config); rc != 0) {
    return Status::Error(prefix + "cannot configure " + std::to_string(rx_queues_) + " RX and " +
                         std::to_string(tx_queues_) + " TX queues: " + ErrorText(rc));
  }
  uint16_t rx_descriptors = config.rx_descriptors;
  uint16_t tx_descriptors = config.tx_descriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(dpdk_port_, &rx_descriptors, &tx_descriptors);
  const int socket = rte_eth_dev_socket_id(dpdk_port_);
  for (uint16_t q = 0; q < rx_queues_; ++q) {
    if (int rc = rte_eth_rx_queue_setup(dpdk_port_, q, rx_descriptors, socket, nullptr,
                                        config.pool);
        rc != 0) {
      return Status::Error(prefix + "cannot set up RX queue " + std::to_string(q) + ": " +
                           ErrorText(rc));
    }
  }
  for (uint16_t q = 0; q < tx_queues_; ++q) {
    if (int rc = rte_eth_tx_queue_setup(dpdk_port_, q, tx_descriptors, socket, nullptr); rc != 0) {
      return Status::Error(prefix + "cannot set up TX queue " + std::to_string(q) + ": " +
                           ErrorText(rc));
    }
  }
  if (spec.mtu != 0) {
    if (int rc = rte_eth_dev_set_mtu(dpdk_port_, static_cast<uint16_t>(spec.mtu)); rc != 0) {
      return Status::Error(prefix + "cannot set MTU " + std::to_string(spec.mtu) + ": " +
                           ErrorText(rc));
    }
  }
  if (int rc = rte_eth_dev_start(dpdk_port_); rc != 0) {
    return Status::Error(prefix + "cannot start: " + ErrorText(rc));
  }
  started_ = true;
  // Frames for the workloads' addresses, not the port's own: a switch port
  // must see everything. Drivers without the notion (vhost) refuse harmlessly.
  (void)rte_eth_promiscuous_enable(dpdk_port_);
  return {};
}

Status PortDevice::OpenTapVnet(const PortSpec& spec, const PortDeviceConfig& config) {
  const std::string prefix = "port " + spec.name + ": ";
  const std::string iface = spec.iface.empty() ? spec.name : spec.iface;
  device_name_ = "tap-vnet " + iface;
  if (!TapQueue::PoolFits(config.pool)) {
    return Status::Error(prefix + "the mbuf pool's buffers are too small for 64 KB frames");
  }
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error(prefix + "cannot open /dev/net/tun: " + std::strerror(errno));
  }
  ifreq request{};
  std::strncpy(request.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  int header_size = sizeof(VirtioNetHeader);
  if (ioctl(fd, TUNSETIFF, &request) != 0 || ioctl(fd, TUNSETVNETHDRSZ, &header_size) != 0) {
    const int error = errno;
    close(fd);
    return Status::Error(prefix + "cannot create TAP interface " + iface + ": " +
                         std::strerror(error) + " (is the name free? see `ip link`)");
  }
  // The kernel's offloads stay off until the switch turns them on.
  tap_ = std::make_unique<TapQueue>(fd, config.pool, TapOffloadFlag());
  dpdk_port_ = RTE_MAX_ETHPORTS;  // no ethdev
  rx_queues_ = 1;
  tx_queues_ = 1;
  rx_interrupts_ = true;

  // MTU, MAC and up, as net_tap does for its interface.
  const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return Status::Error(prefix + "socket: " + std::strerror(errno));
  std::string problem;
  ifreq link{};
  std::strncpy(link.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  if (spec.mtu != 0) {
    link.ifr_mtu = static_cast<int>(spec.mtu);
    if (ioctl(sock, SIOCSIFMTU, &link) != 0) {
      problem = "cannot set MTU " + std::to_string(spec.mtu) + ": " + std::strerror(errno);
    }
  }
  if (problem.empty() && spec.mac) {
    link.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    const std::array<uint8_t, 6> octets = spec.mac->Bytes();
    std::memcpy(link.ifr_hwaddr.sa_data, octets.data(), octets.size());
    if (ioctl(sock, SIOCSIFHWADDR, &link) != 0) {
      problem = "cannot set MAC " + spec.mac->ToString() + ": " + std::strerror(errno);
    }
  }
  if (problem.empty() && ioctl(sock, SIOCGIFFLAGS, &link) == 0) {
    link.ifr_flags = static_cast<short>(link.ifr_flags | IFF_UP);
    if (ioctl(sock, SIOCSIFFLAGS, &link) != 0) {
      problem = std::string("cannot bring the interface up: ") + std::strerror(errno);
    }
  }
  close(sock);
  if (!problem.empty()) return Status::Error(prefix + problem);
  return {};
}

Status PortDevice::SetOffloads(bool on) {
  if (!tap_ || on == offloads_) return {};
  // Without the flag a frame's header could not follow it through the switch.
  if (on && TapOffloadFlag() == 0) return Status::Error("no mbuf flag for offloaded frames");
  const unsigned features = on ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN : 0;
  if (ioctl(tap_->fd(), TUNSETOFFLOAD, features) != 0) {
    return Status::Error(device_name_ + ": cannot " + (on ? "enable" : "disable") +
                         " offloads: " + std::strerror(errno));
  }
  offloads_ = on;
  return {};
}

DriverStats PortDevice::ReadDriverStats() const {
  if (tap_) {
    const TapQueueStats stats = tap_->stats();
    return {0, stats.rx_no_mbuf, stats.rx_errors, stats.tx_errors};
  }
  rte_eth_stats stats{};
  if (rte_eth_stats_get(dpdk_port_, &stats) != 0) return {};
  return {stats.imissed, stats.rx_nombuf, stats.ierrors, stats.oerrors};
}

bool PortDevice::DriverLinkUp() const {
  if (tap_) return true;  // our end of the TAP is open
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(dpdk_port_, &link) != 0) return false;
  return link.link_status == RTE_ETH_LINK_UP;
}

PortDevice::~PortDevice() {
  if (probed_) {
    if (started_) (void)rte_eth_dev_stop(dpdk_port_);
    rte_eth_dev_info info{};
    const bool has_device = rte_eth_dev_info_get(dpdk_port_, &info) == 0 && info.device != nullptr;
    (void)rte_eth_dev_close(dpdk_port_);
    if (has_device) (void)rte_dev_remove(info.device);
  }
  // Frames still queued in a ring port's rings belong to nobody else.
  for (rte_ring* ring : {rx_ring_, tx_ring_}) {
    if (ring == nullptr) continue;
    void* frame = nullptr;
    while (rte_ring_dequeue(ring, &frame) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(frame));
    rte_ring_free(ring);
  }
}

}  // namespace dpbridge
