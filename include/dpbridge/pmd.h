// SPDX-License-Identifier: Apache-2.0
//
// Pmd: one poll-mode forwarding thread.
//
// A Pmd polls the RX queues its current PmdSnapshot assigns to it, learns
// source addresses and forwards each burst (see dataplane/forwarder.h), and
// backs off with bounded sleeps when a run of iterations finds no packets, so
// that an idle switch costs almost no CPU. When every RX queue it polls can
// raise interrupts (TAP ports), the thread running Run() waits in epoll
// instead: it wakes when a frame or a command arrives, not after a fixed time.
//
// The control thread talks to it only through lock-free single-producer,
// single-consumer queues (Boost.Lockfree):
//   control -> PMD: commands (a new snapshot, a sleep setting, stop);
//   PMD -> control: retired snapshots, to be freed on the control side,
//                   and learn requests for the FDB, whose single writer is
//                   the control thread.
// The PMD acknowledges a snapshot by publishing its version; once
// applied_version() reaches a version, the PMD no longer reads older ones.
//
// Thread-safety: Run() and PollOnce() on the PMD's own thread (or the test's
// thread, never both); the methods marked "control side" on one control
// thread; counters from any thread.
#pragma once

#include <boost/lockfree/spsc_queue.hpp>
#include <rte_interrupts.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "dpbridge/mac_table.h"
#include "dpbridge/pmd_counters.h"
#include "dpbridge/pmd_snapshot.h"

namespace dpbridge {

class Forwarder;

struct LearnRequest {
  FdbKey key;
  uint16_t port = kNoPort;
};

struct PmdOptions {
  // Longest sleep of an idle PMD thread; 0 keeps it spinning. After a second
  // without a packet the bound is eight times this ("deep idle").
  uint32_t max_sleep_us = 500;
  // Empty iterations before the first sleep.
  uint32_t idle_spins_before_sleep = 512;
};

class Pmd {
 public:
  static constexpr size_t kLearnQueueSize = 8192;

  Pmd(unsigned id, MacTable& table, const PmdOptions& options);
  ~Pmd();
  Pmd(const Pmd&) = delete;
  Pmd& operator=(const Pmd&) = delete;

  // --- Control side. ---

  // Queues a snapshot for the PMD thread to switch to. Returns false (and
  // keeps nothing) if the command queue is full.
  [[nodiscard]] bool Publish(std::unique_ptr<PmdSnapshot> snapshot);
  // Version of the snapshot the PMD thread runs on now.
  [[nodiscard]] uint64_t applied_version() const noexcept {
    return applied_version_.load(std::memory_order_acquire);
  }
  // Frees the snapshots the PMD thread has retired.
  void ReclaimSnapshots();
  [[nodiscard]] bool SetMaxSleep(uint32_t max_sleep_us);
  [[nodiscard]] bool RequestStop();

  // Pops up to `max` learn requests into `out`. Returns how many.
  size_t PopLearnRequests(LearnRequest* out, size_t max) { return learn_queue_.pop(out, max); }

  // --- Any thread. ---

  [[nodiscard]] unsigned id() const noexcept { return id_; }
  [[nodiscard]] const PortCounters& port_counters(uint16_t port_index) const noexcept {
    return port_counters_[port_index];
  }
  [[nodiscard]] PmdCountersSnapshot counters() const noexcept;
  [[nodiscard]] bool running() const noexcept { return running_.load(std::memory_order_acquire); }

  // --- PMD thread. ---

  // Polls until a stop command arrives.
  void Run() noexcept;
  // One loop iteration: apply pending commands, poll every assigned RX
  // queue once, forward. Returns how many packets were received.
  uint32_t PollOnce() noexcept;
  // Applies pending commands without polling: for a caller that drives the
  // PMD by hand (tests, manual mode) and needs a snapshot adopted now.
  void ApplyPendingCommands() noexcept { ApplyCommands(); }

 private:
  enum class CommandKind : uint8_t { kSnapshot, kSetMaxSleep, kStop };
  struct Command {
    CommandKind kind = CommandKind::kStop;
    PmdSnapshot* snapshot = nullptr;
    uint32_t value = 0;
  };

  void ApplyCommands() noexcept;
  void Adopt(PmdSnapshot* snapshot) noexcept;
  void Backoff() noexcept;
  // Wakes the thread if it waits in epoll (control side, after a command).
  void Wake() noexcept;
  // Replaces the epoll registrations of RX queues with those of `snapshot`
  // (none if null); sets interrupts_ready_ when every queue of it is in.
  void RegisterInterrupts(const PmdSnapshot* snapshot) noexcept;
  // Arms the RX interrupts and blocks until one fires, a command arrives or
  // kInterruptWaitMs pass.
  void WaitForInterrupt() noexcept;

  const unsigned id_;
  MacTable& table_;
  PmdOptions options_;
  std::unique_ptr<Forwarder> forwarder_;
  PmdSnapshot* snapshot_ = nullptr;
  std::array<uint32_t, kMaxPorts> port_generation_{};
  uint32_t idle_iterations_ = 0;
  uint32_t sleep_us_ = 0;
  uint64_t last_packet_tsc_ = 0;
  uint64_t asked_reset_tsc_ = 0;  // when the forwarder last forgot its learn requests
  uint64_t ask_again_tsc_ = 0;    // a millisecond
  size_t learn_queue_capacity_ = 0;  // write_available() of the empty learn queue
  bool stop_requested_ = false;
  // Interrupt waits happen only on the thread in Run(): a caller that drives
  // PollOnce() by hand (the control thread in manual mode) must not block.
  bool in_run_ = false;
  bool interrupts_ready_ = false;
  // The RX queues in the thread's epoll set; more queues than this are polled
  // with timed sleeps.
  std::array<RxQueueAssignment, 64> registered_{};
  // The epoll registrations of TapQueue descriptors, by registered_ index.
  std::array<rte_epoll_event, 64> tap_events_{};
  size_t registered_count_ = 0;
  int wake_fd_ = -1;  // eventfd written by Wake()
  bool wake_registered_ = false;  // wake_fd_ is in the thread's epoll set
  // net_tap's RX signal handler and signal, run after a wait (see WaitForInterrupt).
  void (*rx_trigger_)(int) = nullptr;
  int rx_trigger_signal_ = 0;
  rte_epoll_event wake_event_{};

  std::unique_ptr<PortCounters[]> port_counters_;
  PmdCounters counters_;

  boost::lockfree::spsc_queue<Command, boost::lockfree::capacity<256>> commands_;
  boost::lockfree::spsc_queue<PmdSnapshot*, boost::lockfree::capacity<256>> retired_;
  boost::lockfree::spsc_queue<LearnRequest, boost::lockfree::capacity<kLearnQueueSize>>
      learn_queue_;
  alignas(64) std::atomic<uint64_t> applied_version_{0};
  std::atomic<bool> running_{false};
};

// Entry point for rte_eal_remote_launch: `arg` is a Pmd*.
int PmdLaunch(void* arg);

}  // namespace dpbridge
