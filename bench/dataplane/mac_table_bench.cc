// SPDX-License-Identifier: Apache-2.0
// MacTable micro-benchmarks: bulk lookup (hits, misses) and learning at 1K,
// 64K and 1M entries. Each table is sized for exactly that many entries, as
// the switch sizes its FDB for its configured capacity.
#include <benchmark/benchmark.h>

#include <array>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "bench_keys.h"
#include "dpbridge/mac_table.h"

namespace dpbridge::bench {
namespace {

constexpr uint32_t kBurst = 32;
// Lookups cycle through this many pre-drawn keys: far more than a burst, so
// that a large table is read at random places, as real traffic reads it.
constexpr size_t kDrawnKeys = size_t{1} << 16;
constexpr uint32_t kNow = 100;

// A table sized for `entries`, holding keys 0..entries-1 spread over the
// ports. At 1M entries (50% of the slots) one or two keys find their probe
// window full and are rejected; a lookup of one of them is a miss.
std::unique_ptr<MacTable> NewFilledTable(uint32_t entries) {
  MacTableConfig config;
  config.max_entries = entries;
  auto table = std::make_unique<MacTable>(config);
  for (uint32_t n = 0; n < entries; ++n) (void)table->Learn(BenchKey(n), n % kMaxPorts, kNow);
  return table;
}

// Replaces key next-entries with key next, for next in [first, last): the
// table keeps its size while addresses come and go.
void Churn(MacTable& table, uint32_t entries, uint64_t first, uint64_t last) {
  for (uint64_t next = first; next < last; ++next) {
    benchmark::DoNotOptimize(table.Remove(BenchKey(next - entries)));
    benchmark::DoNotOptimize(table.Learn(BenchKey(next), next % kMaxPorts, kNow));
  }
}

// NewFilledTable(entries), built once per size and shared by the lookup
// benchmarks, which do not change it.
const MacTable& SharedFilledTable(uint32_t entries) {
  static std::map<uint32_t, std::unique_ptr<MacTable>> tables;
  auto& table = tables[entries];
  if (!table) table = NewFilledTable(entries);
  return *table;
}

// kDrawnKeys keys drawn uniformly from [first, first + range).
std::vector<FdbKey> DrawKeys(uint64_t first, uint64_t range) {
  std::mt19937_64 random(42);
  std::vector<FdbKey> keys(kDrawnKeys);
  for (FdbKey& key : keys) key = BenchKey(first + random() % range);
  return keys;
}

// Items per second for throughput, and its inverse, CPU time per item
// (printed with an SI prefix, e.g. "12.3ns"; seconds in JSON output).
void ReportPerKey(benchmark::State& state) {
  const auto keys = static_cast<int64_t>(state.iterations()) * kBurst;
  state.SetItemsProcessed(keys);
  state.counters["per_key"] = benchmark::Counter(
      static_cast<double>(keys), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void RunLookups(benchmark::State& state, const MacTable& table, const std::vector<FdbKey>& keys) {
  std::array<uint16_t, kBurst> ports;
  size_t at = 0;
  for (auto _ : state) {
    table.LookupDestinations(&keys[at], kBurst, ports.data());
    benchmark::DoNotOptimize(ports.data());
    benchmark::ClobberMemory();
    at = (at + kBurst) & (kDrawnKeys - 1);
  }
  ReportPerKey(state);
}

// Bulk lookup of a burst of known addresses.
void BM_LookupHit(benchmark::State& state) {
  const auto entries = static_cast<uint32_t>(state.range(0));
  const MacTable& table = SharedFilledTable(entries);
  RunLookups(state, table, DrawKeys(0, entries));
}

// Bulk lookup of a burst of unknown addresses (every one a flood).
void BM_LookupMiss(benchmark::State& state) {
  const auto entries = static_cast<uint32_t>(state.range(0));
  const MacTable& table = SharedFilledTable(entries);
  RunLookups(state, table, DrawKeys(entries, uint64_t{1} << 32));
}

// Bulk lookup of unknown addresses in a table that has seen as many learns
// and removals as twice its size, as a switch sees after hours of address
// turnover: deleted slots stay tombstones, which lengthen the probe of a miss.
void BM_LookupMissAfterChurn(benchmark::State& state) {
  const auto entries = static_cast<uint32_t>(state.range(0));
  const std::unique_ptr<MacTable> table = NewFilledTable(entries);
  Churn(*table, entries, entries, 3 * uint64_t{entries});
  RunLookups(state, *table, DrawKeys(uint64_t{1} << 36, uint64_t{1} << 32));
}

// Learning new addresses into a full-sized table: each key learned pushes
// out the oldest one with Remove(), so the table stays at `entries` and every
// Learn() is a real insertion. Reported per key: one Learn plus one Remove.
void BM_LearnNewWithRemove(benchmark::State& state) {
  const auto entries = static_cast<uint32_t>(state.range(0));
  const std::unique_ptr<MacTable> table = NewFilledTable(entries);
  uint64_t next = entries;
  for (auto _ : state) {
    Churn(*table, entries, next, next + kBurst);
    next += kBurst;
  }
  // A rare full probe window rejects a key (see NewFilledTable); more than
  // that would mean the loop no longer measures insertions into a full table.
  if (table->Stats().learned_entries < entries - entries / 1000) {
    state.SkipWithError("table size drifted");
  }
  ReportPerKey(state);
}

// Learning known addresses on another port (MAC moves): the path of every
// learn request for an address that is already in the table. Addresses are
// spread over the ports, so 1 in 64 lands where it is already: a refresh.
void BM_LearnMove(benchmark::State& state) {
  const auto entries = static_cast<uint32_t>(state.range(0));
  const std::unique_ptr<MacTable> table = NewFilledTable(entries);
  const std::vector<FdbKey> keys = DrawKeys(0, entries);

  size_t at = 0;
  uint16_t port = 1;
  for (auto _ : state) {
    for (uint32_t i = 0; i < kBurst; ++i) {
      benchmark::DoNotOptimize(table->Learn(keys[at + i], port, kNow));
    }
    at = (at + kBurst) & (kDrawnKeys - 1);
    if (at == 0) port = static_cast<uint16_t>(port % (kMaxPorts - 1) + 1);
  }
  ReportPerKey(state);
}

void Sizes(benchmark::internal::Benchmark* b) {
  b->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
}

BENCHMARK(BM_LookupHit)->Apply(Sizes);
BENCHMARK(BM_LookupMiss)->Apply(Sizes);
BENCHMARK(BM_LookupMissAfterChurn)->Apply(Sizes);
BENCHMARK(BM_LearnNewWithRemove)->Apply(Sizes);
BENCHMARK(BM_LearnMove)->Apply(Sizes);

}  // namespace
}  // namespace dpbridge::bench

BENCHMARK_MAIN();
