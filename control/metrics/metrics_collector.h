// SPDX-License-Identifier: Apache-2.0
//
// MetricsCollector: turns one MetricsView into the Prometheus metric families
// that /metrics serves, and counts control requests by command and result.
//
// Design: the collector pulls. On each scrape it calls its source once; the
// source (Switch::Metrics()) hands back a copy that the control thread made
// from relaxed loads of counters each PMD thread writes alone. Every family
// of one scrape is built from that single copy, so a scrape is consistent
// with itself, and the dataplane does no work at all for metrics: no extra
// stores, no shared cache lines written on its behalf, no locks it can meet.
// The metric names, types, labels and help texts are documented, one by one,
// in docs/metrics.md; keep the two in step.
//
// Thread-safety: Collect() and CountRequest() may be called from any thread,
// concurrently (the HTTP server runs scrapes on its own threads). The source
// must be callable from any thread.
//
// Limitations: the text format carries every value as a double, so a counter
// is exact up to 2^53 (about 104 days of 1 Gpps); beyond that it is rounded,
// which rate() tolerates. Control request labels come from a fixed list of
// command names (kControlCommandNames); any other name is counted as
// "unknown" so that a client cannot grow the label set.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "switch.h"

namespace dpbridge {

// The control socket's commands, as the `command` label of
// dpbridge_control_requests_total: the protocol's "port.add" is "port_add".
// The last one catches everything else.
inline constexpr std::array<std::string_view, 17> kControlCommandNames = {
    "attach",     "detach",     "fdb_add",   "fdb_del",        "fdb_flush",
    "fdb_show",   "netns_add",  "netns_del", "netns_list",     "pmd_stats",
    "port_add",   "port_del",   "port_list", "set_aging_time", "set_mac_limit",
    "show",       "unknown",
};

class MetricsCollector final : public prometheus::Collectable {
 public:
  using Source = std::function<MetricsView()>;

  // `source` is called once per Collect(). Uptime counts from construction.
  explicit MetricsCollector(Source source);

  // Builds every family from one call of the source. Never throws on odd
  // input: a PMD with no packets reports NaN cycles per packet.
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

  // Counts one control request. `command` is matched with '.' and '-' read
  // as '_'; a name outside kControlCommandNames is counted as "unknown".
  // Lock-free; any thread.
  void CountRequest(std::string_view command, bool ok) noexcept;

  // The index of `command` in kControlCommandNames ("unknown" if absent).
  [[nodiscard]] static size_t CommandIndex(std::string_view command) noexcept;

 private:
  static constexpr size_t kCommandCount = kControlCommandNames.size();

  Source source_;
  std::chrono::steady_clock::time_point start_;
  // [command][0]: ok, [command][1]: error.
  std::array<std::array<std::atomic<uint64_t>, 2>, kCommandCount> requests_{};
};

}  // namespace dpbridge
