// SPDX-License-Identifier: Apache-2.0
//
// FinishOffloads: does in software, for a port that cannot take them, what a
// frame read from a tap-vnet port left to do: the checksum the kernel did not
// compute, and the cutting of a whole TCP send (up to 64 KB, GSO) into
// segments no larger than its MSS, as the kernel does for a device without
// TSO. A frame that needs only its checksum is mended in place; a TCP send is
// copied into new frames, one per segment, with their IP lengths, IPv4
// identifications, sequence numbers, flags and checksums set, and the
// original is freed.
//
// What it takes is what the kernel's tun driver hands over: TCP over IPv4 or
// IPv6 without extension headers, after an Ethernet header with at most one
// VLAN tag, the transport header wholly in the frame's first mbuf; and any
// checksum-only frame whose checksum field lies in the first mbuf. Anything
// else is refused (kUnsupported) and left to the caller, as is a frame whose
// segments find the pool empty (kNoMbuf).
//
// Thread-safety: none needed; it touches only the frame and the pool.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>

namespace dpbridge {

enum class OffloadOutcome : uint8_t {
  kFinished,     // the frames in `out` are plain; `frame` is one of them or freed
  kUnsupported,  // not a frame this code can finish; `frame` is untouched
  kNoMbuf,       // the pool ran dry; `frame` is untouched, nothing leaked
};

// The most segments one frame is cut into: a 64 KB send with an MSS of 536
// (the smallest IPv4 default) makes 123.
inline constexpr uint16_t kMaxSegments = 128;

// Finishes `frame`, which carries `offload_flag` and the virtio-net header in
// the headroom before its data (TapQueue). On kFinished writes the plain
// frames to out[0..*count) (at most kMaxSegments), each without the flag.
// `frame` must not be shared (reference count 1, as TapQueue delivers it).
[[nodiscard]] OffloadOutcome FinishOffloads(rte_mbuf* frame, uint64_t offload_flag,
                                            rte_mempool* pool, rte_mbuf** out,
                                            uint16_t* count) noexcept;

}  // namespace dpbridge
