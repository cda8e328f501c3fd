// SPDX-License-Identifier: Apache-2.0
// Tests of control/control_server.h over a real Unix socket: replies,
// malformed and oversized requests, socket mode, stale and live sockets.
#include "control_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "control_client.h"
#include "temp_dir.h"

namespace dpbridge {
namespace {

using nlohmann::json;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<ControlServer>> server = ControlServer::Listen(path_);
    ASSERT_TRUE(server.ok()) << server.message();
    server_ = std::move(server.value());
    server_->SetObserver([this](std::string_view command, bool ok) {
      observed_.push_back(std::string(command) + (ok ? ":ok" : ":error"));
    });
  }
  void TearDown() override { server_.reset(); }

  // Echoes the request's args, or fails for command "fail"; throws for "throw".
  Result<json> Handle(const Request& request) {
    if (request.command == "fail") return Status::Error("failed on purpose");
    if (request.command == "throw") return json::parse("{");
    return json{{"command", request.command}, {"args", request.args}};
  }

  // Runs the server's side for up to `ms`.
  void Pump(int ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<pollfd> fds;
      server_->AppendPollFds(&fds);
      poll(fds.data(), fds.size(), 5);
      server_->Process(fds, [this](const Request& r) { return Handle(r); });
    }
  }

  int Connect() {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path_.c_str());
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    return fd;
  }

  void Send(int fd, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        Pump(5);
        continue;
      }
      if (n <= 0) return;  // the server closed the connection
      sent += static_cast<size_t>(n);
      Pump(1);
    }
  }

  // Pumps the server while reading what the client receives until EOF or
  // `lines` lines.
  std::vector<std::string> Receive(int fd, size_t lines, bool* eof = nullptr) {
    std::string data;
    std::vector<std::string> out;
    for (int round = 0; round < 200 && out.size() < lines; ++round) {
      Pump(5);
      char buffer[4096];
      const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n == 0) {
        if (eof) *eof = true;
        break;
      }
      if (n > 0) data.append(buffer, static_cast<size_t>(n));
      for (size_t nl; (nl = data.find('\n')) != std::string::npos; data.erase(0, nl + 1)) {
        out.push_back(data.substr(0, nl));
      }
    }
    return out;
  }

  TempDir temp_;
  const std::string dir_ = temp_.path();
  const std::string path_ = dir_ + "/ctl.sock";
  std::unique_ptr<ControlServer> server_;
  std::vector<std::string> observed_;
};

TEST_F(ControlServerTest, SocketIsPrivate) {
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ControlServerTest, AnswersRequestsInOrderOnOneConnection) {
  const int fd = Connect();
  Send(fd, "{\"command\":\"a\",\"args\":{\"n\":1}}\n\n{\"command\":\"fail\"}\r\n"
           "{\"command\":\"b\"}\n");
  const std::vector<std::string> lines = Receive(fd, 3);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(json::parse(lines[0]),
            (json{{"ok", true}, {"result", {{"command", "a"}, {"args", {{"n", 1}}}}}}));
  EXPECT_EQ(json::parse(lines[1]), (json{{"ok", false}, {"error", "failed on purpose"}}));
  EXPECT_EQ(json::parse(lines[2])["result"]["command"], "b");
  close(fd);
  EXPECT_EQ(server_->stats().requests, 3u);
  EXPECT_EQ(server_->stats().requests_failed, 1u);
  EXPECT_EQ(observed_, (std::vector<std::string>{"a:ok", "fail:error", "b:ok"}));
}

TEST_F(ControlServerTest, AnswersABurstOfRequestsAllInOrder) {
  // More requests than one round answers, sent before any reply is read: the
  // rest wait in the input buffer and are answered as replies drain.
  constexpr int kRequests = 200;
  std::string burst;
  for (int i = 0; i < kRequests; ++i) {
    burst += "{\"command\":\"n\",\"args\":{\"i\":" + std::to_string(i) + "}}\n";
  }
  const int fd = Connect();
  Send(fd, burst);
  const std::vector<std::string> lines = Receive(fd, kRequests);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(json::parse(lines[i])["result"]["args"]["i"], i);
  }
  close(fd);
}

TEST_F(ControlServerTest, MalformedRequestGetsErrorAndClose) {
  const int fd = Connect();
  Send(fd, "this is not json\n{\"command\":\"never\"}\n");
  bool eof = false;
  const std::vector<std::string> lines = Receive(fd, 5, &eof);
  ASSERT_EQ(lines.size(), 1u);
  const json reply = json::parse(lines[0]);
  EXPECT_FALSE(reply["ok"].get<bool>());
  EXPECT_NE(reply["error"].get<std::string>().find("malformed request"), std::string::npos);
  EXPECT_TRUE(eof);
  close(fd);
  EXPECT_EQ(server_->stats().malformed, 1u);

  // The server goes on serving others.
  const int other = Connect();
  Send(other, "{\"command\":\"show\"}\n");
  ASSERT_EQ(Receive(other, 1).size(), 1u);
  close(other);
}

TEST_F(ControlServerTest, OversizedRequestGetsErrorAndClose) {
  const int fd = Connect();
  Send(fd, std::string(kMaxRequestSize + 4096, 'x'));
  bool eof = false;
  const std::vector<std::string> lines = Receive(fd, 5, &eof);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(json::parse(lines[0])["error"].get<std::string>().find("too large"),
            std::string::npos);
  EXPECT_TRUE(eof);
  close(fd);
  EXPECT_EQ(server_->stats().oversized, 1u);
}

TEST_F(ControlServerTest, HandlerExceptionBecomesAnError) {
  const int fd = Connect();
  Send(fd, "{\"command\":\"throw\"}\n{\"command\":\"after\"}\n");
  const std::vector<std::string> lines = Receive(fd, 2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(json::parse(lines[0])["error"].get<std::string>().find("internal error"),
            std::string::npos);
  EXPECT_TRUE(json::parse(lines[1])["ok"].get<bool>());
  close(fd);
}

TEST_F(ControlServerTest, LastRequestWithoutNewlineIsAnsweredAtEof) {
  const int fd = Connect();
  Send(fd, "{\"command\":\"tail\"}");
  shutdown(fd, SHUT_WR);
  const std::vector<std::string> lines = Receive(fd, 1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0])["result"]["command"], "tail");
  close(fd);
}

TEST_F(ControlServerTest, SecondServerOnALiveSocketIsRefused) {
  Result<std::unique_ptr<ControlServer>> second = ControlServer::Listen(path_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.message().find("another dpbridge is running"), std::string::npos);
}

TEST_F(ControlServerTest, StaleSocketFileIsReplaced) {
  server_.reset();  // removes the file; leave a stale one as a killed daemon would
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path_.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  close(fd);
  Result<std::unique_ptr<ControlServer>> server = ControlServer::Listen(path_);
  ASSERT_TRUE(server.ok()) << server.message();
}

TEST_F(ControlServerTest, ClientReportsAnUnreachableDaemon) {
  const ControlClient client(dir_ + "/absent.sock");
  Request request;
  request.command = "show";
  Result<json> result = client.Call(request, 1000);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.message().find("cannot reach dpbridge at " + dir_ + "/absent.sock"),
            std::string::npos);
  EXPECT_NE(result.message().find("is the daemon running?"), std::string::npos);
}

}  // namespace
}  // namespace dpbridge
