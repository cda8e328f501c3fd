// SPDX-License-Identifier: Apache-2.0
//
// What the reliability tests share: frames written into a test's own pools, ring-port peers
// driven from helper threads, a Switch with its PMD thread on lcore 1, and the process
// figures (RSS, DPDK heap, frames still in use) that tell a leak. The tests themselves are
// reliability_{bad_frames,flood,soak}_test.cc (reliability_main.cc starts EAL); port_churn_test
// uses its frames too.
//
// Thread-safety: the frame and ring helpers may run on any thread; the ones that take a
// Switch run on the thread that owns it (the test's main thread).
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "../common/ring_ports.h"
#include "dpbridge/drop_reason.h"
#include "dpbridge/mac_address.h"
#include "switch.h"

namespace dpbridge::testing {

using Clock = std::chrono::steady_clock;

inline constexpr MacAddress kMacA(0x02'00'00'00'00'0aull);
inline constexpr MacAddress kMacB(0x02'00'00'00'00'0bull);
inline constexpr MacAddress kMacC(0x02'00'00'00'00'0cull);
inline constexpr MacAddress kBroadcast(0xff'ff'ff'ff'ff'ffull);
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeQinQ = 0x88a8;

// ---- Frames and rings ---------------------------------------------------------------------

// Writes an Ethernet header and a patterned payload into `data`.
void FillFrame(uint8_t* data, uint32_t size, MacAddress dst, MacAddress src,
               uint16_t ether_type);

// One frame of `size` bytes in one mbuf (the pool's buffers must be large enough);
// nullptr when the pool is empty.
rte_mbuf* MakeFrame(rte_mempool* pool, MacAddress dst, MacAddress src, uint32_t size = 60,
                    uint16_t ether_type = kEtherTypeIpv4);

// As MakeFrame, waiting up to a second for a free mbuf: the pools are shared with helper
// threads, and a put by a preempted thread becomes visible only when it resumes.
rte_mbuf* MakeFramePatiently(rte_mempool* pool, MacAddress dst, MacAddress src);

// One frame of `size` bytes spread over a chain of default-size mbufs.
rte_mbuf* MakeChainedFrame(rte_mempool* pool, MacAddress dst, MacAddress src, uint32_t size);

MacAddress SourceOf(const rte_mbuf* frame);

// Enqueues all of `frames`, waiting while the ring is full; gives up (freeing the rest)
// after `patience`. Returns how many were enqueued.
unsigned EnqueueAll(rte_ring* ring, rte_mbuf** frames, unsigned count,
                    std::chrono::milliseconds patience = std::chrono::milliseconds(2000));

// A pool of `count` frames with `data_room` bytes each, safe to share between the test's
// threads (see reliability_fixture.cc on why `count` must stay under 3/4 of a power of
// two). nullptr, with a test failure, if it cannot be made.
rte_mempool* MakePool(const char* name, unsigned count, uint16_t data_room);

// Names the frames of `pool` that are still in use, grouped by header, length and reference
// count: when a test finds frames missing, this says which. Takes every free object out of
// the pool for a moment, so nothing else may use the pool meanwhile.
std::string DescribeFramesInUse(rte_mempool* pool);

// ---- Helper threads -----------------------------------------------------------------------

// Lets the calling helper thread run on any CPU. Threads inherit the EAL main lcore's
// pinning to one CPU, where a peer thread would compete with the control thread that it
// is supposed to stand apart from.
void Unpin();

// Stops and joins a helper thread however the test ends (an ASSERT returns early).
class StopAndJoin {
 public:
  StopAndJoin(std::atomic<bool>& stop, std::thread& thread) : stop_(stop), thread_(thread) {}
  ~StopAndJoin() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  StopAndJoin(const StopAndJoin&) = delete;
  StopAndJoin& operator=(const StopAndJoin&) = delete;

 private:
  std::atomic<bool>& stop_;
  std::thread& thread_;
};

// ---- Process and switch state -------------------------------------------------------------

// How much resident memory may grow once warm. AddressSanitizer keeps freed memory in its
// quarantine (256 MB by default), so under it RSS says nothing about leaks and is only shown.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kRssIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kRssIsMeaningful = false;
#else
inline constexpr bool kRssIsMeaningful = true;
#endif
#else
inline constexpr bool kRssIsMeaningful = true;
#endif
inline constexpr long kRssGrowthLimitKib = 4096;

// Resident set size of this process, in KiB (VmRSS in /proc/self/status); -1 if unknown.
long RssKib();

// Bytes allocated from DPDK's heap (rings, ethdev state), which RSS does not show.
size_t DpdkHeapBytes();

// A Switch with one PMD thread on lcore 1, an FDB of `fdb_entries` and a small pool of its
// own; nullptr (with a test failure) if it cannot start.
std::unique_ptr<Switch> StartSwitch(uint32_t fdb_entries);

// Ticks the switch until `done()` holds or `timeout` passes. Returns done().
bool TickUntil(Switch& sw, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

// Makes `mac` known on `port` with one broadcast frame (which the caller drains).
void Teach(Switch& sw, rte_mempool* pool, const std::string& port, MacAddress mac);

PortCountersSnapshot Counters(const Switch& sw, const std::string& port);
uint64_t Drops(const PortCountersSnapshot& c, DropReason reason);

}  // namespace dpbridge::testing
