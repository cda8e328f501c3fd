// SPDX-License-Identifier: Apache-2.0
// frame_fuzzer: fuzzed bursts through the Forwarder, checked against a model of its decision.
//
// Each input becomes one burst of 1..32 frames (mbufs, possibly chained), forwarded twice
// between four net_ring ports: first from one ingress port, then, after the learn requests
// were applied to the FDB as the control thread would, from another. After every pass the
// fuzzer checks that
//   - each port's TX ring holds exactly the frames the model sends there, in order;
//   - the per-port counters (rx, tx, flooded, drops by reason) moved exactly as predicted;
//   - learn requests name only valid sources seen on the ingress port, and cover all of them;
//   - every mbuf is back in the pool once the rings are drained.
//
// Input layout: [burst size][ingress ports][link/presence mask] then, per frame, a 3-byte
// descriptor (length low, length high + segmentation mode, padding + offload flag) and its
// bytes. A frame with the offload flag stands for one read from a tap-vnet port with work
// left for the kernel; none of the four ring ports may take it.
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dpbridge/drop_reason.h"
#include "dpbridge/mac_table.h"
#include "dpbridge/pmd_counters.h"
#include "dpbridge/pmd_snapshot.h"
#include "dpbridge/tap_queue.h"
#include "forwarder.h"
#include "fuzz_eal.h"

namespace dpbridge {
namespace {

constexpr uint16_t kPortCount = 4;
// An FDB port index that is never present: its entries stand for a port being removed.
constexpr uint16_t kAbsentPort = 7;
constexpr unsigned kRingSize = 1024;
constexpr unsigned kPoolSize = 4095;
constexpr uint16_t kChunkSize = 256;
constexpr uint16_t kPadUnit = 64;
constexpr uint16_t kEthernetHeaderSize = 14;
constexpr uint16_t kVlanTagSize = 4;

struct Fixture {
  rte_mempool* pool = nullptr;
  std::array<rte_ring*, kPortCount> tx_rings{};
  std::array<uint16_t, kPortCount> dpdk_ports{};
  std::unique_ptr<MacTable> table;
  std::unique_ptr<PortCounters[]> counters;
  std::unique_ptr<Forwarder> forwarder;
  unsigned baseline_in_use = 0;
  uint64_t offload_flag = 0;  // PmdSnapshot::offload_flag
};

Fixture* fixture = nullptr;

[[noreturn]] void Fail(const char* what, long expected, long actual) {
  std::fprintf(stderr, "frame_fuzzer: invariant broken: %s (expected %ld, got %ld)\n", what,
               expected, actual);
  std::abort();
}

void Expect(long expected, long actual, const char* what) {
  if (expected != actual) Fail(what, expected, actual);
}

MacAddress Mac(uint64_t n) { return MacAddress(0x020000000000ull | n); }

void StartRingPort(unsigned i) {
  const std::string name = "fz" + std::to_string(i);
  rte_ring* rx = rte_ring_create((name + "rx").c_str(), kRingSize, SOCKET_ID_ANY, 0);
  rte_ring* tx = rte_ring_create((name + "tx").c_str(), kRingSize, SOCKET_ID_ANY, 0);
  if (rx == nullptr || tx == nullptr) Fail("ring creation", 0, rte_errno);
  const int port = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, SOCKET_ID_ANY);
  if (port < 0) Fail("rte_eth_from_rings", 0, rte_errno);
  rte_eth_conf conf{};
  const auto id = static_cast<uint16_t>(port);
  if (rte_eth_dev_configure(id, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(id, 0, 512, SOCKET_ID_ANY, nullptr, fixture->pool) != 0 ||
      rte_eth_tx_queue_setup(id, 0, 512, SOCKET_ID_ANY, nullptr) != 0 ||
      rte_eth_dev_start(id) != 0) {
    Fail("ring port start", 0, port);
  }
  // Port indices run opposite to DPDK ids, so that mixing the two shows.
  const unsigned index = kPortCount - 1 - i;
  fixture->tx_rings[index] = tx;
  fixture->dpdk_ports[index] = id;
}

// Reads the input as frames. Stops early when the input or the pool runs out.
class FrameReader {
 public:
  FrameReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  [[nodiscard]] size_t remaining() const { return size_ - at_; }
  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }

  // Builds the next frame, or nullptr when nothing is left to read.
  rte_mbuf* Next(rte_mempool* pool, uint64_t offload_flag) {
    if (remaining() < 3) return nullptr;
    const uint8_t low = Byte();
    const uint8_t high = Byte();
    const uint8_t last = Byte();
    const size_t padding = size_t{last & 0x7fu} * kPadUnit * 2;
    const bool offloaded = (last & 0x80) != 0;
    const size_t length = std::min<size_t>((high & 0x1f) << 8 | low, remaining());
    const unsigned mode = high >> 5;
    // The first segment's size decides runt and VLAN checks: probe around both.
    static constexpr std::array<size_t, 8> kFirstSegment = {0, 1, 13, 14, 17, 18, 0, 0};
    size_t first = kFirstSegment[mode] == 0 ? length : std::min(length, kFirstSegment[mode]);
    if (mode >= 6) first = std::min<size_t>(length, kChunkSize);

    rte_mbuf* head = nullptr;
    size_t taken = 0;
    size_t padded = 0;
    bool first_segment = true;
    while (first_segment || taken < length || padded < padding) {
      rte_mbuf* segment = rte_pktmbuf_alloc(pool);
      if (segment == nullptr) {
        rte_pktmbuf_free(head);
        return nullptr;
      }
      const size_t room = rte_pktmbuf_tailroom(segment);
      size_t want;
      if (first_segment) {
        want = std::min(first, room);
      } else if (taken < length) {
        want = std::min(length - taken, mode >= 6 ? size_t{kChunkSize} : room);
      } else {
        want = 0;
      }
      if (want > 0) {
        char* out = rte_pktmbuf_append(segment, static_cast<uint16_t>(want));
        std::memcpy(out, data_ + at_ + taken, want);
      }
      taken += want;
      if (taken >= length && !first_segment) {
        const size_t pad = std::min<size_t>(padding - padded, rte_pktmbuf_tailroom(segment));
        if (pad > 0) {
          std::memset(rte_pktmbuf_append(segment, static_cast<uint16_t>(pad)), 0, pad);
          padded += pad;
        }
      }
      if (head == nullptr) {
        head = segment;
      } else if (rte_pktmbuf_chain(head, segment) != 0) {
        rte_pktmbuf_free(segment);
        break;  // at the segment limit: the frame ends here
      }
      first_segment = false;
    }
    at_ += length;
    if (offloaded) head->ol_flags |= offload_flag;
    return head;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

struct Expected {
  std::array<std::vector<rte_mbuf*>, kPortCount> tx;
  std::array<uint64_t, kPortCount> tx_bytes{};
  std::array<std::array<uint64_t, kDropReasonCount>, kPortCount> drops{};
  uint64_t flooded = 0;
  uint64_t rx_bytes = 0;
  // Sources that must be asked for: valid frames whose source is not on the ingress port.
  std::vector<uint64_t> must_learn;
};

// What the forwarder should do with `frames`, from the FDB as it is before the burst.
Expected Model(const PmdSnapshot& snapshot, uint16_t in_port, rte_mbuf* const* frames,
               uint16_t count) {
  Expected e;
  for (uint16_t i = 0; i < count; ++i) {
    rte_mbuf* frame = frames[i];
    e.rx_bytes += frame->pkt_len;
    auto drop = [&](uint16_t port, DropReason reason) {
      ++e.drops[port][static_cast<size_t>(reason)];
    };
    if (frame->data_len < kEthernetHeaderSize) {
      drop(in_port, DropReason::kRunt);
      continue;
    }
    const bool offloaded = (frame->ol_flags & snapshot.offload_flag) != 0;
    if (frame->pkt_len > Forwarder::kMaxFrameSize &&
        (frame->pkt_len > TapQueue::kMaxFrame || !offloaded)) {
      drop(in_port, DropReason::kOversize);
      continue;
    }
    const auto* bytes = rte_pktmbuf_mtod(frame, const uint8_t*);
    const MacAddress source = MacAddress::FromBytes(bytes + 6);
    const MacAddress destination = MacAddress::FromBytes(bytes);
    if (source.IsMulticast() || source.IsZero()) {
      drop(in_port, DropReason::kInvalidSource);
      continue;
    }
    const bool tagged = (bytes[12] == 0x81 && bytes[13] == 0x00) ||
                        (bytes[12] == 0x88 && bytes[13] == 0xa8);
    if (tagged && frame->data_len < kEthernetHeaderSize + kVlanTagSize) {
      drop(in_port, DropReason::kTruncatedVlan);
      continue;
    }
    const auto known_source = fixture->table->Find(FdbKey(0, source));
    if (!known_source || known_source->port != in_port) e.must_learn.push_back(source.bits());

    const auto entry = fixture->table->Find(FdbKey(0, destination));
    const uint16_t out = entry ? entry->port : kNoPort;
    if (out == kNoPort || !snapshot.ports[out].present) {
      std::vector<uint16_t> targets;
      for (uint16_t p = 0; p < kPortCount; ++p) {
        if (p != in_port && snapshot.ports[p].present && snapshot.ports[p].link_up) {
          targets.push_back(p);
        }
      }
      // No ring port takes a frame with work left: it goes nowhere.
      if (offloaded && !targets.empty()) {
        drop(in_port, DropReason::kOffloadUnsupported);
        continue;
      }
      if (targets.empty()) {
        drop(in_port, DropReason::kNoOutput);
        continue;
      }
      ++e.flooded;
      for (uint16_t p : targets) {
        e.tx[p].push_back(frame);
        e.tx_bytes[p] += frame->pkt_len;
      }
    } else if (out == in_port) {
      drop(in_port, DropReason::kHairpin);
    } else if (!snapshot.ports[out].link_up) {
      drop(out, DropReason::kPortDown);
    } else if (offloaded) {
      drop(out, DropReason::kOffloadUnsupported);
    } else {
      e.tx[out].push_back(frame);
      e.tx_bytes[out] += frame->pkt_len;
    }
  }
  return e;
}

std::array<PortCountersSnapshot, kPortCount> ReadCounters() {
  std::array<PortCountersSnapshot, kPortCount> out;
  for (uint16_t p = 0; p < kPortCount; ++p) out[p].Accumulate(fixture->counters[p]);
  return out;
}

void CheckFdb() {
  uint64_t learned = 0;
  uint64_t statics = 0;
  for (const FdbEntry& entry : fixture->table->Dump()) {
    if (entry.is_static) {
      ++statics;
      continue;
    }
    ++learned;
    if (entry.key.mac().IsZero() || entry.key.mac().IsMulticast()) {
      Fail("an invalid source was learned", 0, static_cast<long>(entry.key.bits()));
    }
    if (entry.port >= kPortCount) Fail("learned on a port that sent nothing", 0, entry.port);
  }
  const MacTableStats stats = fixture->table->Stats();
  Expect(static_cast<long>(learned), static_cast<long>(stats.learned_entries),
         "learned entries in Stats() vs Dump()");
  Expect(static_cast<long>(statics), static_cast<long>(stats.static_entries),
         "static entries in Stats() vs Dump()");
}

// One pass: forward `frames` from `in_port`, check everything, apply the learn requests.
// `in_use_after` is how many mbufs must be in use once the pass is over.
void Pass(const PmdSnapshot& snapshot, uint16_t in_port, rte_mbuf** frames, uint16_t count,
          unsigned in_use_after) {
  const Expected expected = Model(snapshot, in_port, frames, count);
  const auto before = ReadCounters();

  Forwarder& forwarder = *fixture->forwarder;
  // Each pass is a moment of its own: the PMD forgets its learn requests once the
  // control thread has taken them, and the model expects every unknown source of a
  // pass asked for.
  forwarder.ForgetAsked();
  forwarder.ProcessBurst(snapshot, in_port, frames, count, 1);
  const auto requests = forwarder.learn_requests();
  forwarder.Flush(snapshot);
  const auto after = ReadCounters();

  // Outputs: exactly the predicted frames, in order, on each port.
  for (uint16_t p = 0; p < kPortCount; ++p) {
    std::array<void*, kRingSize> sent;
    const unsigned n = rte_ring_dequeue_burst(fixture->tx_rings[p], sent.data(), kRingSize,
                                              nullptr);
    Expect(static_cast<long>(expected.tx[p].size()), n, "frames sent on a port");
    for (unsigned i = 0; i < n; ++i) {
      if (sent[i] != expected.tx[p][i]) Fail("frame sent out of order or to the wrong port", p, i);
    }
    for (unsigned i = 0; i < n; ++i) rte_pktmbuf_free(static_cast<rte_mbuf*>(sent[i]));
  }

  // Counters.
  for (uint16_t p = 0; p < kPortCount; ++p) {
    const auto& b = before[p];
    const auto& a = after[p];
    Expect(p == in_port ? count : 0, static_cast<long>(a.rx_packets - b.rx_packets), "rx_packets");
    Expect(p == in_port ? static_cast<long>(expected.rx_bytes) : 0,
           static_cast<long>(a.rx_bytes - b.rx_bytes), "rx_bytes");
    Expect(static_cast<long>(expected.tx[p].size()),
           static_cast<long>(a.tx_packets - b.tx_packets), "tx_packets");
    Expect(static_cast<long>(expected.tx_bytes[p]), static_cast<long>(a.tx_bytes - b.tx_bytes),
           "tx_bytes");
    Expect(p == in_port ? static_cast<long>(expected.flooded) : 0,
           static_cast<long>(a.flooded_packets - b.flooded_packets), "flooded_packets");
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      Expect(static_cast<long>(expected.drops[p][r]), static_cast<long>(a.drops[r] - b.drops[r]),
             kDropReasonNames[r].data());
    }
  }

  // Learn requests: valid, from the ingress port, covering every source to learn.
  for (const LearnRequest& request : requests) {
    Expect(in_port, request.port, "learn request port");
    const MacAddress mac = request.key.mac();
    if (mac.IsZero() || mac.IsMulticast()) Fail("learn request for an invalid source", 0, 0);
    if (std::find(expected.must_learn.begin(), expected.must_learn.end(), mac.bits()) ==
        expected.must_learn.end()) {
      Fail("learn request for a source already known on its port", 0, 0);
    }
  }
  for (uint64_t source : expected.must_learn) {
    const bool asked = std::any_of(requests.begin(), requests.end(), [&](const LearnRequest& r) {
      return r.key.mac().bits() == source;
    });
    if (!asked) Fail("a new source was not asked to be learned", 1, 0);
  }
  for (const LearnRequest& request : requests) {
    const LearnResult result = fixture->table->Learn(request.key, request.port, 1);
    if (result == LearnResult::kInvalid) Fail("the FDB refused a learn request", 0, 0);
  }
  CheckFdb();

  Expect(in_use_after, rte_mempool_in_use_count(fixture->pool), "mbufs in use after the pass");
}

PmdSnapshot MakeSnapshot(uint8_t mask, uint16_t in_port) {
  PmdSnapshot snapshot;
  for (uint16_t p = 0; p < kPortCount; ++p) {
    PortSlot& slot = snapshot.ports[p];
    // The ingress port is always present: a PMD polls only present ports.
    slot.present = p == in_port || (mask >> (4 + p) & 1) == 0;
    slot.link_up = (mask >> p & 1) == 0;
    slot.dpdk_port = fixture->dpdk_ports[p];
    if (slot.present) snapshot.flood_ports.push_back(p);
  }
  snapshot.offload_flag = fixture->offload_flag;
  return snapshot;
}

}  // namespace
}  // namespace dpbridge

using namespace dpbridge;

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const uint64_t offload_flag = StartFuzzEal("frame_fuzzer", 128);
  fixture = new Fixture();
  fixture->offload_flag = offload_flag;
  fixture->pool = rte_pktmbuf_pool_create("fuzz_frames", kPoolSize, 0, 0,
                                          RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (fixture->pool == nullptr) Fail("mbuf pool", 0, rte_errno);
  for (unsigned i = 0; i < kPortCount; ++i) StartRingPort(i);

  MacTableConfig config;
  config.max_entries = 512;
  fixture->table = std::make_unique<MacTable>(config);
  fixture->counters.reset(new PortCounters[kMaxPorts]);
  fixture->forwarder = std::make_unique<Forwarder>(*fixture->table, fixture->counters.get());
  // Static entries: one per port, one on a port that is never present, and a multicast group.
  for (uint16_t p = 0; p < kPortCount; ++p) {
    (void)fixture->table->AddStatic(FdbKey(0, Mac(0xa0 + p)), p);
  }
  (void)fixture->table->AddStatic(FdbKey(0, Mac(0xa7)), kAbsentPort);
  (void)fixture->table->AddStatic(FdbKey(0, MacAddress(0x01005e000001ull)), 2);
  fixture->baseline_in_use = rte_mempool_in_use_count(fixture->pool);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  FrameReader reader(data, size);
  const uint16_t wanted = static_cast<uint16_t>(reader.Byte() % Forwarder::kBurstSize + 1);
  const uint8_t ingress = reader.Byte();
  const uint8_t mask = reader.Byte();
  const uint16_t first_port = ingress % kPortCount;
  const uint16_t second_port = (ingress >> 4) % kPortCount;

  // Each input starts from the static entries alone.
  (void)fixture->table->FlushAll(false);

  std::array<rte_mbuf*, Forwarder::kBurstSize> frames{};
  uint16_t count = 0;
  while (count < wanted) {
    rte_mbuf* frame = reader.Next(fixture->pool, fixture->offload_flag);
    if (frame == nullptr) break;
    frames[count++] = frame;
  }
  if (count == 0) return 0;

  // The second pass sends copies of the same frames from another port, after learning.
  std::array<rte_mbuf*, Forwarder::kBurstSize> copies{};
  uint16_t copied = 0;
  for (; copied < count; ++copied) {
    copies[copied] = rte_pktmbuf_copy(frames[copied], fixture->pool, 0, UINT32_MAX);
    if (copies[copied] == nullptr) break;
  }

  unsigned copy_segments = 0;
  for (uint16_t i = 0; i < copied; ++i) copy_segments += copies[i]->nb_segs;

  const unsigned baseline = fixture->baseline_in_use;
  Pass(MakeSnapshot(mask, first_port), first_port, frames.data(), count,
       baseline + copy_segments);
  if (copied > 0) {
    Pass(MakeSnapshot(mask, second_port), second_port, copies.data(), copied, baseline);
  }
  return 0;
}
