// SPDX-License-Identifier: Apache-2.0
// Reliability (issue 7) in one process: bad frames through a real port, a flood of a million
// source MACs, and a soak of traffic with port and FDB churn. A Switch runs its PMD thread on
// lcore 1 and the test plays the peers through ring ports (dpb_NAME_rx / dpb_NAME_tx).
//
// Environment: DPBRIDGE_SOAK_SECONDS sets the soak's length (default 60; 600 for the full
// soak of docs/reliability.md, with a matching meson --timeout-multiplier).
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../common/ring_ports.h"
#include "log.h"
#include "switch.h"

namespace dpbridge {
namespace {

using Clock = std::chrono::steady_clock;
using testing::Drain;
using testing::Ring;
using testing::RingPort;

constexpr MacAddress kMacA(0x02'00'00'00'00'0aull);
constexpr MacAddress kMacB(0x02'00'00'00'00'0bull);
constexpr MacAddress kMacC(0x02'00'00'00'00'0cull);
constexpr MacAddress kBroadcast(0xff'ff'ff'ff'ff'ffull);
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;

// ---- Frames and rings --------------------------------------------------------------------

// Writes an Ethernet header and a patterned payload into `data`.
void FillFrame(uint8_t* data, uint32_t size, MacAddress dst, MacAddress src,
               uint16_t ether_type) {
  uint8_t header[14];
  const auto d = dst.Bytes();
  const auto s = src.Bytes();
  std::memcpy(header, d.data(), 6);
  std::memcpy(header + 6, s.data(), 6);
  header[12] = static_cast<uint8_t>(ether_type >> 8);
  header[13] = static_cast<uint8_t>(ether_type);
  for (uint32_t i = 0; i < size; ++i) data[i] = i < 14 ? header[i] : static_cast<uint8_t>(i);
}

// One frame of `size` bytes in one mbuf (the pool's buffers must be large enough).
rte_mbuf* MakeFrame(rte_mempool* pool, MacAddress dst, MacAddress src, uint32_t size = 60,
                    uint16_t ether_type = kEtherTypeIpv4) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(size)));
  if (data == nullptr && size > 0) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  FillFrame(data, size, dst, src, ether_type);
  return m;
}

// As MakeFrame, waiting up to a second for a free mbuf: the pools are shared with helper
// threads, and a put by a preempted thread becomes visible only when it resumes.
rte_mbuf* MakeFramePatiently(rte_mempool* pool, MacAddress dst, MacAddress src) {
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  rte_mbuf* frame;
  while ((frame = MakeFrame(pool, dst, src)) == nullptr && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return frame;
}

// One frame of `size` bytes spread over a chain of default-size mbufs.
rte_mbuf* MakeChainedFrame(rte_mempool* pool, MacAddress dst, MacAddress src, uint32_t size) {
  std::vector<uint8_t> bytes(size);
  FillFrame(bytes.data(), size, dst, src, kEtherTypeIpv4);
  rte_mbuf* head = nullptr;
  for (uint32_t at = 0; at < size;) {
    rte_mbuf* segment = rte_pktmbuf_alloc(pool);
    if (segment == nullptr) {
      rte_pktmbuf_free(head);
      return nullptr;
    }
    const uint32_t n = std::min<uint32_t>(size - at, rte_pktmbuf_tailroom(segment));
    std::memcpy(rte_pktmbuf_append(segment, static_cast<uint16_t>(n)), bytes.data() + at, n);
    at += n;
    if (head == nullptr) {
      head = segment;
    } else if (rte_pktmbuf_chain(head, segment) != 0) {
      rte_pktmbuf_free(segment);
      rte_pktmbuf_free(head);
      return nullptr;
    }
  }
  return head;
}

MacAddress SourceOf(const rte_mbuf* frame) {
  return MacAddress::FromBytes(rte_pktmbuf_mtod(frame, const uint8_t*) + 6);
}

// Enqueues all of `frames`, waiting while the ring is full; gives up (freeing the rest)
// after `patience`. Returns how many were enqueued.
unsigned EnqueueAll(rte_ring* ring, rte_mbuf** frames, unsigned count,
                    std::chrono::milliseconds patience = std::chrono::milliseconds(2000)) {
  unsigned done = 0;
  const auto deadline = Clock::now() + patience;
  while (done < count && Clock::now() < deadline) {
    done += rte_ring_enqueue_burst(ring, reinterpret_cast<void**>(frames + done), count - done,
                                   nullptr);
    if (done < count) std::this_thread::yield();
  }
  for (unsigned i = done; i < count; ++i) rte_pktmbuf_free(frames[i]);
  return done;
}

// Frees everything in `ring`, passing each frame to `inspect` first. Returns the count.
// Lets the calling helper thread run on any CPU. Threads inherit the EAL main lcore's
// pinning to one CPU, where a peer thread would compete with the control thread that it
// is supposed to stand apart from.
void Unpin() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (long cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN) && cpu < CPU_SETSIZE; ++cpu) {
    CPU_SET(cpu, &all);
  }
  (void)pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
}

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

// ---- Process and switch state ------------------------------------------------------------

// How much resident memory may grow once warm. AddressSanitizer keeps freed memory in its
// quarantine (256 MB by default), so under it RSS says nothing about leaks and is only shown.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kRssIsMeaningful = false;
#else
constexpr bool kRssIsMeaningful = true;
#endif
#else
constexpr bool kRssIsMeaningful = true;
#endif
constexpr long kRssGrowthLimitKib = 4096;

// Resident set size of this process, in KiB (VmRSS in /proc/self/status).
long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// Bytes allocated from DPDK's heap (rings, ethdev state), which RSS does not show.
size_t DpdkHeapBytes() {
  rte_malloc_socket_stats stats{};
  size_t total = 0;
  for (unsigned socket = 0; socket < rte_socket_count(); ++socket) {
    if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(socket), &stats) == 0) {
      total += stats.heap_allocsz_bytes;
    }
  }
  return total;
}

// Ticks the switch until `done()` holds or `timeout` passes. Returns done().
bool TickUntil(Switch& sw, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    sw.Tick();
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

PortCountersSnapshot Counters(const Switch& sw, const std::string& port) {
  return sw.FindPort(port).value().counters;
}

uint64_t Drops(const PortCountersSnapshot& c, DropReason reason) {
  return c.drops[static_cast<size_t>(reason)];
}

// Makes `mac` known on `port` with one broadcast frame, then drains every listed TX ring.
void Teach(Switch& sw, rte_mempool* pool, const std::string& port, MacAddress mac) {
  rte_mbuf* frame = MakeFramePatiently(pool, kBroadcast, mac);
  ASSERT_NE(frame, nullptr);
  ASSERT_EQ(rte_ring_enqueue(Ring(port, "rx"), frame), 0);
  ASSERT_TRUE(TickUntil(sw, [&] { return sw.fdb().Find(FdbKey(0, mac)).has_value(); }))
      << mac.ToString() << " was not learned on " << port;
}

std::unique_ptr<Switch> StartSwitch(uint32_t fdb_entries) {
  SwitchOptions options;
  options.fdb.max_entries = fdb_entries;
  options.pmd_lcores = {1};
  options.mbuf_count = 2047;
  auto created = Switch::Create(options);
  EXPECT_TRUE(created.ok()) << created.message();
  return created.ok() ? std::move(created.value()) : nullptr;
}

// Frames come from the test's pools, freed by the test's threads and the Switch's control
// thread, which EAL pins to the same CPU. With the default multi-producer ring, a thread
// preempted inside a put makes the other spin for a whole time slice, and two threads
// freeing in turn convoy for seconds; the RTS ring mode (made for overcommitted CPUs)
// lets a producer finish without waiting for a preempted one.
rte_mempool* MakePool(const char* name, unsigned count, uint16_t data_room) {
  return rte_pktmbuf_pool_create_by_ops(name, count, 0, 0, data_room, SOCKET_ID_ANY,
                                        "ring_mt_rts");
}

// ---- Bad frames --------------------------------------------------------------------------

enum class Kind { kValid, kRunt, kOversize, kInvalidSource, kTruncatedVlan };

struct BadFrameCase {
  const char* what;
  Kind kind;
  std::function<rte_mbuf*()> make;
};

TEST(Reliability, BadFramesAreDroppedCountedAndNeverLearned) {
  constexpr int kRounds = 200;
  constexpr uint32_t kJumbo = 9022;  // Forwarder::kMaxFrameSize: the largest frame accepted
  rte_mempool* pool = MakePool("bad_small", 4095, RTE_MBUF_DEFAULT_BUF_SIZE);
  rte_mempool* big = MakePool("bad_big", 127, RTE_PKTMBUF_HEADROOM + 9216);
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

// ---- MAC flooding ------------------------------------------------------------------------

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

  rte_mempool* pool = MakePool("flood_frames", 16383, RTE_MBUF_DEFAULT_BUF_SIZE);
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

// ---- Soak --------------------------------------------------------------------------------

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
  rte_mempool* pool = MakePool("soak_frames", 16383, RTE_MBUF_DEFAULT_BUF_SIZE);
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
  })) << rte_mempool_in_use_count(pool) << " frames in use, " << pool_baseline << " before";

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

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::string prefix = "--file-prefix=dpb_reliability_" + std::to_string(getpid());
  std::vector<std::string> args = {"reliability_test", "--no-huge", "--no-shconf", "-l", "0,1",
                                   "-m", "512", "--no-pci", "--log-level=*:warning", prefix};
  std::vector<char*> argv_eal;
  for (auto& a : args) argv_eal.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv_eal.size()), argv_eal.data()) < 0) {
    std::fprintf(stderr, "EAL initialisation failed\n");
    return 1;
  }
  const int result = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return result;
}
