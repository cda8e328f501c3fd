// SPDX-License-Identifier: Apache-2.0
// MetricsExporter: /metrics scraped over real HTTP, checked value by value,
// linted by promtool, and bad bind addresses refused.
#include "metrics_exporter.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dpbridge/drop_reason.h"
#include "fixed_metrics_view.h"
#include "http_get.h"
#include "metrics_collector.h"

namespace dpbridge {
namespace {

// "name{labels}" -> value text, for every sample line of an exposition.
std::map<std::string, std::string> ParseSamples(const std::string& body) {
  std::map<std::string, std::string> samples;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = line.substr(space + 1);
  }
  return samples;
}

// The `# TYPE name type` lines, name -> type.
std::map<std::string, std::string> ParseTypes(const std::string& body) {
  std::map<std::string, std::string> types;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    if (words >> hash >> keyword >> name >> type && hash == "#" && keyword == "TYPE") {
      types[name] = type;
    }
  }
  return types;
}

size_t CountPrefix(const std::map<std::string, std::string>& samples, const std::string& prefix) {
  size_t count = 0;
  for (const auto& [key, value] : samples) count += key.rfind(prefix, 0) == 0 ? 1 : 0;
  return count;
}

// Scrapes /metrics of `exporter` and checks the reply is a 200.
std::string Scrape(const MetricsExporter& exporter) {
  auto response = HttpGet(exporter.port(), "/metrics");
  EXPECT_TRUE(response.ok()) << response.message();
  if (!response.ok()) return "";
  EXPECT_EQ(response->status_code, 200);
  return response->body;
}

// An exporter per test, counting the calls of its source.
class MetricsExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Port 0: the kernel picks a free port, so parallel tests never collide.
    auto started = MetricsExporter::Start("127.0.0.1:0", [this] {
      source_calls_.fetch_add(1);
      return FixedMetricsView();
    });
    ASSERT_TRUE(started.ok()) << started.message();
    exporter_ = std::move(started.value());
    ASSERT_NE(exporter_->port(), 0);
  }

  std::string Scrape() { return dpbridge::Scrape(*exporter_); }

  std::atomic<int> source_calls_{0};
  std::unique_ptr<MetricsExporter> exporter_;
};

// One exporter for the tests that only read: stopping civetweb can take up
// to two seconds, so the read-only tests share one.
class MetricsScrapeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = MetricsExporter::Start("127.0.0.1:0", FixedMetricsView);
    ASSERT_TRUE(started.ok()) << started.message();
    exporter_ = std::move(started.value()).release();
  }
  static void TearDownTestSuite() {
    delete exporter_;
    exporter_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(exporter_, nullptr); }

  static std::string Scrape() { return dpbridge::Scrape(*exporter_); }

  static MetricsExporter* exporter_;
};

MetricsExporter* MetricsScrapeTest::exporter_ = nullptr;

TEST_F(MetricsScrapeTest, ListensOnLoopbackAtTheChosenPort) {
  EXPECT_EQ(exporter_->address(), "127.0.0.1:" + std::to_string(exporter_->port()));
  EXPECT_NE(exporter_->port(), 0);
}

TEST_F(MetricsScrapeTest, ServesPortCountersWithPortAndTypeLabels) {
  const auto s = ParseSamples(Scrape());
  EXPECT_EQ(s.at(R"(dpbridge_port_rx_packets_total{port="tap0",type="tap"})"), "1001");
  EXPECT_EQ(s.at(R"(dpbridge_port_rx_bytes_total{port="tap0",type="tap"})"), "64064");
  EXPECT_EQ(s.at(R"(dpbridge_port_tx_packets_total{port="tap0",type="tap"})"), "2002");
  EXPECT_EQ(s.at(R"(dpbridge_port_tx_bytes_total{port="tap0",type="tap"})"), "3003000");
  EXPECT_EQ(s.at(R"(dpbridge_port_flooded_packets_total{port="tap0",type="tap"})"), "17");
  EXPECT_EQ(s.at(R"(dpbridge_port_segmented_sends_total{port="tap0",type="tap"})"), "19");
  EXPECT_EQ(s.at(R"(dpbridge_port_link_up{port="tap0",type="tap"})"), "1");
  EXPECT_EQ(s.at(R"(dpbridge_port_learned_macs{port="tap0",type="tap"})"), "3");
  EXPECT_EQ(s.at(R"(dpbridge_port_mac_limit{port="tap0",type="tap"})"), "0");

  EXPECT_EQ(s.at(R"(dpbridge_port_rx_packets_total{port="vhost1",type="vhost-user"})"), "5");
  EXPECT_EQ(s.at(R"(dpbridge_port_rx_bytes_total{port="vhost1",type="vhost-user"})"), "320");
  EXPECT_EQ(s.at(R"(dpbridge_port_tx_packets_total{port="vhost1",type="vhost-user"})"), "0");
  EXPECT_EQ(s.at(R"(dpbridge_port_link_up{port="vhost1",type="vhost-user"})"), "0");
  EXPECT_EQ(s.at(R"(dpbridge_port_mac_limit{port="vhost1",type="vhost-user"})"), "256");
  EXPECT_EQ(s.at(R"(dpbridge_port_driver_rx_missed_total{port="vhost1",type="vhost-user"})"), "17");
  EXPECT_EQ(s.at(R"(dpbridge_port_driver_rx_nombuf_total{port="vhost1",type="vhost-user"})"), "2");
  EXPECT_EQ(s.at(R"(dpbridge_port_driver_tx_errors_total{port="vhost1",type="vhost-user"})"), "5");
  EXPECT_EQ(s.at(R"(dpbridge_port_driver_rx_missed_total{port="tap0",type="tap"})"), "0");
}

TEST_F(MetricsScrapeTest, ServesEveryDropReasonOfEveryPort) {
  const auto s = ParseSamples(Scrape());
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    const std::string reason(kDropReasonNames[r]);
    EXPECT_EQ(s.at(R"(dpbridge_port_drops_total{port="tap0",type="tap",reason=")" + reason +
                   "\"}"),
              std::to_string(10 + r))
        << reason;
    const std::string vhost_expected = reason == "port_down" ? "42" : "0";
    EXPECT_EQ(s.at(R"(dpbridge_port_drops_total{port="vhost1",type="vhost-user",reason=")" +
                   reason + "\"}"),
              vhost_expected)
        << reason;
  }
  EXPECT_EQ(CountPrefix(s, "dpbridge_port_drops_total{"), 2 * kDropReasonCount);
}

TEST_F(MetricsScrapeTest, ServesPmdCountersAndDerivedCyclesPerPacket) {
  const auto s = ParseSamples(Scrape());
  EXPECT_EQ(s.at(R"(dpbridge_pmd_busy_cycles_total{pmd="0"})"), "450000");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_idle_cycles_total{pmd="0"})"), "9000000");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_packets_total{pmd="0"})"), "1006");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_iterations_total{pmd="0"})"), "12345");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_sleeps_total{pmd="0"})"), "77");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_interrupt_waits_total{pmd="0"})"), "70");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_learn_requests_total{pmd="0"})"), "4");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_learn_queue_full_total{pmd="0"})"), "1");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_rx_queues{pmd="0"})"), "2");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_info{pmd="0",lcore="1"})"), "1");
  EXPECT_NEAR(std::stod(s.at(R"(dpbridge_pmd_cycles_per_packet{pmd="0"})")), 450000.0 / 1006,
              1e-9);

  // A PMD that has received nothing has no cycles per packet yet.
  EXPECT_EQ(s.at(R"(dpbridge_pmd_idle_cycles_total{pmd="1"})"), "500");
  EXPECT_EQ(s.at(R"(dpbridge_pmd_info{pmd="1",lcore="none"})"), "1");
  const std::string nan = s.at(R"(dpbridge_pmd_cycles_per_packet{pmd="1"})");
  EXPECT_TRUE(std::isnan(std::strtod(nan.c_str(), nullptr))) << nan;
}

TEST_F(MetricsScrapeTest, ServesFdbPoolBuildAndUptime) {
  const auto s = ParseSamples(Scrape());
  EXPECT_EQ(s.at(R"(dpbridge_fdb_entries{kind="learned"})"), "3");
  EXPECT_EQ(s.at(R"(dpbridge_fdb_entries{kind="static"})"), "2");
  EXPECT_EQ(s.at("dpbridge_fdb_capacity"), "1048576");
  EXPECT_EQ(s.at("dpbridge_fdb_learned_total"), "8");
  EXPECT_EQ(s.at("dpbridge_fdb_moved_total"), "6");
  EXPECT_EQ(s.at("dpbridge_fdb_aged_total"), "5");
  EXPECT_EQ(s.at("dpbridge_fdb_flushed_total"), "7");
  EXPECT_EQ(s.at(R"(dpbridge_fdb_rejected_total{reason="table_full"})"), "11");
  EXPECT_EQ(s.at(R"(dpbridge_fdb_rejected_total{reason="port_limit"})"), "13");
  EXPECT_EQ(s.at("dpbridge_mbufs_in_use"), "1536");
  EXPECT_EQ(s.at("dpbridge_mbufs_capacity"), "32767");

  EXPECT_EQ(CountPrefix(s, "dpbridge_build_info{version=\"0.1.0\",dpdk=\"DPDK "), 1u);
  const double uptime = std::stod(s.at("dpbridge_uptime_seconds"));
  EXPECT_GE(uptime, 0.0);
  EXPECT_LT(uptime, 60.0);
}

TEST_F(MetricsScrapeTest, CountersAreTypedCounterAndEndInTotal) {
  const auto types = ParseTypes(Scrape());
  ASSERT_FALSE(types.empty());
  for (const auto& [name, type] : types) {
    if (name.rfind("dpbridge_", 0) != 0) continue;  // prometheus-cpp's own exposer_*
    const bool total = name.size() > 6 && name.substr(name.size() - 6) == "_total";
    EXPECT_EQ(type == "counter", total) << name << " is a " << type;
  }
  EXPECT_EQ(types.at("dpbridge_port_link_up"), "gauge");
  EXPECT_EQ(types.at("dpbridge_pmd_cycles_per_packet"), "gauge");
}

TEST_F(MetricsExporterTest, CallsTheSourceOncePerScrape) {
  ASSERT_FALSE(Scrape().empty());
  EXPECT_EQ(source_calls_.load(), 1);
  ASSERT_FALSE(Scrape().empty());
  EXPECT_EQ(source_calls_.load(), 2);
}

TEST_F(MetricsExporterTest, CountsControlRequestsByCommandAndResult) {
  exporter_->CountRequest("port_add", true);
  exporter_->CountRequest("port.add", true);  // the protocol's spelling
  exporter_->CountRequest("port_add", false);
  exporter_->CountRequest("fdb.flush", false);
  exporter_->CountRequest("no.such.command", false);
  exporter_->CountRequest(std::string(5000, 'x'), false);

  const auto s = ParseSamples(Scrape());
  EXPECT_EQ(s.at(R"(dpbridge_control_requests_total{command="port_add",result="ok"})"), "2");
  EXPECT_EQ(s.at(R"(dpbridge_control_requests_total{command="port_add",result="error"})"), "1");
  EXPECT_EQ(s.at(R"(dpbridge_control_requests_total{command="fdb_flush",result="error"})"), "1");
  EXPECT_EQ(s.at(R"(dpbridge_control_requests_total{command="fdb_flush",result="ok"})"), "0");
  EXPECT_EQ(s.at(R"(dpbridge_control_requests_total{command="unknown",result="error"})"), "2");
  // The label set is fixed: every known command with both results, nothing else.
  EXPECT_EQ(CountPrefix(s, "dpbridge_control_requests_total{"), 2 * kControlCommandNames.size());
}

TEST_F(MetricsExporterTest, CountsRequestsFromManyThreadsExactly) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) exporter_->CountRequest("show", t % 2 == 0);
    });
  }
  for (auto& thread : threads) thread.join();
  const auto s = ParseSamples(Scrape());
  EXPECT_EQ(s.at(R"(dpbridge_control_requests_total{command="show",result="ok"})"), "20000");
  EXPECT_EQ(s.at(R"(dpbridge_control_requests_total{command="show",result="error"})"), "20000");
}

TEST_F(MetricsScrapeTest, OtherPathsAreNotFound) {
  auto response = HttpGet(exporter_->port(), "/secret");
  ASSERT_TRUE(response.ok()) << response.message();
  EXPECT_EQ(response->status_code, 404);
}

// --- promtool ------------------------------------------------------------

struct CommandOutput {
  int exit_code = -1;
  std::string output;
};

// Runs `promtool check metrics` with `text` on its standard input.
CommandOutput PromtoolCheck(const std::string& text) {
  char path[] = "/tmp/dpbridge-metrics-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {};
  close(fd);
  std::ofstream(path) << text;

  CommandOutput result;
  const std::string command = std::string("promtool check metrics < ") + path + " 2>&1";
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  unlink(path);
  return result;
}

bool HavePromtool() { return std::system("command -v promtool > /dev/null 2>&1") == 0; }

TEST_F(MetricsExporterTest, PromtoolAcceptsTheScrape) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  exporter_->CountRequest("port_add", true);
  const std::string body = Scrape();
  ASSERT_FALSE(body.empty());
  const CommandOutput check = PromtoolCheck(body);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output, "") << check.output;
}

// The lint above can fail: promtool does reject what it should.
TEST(PromtoolTest, RejectsACounterWithoutTotal) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const CommandOutput check =
      PromtoolCheck("# HELP bad_packets Frames.\n# TYPE bad_packets counter\nbad_packets 1\n");
  EXPECT_NE(check.exit_code, 0);
  EXPECT_NE(check.output.find("_total"), std::string::npos) << check.output;
}

// --- bind addresses --------------------------------------------------------

MetricsView EmptyView() { return {}; }

TEST(MetricsExporterBindTest, RefusesMalformedAddresses) {
  for (const char* address : {"", "nonsense", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:-1",
                              "127.0.0.1:80x", "999.1.1.1:9417", "[::1]:9417", "example.org:80"}) {
    auto started = MetricsExporter::Start(address, EmptyView);
    ASSERT_FALSE(started.ok()) << address;
    EXPECT_NE(started.message().find(std::string("'") + address + "'"), std::string::npos)
        << started.message();
    EXPECT_NE(started.message().find("127.0.0.1:9417"), std::string::npos) << started.message();
  }
}

TEST(MetricsExporterBindTest, RefusesAPortInUseAndSaysWhy) {
  auto first = MetricsExporter::Start("127.0.0.1:0", EmptyView);
  ASSERT_TRUE(first.ok()) << first.message();
  const std::string taken = first.value()->address();

  auto second = MetricsExporter::Start(taken, EmptyView);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.message().find(taken), std::string::npos) << second.message();
  EXPECT_NE(second.message().find("Address already in use"), std::string::npos)
      << second.message();
  EXPECT_NE(second.message().find("--metrics"), std::string::npos) << second.message();

  // The first exporter is unharmed.
  auto response = HttpGet(first.value()->port(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.message();
  EXPECT_EQ(response->status_code, 200);
}

TEST(MetricsExporterBindTest, RefusesAnAddressNotOnThisHost) {
  // From 198.18.0.0/15 (reserved for benchmarking), an address no test of ours
  // puts in the root namespace.
  auto started = MetricsExporter::Start("198.19.254.253:0", EmptyView);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("198.19.254.253:0"), std::string::npos) << started.message();
  EXPECT_NE(started.message().find("Cannot assign requested address"), std::string::npos)
      << started.message();
}

TEST(MetricsExporterBindTest, BarePortAndLocalhostMeanLoopback) {
  for (const char* address : {"0", "localhost:0"}) {
    auto started = MetricsExporter::Start(address, EmptyView);
    ASSERT_TRUE(started.ok()) << address << ": " << started.message();
    EXPECT_EQ(started.value()->address().rfind("127.0.0.1:", 0), 0u) << address;
  }
}

TEST(MetricsExporterBindTest, StopsServingWhenDestroyed) {
  uint16_t port = 0;
  {
    auto started = MetricsExporter::Start("127.0.0.1:0", EmptyView);
    ASSERT_TRUE(started.ok()) << started.message();
    port = started.value()->port();
    ASSERT_TRUE(HttpGet(port, "/metrics").ok());
  }
  EXPECT_FALSE(HttpGet(port, "/metrics", 1000).ok());
}

}  // namespace
}  // namespace dpbridge
