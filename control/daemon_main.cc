// SPDX-License-Identifier: Apache-2.0
// dpbridge: the daemon. Parses its options, starts the EAL and the Switch,
// restores the saved state, then serves the control socket and ticks the
// switch until SIGTERM or SIGINT.
#include <poll.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command_handler.h"
#include "control_server.h"
#include "daemon_options.h"
#include "log.h"
#include "netns_manager.h"
#include "state_store.h"
#include "switch.h"

#if __has_include("metrics_exporter.h")
#include "metrics_exporter.h"
#define DPBRIDGE_HAVE_METRICS 1
#endif

namespace dpbridge {
namespace {

Logger daemon_log("daemon");

// The switch's periodic work runs at least this often.
// The control loop ticks every 2 ms while there is work (learn requests, link
// changes) and every 20 ms when the switch is quiet, so that an idle daemon
// wakes 50 times a second instead of 500; the first learn request after a
// quiet spell waits at most 20 ms (its frames are flooded meanwhile).
constexpr int kBusyTickMs = 2;
constexpr int kIdleTickMs = 20;
constexpr int kIdleTicksBeforeSlowing = 50;

// One line on stderr (journald keeps it); nothing else, so that a script
// or a person sees exactly what went wrong and what to do.
int Fail(const std::string& message) {
  std::fprintf(stderr, "dpbridge: %s\n", message.c_str());
  return 1;
}

// Blocks SIGTERM and SIGINT (in every thread created later, EAL's included)
// and returns a descriptor that reads them.
int OpenSignalFd() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
}

int Run(const DaemonOptions& options) {
  // Everything that can be checked without the EAL is checked first, so
  // that a mistake costs a line, not a DPDK start-up.
  StateStore store(options.state_dir);
  if (Status prepared = store.Prepare(); !prepared.ok()) return Fail(prepared.message());
  Result<SavedState> state = store.Load();
  if (!state.ok()) return Fail(state.message());
  if (Status huge = CheckHugepages(options); !huge.ok()) return Fail(huge.message());
  Result<std::unique_ptr<ControlServer>> server = ControlServer::Listen(options.socket_path);
  if (!server.ok()) return Fail(server.message());
  const int signal_fd = OpenSignalFd();
  if (signal_fd < 0) return Fail("cannot create a signalfd");

  // A saved PCI port needs the EAL to probe PCI devices.
  DaemonOptions eal_options = options;
  for (const PortSpec& spec : state.value().ports) {
    eal_options.allow_pci = eal_options.allow_pci || spec.type == PortType::kPci;
  }
  std::vector<std::string> eal_args = BuildEalArgs(eal_options);
  std::string joined;
  for (const std::string& arg : eal_args) joined += " " + arg;
  daemon_log.Log(LogLevel::kInfo, "starting EAL:%s", joined.c_str());
  std::vector<char*> eal_argv;
  for (std::string& arg : eal_args) eal_argv.push_back(arg.data());
  eal_argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(eal_args.size()), eal_argv.data()) < 0) {
    return Fail(std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno) +
                "; check --lcores against the CPUs (nproc) and the EAL messages above");
  }

  int exit_code = 0;
  {
    Result<std::unique_ptr<Switch>> bridge = Switch::Create(options.switch_options);
    if (!bridge.ok()) {
      rte_eal_cleanup();
      return Fail(bridge.message());
    }

    NetnsManager netns;
    CommandHandler handler(*bridge.value(), store, netns, state.value());
    handler.SetServerStats(&server.value()->stats());

#ifdef DPBRIDGE_HAVE_METRICS
    std::unique_ptr<MetricsExporter> exporter;
    if (options.metrics_address != "off") {
      Switch* metrics_source = bridge.value().get();
      auto started = MetricsExporter::Start(options.metrics_address,
                                            [metrics_source] { return metrics_source->Metrics(); });
      if (!started.ok()) {
        server.value().reset();
        bridge.value().reset();
        rte_eal_cleanup();
        return Fail(started.message());
      }
      exporter = std::move(started.value());
      daemon_log.Log(LogLevel::kInfo, "metrics on http://%s/metrics", exporter->address().c_str());
      server.value()->SetObserver([&exporter](std::string_view command, bool ok) {
        exporter->CountRequest(command, ok);
      });
    }
#else
    // Limitation: built without control/metrics/metrics_exporter.h, so
    // --metrics is accepted but nothing is exported.
    daemon_log.Log(LogLevel::kWarning, "built without the metrics exporter; --metrics ignored");
#endif

    for (const std::string& problem : handler.Restore()) {
      daemon_log.Log(LogLevel::kError, "restore: %s (kept in the state file)", problem.c_str());
    }
    daemon_log.Log(LogLevel::kInfo, "ready: %zu ports, control socket %s, state %s",
                   bridge.value()->ListPorts().size(), options.socket_path.c_str(),
                   store.path().c_str());

    const auto handle = [&handler](const Request& request) { return handler.Handle(request); };
    std::vector<pollfd> fds;
    int idle_ticks = 0;
    while (true) {
      fds.clear();
      fds.push_back({signal_fd, POLLIN, 0});
      server.value()->AppendPollFds(&fds);
      const int tick_ms = idle_ticks >= kIdleTicksBeforeSlowing ? kIdleTickMs : kBusyTickMs;
      if (poll(fds.data(), fds.size(), tick_ms) < 0 && errno != EINTR) {
        exit_code = Fail(std::string("poll failed: ") + std::strerror(errno));
        break;
      }
      if (fds[0].revents & POLLIN) {
        signalfd_siginfo info{};
        (void)!read(signal_fd, &info, sizeof(info));
        daemon_log.Log(LogLevel::kInfo, "signal %s: shutting down",
                       info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
      }
      server.value()->Process(std::span<const pollfd>(fds).subspan(1), handle);
      idle_ticks = bridge.value()->Tick() ? 0 : idle_ticks + 1;
    }

    // Stop answering before the switch goes; the exporter before its source.
    server.value().reset();
#ifdef DPBRIDGE_HAVE_METRICS
    exporter.reset();
#endif
    bridge.value().reset();
  }
  close(signal_fd);
  rte_eal_cleanup();
  if (const size_t removed = RemoveHugepageFiles(options); removed > 0) {
    daemon_log.Log(LogLevel::kInfo, "removed %zu hugepage files", removed);
  }
  daemon_log.Log(LogLevel::kInfo, "stopped");
  return exit_code;
}

}  // namespace
}  // namespace dpbridge

int main(int argc, char** argv) {
  int exit_code = 0;
  std::optional<dpbridge::DaemonOptions> options =
      dpbridge::ParseDaemonCommandLine(argc, argv, &exit_code);
  if (!options) return exit_code;
  dpbridge::Logger::SetGlobalLevel(options->log_level);
  return dpbridge::Run(*options);
}
