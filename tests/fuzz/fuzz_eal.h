// SPDX-License-Identifier: Apache-2.0
//
// StartFuzzEal: brings up DPDK's EAL for a libFuzzer target (no hugepages, no
// shared files, one lcore) and registers the mbuf flag of frames read from a
// tap-vnet port (TapOffloadFlag, as the daemon does).
// Returns that flag; aborts with a message if either step fails.
#pragma once

#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dpbridge/tap_queue.h"

namespace dpbridge {

inline uint64_t StartFuzzEal(const char* program, unsigned memory_mb) {
  std::vector<std::string> args = {program,          "--no-huge", "--no-shconf",
                                   "--no-pci",       "--no-telemetry", "-l", "0", "-m",
                                   std::to_string(memory_mb), "--log-level=*:error"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "%s: EAL initialisation failed\n", program);
    std::abort();
  }
  const uint64_t flag = TapOffloadFlag();
  if (flag == 0) {
    std::fprintf(stderr, "%s: offload flag registration failed (%d)\n", program, rte_errno);
    std::abort();
  }
  return flag;
}

}  // namespace dpbridge
