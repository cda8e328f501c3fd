// SPDX-License-Identifier: Apache-2.0
// Reliability (issue 7): malformed frames (runts, oversize, invalid sources, truncated VLAN
// tags, chains) mixed with valid ones through a real ring port are dropped, counted by
// cause and never learned; valid frames in the same bursts are delivered.
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

enum class Kind { kValid, kRunt, kOversize, kInvalidSource, kTruncatedVlan };

struct BadFrameCase {
  const char* what;
  Kind kind;
  std::function<rte_mbuf*()> make;
};

TEST(Reliability, BadFramesAreDroppedCountedAndNeverLearned) {
  constexpr int kRounds = 200;
  constexpr uint32_t kJumbo = 9022;  // Forwarder::kMaxFrameSize: the largest frame accepted
  rte_mempool* pool = MakePool("bad_small", 3071, RTE_MBUF_DEFAULT_BUF_SIZE);
  rte_mempool* big = MakePool("bad_big", 95, RTE_PKTMBUF_HEADROOM + 9216);
  ASSERT_TRUE(pool && big);
  auto sw_owner = StartSwitch(4096);
  ASSERT_TRUE(sw_owner);
  Switch& sw = *sw_owner;
  for (const char* name : {"a", "b", "c"}) ASSERT_TRUE(sw.AddPort(RingPort(name)).ok());
  rte_ring* a_rx = Ring("a", "rx");
  rte_ring* b_tx = Ring("b", "tx");
  rte_ring* c_tx = Ring("c", "tx");
  Teach(sw, pool, "a", kMacA);
  Teach(sw, pool, "b", kMacB);
  Drain(Ring("a", "tx"));
  Drain(b_tx);
  Drain(c_tx);
  const unsigned pool_baseline = rte_mempool_in_use_count(pool);
  const PortCountersSnapshot a_before = Counters(sw, "a");
  const PortCountersSnapshot b_before = Counters(sw, "b");
  const PortCountersSnapshot c_before = Counters(sw, "c");

  // Each bad frame carries a unicast source of its own that must never be learned.
  const MacAddress bad_source(0x02'00'00'00'ba'd0ull);
  const std::vector<BadFrameCase> cases = {
      {"valid", Kind::kValid, [&] { return MakeFrame(pool, kMacB, kMacA); }},
      {"empty", Kind::kRunt, [&] { return MakeFrame(pool, kMacB, bad_source, 0); }},
      {"13 bytes", Kind::kRunt, [&] { return MakeFrame(pool, kMacB, bad_source, 13); }},
      {"valid", Kind::kValid, [&] { return MakeFrame(pool, kMacB, kMacA, 1514); }},
      {"9100 bytes in 5 segments", Kind::kOversize,
       [&] { return MakeChainedFrame(pool, kMacB, bad_source, 9100); }},
      {"9023 bytes in one buffer", Kind::kOversize,
       [&] { return MakeFrame(big, kMacB, bad_source, kJumbo + 1); }},
      {"9022-byte jumbo", Kind::kValid, [&] { return MakeFrame(big, kMacB, kMacA, kJumbo); }},
      {"multicast source", Kind::kInvalidSource,
       [&] { return MakeFrame(pool, kMacB, MacAddress(0x01'00'5e'00'00'01ull)); }},
      {"broadcast source", Kind::kInvalidSource,
       [&] { return MakeFrame(pool, kMacB, kBroadcast); }},
      {"zero source", Kind::kInvalidSource, [&] { return MakeFrame(pool, kMacB, MacAddress()); }},
      {"VLAN tag cut at 16 bytes", Kind::kTruncatedVlan,
       [&] { return MakeFrame(pool, kMacB, bad_source, 16, kEtherTypeVlan); }},
      {"QinQ tag cut at 14 bytes", Kind::kTruncatedVlan,
       [&] { return MakeFrame(pool, kMacB, bad_source, 14, kEtherTypeQinQ); }},
      {"whole VLAN tag", Kind::kValid,
       [&] { return MakeFrame(pool, kMacB, kMacA, 64, kEtherTypeVlan); }},
      {"valid", Kind::kValid, [&] { return MakeFrame(pool, kMacB, kMacA); }},
  };
  auto count_of = [&](Kind kind) {
    return static_cast<uint64_t>(kRounds) *
           std::count_if(cases.begin(), cases.end(), [&](const auto& c) { return c.kind == kind; });
  };

  uint64_t injected = 0, valid_at_b = 0, jumbo_at_b = 0, foreign_at_b = 0, at_c = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<rte_mbuf*> frames;
    for (const auto& c : cases) {
      frames.push_back(c.make());
      ASSERT_NE(frames.back(), nullptr) << c.what;
    }
    ASSERT_EQ(EnqueueAll(a_rx, frames.data(), static_cast<unsigned>(frames.size())),
              frames.size());
    injected += frames.size();
    ASSERT_TRUE(TickUntil(sw, [&] {
      return Counters(sw, "a").rx_packets - a_before.rx_packets == injected;
    })) << "round " << round << ": the PMD stopped taking frames";
    // Valid frames leave through b only (B is known): drain until this round's have arrived.
    const uint64_t want = count_of(Kind::kValid) / kRounds * (round + 1);
    ASSERT_TRUE(TickUntil(sw, [&] {
      Drain(b_tx, [&](const rte_mbuf* f) {
        ++valid_at_b;
        if (SourceOf(f) != kMacA) ++foreign_at_b;
        if (f->pkt_len == kJumbo) ++jumbo_at_b;
      });
      return valid_at_b >= want;
    })) << "round " << round << ": " << valid_at_b << " of " << want << " valid frames at b";
    at_c += Drain(c_tx);
  }
  sw.Tick();

  const PortCountersSnapshot a = Counters(sw, "a");
  const PortCountersSnapshot b = Counters(sw, "b");
  const PortCountersSnapshot c = Counters(sw, "c");
  std::printf("bad frames: %lu injected in %d rounds; a dropped runt %lu, oversize %lu, "
              "invalid_source %lu, truncated_vlan %lu; b sent %lu\n",
              static_cast<unsigned long>(injected), kRounds,
              static_cast<unsigned long>(Drops(a, DropReason::kRunt) -
                                         Drops(a_before, DropReason::kRunt)),
              static_cast<unsigned long>(Drops(a, DropReason::kOversize) -
                                         Drops(a_before, DropReason::kOversize)),
              static_cast<unsigned long>(Drops(a, DropReason::kInvalidSource) -
                                         Drops(a_before, DropReason::kInvalidSource)),
              static_cast<unsigned long>(Drops(a, DropReason::kTruncatedVlan) -
                                         Drops(a_before, DropReason::kTruncatedVlan)),
              static_cast<unsigned long>(b.tx_packets - b_before.tx_packets));

  // Every bad frame counted under its reason, and nothing else dropped.
  EXPECT_EQ(a.rx_packets - a_before.rx_packets, injected);
  EXPECT_EQ(Drops(a, DropReason::kRunt) - Drops(a_before, DropReason::kRunt),
            count_of(Kind::kRunt));
  EXPECT_EQ(Drops(a, DropReason::kOversize) - Drops(a_before, DropReason::kOversize),
            count_of(Kind::kOversize));
  EXPECT_EQ(Drops(a, DropReason::kInvalidSource) - Drops(a_before, DropReason::kInvalidSource),
            count_of(Kind::kInvalidSource));
  EXPECT_EQ(Drops(a, DropReason::kTruncatedVlan) - Drops(a_before, DropReason::kTruncatedVlan),
            count_of(Kind::kTruncatedVlan));
  EXPECT_EQ(a.TotalDrops() - a_before.TotalDrops(),
            injected - count_of(Kind::kValid));
  EXPECT_EQ(b.TotalDrops(), b_before.TotalDrops());

  // Valid traffic in between went through, exactly, as unicast to b only.
  EXPECT_EQ(valid_at_b, count_of(Kind::kValid));
  EXPECT_EQ(b.tx_packets - b_before.tx_packets, count_of(Kind::kValid));
  EXPECT_EQ(jumbo_at_b, static_cast<uint64_t>(kRounds));
  EXPECT_EQ(foreign_at_b, 0u);
  EXPECT_EQ(a.flooded_packets, a_before.flooded_packets);
  EXPECT_EQ(at_c, 0u);
  EXPECT_EQ(c.tx_packets, c_before.tx_packets);

  // Nothing learned but A and B.
  const std::vector<FdbRow> fdb = sw.FdbDump();
  ASSERT_EQ(fdb.size(), 2u);
  EXPECT_EQ(fdb[0].mac, kMacA);
  EXPECT_EQ(fdb[0].port, "a");
  EXPECT_EQ(fdb[1].mac, kMacB);
  EXPECT_EQ(fdb[1].port, "b");

  EXPECT_EQ(rte_mempool_in_use_count(pool), pool_baseline);
  EXPECT_EQ(rte_mempool_in_use_count(big), 0u);
  sw_owner.reset();
  rte_mempool_free(big);
  rte_mempool_free(pool);
}

}  // namespace
}  // namespace dpbridge
