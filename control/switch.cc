// SPDX-License-Identifier: Apache-2.0
// Switch: ports, FDB ownership, PMD threads and snapshots.
#include "switch.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "dpbridge/clock.h"
#include "log.h"
#include "port_device.h"

namespace dpbridge {

namespace {

Logger port_log("port");
Logger fdb_log("fdb");
Logger pmd_log("pmd");

constexpr auto kAckTimeout = std::chrono::seconds(2);
constexpr uint64_t kLinkPollIntervalMs = 100;
constexpr size_t kLearnBatch = 256;
constexpr size_t kMaxLearnsPerTick = 65536;
// Aging sweeps the whole table once per quarter of the aging time, between a
// quarter second and ten seconds: an entry leaves at most that late, and an
// idle switch with the default 300 s does not stream 32 MB through the cache
// every second (the cost of a fixed per-tick slice, measured as 5% of a core).
constexpr uint64_t kMinSweepMs = 250;
constexpr uint64_t kMaxSweepMs = 10000;

// Set by DPDK's interrupt thread on a link event of any port; the control
// thread polls link states at its next tick instead of waiting for the timer.
std::atomic<bool> link_event{false};

int OnLinkEvent(uint16_t /*port*/, rte_eth_event_type /*type*/, void* /*context*/,
                void* /*unused*/) {
  link_event.store(true, std::memory_order_release);
  return 0;
}

uint64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

struct Switch::Port {
  PortSpec spec;
  uint16_t index = kNoPort;
  uint32_t generation = 0;
  bool link_up = false;
  std::unique_ptr<PortDevice> device;
  // One lock per TX queue when PMD threads outnumber the queues.
  std::unique_ptr<rte_spinlock_t[]> tx_locks;
  std::function<bool()> link_probe;
};

Switch::Switch(const SwitchOptions& options) : options_(options) {}

Result<std::unique_ptr<Switch>> Switch::Create(const SwitchOptions& options) {
  std::unique_ptr<Switch> result(new Switch(options));
  if (Status status = result->Init(); !status.ok()) return status;
  return result;
}

Status Switch::Init() {
  pool_ = rte_pktmbuf_pool_create("dpb_mbufs", options_.mbuf_count, 256, 0,
                                  RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    return Status::Error("cannot create a pool of " + std::to_string(options_.mbuf_count) +
                         " mbufs: " + rte_strerror(rte_errno) +
                         "; reserve hugepages (scripts/setup.sh) or run with --no-huge");
  }
  fdb_ = std::make_unique<MacTable>(options_.fdb);
  (void)rte_eth_dev_callback_register(RTE_ETH_ALL, RTE_ETH_EVENT_INTR_LSC, OnLinkEvent, nullptr);
  default_mac_limit_ = options_.fdb.default_port_limit;

  if (options_.pmd_lcores.empty()) {
    pmds_.push_back(std::make_unique<Pmd>(0, *fdb_, options_.pmd));
  } else {
    for (unsigned lcore : options_.pmd_lcores) {
      if (!rte_lcore_is_enabled(lcore) || lcore == rte_get_main_lcore()) {
        return Status::Error("lcore " + std::to_string(lcore) +
                             " is not an enabled worker lcore; list it in --lcores after the "
                             "main lcore");
      }
      pmds_.push_back(std::make_unique<Pmd>(static_cast<unsigned>(pmds_.size()), *fdb_,
                                            options_.pmd));
    }
  }
  for (size_t i = 0; i < options_.pmd_lcores.size(); ++i) {
    const int rc = rte_eal_remote_launch(PmdLaunch, pmds_[i].get(), options_.pmd_lcores[i]);
    if (rc != 0) {
      return Status::Error("cannot launch PMD thread on lcore " +
                           std::to_string(options_.pmd_lcores[i]) + ": " + rte_strerror(-rc));
    }
    pmd_log.Log(LogLevel::kInfo, "pmd %zu: started on lcore %u", i, options_.pmd_lcores[i]);
  }
  // Every PMD starts from an empty snapshot so that applied_version() is
  // meaningful from the first port on.
  if (Status status = PublishAndWait(); !status.ok()) return status;
  RefreshMetricsView();
  return {};
}

Switch::~Switch() {
  for (size_t i = 0; i < pmds_.size(); ++i) {
    if (i < options_.pmd_lcores.size()) {
      (void)pmds_[i]->RequestStop();
      rte_eal_wait_lcore(options_.pmd_lcores[i]);
    }
  }
  // The PMD threads are gone, so devices can go without a handshake.
  ports_.clear();
  retiring_.clear();
  pmds_.clear();
  (void)rte_eth_dev_callback_unregister(RTE_ETH_ALL, RTE_ETH_EVENT_INTR_LSC, OnLinkEvent,
                                        nullptr);
  rte_mempool_free(pool_);
}

void Switch::OnEvent(std::function<void(const std::string&)> callback) {
  event_callback_ = std::move(callback);
}

void Switch::Event(const std::string& text) {
  port_log.Log(LogLevel::kInfo, "%s", text.c_str());
  if (event_callback_) event_callback_(text);
}

Switch::Port* Switch::Lookup(const std::string& name) const {
  for (const auto& port : ports_) {
    if (port->spec.name == name) return port.get();
  }
  return nullptr;
}

Status Switch::PublishAndWait() {
  Result<uint64_t> version = Publish();
  if (!version.ok()) return version.status();
  if (!WaitApplied(version.value())) {
    return Status::Error("a PMD thread did not acknowledge the change within 2 s");
  }
  return {};
}

namespace {

// Whether frames the PMD cuts into segments in software are known to reach a
// port of this kind intact and at full rate: checked through TAP (net_tap)
// and af-packet ports with real TCP (tests/integration/ports_test.sh,
// tap_vnet). Through an af-xdp port such a transfer stalls (segments go
// missing on the veth behind it, DPDK 22.11's af_xdp driver); vhost-user and
// PCI ports are not checked with a TCP peer here.
bool TakesSoftwareSegments(PortType type) {
  return type == PortType::kTapVnet || type == PortType::kTap || type == PortType::kAfPacket;
}

}  // namespace

void Switch::UpdateOffloads() {
  // A tap-vnet port hands over TCP sends of up to 64 KB with checksums left
  // to do. Another tap-vnet port passes them on whole; for a TAP or af-packet
  // port the PMD finishes them in software (FinishOffloads), as the kernel
  // does for a device without TSO. While a port of any other kind is present
  // the kernel's offloads are off and every frame comes finished.
  const auto other = std::find_if(ports_.begin(), ports_.end(), [](const auto& port) {
    return !TakesSoftwareSegments(port->spec.type);
  });
  const bool on = other == ports_.end();
  for (const auto& port : ports_) {
    if (!port->device->tap() || port->device->offloads() == on) continue;
    if (Status status = port->device->SetOffloads(on); !status.ok()) {
      port_log.Log(LogLevel::kWarning, "port %s: %s", port->spec.name.c_str(),
                   status.message().c_str());
      continue;
    }
    Event("port " + port->spec.name + ": checksum and TCP segmentation offloads " +
          (on ? std::string("on")
              : "off (port " + (*other)->spec.name + " is " +
                    std::string(PortTypeName((*other)->spec.type)) + ")"));
  }
}

Result<uint64_t> Switch::Publish() {
  UpdateOffloads();
  const uint64_t version = ++snapshot_version_;
  for (size_t p = 0; p < pmds_.size(); ++p) {
    auto snapshot = std::make_unique<PmdSnapshot>();
    snapshot->version = version;
    for (const auto& port : ports_) {
      PortSlot& slot = snapshot->ports[port->index];
      slot.present = true;
      slot.link_up = port->link_up;
      slot.dpdk_port = port->device->dpdk_port();
      slot.generation = port->generation;
      const uint16_t tx_queues = port->device->tx_queues();
      slot.tx_queue = static_cast<uint16_t>(p % tx_queues);
      slot.tx_lock = port->tx_locks ? &port->tx_locks[slot.tx_queue] : nullptr;
      slot.tap = port->device->tap();
      if (slot.tap != nullptr) {
        snapshot->offload_flag = TapOffloadFlag();
        snapshot->segment_pool = pool_;
      }
      snapshot->flood_ports.push_back(port->index);
      // Spread the port's RX queues over the PMD threads, starting at a
      // different thread for each port so that single-queue ports spread too.
      for (uint16_t q = 0; q < port->device->rx_queues(); ++q) {
        if ((port->index + q) % pmds_.size() == p) {
          snapshot->rx_queues.push_back({port->index, port->device->dpdk_port(), q,
                                         port->device->rx_interrupts(), port->device->tap()});
        }
      }
    }
    std::sort(snapshot->flood_ports.begin(), snapshot->flood_ports.end());
    if (!pmds_[p]->Publish(std::move(snapshot))) {
      return Status::Error("pmd " + std::to_string(p) + ": command queue full; retry");
    }
  }
  return version;
}

bool Switch::Applied(uint64_t version) const {
  for (const auto& pmd : pmds_) {
    if (pmd->applied_version() < version) return false;
  }
  return true;
}

bool Switch::WaitApplied(uint64_t version) {
  // Manual mode: the caller's thread is the PMD thread, so adopting now is
  // the quiescent point.
  if (options_.pmd_lcores.empty()) {
    for (auto& pmd : pmds_) {
      pmd->ApplyPendingCommands();
      pmd->ReclaimSnapshots();
    }
    return true;
  }
  const auto deadline = std::chrono::steady_clock::now() + kAckTimeout;
  while (!Applied(version)) {
    if (std::chrono::steady_clock::now() > deadline) {
      pmd_log.Log(LogLevel::kWarning,
                  "pmd: snapshot %lu not acknowledged within 2 s (PMD thread descheduled?)",
                  static_cast<unsigned long>(version));
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  for (auto& pmd : pmds_) pmd->ReclaimSnapshots();
  return true;
}

Result<PortInfo> Switch::AddPort(const PortSpec& spec) {
  if (std::string problem = ValidatePortSpec(spec); !problem.empty()) {
    return Status::Error(problem);
  }
  if (Lookup(spec.name) != nullptr) {
    return Status::Error("port " + spec.name + " already exists; pick another name or " +
                         "`dpbridgectl port del " + spec.name + "` first");
  }
  FinishRemovals();
  std::array<bool, kMaxPorts> used{};
  for (const auto& port : ports_) used[port->index] = true;
  for (const auto& retiring : retiring_) {
    used[retiring.port->index] = true;
    if (retiring.port->spec.name == spec.name) {
      return Status::Error("port " + spec.name + " is still being removed (a PMD thread has " +
                           "not let go of it yet); retry in a moment");
    }
  }
  const auto free_index = std::find(used.begin(), used.end(), false);
  if (free_index == used.end() || ports_.size() >= RTE_MAX_ETHPORTS) {
    return Status::Error("port " + spec.name + ": no free port slot (at most " +
                         std::to_string(std::min<int>(kMaxPorts, RTE_MAX_ETHPORTS)) + " ports)");
  }

  PortDeviceConfig device_config;
  device_config.pool = pool_;
  device_config.tx_queues = static_cast<uint16_t>(pmds_.size());
  device_config.rx_descriptors = options_.rx_descriptors;
  device_config.tx_descriptors = options_.tx_descriptors;
  auto device = PortDevice::Open(spec, device_config);
  if (!device.ok()) {
    port_log.Log(LogLevel::kError, "%s", device.message().c_str());
    return device.status();
  }

  auto port = std::make_unique<Port>();
  port->spec = spec;
  port->index = static_cast<uint16_t>(free_index - used.begin());
  port->generation = next_generation_++;
  port->device = std::move(device.value());
  port->link_up = port->device->DriverLinkUp();
  if (port->device->tx_queues() < pmds_.size()) {
    port->tx_locks.reset(new rte_spinlock_t[port->device->tx_queues()]);
    for (uint16_t q = 0; q < port->device->tx_queues(); ++q) rte_spinlock_init(&port->tx_locks[q]);
  }
  Port* added = port.get();
  ports_.push_back(std::move(port));

  if (Result<uint64_t> version = Publish(); !version.ok()) {
    // Nothing names the port yet, so it can go at once.
    ports_.pop_back();
    return version.status();
  } else {
    // A late acknowledgement only delays when the port starts forwarding.
    (void)WaitApplied(version.value());
  }
  Event("port " + spec.name + ": added (" + std::string(PortTypeName(spec.type)) + ", " +
        added->device->device_name() + ", " + std::to_string(added->device->rx_queues()) +
        " rxq, " + std::to_string(added->device->tx_queues()) + " txq, link " +
        (added->link_up ? "up" : "down") + ")");
  RefreshMetricsView();
  return Describe(*added);
}

Status Switch::DelPort(const std::string& name) {
  auto it = std::find_if(ports_.begin(), ports_.end(),
                         [&](const auto& port) { return port->spec.name == name; });
  if (it == ports_.end()) {
    return Status::Error("port " + name + ": no such port; see `dpbridgectl port list`");
  }
  std::unique_ptr<Port> port = std::move(*it);
  ports_.erase(it);

  Result<uint64_t> version = Publish();
  if (!version.ok()) {
    ports_.push_back(std::move(port));
    return version.status();
  }
  // Quiescence: once every PMD thread runs on a snapshot without the port,
  // no packet in flight refers to it. A PMD thread that the host has not
  // scheduled for a while only delays the close: the port waits in retiring_
  // and Tick() finishes the removal when the acknowledgement comes.
  if (!WaitApplied(version.value())) {
    port_log.Log(LogLevel::kWarning,
                 "port %s: removal pending until every PMD thread has let go of it",
                 name.c_str());
    retiring_.push_back({std::move(port), version.value()});
    RefreshMetricsView();
    return {};
  }
  FinishRemoval(std::move(port));
  RefreshMetricsView();
  return {};
}

void Switch::FinishRemoval(std::unique_ptr<Port> port) {
  // Learn requests queued before the switch-over may still name the port.
  DrainLearnRequests();
  const size_t flushed = fdb_->FlushPort(port->index, true);
  const std::string name = port->spec.name;
  port.reset();
  Event("port " + name + ": removed (" + std::to_string(flushed) + " FDB entries flushed)");
}

void Switch::FinishRemovals() {
  for (auto it = retiring_.begin(); it != retiring_.end();) {
    if (Applied(it->version)) {
      FinishRemoval(std::move(it->port));
      it = retiring_.erase(it);
    } else {
      ++it;
    }
  }
}

void Switch::SetLinkProbe(const std::string& name, std::function<bool()> probe) {
  if (Port* port = Lookup(name)) port->link_probe = std::move(probe);
}

PortInfo Switch::Describe(const Port& port) const {
  PortInfo info;
  info.spec = port.spec;
  info.index = port.index;
  info.dpdk_port = port.device->dpdk_port();
  info.device_name = port.device->device_name();
  info.link_up = port.link_up;
  info.rx_queues = port.device->rx_queues();
  info.tx_queues = port.device->tx_queues();
  info.offloads = port.device->offloads();
  if (const TapQueue* tap = port.device->tap()) info.offloaded_frames = tap->stats().rx_offloaded;
  info.learned_macs = fdb_->PortLearnedCount(port.index);
  info.mac_limit = fdb_->PortLimit(port.index);
  for (const auto& pmd : pmds_) info.counters.Accumulate(pmd->port_counters(port.index));
  info.driver = port.device->ReadDriverStats();
  return info;
}

std::vector<PortInfo> Switch::ListPorts() const {
  std::vector<PortInfo> out;
  for (const auto& port : ports_) out.push_back(Describe(*port));
  std::sort(out.begin(), out.end(),
            [](const PortInfo& a, const PortInfo& b) { return a.spec.name < b.spec.name; });
  return out;
}

std::optional<PortInfo> Switch::FindPort(const std::string& name) const {
  if (const Port* port = Lookup(name)) return Describe(*port);
  return std::nullopt;
}

std::vector<FdbRow> Switch::FdbDump(const std::string& port_filter) const {
  std::array<const Port*, kMaxPorts> by_index{};
  for (const auto& port : ports_) by_index[port->index] = port.get();
  const uint32_t now = NowSeconds();
  std::vector<FdbRow> rows;
  for (const FdbEntry& entry : fdb_->Dump()) {
    const Port* port = entry.port < kMaxPorts ? by_index[entry.port] : nullptr;
    if (port == nullptr) continue;
    if (!port_filter.empty() && port->spec.name != port_filter) continue;
    FdbRow row;
    row.mac = entry.key.mac();
    row.vlan = entry.key.vlan();
    row.port = port->spec.name;
    row.is_static = entry.is_static;
    row.age_s = entry.is_static || now < entry.last_seen_s ? 0 : now - entry.last_seen_s;
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), [](const FdbRow& a, const FdbRow& b) {
    return a.port != b.port ? a.port < b.port : a.mac.bits() < b.mac.bits();
  });
  return rows;
}

Status Switch::FdbAddStatic(MacAddress mac, uint16_t vlan, const std::string& port_name) {
  const Port* port = Lookup(port_name);
  if (port == nullptr) {
    return Status::Error("port " + port_name + ": no such port; see `dpbridgectl port list`");
  }
  if (mac.IsZero()) return Status::Error("fdb: 00:00:00:00:00:00 cannot be a static entry");
  if (vlan > kMaxVlanId) return Status::Error("fdb: VLAN must be between 0 and 4095");
  const LearnResult result = fdb_->AddStatic(FdbKey(vlan, mac), port->index);
  if (result == LearnResult::kTableFull) {
    return Status::Error("fdb: no room for " + mac.ToString() +
                         " (table full); flush learned entries or raise the capacity");
  }
  Event("fdb: " + mac.ToString() + " vlan " + std::to_string(vlan) + " static on port " +
        port_name);
  return {};
}

Status Switch::FdbDel(MacAddress mac, uint16_t vlan) {
  if (!fdb_->Remove(FdbKey(vlan, mac))) {
    return Status::Error("fdb: no entry for " + mac.ToString() + " on VLAN " +
                         std::to_string(vlan) + "; see `dpbridgectl fdb show`");
  }
  return {};
}

Result<size_t> Switch::FdbFlush(const std::string& port_name) {
  if (port_name.empty()) return fdb_->FlushAll(false);
  const Port* port = Lookup(port_name);
  if (port == nullptr) {
    return Status::Error("port " + port_name + ": no such port; see `dpbridgectl port list`");
  }
  return fdb_->FlushPort(port->index, false);
}

Status Switch::SetAgingTime(uint32_t seconds) {
  if (seconds < 1 || seconds > 1000000) {
    return Status::Error("aging time must be between 1 and 1000000 seconds");
  }
  fdb_->SetAgingTime(seconds);
  Event("fdb: aging time " + std::to_string(seconds) + " s");
  return {};
}

uint32_t Switch::aging_time_s() const { return fdb_->aging_time_s(); }

Status Switch::SetMacLimit(uint32_t limit, const std::string& port_name) {
  if (port_name.empty()) {
    fdb_->SetDefaultPortLimit(limit);
    default_mac_limit_ = limit;
    Event("fdb: default MAC limit " + std::to_string(limit) + (limit == 0 ? " (none)" : ""));
  } else {
    const Port* port = Lookup(port_name);
    if (port == nullptr) {
      return Status::Error("port " + port_name + ": no such port; see `dpbridgectl port list`");
    }
    fdb_->SetPortLimit(port->index, limit);
    Event("port " + port_name + ": MAC limit " + std::to_string(limit) +
          (limit == 0 ? " (none)" : ""));
  }
  RefreshMetricsView();
  return {};
}

std::vector<PmdStatsRow> Switch::PmdStats() const {
  std::vector<PmdStatsRow> rows;
  for (size_t p = 0; p < pmds_.size(); ++p) {
    PmdStatsRow row;
    row.pmd_id = pmds_[p]->id();
    row.lcore = p < options_.pmd_lcores.size() ? static_cast<int>(options_.pmd_lcores[p]) : -1;
    row.counters = pmds_[p]->counters();
    for (const auto& port : ports_) {
      for (uint16_t q = 0; q < port->device->rx_queues(); ++q) {
        if ((port->index + q) % pmds_.size() == p) {
          row.rx_queues.push_back(port->spec.name + "/" + std::to_string(q));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

uint32_t Switch::PollPmds() {
  uint32_t received = 0;
  if (options_.pmd_lcores.empty()) {
    for (auto& pmd : pmds_) received += pmd->PollOnce();
  }
  return received;
}

size_t Switch::DrainLearnRequests() {
  static RateLimit move_limit(10, 1000);
  static RateLimit full_limit(1, 10000);
  static RateLimit port_limit(5, 10000);

  std::array<const Port*, kMaxPorts> by_index{};
  for (const auto& port : ports_) by_index[port->index] = port.get();
  const uint32_t now = NowSeconds();
  std::array<LearnRequest, kLearnBatch> batch;
  size_t total = 0;
  for (auto& pmd : pmds_) {
    size_t handled = 0;
    while (handled < kMaxLearnsPerTick) {
      const size_t count = pmd->PopLearnRequests(batch.data(), batch.size());
      if (count == 0) break;
      handled += count;
      for (size_t i = 0; i < count; ++i) {
        const LearnRequest& request = batch[i];
        const Port* port = request.port < kMaxPorts ? by_index[request.port] : nullptr;
        if (port == nullptr) continue;  // the port left after the request was made
        const auto before = request.key.mac();
        uint16_t moved_from = kNoPort;
        const LearnResult result = fdb_->Learn(request.key, request.port, now, &moved_from);
        uint64_t suppressed = 0;
        if (result == LearnResult::kMoved && move_limit.Allow(&suppressed)) {
          const Port* from = moved_from < kMaxPorts ? by_index[moved_from] : nullptr;
          fdb_log.Log(LogLevel::kInfo, "%s vlan %u moved from port %s to port %s%s",
                      before.ToString().c_str(), request.key.vlan(),
                      from ? from->spec.name.c_str() : "?", port->spec.name.c_str(),
                      suppressed ? (" (" + std::to_string(suppressed) +
                                    " similar events suppressed)").c_str()
                                 : "");
        } else if (result == LearnResult::kTableFull && full_limit.Allow(&suppressed)) {
          fdb_log.Log(LogLevel::kWarning,
                      "table full (%u entries); new addresses are flooded, not learned",
                      fdb_->max_entries());
        } else if (result == LearnResult::kPortLimit && port_limit.Allow(&suppressed)) {
          fdb_log.Log(LogLevel::kWarning, "port %s: MAC limit %u reached; %s not learned",
                      port->spec.name.c_str(), fdb_->PortLimit(request.port),
                      before.ToString().c_str());
        }
      }
    }
    total += handled;
  }
  return total;
}

bool Switch::PollLinks() {
  bool changed = false;
  for (auto& port : ports_) {
    const bool up = port->link_probe ? port->link_probe() : port->device->DriverLinkUp();
    if (up == port->link_up) continue;
    port->link_up = up;
    changed = true;
    Event("port " + port->spec.name + ": link " + (up ? "up" : "down"));
  }
  if (changed) {
    if (Status status = PublishAndWait(); !status.ok()) {
      port_log.Log(LogLevel::kError, "link change not applied: %s", status.message().c_str());
    }
  }
  return changed;
}

void Switch::Age(uint64_t now_ms) {
  const uint64_t elapsed_ms = std::min<uint64_t>(now_ms - last_age_ms_, kMaxSweepMs);
  last_age_ms_ = now_ms;
  if (fdb_->Stats().learned_entries == 0) {
    age_credit_ = 0;
    return;
  }
  const uint64_t sweep_ms =
      std::clamp<uint64_t>(uint64_t{fdb_->aging_time_s()} * 1000 / 4, kMinSweepMs, kMaxSweepMs);
  // Buckets owed since the last tick, in thousandths so that short ticks add up.
  age_credit_ += fdb_->bucket_count() * 1000 * elapsed_ms / sweep_ms;
  const uint64_t visits = age_credit_ / 1000;
  if (visits == 0) return;
  age_credit_ -= visits * 1000;
  if (const size_t aged = fdb_->Age(NowSeconds(), static_cast<uint32_t>(visits)); aged > 0) {
    fdb_log.Log(LogLevel::kDebug, "%zu entries aged out", aged);
  }
}

bool Switch::Tick() {
  bool busy = DrainLearnRequests() > 0;
  if (!retiring_.empty()) {
    FinishRemovals();
    busy = true;
  }
  const uint64_t now_ms = NowMs();
  Age(now_ms);
  if (link_event.exchange(false, std::memory_order_acquire) ||
      now_ms - last_link_poll_ms_ >= kLinkPollIntervalMs) {
    last_link_poll_ms_ = now_ms;
    busy |= PollLinks();
    RefreshMetricsView();
  }
  for (auto& pmd : pmds_) pmd->ReclaimSnapshots();
  return busy;
}

void Switch::RefreshMetricsView() {
  MetricsView view;
  for (const auto& port : ports_) {
    PortInfo info = Describe(*port);
    info.counters = {};  // filled in live by Metrics()
    view.ports.push_back(std::move(info));
  }
  view.pmds = PmdStats();
  std::lock_guard lock(view_mutex_);
  view_ = std::move(view);
}

MetricsView Switch::Metrics() const {
  MetricsView view;
  {
    std::lock_guard lock(view_mutex_);
    view = view_;
  }
  // Counters are read live: each has one writer and relaxed loads are safe
  // from any thread. pmds_ does not change after Init().
  for (PortInfo& port : view.ports) {
    for (const auto& pmd : pmds_) port.counters.Accumulate(pmd->port_counters(port.index));
  }
  for (size_t p = 0; p < view.pmds.size() && p < pmds_.size(); ++p) {
    view.pmds[p].counters = pmds_[p]->counters();
  }
  view.fdb = fdb_->Stats();
  view.mbufs_total = pool_->size;
  view.mbufs_in_use = rte_mempool_in_use_count(pool_);
  return view;
}

}  // namespace dpbridge
