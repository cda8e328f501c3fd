// SPDX-License-Identifier: Apache-2.0
//
// Counters of a PMD thread and of each port as that thread sees it.
//
// Each counter has exactly one writer, the PMD thread that owns it, which
// adds with a relaxed load and store (a plain add, no locked instruction).
// Any other thread may read them at any time with relaxed loads; a port's
// totals are the sum over all PMD threads. Each block is cache-line aligned
// so that a reader never shares a line that another thread writes.
//
// Thread-safety: one writer (the owning PMD), any number of readers.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "dpbridge/drop_reason.h"

namespace dpbridge {

class RelaxedCounter {
 public:
  void Add(uint64_t n) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Reset() noexcept { value_.store(0, std::memory_order_relaxed); }
  [[nodiscard]] uint64_t Load() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> value_{0};
};

struct alignas(64) PortCounters {
  RelaxedCounter rx_packets;
  RelaxedCounter rx_bytes;
  RelaxedCounter tx_packets;
  RelaxedCounter tx_bytes;
  RelaxedCounter flooded_packets;  // frames received here that were flooded
  RelaxedCounter segmented_sends;  // TCP sends cut into segments in software to go out here
  std::array<RelaxedCounter, kDropReasonCount> drops;

  void Reset() noexcept {
    rx_packets.Reset();
    rx_bytes.Reset();
    tx_packets.Reset();
    tx_bytes.Reset();
    flooded_packets.Reset();
    segmented_sends.Reset();
    for (auto& d : drops) d.Reset();
  }
};

struct alignas(64) PmdCounters {
  RelaxedCounter busy_cycles;       // TSC cycles of iterations that moved packets
  RelaxedCounter idle_cycles;       // TSC cycles of empty iterations, sleep included
  RelaxedCounter iterations;
  RelaxedCounter rx_packets;
  RelaxedCounter sleeps;
  RelaxedCounter learn_requests;
  RelaxedCounter learn_queue_full;  // learn requests lost because the queue was full
  RelaxedCounter interrupt_waits;   // sleeps that waited for an RX interrupt (a subset)
};

// A plain copy of the counters above, for reporting.
struct PortCountersSnapshot {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t flooded_packets = 0;
  uint64_t segmented_sends = 0;
  std::array<uint64_t, kDropReasonCount> drops{};

  void Accumulate(const PortCounters& c) noexcept {
    rx_packets += c.rx_packets.Load();
    rx_bytes += c.rx_bytes.Load();
    tx_packets += c.tx_packets.Load();
    tx_bytes += c.tx_bytes.Load();
    flooded_packets += c.flooded_packets.Load();
    segmented_sends += c.segmented_sends.Load();
    for (size_t i = 0; i < drops.size(); ++i) drops[i] += c.drops[i].Load();
  }
  [[nodiscard]] uint64_t TotalDrops() const noexcept {
    uint64_t sum = 0;
    for (uint64_t d : drops) sum += d;
    return sum;
  }
};

struct PmdCountersSnapshot {
  uint64_t busy_cycles = 0;
  uint64_t idle_cycles = 0;
  uint64_t iterations = 0;
  uint64_t rx_packets = 0;
  uint64_t sleeps = 0;
  uint64_t learn_requests = 0;
  uint64_t learn_queue_full = 0;
  uint64_t interrupt_waits = 0;
};

}  // namespace dpbridge
