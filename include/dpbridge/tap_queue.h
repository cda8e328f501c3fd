// SPDX-License-Identifier: Apache-2.0
//
// TapQueue: frames in and out of a TAP file descriptor that carries a
// virtio-net header (IFF_VNET_HDR), read and written by the PMD thread itself.
//
// DPDK 22.11's net_tap offers no offloads, so every TCP segment crosses it at
// the MTU and with its checksum computed. With a virtio-net header the kernel
// hands over a whole TCP send (up to 64 KB, GSO) with its checksum left to do,
// and accepts one the same way: a segment read from one TAP is written to the
// other as it is, and the receiving namespace's stack takes it whole, as a VM's
// virtio NIC does. A frame larger than one mbuf arrives as a chain.
//
// The header of a frame that needs work (a checksum or segmentation) stays in
// the 10 octets of headroom just before the frame, and the frame carries
// offload_flag() in ol_flags; Transmit() writes that header back. Every other
// frame is written with an all-zero header. A frame with the flag goes as it
// is only to a port that takes such frames (another TapQueue); for any other
// the forwarder finishes it first (FinishOffloads), and the switch turns the
// kernel's offloads off while a port it does not trust with that is present.
//
// Thread-safety: Receive() from one thread; Transmit() from one thread at a
// time (the caller's TX lock); counters readable from any thread.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>

#include "dpbridge/pmd_counters.h"

namespace dpbridge {

struct TapQueueStats {
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_errors = 0;   // failed reads (other than "nothing to read")
  uint64_t tx_errors = 0;   // failed writes: the frame is lost
  uint64_t rx_no_mbuf = 0;  // reads skipped because the pool was empty
  uint64_t rx_offloaded = 0;  // frames that came with checksum or segmentation work
};

// The kernel's struct virtio_net_hdr (<linux/virtio_net.h> does not compile
// as C++): what a TAP with IFF_VNET_HDR puts before each frame.
struct VirtioNetHeader {
  static constexpr uint8_t kNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr uint8_t kGsoNone = 0;        // VIRTIO_NET_HDR_GSO_NONE
  uint8_t flags;
  uint8_t gso_type;
  uint16_t header_length;
  uint16_t gso_size;
  uint16_t checksum_start;
  uint16_t checksum_offset;
};
static_assert(sizeof(VirtioNetHeader) == 10);

// The ol_flags bit that marks frames read from a tap-vnet port with work left
// (an mbuf dynamic flag, "dpbridge_vnet_offload", registered on the first call
// after EAL is up; 0 if that failed). The daemon, its tests and tools share it.
[[nodiscard]] uint64_t TapOffloadFlag() noexcept;

class TapQueue {
 public:
  // The largest frame one read takes: a 64 KB TCP send plus headers.
  static constexpr uint32_t kMaxFrame = 65536 + 256;

  // Takes ownership of `fd` (an open TAP with IFF_VNET_HDR, non-blocking).
  // `offload_flag` is the ol_flags bit that marks frames with a header to keep.
  TapQueue(int fd, rte_mempool* pool, uint64_t offload_flag) noexcept;
  ~TapQueue();
  TapQueue(const TapQueue&) = delete;
  TapQueue& operator=(const TapQueue&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] uint64_t offload_flag() const noexcept { return offload_flag_; }

  // Whether `pool`'s mbufs are large enough for kSlots of them to hold kMaxFrame.
  [[nodiscard]] static bool PoolFits(const rte_mempool* pool) noexcept;

  // Reads up to `max` frames in at most `max` reads; stops at the first empty read.
  uint16_t Receive(rte_mbuf** frames, uint16_t max) noexcept;
  // Writes and frees `count` frames; returns `count` (a failed write is
  // counted in tx_errors, as a NIC counts a frame it could not send).
  uint16_t Transmit(rte_mbuf* const* frames, uint16_t count) noexcept;

  [[nodiscard]] TapQueueStats stats() const noexcept;

 private:
  // The mbufs a read lands in: slot 0 starts the frame (with the header in
  // its headroom), the others continue it. A read takes a prefix of the
  // slots; they are refilled from `stash_`, refilled from the pool in bulk.
  static constexpr uint16_t kSlots = 1 + (kMaxFrame + 2047) / 2048;
  static constexpr uint16_t kStash = 64;

  bool FillSlots() noexcept;
  void PlaceSlot(uint16_t slot, rte_mbuf* m) noexcept;

  int fd_;
  rte_mempool* pool_;
  uint64_t offload_flag_;
  std::array<rte_mbuf*, kSlots> slots_{};
  std::array<iovec, kSlots> iov_{};
  uint16_t empty_ = kSlots;  // slots_[0..empty_) need an mbuf
  std::array<rte_mbuf*, kStash> stash_{};
  uint16_t stash_count_ = 0;

  RelaxedCounter rx_packets_;
  RelaxedCounter rx_errors_;
  RelaxedCounter rx_no_mbuf_;
  RelaxedCounter rx_offloaded_;
  alignas(64) RelaxedCounter tx_packets_;
  RelaxedCounter tx_errors_;
};

}  // namespace dpbridge
