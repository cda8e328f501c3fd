// SPDX-License-Identifier: Apache-2.0
// Reliability (issue 7): a flood of a million source MACs keeps the FDB within its capacity
// and the per-port limit, and known hosts keep being forwarded as unicast.
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "log.h"
#include "reliability_fixture.h"
#include "switch.h"

namespace dpbridge {
namespace {

using namespace testing;  // NOLINT: the fixture's helpers (dpbridge::testing)

// A bijection on 40 bits that looks random: distinct counters give distinct addresses.
MacAddress FloodSource(uint64_t prefix, uint64_t n) {
  constexpr uint64_t kMask = (uint64_t{1} << 40) - 1;
  uint64_t x = (n * 0x9E3779B97Full) & kMask;
  x ^= x >> 19;
  x = (x * 0xD6E8FEB867ull) & kMask;
  return MacAddress(prefix << 40 | x);
}

struct FloodResult {
  uint64_t injected = 0;
  double seconds = 0;
  long rss_after_100k_kib = -1;
};

TEST(Reliability, MacFloodStaysWithinCapacityAndLimitAndKnownAddressesStayUnicast) {
  constexpr uint32_t kCapacity = 65536;
  constexpr uint32_t kLimit = 16384;
  constexpr uint64_t kFloodFrames = 1'000'000;
  constexpr uint64_t kFillFrames = 100'000;
  constexpr auto kTimeBound = std::chrono::seconds(60);
  constexpr uint64_t kLegitEvery = 64;  // one C->B and one B->C frame per 64 flood frames

  rte_mempool* pool = MakePool("flood_frames", 12287, RTE_MBUF_DEFAULT_BUF_SIZE);
  ASSERT_NE(pool, nullptr);
  auto sw_owner = StartSwitch(kCapacity);
  ASSERT_TRUE(sw_owner);
  Switch& sw = *sw_owner;
  for (const char* name : {"a", "b", "c", "d"}) ASSERT_TRUE(sw.AddPort(RingPort(name)).ok());
  ASSERT_TRUE(sw.SetMacLimit(kLimit, "a").ok());
  Teach(sw, pool, "b", kMacB);
  Teach(sw, pool, "c", kMacC);
  for (const char* name : {"a", "b", "c", "d"}) Drain(Ring(name, "tx"));
  const unsigned pool_baseline = rte_mempool_in_use_count(pool);

  // The drain thread plays the four peers and checks where the known traffic lands.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> c_to_b{0}, b_to_c{0}, misdelivered{0};
  std::thread drain([&] {
    Unpin();
    const std::array<std::string, 4> names = {"a", "b", "c", "d"};
    std::array<rte_ring*, 4> rings;
    for (size_t i = 0; i < 4; ++i) rings[i] = Ring(names[i], "tx");
    while (!stop.load(std::memory_order_relaxed)) {
      size_t got = 0;
      for (size_t i = 0; i < 4; ++i) {
        got += Drain(rings[i], [&](const rte_mbuf* f) {
          const MacAddress src = SourceOf(f);
          if (src == kMacC) (i == 1 ? c_to_b : misdelivered)++;
          if (src == kMacB) (i == 2 ? b_to_c : misdelivered)++;
        });
      }
      if (got == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  StopAndJoin drain_guard(stop, drain);

  // One flood from `port`: `frames` new random sources to random unknown destinations,
  // with known traffic between B and C woven in. The control work runs on this thread.
  std::atomic<uint64_t> sent_to_b{0}, sent_to_c{0};
  auto flood = [&](const std::string& port, uint64_t prefix, uint64_t frames) {
    FloodResult result;
    std::atomic<uint64_t> injected{0};
    std::atomic<bool> done{false};
    const auto start = Clock::now();
    std::thread injector([&] {
      Unpin();
      rte_ring* rx = Ring(port, "rx");
      rte_ring* b_rx = Ring("b", "rx");
      rte_ring* c_rx = Ring("c", "rx");
      rte_mbuf* burst[32];
      uint64_t n = 0;
      while (n < frames && Clock::now() - start < kTimeBound) {
        const unsigned want = static_cast<unsigned>(std::min<uint64_t>(32, frames - n));
        unsigned made = 0;
        for (; made < want; ++made) {
          burst[made] = MakeFrame(pool, FloodSource(prefix | 0x10, n + made),
                                  FloodSource(prefix, n + made));
          if (burst[made] == nullptr) break;
        }
        // Keep every frame: a frame that could not be queued is sent again.
        unsigned queued = rte_ring_enqueue_burst(rx, reinterpret_cast<void**>(burst), made,
                                                 nullptr);
        for (unsigned i = queued; i < made; ++i) rte_pktmbuf_free(burst[i]);
        if (queued == 0) std::this_thread::yield();
        if ((n + queued) / kLegitEvery != n / kLegitEvery) {
          rte_mbuf* to_b = MakeFrame(pool, kMacB, kMacC);
          rte_mbuf* to_c = MakeFrame(pool, kMacC, kMacB);
          if (to_b != nullptr) sent_to_b += EnqueueAll(c_rx, &to_b, 1);
          if (to_c != nullptr) sent_to_c += EnqueueAll(b_rx, &to_c, 1);
        }
        n += queued;
        injected.store(n, std::memory_order_relaxed);
      }
      done = true;
    });
    // Control thread: learn, age, and watch the bounds while the flood runs.
    while (!done.load()) {
      sw.Tick();
      const MetricsView view = sw.Metrics();
      EXPECT_LE(view.fdb.learned_entries + view.fdb.static_entries, kCapacity);
      EXPECT_LE(sw.FindPort("a")->learned_macs, kLimit);
      if (result.rss_after_100k_kib < 0 && injected.load() >= 100'000) {
        result.rss_after_100k_kib = RssKib();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    injector.join();
    result.injected = injected.load();
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    // Let the PMD empty the RX rings, the drain thread the TX rings, and the control
    // thread the learn queue.
    EXPECT_TRUE(TickUntil(sw, [&] {
      size_t queued = 0;
      for (const char* name : {"a", "b", "c", "d"}) {
        queued += rte_ring_count(Ring(name, "rx")) + rte_ring_count(Ring(name, "tx"));
      }
      return queued == 0;
    }));
    for (int i = 0; i < 20; ++i) {
      sw.Tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return result;
  };

  // Phase 1: a million sources from a, which may learn kLimit of them.
  const MacTableStats stats0 = sw.Metrics().fdb;
  const PmdCountersSnapshot pmd0 = sw.PmdStats()[0].counters;
  const long rss_start = RssKib();
  const FloodResult phase1 = flood("a", 0x06, kFloodFrames);
  const long rss_end = RssKib();
  const MacTableStats stats1 = sw.Metrics().fdb;
  const PmdCountersSnapshot pmd1 = sw.PmdStats()[0].counters;
  const PortInfo a_info = sw.FindPort("a").value();

  std::printf("mac flood: %lu sources from a in %.1f s (%.0f frames/s); learned on a %u "
              "(limit %u); rejected by the limit %lu, learn queue overflow %lu; "
              "RSS %ld KiB at start, %ld KiB after 100K, %ld KiB at end\n",
              static_cast<unsigned long>(phase1.injected), phase1.seconds,
              phase1.injected / phase1.seconds, a_info.learned_macs, kLimit,
              static_cast<unsigned long>(stats1.rejected_limit_total - stats0.rejected_limit_total),
              static_cast<unsigned long>(pmd1.learn_queue_full - pmd0.learn_queue_full),
              rss_start, phase1.rss_after_100k_kib, rss_end);
  ASSERT_EQ(phase1.injected, kFloodFrames) << "the flood did not finish within the time bound";
  EXPECT_EQ(a_info.counters.rx_packets, kFloodFrames);
  EXPECT_EQ(a_info.learned_macs, kLimit);
  // Each random source asked once; each request learned, refused by the limit, or lost to
  // a full learn queue (counted).
  EXPECT_EQ(pmd1.learn_requests - pmd0.learn_requests, kFloodFrames);
  EXPECT_EQ((stats1.learned_total - stats0.learned_total) +
                (stats1.rejected_limit_total - stats0.rejected_limit_total) +
                (pmd1.learn_queue_full - pmd0.learn_queue_full),
            kFloodFrames);
  EXPECT_EQ(stats1.learned_total - stats0.learned_total, kLimit);
  EXPECT_GT(stats1.rejected_limit_total - stats0.rejected_limit_total, kFloodFrames / 2);
  ASSERT_GT(phase1.rss_after_100k_kib, 0);
  if (kRssIsMeaningful) {
    EXPECT_LT(rss_end - phase1.rss_after_100k_kib, kRssGrowthLimitKib)
        << "RSS grew during the flood";
  }

  // Phase 2: d has no limit and fills the table to its capacity.
  const FloodResult phase2 = flood("d", 0x0a, kFillFrames);
  const MacTableStats stats2 = sw.Metrics().fdb;
  std::printf("mac fill: %lu sources from d in %.1f s; FDB %lu of %u entries; rejected as "
              "full %lu\n",
              static_cast<unsigned long>(phase2.injected), phase2.seconds,
              static_cast<unsigned long>(stats2.learned_entries + stats2.static_entries),
              kCapacity,
              static_cast<unsigned long>(stats2.rejected_full_total - stats1.rejected_full_total));
  ASSERT_EQ(phase2.injected, kFillFrames);
  EXPECT_LE(stats2.learned_entries + stats2.static_entries, kCapacity);
  EXPECT_GE(stats2.learned_entries + stats2.static_entries, kCapacity - kCapacity / 100);
  EXPECT_GT(stats2.rejected_full_total - stats1.rejected_full_total, 0u);
  EXPECT_EQ(sw.FindPort("a")->learned_macs, kLimit);

  // Known addresses kept forwarding as unicast throughout, and still do, exactly.
  const uint64_t c_to_b_before = c_to_b.load();
  const uint64_t b_to_c_before = b_to_c.load();
  constexpr unsigned kQuiet = 1000;
  for (unsigned i = 0; i < kQuiet; ++i) {
    rte_mbuf* to_b = MakeFramePatiently(pool, kMacB, kMacC);
    rte_mbuf* to_c = MakeFramePatiently(pool, kMacC, kMacB);
    ASSERT_TRUE(to_b && to_c) << "pool empty for 1 s";
    ASSERT_EQ(EnqueueAll(Ring("c", "rx"), &to_b, 1), 1u);
    ASSERT_EQ(EnqueueAll(Ring("b", "rx"), &to_c, 1), 1u);
  }
  EXPECT_TRUE(TickUntil(sw, [&] {
    return c_to_b.load() - c_to_b_before == kQuiet && b_to_c.load() - b_to_c_before == kQuiet;
  })) << c_to_b.load() - c_to_b_before << " C->B and " << b_to_c.load() - b_to_c_before
      << " B->C frames of " << kQuiet;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  drain.join();
  for (const char* name : {"a", "b", "c", "d"}) Drain(Ring(name, "tx"));

  std::printf("known traffic: %lu C->B and %lu B->C frames during the floods, %lu "
              "seen on a wrong port\n",
              static_cast<unsigned long>(c_to_b_before), static_cast<unsigned long>(b_to_c_before),
              static_cast<unsigned long>(misdelivered.load()));
  EXPECT_EQ(misdelivered.load(), 0u) << "known unicast was flooded";
  EXPECT_GT(sent_to_b.load(), 0u);
  // During the floods, a frame may be lost only to a full TX ring (counted at b or c).
  EXPECT_LE(sent_to_b.load() - c_to_b_before, Drops(Counters(sw, "b"), DropReason::kTxQueueFull));
  EXPECT_LE(sent_to_c.load() - b_to_c_before, Drops(Counters(sw, "c"), DropReason::kTxQueueFull));
  const auto fdb_b = sw.FdbDump("b");
  const auto fdb_c = sw.FdbDump("c");
  ASSERT_EQ(fdb_b.size(), 1u);
  EXPECT_EQ(fdb_b[0].mac, kMacB);
  ASSERT_EQ(fdb_c.size(), 1u);
  EXPECT_EQ(fdb_c[0].mac, kMacC);

  EXPECT_EQ(rte_mempool_in_use_count(pool), pool_baseline);
  sw_owner.reset();
  rte_mempool_free(pool);
}

}  // namespace
}  // namespace dpbridge
