// SPDX-License-Identifier: Apache-2.0
// Reliability (issue 7): a soak of traffic both ways with port churn and FDB churn; nothing
// lost but what is counted, no frame, memory or heap leak.
//
// Environment: DPBRIDGE_SOAK_SECONDS sets the soak's length (default 60; 600 for the full
// soak of docs/reliability.md, with a matching meson --timeout-multiplier).
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

unsigned SoakSeconds() {
  const char* text = std::getenv("DPBRIDGE_SOAK_SECONDS");
  const long value = text ? std::strtol(text, nullptr, 10) : 0;
  return value > 0 ? static_cast<unsigned>(value) : 60;
}

TEST(Reliability, SoakWithTrafficPortChurnAndFdbChurn) {
  const unsigned seconds = SoakSeconds();
  const auto warmup = std::chrono::seconds(std::max(5u, seconds / 10));
  // Events of a churn cycle (ports added and removed) would fill the log; keep warnings.
  Logger::SetGlobalLevel(LogLevel::kWarning);
  rte_mempool* pool = MakePool("soak_frames", 12287, RTE_MBUF_DEFAULT_BUF_SIZE);
  ASSERT_NE(pool, nullptr);
  auto sw_owner = StartSwitch(8192);
  ASSERT_TRUE(sw_owner);
  Switch& sw = *sw_owner;
  ASSERT_TRUE(sw.AddPort(RingPort("a")).ok());
  ASSERT_TRUE(sw.AddPort(RingPort("b")).ok());
  // d stays and sends from a new source each cycle, never again: those entries must age.
  ASSERT_TRUE(sw.AddPort(RingPort("d")).ok());
  ASSERT_TRUE(sw.SetAgingTime(1).ok());
  Teach(sw, pool, "a", kMacA);
  Teach(sw, pool, "b", kMacB);
  for (const char* name : {"a", "b", "d"}) Drain(Ring(name, "tx"));
  const unsigned pool_baseline = rte_mempool_in_use_count(pool);
  const uint64_t switch_mbufs_baseline = sw.Metrics().mbufs_in_use;

  // Traffic both ways between a and b; the longest time b went without a frame from A.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent_a{0}, sent_b{0}, a_at_b{0}, b_at_a{0}, longest_gap_us{0};
  std::thread traffic([&] {
    Unpin();
    rte_ring* a_rx = Ring("a", "rx");
    rte_ring* b_rx = Ring("b", "rx");
    rte_ring* a_tx = Ring("a", "tx");
    rte_ring* b_tx = Ring("b", "tx");
    auto last = Clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      for (int dir = 0; dir < 2; ++dir) {
        rte_mbuf* burst[8];
        unsigned made = 0;
        for (; made < 8; ++made) {
          burst[made] = dir == 0 ? MakeFrame(pool, kMacB, kMacA, 60 + made * 100)
                                 : MakeFrame(pool, kMacA, kMacB, 60 + made * 100);
          if (burst[made] == nullptr) break;
        }
        const unsigned queued = rte_ring_enqueue_burst(dir == 0 ? a_rx : b_rx,
                                                       reinterpret_cast<void**>(burst), made,
                                                       nullptr);
        for (unsigned i = queued; i < made; ++i) rte_pktmbuf_free(burst[i]);
        (dir == 0 ? sent_a : sent_b) += queued;
      }
      uint64_t from_a = 0;
      Drain(b_tx, [&](const rte_mbuf* f) { from_a += SourceOf(f) == kMacA; });
      Drain(a_tx, [&](const rte_mbuf* f) { b_at_a += SourceOf(f) == kMacB; });
      const auto now = Clock::now();
      if (from_a > 0) {
        a_at_b += from_a;
        const auto gap = std::chrono::duration_cast<std::chrono::microseconds>(now - last);
        if (static_cast<uint64_t>(gap.count()) > longest_gap_us) longest_gap_us = gap.count();
        last = now;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  StopAndJoin traffic_guard(stop, traffic);

  // Churn on this (the control) thread until the deadline.
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  long rss_warm = -1;
  size_t heap_warm = 0;
  uint64_t cycles = 0, statics = 0, flushes = 0;
  Clock::duration longest_churn_op{};
  std::optional<FdbKey> previous_static;
  while (Clock::now() < deadline) {
    // Port churn: c comes, talks (a new source each cycle, to A and to everyone), and goes.
    const auto add_start = Clock::now();
    auto added = sw.AddPort(RingPort("c"));
    longest_churn_op = std::max(longest_churn_op, Clock::now() - add_start);
    ASSERT_TRUE(added.ok()) << "cycle " << cycles << ": " << added.message();
    const MacAddress c_source(0x02'00'00'0c'00'00ull + (cycles & 0xffff));
    rte_mbuf* frames[2] = {MakeFramePatiently(pool, kMacA, c_source),
                           MakeFramePatiently(pool, kBroadcast, c_source)};
    ASSERT_TRUE(frames[0] && frames[1]) << "pool empty for 1 s";
    EnqueueAll(Ring("c", "rx"), frames, 2);
    rte_mbuf* once = MakeFramePatiently(pool, kMacA, MacAddress(0x02'00'00'0d'00'00ull + cycles));
    ASSERT_NE(once, nullptr) << "pool empty for 1 s";
    EnqueueAll(Ring("d", "rx"), &once, 1);
    Drain(Ring("d", "tx"));

    // FDB churn: a static entry added, the previous one removed, flushes now and then.
    const FdbKey key(static_cast<uint16_t>(cycles % 4096),
                     MacAddress(0x02'00'00'5e'00'00ull + (cycles % 4096)));
    ASSERT_TRUE(sw.FdbAddStatic(key.mac(), key.vlan(), (cycles & 1) ? "b" : "c").ok());
    ++statics;
    // The previous entry may already have gone with its port.
    if (previous_static) (void)sw.FdbDel(previous_static->mac(), previous_static->vlan());
    previous_static = key;
    if (cycles % 16 == 0) {
      ASSERT_TRUE(sw.FdbFlush("a").ok());
      ++flushes;
    }
    if (cycles % 1024 == 0) {
      ASSERT_TRUE(sw.FdbFlush().ok());
      ++flushes;
    }
    for (int i = 0; i < 4; ++i) {
      sw.Tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto del_start = Clock::now();
    ASSERT_TRUE(sw.DelPort("c").ok()) << "cycle " << cycles;
    longest_churn_op = std::max(longest_churn_op, Clock::now() - del_start);
    sw.Tick();
    ++cycles;
    if (rss_warm < 0 && Clock::now() - start >= warmup) {
      rss_warm = RssKib();
      heap_warm = DpdkHeapBytes();
    }
  }
  const long rss_end = RssKib();
  const size_t heap_end = DpdkHeapBytes();
  stop = true;
  traffic.join();

  // Stragglers: whatever the PMD still sends after the traffic thread stopped. Done when
  // every RX ring is empty and every frame is back in the pool (or after 5 s).
  EXPECT_TRUE(TickUntil(sw, [&] {
    Drain(Ring("b", "tx"), [&](const rte_mbuf* f) { a_at_b += SourceOf(f) == kMacA; });
    Drain(Ring("a", "tx"), [&](const rte_mbuf* f) { b_at_a += SourceOf(f) == kMacB; });
    Drain(Ring("d", "tx"));
    size_t queued = 0;
    for (const char* name : {"a", "b", "d"}) queued += rte_ring_count(Ring(name, "rx"));
    return queued == 0 && rte_mempool_in_use_count(pool) == pool_baseline;
  })) << rte_mempool_in_use_count(pool) << " frames in use, " << pool_baseline << " before:"
     << DescribeFramesInUse(pool);

  const PortCountersSnapshot a = Counters(sw, "a");
  const PortCountersSnapshot b = Counters(sw, "b");
  const MacTableStats fdb = sw.Metrics().fdb;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("soak: %.0f s, %lu frames A->B (%lu received), %lu frames B->A (%lu received), "
              "%lu port churn cycles (slowest add/del %ld us), %lu static adds, %lu flushes, "
              "%lu aged, %lu learned on d at end; RSS %ld KiB after warm-up, %ld KiB at end; "
              "DPDK heap %zu -> %zu bytes; longest gap at b %lu us; tx_queue_full a %lu b %lu\n",
              elapsed, static_cast<unsigned long>(sent_a.load()),
              static_cast<unsigned long>(a_at_b.load()), static_cast<unsigned long>(sent_b.load()),
              static_cast<unsigned long>(b_at_a.load()), static_cast<unsigned long>(cycles),
              static_cast<long>(
                  std::chrono::duration_cast<std::chrono::microseconds>(longest_churn_op).count()),
              static_cast<unsigned long>(statics), static_cast<unsigned long>(flushes),
              static_cast<unsigned long>(fdb.aged_total),
              static_cast<unsigned long>(sw.FindPort("d")->learned_macs), rss_warm, rss_end,
              heap_warm, heap_end, static_cast<unsigned long>(longest_gap_us.load()),
              static_cast<unsigned long>(Drops(a, DropReason::kTxQueueFull)),
              static_cast<unsigned long>(Drops(b, DropReason::kTxQueueFull)));

  EXPECT_GT(cycles, seconds * 10u) << "port churn was too slow to mean anything";
  // d's one-off sources age out (1 s) instead of piling up; flushes do not reach them
  // all, because d's entries are learned again only by d's next new source.
  EXPECT_GT(fdb.aged_total, cycles / 2);
  EXPECT_LT(sw.FindPort("d")->learned_macs, cycles / 4 + 100);
  // Every frame a and b received is accounted for; the only loss allowed is a full TX ring.
  EXPECT_EQ(a.rx_packets, sent_a.load() + 1);  // + the frame that taught the switch A
  EXPECT_EQ(b.rx_packets, sent_b.load() + 1);
  EXPECT_EQ(a.TotalDrops(), Drops(a, DropReason::kTxQueueFull));
  EXPECT_EQ(b.TotalDrops(), Drops(b, DropReason::kTxQueueFull));
  EXPECT_LE(a_at_b.load(), sent_a.load());
  EXPECT_LE(sent_a.load() - a_at_b.load(), Drops(b, DropReason::kTxQueueFull));
  EXPECT_LE(b_at_a.load(), sent_b.load());
  EXPECT_LE(sent_b.load() - b_at_a.load(), Drops(a, DropReason::kTxQueueFull));
  EXPECT_LT(longest_gap_us.load(), 500'000u);

  // Nothing leaked: frames, the switch's own mbufs, resident memory, DPDK's heap.
  EXPECT_EQ(rte_mempool_in_use_count(pool), pool_baseline);
  EXPECT_EQ(sw.Metrics().mbufs_in_use, switch_mbufs_baseline);
  ASSERT_GT(rss_warm, 0);
  if (kRssIsMeaningful) {
    EXPECT_LT(rss_end - rss_warm, kRssGrowthLimitKib) << "RSS grew during the soak";
  }
  EXPECT_LT(heap_end, heap_warm + 256 * 1024) << "DPDK heap grew during the soak";
  EXPECT_TRUE(sw.FdbDump("c").empty());

  sw_owner.reset();
  rte_mempool_free(pool);
  Logger::SetGlobalLevel(LogLevel::kInfo);
}

}  // namespace
}  // namespace dpbridge
