// SPDX-License-Identifier: Apache-2.0
// The control socket: non-blocking accept, line framing, replies.
#include "control_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log.h"

namespace dpbridge {

namespace {

Logger ctl_log("ctl");

std::string Errno() { return std::strerror(errno); }

// Requests answered per client per Process(), so that one client sending a
// stream of requests cannot starve the others or the switch's Tick().
constexpr int kMaxRequestsPerRound = 16;

bool FillAddress(const std::string& path, sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  if (path.size() >= sizeof(address->sun_path)) return false;
  std::memcpy(address->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// True if a daemon answers on `path`.
bool SomeoneListens(const sockaddr_un& address) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool live = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return live;
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Listen(const std::string& path) {
  sockaddr_un address;
  if (!FillAddress(path, &address)) {
    return Status::Error("control socket " + path + ": path too long (limit " +
                         std::to_string(sizeof(address.sun_path) - 1) + " bytes)");
  }
  if (const size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Error("control socket " + path + ": cannot create " + dir + ": " + Errno() +
                           "; choose another path with --socket");
    }
  }
  if (SomeoneListens(address)) {
    return Status::Error("control socket " + path + ": another dpbridge is running on it; stop " +
                         "it first or choose another path with --socket");
  }
  unlink(path.c_str());  // a stale file left by a killed daemon

  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("control socket: " + Errno());
  // The umask makes the socket 0600 from the moment it exists.
  const mode_t old_mask = umask(0177);
  const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const std::string bind_error = Errno();
  umask(old_mask);
  if (bound != 0 || chmod(path.c_str(), 0600) != 0 || listen(fd, 16) != 0) {
    close(fd);
    return Status::Error("control socket " + path + ": cannot listen: " +
                         (bound != 0 ? bind_error : Errno()) +
                         "; run as root or choose another path with --socket");
  }
  return std::unique_ptr<ControlServer>(new ControlServer(fd, path));
}

ControlServer::ControlServer(int listen_fd, std::string path)
    : listen_fd_(listen_fd), path_(std::move(path)) {}

ControlServer::~ControlServer() {
  for (const auto& client : clients_) close(client->fd);
  close(listen_fd_);
  unlink(path_.c_str());
}

void ControlServer::AppendPollFds(std::vector<pollfd>* fds) const {
  fds->push_back({listen_fd_, POLLIN, 0});
  for (const auto& client : clients_) {
    // A client with unsent replies is only written to (back pressure).
    const short events = client->output.empty() ? POLLIN : POLLOUT;
    fds->push_back({client->fd, events, 0});
  }
}

void ControlServer::Process(std::span<const pollfd> fds, const Handler& handler) {
  // Entries after the listening socket match clients_ as AppendPollFds saw them.
  const size_t known = std::min(fds.size() - 1, clients_.size());
  for (size_t i = 0; i < known; ++i) {
    Client& client = *clients_[i];
    const short revents = fds[i + 1].revents;
    if (revents & POLLOUT) Write(client);
    if (revents & (POLLIN | POLLHUP | POLLERR)) Read(client, handler);
    // Lines already buffered while replies were pending.
    if (!client.closed && client.output.empty()) AnswerLines(client, handler);
    if (!client.closed && !client.output.empty()) Write(client);
  }
  if (!fds.empty() && (fds[0].revents & POLLIN)) Accept();

  std::erase_if(clients_, [](const std::unique_ptr<Client>& client) {
    if (client->closed) close(client->fd);
    return client->closed;
  });
}

void ControlServer::Accept() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        ctl_log.Log(LogLevel::kError, "control socket %s: accept failed: %s", path_.c_str(),
                    Errno().c_str());
      }
      return;
    }
    if (clients_.size() >= kMaxClients) {
      ++stats_.connections_refused;
      const std::string reply = FormatError("too many control connections (limit " +
                                            std::to_string(kMaxClients) + "); retry later");
      (void)!write(fd, reply.data(), reply.size());
      close(fd);
      continue;
    }
    ++stats_.connections;
    auto client = std::make_unique<Client>();
    client->fd = fd;
    clients_.push_back(std::move(client));
  }
}

void ControlServer::Read(Client& client, const Handler& handler) {
  char buffer[16384];
  bool at_end = false;
  // Read at most a bit more than one maximal request per round.
  while (client.input.size() <= kMaxRequestSize) {
    const ssize_t n = read(client.fd, buffer, sizeof(buffer));
    if (n > 0) {
      client.input.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    at_end = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    break;
  }
  AnswerLines(client, handler);
  if (at_end && !client.closed) {
    // A last request without its newline is still answered (e.g. `printf ... | nc -U`).
    if (!client.input.empty() && client.input.size() <= kMaxRequestSize && client.output.empty()) {
      const std::string line = std::move(client.input);
      client.input.clear();
      Answer(client, line, handler);
    }
    client.close_when_flushed = true;
    if (client.output.empty()) client.closed = true;
  }
}

void ControlServer::AnswerLines(Client& client, const Handler& handler) {
  for (int answered = 0; answered < kMaxRequestsPerRound && !client.close_when_flushed &&
                         client.output.empty();
       ++answered) {
    const size_t newline = client.input.find('\n');
    if (newline == std::string::npos) {
      if (client.input.size() > kMaxRequestSize) {
        ++stats_.oversized;
        Reject(client, "request too large (over " + std::to_string(kMaxRequestSize) +
                           " bytes without a newline); send one JSON object per line");
      }
      return;
    }
    if (newline > kMaxRequestSize) {
      ++stats_.oversized;
      Reject(client, "request too large (" + std::to_string(newline) + " bytes, limit " +
                         std::to_string(kMaxRequestSize) + ")");
      return;
    }
    std::string line = client.input.substr(0, newline);
    client.input.erase(0, newline + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;  // blank lines are keep-alives, not requests
    Answer(client, line, handler);
  }
}

void ControlServer::Answer(Client& client, std::string_view line, const Handler& handler) {
  ++stats_.requests;
  Result<Request> request = ParseRequest(line);
  if (!request.ok()) {
    ++stats_.malformed;
    if (observer_) observer_("unknown", false);
    Reject(client, request.message());
    return;
  }

  Result<nlohmann::json> result = Status::Error("internal error");
  try {
    result = handler(request.value());
  } catch (const std::exception& e) {
    // The handler validates its input; an exception here is our bug, and
    // the daemon must outlive it.
    result = Status::Error(request->command + ": internal error: " + e.what() +
                           "; please report it");
    ctl_log.Log(LogLevel::kError, "%s", result.message().c_str());
  }
  if (observer_) observer_(request->command, result.ok());
  if (result.ok()) {
    client.output += FormatOk(result.value());
  } else {
    ++stats_.requests_failed;
    client.output += FormatError(result.message());
  }
  if (client.output.size() > kMaxPendingReplySize) {
    ++stats_.slow_clients_dropped;
    ctl_log.Log(LogLevel::kWarning, "control client: %zu bytes of replies unread; disconnected",
                client.output.size());
    client.closed = true;
  }
}

void ControlServer::Reject(Client& client, const std::string& message) {
  ++stats_.requests_failed;
  client.output += FormatError(message);
  client.input.clear();
  client.close_when_flushed = true;
}

void ControlServer::Write(Client& client) {
  while (!client.output.empty()) {
    const ssize_t n = send(client.fd, client.output.data(), client.output.size(), MSG_NOSIGNAL);
    if (n > 0) {
      client.output.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    client.closed = true;  // the peer went away
    return;
  }
  if (client.close_when_flushed) client.closed = true;
}

}  // namespace dpbridge
