// SPDX-License-Identifier: Apache-2.0
//
// Helpers for tests that drive a Switch through ring ports: the spec of a
// ring port, the rings behind it (see control/port_device.h: "dpb_NAME_rx"
// is what the switch receives, "dpb_NAME_tx" what it sends), and draining a
// ring while looking at each frame.
//
// Thread-safety: as rte_ring; Drain() from one consumer at a time.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstddef>
#include <functional>
#include <string>

#include "port_spec.h"

namespace dpbridge::testing {

inline PortSpec RingPort(const std::string& name) {
  PortSpec spec;
  spec.name = name;
  spec.type = PortType::kRing;
  return spec;
}

// The ring of port `port`, `direction` "rx" or "tx"; nullptr if there is none.
inline rte_ring* Ring(const std::string& port, const char* direction) {
  return rte_ring_lookup(("dpb_" + port + "_" + direction).c_str());
}

// Dequeues and frees every frame in `ring`, passing each to `inspect` first.
// Returns how many there were.
inline size_t Drain(rte_ring* ring,
                    const std::function<void(const rte_mbuf*)>& inspect = nullptr) {
  void* frames[64];
  size_t total = 0;
  unsigned n;
  while ((n = rte_ring_dequeue_burst(ring, frames, 64, nullptr)) > 0) {
    for (unsigned i = 0; i < n; ++i) {
      auto* frame = static_cast<rte_mbuf*>(frames[i]);
      if (inspect) inspect(frame);
      rte_pktmbuf_free(frame);
    }
    total += n;
  }
  return total;
}

}  // namespace dpbridge::testing
