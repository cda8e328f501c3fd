// SPDX-License-Identifier: Apache-2.0
//
// MetricsExporter: serves /metrics over HTTP for Prometheus to scrape.
//
// It runs prometheus-cpp's pull Exposer (an embedded civetweb server with its
// own threads) and registers a MetricsCollector that builds every family from
// one MetricsView per scrape. Nothing is collected between scrapes; a scrape
// costs the dataplane nothing beyond the relaxed counter reads the view makes.
// The endpoint also carries prometheus-cpp's own exposer_* metrics (scrape
// counts and bytes served).
//
// Thread-safety: Start() and the destructor belong to one thread (the
// daemon's). CountRequest() may be called from any thread. `source` is called
// on the HTTP server's threads, possibly two at once.
//
// Limitations: IPv4 only (Debian's civetweb is built without IPv6), plain
// HTTP without authentication: bind to loopback, which is the default, or put
// a proxy with TLS in front. A bare port number binds 127.0.0.1, never every
// interface. Stopping takes up to two seconds: civetweb's listener notices
// the stop flag only between waits of that length.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "status.h"
#include "switch.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace dpbridge {

class MetricsCollector;

inline constexpr std::string_view kDefaultMetricsAddress = "127.0.0.1:9417";

class MetricsExporter {
 public:
  // Listens on `bind_address` ("A.B.C.D:PORT", or "PORT" for 127.0.0.1:PORT;
  // port 0 picks a free port, see port()) and serves /metrics from `source`.
  // Fails with a message naming the address and what to do when the address
  // is malformed or cannot be bound (in use, not local).
  [[nodiscard]] static Result<std::unique_ptr<MetricsExporter>> Start(
      const std::string& bind_address, std::function<MetricsView()> source);

  ~MetricsExporter();  // stops the HTTP server; no scrape runs afterwards
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  // Counts one control request by command name and result; names outside
  // kControlCommandNames count as "unknown". Lock-free; any thread.
  void CountRequest(std::string_view command, bool ok) noexcept;

  // The address and port actually listened on ("127.0.0.1:9417").
  [[nodiscard]] const std::string& address() const { return address_; }
  [[nodiscard]] uint16_t port() const { return port_; }

 private:
  MetricsExporter() = default;

  // Declared before exposer_ so that the server stops before the collector
  // it calls goes away.
  std::shared_ptr<MetricsCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
  uint16_t port_ = 0;
};

}  // namespace dpbridge
