// SPDX-License-Identifier: Apache-2.0
//
// mac_flowgen: a traffic generator for the many-flow benchmark, which
// testpmd cannot produce (its forwarding modes keep one MAC pair per port).
//
// It owns two ports (normally virtio-user, connected to the switch under
// test), primes them with frames, and then, like testpmd's "macswap" in loop
// topology, sends every frame it receives back out of the port it arrived on.
// Each time it rewrites the addresses with the next of N pairs: frames leaving
// port 0 carry (dst B_j, src A_j), frames leaving port 1 carry (dst A_j,
// src B_j). So every A_j is only ever seen on the switch's first port and
// every B_j on its second: no MAC moves, 2N learned addresses, and every
// lookup of the switch lands on a different entry.
//
// Usage: mac_flowgen EAL-ARGS -- [--pairs N] [--seconds S] [--prime P] [--size BYTES]
// Prints one line per second ("second 3: 5.123 Mpps, busy 71.2%"), every
// 100 ms a line of running totals for scripts ("stats rx=R busy_cycles=B
// hz=H"), and at the end a summary ("flowgen: pairs=N median_mpps=..."). With
// --seconds 0 it runs until SIGINT or SIGTERM.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr uint16_t kBurst = 32;
std::atomic<bool> stop_requested{false};
constexpr uint64_t kMacA = 0x020000000000ull;
constexpr uint64_t kMacB = 0x020100000000ull;

struct Options {
  uint32_t pairs = 1;
  uint32_t seconds = 10;
  uint32_t prime = 512;   // frames primed per port
  uint16_t size = 64;     // frame size with FCS, as testpmd counts it
};

void WriteMac(uint8_t* at, uint64_t mac) {
  for (int i = 0; i < 6; ++i) at[i] = static_cast<uint8_t>(mac >> (40 - 8 * i));
}

// Addresses of frames leaving `port` for pair `j`.
void Address(uint8_t* header, uint16_t port, uint32_t j) {
  WriteMac(header, port == 0 ? kMacB | j : kMacA | j);
  WriteMac(header + 6, port == 0 ? kMacA | j : kMacB | j);
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "mac_flowgen: %s needs a value\n", flag.c_str());
      return false;
    }
    const long value = std::strtol(argv[++i], nullptr, 10);
    if (value < 0 || (value == 0 && flag != "--seconds")) {
      std::fprintf(stderr, "mac_flowgen: %s must be a positive number\n", flag.c_str());
      return false;
    }
    if (flag == "--pairs") {
      options->pairs = static_cast<uint32_t>(std::min(value, 1L << 24));
    } else if (flag == "--seconds") {
      options->seconds = static_cast<uint32_t>(value);
    } else if (flag == "--prime") {
      options->prime = static_cast<uint32_t>(value);
    } else if (flag == "--size") {
      options->size = static_cast<uint16_t>(std::clamp(value, 64L, 1518L));
    } else {
      std::fprintf(stderr, "mac_flowgen: unknown option %s\n", flag.c_str());
      return false;
    }
  }
  return true;
}

bool StartPort(uint16_t port, rte_mempool* pool) {
  rte_eth_conf config{};
  if (rte_eth_dev_configure(port, 1, 1, &config) != 0) return false;
  uint16_t rxd = 1024, txd = 1024;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  if (rte_eth_rx_queue_setup(port, 0, rxd, rte_eth_dev_socket_id(port), nullptr, pool) != 0) {
    return false;
  }
  if (rte_eth_tx_queue_setup(port, 0, txd, rte_eth_dev_socket_id(port), nullptr) != 0) {
    return false;
  }
  return rte_eth_dev_start(port) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int eal_args = rte_eal_init(argc, argv);
  if (eal_args < 0) {
    std::fprintf(stderr, "mac_flowgen: EAL initialisation failed\n");
    return 1;
  }
  std::signal(SIGINT, [](int) { stop_requested = true; });
  std::signal(SIGTERM, [](int) { stop_requested = true; });
  Options options;
  if (!ParseOptions(argc - eal_args, argv + eal_args, &options)) return 2;
  if (rte_eth_dev_count_avail() != 2) {
    std::fprintf(stderr, "mac_flowgen: needs exactly two ports (--vdev), found %u\n",
                 rte_eth_dev_count_avail());
    return 2;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("flowgen", 16383, 256, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  if (pool == nullptr || !StartPort(0, pool) || !StartPort(1, pool)) {
    std::fprintf(stderr, "mac_flowgen: cannot set up the ports\n");
    return 1;
  }

  // Wait for both links (the switch end of a virtio-user port) for 10 s.
  for (int i = 0; i < 100; ++i) {
    rte_eth_link l0{}, l1{};
    rte_eth_link_get_nowait(0, &l0);
    rte_eth_link_get_nowait(1, &l1);
    if (l0.link_status && l1.link_status) break;
    rte_delay_ms(100);
  }
  // The switch notices a new peer a moment after the peer sees its link.
  rte_delay_ms(1000);

  // Prime: port 1 first, so that the switch learns B addresses early.
  const uint16_t frame_length = options.size - 4;  // without FCS
  uint32_t next_pair = 0;
  for (uint16_t port : {1, 0}) {
    for (uint32_t k = 0; k < options.prime; ++k) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      if (m == nullptr) break;
      auto* header = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, frame_length));
      std::memset(header, 0, frame_length);
      header[12] = 0x08;  // IPv4 ethertype; the switch never reads further
      Address(header, port, next_pair);
      if (++next_pair == options.pairs) next_pair = 0;
      if (rte_eth_tx_burst(port, 0, &m, 1) != 1) rte_pktmbuf_free(m);
    }
  }

  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_rdtsc();
  uint64_t second_start = start, busy = 0, busy_total = 0, received_second = 0;
  uint64_t received_total = 0, last_report = start;
  std::vector<double> mpps;
  rte_mbuf* frames[kBurst];
  while (!stop_requested && (options.seconds == 0 || mpps.size() < options.seconds)) {
    const uint64_t loop_start = rte_rdtsc();
    uint32_t moved = 0;
    for (uint16_t port = 0; port < 2; ++port) {
      const uint16_t n = rte_eth_rx_burst(port, 0, frames, kBurst);
      if (n == 0) continue;
      for (uint16_t i = 0; i < n; ++i) {
        Address(rte_pktmbuf_mtod(frames[i], uint8_t*), port, next_pair);
        if (++next_pair == options.pairs) next_pair = 0;
      }
      const uint16_t sent = rte_eth_tx_burst(port, 0, frames, n);
      if (sent < n) rte_pktmbuf_free_bulk(frames + sent, n - sent);
      moved += n;
    }
    const uint64_t now = rte_rdtsc();
    if (moved > 0) busy += now - loop_start;
    received_second += moved;
    received_total += moved;
    if (now - last_report >= hz / 10) {
      std::printf("stats rx=%lu busy_cycles=%lu hz=%lu\n",
                  static_cast<unsigned long>(received_total),
                  static_cast<unsigned long>(busy_total + busy), static_cast<unsigned long>(hz));
      std::fflush(stdout);
      last_report = now;
    }
    if (now - second_start >= hz) {
      const double seconds = static_cast<double>(now - second_start) / hz;
      mpps.push_back(received_second / seconds / 1e6);
      std::printf("second %zu: %.3f Mpps, busy %.1f%%\n", mpps.size(), mpps.back(),
                  100.0 * busy / (now - second_start));
      std::fflush(stdout);
      busy_total += busy;
      busy = 0;
      received_second = 0;
      second_start = now;
    }
  }

  std::vector<double> sorted = mpps;
  if (sorted.empty()) sorted.push_back(0);
  std::sort(sorted.begin(), sorted.end());
  std::printf("flowgen: pairs=%u size=%u median_mpps=%.3f min_mpps=%.3f max_mpps=%.3f "
              "busy_pct=%.1f\n",
              options.pairs, options.size, sorted[sorted.size() / 2], sorted.front(),
              sorted.back(), 100.0 * busy_total / (rte_rdtsc() - start));
  for (uint16_t port = 0; port < 2; ++port) {
    (void)rte_eth_dev_stop(port);
    (void)rte_eth_dev_close(port);
  }
  rte_eal_cleanup();
  return 0;
}
