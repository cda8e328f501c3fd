// SPDX-License-Identifier: Apache-2.0
//
// ControlServer: the daemon's Unix control socket (docs/control-protocol.md).
//
// Every socket is non-blocking and the daemon's loop polls them together
// with its own descriptors (AppendPollFds() then Process()), so a slow or
// stuck client never holds up the switch: a client's input is read as it
// arrives, its replies are queued and written when the socket takes them.
// While a client has unsent replies, its further requests wait (back
// pressure instead of an unbounded queue).
//
// Bad input is answered, counted and contained: a malformed line or one
// longer than kMaxRequestSize gets an error reply, after which that
// connection is closed; the daemon and other clients go on.
//
// Thread-safety: one thread (the daemon's control thread).
//
// Limitations: at most kMaxClients connections at a time; a client whose
// unsent replies exceed kMaxPendingReplySize is disconnected.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "protocol.h"
#include "status.h"

namespace dpbridge {

struct ControlServerStats {
  uint64_t connections = 0;         // accepted
  uint64_t connections_refused = 0;  // past kMaxClients
  uint64_t requests = 0;            // answered, whatever the outcome
  uint64_t requests_failed = 0;     // answered with an error (bad input included)
  uint64_t malformed = 0;           // not a valid request line
  uint64_t oversized = 0;           // longer than kMaxRequestSize
  uint64_t slow_clients_dropped = 0;
};

class ControlServer {
 public:
  static constexpr size_t kMaxClients = 64;
  static constexpr size_t kMaxPendingReplySize = 16 * 1024 * 1024;

  // Answers one well-formed request: its result or an error.
  using Handler = std::function<Result<nlohmann::json>(const Request&)>;
  // Told about every answered request (e.g. the metrics exporter's counter).
  using RequestObserver = std::function<void(std::string_view command, bool ok)>;

  // Binds `path` with mode 0600 (creating its directory, 0755, if needed).
  // A stale socket file is replaced; a live one (another daemon answers on
  // it) is an error.
  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> Listen(const std::string& path);
  ~ControlServer();  // closes every connection and removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void SetObserver(RequestObserver observer) { observer_ = std::move(observer); }

  // Appends the descriptors to poll; call Process() with the same entries
  // (the span starting at the first one appended) after poll() returns.
  void AppendPollFds(std::vector<pollfd>* fds) const;
  void Process(std::span<const pollfd> fds, const Handler& handler);

  [[nodiscard]] const ControlServerStats& stats() const { return stats_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  struct Client {
    int fd = -1;
    std::string input;
    std::string output;
    bool close_when_flushed = false;
    bool closed = false;
  };

  ControlServer(int listen_fd, std::string path);
  void Accept();
  void Read(Client& client, const Handler& handler);
  void AnswerLines(Client& client, const Handler& handler);
  void Answer(Client& client, std::string_view line, const Handler& handler);
  void Write(Client& client);
  void Reject(Client& client, const std::string& message);

  int listen_fd_;
  std::string path_;
  std::vector<std::unique_ptr<Client>> clients_;
  ControlServerStats stats_;
  RequestObserver observer_;
};

}  // namespace dpbridge
