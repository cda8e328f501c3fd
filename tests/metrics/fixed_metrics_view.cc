// SPDX-License-Identifier: Apache-2.0
// FixedMetricsView: the known numbers the exporter tests expect.
#include "fixed_metrics_view.h"

#include "dpbridge/drop_reason.h"

namespace dpbridge {

MetricsView FixedMetricsView() {
  MetricsView view;

  PortInfo tap;
  tap.spec.name = "tap0";
  tap.spec.type = PortType::kTap;
  tap.index = 0;
  tap.link_up = true;
  tap.learned_macs = 3;
  tap.mac_limit = 0;
  tap.counters.rx_packets = 1001;
  tap.counters.rx_bytes = 64064;
  tap.counters.tx_packets = 2002;
  tap.counters.tx_bytes = 3003000;
  tap.counters.flooded_packets = 17;
  tap.counters.segmented_sends = 19;
  // drops[r] = 10 + r, so that each reason has its own value.
  for (size_t r = 0; r < kDropReasonCount; ++r) tap.counters.drops[r] = 10 + r;
  view.ports.push_back(tap);

  PortInfo vhost;
  vhost.spec.name = "vhost1";
  vhost.spec.type = PortType::kVhostUser;
  vhost.index = 1;
  vhost.link_up = false;
  vhost.learned_macs = 0;
  vhost.mac_limit = 256;
  vhost.driver = {.rx_missed = 17, .rx_nombuf = 2, .rx_errors = 0, .tx_errors = 5};
  vhost.counters.rx_packets = 5;
  vhost.counters.rx_bytes = 320;
  vhost.counters.tx_packets = 0;
  vhost.counters.tx_bytes = 0;
  vhost.counters.drops[static_cast<size_t>(DropReason::kPortDown)] = 42;
  view.ports.push_back(vhost);

  PmdStatsRow pmd0;
  pmd0.pmd_id = 0;
  pmd0.lcore = 1;
  pmd0.counters.busy_cycles = 450000;
  pmd0.counters.idle_cycles = 9000000;
  pmd0.counters.iterations = 12345;
  pmd0.counters.rx_packets = 1006;
  pmd0.counters.sleeps = 77;
  pmd0.counters.interrupt_waits = 70;
  pmd0.counters.learn_requests = 4;
  pmd0.counters.learn_queue_full = 1;
  pmd0.rx_queues = {"tap0/0", "vhost1/0"};
  view.pmds.push_back(pmd0);

  PmdStatsRow pmd1;
  pmd1.pmd_id = 1;
  pmd1.lcore = -1;
  pmd1.counters.idle_cycles = 500;
  pmd1.counters.iterations = 9;
  view.pmds.push_back(pmd1);

  view.fdb.learned_entries = 3;
  view.fdb.static_entries = 2;
  view.fdb.capacity = 1048576;
  view.fdb.learned_total = 8;
  view.fdb.moved_total = 6;
  view.fdb.aged_total = 5;
  view.fdb.flushed_total = 7;
  view.fdb.rejected_full_total = 11;
  view.fdb.rejected_limit_total = 13;

  view.mbufs_in_use = 1536;
  view.mbufs_total = 32767;
  return view;
}

}  // namespace dpbridge
