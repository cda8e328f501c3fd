// SPDX-License-Identifier: Apache-2.0
// Port churn under traffic: a third port comes and goes 100 times while a PMD
// thread on its own lcore forwards between two others.
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../common/eal_main.h"
#include "../common/ring_ports.h"
#include "reliability_fixture.h"
#include "switch.h"

namespace dpbridge {
namespace {

using testing::Drain;
using testing::MakeFrame;
using testing::Ring;
using testing::RingPort;

using testing::kMacA;
using testing::kMacB;
constexpr int kChurnCycles = 100;

TEST(PortChurn, ThirdPortComesAndGoesWhileTrafficFlows) {
  rte_mempool* pool = rte_pktmbuf_pool_create("churn_frames", 8191, 0, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  SwitchOptions options;
  options.fdb.max_entries = 4096;
  options.pmd_lcores = {1};
  options.mbuf_count = 2047;
  auto created = Switch::Create(options);
  ASSERT_TRUE(created.ok()) << created.message();
  Switch& sw = *created.value();

  ASSERT_TRUE(sw.AddPort(RingPort("a")).ok());
  ASSERT_TRUE(sw.AddPort(RingPort("b")).ok());
  rte_ring* a_rx = Ring("a", "rx");
  rte_ring* b_rx = Ring("b", "rx");
  rte_ring* a_tx = Ring("a", "tx");
  rte_ring* b_tx = Ring("b", "tx");
  ASSERT_TRUE(a_rx && b_rx && a_tx && b_tx);

  // Teach the switch where A and B are, so that A -> B is known unicast.
  ASSERT_EQ(rte_ring_enqueue(a_rx, MakeFrame(pool, MacAddress(0xffffffffffffull), kMacA)), 0);
  ASSERT_EQ(rte_ring_enqueue(b_rx, MakeFrame(pool, MacAddress(0xffffffffffffull), kMacB)), 0);
  for (int i = 0; i < 200 && sw.FdbDump().size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sw.Tick();
  }
  ASSERT_EQ(sw.FdbDump().size(), 2u);
  Drain(a_tx);
  Drain(b_tx);
  const unsigned baseline = rte_mempool_in_use_count(pool);

  // Traffic: A -> B in small bursts; record the longest time without a frame.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0}, received{0}, longest_gap_us{0};
  std::thread traffic([&] {
    auto last = std::chrono::steady_clock::now();
    while (!stop.load()) {
      rte_mbuf* burst[8];
      unsigned made = 0;
      for (; made < 8; ++made) {
        burst[made] = MakeFrame(pool, kMacB, kMacA);
        if (burst[made] == nullptr) break;
      }
      const unsigned queued = rte_ring_enqueue_burst(a_rx, reinterpret_cast<void**>(burst), made,
                                                     nullptr);
      for (unsigned i = queued; i < made; ++i) rte_pktmbuf_free(burst[i]);
      sent += queued;
      const size_t got = Drain(b_tx);
      const auto now = std::chrono::steady_clock::now();
      if (got > 0) {
        received += got;
        const auto gap = std::chrono::duration_cast<std::chrono::microseconds>(now - last).count();
        if (static_cast<uint64_t>(gap) > longest_gap_us) longest_gap_us = gap;
        last = now;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });

  for (int cycle = 0; cycle < kChurnCycles; ++cycle) {
    auto added = sw.AddPort(RingPort("c"));
    ASSERT_TRUE(added.ok()) << "cycle " << cycle << ": " << added.message();
    // c carries traffic too: a frame from a new address to A each time.
    rte_mbuf* probe = MakeFrame(pool, kMacA, MacAddress(0x020000000c00ull + cycle));
    ASSERT_NE(probe, nullptr);
    ASSERT_EQ(rte_ring_enqueue(Ring("c", "rx"), probe), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    sw.Tick();
    ASSERT_TRUE(sw.DelPort("c").ok()) << "cycle " << cycle;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  traffic.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  received += Drain(b_tx);
  Drain(a_tx);

  const PortInfo b_info = sw.FindPort("b").value();
  const uint64_t b_drops = b_info.counters.TotalDrops();
  std::printf("churn: %d cycles, %lu frames sent, %lu received, %lu dropped at b, "
              "longest gap %lu us\n",
              kChurnCycles, static_cast<unsigned long>(sent.load()),
              static_cast<unsigned long>(received.load()), static_cast<unsigned long>(b_drops),
              static_cast<unsigned long>(longest_gap_us.load()));
  EXPECT_GT(received.load(), 0u);
  EXPECT_EQ(sent.load(), received.load() + b_drops);
  // Generous bound: the gap measures scheduling on a 2-vCPU machine as much
  // as the switch; the point is that traffic never stops for a removal.
  EXPECT_LT(longest_gap_us.load(), 500'000u);
  // The probes that c's rings held were freed with c.
  EXPECT_EQ(rte_mempool_in_use_count(pool), baseline);
  EXPECT_TRUE(sw.FdbDump("c").empty());
}

}  // namespace
}  // namespace dpbridge

int main(int argc, char** argv) {
  return dpbridge::testing::RunTestsWithEal(argc, argv, "dpb_churn", 256);
}
