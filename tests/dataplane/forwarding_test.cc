// SPDX-License-Identifier: Apache-2.0
// Forwarding through real DPDK ports (net_ring, no kernel) and TapQueues
// over socketpairs: a Pmd polled by the test thread, with the test playing the
// FDB owner that applies learn requests.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../common/eal_environment.h"
#include "dpbridge/clock.h"
#include "dpbridge/drop_reason.h"
#include "dpbridge/mac_table.h"
#include "dpbridge/pmd.h"
#include "dpbridge/pmd_snapshot.h"
#include "dpbridge/tap_queue.h"
#include "forwarder.h"

namespace dpbridge {
namespace {

[[maybe_unused]] const bool kEalRegistered = testing::RegisterEalEnvironment();

constexpr uint16_t kPortCount = 4;
constexpr unsigned kRingSize = 1024;
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;
constexpr uint16_t kBurst = 32;

MacAddress Mac(uint64_t n) { return MacAddress(0x020000000000ull | n); }
const MacAddress kBroadcast(0xffffffffffffull);
const MacAddress kMulticast(0x01005e0000fbull);

// One test frame as bytes: header, then a payload that differs per frame.
std::vector<uint8_t> FrameBytes(MacAddress dst, MacAddress src, uint32_t size, uint16_t ether_type,
                                uint32_t seq) {
  std::vector<uint8_t> bytes(std::max<uint32_t>(size, 14));
  const auto d = dst.Bytes();
  const auto s = src.Bytes();
  std::copy(d.begin(), d.end(), bytes.begin());
  std::copy(s.begin(), s.end(), bytes.begin() + 6);
  bytes[12] = static_cast<uint8_t>(ether_type >> 8);
  bytes[13] = static_cast<uint8_t>(ether_type);
  for (size_t i = 14; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(seq * 31 + i);
  bytes.resize(size);
  return bytes;
}

std::vector<uint8_t> Payload(const rte_mbuf* frame) {
  const auto* data = rte_pktmbuf_mtod(frame, const uint8_t*);
  return {data, data + rte_pktmbuf_data_len(frame)};
}

class ForwardingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = testing::EalEnvironment::Pool();
    ASSERT_NE(pool_, nullptr) << "EAL did not start";
    baseline_in_use_ = rte_mempool_in_use_count(pool_);

    // Create the ports in reverse so that port indices and DPDK port ids
    // differ, which catches any confusion between the two.
    static unsigned instance = 0;
    ++instance;
    for (int i = kPortCount - 1; i >= 0; --i) {
      // (std::format is not in g++ 12; operator+ chains trip a -Wrestrict false positive.)
      char name_text[32];
      std::snprintf(name_text, sizeof(name_text), "t%up%d", instance, i);
      const std::string name = name_text;
      names_[i] = name;
      rx_rings_[i] = rte_ring_create((name + "rx").c_str(), kRingSize, rte_socket_id(),
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
      tx_rings_[i] = rte_ring_create((name + "tx").c_str(), kRingSize, rte_socket_id(),
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
      ASSERT_NE(rx_rings_[i], nullptr);
      ASSERT_NE(tx_rings_[i], nullptr);
      const int port = rte_eth_from_rings(name.c_str(), &rx_rings_[i], 1, &tx_rings_[i], 1,
                                          rte_socket_id());
      ASSERT_GE(port, 0) << "rte_eth_from_rings " << name;
      dpdk_ports_[i] = static_cast<uint16_t>(port);
      created_[i] = true;

      rte_eth_conf conf{};
      ASSERT_EQ(rte_eth_dev_configure(dpdk_ports_[i], 1, 1, &conf), 0);
      ASSERT_EQ(rte_eth_rx_queue_setup(dpdk_ports_[i], 0, 512, rte_socket_id(), nullptr, pool_),
                0);
      ASSERT_EQ(rte_eth_tx_queue_setup(dpdk_ports_[i], 0, 512, rte_socket_id(), nullptr), 0);
      ASSERT_EQ(rte_eth_dev_start(dpdk_ports_[i]), 0);
    }
    ASSERT_NE(dpdk_ports_[0], 0) << "port indices should differ from DPDK ids";

    MacTableConfig config;
    config.max_entries = 4096;
    table_ = std::make_unique<MacTable>(config);
    PmdOptions options;
    options.max_sleep_us = 0;  // never sleep: the test thread polls
    pmd_ = std::make_unique<Pmd>(0, *table_, options);
    Publish({true, true, true, true});
  }

  void TearDown() override {
    // Everything the switch received or sent goes back to the pool.
    for (uint16_t i = 0; i < kPortCount; ++i) {
      if (rx_rings_[i] != nullptr) FreeAll(rx_rings_[i]);
      if (tx_rings_[i] != nullptr) FreeAll(tx_rings_[i]);
    }
    for (rte_mbuf* frame : held_) rte_pktmbuf_free(frame);
    held_.clear();
    if (pool_ != nullptr) {
      EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_) << "mbufs leaked";
    }

    pmd_.reset();
    for (uint16_t i = 0; i < kPortCount; ++i) {
      if (created_[i]) {
        EXPECT_EQ(rte_eth_dev_stop(dpdk_ports_[i]), 0);
        EXPECT_EQ(rte_vdev_uninit(("net_ring_" + names_[i]).c_str()), 0);
      }
      rte_ring_free(rx_rings_[i]);
      rte_ring_free(tx_rings_[i]);
    }
  }

  static void FreeAll(rte_ring* ring) {
    void* object = nullptr;
    while (rte_ring_dequeue(ring, &object) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(object));
  }

  // Hands the PMD a snapshot of the ring ports with these link states and
  // waits until it runs on it.
  void Publish(const std::array<bool, kPortCount>& link_up) { Publish(RingSnapshot(link_up)); }

  void Publish(std::unique_ptr<PmdSnapshot> snapshot) {
    snapshot->version = ++version_;
    ASSERT_TRUE(pmd_->Publish(std::move(snapshot)));
    EXPECT_EQ(pmd_->PollOnce(), 0u);
    ASSERT_EQ(pmd_->applied_version(), version_);
    pmd_->ReclaimSnapshots();
  }

  std::unique_ptr<PmdSnapshot> RingSnapshot(const std::array<bool, kPortCount>& link_up) const {
    auto snapshot = std::make_unique<PmdSnapshot>();
    for (uint16_t i = 0; i < kPortCount; ++i) {
      PortSlot& slot = snapshot->ports[i];
      slot.present = true;
      slot.link_up = link_up[i];
      slot.dpdk_port = dpdk_ports_[i];
      slot.tx_queue = 0;
      slot.generation = 1;
      snapshot->flood_ports.push_back(i);
      snapshot->rx_queues.push_back({i, dpdk_ports_[i], 0});
    }
    return snapshot;
  }

  rte_mbuf* MakeFrame(MacAddress dst, MacAddress src, uint16_t size = 64,
                      uint16_t ether_type = kEtherTypeIpv4) {
    const std::vector<uint8_t> bytes = FrameBytes(dst, src, size, ether_type, ++seq_);
    rte_mbuf* frame = rte_pktmbuf_alloc(pool_);
    EXPECT_NE(frame, nullptr);
    if (frame == nullptr) return nullptr;
    auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(frame, size));
    EXPECT_TRUE(data != nullptr || size == 0);
    std::copy(bytes.begin(), bytes.end(), data);
    return frame;
  }

  // Puts frames on a port's wire; returns copies of their bytes.
  std::vector<std::vector<uint8_t>> Send(uint16_t port, const std::vector<rte_mbuf*>& frames) {
    std::vector<std::vector<uint8_t>> sent;
    for (rte_mbuf* frame : frames) {
      sent.push_back(Payload(frame));
      EXPECT_EQ(rte_ring_enqueue(rx_rings_[port], frame), 0);
    }
    return sent;
  }

  // Polls until the switch is idle, then applies its learn requests.
  void Run() {
    for (int i = 0; i < 1000 && pmd_->PollOnce() > 0; ++i) {
    }
    std::array<LearnRequest, 256> requests;
    size_t count;
    while ((count = pmd_->PopLearnRequests(requests.data(), requests.size())) > 0) {
      for (size_t i = 0; i < count; ++i) {
        learn_results_.push_back(table_->Learn(requests[i].key, requests[i].port, NowSeconds()));
      }
    }
  }

  // What left a port since the last call. The fixture frees the frames.
  std::vector<rte_mbuf*> Received(uint16_t port) {
    std::vector<rte_mbuf*> frames;
    void* object = nullptr;
    while (rte_ring_dequeue(tx_rings_[port], &object) == 0) {
      frames.push_back(static_cast<rte_mbuf*>(object));
      held_.push_back(frames.back());
    }
    return frames;
  }

  std::array<size_t, kPortCount> ReceivedCounts() {
    std::array<size_t, kPortCount> counts{};
    for (uint16_t i = 0; i < kPortCount; ++i) counts[i] = Received(i).size();
    return counts;
  }

  void ReleaseHeld() {
    for (rte_mbuf* frame : held_) rte_pktmbuf_free(frame);
    held_.clear();
  }

  // Teaches the switch that `mac` is on `port` with a broadcast from it.
  void LearnVia(uint16_t port, MacAddress mac) {
    Send(port, {MakeFrame(kBroadcast, mac)});
    Run();
    ReceivedCounts();
    ReleaseHeld();
    const auto entry = table_->Find(FdbKey(0, mac));
    ASSERT_TRUE(entry.has_value()) << mac.ToString();
    ASSERT_EQ(entry->port, port);
  }

  uint64_t Drops(uint16_t port, DropReason reason) const {
    return pmd_->port_counters(port).drops[static_cast<size_t>(reason)].Load();
  }
  uint64_t TotalDrops(uint16_t port) const {
    uint64_t sum = 0;
    for (const auto& d : pmd_->port_counters(port).drops) sum += d.Load();
    return sum;
  }

  rte_mempool* pool_ = nullptr;
  unsigned baseline_in_use_ = 0;
  std::array<std::string, kPortCount> names_;
  std::array<rte_ring*, kPortCount> rx_rings_{};
  std::array<rte_ring*, kPortCount> tx_rings_{};
  std::array<uint16_t, kPortCount> dpdk_ports_{};
  std::array<bool, kPortCount> created_{};
  std::unique_ptr<MacTable> table_;
  std::unique_ptr<Pmd> pmd_;
  uint64_t version_ = 0;
  uint32_t seq_ = 0;
  std::vector<rte_mbuf*> held_;
  std::vector<LearnResult> learn_results_;
};

using Counts = std::array<size_t, kPortCount>;

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

// Frames with a checksum or segmentation left to do (read from a TAP with a
// virtio-net header) may leave only by another TAP. Two TapQueues over
// socketpairs join the four ring ports as ports 4 and 5, polled by the same
// Pmd; the test writes into port 4 what the kernel would and reads what the
// switch writes to port 5.
constexpr uint16_t kTapIn = kPortCount;
constexpr uint16_t kTapOut = kPortCount + 1;
constexpr uint16_t kTapCount = 2;

// What the kernel puts before a TCP send over IPv4 that it left whole.
constexpr VirtioNetHeader kGsoHeader{VirtioNetHeader::kNeedsChecksum, 1 /* GSO_TCPV4 */, 66, 1448,
                                     34, 16};

std::vector<uint8_t> Message(const VirtioNetHeader& header, const std::vector<uint8_t>& frame) {
  std::vector<uint8_t> message(sizeof(header) + frame.size());
  std::memcpy(message.data(), &header, sizeof(header));
  std::copy(frame.begin(), frame.end(), message.begin() + sizeof(header));
  return message;
}

class TapForwardingTest : public ForwardingTest {
 protected:
  void SetUp() override {
    ForwardingTest::SetUp();
    if (HasFatalFailure()) return;
    // The bit the control side registers (control/port_device.cc), by the same name.
    rte_mbuf_dynflag params{};
    std::strncpy(params.name, "dpbridge_vnet_offload", sizeof(params.name) - 1);
    const int bit = rte_mbuf_dynflag_register(&params);
    ASSERT_GE(bit, 0) << "rte_mbuf_dynflag_register failed";
    offload_flag_ = uint64_t{1} << bit;

    for (uint16_t i = 0; i < kTapCount; ++i) {
      int fds[2];
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0) << strerror(errno);
      ASSERT_EQ(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0) << strerror(errno);
      peers_[i] = fds[1];
      taps_[i] = std::make_unique<TapQueue>(fds[0], pool_, offload_flag_);
    }
    PublishWithTaps(true);
  }

  void TearDown() override {
    CloseTaps();
    ForwardingTest::TearDown();
  }

  // Gives back the mbufs the queues keep for their next reads. The Pmd's
  // snapshot still names the queues, so it must not be polled afterwards.
  void CloseTaps() {
    for (uint16_t i = 0; i < kTapCount; ++i) {
      taps_[i].reset();
      if (peers_[i] >= 0) close(peers_[i]);
      peers_[i] = -1;
    }
  }

  void PublishWithTaps(bool tap_out_link_up) {
    auto snapshot = RingSnapshot({true, true, true, true});
    snapshot->offload_flag = offload_flag_;
    for (uint16_t i = 0; i < kTapCount; ++i) {
      const auto port = static_cast<uint16_t>(kTapIn + i);
      PortSlot& slot = snapshot->ports[port];
      slot.present = true;
      slot.link_up = port != kTapOut || tap_out_link_up;
      slot.generation = 1;
      slot.tap = taps_[i].get();
      snapshot->flood_ports.push_back(port);
      snapshot->rx_queues.push_back({port, 0, 0, false, taps_[i].get()});
    }
    Publish(std::move(snapshot));
  }

  // Writes a frame into port kTapIn as the kernel would; returns its bytes.
  std::vector<uint8_t> SendTap(const VirtioNetHeader& header, MacAddress dst, MacAddress src,
                               uint32_t size) {
    const std::vector<uint8_t> frame = FrameBytes(dst, src, size, kEtherTypeIpv4, ++seq_);
    const std::vector<uint8_t> message = Message(header, frame);
    EXPECT_EQ(send(peers_[0], message.data(), message.size(), 0),
              static_cast<ssize_t>(message.size()))
        << strerror(errno);
    return frame;
  }
  std::vector<uint8_t> SendOffloaded(MacAddress dst, MacAddress src, uint32_t size = 1500) {
    return SendTap(kGsoHeader, dst, src, size);
  }
  std::vector<uint8_t> SendPlain(MacAddress dst, MacAddress src, uint32_t size = 1500) {
    return SendTap(VirtioNetHeader{}, dst, src, size);
  }

  // The messages (header and frame) the switch wrote to a TAP port since the last call.
  std::vector<std::vector<uint8_t>> TakeFromTap(uint16_t port) {
    std::vector<std::vector<uint8_t>> messages;
    std::vector<uint8_t> buffer(TapQueue::kMaxFrame + 2 * sizeof(VirtioNetHeader));
    ssize_t n;
    while ((n = recv(peers_[port - kTapIn], buffer.data(), buffer.size(), MSG_DONTWAIT)) >= 0) {
      messages.emplace_back(buffer.begin(), buffer.begin() + n);
    }
    EXPECT_EQ(errno, EAGAIN) << strerror(errno);
    return messages;
  }

  void Place(MacAddress mac, uint16_t port) {
    ASSERT_EQ(table_->Learn(FdbKey(0, mac), port, NowSeconds()), LearnResult::kLearned);
  }

  uint64_t offload_flag_ = 0;
  std::array<std::unique_ptr<TapQueue>, kTapCount> taps_;
  std::array<int, kTapCount> peers_ = {-1, -1};
};

TEST_F(TapForwardingTest, OffloadedFrameForAnOrdinaryPortIsDroppedThere) {
  Place(Mac(0xb), 1);
  SendOffloaded(Mac(0xb), Mac(0xa));
  Run();

  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_TRUE(TakeFromTap(kTapOut).empty());
  EXPECT_EQ(Drops(1, DropReason::kOffloadUnsupported), 1u);
  EXPECT_EQ(TotalDrops(1), 1u);
  EXPECT_EQ(TotalDrops(kTapIn), 0u);
  EXPECT_EQ(pmd_->port_counters(1).tx_packets.Load(), 0u);

  // The same frame with nothing left to do goes through.
  const auto plain = SendPlain(Mac(0xb), Mac(0xa));
  Run();
  const auto out = Received(1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Payload(out[0]), plain);

  ReleaseHeld();
  CloseTaps();
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_) << "the dropped frame leaked";
}

TEST_F(TapForwardingTest, OffloadedFrameForATapIsWrittenWithItsHeader) {
  Place(Mac(0xb), kTapOut);
  const auto sent = SendOffloaded(Mac(0xb), Mac(0xa));
  Run();

  const auto out = TakeFromTap(kTapOut);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], Message(kGsoHeader, sent));
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_TRUE(TakeFromTap(kTapIn).empty());
  EXPECT_EQ(pmd_->port_counters(kTapOut).tx_packets.Load(), 1u);
  EXPECT_EQ(pmd_->port_counters(kTapOut).tx_bytes.Load(), sent.size());
  EXPECT_EQ(TotalDrops(kTapIn) + TotalDrops(kTapOut), 0u);
}

TEST_F(TapForwardingTest, OffloadedFloodReachesOnlyTaps) {
  const auto sent = SendOffloaded(Mac(0xc), Mac(0xa));  // unknown destination
  Run();

  const auto out = TakeFromTap(kTapOut);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], Message(kGsoHeader, sent));
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(pmd_->port_counters(kTapIn).flooded_packets.Load(), 1u);
  for (uint16_t port = 0; port <= kTapOut; ++port) EXPECT_EQ(TotalDrops(port), 0u) << port;

  // A plain flood reaches every port but the one it came in by.
  const auto plain = SendPlain(kBroadcast, Mac(0xa));
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{1, 1, 1, 1}));
  const auto plain_out = TakeFromTap(kTapOut);
  ASSERT_EQ(plain_out.size(), 1u);
  EXPECT_EQ(plain_out[0], Message(VirtioNetHeader{}, plain));
  EXPECT_TRUE(TakeFromTap(kTapIn).empty());
}

TEST_F(TapForwardingTest, OffloadedFloodWithNoTapToGoToIsDroppedOnItsInputPort) {
  PublishWithTaps(false);
  SendOffloaded(kBroadcast, Mac(0xa));
  Run();

  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_TRUE(TakeFromTap(kTapOut).empty());
  EXPECT_EQ(Drops(kTapIn, DropReason::kOffloadUnsupported), 1u);
  EXPECT_EQ(TotalDrops(kTapIn), 1u);
  EXPECT_EQ(pmd_->port_counters(kTapIn).flooded_packets.Load(), 0u);
  for (uint16_t port = 0; port < kPortCount; ++port) EXPECT_EQ(TotalDrops(port), 0u) << port;
}

// Past Forwarder::kMaxFrameSize only a frame with work left (a TCP send the
// kernel left whole) passes, and only up to what one TAP read holds.
TEST_F(TapForwardingTest, OnlyOffloadedFramesMayExceedTheJumboSize) {
  Place(Mac(0xb), kTapOut);
  struct Case {
    uint32_t size;
    bool offloaded;
    bool forwarded;
  };
  constexpr uint32_t kJumbo = Forwarder::kMaxFrameSize;
  const std::vector<Case> cases = {
      {kJumbo, false, true},
      {kJumbo + 1, false, false},
      {20000, false, false},
      {20000, true, true},
      {TapQueue::kMaxFrame, true, true},
      {TapQueue::kMaxFrame + 1, true, false},
  };
  uint64_t oversize = 0;
  for (const Case& c : cases) {
    const VirtioNetHeader header = c.offloaded ? kGsoHeader : VirtioNetHeader{};
    const auto sent = SendTap(header, Mac(0xb), Mac(0xa), c.size);
    Run();
    const auto out = TakeFromTap(kTapOut);
    if (c.forwarded) {
      ASSERT_EQ(out.size(), 1u) << c.size << (c.offloaded ? " offloaded" : " plain");
      EXPECT_EQ(out[0], Message(header, sent)) << c.size;
    } else {
      EXPECT_TRUE(out.empty()) << c.size << (c.offloaded ? " offloaded" : " plain");
      ++oversize;
    }
    EXPECT_EQ(Drops(kTapIn, DropReason::kOversize), oversize) << c.size;
  }
  EXPECT_EQ(TotalDrops(kTapIn), oversize);
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
}

// A burst of one conversation takes one lookup for all its frames (the fast
// path); the offload rule must still hold for every frame of it.
TEST_F(TapForwardingTest, OneConversationBurstOfOffloadedFramesIsNotSentToAnOrdinaryPort) {
  Place(Mac(0xb), 1);
  for (uint16_t i = 0; i < kBurst; ++i) SendOffloaded(Mac(0xb), Mac(0xa), 200);
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  Run();
  EXPECT_EQ(ReceivedCounts(), (Counts{0, 0, 0, 0}));
  EXPECT_EQ(Drops(1, DropReason::kOffloadUnsupported), kBurst);
  EXPECT_EQ(pmd_->port_counters(1).tx_packets.Load(), 0u);

  // Plain and offloaded frames mixed: the plain ones go, in order.
  std::vector<std::vector<uint8_t>> plain;
  for (uint16_t i = 0; i < kBurst; ++i) {
    if (i % 2 == 0) {
      SendOffloaded(Mac(0xb), Mac(0xa), 200);
    } else {
      plain.push_back(SendPlain(Mac(0xb), Mac(0xa), 200));
    }
  }
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  Run();
  const auto out = Received(1);
  ASSERT_EQ(out.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(Payload(out[i]), plain[i]) << i;
  EXPECT_EQ(Drops(1, DropReason::kOffloadUnsupported), kBurst + kBurst / 2u);

  // Toward a TAP the whole burst goes, each frame with its header.
  Place(Mac(0xd), kTapOut);
  std::vector<std::vector<uint8_t>> sent;
  for (uint16_t i = 0; i < kBurst; ++i) sent.push_back(SendOffloaded(Mac(0xd), Mac(0xa), 200));
  EXPECT_EQ(pmd_->PollOnce(), kBurst);
  Run();
  const auto written = TakeFromTap(kTapOut);
  ASSERT_EQ(written.size(), kBurst);
  for (uint16_t i = 0; i < kBurst; ++i) EXPECT_EQ(written[i], Message(kGsoHeader, sent[i])) << i;

  ReleaseHeld();
  CloseTaps();
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_in_use_) << "dropped frames leaked";
}

}  // namespace
}  // namespace dpbridge
