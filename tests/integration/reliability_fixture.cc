// SPDX-License-Identifier: Apache-2.0
// The reliability tests' shared helpers (see reliability_fixture.h).
#include "reliability_fixture.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <rte_malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <vector>

namespace dpbridge::testing {

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

rte_mbuf* MakeFrame(rte_mempool* pool, MacAddress dst, MacAddress src, uint32_t size,
                    uint16_t ether_type) {
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

rte_mbuf* MakeFramePatiently(rte_mempool* pool, MacAddress dst, MacAddress src) {
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  rte_mbuf* frame;
  while ((frame = MakeFrame(pool, dst, src)) == nullptr && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return frame;
}

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

unsigned EnqueueAll(rte_ring* ring, rte_mbuf** frames, unsigned count,
                    std::chrono::milliseconds patience) {
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

void Unpin() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (long cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN) && cpu < CPU_SETSIZE; ++cpu) {
    CPU_SET(cpu, &all);
  }
  (void)pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
}

long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

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

std::string DescribeFramesInUse(rte_mempool* pool) {
  std::vector<void*> free_objects;
  void* object = nullptr;
  while (rte_mempool_get(pool, &object) == 0) free_objects.push_back(object);
  std::sort(free_objects.begin(), free_objects.end());
  struct Walk {
    const std::vector<void*>* free_objects;
    std::map<std::string, unsigned> groups;
  } walk{&free_objects, {}};
  rte_mempool_obj_iter(
      pool,
      [](rte_mempool*, void* opaque, void* obj, unsigned) {
        auto* w = static_cast<Walk*>(opaque);
        if (std::binary_search(w->free_objects->begin(), w->free_objects->end(), obj)) return;
        const auto* frame = static_cast<const rte_mbuf*>(obj);
        const auto* data = rte_pktmbuf_mtod(frame, const uint8_t*);
        const std::string key =
            MacAddress::FromBytes(data + 6).ToString() + " -> " +
            MacAddress::FromBytes(data).ToString() + ", " + std::to_string(frame->pkt_len) +
            " B, refcnt " + std::to_string(rte_mbuf_refcnt_read(frame));
        ++w->groups[key];
      },
      &walk);
  if (!free_objects.empty()) {
    rte_mempool_put_bulk(pool, free_objects.data(), static_cast<unsigned>(free_objects.size()));
  }
  std::string text;
  for (const auto& [key, count] : walk.groups) {
    text += "\n  " + std::to_string(count) + " x " + key;
  }
  return text;
}

bool TickUntil(Switch& sw, const std::function<bool()>& done,
               std::chrono::milliseconds timeout) {
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
//
// RTS has a price that the pool's size must pay. A consumer (an allocation) that is
// preempted holds the ring's consumer tail back, while later consumers return at once: up
// to the ring's head-tail distance (htd_max) of slots stay hidden although their objects
// are out. When those objects come back, a put can find the ring "full", and rte_mempool
// drops that put without a word (22.11 ignores the driver's result): the frame is lost
// for good. It cost 14-16 frames in a minute of the soak. So the ring gets room for the
// pool plus the hidden slots: `count` must stay well under the ring's size (a power of
// two; e.g. 3/4 of it), and htd_max is cut to fit the room left.
rte_mempool* MakePool(const char* name, unsigned count, uint16_t data_room) {
  rte_mempool* pool = rte_pktmbuf_pool_create_by_ops(name, count, 0, 0, data_room,
                                                     SOCKET_ID_ANY, "ring_mt_rts");
  if (pool == nullptr) return nullptr;
  auto* ring = static_cast<rte_ring*>(pool->pool_data);
  const unsigned room = rte_ring_get_capacity(ring) - count;
  // Allocations take one object at a time, so htd_max + 1 slots may hide.
  const unsigned htd_max = std::min(rte_ring_get_cons_htd_max(ring), room / 2);
  if (htd_max < 8 || rte_ring_set_cons_htd_max(ring, htd_max) != 0) {
    ADD_FAILURE() << name << ": " << count << " frames leave the ring no room for RTS";
    rte_mempool_free(pool);
    return nullptr;
  }
  return pool;
}

}  // namespace dpbridge::testing
