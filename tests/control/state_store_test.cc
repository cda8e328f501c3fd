// SPDX-License-Identifier: Apache-2.0
// Tests of control/state_store.h and saved_state.h: round trip, atomic
// replacement, and refusal of corrupt or invalid files.
#include "state_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.h"

namespace dpbridge {
namespace {

namespace fs = std::filesystem;

class StateStoreTest : public ::testing::Test {
 protected:
  void WriteFile(const std::string& text) { temp_.Write("state.json", text); }
  std::string ReadFile() {
    std::stringstream text;
    text << std::ifstream(dir_ + "/state.json").rdbuf();
    return text.str();
  }

  static SavedState Sample() {
    SavedState state;
    PortSpec vhost;
    vhost.name = "vm1";
    vhost.type = PortType::kVhostUser;
    vhost.path = "/run/dpbridge/vm1.sock";
    vhost.client = true;
    vhost.queues = 2;
    PortSpec ring;
    ring.name = "r0";
    ring.type = PortType::kRing;
    state.ports = {vhost, ring};
    Attachment a;
    a.port = "c1";
    a.netns = "ns1";
    a.ip = ParseCidr("198.18.0.1/24").value();
    a.mac = MacAddress(0x0200c6120001);
    a.mtu = 1400;
    Attachment b;
    b.port = "c2";
    b.netns = "ns2";
    b.mac = MacAddress(0x0200c6120002);
    b.via = PortType::kAfXdp;
    state.attachments = {a, b};
    state.static_fdb = {{MacAddress(0x020000000099), 10, "c1"}};
    state.settings.aging_time_s = 120;
    state.settings.port_mac_limits["c2"] = 5;
    return state;
  }

  TempDir temp_;
  const std::string dir_ = temp_.path();
};

void ExpectSame(const SavedState& a, const SavedState& b) {
  ASSERT_EQ(a.ports.size(), b.ports.size());
  for (size_t i = 0; i < a.ports.size(); ++i) {
    EXPECT_EQ(PortSpecToJson(a.ports[i]), PortSpecToJson(b.ports[i]));
  }
  EXPECT_EQ(a.attachments, b.attachments);
  EXPECT_EQ(a.static_fdb, b.static_fdb);
  EXPECT_EQ(a.settings, b.settings);
}

TEST_F(StateStoreTest, MissingFileIsAnEmptyState) {
  StateStore store(dir_);
  Result<SavedState> state = store.Load();
  ASSERT_TRUE(state.ok()) << state.message();
  EXPECT_TRUE(state->ports.empty());
  EXPECT_TRUE(state->attachments.empty());
  EXPECT_FALSE(state->settings.aging_time_s.has_value());
}

TEST_F(StateStoreTest, RoundTripsEverything) {
  StateStore store(dir_);
  const SavedState saved = Sample();
  ASSERT_TRUE(store.Save(saved).ok());
  Result<SavedState> loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  ExpectSame(saved, loaded.value());
  EXPECT_FALSE(loaded->settings.default_mac_limit.has_value());
}

TEST_F(StateStoreTest, SaveReplacesAtomicallyAndPrivately) {
  StateStore store(dir_);
  ASSERT_TRUE(store.Save(Sample()).ok());
  SavedState smaller;
  smaller.settings.default_mac_limit = 7;
  ASSERT_TRUE(store.Save(smaller).ok());
  EXPECT_FALSE(fs::exists(dir_ + "/state.json.tmp"));
  struct stat st {};
  ASSERT_EQ(stat(store.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<SavedState> loaded = store.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->ports.empty());
  EXPECT_EQ(loaded->settings.default_mac_limit, std::optional<uint32_t>(7));
}

TEST_F(StateStoreTest, PrepareCreatesNestedDirectories) {
  StateStore store(dir_ + "/a/b");
  ASSERT_TRUE(store.Prepare().ok());
  EXPECT_TRUE(fs::is_directory(dir_ + "/a/b"));
  EXPECT_TRUE(store.Save(Sample()).ok());
}

TEST_F(StateStoreTest, CorruptFileIsRefusedAndLeftAlone) {
  const std::string corrupt = "{\"version\": 1, \"ports\": [";
  WriteFile(corrupt);
  StateStore store(dir_);
  Result<SavedState> loaded = store.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.message().find(store.path()), std::string::npos) << loaded.message();
  EXPECT_NE(loaded.message().find("corrupt"), std::string::npos);
  EXPECT_NE(loaded.message().find("will not overwrite"), std::string::npos);
  EXPECT_EQ(ReadFile(), corrupt);
}

TEST_F(StateStoreTest, InvalidContentNamesThePlace) {
  const std::pair<const char*, const char*> cases[] = {
      {"[]", "top level"},
      {R"({"ports":[]})", "version"},
      {R"({"version":2})", "version 2 is not supported"},
      {R"({"version":1,"extra":1})", "unknown key"},
      {R"({"version":1,"ports":{}})", "ports: must be a list"},
      {R"({"version":1,"ports":[{"name":"p","type":"warp"}]})", "unknown type 'warp'"},
      {R"({"version":1,"ports":[{"name":"p","type":"tap","mtu":"big"}]})", "ports[0]"},
      {R"({"version":1,"ports":[{"name":"p","type":"tap","colour":1}]})", "colour"},
      {R"({"version":1,"attachments":[{"port":"c","netns":"n"}]})", "attachments[0].mac"},
      {R"({"version":1,"attachments":[{"port":"c","netns":"n","mac":"02:00:00:00:00:01",)"
       R"("ip":"198.18.0.0/24"}]})", "attachments[0].ip"},
      {R"({"version":1,"attachments":[{"port":"c","netns":"a/b","mac":"02:00:00:00:00:01"}]})",
       "attachments[0].netns"},
      {R"({"version":1,"attachments":[{"port":"c","netns":"n","mac":"02:00:00:00:00:01",)"
       R"("via":"vhost-user"}]})", "attachments[0].via"},
      {R"({"version":1,"static_fdb":[{"mac":"01:00:00:00:00:01","port":"c"}]})",
       "static_fdb[0].mac"},
      {R"({"version":1,"static_fdb":[{"mac":"02:00:00:00:00:01","port":"c","vlan":5000}]})",
       "static_fdb[0].vlan"},
      {R"({"version":1,"settings":{"aging_time_s":-5}})", "settings.aging_time_s"},
      {R"({"version":1,"settings":{"port_mac_limits":{"c":"x"}}})", "port_mac_limits.c"},
  };
  StateStore store(dir_);
  for (const auto& [text, expected] : cases) {
    WriteFile(text);
    Result<SavedState> loaded = store.Load();
    ASSERT_FALSE(loaded.ok()) << text;
    EXPECT_NE(loaded.message().find(expected), std::string::npos)
        << text << " -> " << loaded.message();
    EXPECT_NE(loaded.message().find(store.path()), std::string::npos);
  }
}

// State files written before veth attachments have no "via": those are TAP attachments.
TEST(SavedStateTest, AttachmentWithoutViaIsTap) {
  Result<SavedState> state = StateFromJson(nlohmann::json::parse(
      R"({"version":1,"attachments":[{"port":"c","netns":"n","mac":"02:00:00:00:00:01"}]})"));
  ASSERT_TRUE(state.ok()) << state.message();
  ASSERT_EQ(state->attachments.size(), 1u);
  EXPECT_EQ(state->attachments[0].via, PortType::kTap);
}

TEST(SavedStateTest, ForgetPortRemovesEveryTrace) {
  SavedState state;
  PortSpec spec;
  spec.name = "p1";
  state.ports = {spec};
  state.attachments.push_back({"c1", "ns1", std::nullopt, MacAddress(0x020000000001), 0});
  state.static_fdb = {{MacAddress(0x020000000002), 0, "p1"}, {MacAddress(0x020000000003), 0, "c1"}};
  state.settings.port_mac_limits = {{"p1", 3}, {"c1", 4}};
  state.ForgetPort("p1");
  EXPECT_TRUE(state.ports.empty());
  ASSERT_EQ(state.static_fdb.size(), 1u);
  EXPECT_EQ(state.static_fdb[0].port, "c1");
  EXPECT_EQ(state.settings.port_mac_limits.count("p1"), 0u);
  ASSERT_NE(state.FindAttachment("c1"), nullptr);
  state.ForgetPort("c1");
  EXPECT_EQ(state.FindAttachment("c1"), nullptr);
  EXPECT_TRUE(state.static_fdb.empty());
}

TEST(PortSpecJsonTest, ValidatesWhatItReads) {
  EXPECT_TRUE(PortSpecFromJson({{"name", "t0"}, {"type", "tap"}}).ok());
  EXPECT_FALSE(PortSpecFromJson({{"name", "t0"}}).ok());
  EXPECT_FALSE(PortSpecFromJson({{"name", "bad name"}, {"type", "tap"}}).ok());
  EXPECT_FALSE(PortSpecFromJson({{"name", "v0"}, {"type", "vhost-user"}}).ok());  // no path
  Result<PortSpec> bad_mac =
      PortSpecFromJson({{"name", "t0"}, {"type", "tap"}, {"mac", "01:00:00:00:00:00"}});
  ASSERT_FALSE(bad_mac.ok());
  EXPECT_NE(bad_mac.message().find("bad MAC"), std::string::npos);
}

}  // namespace
}  // namespace dpbridge
