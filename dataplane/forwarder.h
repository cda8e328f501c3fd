// SPDX-License-Identifier: Apache-2.0
//
// Forwarder: the per-burst forwarding decision of one PMD thread.
//
// ProcessBurst() takes the frames one RX burst delivered on one port and, in
// stages over the whole burst, validates them, looks their source and
// destination addresses up in the FDB in bulk, gathers learn requests for new
// or moved sources, and buffers each frame for its output ports. Flush()
// then transmits each output port's buffer with a single TX burst. A flood
// sends the same mbuf to every port but the ingress one, raising its
// reference count instead of copying the payload. A burst of one conversation
// (every frame with the first one's header, to one known port) skips the
// stages: one comparison per frame, one lookup, one copy into the buffer.
//
// A frame read from a tap-vnet port with its checksum or TCP segmentation
// left to do goes as it is to another TAP; on its way to any other port it is
// finished in software first (FinishOffloads), a TCP send becoming as many
// frames as it has segments, which may fill an output's buffer before the
// burst ends: that buffer is then transmitted early.
//
// The hot path never allocates, locks (except on a TX queue that several PMD
// threads share), logs or throws; drops are counters with a DropReason.
//
// Thread-safety: owned by one PMD thread.
//
// Limitations: every frame is switched in VLAN 0; tagged frames cross the
// switch unchanged but are not separated by VLAN.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <span>

#include "dpbridge/mac_table.h"
#include "dpbridge/pmd.h"
#include "dpbridge/pmd_counters.h"
#include "dpbridge/pmd_snapshot.h"
#include "software_offload.h"

namespace dpbridge {

class Forwarder {
 public:
  static constexpr uint16_t kBurstSize = 32;
  // The largest frame accepted: a 9,000-byte jumbo payload plus Ethernet,
  // VLAN and FCS room. Larger frames are dropped as oversize.
  static constexpr uint32_t kMaxFrameSize = 9022;

  // `port_counters` is an array of kMaxPorts counters owned by the caller.
  Forwarder(MacTable& table, PortCounters* port_counters);

  // Decides the outputs of `count` (at most kBurstSize) frames received on
  // `in_port` and buffers them; takes ownership of every mbuf.
  void ProcessBurst(const PmdSnapshot& snapshot, uint16_t in_port, rte_mbuf** frames,
                    uint16_t count, uint32_t now_s) noexcept;

  // The learn requests of the last ProcessBurst(): sources not yet known on
  // their ingress port, each asked once until ForgetAsked(). A new address
  // comes in every frame until the FDB's owner has learned it, a tick later;
  // one request is enough, and the rest would only fill the queue.
  [[nodiscard]] std::span<const LearnRequest> learn_requests() const noexcept {
    return {learn_.data(), learn_count_};
  }

  // Lets every source be asked for again, so that a request lost to a full
  // queue, or one the FDB refused, is repeated: the PMD calls it once the
  // control thread has taken its requests, at most every millisecond.
  void ForgetAsked() noexcept;

  // Transmits everything buffered. Frames a driver refuses are freed and
  // counted as tx_queue_full on their output port.
  void Flush(const PmdSnapshot& snapshot) noexcept;

 private:
  struct TxBuffer {
    std::array<rte_mbuf*, kBurstSize> frames;
    uint16_t count = 0;
    bool pending = false;  // listed in pending_ports_
    uint64_t bytes = 0;    // the sum of the buffered frames' lengths
  };

  // `length` is the frame's pkt_len, read once when the burst was validated.
  void Enqueue(uint16_t port, rte_mbuf* frame, uint32_t length) noexcept;
  // Enqueue() of `count` frames to `port`, `bytes` long in all.
  void EnqueueFrames(uint16_t port, rte_mbuf* const* frames, uint16_t count,
                     uint64_t bytes) noexcept;
  // Enqueue() of validated frames [first, end) of the burst, all to `port`.
  void EnqueueRange(uint16_t port, uint16_t first, uint16_t end) noexcept;
  // Whether frames for `out` go to it as they are: a known port, up, not the
  // ingress, and able to take frames with offload work if there are any.
  [[nodiscard]] static bool PlainUnicast(const PmdSnapshot& snapshot, uint16_t in_port,
                                         uint16_t out, bool offloaded) noexcept;
  // The burst of one conversation: if every frame is valid, carries the same
  // header and goes as it is to one known port, buffers them all, counts them
  // and returns true; otherwise does nothing and returns false.
  [[nodiscard]] bool ForwardOneConversation(const PmdSnapshot& snapshot, uint16_t in_port,
                                            rte_mbuf** frames, uint16_t count,
                                            uint32_t now_s) noexcept;
  void Flood(const PmdSnapshot& snapshot, uint16_t in_port, rte_mbuf* frame,
             uint32_t length) noexcept;
  void DropFrame(uint16_t port, DropReason reason, rte_mbuf* frame) noexcept;
  // Transmits `port`'s buffer, leaving it empty but still pending.
  void TransmitPort(const PmdSnapshot& snapshot, uint16_t port) noexcept;
  // Finishes `frame`'s offloads into segments_ (FinishOffloads); on failure
  // the frame is still the caller's.
  OffloadOutcome Finish(const PmdSnapshot& snapshot, rte_mbuf* frame,
                        uint16_t* segment_count) noexcept;
  // The flood of a frame with offload work: finishes it if a port that is not
  // a TAP is among `targets`. True if the frame is dealt with (sent or
  // dropped); false if it is to go as it is to the `targets` left (TAPs).
  [[gnu::cold]] bool FloodFinished(const PmdSnapshot& snapshot, uint16_t in_port,
                                   rte_mbuf* frame, uint16_t* targets,
                                   uint16_t* target_count) noexcept;
  // Finishes a frame with offload work for `out`, not a TAP, and sends it.
  [[gnu::cold]] void SendFinished(const PmdSnapshot& snapshot, uint16_t out,
                                  rte_mbuf* frame) noexcept;
  // Sends the segments_ of a finished frame to each of `targets`, transmitting
  // a buffer whenever it fills, and at the end if there were several.
  void SendSegments(const PmdSnapshot& snapshot, const uint16_t* targets, uint16_t target_count,
                    uint16_t segment_count) noexcept;
  // Adds a learn request unless the same source was asked for on the same port
  // since ForgetAsked().
  void AskToLearn(FdbKey key, uint16_t in_port) noexcept;

  MacTable& table_;
  PortCounters* port_counters_;

  std::array<rte_mbuf*, kBurstSize> valid_{};
  std::array<uint32_t, kBurstSize> lengths_{};
  std::array<FdbKey, kBurstSize> src_keys_{};
  std::array<FdbKey, kBurstSize> dst_keys_{};
  std::array<uint16_t, kBurstSize> src_ports_{};
  std::array<uint16_t, kBurstSize> dst_ports_{};
  std::array<LearnRequest, kBurstSize> learn_{};
  size_t learn_count_ = 0;

  // Sources asked for since ForgetAsked(), direct-mapped: a source pushed out
  // by another that hashes to its slot is asked for again, which is harmless.
  // 4,096 slots hold the new addresses of a busy start (36 KB, touched only
  // for unknown or moved sources).
  static constexpr unsigned kAskedSlotBits = 12;
  std::array<uint64_t, size_t{1} << kAskedSlotBits> asked_keys_{};  // 0: empty (never a source)
  std::array<uint8_t, size_t{1} << kAskedSlotBits> asked_ports_{};
  bool asked_any_ = false;  // whether ForgetAsked() has anything to clear

  // The frames a TCP send was cut into by FinishOffloads.
  std::array<rte_mbuf*, kMaxSegments> segments_{};

  std::array<TxBuffer, kMaxPorts> tx_{};
  std::array<uint16_t, kMaxPorts> pending_ports_{};
  uint16_t pending_count_ = 0;
};

}  // namespace dpbridge
