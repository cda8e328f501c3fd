// SPDX-License-Identifier: Apache-2.0
// Pmd: the poll loop, its command handling and its idle back-off.
#include "dpbridge/pmd.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>
#include <sys/prctl.h>

#include <algorithm>
#include <ctime>

#include "dpbridge/clock.h"
#include "forwarder.h"

namespace dpbridge {

Pmd::Pmd(unsigned id, MacTable& table, const PmdOptions& options)
    : id_(id),
      table_(table),
      options_(options),
      port_counters_(new PortCounters[kMaxPorts]) {
  forwarder_ = std::make_unique<Forwarder>(table_, port_counters_.get());
}

Pmd::~Pmd() {
  Command command;
  while (commands_.pop(command)) delete command.snapshot;
  ReclaimSnapshots();
  delete snapshot_;
}

bool Pmd::Publish(std::unique_ptr<PmdSnapshot> snapshot) {
  Command command{CommandKind::kSnapshot, snapshot.get(), 0};
  if (!commands_.push(command)) return false;
  snapshot.release();
  return true;
}

void Pmd::ReclaimSnapshots() {
  PmdSnapshot* old = nullptr;
  while (retired_.pop(old)) delete old;
}

bool Pmd::SetMaxSleep(uint32_t max_sleep_us) {
  return commands_.push(Command{CommandKind::kSetMaxSleep, nullptr, max_sleep_us});
}

bool Pmd::RequestStop() { return commands_.push(Command{CommandKind::kStop, nullptr, 0}); }

PmdCountersSnapshot Pmd::counters() const noexcept {
  return {counters_.busy_cycles.Load(),    counters_.idle_cycles.Load(),
          counters_.iterations.Load(),     counters_.rx_packets.Load(),
          counters_.sleeps.Load(),         counters_.learn_requests.Load(),
          counters_.learn_queue_full.Load()};
}

void Pmd::Adopt(PmdSnapshot* snapshot) noexcept {
  // A port index given to a new port starts its counters from zero.
  for (uint16_t p = 0; p < kMaxPorts; ++p) {
    const uint32_t generation = snapshot->ports[p].generation;
    if (generation != port_generation_[p]) {
      port_counters_[p].Reset();
      port_generation_[p] = generation;
    }
  }
  PmdSnapshot* old = snapshot_;
  snapshot_ = snapshot;
  applied_version_.store(snapshot->version, std::memory_order_release);
  // retired_ is as large as commands_, and each command retires at most one
  // snapshot, so this push does not fail while the control side reclaims.
  if (old != nullptr) retired_.push(old);
}

void Pmd::ApplyCommands() noexcept {
  Command command;
  while (commands_.pop(command)) {
    switch (command.kind) {
      case CommandKind::kSnapshot:
        Adopt(command.snapshot);
        break;
      case CommandKind::kSetMaxSleep:
        options_.max_sleep_us = command.value;
        break;
      case CommandKind::kStop:
        stop_requested_ = true;
        break;
    }
  }
}

void Pmd::Backoff() noexcept {
  if (options_.max_sleep_us == 0 || ++idle_iterations_ < options_.idle_spins_before_sleep) {
    rte_pause();
    return;
  }
  // Double the sleep on every empty iteration up to the bound: a switch that
  // just went quiet wakes often, one that stays quiet costs almost nothing.
  // After a second without packets the bound grows eightfold: a timer wake-up
  // costs some 35 us of CPU under a hypervisor, and an idle switch should
  // stay under 2% of a core; traffic resumes at full speed from the first
  // packet, which waits at most one sleep.
  constexpr uint32_t kDeepIdleFactor = 8;
  const bool deep_idle = rte_rdtsc() - last_packet_tsc_ > rte_get_tsc_hz();
  const uint32_t bound = options_.max_sleep_us * (deep_idle ? kDeepIdleFactor : 1);
  sleep_us_ = std::clamp(sleep_us_ * 2, 1u, bound);
  counters_.sleeps.Add(1);
  const timespec duration{0, static_cast<long>(sleep_us_) * 1000};
  nanosleep(&duration, nullptr);
}

uint32_t Pmd::PollOnce() noexcept {
  const uint64_t start = rte_rdtsc();
  ApplyCommands();

  uint32_t received = 0;
  if (snapshot_ != nullptr) {
    const uint32_t now_s = NowSeconds();
    std::array<rte_mbuf*, Forwarder::kBurstSize> frames;
    for (const RxQueueAssignment& rxq : snapshot_->rx_queues) {
      const uint16_t count =
          rte_eth_rx_burst(rxq.dpdk_port, rxq.queue, frames.data(), Forwarder::kBurstSize);
      if (count == 0) continue;
      received += count;
      forwarder_->ProcessBurst(*snapshot_, rxq.port_index, frames.data(), count, now_s);

      for (const LearnRequest& request : forwarder_->learn_requests()) {
        if (!learn_queue_.push(request)) counters_.learn_queue_full.Add(1);
      }
      counters_.learn_requests.Add(forwarder_->learn_requests().size());
      forwarder_->Flush(*snapshot_);
    }
  }

  counters_.iterations.Add(1);
  if (received > 0) {
    counters_.rx_packets.Add(received);
    idle_iterations_ = 0;
    sleep_us_ = 0;
    last_packet_tsc_ = rte_rdtsc();
    counters_.busy_cycles.Add(last_packet_tsc_ - start);
  } else {
    Backoff();
    counters_.idle_cycles.Add(rte_rdtsc() - start);
  }
  return received;
}

void Pmd::Run() noexcept {
  // Linux stretches a normal thread's sleeps by up to 50 us of timer slack so that
  // wake-ups can be merged. The back-off asks for 1, 2, 4 ... us after a short lull in
  // traffic; stretched, each of those would let the vhost rings fill for 50 us.
  (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  running_.store(true, std::memory_order_release);
  while (!stop_requested_) PollOnce();
  running_.store(false, std::memory_order_release);
}

int PmdLaunch(void* arg) {
  static_cast<Pmd*>(arg)->Run();
  return 0;
}

}  // namespace dpbridge
