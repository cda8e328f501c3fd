// SPDX-License-Identifier: Apache-2.0
//
// ControlClient: dpbridgectl's side of the control socket.
//
// One connection, one request line out, one reply line back, bounded by a
// timeout so that a stuck daemon cannot hang a script. Errors are one line
// that says what to do ("is the daemon running? start it with ...").
//
// Thread-safety: one thread per client.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "protocol.h"
#include "status.h"

namespace dpbridge {

class ControlClient {
 public:
  explicit ControlClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}

  // Sends `request` and waits up to `timeout_ms` for its reply. The result
  // is the reply's result, or an error: the daemon's, or why it could not
  // be reached.
  [[nodiscard]] Result<nlohmann::json> Call(const Request& request, int timeout_ms) const;

 private:
  std::string socket_path_;
};

}  // namespace dpbridge
