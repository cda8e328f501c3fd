// SPDX-License-Identifier: Apache-2.0
//
// DropReason: why the dataplane did not deliver a frame, or a copy of one.
//
// One enumeration shared by the dataplane (per-port counters), dpbridgectl
// and the metrics exporter, so that a reason has the same name everywhere.
// The names are stable: they appear as the `reason` label in /metrics.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dpbridge {

enum class DropReason : uint8_t {
  kRunt,            // shorter than an Ethernet header
  kTruncatedVlan,   // VLAN ethertype without room for the tag
  kInvalidSource,   // multicast or all-zero source MAC
  kHairpin,         // known destination is the ingress port
  kPortDown,        // output port has no link (peer gone, interface down)
  kTxQueueFull,     // the driver did not take the frame
  kNoOutput,        // flood with no other port, or destination port vanished
  kOversize,        // longer than the largest frame a port may carry
  kOffloadUnsupported,  // checksum or segmentation left to do, that software could not finish
  kNoMbuf,          // no buffer for the segments of a TCP send cut in software
  kCount,
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
    "runt",      "truncated_vlan", "invalid_source", "hairpin", "port_down", "tx_queue_full",
    "no_output", "oversize",       "offload_unsupported", "no_mbuf",
};

[[nodiscard]] constexpr std::string_view DropReasonName(DropReason reason) noexcept {
  return kDropReasonNames[static_cast<size_t>(reason)];
}

}  // namespace dpbridge
