// SPDX-License-Identifier: Apache-2.0
//
// PmdSnapshot: everything a PMD thread needs to know about the ports, as one
// immutable value.
//
// The control thread builds a new snapshot for every change (port added or
// removed, link up or down) and hands it to each PMD thread through that
// thread's command queue. The PMD thread switches to it between two loop
// iterations and hands the old one back; once every PMD thread has
// acknowledged a snapshot without a port, no packet in flight can touch that
// port, and the control thread may stop and close it (quiescent-state based
// removal, as OVS does with its reload flag).
//
// Thread-safety: immutable once published. The spinlocks of shared TX queues
// are owned by the control thread's port objects, which outlive every snapshot
// that points to them.
#pragma once

#include <rte_mempool.h>
#include <rte_spinlock.h>

#include <array>
#include <cstdint>
#include <vector>

#include "dpbridge/mac_table.h"

namespace dpbridge {

class TapQueue;

struct PortSlot {
  bool present = false;
  bool link_up = false;
  uint16_t dpdk_port = 0;
  uint16_t tx_queue = 0;
  // Set when more PMD threads than TX queues share this queue.
  rte_spinlock_t* tx_lock = nullptr;
  // Changes whenever the index is given to a new port, so that a PMD thread
  // can reset its counters for that index.
  uint32_t generation = 0;
  // A TAP port the PMD writes itself (instead of the ethdev dpdk_port); the
  // only kind of port that takes frames carrying PmdSnapshot::offload_flag
  // as they are. Other ports get them finished in software (segment_pool).
  TapQueue* tap = nullptr;
};

struct RxQueueAssignment {
  uint16_t port_index = 0;
  uint16_t dpdk_port = 0;
  uint16_t queue = 0;
  // The queue can raise interrupts (rte_eth_dev_rx_intr_ctl_q).
  bool interrupt = false;
  // Set for a TAP port the PMD reads itself: dpdk_port and queue are unused,
  // and its descriptor wakes an interrupt wait.
  TapQueue* tap = nullptr;
};

struct PmdSnapshot {
  uint64_t version = 0;
  std::array<PortSlot, kMaxPorts> ports{};
  // The ol_flags bit of frames whose checksum or segmentation is left to do
  // (read from a TapQueue); 0 while no such port exists.
  uint64_t offload_flag = 0;
  // Where the segments of a TCP send finished in software come from
  // (FinishOffloads); without it such frames are dropped as
  // offload_unsupported on their way to a port that is not a TAP.
  rte_mempool* segment_pool = nullptr;
  // Indices of present ports, ascending: the candidates of a flood.
  std::vector<uint16_t> flood_ports;
  // The RX queues this PMD thread polls.
  std::vector<RxQueueAssignment> rx_queues;
};

}  // namespace dpbridge
