// SPDX-License-Identifier: Apache-2.0
// MetricsCollector: the families of /metrics, built from one MetricsView.
#include "metrics_collector.h"

#include <rte_version.h>

#include <limits>
#include <string>
#include <utility>

#include "build_version.h"
#include "dpbridge/drop_reason.h"
#include "port_spec.h"

namespace dpbridge {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// One metric that every port (or every PMD) has, read from its row.
template <typename Row>
struct RowMetric {
  const char* name;
  const char* help;
  MetricType type;
  double (*value)(const Row&);
};

constexpr RowMetric<PortInfo> kPortMetrics[] = {
    {"dpbridge_port_rx_packets_total", "Frames received on the port.", MetricType::Counter,
     [](const PortInfo& p) { return double(p.counters.rx_packets); }},
    {"dpbridge_port_rx_bytes_total", "Bytes of the frames received on the port.",
     MetricType::Counter, [](const PortInfo& p) { return double(p.counters.rx_bytes); }},
    {"dpbridge_port_tx_packets_total", "Frames the port's driver accepted for sending.",
     MetricType::Counter, [](const PortInfo& p) { return double(p.counters.tx_packets); }},
    {"dpbridge_port_tx_bytes_total", "Bytes of the frames the port's driver accepted.",
     MetricType::Counter, [](const PortInfo& p) { return double(p.counters.tx_bytes); }},
    {"dpbridge_port_flooded_packets_total",
     "Frames received on the port that were flooded (unknown unicast, broadcast, multicast).",
     MetricType::Counter, [](const PortInfo& p) { return double(p.counters.flooded_packets); }},
    {"dpbridge_port_segmented_sends_total",
     "TCP sends from tap-vnet ports cut into segments in software to go out of the port.",
     MetricType::Counter, [](const PortInfo& p) { return double(p.counters.segmented_sends); }},
    {"dpbridge_port_link_up", "1 if the port's link is up (peer connected, interface up).",
     MetricType::Gauge, [](const PortInfo& p) { return p.link_up ? 1.0 : 0.0; }},
    {"dpbridge_port_learned_macs", "MAC addresses currently learned on the port.",
     MetricType::Gauge, [](const PortInfo& p) { return double(p.learned_macs); }},
    {"dpbridge_port_mac_limit", "Learned-address limit of the port; 0 means no limit.",
     MetricType::Gauge, [](const PortInfo& p) { return double(p.mac_limit); }},
    {"dpbridge_port_driver_rx_missed_total",
     "Frames the driver dropped before the switch saw them (RX ring full).",
     MetricType::Counter, [](const PortInfo& p) { return double(p.driver.rx_missed); }},
    {"dpbridge_port_driver_rx_nombuf_total", "RX mbuf allocation failures in the driver.",
     MetricType::Counter, [](const PortInfo& p) { return double(p.driver.rx_nombuf); }},
    {"dpbridge_port_driver_rx_errors_total", "Erroneous frames the driver received.",
     MetricType::Counter, [](const PortInfo& p) { return double(p.driver.rx_errors); }},
    {"dpbridge_port_driver_tx_errors_total", "Frames the driver failed to send.",
     MetricType::Counter, [](const PortInfo& p) { return double(p.driver.tx_errors); }},
};

constexpr RowMetric<PmdStatsRow> kPmdMetrics[] = {
    {"dpbridge_pmd_busy_cycles_total", "TSC cycles of loop iterations that moved packets.",
     MetricType::Counter, [](const PmdStatsRow& r) { return double(r.counters.busy_cycles); }},
    {"dpbridge_pmd_idle_cycles_total", "TSC cycles of empty loop iterations, sleeps included.",
     MetricType::Counter, [](const PmdStatsRow& r) { return double(r.counters.idle_cycles); }},
    {"dpbridge_pmd_packets_total", "Frames the PMD thread received from its RX queues.",
     MetricType::Counter, [](const PmdStatsRow& r) { return double(r.counters.rx_packets); }},
    {"dpbridge_pmd_iterations_total", "Iterations of the PMD thread's poll loop.",
     MetricType::Counter, [](const PmdStatsRow& r) { return double(r.counters.iterations); }},
    {"dpbridge_pmd_sleeps_total", "Times the PMD thread backed off into a sleep when idle.",
     MetricType::Counter, [](const PmdStatsRow& r) { return double(r.counters.sleeps); }},
    {"dpbridge_pmd_interrupt_waits_total",
     "Sleeps that waited for an RX interrupt or a command instead of a fixed time.",
     MetricType::Counter,
     [](const PmdStatsRow& r) { return double(r.counters.interrupt_waits); }},
    {"dpbridge_pmd_learn_requests_total",
     "Learn requests (new or moved source MACs) the PMD thread queued to the control thread.",
     MetricType::Counter,
     [](const PmdStatsRow& r) { return double(r.counters.learn_requests); }},
    {"dpbridge_pmd_learn_queue_full_total",
     "Learn requests lost because the queue to the control thread was full.",
     MetricType::Counter,
     [](const PmdStatsRow& r) { return double(r.counters.learn_queue_full); }},
    {"dpbridge_pmd_cycles_per_packet",
     "Busy cycles per received frame since start (NaN before the first frame).",
     MetricType::Gauge,
     [](const PmdStatsRow& r) {
       if (r.counters.rx_packets == 0) return std::numeric_limits<double>::quiet_NaN();
       return double(r.counters.busy_cycles) / double(r.counters.rx_packets);
     }},
    {"dpbridge_pmd_rx_queues", "RX queues assigned to the PMD thread.", MetricType::Gauge,
     [](const PmdStatsRow& r) { return double(r.rx_queues.size()); }},
};

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddSample(MetricFamily& family, Labels labels, double value) {
  ClientMetric sample;
  sample.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    sample.counter.value = value;
  } else {
    sample.gauge.value = value;
  }
  family.metric.push_back(std::move(sample));
}

// A family with a single, unlabelled sample.
MetricFamily Single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily family = Family(std::move(name), std::move(help), type);
  AddSample(family, {}, value);
  return family;
}

Labels PortLabels(const PortInfo& port) {
  return {{"port", port.spec.name}, {"type", std::string(PortTypeName(port.spec.type))}};
}

Labels PmdLabels(const PmdStatsRow& row) { return {{"pmd", std::to_string(row.pmd_id)}}; }

void AddPortFamilies(const MetricsView& view, std::vector<MetricFamily>& out) {
  for (const auto& metric : kPortMetrics) {
    MetricFamily family = Family(metric.name, metric.help, metric.type);
    for (const PortInfo& port : view.ports) AddSample(family, PortLabels(port), metric.value(port));
    out.push_back(std::move(family));
  }

  // Every reason is present for every port, zeros included, so that rate()
  // and alerts see a series from the port's first scrape on.
  MetricFamily drops = Family("dpbridge_port_drops_total",
                              "Frames (or flooded copies) not delivered, by reason; the port "
                              "is where the frame was received, or the output port for "
                              "port_down and tx_queue_full.",
                              MetricType::Counter);
  for (const PortInfo& port : view.ports) {
    for (size_t reason = 0; reason < kDropReasonCount; ++reason) {
      Labels labels = PortLabels(port);
      labels.push_back({"reason", std::string(kDropReasonNames[reason])});
      AddSample(drops, std::move(labels), double(port.counters.drops[reason]));
    }
  }
  out.push_back(std::move(drops));
}

void AddPmdFamilies(const MetricsView& view, std::vector<MetricFamily>& out) {
  for (const auto& metric : kPmdMetrics) {
    MetricFamily family = Family(metric.name, metric.help, metric.type);
    for (const PmdStatsRow& row : view.pmds) AddSample(family, PmdLabels(row), metric.value(row));
    out.push_back(std::move(family));
  }

  MetricFamily info = Family("dpbridge_pmd_info", "The EAL lcore each PMD thread runs on.",
                             MetricType::Gauge);
  for (const PmdStatsRow& row : view.pmds) {
    Labels labels = PmdLabels(row);
    labels.push_back({"lcore", row.lcore < 0 ? "none" : std::to_string(row.lcore)});
    AddSample(info, std::move(labels), 1);
  }
  out.push_back(std::move(info));
}

void AddFdbFamilies(const MacTableStats& fdb, std::vector<MetricFamily>& out) {
  MetricFamily entries =
      Family("dpbridge_fdb_entries", "Entries in the forwarding database, by kind.",
             MetricType::Gauge);
  AddSample(entries, {{"kind", "learned"}}, double(fdb.learned_entries));
  AddSample(entries, {{"kind", "static"}}, double(fdb.static_entries));
  out.push_back(std::move(entries));

  out.push_back(Single("dpbridge_fdb_capacity",
                       "Most entries the forwarding database holds (learned plus static).",
                       MetricType::Gauge, double(fdb.capacity)));
  out.push_back(Single("dpbridge_fdb_learned_total", "Addresses learned as new entries.",
                       MetricType::Counter, double(fdb.learned_total)));
  out.push_back(Single("dpbridge_fdb_moved_total", "Learned addresses that moved to another port.",
                       MetricType::Counter, double(fdb.moved_total)));
  out.push_back(Single("dpbridge_fdb_aged_total",
                       "Learned entries removed because they were not seen for the aging time.",
                       MetricType::Counter, double(fdb.aged_total)));
  out.push_back(Single("dpbridge_fdb_flushed_total",
                       "Entries evicted by a flush (of a port, of all, or by port removal).",
                       MetricType::Counter, double(fdb.flushed_total)));

  MetricFamily rejected = Family("dpbridge_fdb_rejected_total",
                                 "Addresses not learned, by reason; their frames are flooded.",
                                 MetricType::Counter);
  AddSample(rejected, {{"reason", "table_full"}}, double(fdb.rejected_full_total));
  AddSample(rejected, {{"reason", "port_limit"}}, double(fdb.rejected_limit_total));
  out.push_back(std::move(rejected));
}

}  // namespace

MetricsCollector::MetricsCollector(Source source)
    : source_(std::move(source)), start_(std::chrono::steady_clock::now()) {}

size_t MetricsCollector::CommandIndex(std::string_view command) noexcept {
  // The protocol spells commands "port.add"; the label spells them "port_add".
  const auto same = [](std::string_view name, std::string_view text) {
    if (name.size() != text.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      const char c = (text[i] == '.' || text[i] == '-') ? '_' : text[i];
      if (c != name[i]) return false;
    }
    return true;
  };
  for (size_t i = 0; i + 1 < kCommandCount; ++i) {
    if (same(kControlCommandNames[i], command)) return i;
  }
  return kCommandCount - 1;  // "unknown"
}

void MetricsCollector::CountRequest(std::string_view command, bool ok) noexcept {
  requests_[CommandIndex(command)][ok ? 0 : 1].fetch_add(1, std::memory_order_relaxed);
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  const MetricsView view = source_();
  std::vector<MetricFamily> out;

  out.push_back(Family("dpbridge_build_info", "Always 1; the labels name the build.",
                       MetricType::Gauge));
  AddSample(out.back(), {{"version", std::string(kBuildVersion)}, {"dpdk", rte_version()}}, 1);
  const std::chrono::duration<double> uptime = std::chrono::steady_clock::now() - start_;
  out.push_back(Single("dpbridge_uptime_seconds", "Seconds since the metrics exporter started.",
                       MetricType::Gauge, uptime.count()));

  AddPortFamilies(view, out);
  AddPmdFamilies(view, out);
  AddFdbFamilies(view.fdb, out);

  out.push_back(Single("dpbridge_mbufs_in_use", "Packet buffers taken from the mbuf pool.",
                       MetricType::Gauge, double(view.mbufs_in_use)));
  out.push_back(Single("dpbridge_mbufs_capacity", "Packet buffers in the mbuf pool.",
                       MetricType::Gauge, double(view.mbufs_total)));

  MetricFamily requests = Family("dpbridge_control_requests_total",
                                 "Control socket requests, by command and result.",
                                 MetricType::Counter);
  for (size_t i = 0; i < kCommandCount; ++i) {
    for (size_t result = 0; result < 2; ++result) {
      AddSample(requests,
                {{"command", std::string(kControlCommandNames[i])},
                 {"result", result == 0 ? "ok" : "error"}},
                double(requests_[i][result].load(std::memory_order_relaxed)));
    }
  }
  out.push_back(std::move(requests));
  return out;
}

}  // namespace dpbridge
