// SPDX-License-Identifier: Apache-2.0
// Tests of control/daemon_options.h: command line, TOML file, EAL arguments
// and the hugepage check.
#include "daemon_options.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "temp_dir.h"

namespace dpbridge {
namespace {

namespace fs = std::filesystem;

class DaemonOptionsTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    return temp_.Write(name, text);
  }

  std::optional<DaemonOptions> Parse(std::vector<std::string> args, int* exit_code) {
    args.insert(args.begin(), "dpbridge");
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    return ParseDaemonCommandLine(static_cast<int>(argv.size()), argv.data(), exit_code);
  }

  TempDir temp_;
  const std::string dir_ = temp_.path();
};

bool Contains(const std::vector<std::string>& args, const std::string& arg) {
  return std::find(args.begin(), args.end(), arg) != args.end();
}

TEST_F(DaemonOptionsTest, DefaultsNeedNoArguments) {
  int exit_code = -1;
  std::optional<DaemonOptions> options = Parse({}, &exit_code);
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->state_dir, "/var/lib/dpbridge");
  EXPECT_EQ(options->socket_path, "/run/dpbridge/dpbridge.sock");
  EXPECT_EQ(options->metrics_address, "127.0.0.1:9417");
  EXPECT_EQ(options->switch_options.pmd_lcores, std::vector<unsigned>{1});
  const std::vector<std::string> eal = BuildEalArgs(*options);
  EXPECT_TRUE(Contains(eal, "--single-file-segments"));
  EXPECT_TRUE(Contains(eal, "--no-pci"));
  EXPECT_FALSE(Contains(eal, "--no-huge"));
}

TEST_F(DaemonOptionsTest, CommandLineOverridesConfigFile) {
  const std::string config = Write("dpbridge.toml", R"(
state_dir = "/srv/state"
socket = "/srv/ctl.sock"
lcores = "0,1"
log_level = "debug"
eal_args = ["--log-level", "lib.eal:debug"]
[fdb]
max_entries = 4096
aging_time_s = 60
[pmd]
max_sleep_us = 100
)");
  int exit_code = -1;
  std::optional<DaemonOptions> options =
      Parse({"--config", config, "--socket", "/tmp/other.sock", "--lcores", "0-2", "--no-huge",
             "--", "--vdev", "net_null0"}, &exit_code);
  ASSERT_TRUE(options.has_value()) << exit_code;
  EXPECT_EQ(options->state_dir, "/srv/state");
  EXPECT_EQ(options->socket_path, "/tmp/other.sock");
  EXPECT_EQ(options->log_level, LogLevel::kDebug);
  EXPECT_EQ(options->switch_options.fdb.max_entries, 4096u);
  EXPECT_EQ(options->switch_options.fdb.aging_time_s, 60u);
  EXPECT_EQ(options->switch_options.pmd.max_sleep_us, 100u);
  EXPECT_EQ(options->switch_options.pmd_lcores, (std::vector<unsigned>{1, 2}));

  const std::vector<std::string> eal = BuildEalArgs(*options);
  EXPECT_TRUE(Contains(eal, "--no-huge"));
  EXPECT_TRUE(Contains(eal, "--no-shconf"));
  EXPECT_FALSE(Contains(eal, "--single-file-segments"));
  // Raw arguments come last, the file's before the command line's.
  ASSERT_GE(eal.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(eal.end() - 4, eal.end()),
            (std::vector<std::string>{"--log-level", "lib.eal:debug", "--vdev", "net_null0"}));
  EXPECT_EQ(eal[1], "-l");
  EXPECT_EQ(eal[2], "0-2");
  EXPECT_EQ(eal[4], "0");  // --main-lcore
}

TEST_F(DaemonOptionsTest, BadConfigFilesNameFileLineAndKey) {
  const std::pair<std::string, std::string> cases[] = {
      {"socket = \n", ":1:"},
      {"colour = \"blue\"\n", "unknown key 'colour'"},
      {"\n\nno_huge = \"yes\"\n", ":3: 'no_huge' has the wrong type"},
      {"[fdb]\nsize = 3\n", "unknown key 'fdb.size'"},
      {"memory_mb = -1\n", "out of range"},
      {"log_level = \"loud\"\n", "log_level must be"},
      {"eal_args = [1]\n", "eal_args"},
  };
  for (const auto& [text, expected] : cases) {
    DaemonOptions options;
    const std::string path = Write("bad.toml", text);
    Status status = LoadConfigFile(path, &options);
    ASSERT_FALSE(status.ok()) << text;
    EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(expected), std::string::npos)
        << text << " -> " << status.message();
  }
  DaemonOptions options;
  EXPECT_NE(LoadConfigFile(dir_ + "/missing.toml", &options).message().find("cannot read"),
            std::string::npos);
}

TEST_F(DaemonOptionsTest, UsageErrorsExitWithTwo) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bogus"}, {"--lcores", "0"}, {"--lcores", "1,1"},
        {"--log-level", "loud"}, {"--socket", "relative.sock"}, {"--state-dir", "rel"},
        {"--config", dir_ + "/missing.toml"}}) {
    int exit_code = -1;
    EXPECT_FALSE(Parse(args, &exit_code).has_value()) << args[0];
    EXPECT_EQ(exit_code, 2) << args[0];
  }
  int exit_code = -1;
  EXPECT_FALSE(Parse({"--help"}, &exit_code).has_value());
  EXPECT_EQ(exit_code, 0);
}

TEST(ParseLcoreListTest, NeedsTwoDistinctLcores) {
  EXPECT_EQ(ParseLcoreList("0,1").value(), (std::vector<unsigned>{0, 1}));
  EXPECT_EQ(ParseLcoreList("2,0-1").value(), (std::vector<unsigned>{2, 0, 1}));
  Result<std::vector<unsigned>> one = ParseLcoreList("0");
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.message().find("at least two lcores"), std::string::npos);
  EXPECT_FALSE(ParseLcoreList("").ok());
  EXPECT_FALSE(ParseLcoreList("0,0").ok());
  EXPECT_FALSE(ParseLcoreList("3-1").ok());
  EXPECT_FALSE(ParseLcoreList("0,x").ok());
  EXPECT_FALSE(ParseLcoreList("0,,1").ok());
}

TEST_F(DaemonOptionsTest, HugepageCheckNamesTheFix) {
  const std::string mounts = Write("mounts", "proc /proc proc rw 0 0\n"
                                             "none /dev/hugepages hugetlbfs rw 0 0\n");
  const std::string no_mounts = Write("no-mounts", "proc /proc proc rw 0 0\n");
  const std::string reserved = Write("meminfo", "MemTotal: 1 kB\nHugePages_Total:    1024\n"
                                                "HugePages_Free:     1000\n");
  const std::string none = Write("meminfo0", "HugePages_Total:       0\nHugePages_Free: 0\n");
  const std::string used = Write("meminfo1", "HugePages_Total:       8\nHugePages_Free: 0\n");
  DaemonOptions options;
  EXPECT_TRUE(CheckHugepages(options, reserved, mounts).ok());

  Status status = CheckHugepages(options, none, mounts);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no hugepages reserved"), std::string::npos);
  EXPECT_NE(status.message().find("scripts/setup.sh"), std::string::npos);
  EXPECT_NE(status.message().find("--no-huge"), std::string::npos);
  EXPECT_NE(CheckHugepages(options, used, mounts).message().find("in use"), std::string::npos);
  EXPECT_NE(CheckHugepages(options, reserved, no_mounts).message().find("no hugetlbfs mount"),
            std::string::npos);

  options.hugepage_dir = "/mnt/huge";
  EXPECT_NE(CheckHugepages(options, reserved, mounts).message().find("/mnt/huge is not"),
            std::string::npos);
  options.hugepage_dir = "/dev/hugepages";
  EXPECT_TRUE(CheckHugepages(options, reserved, mounts).ok());

  options.no_huge = true;
  EXPECT_TRUE(CheckHugepages(options, none, no_mounts).ok());
}

TEST_F(DaemonOptionsTest, RemovesOnlyItsOwnHugepageFiles) {
  const std::string mounts = Write("mounts", "none " + dir_ + " hugetlbfs rw 0 0\n");
  Write("dpbridgemap_0", "");
  Write("dpbridgemap_1", "");
  Write("othermap_0", "");
  DaemonOptions options;
  EXPECT_EQ(RemoveHugepageFiles(options, mounts), 2u);
  EXPECT_FALSE(fs::exists(dir_ + "/dpbridgemap_0"));
  EXPECT_TRUE(fs::exists(dir_ + "/othermap_0"));
  options.file_prefix = "other";
  options.no_huge = true;
  EXPECT_EQ(RemoveHugepageFiles(options, mounts), 0u);
  options.no_huge = false;
  EXPECT_EQ(RemoveHugepageFiles(options, mounts), 1u);
}

}  // namespace
}  // namespace dpbridge
