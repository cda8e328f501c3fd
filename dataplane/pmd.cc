// SPDX-License-Identifier: Apache-2.0
// Pmd: the poll loop, its command handling and its idle back-off.
#include "dpbridge/pmd.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <span>

#include "dpbridge/clock.h"
#include "dpbridge/tap_queue.h"
#include "forwarder.h"

namespace dpbridge {

namespace {

// The longest interrupt wait; commands and frames end it sooner.
constexpr int kInterruptWaitMs = 200;
constexpr int kMaxEvents = 16;

}  // namespace

Pmd::Pmd(unsigned id, MacTable& table, const PmdOptions& options)
    : id_(id),
      table_(table),
      options_(options),
      port_counters_(new PortCounters[kMaxPorts]) {
  forwarder_ = std::make_unique<Forwarder>(table_, port_counters_.get());
  ask_again_tsc_ = rte_get_tsc_hz() / 1000;
  learn_queue_capacity_ = learn_queue_.write_available();
  // Without it the thread keeps to timed sleeps.
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Pmd::~Pmd() {
  Command command;
  while (commands_.pop(command)) delete command.snapshot;
  ReclaimSnapshots();
  delete snapshot_;
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Pmd::Wake() noexcept {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

bool Pmd::Publish(std::unique_ptr<PmdSnapshot> snapshot) {
  Command command{CommandKind::kSnapshot, snapshot.get(), 0};
  if (!commands_.push(command)) return false;
  snapshot.release();
  Wake();
  return true;
}

void Pmd::ReclaimSnapshots() {
  PmdSnapshot* old = nullptr;
  while (retired_.pop(old)) delete old;
}

bool Pmd::SetMaxSleep(uint32_t max_sleep_us) {
  const bool queued = commands_.push(Command{CommandKind::kSetMaxSleep, nullptr, max_sleep_us});
  Wake();
  return queued;
}

bool Pmd::RequestStop() {
  const bool queued = commands_.push(Command{CommandKind::kStop, nullptr, 0});
  Wake();
  return queued;
}

PmdCountersSnapshot Pmd::counters() const noexcept {
  return {counters_.busy_cycles.Load(),    counters_.idle_cycles.Load(),
          counters_.iterations.Load(),     counters_.rx_packets.Load(),
          counters_.sleeps.Load(),         counters_.learn_requests.Load(),
          counters_.learn_queue_full.Load(), counters_.interrupt_waits.Load()};
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
  // Before the acknowledgement: once it is seen, a removed port may close.
  if (in_run_) RegisterInterrupts(snapshot);
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

void Pmd::RegisterInterrupts(const PmdSnapshot* snapshot) noexcept {
  for (size_t i = 0; i < registered_count_; ++i) {
    const RxQueueAssignment& rxq = registered_[i];
    if (rxq.tap != nullptr) {
      (void)rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_DEL, rxq.tap->fd(), &tap_events_[i]);
    } else {
      (void)rte_eth_dev_rx_intr_ctl_q(rxq.dpdk_port, rxq.queue, RTE_EPOLL_PER_THREAD,
                                      RTE_INTR_EVENT_DEL, nullptr);
    }
  }
  registered_count_ = 0;
  // All or nothing: one queue that cannot wake the thread would wait for
  // kInterruptWaitMs with frames in it.
  bool ready = snapshot != nullptr && !snapshot->rx_queues.empty() && wake_registered_ &&
               snapshot->rx_queues.size() <= registered_.size();
  if (ready) {
    for (const RxQueueAssignment& rxq : snapshot->rx_queues) {
      bool added = false;
      if (rxq.tap != nullptr) {
        // A TapQueue's descriptor is readable when a frame waits.
        rte_epoll_event& event = tap_events_[registered_count_];
        event = {};
        event.epdata.event = EPOLLIN | EPOLLET;
        added = rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_ADD, rxq.tap->fd(), &event) == 0;
      } else {
        added = rxq.interrupt &&
                rte_eth_dev_rx_intr_ctl_q(rxq.dpdk_port, rxq.queue, RTE_EPOLL_PER_THREAD,
                                          RTE_INTR_EVENT_ADD, nullptr) == 0;
      }
      if (!added) {
        ready = false;
        break;
      }
      registered_[registered_count_++] = rxq;
    }
  }
  interrupts_ready_ = ready;
  // net_tap's queue descriptors raise a real-time signal as well as the
  // readiness epoll sees (fcntl F_SETSIG); its handler counts frames. Keep
  // that handler for WaitForInterrupt. None, or one taking siginfo: nothing
  // to run.
  rx_trigger_ = nullptr;
  for (const RxQueueAssignment& rxq : std::span(registered_.data(), registered_count_)) {
    if (rxq.tap != nullptr) continue;
    const int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(rxq.dpdk_port, rxq.queue);
    const int signo = fd >= 0 ? fcntl(fd, F_GETSIG) : 0;
    struct sigaction action {};
    if (signo > 0 && sigaction(signo, nullptr, &action) == 0 &&
        (action.sa_flags & SA_SIGINFO) == 0 && action.sa_handler != SIG_DFL &&
        action.sa_handler != SIG_IGN) {
      rx_trigger_ = action.sa_handler;
      rx_trigger_signal_ = signo;
      break;
    }
  }
}

void Pmd::WaitForInterrupt() noexcept {
  for (const RxQueueAssignment& rxq : snapshot_->rx_queues) {
    if (rxq.tap == nullptr) (void)rte_eth_dev_rx_intr_enable(rxq.dpdk_port, rxq.queue);
  }
  // The queues' descriptors are registered edge-triggered since the snapshot
  // was adopted, so a frame that came after the last poll has already queued
  // its event and the wait returns at once.
  rte_epoll_event events[kMaxEvents];
  (void)rte_epoll_wait(RTE_EPOLL_PER_THREAD, events, kMaxEvents, kInterruptWaitMs);
  // net_tap reads a queue only after its signal handler has counted a signal
  // since the queue's last empty read. The kernel sends the signal before it
  // wakes the epoll set, but the handler runs in whichever thread takes it,
  // maybe after this thread has polled in vain and waited again with the
  // frame queued (measured: one ping in three held until the next frame).
  // Running the handler here makes the next poll read every queue.
  if (rx_trigger_ != nullptr) rx_trigger_(rx_trigger_signal_);
  for (const RxQueueAssignment& rxq : snapshot_->rx_queues) {
    if (rxq.tap == nullptr) (void)rte_eth_dev_rx_intr_disable(rxq.dpdk_port, rxq.queue);
  }
  uint64_t wakes = 0;
  (void)!read(wake_fd_, &wakes, sizeof(wakes));
  counters_.sleeps.Add(1);
  counters_.interrupt_waits.Add(1);
}

void Pmd::Backoff() noexcept {
  if (options_.max_sleep_us == 0 || ++idle_iterations_ < options_.idle_spins_before_sleep) {
    rte_pause();
    return;
  }
  if (interrupts_ready_) {
    WaitForInterrupt();
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
  // Unknown sources are asked for again once the control thread has taken
  // every request (so a source it could not learn, or whose request was lost,
  // is not lost for good) and not more often than every millisecond.
  if (start - asked_reset_tsc_ > ask_again_tsc_ &&
      learn_queue_.write_available() == learn_queue_capacity_) {
    forwarder_->ForgetAsked();
    asked_reset_tsc_ = start;
  }

  uint32_t received = 0;
  if (snapshot_ != nullptr) {
    const uint32_t now_s = NowSeconds();
    std::array<rte_mbuf*, Forwarder::kBurstSize> frames;
    for (const RxQueueAssignment& rxq : snapshot_->rx_queues) {
      const uint16_t count =
          rxq.tap != nullptr
              ? rxq.tap->Receive(frames.data(), Forwarder::kBurstSize)
              : rte_eth_rx_burst(rxq.dpdk_port, rxq.queue, frames.data(), Forwarder::kBurstSize);
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
  in_run_ = true;
  // The wake-up descriptor shares the thread's epoll set with the RX queues.
  if (wake_fd_ >= 0) {
    wake_event_.epdata.event = EPOLLIN | EPOLLET;
    wake_registered_ =
        rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_ADD, wake_fd_, &wake_event_) == 0;
  }
  RegisterInterrupts(snapshot_);
  running_.store(true, std::memory_order_release);
  while (!stop_requested_) PollOnce();
  RegisterInterrupts(nullptr);
  if (wake_registered_) {
    (void)rte_epoll_ctl(RTE_EPOLL_PER_THREAD, EPOLL_CTL_DEL, wake_fd_, &wake_event_);
    wake_registered_ = false;
  }
  in_run_ = false;
  running_.store(false, std::memory_order_release);
}

int PmdLaunch(void* arg) {
  static_cast<Pmd*>(arg)->Run();
  return 0;
}

}  // namespace dpbridge
