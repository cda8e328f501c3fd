// SPDX-License-Identifier: Apache-2.0
//
// ForwardingTest: the fixture of the forwarding tests. Forwarding through real
// DPDK ports (net_ring, no kernel), a Pmd polled by the test thread, with the
// test playing the FDB owner that applies learn requests. Included by one test
// program each (forwarding_test, tap_forwarding_test): each brings up its own
// EAL, so the anonymous namespace is not shared between programs.
#pragma once

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

}  // namespace
}  // namespace dpbridge
