// SPDX-License-Identifier: Apache-2.0
// Forwarding through real DPDK ports (net_ring, no kernel): a Pmd polled by the
// test thread, with the test playing the FDB owner that applies learn requests.
#include "forwarding_fixture.h"

namespace dpbridge {
namespace {

[[maybe_unused]] const bool kEalRegistered = testing::RegisterEalEnvironment();

TEST_F(ForwardingTest, KnownUnicastLeavesExactlyOnePort) {
  LearnVia(2, Mac(0xb));
  const auto sent = Send(0, {MakeFrame(Mac(0xb), Mac(0xa))});
  Run();

  const auto out = Received(2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Payload(out[0]), sent[0]);
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(pmd_->port_counters(0).flooded_packets.Load(), 0u);
  EXPECT_EQ(table_->Find(FdbKey(0, Mac(0xa)))->port, 0);
}

TEST_F(ForwardingTest, UnknownUnicastReachesEveryOtherPortWithoutCopies) {
  const auto sent = Send(1, {MakeFrame(Mac(0xc), Mac(0xa))});
  Run();

  std::vector<rte_mbuf*> copies;
  for (uint16_t port : {0, 2, 3}) {
    const auto out = Received(port);
    ASSERT_EQ(out.size(), 1u) << "port " << port;
    EXPECT_EQ(Payload(out[0]), sent[0]) << "port " << port;
    copies.push_back(out[0]);
  }
  EXPECT_TRUE(Received(1).empty());

  // One mbuf shared by three transmitters, each holding a reference.
  EXPECT_EQ(copies[0], copies[1]);
  EXPECT_EQ(copies[1], copies[2]);
  EXPECT_EQ(rte_mbuf_refcnt_read(copies[0]), 3);
  EXPECT_EQ(pmd_->port_counters(1).flooded_packets.Load(), 1u);

  ReleaseHeld();
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_);
}

TEST_F(ForwardingTest, BroadcastAndMulticastReachEveryOtherPort) {
  const auto sent = Send(3, {MakeFrame(kBroadcast, Mac(0xa)), MakeFrame(kMulticast, Mac(0xa))});
  Run();
  for (uint16_t port : {0, 1, 2}) {
    const auto out = Received(port);
    ASSERT_EQ(out.size(), 2u) << "port " << port;
    EXPECT_EQ(Payload(out[0]), sent[0]);
    EXPECT_EQ(Payload(out[1]), sent[1]);
  }
  EXPECT_TRUE(Received(3).empty());
  EXPECT_EQ(pmd_->port_counters(3).flooded_packets.Load(), 2u);
  // A multicast destination is never taken for a learned address.
  EXPECT_FALSE(table_->Find(FdbKey(0, kMulticast)).has_value());
}

// 00:00:00:00:00:00 is never learned, so as a destination it is unknown.
TEST_F(ForwardingTest, AllZeroDestinationIsFlooded) {
  Send(1, {MakeFrame(MacAddress(), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{1, 0, 1, 1}));
  EXPECT_EQ(TotalDrops(1), 0u);
}

TEST_F(ForwardingTest, RuntsAreDroppedCountedAndNotLearned) {
  std::vector<rte_mbuf*> runts;
  for (uint16_t size : {0, 1, 6, 12, 13}) runts.push_back(MakeFrame(kBroadcast, Mac(0xa), size));
  Send(0, runts);
  Run();

  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(0, DropReason::kRunt), 5u);
  EXPECT_EQ(TotalDrops(0), 5u);
  EXPECT_EQ(pmd_->port_counters(0).rx_packets.Load(), 5u);
  EXPECT_EQ(pmd_->counters().learn_requests, 0u);
  EXPECT_TRUE(table_->Dump().empty());
}

TEST_F(ForwardingTest, BadSourceAddressesAreDroppedCountedAndNotLearned) {
  Send(2, {MakeFrame(kBroadcast, MacAddress()), MakeFrame(kBroadcast, kMulticast),
           MakeFrame(Mac(0xb), kBroadcast)});
  Run();

  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(2, DropReason::kInvalidSource), 3u);
  EXPECT_EQ(TotalDrops(2), 3u);
  EXPECT_EQ(pmd_->counters().learn_requests, 0u);
  EXPECT_TRUE(table_->Dump().empty());
}

TEST_F(ForwardingTest, TruncatedVlanTagsAreDroppedAndNotLearned) {
  std::vector<rte_mbuf*> frames;
  for (uint16_t size : {14, 15, 16, 17}) {
    frames.push_back(MakeFrame(kBroadcast, Mac(0xa), size, kEtherTypeVlan));
  }
  frames.push_back(MakeFrame(kBroadcast, Mac(0xa), 16, kEtherTypeQinQ));
  // A complete tag passes (switched in VLAN 0, see forwarder.h).
  frames.push_back(MakeFrame(kBroadcast, Mac(0xd), 18, kEtherTypeVlan));
  Send(1, frames);
  Run();

  EXPECT_EQ(Drops(1, DropReason::kTruncatedVlan), 5u);
  EXPECT_EQ(TotalDrops(1), 5u);
  EXPECT_EQ(ReceivedCounts(), (Counts{1, 0, 1, 1}));
  EXPECT_FALSE(table_->Find(FdbKey(0, Mac(0xa))).has_value());
  EXPECT_TRUE(table_->Find(FdbKey(0, Mac(0xd))).has_value());
}

TEST_F(ForwardingTest, HairpinIsDroppedAndCounted) {
  LearnVia(1, Mac(0xb));
  Send(1, {MakeFrame(Mac(0xb), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(1, DropReason::kHairpin), 1u);
  EXPECT_EQ(TotalDrops(1), 1u);
}

TEST_F(ForwardingTest, MacMoveRedirectsTheNextFrame) {
  LearnVia(2, Mac(0xb));
  Send(0, {MakeFrame(Mac(0xb), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 1, 0}));

  LearnVia(3, Mac(0xb));
  EXPECT_EQ(table_->Stats().moved_total, 1u);
  Send(0, {MakeFrame(Mac(0xb), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 1}));
}

TEST_F(ForwardingTest, AgingTurnsAKnownAddressBackIntoFlooding) {
  table_->SetAgingTime(1);
  LearnVia(2, Mac(0xb));
  const uint32_t learned_at = table_->Find(FdbKey(0, Mac(0xb)))->last_seen_s;
  Send(0, {MakeFrame(Mac(0xb), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 1, 0}));

  // Whole seconds: wait until the clock is two ticks past the stamp.
  for (int i = 0; i < 60 && NowSeconds() < learned_at + 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(NowSeconds(), learned_at + 2);
  EXPECT_GE(table_->Age(NowSeconds(), static_cast<uint32_t>(table_->bucket_count())), 1u);
  EXPECT_FALSE(table_->Find(FdbKey(0, Mac(0xb))).has_value());

  Send(0, {MakeFrame(Mac(0xb), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 1, 1, 1}));
}

TEST_F(ForwardingTest, PortWithoutLinkGetsNoFrames) {
  LearnVia(2, Mac(0xb));
  Publish({true, true, false, true});

  Send(0, {MakeFrame(kBroadcast, Mac(0xa)), MakeFrame(Mac(0xc), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 2, 0, 2}));

  Send(0, {MakeFrame(Mac(0xb), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(2, DropReason::kPortDown), 1u);
  EXPECT_EQ(pmd_->port_counters(2).tx_packets.Load(), 0u);

  // The link comes back: unicast resumes.
  Publish({true, true, true, true});
  Send(0, {MakeFrame(Mac(0xb), Mac(0xa))});
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 1, 0}));
}

TEST_F(ForwardingTest, TxBytesCountOnlyWhatTheDriverTook) {
  LearnVia(1, Mac(0xb));
  // Leave one free slot in port 1's TX ring: the first of three frames fits.
  static int placeholder = 0;
  const unsigned fill = rte_ring_free_count(tx_rings_[1]) - 1;
  for (unsigned i = 0; i < fill; ++i) ASSERT_EQ(rte_ring_enqueue(tx_rings_[1], &placeholder), 0);
  const PortCounters& out = pmd_->port_counters(1);
  const uint64_t bytes_before = out.tx_bytes.Load();
  const uint64_t packets_before = out.tx_packets.Load();

  Send(0, {MakeFrame(Mac(0xb), Mac(0xa), 70), MakeFrame(Mac(0xb), Mac(0xa), 300),
           MakeFrame(Mac(0xb), Mac(0xa), 1000)});
  Run();

  EXPECT_EQ(out.tx_packets.Load() - packets_before, 1u);
  EXPECT_EQ(out.tx_bytes.Load() - bytes_before, 70u);
  EXPECT_EQ(Drops(1, DropReason::kTxQueueFull), 2u);
  void* object = nullptr;
  for (unsigned i = 0; i < fill; ++i) {
    ASSERT_EQ(rte_ring_dequeue(tx_rings_[1], &object), 0);
    ASSERT_EQ(object, &placeholder);
  }
  const std::vector<rte_mbuf*> taken = Received(1);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0]->pkt_len, 70u);

  // The next burst's byte count starts from zero again.
  Send(0, {MakeFrame(Mac(0xb), Mac(0xa), 90)});
  Run();
  EXPECT_EQ(out.tx_bytes.Load() - bytes_before, 70u + 90u);
}

TEST_F(ForwardingTest, RxAndTxCountersMatchExactly) {
  LearnVia(1, Mac(0xb));  // 64 bytes in on 1, flooded out of 0, 2 and 3
  Send(0, {MakeFrame(Mac(0xb), Mac(0xa), 60), MakeFrame(Mac(0xb), Mac(0xa), 100),
           MakeFrame(Mac(0xb), Mac(0xa), 1514)});
  Send(2, {MakeFrame(kBroadcast, Mac(0xa), 10)});  // a runt
  Send(3, {MakeFrame(kBroadcast, Mac(0xe), 200)});  // flooded to 0, 1, 2
  Run();

  const std::array<uint64_t, kPortCount> rx_packets = {3, 1, 1, 1};
  const std::array<uint64_t, kPortCount> rx_bytes = {60 + 100 + 1514, 64, 10, 200};
  const std::array<uint64_t, kPortCount> tx_packets = {2, 4, 2, 1};
  const std::array<uint64_t, kPortCount> tx_bytes = {64 + 200, 60 + 100 + 1514 + 200, 64 + 200,
                                                     64};
  for (uint16_t i = 0; i < kPortCount; ++i) {
    const PortCounters& c = pmd_->port_counters(i);
    EXPECT_EQ(c.rx_packets.Load(), rx_packets[i]) << "port " << i;
    EXPECT_EQ(c.rx_bytes.Load(), rx_bytes[i]) << "port " << i;
    EXPECT_EQ(c.tx_packets.Load(), tx_packets[i]) << "port " << i;
    EXPECT_EQ(c.tx_bytes.Load(), tx_bytes[i]) << "port " << i;
  }
  EXPECT_EQ(Drops(2, DropReason::kRunt), 1u);
  EXPECT_EQ(pmd_->counters().rx_packets, 6u);
  // What left each port since LearnVia drained the rings is what the rings hold.
  EXPECT_EQ(ReceivedCounts(), (Counts{1, 4, 1, 0}));
}

TEST_F(ForwardingTest, BurstsAroundTheBurstSizeAreForwardedInOrder) {
  LearnVia(1, Mac(0xb));
  uint64_t next_source = 0x100;
  constexpr std::array<uint16_t, 5> kCounts = {1, kBurst - 1, kBurst, kBurst + 1, 2 * kBurst + 1};
  for (const uint16_t count : kCounts) {
    const uint64_t first_source = next_source;
    std::vector<rte_mbuf*> frames;
    for (uint16_t i = 0; i < count; ++i) frames.push_back(MakeFrame(Mac(0xb), Mac(next_source++)));
    const auto sent = Send(0, frames);
    const uint64_t requests_before = pmd_->counters().learn_requests;

    EXPECT_EQ(pmd_->PollOnce(), std::min(count, kBurst)) << "burst of " << count;
    Run();

    const auto out = Received(1);
    ASSERT_EQ(out.size(), count);
    for (uint16_t i = 0; i < count; ++i) {
      ASSERT_EQ(Payload(out[i]), sent[i]) << "burst of " << count << ", frame " << i;
    }
    EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
    EXPECT_EQ(pmd_->counters().learn_requests - requests_before, count);
    for (uint64_t s = first_source; s < next_source; ++s) {
      const auto entry = table_->Find(FdbKey(0, Mac(s)));
      ASSERT_TRUE(entry.has_value());
      EXPECT_EQ(entry->port, 0);
    }
    ReleaseHeld();
  }
}


// A burst whose frames all share one source and destination takes one lookup
// for all of them; it must forward, learn, flood and drop exactly as frames
// looked up one by one, and a burst that differs only in its last frame must not
// be taken for one.
TEST_F(ForwardingTest, OneConversationBurstsBehaveLikeSeparateFrames) {
  LearnVia(1, Mac(0xb));
  LearnVia(3, Mac(0xd));
  auto burst = [&](MacAddress dst, MacAddress src, MacAddress last_dst) {
    std::vector<rte_mbuf*> frames;
    for (uint16_t i = 0; i + 1 < kBurst; ++i) frames.push_back(MakeFrame(dst, src));
    frames.push_back(MakeFrame(last_dst, src));
    return frames;
  };

  // Known unicast from a new source: every frame in order, one learn request.
  const uint64_t requests_before = pmd_->counters().learn_requests;
  const uint64_t tx_before = pmd_->port_counters(1).tx_packets.Load();
  auto sent = Send(0, burst(Mac(0xb), Mac(0xa), Mac(0xb)));
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  EXPECT_EQ(pmd_->counters().learn_requests - requests_before, 1u);
  Run();
  auto out = Received(1);
  ASSERT_EQ(out.size(), kBurst);
  for (uint16_t i = 0; i < kBurst; ++i) ASSERT_EQ(Payload(out[i]), sent[i]) << "frame " << i;
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  ASSERT_TRUE(table_->Find(FdbKey(0, Mac(0xa))).has_value());
  EXPECT_EQ(table_->Find(FdbKey(0, Mac(0xa)))->port, 0);
  EXPECT_EQ(pmd_->port_counters(1).tx_packets.Load() - tx_before, kBurst);
  ReleaseHeld();

  // Unknown destination: every frame flooded and counted as flooded.
  const uint64_t flooded_before = pmd_->port_counters(0).flooded_packets.Load();
  Send(0, burst(Mac(0xe), Mac(0xa), Mac(0xe)));
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, kBurst, kBurst, kBurst}));
  EXPECT_EQ(pmd_->port_counters(0).flooded_packets.Load() - flooded_before, kBurst);
  ReleaseHeld();

  // Destination on the ingress port: every frame dropped as hairpin.
  Send(1, burst(Mac(0xb), Mac(0xc), Mac(0xb)));
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(1, DropReason::kHairpin), kBurst);

  // The same burst but for its last frame: two outputs.
  sent = Send(0, burst(Mac(0xb), Mac(0xa), Mac(0xd)));
  Run();
  out = Received(1);
  ASSERT_EQ(out.size(), kBurst - 1);
  for (uint16_t i = 0; i + 1 < kBurst; ++i) ASSERT_EQ(Payload(out[i]), sent[i]) << "frame " << i;
  const auto last = Received(3);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(Payload(last[0]), sent[kBurst - 1]);
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
}


// A burst of one conversation with one bad frame in it, wherever it sits, is
// not taken for one: the bad frame is dropped and counted by its cause, every
// other frame forwarded in order. Frames of one pair that differ only in their
// EtherType, or carry a complete VLAN tag, all go through.
TEST_F(ForwardingTest, OneConversationBurstsDropOnlyTheirBadFrames) {
  LearnVia(1, Mac(0xb));
  LearnVia(0, Mac(0xa));
  struct Case {
    const char* name;
    MacAddress source;
    uint16_t size;
    uint16_t ether_type;
    DropReason reason;
  };
  const std::vector<Case> cases = {
      {"runt", Mac(0xa), 13, kEtherTypeIpv4, DropReason::kRunt},
      {"truncated tag", Mac(0xa), 17, kEtherTypeVlan, DropReason::kTruncatedVlan},
      {"multicast source", kMulticast, 64, kEtherTypeIpv4, DropReason::kInvalidSource},
  };
  for (const Case& c : cases) {
    for (uint16_t bad : {uint16_t{0}, uint16_t{kBurst / 2}, uint16_t{kBurst - 1}}) {
      std::vector<rte_mbuf*> frames;
      for (uint16_t i = 0; i < kBurst; ++i) {
        frames.push_back(i == bad ? MakeFrame(Mac(0xb), c.source, c.size, c.ether_type)
                                  : MakeFrame(Mac(0xb), Mac(0xa)));
      }
      const uint64_t drops_before = Drops(0, c.reason);
      const uint64_t rx_before = pmd_->port_counters(0).rx_packets.Load();
      const auto sent = Send(0, frames);
      Run();
      const auto out = Received(1);
      ASSERT_EQ(out.size(), kBurst - 1) << c.name << " at " << bad;
      for (uint16_t i = 0, o = 0; i < kBurst; ++i) {
        if (i == bad) continue;
        ASSERT_EQ(Payload(out[o++]), sent[i]) << c.name << " at " << bad << ", frame " << i;
      }
      EXPECT_EQ(Drops(0, c.reason) - drops_before, 1u) << c.name << " at " << bad;
      EXPECT_EQ(pmd_->port_counters(0).rx_packets.Load() - rx_before, kBurst);
      EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0})) << c.name << " at " << bad;
    }
  }
  EXPECT_EQ(TotalDrops(0), cases.size() * 3);

  // A whole burst from a multicast source: every frame dropped, none learned.
  std::vector<rte_mbuf*> from_multicast;
  for (uint16_t i = 0; i < kBurst; ++i) from_multicast.push_back(MakeFrame(Mac(0xb), kMulticast));
  const uint64_t invalid_before = Drops(0, DropReason::kInvalidSource);
  Send(0, from_multicast);
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(0, DropReason::kInvalidSource) - invalid_before, kBurst);
  EXPECT_FALSE(table_->Find(FdbKey(0, kMulticast)).has_value());

  std::vector<rte_mbuf*> mixed_types;
  std::vector<rte_mbuf*> tagged;
  for (uint16_t i = 0; i < kBurst; ++i) {
    mixed_types.push_back(
        MakeFrame(Mac(0xb), Mac(0xa), 64, i % 2 == 0 ? kEtherTypeIpv4 : uint16_t{0x0806}));
    tagged.push_back(MakeFrame(Mac(0xb), Mac(0xa), 18, kEtherTypeVlan));
  }
  // The last frame from a new source: forwarded with the rest, and learned.
  std::vector<rte_mbuf*> new_last_source;
  for (uint16_t i = 0; i < kBurst; ++i) {
    new_last_source.push_back(MakeFrame(Mac(0xb), i + 1 < kBurst ? Mac(0xa) : Mac(0xc)));
  }
  for (const auto& frames : {mixed_types, tagged, new_last_source}) {
    const auto sent = Send(0, frames);
    Run();
    const auto out = Received(1);
    ASSERT_EQ(out.size(), kBurst);
    for (uint16_t i = 0; i < kBurst; ++i) ASSERT_EQ(Payload(out[i]), sent[i]) << "frame " << i;
  }
  EXPECT_EQ(TotalDrops(0), cases.size() * 3 + kBurst);
  ASSERT_TRUE(table_->Find(FdbKey(0, Mac(0xc))).has_value());
  EXPECT_EQ(table_->Find(FdbKey(0, Mac(0xc)))->port, 0);
}

// A burst of many conversations: runs of frames to one known port move to its
// buffer together, and the frames between them (to another port, flooded,
// hairpinned, to a port without link) must each still go their own way, with
// every output's frames in the order they came.
TEST_F(ForwardingTest, MixedBurstsKeepEachFramesDecisionAndOrder) {
  LearnVia(1, Mac(0xb1));
  LearnVia(1, Mac(0xb2));
  LearnVia(2, Mac(0xc1));
  LearnVia(3, Mac(0xd1));
  LearnVia(0, Mac(0xa0));
  Publish({true, true, true, false});  // port 3 has no link

  // Destinations by position: runs to port 1, single frames to port 2, a
  // flood, a hairpin, port 3 (down) and runs that end the burst.
  const std::vector<MacAddress> destinations = {
      Mac(0xb1), Mac(0xb2), Mac(0xb1), Mac(0xc1), Mac(0xb2), kBroadcast, Mac(0xb1),
      Mac(0xa0), Mac(0xb2), Mac(0xd1), Mac(0xc1), Mac(0xc1), Mac(0xe0), Mac(0xb1)};
  std::vector<rte_mbuf*> frames;
  for (size_t i = 0; i < destinations.size(); ++i) {
    frames.push_back(MakeFrame(destinations[i], Mac(0x100 + i)));
  }
  std::array<uint64_t, kPortCount> tx_before{};
  for (uint16_t port = 0; port < kPortCount; ++port) {
    tx_before[port] = pmd_->port_counters(port).tx_packets.Load();
  }
  const uint64_t flooded_before = pmd_->port_counters(0).flooded_packets.Load();
  const auto sent = Send(0, frames);
  Run();

  const auto is = [](MacAddress mac, uint64_t n) { return mac.bits() == Mac(n).bits(); };
  std::array<std::vector<std::vector<uint8_t>>, kPortCount> expected;
  for (size_t i = 0; i < destinations.size(); ++i) {
    const MacAddress d = destinations[i];
    if (is(d, 0xb1) || is(d, 0xb2)) expected[1].push_back(sent[i]);
    if (is(d, 0xc1)) expected[2].push_back(sent[i]);
    if (d.bits() == kBroadcast.bits() || is(d, 0xe0)) {
      expected[1].push_back(sent[i]);
      expected[2].push_back(sent[i]);
    }
  }
  for (uint16_t port = 0; port < kPortCount; ++port) {
    const auto out = Received(port);
    ASSERT_EQ(out.size(), expected[port].size()) << "port " << port;
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(Payload(out[i]), expected[port][i]) << "port " << port << ", frame " << i;
    }
  }
  EXPECT_EQ(Drops(0, DropReason::kHairpin), 1u);
  EXPECT_EQ(Drops(3, DropReason::kPortDown), 1u);
  EXPECT_EQ(pmd_->port_counters(0).flooded_packets.Load() - flooded_before, 2u);
  for (uint16_t port = 0; port < kPortCount; ++port) {
    EXPECT_EQ(pmd_->port_counters(port).tx_packets.Load() - tx_before[port],
              expected[port].size())
        << "port " << port;
  }
}

// A new source is asked for once however many frames of a burst carry it (they
// come until the control thread has learned it), and asked for again, if still
// unknown, once the control thread has taken the requests and a millisecond has
// passed.
TEST_F(ForwardingTest, NewSourcesAreAskedForOncePerMillisecond) {
  auto alternating = [&] {
    std::vector<rte_mbuf*> frames;
    for (uint16_t i = 0; i < kBurst; ++i) {
      frames.push_back(MakeFrame(kBroadcast, Mac(i % 2 == 0 ? 0xa : 0xc)));
    }
    return frames;
  };
  std::array<LearnRequest, 64> popped;

  Send(0, alternating());
  uint64_t before = pmd_->counters().learn_requests;
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  EXPECT_EQ(pmd_->counters().learn_requests - before, 2u);
  ASSERT_EQ(pmd_->PopLearnRequests(popped.data(), popped.size()), 2u);  // dropped, not learned
  EXPECT_EQ(ReceivedCounts(), (Counts{0, kBurst, kBurst, kBurst}));
  ReleaseHeld();

  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  Send(0, alternating());
  before = pmd_->counters().learn_requests;
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  EXPECT_EQ(pmd_->counters().learn_requests - before, 2u);
  Run();
  for (const uint64_t source : {0xa, 0xc}) {
    const auto entry = table_->Find(FdbKey(0, Mac(source)));
    ASSERT_TRUE(entry.has_value()) << source;
    EXPECT_EQ(entry->port, 0);
  }
  EXPECT_EQ(ReceivedCounts(), (Counts{0, kBurst, kBurst, kBurst}));
}

}  // namespace
}  // namespace dpbridge
