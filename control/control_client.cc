// SPDX-License-Identifier: Apache-2.0
// dpbridgectl's connection to the daemon.
#include "control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace dpbridge {

namespace {

// Closes the descriptor on every return path.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<nlohmann::json> ControlClient::Call(const Request& request, int timeout_ms) const {
  const std::string unreachable = "cannot reach dpbridge at " + socket_path_ + ": ";
  const std::string hint =
      "; is the daemon running? start it with `dpbridge` (or `systemctl start dpbridge`), or "
      "point --socket at its socket";

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(address.sun_path)) {
    return Status::Error(unreachable + "socket path too long");
  }
  std::memcpy(address.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  FdGuard fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::Error(unreachable + std::strerror(errno));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    if (error == EACCES) {
      return Status::Error(unreachable + std::strerror(error) +
                           "; the socket is root-only (0600): run dpbridgectl as root");
    }
    return Status::Error(unreachable + std::strerror(error) + hint);
  }

  const std::string line = FormatRequest(request);
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Error(unreachable + "send failed: " + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string reply;
  char buffer[65536];
  while (reply.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status::Error("dpbridge at " + socket_path_ + " did not answer within " +
                           std::to_string(timeout_ms / 1000) + " s; check its log");
    }
    pollfd pfd = {fd.get(), POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::Error("dpbridge at " + socket_path_ +
                           " closed the connection without a reply; check its log");
    }
    reply.append(buffer, static_cast<size_t>(n));
  }
  return ParseReply(std::string_view(reply).substr(0, reply.find('\n')));
}

}  // namespace dpbridge
