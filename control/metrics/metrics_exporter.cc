// SPDX-License-Identifier: Apache-2.0
// MetricsExporter: the HTTP endpoint around MetricsCollector.
#include "metrics_exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/exposer.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "metrics_collector.h"

namespace dpbridge {

namespace {

// Two threads: a slow or stuck client cannot block Prometheus. The timeout
// frees a thread from a client that stops sending in mid-request.
constexpr const char* kServerThreads = "2";
constexpr const char* kRequestTimeoutMs = "10000";

struct Endpoint {
  in_addr host{};
  uint16_t port = 0;
};

// Parses "A.B.C.D:PORT", "localhost:PORT" or "PORT".
std::optional<Endpoint> ParseAddress(std::string_view text) {
  std::string host = "127.0.0.1";
  std::string_view port_text = text;
  if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";

  Endpoint endpoint;
  unsigned port = 0;
  const char* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc() || ptr != end || port > 65535) return std::nullopt;
  if (inet_pton(AF_INET, host.c_str(), &endpoint.host) != 1) return std::nullopt;
  endpoint.port = static_cast<uint16_t>(port);
  return endpoint;
}

std::string FormatAddress(const Endpoint& endpoint, uint16_t port) {
  char host[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &endpoint.host, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(port);
}

// civetweb reports only that it failed; a bind of our own says why.
std::string BindFailureReason(const Endpoint& endpoint) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr = endpoint.host;
  addr.sin_port = htons(endpoint.port);
  const int rc = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  close(fd);
  return rc == 0 ? "the HTTP server could not start" : std::strerror(bind_errno);
}

}  // namespace

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(
    const std::string& bind_address, std::function<MetricsView()> source) {
  const std::optional<Endpoint> endpoint = ParseAddress(bind_address);
  if (!endpoint) {
    return Status::Error("metrics address '" + bind_address +
                         "': expected IPv4:PORT such as 127.0.0.1:9417 (host names other than "
                         "localhost and IPv6 are not supported)");
  }
  const std::string requested = FormatAddress(*endpoint, endpoint->port);

  std::unique_ptr<MetricsExporter> exporter(new MetricsExporter());
  exporter->collector_ = std::make_shared<MetricsCollector>(std::move(source));
  try {
    exporter->exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", requested, "num_threads", kServerThreads, "request_timeout_ms",
        kRequestTimeoutMs});
  } catch (const std::exception&) {
    return Status::Error("metrics address " + requested + ": cannot listen (" +
                         BindFailureReason(*endpoint) +
                         "); pick a free port or a local address with --metrics ADDR:PORT");
  }
  exporter->exposer_->RegisterCollectable(exporter->collector_);

  const std::vector<int> ports = exporter->exposer_->GetListeningPorts();
  exporter->port_ = ports.empty() ? endpoint->port : static_cast<uint16_t>(ports.front());
  exporter->address_ = FormatAddress(*endpoint, exporter->port_);
  return exporter;
}

MetricsExporter::~MetricsExporter() = default;

void MetricsExporter::CountRequest(std::string_view command, bool ok) noexcept {
  collector_->CountRequest(command, ok);
}

}  // namespace dpbridge
