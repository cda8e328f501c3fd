// SPDX-License-Identifier: Apache-2.0
// NowSeconds(): whole seconds from the TSC.
#include "dpbridge/clock.h"

#include <rte_cycles.h>

namespace dpbridge {

uint32_t NowSeconds() noexcept {
  static const uint64_t start = rte_get_tsc_cycles();
  static const uint64_t hz = rte_get_tsc_hz();
  // Start at 1 so that a stamp of 0 can mean "never seen".
  return static_cast<uint32_t>((rte_get_tsc_cycles() - start) / hz) + 1;
}

}  // namespace dpbridge
