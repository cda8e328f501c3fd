// SPDX-License-Identifier: Apache-2.0
// MetricsCollector without HTTP: command names, families of an empty switch.
#include "metrics_collector.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "fixed_metrics_view.h"

namespace dpbridge {
namespace {

TEST(MetricsCollectorTest, MapsProtocolSpellingsToLabelNames) {
  EXPECT_EQ(kControlCommandNames[MetricsCollector::CommandIndex("port.add")], "port_add");
  EXPECT_EQ(kControlCommandNames[MetricsCollector::CommandIndex("port_add")], "port_add");
  EXPECT_EQ(kControlCommandNames[MetricsCollector::CommandIndex("set.aging-time")],
            "set_aging_time");
  EXPECT_EQ(kControlCommandNames[MetricsCollector::CommandIndex("show")], "show");
  for (const char* other : {"", "port", "port.add ", "PORT.ADD", "port_add2", "unknown"}) {
    EXPECT_EQ(kControlCommandNames[MetricsCollector::CommandIndex(other)], "unknown") << other;
  }
}

TEST(MetricsCollectorTest, CommandNamesAreUniqueAndEndWithUnknown) {
  const std::set<std::string_view> unique(kControlCommandNames.begin(),
                                          kControlCommandNames.end());
  EXPECT_EQ(unique.size(), kControlCommandNames.size());
  EXPECT_EQ(kControlCommandNames.back(), "unknown");
}

TEST(MetricsCollectorTest, AnEmptySwitchHasEveryFamilyWithHelpAndNoPortSamples) {
  const MetricsCollector collector([] { return MetricsView{}; });
  const auto families = collector.Collect();
  std::set<std::string> names;
  for (const auto& family : families) {
    EXPECT_FALSE(family.help.empty()) << family.name;
    EXPECT_TRUE(names.insert(family.name).second) << "duplicate " << family.name;
    if (family.name.rfind("dpbridge_port_", 0) == 0 || family.name.rfind("dpbridge_pmd_", 0) == 0) {
      EXPECT_TRUE(family.metric.empty()) << family.name;
    }
  }
  // The same families as a busy switch: dashboards never lose a metric name.
  const MetricsCollector busy(FixedMetricsView);
  std::set<std::string> busy_names;
  for (const auto& family : busy.Collect()) busy_names.insert(family.name);
  EXPECT_EQ(names, busy_names);
}

// `name`, as docs/metrics.md writes a metric or label value.
std::string Backticked(std::string_view name) {
  std::string text = "`";
  text.append(name);
  text.push_back('`');
  return text;
}

// The text of `relative_path` under the source tree, or "" (and a failure).
std::string ReadSourceFile(const std::string& relative_path) {
  const char* root = std::getenv("DPBRIDGE_SOURCE_ROOT");
  if (root == nullptr) {
    ADD_FAILURE() << "run through meson test (sets DPBRIDGE_SOURCE_ROOT)";
    return "";
  }
  std::ifstream file(std::string(root) + "/" + relative_path);
  if (!file.good()) ADD_FAILURE() << "cannot read " << root << "/" << relative_path;
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

// docs/metrics.md documents every family and every command label by name.
TEST(MetricsCollectorTest, EveryFamilyIsDocumented) {
  const std::string doc = ReadSourceFile("docs/metrics.md");
  ASSERT_FALSE(doc.empty());

  const MetricsCollector collector(FixedMetricsView);
  for (const auto& family : collector.Collect()) {
    EXPECT_NE(doc.find(Backticked(family.name)), std::string::npos)
        << family.name << " is missing from docs/metrics.md";
  }
  for (std::string_view command : kControlCommandNames) {
    EXPECT_NE(doc.find(Backticked(command)), std::string::npos)
        << "command " << command << " is missing from docs/metrics.md";
  }
}

// The Grafana dashboard asks only for metrics that exist (a renamed metric
// would otherwise leave an empty panel). The integration test runs its
// queries on a real Prometheus.
TEST(MetricsCollectorTest, DashboardUsesOnlyExportedMetrics) {
  const std::string dashboard = ReadSourceFile("docs/grafana/dpbridge-dashboard.json");
  ASSERT_FALSE(dashboard.empty());
  std::set<std::string> exported;
  for (const auto& family : MetricsCollector(FixedMetricsView).Collect()) {
    exported.insert(family.name);
  }

  // Every "dpbridge_" followed by [a-z_] characters is a metric name.
  size_t used = 0;
  for (size_t at = dashboard.find("dpbridge_"); at != std::string::npos;
       at = dashboard.find("dpbridge_", at + 1), ++used) {
    size_t end = at + 9;
    while (end < dashboard.size() && (std::islower(dashboard[end]) || dashboard[end] == '_')) ++end;
    const std::string name = dashboard.substr(at, end - at);
    EXPECT_TRUE(exported.count(name)) << name << " is not exported";
  }
  EXPECT_GT(used, 20u);
}

}  // namespace
}  // namespace dpbridge
