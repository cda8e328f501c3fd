// SPDX-License-Identifier: Apache-2.0
// offload_bench: the cost of FinishOffloads, the software checksums and TCP segmentation that a
// frame from a tap-vnet port needs on its way to a TAP or af-packet port.
//
// Every iteration builds the frame as TapQueue delivers it (a chain of 2 KB mbufs with the
// virtio-net header in the headroom) and hands it on; BM_Build does only that and frees it, so
// the cost of FinishOffloads is the difference between BM_Finish and BM_Build with the same
// arguments. Arguments: the TCP payload and the MSS (a send of payload <= MSS is finished in
// place: only its checksum is computed). Bytes per second count the send's payload.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "../../tests/dataplane/tcp_frames.h"
#include "software_offload.h"

namespace dpbridge::bench {
namespace {

rte_mempool* pool = nullptr;
uint64_t offload_flag = 0;

std::pair<VirtioNetHeader, std::vector<uint8_t>> Send(const benchmark::State& state) {
  testing::TcpSendSpec spec;
  spec.payload = static_cast<uint32_t>(state.range(0));
  spec.mss = static_cast<uint16_t>(state.range(1));
  return testing::TcpSend(spec);
}

void BM_Build(benchmark::State& state) {
  const auto [header, bytes] = Send(state);
  for (auto _ : state) {
    rte_mbuf* frame = testing::TapQueueFrame(pool, header, bytes);
    if (frame == nullptr) {
      state.SkipWithError("pool empty");
      break;
    }
    rte_pktmbuf_free(frame);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_Finish(benchmark::State& state) {
  const auto [header, bytes] = Send(state);
  std::array<rte_mbuf*, kMaxSegments> out{};
  uint16_t segments = 0;
  for (auto _ : state) {
    rte_mbuf* frame = testing::TapQueueFrame(pool, header, bytes);
    uint16_t count = 0;
    if (frame == nullptr ||
        FinishOffloads(frame, offload_flag, pool, out.data(), &count) !=
            OffloadOutcome::kFinished) {
      state.SkipWithError("not finished");
      break;
    }
    segments = count;
    rte_pktmbuf_free_bulk(out.data(), count);
  }
  state.counters["segments"] = segments;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// payload, MSS: a whole 64 KB send at MTU 1500, one at MTU 9000, and single segments.
void Arguments(benchmark::internal::Benchmark* b) {
  b->ArgNames({"payload", "mss"});
  b->Args({65000, 1448})->Args({65000, 8948})->Args({1448, 1448})->Args({18, 1448});
}

BENCHMARK(BM_Build)->Apply(Arguments);
BENCHMARK(BM_Finish)->Apply(Arguments);

}  // namespace
}  // namespace dpbridge::bench

int main(int argc, char** argv) {
  // EAL gets its own fixed arguments; the command line is Google Benchmark's.
  std::vector<std::string> eal_args = {
      "offload_bench", "--no-huge", "--no-shconf", "--no-pci", "-l", "0", "-m", "256",
      "--log-level=*:warning", "--file-prefix=dpbridge-offload-bench-" + std::to_string(getpid()),
  };
  std::vector<char*> eal_argv;
  for (std::string& arg : eal_args) eal_argv.push_back(arg.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  dpbridge::bench::offload_flag = dpbridge::TapOffloadFlag();
  dpbridge::bench::pool = rte_pktmbuf_pool_create("offload_bench", 1023, 256, 0,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (dpbridge::bench::offload_flag == 0 || dpbridge::bench::pool == nullptr) {
    std::fprintf(stderr, "offload_bench: flag or pool: %s\n", rte_strerror(rte_errno));
    return 1;
  }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
