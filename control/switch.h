// SPDX-License-Identifier: Apache-2.0
//
// Switch: the control thread's view of the whole bridge.
//
// It owns the FDB (as its single writer), the ports (DPDK devices and their
// queues), the PMD threads and the mbuf pool. Every change goes through it:
// a port is added by creating and starting the device, then publishing a new
// PmdSnapshot to every PMD thread; it is removed by publishing a snapshot
// without it, waiting until every PMD thread has acknowledged (after which no
// packet in flight touches it), then stopping, closing and removing the
// device and flushing its FDB entries. Traffic on other ports never stops. If
// a PMD thread has not acknowledged within 2 s (the host did not schedule it),
// DelPort() still returns at once: the port is gone from the configuration
// and the snapshots, and Tick() closes the device when the acknowledgement
// arrives; until then its name and index stay reserved.
//
// Tick() is the control thread's periodic work: it drains the PMD threads'
// learn requests into the FDB, ages the FDB in bounded slices, follows link
// state, and frees retired snapshots. Call it every few milliseconds.
//
// Thread-safety: every method but MetricsView() belongs to the one control
// thread. MetricsView() may be called from any thread (the metrics exporter).
//
// Limitations: at most kMaxPorts ports (and DPDK's RTE_MAX_ETHPORTS, 32 in
// Debian's build). In manual mode (no PMD lcores, for tests) there is one
// PMD that the caller drives with PollPmds().
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dpbridge/mac_table.h"
#include "dpbridge/pmd.h"
#include "port_device.h"
#include "port_spec.h"
#include "status.h"

namespace dpbridge {

struct SwitchOptions {
  MacTableConfig fdb;
  PmdOptions pmd;
  // EAL lcores to run PMD threads on. Empty: manual mode, one PMD driven by
  // the caller through PollPmds().
  std::vector<unsigned> pmd_lcores;
  uint32_t mbuf_count = 32767;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
};

struct PortInfo {
  PortSpec spec;
  uint16_t index = kNoPort;        // dpbridge's port index (FDB, counters)
  uint16_t dpdk_port = 0;
  std::string device_name;         // DPDK device name, e.g. net_tap_tap0
  bool link_up = false;
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  uint32_t learned_macs = 0;
  uint32_t mac_limit = 0;          // 0: none
  PortCountersSnapshot counters;   // summed over PMD threads
  DriverStats driver;
  // tap-vnet: whether the kernel hands frames over with checksum and TCP
  // segmentation left to do (off while an af-xdp, vhost-user or PCI port is present).
  bool offloads = false;
  uint64_t offloaded_frames = 0;   // tap-vnet: such frames received
};

struct FdbRow {
  MacAddress mac;
  uint16_t vlan = 0;
  std::string port;
  uint32_t age_s = 0;
  bool is_static = false;
};

struct PmdStatsRow {
  unsigned pmd_id = 0;
  int lcore = -1;
  PmdCountersSnapshot counters;
  std::vector<std::string> rx_queues;  // "port/queue"
};

// What the metrics exporter reads, copied out under a lock.
struct MetricsView {
  std::vector<PortInfo> ports;
  std::vector<PmdStatsRow> pmds;
  MacTableStats fdb;
  uint64_t mbufs_in_use = 0;
  uint64_t mbufs_total = 0;
};

class Switch {
 public:
  // EAL must be initialised. Creates the mbuf pool and the PMD objects;
  // aborts start-up with a clear message through Create()'s status.
  [[nodiscard]] static Result<std::unique_ptr<Switch>> Create(const SwitchOptions& options);
  ~Switch();  // stops PMD threads, removes every port
  Switch(const Switch&) = delete;
  Switch& operator=(const Switch&) = delete;

  // Ports.
  [[nodiscard]] Result<PortInfo> AddPort(const PortSpec& spec);
  [[nodiscard]] Status DelPort(const std::string& name);
  [[nodiscard]] std::vector<PortInfo> ListPorts() const;
  [[nodiscard]] std::optional<PortInfo> FindPort(const std::string& name) const;
  // Replaces how a port's link state is read (the default asks the driver).
  // Used for TAP interfaces moved into another namespace, whose state the
  // driver cannot see. The probe runs on the control thread.
  void SetLinkProbe(const std::string& name, std::function<bool()> probe);

  // FDB, by port name.
  [[nodiscard]] std::vector<FdbRow> FdbDump(const std::string& port_filter = "") const;
  [[nodiscard]] Status FdbAddStatic(MacAddress mac, uint16_t vlan, const std::string& port);
  [[nodiscard]] Status FdbDel(MacAddress mac, uint16_t vlan);
  [[nodiscard]] Result<size_t> FdbFlush(const std::string& port = "");
  [[nodiscard]] Status SetAgingTime(uint32_t seconds);
  [[nodiscard]] Status SetMacLimit(uint32_t limit, const std::string& port = "");
  [[nodiscard]] uint32_t aging_time_s() const;
  [[nodiscard]] uint32_t default_mac_limit() const { return default_mac_limit_; }
  [[nodiscard]] const MacTable& fdb() const { return *fdb_; }

  // PMD threads.
  [[nodiscard]] std::vector<PmdStatsRow> PmdStats() const;
  // Manual mode: one PollOnce() of every PMD on this thread. Returns packets received.
  uint32_t PollPmds();

  // Periodic control work (learning, aging, link state, reclamation).
  // Returns whether there was any (learn requests, link changes, pending
  // removals), so that an idle caller may tick less often.
  bool Tick();

  [[nodiscard]] MetricsView Metrics() const;
  [[nodiscard]] rte_mempool* mbuf_pool() const { return pool_; }

  // Event hook: every log-worthy event ("port tap0: link up") is also passed
  // here, e.g. for the daemon's state saving. Runs on the control thread.
  void OnEvent(std::function<void(const std::string&)> callback);

 private:
  struct Port;
  explicit Switch(const SwitchOptions& options);
  [[nodiscard]] Status Init();
  [[nodiscard]] Status PublishAndWait();
  // Sends every PMD thread a snapshot of the current ports; returns its version.
  [[nodiscard]] Result<uint64_t> Publish();
  // Turns the kernel offloads of tap-vnet ports on, or off while a port of a
  // kind that software segmentation is not checked with is present.
  void UpdateOffloads();
  // Waits up to 2 s for every PMD thread to adopt `version`.
  [[nodiscard]] bool WaitApplied(uint64_t version);
  [[nodiscard]] bool Applied(uint64_t version) const;
  void FinishRemoval(std::unique_ptr<Port> port);
  void FinishRemovals();
  [[nodiscard]] Port* Lookup(const std::string& name) const;
  [[nodiscard]] PortInfo Describe(const Port& port) const;
  // Returns how many learn requests it handled.
  size_t DrainLearnRequests();
  // Ages the FDB by the slice owed since the last call (see switch.cc).
  void Age(uint64_t now_ms);
  // Returns whether a link changed.
  bool PollLinks();
  void RefreshMetricsView();
  void Event(const std::string& text);

  SwitchOptions options_;
  std::unique_ptr<MacTable> fdb_;
  std::vector<std::unique_ptr<Pmd>> pmds_;
  std::vector<std::unique_ptr<Port>> ports_;
  // Removed ports whose snapshot a PMD thread has not acknowledged yet; their
  // devices close, and their indices free, once it has.
  struct RetiringPort {
    std::unique_ptr<Port> port;
    uint64_t version = 0;
  };
  std::vector<RetiringPort> retiring_;
  rte_mempool* pool_ = nullptr;
  uint64_t snapshot_version_ = 0;
  uint32_t next_generation_ = 1;
  uint32_t default_mac_limit_ = 0;
  uint64_t last_link_poll_ms_ = 0;
  uint64_t last_age_ms_ = 0;
  uint64_t age_credit_ = 0;
  std::function<void(const std::string&)> event_callback_;

  mutable std::mutex view_mutex_;
  MetricsView view_;
};

}  // namespace dpbridge
