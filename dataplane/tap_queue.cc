// SPDX-License-Identifier: Apache-2.0
// TapQueue: reads and writes of a TAP with a virtio-net header, frames as mbuf chains.
#include "dpbridge/tap_queue.h"

#include <rte_mbuf_dyn.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dpbridge {

namespace {

constexpr uint16_t kHeaderSize = sizeof(VirtioNetHeader);
static_assert(RTE_PKTMBUF_HEADROOM >= kHeaderSize);

// Whether the kernel left work on the frame: a checksum to fill in or a
// segment to cut. Frames without either are plain and may go anywhere.
inline bool NeedsOffload(const VirtioNetHeader& header) noexcept {
  return (header.flags & VirtioNetHeader::kNeedsChecksum) != 0 ||
         header.gso_type != VirtioNetHeader::kGsoNone;
}

const VirtioNetHeader kPlainHeader{};

}  // namespace

uint64_t TapOffloadFlag() noexcept {
  static const uint64_t flag = [] {
    rte_mbuf_dynflag params{};
    std::strncpy(params.name, "dpbridge_vnet_offload", sizeof(params.name) - 1);
    const int bit = rte_mbuf_dynflag_register(&params);
    return bit < 0 ? uint64_t{0} : uint64_t{1} << bit;
  }();
  return flag;
}

bool TapQueue::PoolFits(const rte_mempool* pool) noexcept {
  const uint32_t room = rte_pktmbuf_data_room_size(const_cast<rte_mempool*>(pool));
  if (room <= RTE_PKTMBUF_HEADROOM) return false;
  // Slot 0 holds the header and room - headroom octets; the others the whole buffer.
  return uint64_t{room} - RTE_PKTMBUF_HEADROOM + uint64_t{room} * (kSlots - 1) >= kMaxFrame;
}

TapQueue::TapQueue(int fd, rte_mempool* pool, uint64_t offload_flag) noexcept
    : fd_(fd), pool_(pool), offload_flag_(offload_flag) {}

TapQueue::~TapQueue() {
  for (uint16_t i = empty_; i < kSlots; ++i) rte_pktmbuf_free(slots_[i]);
  if (stash_count_ > 0) rte_pktmbuf_free_bulk(stash_.data(), stash_count_);
  if (fd_ >= 0) close(fd_);
}

void TapQueue::PlaceSlot(uint16_t slot, rte_mbuf* m) noexcept {
  slots_[slot] = m;
  auto* buffer = static_cast<uint8_t*>(m->buf_addr);
  if (slot == 0) {
    // The header lands in the headroom, right before the frame.
    m->data_off = RTE_PKTMBUF_HEADROOM;
    iov_[0] = {buffer + RTE_PKTMBUF_HEADROOM - kHeaderSize,
               static_cast<size_t>(m->buf_len - RTE_PKTMBUF_HEADROOM + kHeaderSize)};
  } else {
    m->data_off = 0;
    iov_[slot] = {buffer, m->buf_len};
  }
}

bool TapQueue::FillSlots() noexcept {
  while (empty_ > 0) {
    if (stash_count_ == 0) {
      // A whole stash, or else just what the empty slots need.
      if (rte_pktmbuf_alloc_bulk(pool_, stash_.data(), kStash) == 0) {
        stash_count_ = kStash;
      } else if (rte_pktmbuf_alloc_bulk(pool_, stash_.data(), empty_) == 0) {
        stash_count_ = empty_;
      } else {
        return false;
      }
    }
    --empty_;
    PlaceSlot(empty_, stash_[--stash_count_]);
  }
  return true;
}

uint16_t TapQueue::Receive(rte_mbuf** frames, uint16_t max) noexcept {
  uint16_t received = 0;
  uint64_t offloaded = 0;
  // At most `max` reads: a descriptor that keeps returning bad reads does not hold the thread.
  for (uint16_t attempt = 0; attempt < max; ++attempt) {
    if (empty_ > 0 && !FillSlots()) {
      rx_no_mbuf_.Add(1);
      break;
    }
    const ssize_t n = readv(fd_, iov_.data(), kSlots);
    if (n <= 0) {
      // 0: the other end is gone (a TAP never reads empty); the next poll tries again.
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) rx_errors_.Add(1);
      break;
    }
    if (n <= kHeaderSize) {
      rx_errors_.Add(1);
      continue;
    }

    // Cut the read into the slots it filled and chain them.
    auto remaining = static_cast<uint32_t>(n - kHeaderSize);
    rte_mbuf* first = slots_[0];
    first->pkt_len = remaining;
    rte_mbuf* last = first;
    uint16_t used = 0;
    while (remaining > 0) {
      rte_mbuf* segment = slots_[used];
      const auto room = static_cast<uint32_t>(iov_[used].iov_len - (used == 0 ? kHeaderSize : 0));
      segment->data_len = static_cast<uint16_t>(remaining < room ? remaining : room);
      remaining -= segment->data_len;
      if (used > 0) last->next = segment;
      last = segment;
      ++used;
    }
    first->nb_segs = used;
    empty_ = used;  // a read fills a prefix of the slots

    const auto* header = rte_pktmbuf_mtod_offset(first, const VirtioNetHeader*, -kHeaderSize);
    if (NeedsOffload(*header)) {
      first->ol_flags |= offload_flag_;
      ++offloaded;
    }
    frames[received++] = first;
  }
  if (received > 0) rx_packets_.Add(received);
  if (offloaded > 0) rx_offloaded_.Add(offloaded);
  return received;
}

uint16_t TapQueue::Transmit(rte_mbuf* const* frames, uint16_t count) noexcept {
  constexpr uint16_t kMaxIov = kSlots + 1;
  std::array<iovec, kMaxIov> iov;
  uint64_t failed = 0;
  for (uint16_t i = 0; i < count; ++i) {
    const rte_mbuf* frame = frames[i];
    uint16_t n = 0;
    if ((frame->ol_flags & offload_flag_) != 0) {
      // The header read with the frame is still in its headroom.
      iov[n++] = {rte_pktmbuf_mtod_offset(frame, uint8_t*, -kHeaderSize),
                  static_cast<size_t>(frame->data_len + kHeaderSize)};
    } else {
      iov[n++] = {const_cast<VirtioNetHeader*>(&kPlainHeader), kHeaderSize};
      iov[n++] = {rte_pktmbuf_mtod(frame, uint8_t*), frame->data_len};
    }
    const rte_mbuf* segment = frame->next;
    for (; segment != nullptr && n < kMaxIov; segment = segment->next) {
      iov[n++] = {rte_pktmbuf_mtod(segment, uint8_t*), segment->data_len};
    }
    // A chain longer than any this class reads (another driver's) is not cut short.
    if (segment != nullptr || writev(fd_, iov.data(), n) < 0) ++failed;
  }
  rte_pktmbuf_free_bulk(const_cast<rte_mbuf**>(frames), count);
  tx_packets_.Add(count - failed);
  if (failed > 0) tx_errors_.Add(failed);
  return count;
}

TapQueueStats TapQueue::stats() const noexcept {
  return {rx_packets_.Load(), tx_packets_.Load(), rx_errors_.Load(),
          tx_errors_.Load(),  rx_no_mbuf_.Load(), rx_offloaded_.Load()};
}

}  // namespace dpbridge
