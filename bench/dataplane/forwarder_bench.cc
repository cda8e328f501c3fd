// SPDX-License-Identifier: Apache-2.0
// The full per-burst forwarding decision (Forwarder::ProcessBurst + Flush) in
// ns per packet, with net_null ports as outputs and EAL without hugepages.
//
// Every iteration allocates a burst of 32 mbufs, copies pre-built 64-byte
// frames into them, forwards them and lets net_null free them on transmit.
// BM_IoBaseline does the same allocation, copy and transmit with no
// decision, so the decision's own cost is BM_Forward minus BM_IoBaseline.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_keys.h"
#include "dpbridge/clock.h"
#include "dpbridge/mac_table.h"
#include "dpbridge/pmd_counters.h"
#include "dpbridge/pmd_snapshot.h"
#include "forwarder.h"

namespace dpbridge::bench {
namespace {

constexpr uint16_t kBurst = Forwarder::kBurstSize;
constexpr uint16_t kFrameSize = 64;
constexpr uint16_t kNullPorts = 3;
constexpr unsigned kPoolSize = 8191;

rte_mempool* pool = nullptr;
std::array<uint16_t, kNullPorts> null_ports{};

// 64-byte frames, `pairs` of them, frame i from address 2i to address 2i+1.
// pairs == 0 builds one broadcast frame from address 0.
std::vector<uint8_t> BuildFrames(uint32_t pairs) {
  const uint32_t count = pairs == 0 ? 1 : pairs;
  std::vector<uint8_t> frames(size_t{count} * kFrameSize);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t* frame = &frames[size_t{i} * kFrameSize];
    const MacAddress dst =
        pairs == 0 ? MacAddress(0xffffffffffffull) : BenchKey(2 * uint64_t{i} + 1).mac();
    const auto d = dst.Bytes();
    const auto s = BenchKey(2 * uint64_t{i}).mac().Bytes();
    std::memcpy(frame, d.data(), 6);
    std::memcpy(frame + 6, s.data(), 6);
    frame[12] = 0x08;  // IPv4
    for (uint16_t b = 14; b < kFrameSize; ++b) frame[b] = static_cast<uint8_t>(b);
  }
  return frames;
}

// Allocates a burst and copies frames [at, at + kBurst) (cyclically) into it.
bool FillBurst(const std::vector<uint8_t>& frames, size_t frame_count, size_t& at,
               std::array<rte_mbuf*, kBurst>& burst) {
  if (rte_pktmbuf_alloc_bulk(pool, burst.data(), kBurst) != 0) return false;
  for (uint16_t i = 0; i < kBurst; ++i) {
    rte_mbuf* m = burst[i];
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), &frames[at * kFrameSize], kFrameSize);
    m->data_len = kFrameSize;
    m->pkt_len = kFrameSize;
    at = at + 1 == frame_count ? 0 : at + 1;
  }
  return true;
}

// Items per second for throughput, and its inverse, CPU time per item
// (printed with an SI prefix, e.g. "12.3ns"; seconds in JSON output).
void ReportPerPacket(benchmark::State& state) {
  const auto packets = static_cast<int64_t>(state.iterations()) * kBurst;
  state.SetItemsProcessed(packets);
  state.counters["per_packet"] = benchmark::Counter(
      static_cast<double>(packets),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

std::unique_ptr<PmdSnapshot> NullPortSnapshot() {
  auto snapshot = std::make_unique<PmdSnapshot>();
  for (uint16_t i = 0; i < kNullPorts; ++i) {
    snapshot->ports[i] = PortSlot{true, true, null_ports[i], 0, nullptr, 1};
    snapshot->flood_ports.push_back(i);
  }
  return snapshot;
}

// Allocation, copy and transmit only: what every BM_Forward iteration pays
// besides the decision.
void BM_IoBaseline(benchmark::State& state) {
  const std::vector<uint8_t> frames = BuildFrames(1);
  std::array<rte_mbuf*, kBurst> burst;
  size_t at = 0;
  for (auto _ : state) {
    if (!FillBurst(frames, 1, at, burst)) {
      state.SkipWithError("mbuf pool empty");
      break;
    }
    const uint16_t sent = rte_eth_tx_burst(null_ports[1], 0, burst.data(), kBurst);
    if (sent < kBurst) rte_pktmbuf_free_bulk(burst.data() + sent, kBurst - sent);
  }
  ReportPerPacket(state);
}

// Frames from port 0 between `pairs` address pairs (range(0)), every address
// known (sources on port 0, destinations on port 1); range(0) == 0: broadcast
// from a known source, flooded to the two other ports with shared mbufs.
void BM_Forward(benchmark::State& state) {
  const auto pairs = static_cast<uint32_t>(state.range(0));
  MacTable table(MacTableConfig{});  // the default capacity: 1M entries
  for (uint32_t i = 0; i < std::max(pairs, 1u); ++i) {
    (void)table.Learn(BenchKey(2 * uint64_t{i}), 0, NowSeconds());
    (void)table.Learn(BenchKey(2 * uint64_t{i} + 1), 1, NowSeconds());
  }
  const std::unique_ptr<PmdSnapshot> snapshot = NullPortSnapshot();
  const auto counters = std::make_unique<PortCounters[]>(kMaxPorts);
  Forwarder forwarder(table, counters.get());
  const std::vector<uint8_t> frames = BuildFrames(pairs);
  const size_t frame_count = std::max(pairs, 1u);

  std::array<rte_mbuf*, kBurst> burst;
  size_t at = 0;
  size_t learn_requests = 0;
  for (auto _ : state) {
    if (!FillBurst(frames, frame_count, at, burst)) {
      state.SkipWithError("mbuf pool empty");
      break;
    }
    forwarder.ProcessBurst(*snapshot, 0, burst.data(), kBurst, NowSeconds());
    learn_requests += forwarder.learn_requests().size();
    forwarder.Flush(*snapshot);
  }

  // Every frame must have gone where the scenario says, or the figure is void.
  const uint64_t expected = static_cast<uint64_t>(state.iterations()) * kBurst;
  const bool flood = pairs == 0;
  if (learn_requests != 0 || counters[0].rx_packets.Load() != expected ||
      counters[1].tx_packets.Load() != expected ||
      counters[2].tx_packets.Load() != (flood ? expected : 0)) {
    state.SkipWithError("frames were not forwarded as expected");
  }
  ReportPerPacket(state);
}

BENCHMARK(BM_IoBaseline);
BENCHMARK(BM_Forward)->ArgName("pairs")->Arg(1)->Arg(1 << 10)->Arg(1 << 16)->Arg(0);

bool StartPorts() {
  pool = rte_pktmbuf_pool_create("bench_pool", kPoolSize, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                 rte_socket_id());
  if (pool == nullptr) {
    std::fprintf(stderr, "rte_pktmbuf_pool_create: %s\n", rte_strerror(rte_errno));
    return false;
  }
  for (uint16_t i = 0; i < kNullPorts; ++i) {
    const std::string name = "net_null" + std::to_string(i);
    if (rte_eth_dev_get_port_by_name(name.c_str(), &null_ports[i]) != 0) {
      std::fprintf(stderr, "%s: no such port\n", name.c_str());
      return false;
    }
    const rte_eth_conf conf{};
    const uint16_t port = null_ports[i];
    if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port, 0, 512, rte_socket_id(), nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(port, 0, 512, rte_socket_id(), nullptr) != 0 ||
        rte_eth_dev_start(port) != 0) {
      std::fprintf(stderr, "%s: set-up failed\n", name.c_str());
      return false;
    }
  }
  return true;
}

void StopPorts() {
  for (uint16_t port : null_ports) {
    (void)rte_eth_dev_stop(port);
    (void)rte_eth_dev_close(port);
  }
  rte_mempool_free(pool);
}

}  // namespace
}  // namespace dpbridge::bench

int main(int argc, char** argv) {
  // EAL gets its own fixed arguments; the command line is Google Benchmark's.
  std::vector<std::string> eal_args = {
      "forwarder_bench", "--no-huge", "--no-shconf", "--no-pci", "-l", "0", "-m", "512",
      "--log-level=*:warning",
      "--file-prefix=dpbridge-bench-" + std::to_string(getpid()),
  };
  for (uint16_t i = 0; i < dpbridge::bench::kNullPorts; ++i) {
    eal_args.push_back("--vdev=net_null" + std::to_string(i));
  }
  std::vector<char*> eal_argv;
  for (std::string& arg : eal_args) eal_argv.push_back(arg.data());
  eal_argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(eal_args.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  if (!dpbridge::bench::StartPorts()) return 1;

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  dpbridge::bench::StopPorts();
  rte_eal_cleanup();
  return 0;
}
