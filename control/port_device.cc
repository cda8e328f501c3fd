// SPDX-License-Identifier: Apache-2.0
// PortDevice: probe, configure, start and remove one DPDK port.
#include "port_device.h"

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
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

bool PortDevice::DriverLinkUp() const {
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
