// SPDX-License-Identifier: Apache-2.0
//
// PortDevice: one DPDK ethdev made from a PortSpec, from probe to removal;
// or, for a tap-vnet port, a TAP descriptor the PMD thread reads itself
// (TapQueue), since DPDK 22.11's net_tap has no offloads.
//
// Open() turns a spec into a device: a hot-plugged vdev (net_tap, net_vhost,
// net_af_packet, net_af_xdp), a pair of rte_rings wrapped by net_ring, or a
// probed PCI device; then configures its queues, sets the MTU and starts it.
// The destructor stops, closes and removes the device. Nothing here knows
// about PMD threads: the Switch takes a device out of every PMD thread before
// it destroys it.
//
// Ring ports exist for tests: their rings are named "dpb_NAME_rx" (frames the
// switch receives) and "dpb_NAME_tx" (frames the switch sends), so that a test
// in the same process finds them with rte_ring_lookup().
//
// Thread-safety: the control thread only.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstdint>
#include <memory>
#include <string>

#include "dpbridge/tap_queue.h"
#include "port_spec.h"
#include "status.h"

namespace dpbridge {

// The driver's own counters (rte_eth_stats, or a TapQueue's) where they add
// to ours: frames the NIC or the peer could not hand us, and errors below the
// switch.
struct DriverStats {
  uint64_t rx_missed = 0;   // dropped by the device: RX ring full
  uint64_t rx_nombuf = 0;   // RX mbuf allocation failures
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;
};

struct PortDeviceConfig {
  rte_mempool* pool = nullptr;
  uint16_t tx_queues = 1;        // wanted: one per PMD thread
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
};

class PortDevice {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PortDevice>> Open(const PortSpec& spec,
                                                                const PortDeviceConfig& config);
  ~PortDevice();
  PortDevice(const PortDevice&) = delete;
  PortDevice& operator=(const PortDevice&) = delete;

  [[nodiscard]] uint16_t dpdk_port() const { return dpdk_port_; }
  [[nodiscard]] const std::string& device_name() const { return device_name_; }
  [[nodiscard]] uint16_t rx_queues() const { return rx_queues_; }
  [[nodiscard]] uint16_t tx_queues() const { return tx_queues_; }
  // The link state as the driver reports it, without waiting.
  [[nodiscard]] bool DriverLinkUp() const;
  // Whether the RX queues were configured to raise interrupts (TAP ports),
  // so that an idle PMD thread may wait for frames instead of polling.
  [[nodiscard]] bool rx_interrupts() const { return rx_interrupts_; }
  // The TAP a tap-vnet port reads and writes (dpdk_port() is then no ethdev).
  [[nodiscard]] TapQueue* tap() const { return tap_.get(); }
  [[nodiscard]] DriverStats ReadDriverStats() const;
  // tap-vnet: whether the kernel may hand over frames with their checksum or
  // TCP segmentation left to do (TUNSETOFFLOAD). The switch allows it only
  // while every port can pass such frames on.
  [[nodiscard]] Status SetOffloads(bool on);
  [[nodiscard]] bool offloads() const { return offloads_; }

 private:
  PortDevice() = default;
  [[nodiscard]] Status Probe(const PortSpec& spec);
  [[nodiscard]] Status Configure(const PortSpec& spec, const PortDeviceConfig& config);
  [[nodiscard]] Status OpenTapVnet(const PortSpec& spec, const PortDeviceConfig& config);

  std::string device_name_;
  uint16_t dpdk_port_ = 0;
  bool probed_ = false;
  bool started_ = false;
  uint16_t rx_queues_ = 0;
  uint16_t tx_queues_ = 0;
  bool rx_interrupts_ = false;
  rte_ring* rx_ring_ = nullptr;
  rte_ring* tx_ring_ = nullptr;
  std::unique_ptr<TapQueue> tap_;
  bool offloads_ = false;
};

}  // namespace dpbridge
