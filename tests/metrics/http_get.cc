// SPDX-License-Identifier: Apache-2.0
// HttpGet: a blocking loopback HTTP/1.0 client with timeouts.
#include "http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dpbridge {

namespace {

// Closes the socket on every return path.
class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
};

Status Errno(const std::string& what) { return Status::Error(what + ": " + std::strerror(errno)); }

}  // namespace

Result<HttpResponse> HttpGet(uint16_t port, const std::string& path, int timeout_ms) {
  Socket sock;
  if (sock.fd() < 0) return Errno("socket");
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(sock.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(sock.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Errno("connect to 127.0.0.1:" + std::to_string(port));
  }

  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(sock.fd(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return Errno("send");
  }

  std::string reply;
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(sock.fd(), buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) return Errno("recv");
    reply.append(buffer, static_cast<size_t>(n));
  }

  // "HTTP/1.x NNN reason\r\n" headers "\r\n\r\n" body
  const size_t line_end = reply.find("\r\n");
  const size_t head_end = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.", 0) != 0 || line_end == std::string::npos ||
      head_end == std::string::npos || line_end < 12) {
    return Status::Error("not an HTTP reply: '" + reply.substr(0, 80) + "'");
  }
  HttpResponse response;
  response.status_code = std::atoi(reply.c_str() + 9);
  response.headers = reply.substr(line_end + 2, head_end - line_end - 2);
  response.body = reply.substr(head_end + 4);
  return response;
}

}  // namespace dpbridge
