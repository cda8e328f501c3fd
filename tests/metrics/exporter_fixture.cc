// SPDX-License-Identifier: Apache-2.0
// dpbridge_metrics_fixture: serves FixedMetricsView on /metrics until SIGTERM,
// so that the exporter can be scraped by a real Prometheus without a switch.
//
// Usage: dpbridge_metrics_fixture [ADDR:PORT]   (default 127.0.0.1:0, any free port)
// Prints "metrics on ADDR:PORT" once it listens.
#include <csignal>
#include <cstdio>
#include <string>

#include "fixed_metrics_view.h"
#include "metrics_exporter.h"

int main(int argc, char** argv) {
  if (argc > 2) {
    std::fprintf(stderr, "usage: %s [ADDR:PORT]\n", argv[0]);
    return 2;
  }
  const std::string address = argc == 2 ? argv[1] : "127.0.0.1:0";

  // Block the stop signals before any thread starts, then wait for one.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto exporter = dpbridge::MetricsExporter::Start(address, dpbridge::FixedMetricsView);
  if (!exporter.ok()) {
    std::fprintf(stderr, "%s\n", exporter.message().c_str());
    return 1;
  }
  exporter.value()->CountRequest("port_add", true);
  std::printf("metrics on %s\n", exporter.value()->address().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop, &signal_number);
  return 0;
}
