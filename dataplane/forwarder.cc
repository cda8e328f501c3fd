// SPDX-License-Identifier: Apache-2.0
// Forwarder: validate, look up, learn and buffer one burst; flush per port.
#include "forwarder.h"

#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dpbridge/tap_queue.h"

#include <algorithm>
#include <cstring>

namespace dpbridge {

namespace {

constexpr uint16_t kEthernetHeaderSize = 14;
constexpr uint16_t kVlanTagSize = 4;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;

// Eight header octets from `at` as one big-endian number. The caller has
// checked that the frame holds a whole Ethernet header, so octets 0-13 exist.
inline uint64_t LoadBigEndian64(const uint8_t* at) noexcept {
  uint64_t raw;
  std::memcpy(&raw, at, sizeof(raw));
  return __builtin_bswap64(raw);
}

// Larger than a jumbo frame: only a TCP send the kernel left whole (offload
// work flagged) may be, and only up to what one TAP read holds.
inline bool Oversize(uint32_t length, uint64_t frame_offload) noexcept {
  return length > Forwarder::kMaxFrameSize && (length > TapQueue::kMaxFrame || frame_offload == 0);
}

inline DropReason DropReasonOf(OffloadOutcome outcome) noexcept {
  return outcome == OffloadOutcome::kNoMbuf ? DropReason::kNoMbuf
                                            : DropReason::kOffloadUnsupported;
}

}  // namespace

Forwarder::Forwarder(MacTable& table, PortCounters* port_counters)
    : table_(table), port_counters_(port_counters) {}

void Forwarder::DropFrame(uint16_t port, DropReason reason, rte_mbuf* frame) noexcept {
  port_counters_[port].drops[static_cast<size_t>(reason)].Add(1);
  rte_pktmbuf_free(frame);
}

inline void Forwarder::Enqueue(uint16_t port, rte_mbuf* frame, uint32_t length) noexcept {
  TxBuffer& buffer = tx_[port];
  if (!buffer.pending) {
    buffer.pending = true;
    pending_ports_[pending_count_++] = port;
  }
  buffer.frames[buffer.count++] = frame;
  buffer.bytes += length;
}

inline void Forwarder::EnqueueFrames(uint16_t port, rte_mbuf* const* frames, uint16_t count,
                                     uint64_t bytes) noexcept {
  TxBuffer& buffer = tx_[port];
  if (!buffer.pending) {
    buffer.pending = true;
    pending_ports_[pending_count_++] = port;
  }
  std::copy(frames, frames + count, buffer.frames.begin() + buffer.count);
  buffer.count += count;
  buffer.bytes += bytes;
}

inline void Forwarder::EnqueueRange(uint16_t port, uint16_t first, uint16_t end) noexcept {
  uint64_t bytes = 0;
  for (uint16_t i = first; i < end; ++i) bytes += lengths_[i];
  EnqueueFrames(port, valid_.data() + first, end - first, bytes);
}

inline bool Forwarder::PlainUnicast(const PmdSnapshot& snapshot, uint16_t in_port, uint16_t out,
                                    bool offloaded) noexcept {
  return out != kNoPort && out != in_port && snapshot.ports[out].present &&
         snapshot.ports[out].link_up && (!offloaded || snapshot.ports[out].tap != nullptr);
}

inline void Forwarder::AskToLearn(FdbKey key, uint16_t in_port) noexcept {
  static_assert(kMaxPorts <= 256, "asked_ports_ holds a port in one octet");
  // Multiplicative hash; the top bits pick the slot.
  const size_t slot = (key.bits() * 0xd6e8feb86659fd93ull) >> (64 - kAskedSlotBits);
  if (asked_keys_[slot] == key.bits() && asked_ports_[slot] == in_port) return;
  asked_keys_[slot] = key.bits();
  asked_ports_[slot] = static_cast<uint8_t>(in_port);
  asked_any_ = true;
  learn_[learn_count_++] = {key, in_port};
}

void Forwarder::ForgetAsked() noexcept {
  if (!asked_any_) return;
  asked_keys_.fill(0);
  asked_any_ = false;
}

OffloadOutcome Forwarder::Finish(const PmdSnapshot& snapshot, rte_mbuf* frame,
                                 uint16_t* segment_count) noexcept {
  *segment_count = 0;
  if (snapshot.segment_pool == nullptr) return OffloadOutcome::kUnsupported;
  return FinishOffloads(frame, snapshot.offload_flag, snapshot.segment_pool, segments_.data(),
                        segment_count);
}

void Forwarder::SendSegments(const PmdSnapshot& snapshot, const uint16_t* targets,
                             uint16_t target_count, uint16_t segment_count) noexcept {
  for (uint16_t s = 0; s < segment_count; ++s) {
    rte_mbuf* segment = segments_[s];
    if (target_count > 1) {
      rte_pktmbuf_refcnt_update(segment, static_cast<int16_t>(target_count - 1));
    }
    for (uint16_t t = 0; t < target_count; ++t) {
      if (tx_[targets[t]].count == kBurstSize) TransmitPort(snapshot, targets[t]);
      Enqueue(targets[t], segment, segment->pkt_len);
    }
  }
  // Room for the rest of the burst, which adds at most one frame per frame
  // to each buffer. A frame finished in place took one slot, as any frame.
  if (segment_count > 1) {
    for (uint16_t t = 0; t < target_count; ++t) {
      TransmitPort(snapshot, targets[t]);
      port_counters_[targets[t]].segmented_sends.Add(1);
    }
  }
}

bool Forwarder::FloodFinished(const PmdSnapshot& snapshot, uint16_t in_port, rte_mbuf* frame,
                              uint16_t* targets, uint16_t* target_count) noexcept {
  const auto ordinary = [&](uint16_t port) { return snapshot.ports[port].tap == nullptr; };
  if (std::none_of(targets, targets + *target_count, ordinary)) return false;  // TAPs take it

  uint16_t segment_count = 0;
  const OffloadOutcome outcome = Finish(snapshot, frame, &segment_count);
  if (outcome == OffloadOutcome::kFinished) {
    SendSegments(snapshot, targets, *target_count, segment_count);
    port_counters_[in_port].flooded_packets.Add(1);
    return true;
  }
  const DropReason reason = DropReasonOf(outcome);
  const uint16_t* taps_end = std::remove_if(targets, targets + *target_count, ordinary);
  *target_count = static_cast<uint16_t>(taps_end - targets);
  if (*target_count == 0) {
    DropFrame(in_port, reason, frame);
    return true;
  }
  // The frame goes as it is to the TAPs; each other port misses its copy.
  for (uint16_t port : snapshot.flood_ports) {
    if (port != in_port && snapshot.ports[port].link_up && ordinary(port)) {
      port_counters_[port].drops[static_cast<size_t>(reason)].Add(1);
    }
  }
  return false;
}

void Forwarder::Flood(const PmdSnapshot& snapshot, uint16_t in_port, rte_mbuf* frame,
                      uint32_t length) noexcept {
  std::array<uint16_t, kMaxPorts> targets;
  uint16_t target_count = 0;
  for (uint16_t port : snapshot.flood_ports) {
    if (port == in_port || !snapshot.ports[port].link_up) continue;
    targets[target_count++] = port;
  }
  if (target_count == 0) {
    DropFrame(in_port, DropReason::kNoOutput, frame);
    return;
  }
  // A frame with checksum or segmentation work is finished in software if a
  // port that is not a TAP is among the targets.
  if ((frame->ol_flags & snapshot.offload_flag) != 0 &&
      FloodFinished(snapshot, in_port, frame, targets.data(), &target_count)) {
    return;
  }

  // One mbuf, many transmitters: each driver frees its reference when done.
  if (target_count > 1) rte_pktmbuf_refcnt_update(frame, static_cast<int16_t>(target_count - 1));
  for (uint16_t i = 0; i < target_count; ++i) Enqueue(targets[i], frame, length);
  port_counters_[in_port].flooded_packets.Add(1);
}

void Forwarder::SendFinished(const PmdSnapshot& snapshot, uint16_t out, rte_mbuf* frame) noexcept {
  uint16_t segment_count = 0;
  const OffloadOutcome outcome = Finish(snapshot, frame, &segment_count);
  if (outcome == OffloadOutcome::kFinished) {
    SendSegments(snapshot, &out, 1, segment_count);
  } else {
    DropFrame(out, DropReasonOf(outcome), frame);
  }
}

bool Forwarder::ForwardOneConversation(const PmdSnapshot& snapshot, uint16_t in_port,
                                       rte_mbuf** frames, uint16_t count,
                                       uint32_t now_s) noexcept {
  // Every frame must hold a whole header with room for a VLAN tag (a shorter
  // one, rare, takes the general path, which tells a runt from a truncated
  // tag), be no larger than the general path lets through, and carry the
  // first frame's 14 header octets. The comparison is of raw octets: octets
  // 0-7 and 6-13, the two loads the general path makes.
  const uint64_t offload_flag = snapshot.offload_flag;
  const auto* first = rte_pktmbuf_mtod(frames[0], const uint8_t*);
  if (frames[0]->data_len < kEthernetHeaderSize + kVlanTagSize) return false;
  uint64_t destination_word;
  uint64_t source_word;
  std::memcpy(&destination_word, first, sizeof(destination_word));
  std::memcpy(&source_word, first + 6, sizeof(source_word));
  uint64_t offloaded = 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < count; ++i) {
    const rte_mbuf* frame = frames[i];
    const uint32_t length = frame->pkt_len;
    const uint64_t frame_offload = frame->ol_flags & offload_flag;
    if (frame->data_len < kEthernetHeaderSize + kVlanTagSize || Oversize(length, frame_offload)) {
      return false;
    }
    const auto* header = rte_pktmbuf_mtod(frame, const uint8_t*);
    uint64_t destination;
    uint64_t source;
    std::memcpy(&destination, header, sizeof(destination));
    std::memcpy(&source, header + 6, sizeof(source));
    // Many conversations leave at the second frame.
    if (((destination ^ destination_word) | (source ^ source_word)) != 0) return false;
    offloaded |= frame_offload;
    bytes += length;
  }

  const MacAddress source(LoadBigEndian64(first + 6) >> 16);
  if (!source.IsStation()) return false;
  src_keys_[0] = FdbKey(0, source);
  dst_keys_[0] = FdbKey(0, MacAddress(LoadBigEndian64(first) >> 16));
  table_.LookupBurst(src_keys_.data(), dst_keys_.data(), 1, in_port, now_s, src_ports_.data(),
                     dst_ports_.data());
  // A flood, a drop or frames with offload work for an ordinary port: the
  // general path decides them frame by frame (and looks the pair up again).
  const uint16_t out = dst_ports_[0];
  if (!PlainUnicast(snapshot, in_port, out, offloaded != 0)) return false;

  if (src_ports_[0] != in_port) AskToLearn(src_keys_[0], in_port);
  PortCounters& ingress = port_counters_[in_port];
  ingress.rx_packets.Add(count);
  ingress.rx_bytes.Add(bytes);
  EnqueueFrames(out, frames, count, bytes);
  return true;
}

void Forwarder::ProcessBurst(const PmdSnapshot& snapshot, uint16_t in_port, rte_mbuf** frames,
                             uint16_t count, uint32_t now_s) noexcept {
  learn_count_ = 0;
  if (count == 0) return;
  for (uint16_t i = 0; i < count; ++i) rte_prefetch0(rte_pktmbuf_mtod(frames[i], void*));

  // One conversation (a bulk transfer, a benchmark's stream): one check of
  // each frame's header against the first's, one lookup, one copy.
  if (ForwardOneConversation(snapshot, in_port, frames, count, now_s)) return;

  // Validate and extract the keys. Two 8-octet loads cover the header: octets
  // 0-7 hold the destination, octets 6-13 the source and the EtherType.
  PortCounters& ingress = port_counters_[in_port];
  const uint64_t offload_flag = snapshot.offload_flag;
  uint16_t valid = 0;
  uint64_t rx_bytes = 0;
  uint64_t offloaded = 0;  // any frame carrying offload_flag
  for (uint16_t i = 0; i < count; ++i) {
    rte_mbuf* frame = frames[i];
    const uint32_t length = frame->pkt_len;
    rx_bytes += length;
    if (frame->data_len < kEthernetHeaderSize) {
      DropFrame(in_port, DropReason::kRunt, frame);
      continue;
    }
    const uint64_t frame_offload = frame->ol_flags & offload_flag;
    offloaded |= frame_offload;
    if (Oversize(length, frame_offload)) {
      DropFrame(in_port, DropReason::kOversize, frame);
      continue;
    }
    const auto* header = rte_pktmbuf_mtod(frame, const uint8_t*);
    const uint64_t source_and_type = LoadBigEndian64(header + 6);
    const MacAddress source(source_and_type >> 16);
    if (!source.IsStation()) {
      DropFrame(in_port, DropReason::kInvalidSource, frame);
      continue;
    }
    const auto ether_type = static_cast<uint16_t>(source_and_type);
    if ((ether_type == kEtherTypeVlan || ether_type == kEtherTypeQinQ) &&
        frame->data_len < kEthernetHeaderSize + kVlanTagSize) {
      DropFrame(in_port, DropReason::kTruncatedVlan, frame);
      continue;
    }
    valid_[valid] = frame;
    lengths_[valid] = length;
    src_keys_[valid] = FdbKey(0, source);
    dst_keys_[valid] = FdbKey(0, MacAddress(LoadBigEndian64(header) >> 16));
    ++valid;
  }
  ingress.rx_packets.Add(count);
  ingress.rx_bytes.Add(rx_bytes);
  if (valid == 0) return;

  // Look up sources and destinations in bulk (a key equal to the previous
  // frame's takes its answer).
  table_.LookupBurst(src_keys_.data(), dst_keys_.data(), valid, in_port, now_s,
                     src_ports_.data(), dst_ports_.data());

  // Ask the FDB's owner to learn new and moved sources (AskToLearn drops repeats).
  for (uint16_t i = 0; i < valid; ++i) {
    if (src_ports_[i] != in_port) AskToLearn(src_keys_[i], in_port);
  }

  // Choose each frame's outputs. Consecutive frames to the same known port
  // (many conversations to one port, as from the hosts behind another port)
  // move to its buffer as one run, checked once.
  for (uint16_t i = 0; i < valid;) {
    rte_mbuf* frame = valid_[i];
    const uint16_t out = dst_ports_[i];
    if (PlainUnicast(snapshot, in_port, out, offloaded != 0)) {
      uint16_t end = i + 1;
      while (end < valid && dst_ports_[end] == out) ++end;
      EnqueueRange(out, i, end);
      i = end;
      continue;
    }
    if (out == kNoPort || !snapshot.ports[out].present) {
      // Unknown, broadcast or multicast; or an entry whose port is leaving.
      Flood(snapshot, in_port, frame, lengths_[i]);
    } else if (out == in_port) {
      DropFrame(in_port, DropReason::kHairpin, frame);
    } else if (!snapshot.ports[out].link_up) {
      DropFrame(out, DropReason::kPortDown, frame);
    } else if ((frame->ol_flags & snapshot.offload_flag) != 0) {
      // Only here with work left for a port that is not a TAP.
      SendFinished(snapshot, out, frame);
    } else {
      Enqueue(out, frame, lengths_[i]);
    }
    ++i;
  }
}

inline void Forwarder::TransmitPort(const PmdSnapshot& snapshot, uint16_t port) noexcept {
  TxBuffer& buffer = tx_[port];
  if (buffer.count == 0) return;
  const PortSlot& slot = snapshot.ports[port];

  // The lengths were summed as frames were buffered: a driver may free a
  // frame as soon as it takes it.
  uint64_t bytes = buffer.bytes;
  const auto transmit = [&]() noexcept -> uint16_t {
    if (slot.tap != nullptr) return slot.tap->Transmit(buffer.frames.data(), buffer.count);
    return rte_eth_tx_burst(slot.dpdk_port, slot.tx_queue, buffer.frames.data(), buffer.count);
  };
  uint16_t sent;
  if (slot.tx_lock == nullptr) {
    sent = transmit();
  } else {
    rte_spinlock_lock(slot.tx_lock);
    sent = transmit();
    rte_spinlock_unlock(slot.tx_lock);
  }

  PortCounters& egress = port_counters_[port];
  if (sent < buffer.count) {
    for (uint16_t i = sent; i < buffer.count; ++i) bytes -= buffer.frames[i]->pkt_len;
    rte_pktmbuf_free_bulk(buffer.frames.data() + sent, buffer.count - sent);
    egress.drops[static_cast<size_t>(DropReason::kTxQueueFull)].Add(buffer.count - sent);
  }
  egress.tx_packets.Add(sent);
  egress.tx_bytes.Add(bytes);
  buffer.count = 0;
  buffer.bytes = 0;
}

void Forwarder::Flush(const PmdSnapshot& snapshot) noexcept {
  for (uint16_t p = 0; p < pending_count_; ++p) {
    const uint16_t port = pending_ports_[p];
    TransmitPort(snapshot, port);
    tx_[port].pending = false;
  }
  pending_count_ = 0;
}

}  // namespace dpbridge
