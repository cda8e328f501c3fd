// SPDX-License-Identifier: Apache-2.0
// Tests of MacTable: learning, lookup, moves, aging, static entries, limits,
// a full table, flushes and tombstone reuse. No EAL: time is passed in.
#include "dpbridge/mac_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <unordered_map>
#include <vector>

namespace dpbridge {
namespace {

// A locally administered unicast address numbered `n`.
FdbKey Key(uint64_t n, uint16_t vlan = 0) {
  return FdbKey(vlan, MacAddress(0x020000000000ull | (n & 0xffffffffffull)));
}

MacTableConfig SmallConfig(uint32_t max_entries = 1024, uint32_t aging_time_s = 300) {
  MacTableConfig config;
  config.max_entries = max_entries;
  config.aging_time_s = aging_time_s;
  return config;
}

uint16_t PortOf(const MacTable& table, FdbKey key) {
  uint16_t port = 0;
  table.LookupDestinations(&key, 1, &port);
  return port;
}

TEST(MacTableTest, LearnsAndLooksUp) {
  MacTable table(SmallConfig());
  EXPECT_EQ(table.Learn(Key(1), 3, 10), LearnResult::kLearned);
  EXPECT_EQ(PortOf(table, Key(1)), 3);
  EXPECT_EQ(PortOf(table, Key(2)), kNoPort);

  const auto entry = table.Find(Key(1));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->port, 3);
  EXPECT_FALSE(entry->is_static);
  EXPECT_EQ(entry->last_seen_s, 10u);

  const MacTableStats stats = table.Stats();
  EXPECT_EQ(stats.learned_entries, 1u);
  EXPECT_EQ(stats.learned_total, 1u);
  EXPECT_EQ(stats.capacity, 1024u);
  EXPECT_EQ(table.PortLearnedCount(3), 1u);
}

// The all-zero key (VLAN 0, MAC 0) is also the marker of a never-used slot:
// it must never match one, on either side of the table.
TEST(MacTableTest, ZeroKeyNeverMatchesAnEmptySlot) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  const FdbKey zero;
  std::array<uint16_t, 2> ports = {0, 0};
  const std::array<FdbKey, 2> keys = {zero, zero};
  table.LookupDestinations(keys.data(), 2, ports.data());
  EXPECT_EQ(ports[0], kNoPort);
  table.LookupSources(keys.data(), 2, 0, 11, ports.data());
  EXPECT_EQ(ports[1], kNoPort);

  EXPECT_FALSE(table.Find(zero).has_value());
  EXPECT_FALSE(table.Remove(zero));
  EXPECT_EQ(table.Stats().learned_entries, 1u);
  EXPECT_EQ(table.Stats().flushed_total, 0u);
  EXPECT_EQ(table.PortLearnedCount(0), 0u);
  EXPECT_EQ(PortOf(table, Key(1)), 1);
}

TEST(MacTableTest, RelearningOnTheSamePortRefreshes) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.Learn(Key(1), 3, 10), LearnResult::kLearned);
  EXPECT_EQ(table.Learn(Key(1), 3, 20), LearnResult::kRefreshed);
  EXPECT_EQ(table.Find(Key(1))->last_seen_s, 20u);
  EXPECT_EQ(table.Stats().learned_entries, 1u);
  EXPECT_EQ(table.Stats().learned_total, 1u);
  EXPECT_EQ(table.Stats().moved_total, 0u);
}

TEST(MacTableTest, VlansSeparateTheSameMac) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.Learn(Key(1, 0), 1, 10), LearnResult::kLearned);
  ASSERT_EQ(table.Learn(Key(1, 7), 2, 10), LearnResult::kLearned);
  EXPECT_EQ(PortOf(table, Key(1, 0)), 1);
  EXPECT_EQ(PortOf(table, Key(1, 7)), 2);
  EXPECT_EQ(PortOf(table, Key(1, 8)), kNoPort);
}

TEST(MacTableTest, RejectsInvalidKeysAndPorts) {
  MacTable table(SmallConfig());
  const FdbKey zero(0, MacAddress());
  const FdbKey multicast(0, *MacAddress::Parse("01:00:5e:00:00:01"));
  const FdbKey broadcast(0, *MacAddress::Parse("ff:ff:ff:ff:ff:ff"));
  EXPECT_EQ(table.Learn(zero, 1, 10), LearnResult::kInvalid);
  EXPECT_EQ(table.Learn(multicast, 1, 10), LearnResult::kInvalid);
  EXPECT_EQ(table.Learn(broadcast, 1, 10), LearnResult::kInvalid);
  EXPECT_EQ(table.Learn(Key(1), kMaxPorts, 10), LearnResult::kInvalid);
  EXPECT_EQ(table.Learn(Key(1), kNoPort, 10), LearnResult::kInvalid);
  EXPECT_EQ(table.AddStatic(zero, 1), LearnResult::kInvalid);
  EXPECT_EQ(table.AddStatic(Key(1), kMaxPorts), LearnResult::kInvalid);

  EXPECT_EQ(PortOf(table, zero), kNoPort);
  EXPECT_EQ(PortOf(table, multicast), kNoPort);
  EXPECT_EQ(PortOf(table, broadcast), kNoPort);
  EXPECT_EQ(table.Stats().learned_entries, 0u);
  EXPECT_TRUE(table.Dump().empty());
}

// Bulk lookups of every size around the reader's internal chunk (64) and the
// forwarder's burst (32), mixing hits and misses, must match one-by-one lookups.
TEST(MacTableTest, BulkLookupMatchesForEveryBurstSize) {
  MacTable table(SmallConfig());
  for (uint64_t n = 0; n < 300; n += 2) {
    ASSERT_EQ(table.Learn(Key(n), static_cast<uint16_t>(n % kMaxPorts), 1), LearnResult::kLearned);
  }
  for (const uint32_t count : {1u, 31u, 32u, 33u, 63u, 64u, 65u, 128u, 129u, 300u}) {
    std::vector<FdbKey> keys;
    for (uint32_t i = 0; i < count; ++i) keys.push_back(Key(i));
    std::vector<uint16_t> ports(count + 1, 0x5555);
    table.LookupDestinations(keys.data(), count, ports.data());
    for (uint32_t i = 0; i < count; ++i) {
      const uint16_t expected = i % 2 == 0 ? static_cast<uint16_t>(i % kMaxPorts) : kNoPort;
      ASSERT_EQ(ports[i], expected) << "count " << count << " index " << i;
    }
    EXPECT_EQ(ports[count], 0x5555) << "wrote past the burst of " << count;
  }
}

TEST(MacTableTest, LookupOfAnEmptyBurstWritesNothing) {
  MacTable table(SmallConfig());
  uint16_t port = 0x5555;
  const FdbKey key = Key(1);
  table.LookupDestinations(&key, 0, &port);
  EXPECT_EQ(port, 0x5555);
}

TEST(MacTableTest, LearningOnAnotherPortMovesAndCounts) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  uint16_t moved_from = kNoPort;
  EXPECT_EQ(table.Learn(Key(1), 2, 11, &moved_from), LearnResult::kMoved);
  EXPECT_EQ(moved_from, 1);
  EXPECT_EQ(PortOf(table, Key(1)), 2);
  EXPECT_EQ(table.Find(Key(1))->last_seen_s, 11u);
  EXPECT_EQ(table.Stats().moved_total, 1u);
  EXPECT_EQ(table.Stats().learned_entries, 1u);
  EXPECT_EQ(table.PortLearnedCount(1), 0u);
  EXPECT_EQ(table.PortLearnedCount(2), 1u);

  EXPECT_EQ(table.Learn(Key(1), 1, 12), LearnResult::kMoved);
  EXPECT_EQ(table.Stats().moved_total, 2u);
}

TEST(MacTableTest, AgesOutAfterOneSecondAndStaticNeverAges) {
  MacTable table(SmallConfig(1024, 1));
  ASSERT_EQ(table.Learn(Key(1), 1, 100), LearnResult::kLearned);
  ASSERT_EQ(table.AddStatic(Key(2), 2), LearnResult::kLearned);
  const auto all = static_cast<uint32_t>(table.bucket_count());

  EXPECT_EQ(table.Age(100, all), 0u);
  EXPECT_EQ(PortOf(table, Key(1)), 1);

  EXPECT_EQ(table.Age(101, all), 1u);
  EXPECT_EQ(PortOf(table, Key(1)), kNoPort);
  EXPECT_EQ(table.Stats().aged_total, 1u);
  EXPECT_EQ(table.Stats().learned_entries, 0u);
  EXPECT_EQ(table.PortLearnedCount(1), 0u);

  EXPECT_EQ(table.Age(1'000'000, all), 0u);
  EXPECT_EQ(PortOf(table, Key(2)), 2);
}

TEST(MacTableTest, AgingTimeChangesTakeEffect) {
  MacTable table(SmallConfig(1024, 300));
  ASSERT_EQ(table.Learn(Key(1), 1, 100), LearnResult::kLearned);
  const auto all = static_cast<uint32_t>(table.bucket_count());
  EXPECT_EQ(table.Age(200, all), 0u);
  table.SetAgingTime(1);
  EXPECT_EQ(table.aging_time_s(), 1u);
  EXPECT_EQ(table.Age(200, all), 1u);
}

TEST(MacTableTest, AgingInSlicesVisitsEveryBucket) {
  MacTable table(SmallConfig(1024, 1));
  for (uint64_t n = 1; n <= 500; ++n) ASSERT_EQ(table.Learn(Key(n), 1, 10), LearnResult::kLearned);
  size_t removed = 0;
  for (size_t slice = 0; slice < table.bucket_count() / 16; ++slice) removed += table.Age(20, 16);
  EXPECT_EQ(removed, 500u);
  EXPECT_EQ(table.Stats().learned_entries, 0u);
}

TEST(MacTableTest, AStampFromTheFutureDoesNotAge) {
  // A reader may stamp an entry with a second the owner has not reached yet.
  MacTable table(SmallConfig(1024, 1));
  ASSERT_EQ(table.Learn(Key(1), 1, 50), LearnResult::kLearned);
  EXPECT_EQ(table.Age(49, static_cast<uint32_t>(table.bucket_count())), 0u);
  EXPECT_EQ(PortOf(table, Key(1)), 1);
}

TEST(MacTableTest, LookupSourcesRefreshesOnlyOnTheIngressPort) {
  MacTable table(SmallConfig(1024, 5));
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  const FdbKey key = Key(1);
  uint16_t port = 0;

  // Seen on another port: reported there (a move to ask for), not refreshed.
  table.LookupSources(&key, 1, 2, 14, &port);
  EXPECT_EQ(port, 1);
  EXPECT_EQ(table.Find(key)->last_seen_s, 10u);

  table.LookupSources(&key, 1, 1, 14, &port);
  EXPECT_EQ(port, 1);
  EXPECT_EQ(table.Find(key)->last_seen_s, 14u);

  // The refresh keeps it alive past the original aging deadline.
  const auto all = static_cast<uint32_t>(table.bucket_count());
  EXPECT_EQ(table.Age(16, all), 0u);
  EXPECT_EQ(table.Age(19, all), 1u);
}

TEST(MacTableTest, LookupSourcesReportsMissesAsNoPort) {
  MacTable table(SmallConfig());
  const std::vector<FdbKey> keys = {Key(1), Key(2), Key(3)};
  ASSERT_EQ(table.Learn(Key(2), 4, 1), LearnResult::kLearned);
  std::vector<uint16_t> ports(3);
  table.LookupSources(keys.data(), 3, 4, 2, ports.data());
  EXPECT_EQ(ports, (std::vector<uint16_t>{kNoPort, 4, kNoPort}));
}

TEST(MacTableTest, StaticEntriesAreNotMovedByLearning) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.AddStatic(Key(1), 1), LearnResult::kLearned);
  EXPECT_EQ(table.Learn(Key(1), 2, 10), LearnResult::kStaticKept);
  EXPECT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kStaticKept);
  EXPECT_EQ(PortOf(table, Key(1)), 1);
  EXPECT_TRUE(table.Find(Key(1))->is_static);
  EXPECT_EQ(table.Stats().moved_total, 0u);
  EXPECT_EQ(table.Stats().static_entries, 1u);
  EXPECT_EQ(table.Stats().learned_entries, 0u);
  EXPECT_EQ(table.PortLearnedCount(1), 0u);
}

TEST(MacTableTest, AddStaticReplacesALearnedEntry) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  EXPECT_EQ(table.AddStatic(Key(1), 2), LearnResult::kMoved);
  EXPECT_EQ(PortOf(table, Key(1)), 2);
  EXPECT_TRUE(table.Find(Key(1))->is_static);
  EXPECT_EQ(table.Stats().learned_entries, 0u);
  EXPECT_EQ(table.Stats().static_entries, 1u);
  EXPECT_EQ(table.PortLearnedCount(1), 0u);

  EXPECT_EQ(table.AddStatic(Key(1), 2), LearnResult::kLearned);
  EXPECT_EQ(table.Stats().static_entries, 1u);
}

TEST(MacTableTest, PortLimitRejectsAndCounts) {
  MacTable table(SmallConfig());
  table.SetPortLimit(1, 2);
  EXPECT_EQ(table.PortLimit(1), 2u);
  EXPECT_EQ(table.PortLimit(2), 0u);
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  ASSERT_EQ(table.Learn(Key(2), 1, 10), LearnResult::kLearned);
  EXPECT_EQ(table.Learn(Key(3), 1, 10), LearnResult::kPortLimit);
  EXPECT_EQ(PortOf(table, Key(3)), kNoPort);
  EXPECT_EQ(table.Stats().rejected_limit_total, 1u);
  EXPECT_EQ(table.PortLearnedCount(1), 2u);

  // Known addresses still refresh; other ports are not limited.
  EXPECT_EQ(table.Learn(Key(1), 1, 11), LearnResult::kRefreshed);
  EXPECT_EQ(table.Learn(Key(3), 2, 10), LearnResult::kLearned);

  // A move onto the full port is refused and leaves the entry where it was.
  EXPECT_EQ(table.Learn(Key(3), 1, 12), LearnResult::kPortLimit);
  EXPECT_EQ(PortOf(table, Key(3)), 2);
  EXPECT_EQ(table.Stats().rejected_limit_total, 2u);

  // Static entries do not count against the limit.
  EXPECT_EQ(table.AddStatic(Key(4), 1), LearnResult::kLearned);
  EXPECT_EQ(table.PortLearnedCount(1), 2u);

  // Freeing a place lets the next address in.
  ASSERT_TRUE(table.Remove(Key(2)));
  EXPECT_EQ(table.Learn(Key(5), 1, 13), LearnResult::kLearned);
}

TEST(MacTableTest, DefaultPortLimitAppliesToPortsWithoutTheirOwn) {
  MacTableConfig config = SmallConfig();
  config.default_port_limit = 1;
  MacTable table(config);
  table.SetPortLimit(2, 0);  // explicit "no limit" overrides the default
  EXPECT_EQ(table.PortLimit(1), 1u);
  EXPECT_EQ(table.PortLimit(2), 0u);
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  EXPECT_EQ(table.Learn(Key(2), 1, 10), LearnResult::kPortLimit);
  ASSERT_EQ(table.Learn(Key(3), 2, 10), LearnResult::kLearned);
  EXPECT_EQ(table.Learn(Key(4), 2, 10), LearnResult::kLearned);

  table.SetDefaultPortLimit(3);
  EXPECT_EQ(table.Learn(Key(2), 1, 10), LearnResult::kLearned);
}

TEST(MacTableTest, FullTableRejectsNewAddressesAndKeepsStaticOnes) {
  constexpr uint32_t kCapacity = 16;
  MacTable table(SmallConfig(kCapacity));
  for (uint64_t n = 1; n <= 4; ++n) ASSERT_EQ(table.AddStatic(Key(n), 1), LearnResult::kLearned);
  for (uint64_t n = 5; n <= kCapacity; ++n) {
    ASSERT_EQ(table.Learn(Key(n), 2, 10), LearnResult::kLearned) << n;
  }

  EXPECT_EQ(table.Learn(Key(100), 3, 10), LearnResult::kTableFull);
  EXPECT_EQ(table.Learn(Key(101), 3, 10), LearnResult::kTableFull);
  EXPECT_EQ(PortOf(table, Key(100)), kNoPort);
  EXPECT_EQ(table.Stats().rejected_full_total, 2u);
  EXPECT_EQ(table.Stats().learned_entries + table.Stats().static_entries, kCapacity);

  // Nothing was evicted; known addresses still refresh and move.
  for (uint64_t n = 1; n <= 4; ++n) EXPECT_EQ(PortOf(table, Key(n)), 1) << n;
  for (uint64_t n = 5; n <= kCapacity; ++n) EXPECT_EQ(PortOf(table, Key(n)), 2) << n;
  EXPECT_EQ(table.Learn(Key(5), 2, 11), LearnResult::kRefreshed);
  EXPECT_EQ(table.Learn(Key(6), 3, 11), LearnResult::kMoved);

  // Aging or removal makes room again.
  ASSERT_TRUE(table.Remove(Key(7)));
  EXPECT_EQ(table.Learn(Key(100), 3, 12), LearnResult::kLearned);
  EXPECT_EQ(PortOf(table, Key(100)), 3);
}

TEST(MacTableTest, FlushPortKeepsOtherPortsAndStaticUnlessAsked) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  ASSERT_EQ(table.Learn(Key(2), 1, 10), LearnResult::kLearned);
  ASSERT_EQ(table.Learn(Key(3), 2, 10), LearnResult::kLearned);
  ASSERT_EQ(table.AddStatic(Key(4), 1), LearnResult::kLearned);

  EXPECT_EQ(table.FlushPort(1, false), 2u);
  EXPECT_EQ(PortOf(table, Key(1)), kNoPort);
  EXPECT_EQ(PortOf(table, Key(2)), kNoPort);
  EXPECT_EQ(PortOf(table, Key(3)), 2);
  EXPECT_EQ(PortOf(table, Key(4)), 1);
  EXPECT_EQ(table.PortLearnedCount(1), 0u);
  EXPECT_EQ(table.Stats().flushed_total, 2u);

  EXPECT_EQ(table.FlushPort(1, true), 1u);
  EXPECT_EQ(PortOf(table, Key(4)), kNoPort);
  EXPECT_EQ(PortOf(table, Key(3)), 2);
  EXPECT_EQ(table.Stats().static_entries, 0u);
  EXPECT_EQ(table.FlushPort(1, true), 0u);
}

TEST(MacTableTest, FlushAllWithAndWithoutStatic) {
  MacTable table(SmallConfig());
  for (uint64_t n = 1; n <= 10; ++n) {
    ASSERT_EQ(table.Learn(Key(n), static_cast<uint16_t>(n % 3), 10), LearnResult::kLearned);
  }
  ASSERT_EQ(table.AddStatic(Key(20), 1), LearnResult::kLearned);
  ASSERT_EQ(table.AddStatic(Key(21), 2), LearnResult::kLearned);

  EXPECT_EQ(table.FlushAll(false), 10u);
  EXPECT_EQ(table.Stats().learned_entries, 0u);
  EXPECT_EQ(table.Stats().static_entries, 2u);
  EXPECT_EQ(table.Dump().size(), 2u);
  for (uint16_t p = 0; p < 3; ++p) EXPECT_EQ(table.PortLearnedCount(p), 0u);

  EXPECT_EQ(table.FlushAll(true), 2u);
  EXPECT_TRUE(table.Dump().empty());
  EXPECT_EQ(table.Stats().flushed_total, 12u);
}

TEST(MacTableTest, RemoveDeletesLearnedAndStatic) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  ASSERT_EQ(table.AddStatic(Key(2), 2), LearnResult::kLearned);
  EXPECT_TRUE(table.Remove(Key(1)));
  EXPECT_TRUE(table.Remove(Key(2)));
  EXPECT_FALSE(table.Remove(Key(1)));
  EXPECT_FALSE(table.Remove(Key(3)));
  EXPECT_EQ(PortOf(table, Key(1)), kNoPort);
  EXPECT_EQ(PortOf(table, Key(2)), kNoPort);
  EXPECT_EQ(table.Stats().learned_entries, 0u);
  EXPECT_EQ(table.Stats().static_entries, 0u);
  EXPECT_EQ(table.PortLearnedCount(1), 0u);
}

TEST(MacTableTest, DumpListsEveryEntry) {
  MacTable table(SmallConfig());
  ASSERT_EQ(table.Learn(Key(1), 1, 10), LearnResult::kLearned);
  ASSERT_EQ(table.AddStatic(Key(2), 2), LearnResult::kLearned);
  auto entries = table.Dump();
  std::sort(entries.begin(), entries.end(),
            [](const FdbEntry& a, const FdbEntry& b) { return a.key.bits() < b.key.bits(); });
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].key, Key(1));
  EXPECT_EQ(entries[0].port, 1);
  EXPECT_FALSE(entries[0].is_static);
  EXPECT_EQ(entries[1].key, Key(2));
  EXPECT_TRUE(entries[1].is_static);
}

// Random learns, removals and agings against a reference map. The small table
// (8 buckets at 50% load) makes probe chains cross buckets, so deleted slots
// become tombstones that later insertions must reuse without losing entries.
void RunChurn(uint32_t capacity, uint64_t key_space, int operations, uint32_t seed) {
  MacTable table(SmallConfig(capacity, 300));
  std::unordered_map<uint64_t, uint16_t> model;
  std::mt19937_64 random(seed);

  for (int op = 0; op < operations; ++op) {
    const FdbKey key = Key(1 + random() % key_space);
    if (random() % 2 == 0) {
      const auto port = static_cast<uint16_t>(random() % 4);
      const LearnResult result = table.Learn(key, port, 10);
      if (model.contains(key.bits())) {
        const LearnResult expected =
            model[key.bits()] == port ? LearnResult::kRefreshed : LearnResult::kMoved;
        ASSERT_EQ(result, expected);
        model[key.bits()] = port;
      } else if (model.size() >= capacity) {
        ASSERT_EQ(result, LearnResult::kTableFull);
      } else {
        ASSERT_EQ(result, LearnResult::kLearned) << "op " << op;
        model[key.bits()] = port;
      }
    } else {
      ASSERT_EQ(table.Remove(key), model.erase(key.bits()) == 1) << "op " << op;
    }

    if (op % 64 == 0) {
      std::vector<FdbKey> keys;
      for (uint64_t n = 1; n <= key_space; ++n) keys.push_back(Key(n));
      std::vector<uint16_t> ports(keys.size());
      table.LookupDestinations(keys.data(), static_cast<uint32_t>(keys.size()), ports.data());
      for (size_t i = 0; i < keys.size(); ++i) {
        const auto it = model.find(keys[i].bits());
        ASSERT_EQ(ports[i], it == model.end() ? kNoPort : it->second) << "op " << op;
      }
      ASSERT_EQ(table.Stats().learned_entries, model.size());
    }
  }

  // However much churn, the table still takes its full capacity.
  table.FlushAll(false);
  for (uint64_t n = 0; n < capacity; ++n) {
    ASSERT_EQ(table.Learn(Key(key_space + 1 + n), 1, 20), LearnResult::kLearned) << n;
  }
  EXPECT_EQ(table.Learn(Key(key_space * 4), 1, 20), LearnResult::kTableFull);
}

TEST(MacTableTest, TombstoneReuseKeepsLookupsCorrectInASmallTable) {
  RunChurn(16, 40, 20000, 1);
}

TEST(MacTableTest, TombstoneReuseKeepsLookupsCorrectInALargerTable) {
  RunChurn(1024, 3000, 20000, 2);
}

TEST(MacTableTest, LearnResultNamesAreDistinct) {
  const std::vector<LearnResult> all = {
      LearnResult::kLearned,   LearnResult::kRefreshed, LearnResult::kMoved,
      LearnResult::kStaticKept, LearnResult::kTableFull, LearnResult::kPortLimit,
      LearnResult::kInvalid,
  };
  std::vector<std::string_view> names;
  for (LearnResult r : all) names.push_back(LearnResultName(r));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
  EXPECT_EQ(LearnResultName(LearnResult::kTableFull), "table_full");
}

TEST(MacTableTest, SizingHoldsTwiceTheEntriesInSlots) {
  MacTable table(SmallConfig(1u << 20));
  EXPECT_GE(table.bucket_count() * MacTable::kEntriesPerBucket, 2u << 20);
  EXPECT_EQ(table.memory_size(), table.bucket_count() * 64);
}

// LookupBurst (ingress port 3, time `now_s`) answers as separate lookups of each key would.
void ExpectBurstMatchesSeparateLookups(MacTable& table, const std::vector<FdbKey>& sources,
                                       const std::vector<FdbKey>& destinations,
                                       uint32_t now_s) {
  const auto count = static_cast<uint32_t>(sources.size());
  std::vector<uint16_t> src_burst(count), dst_burst(count), src_alone(count), dst_alone(count);
  table.LookupBurst(sources.data(), destinations.data(), count, 3, now_s, src_burst.data(),
                    dst_burst.data());
  table.LookupDestinations(sources.data(), count, src_alone.data());
  table.LookupDestinations(destinations.data(), count, dst_alone.data());
  EXPECT_EQ(src_burst, src_alone) << "burst of " << count;
  EXPECT_EQ(dst_burst, dst_alone) << "burst of " << count;
}

TEST(MacTableTest, LookupBurstMatchesSeparateLookups) {
  MacTable table(SmallConfig());
  for (uint64_t n = 0; n < 64; ++n) {
    ASSERT_EQ(table.Learn(Key(n), static_cast<uint16_t>(n % 4), 5), LearnResult::kLearned);
  }
  // Sources and destinations mix hits on the ingress port (3), hits
  // elsewhere and misses (keys 64 and up), over burst sizes 1, 31, 32, 33.
  for (uint32_t count : {1u, 31u, 32u, 33u}) {
    std::vector<FdbKey> sources, destinations;
    for (uint32_t i = 0; i < count; ++i) {
      sources.push_back(Key((i * 7) % 80));
      destinations.push_back(Key((i * 13 + 1) % 90));
    }
    ExpectBurstMatchesSeparateLookups(table, sources, destinations, 9);
  }
  // Only sources found on the ingress port were refreshed.
  EXPECT_EQ(table.Find(Key(7))->last_seen_s, 9u);   // port 3, a source
  EXPECT_EQ(table.Find(Key(14))->last_seen_s, 5u);  // port 2, a source
  EXPECT_EQ(table.Find(Key(1))->last_seen_s, 5u);   // port 1, a destination only
}

// Bursts of one conversation repeat keys; a repeated key reuses the previous answer, which
// must be the answer a lookup of its own would give, across chunk borders (32) as well.
TEST(MacTableTest, LookupBurstWithRepeatedKeysMatchesSeparateLookups) {
  MacTable table(SmallConfig());
  for (uint64_t n = 0; n < 64; ++n) {
    ASSERT_EQ(table.Learn(Key(n), static_cast<uint16_t>(n % 4), 5), LearnResult::kLearned);
  }
  for (uint32_t count : {2u, 32u, 33u, 64u, 65u}) {
    std::vector<FdbKey> sources, destinations;
    for (uint32_t i = 0; i < count; ++i) {
      sources.push_back(Key((i / 5) * 7 % 80));         // runs of 5: 0, 7, 14, ... 70 (miss)
      destinations.push_back(Key((i / 3) * 13 % 90));   // runs of 3, hits and misses
    }
    ExpectBurstMatchesSeparateLookups(table, sources, destinations, 11);
  }
  // A repeated source on the ingress port was refreshed (key 35 is on port 3); others not.
  EXPECT_EQ(table.Find(Key(35))->last_seen_s, 11u);
  EXPECT_EQ(table.Find(Key(14))->last_seen_s, 5u);
  // Everything after a repeat run is looked up again: a miss after hits stays a miss.
  const FdbKey src[3] = {Key(3), Key(3), Key(200)};
  const FdbKey dst[3] = {Key(200), Key(200), Key(3)};
  uint16_t src_ports[3], dst_ports[3];
  table.LookupBurst(src, dst, 3, 3, 12, src_ports, dst_ports);
  EXPECT_EQ(src_ports[0], 3);
  EXPECT_EQ(src_ports[1], 3);
  EXPECT_EQ(src_ports[2], kNoPort);
  EXPECT_EQ(dst_ports[0], kNoPort);
  EXPECT_EQ(dst_ports[1], kNoPort);
  EXPECT_EQ(dst_ports[2], 3);
}

TEST(MacTableTest, FillsExactlyToTheDefaultCapacity) {
  MacTable table(SmallConfig(1u << 20));
  for (uint64_t n = 0; n < (1u << 20); ++n) {
    // Scrambled numbering, so that keys are not consecutive MACs.
    ASSERT_EQ(table.Learn(Key(n * 0x9E3779B1ull), 1, 1), LearnResult::kLearned) << "key " << n;
  }
  EXPECT_EQ(table.Stats().learned_entries, 1u << 20);
  EXPECT_EQ(table.Learn(Key(0xabcdef12345ull), 1, 1), LearnResult::kTableFull);
}

// At the full default capacity buckets overflow (half the slots are taken, four a
// bucket), so some keys sit past their home bucket: every key must still be found, by
// destination and by source lookups, and a miss must still miss.
TEST(MacTableTest, EveryKeyOfAFullTableIsFound) {
  constexpr uint32_t kEntries = 1u << 20;
  MacTable table(SmallConfig(kEntries));
  auto key_of = [](uint64_t n) { return Key(n * 0x9E3779B1ull); };
  for (uint64_t n = 0; n < kEntries; ++n) {
    ASSERT_EQ(table.Learn(key_of(n), static_cast<uint16_t>(n % 3), 1), LearnResult::kLearned);
  }
  std::array<FdbKey, 32> keys;
  std::array<uint16_t, 32> destinations, sources;
  for (uint64_t base = 0; base < kEntries; base += keys.size()) {
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = key_of(base + i);
    table.LookupDestinations(keys.data(), keys.size(), destinations.data());
    table.LookupSources(keys.data(), keys.size(), 0, 2, sources.data());
    for (size_t i = 0; i < keys.size(); ++i) {
      ASSERT_EQ(destinations[i], (base + i) % 3) << "key " << base + i;
      ASSERT_EQ(sources[i], (base + i) % 3) << "key " << base + i;
    }
  }
  EXPECT_EQ(PortOf(table, Key(0xabcdef12345ull)), kNoPort);
  // Sources on the ingress port (0) were refreshed, the others not.
  EXPECT_EQ(table.Find(key_of(3))->last_seen_s, 2u);
  EXPECT_EQ(table.Find(key_of(4))->last_seen_s, 1u);
}

TEST(MacTableTest, RemovedSlotsBecomeEmptyAgain) {
  MacTable table(SmallConfig(1024));
  // Fill to capacity, so that buckets fill and chains run past them.
  for (uint64_t n = 0; n < 1024; ++n) ASSERT_EQ(table.Learn(Key(n), 1, 1), LearnResult::kLearned);
  for (uint64_t n = 0; n < 1024; n += 2) ASSERT_TRUE(table.Remove(Key(n)));
  // Whatever tombstones remain, every remaining key is still found.
  for (uint64_t n = 1; n < 1024; n += 2) ASSERT_EQ(PortOf(table, Key(n)), 1) << "key " << n;
  for (uint64_t n = 1; n < 1024; n += 2) ASSERT_TRUE(table.Remove(Key(n)));
  // With no key left, no chain runs anywhere: every slot is empty again.
  EXPECT_EQ(table.CountTombstones(), 0u);
  table.Learn(Key(5), 2, 1);
  table.FlushAll(true);
  EXPECT_EQ(table.CountTombstones(), 0u);
}

TEST(MacTableTest, ChurnLeavesFewTombstones) {
  // A sliding window of 2,048 live keys over 40,000 learns and removals, for
  // sequential addresses and for addresses numbered in scattered strides.
  for (uint64_t stride : {1ull, 0x100ull, 0x1000000ull, 0x9E3779B1ull, 0xdeadbeef1ull}) {
    MacTable table(SmallConfig(4096));
    for (uint64_t n = 0; n < 40000; ++n) {
      ASSERT_EQ(table.Learn(Key(n * stride), 1, 1), LearnResult::kLearned);
      if (n >= 2048) {
        ASSERT_TRUE(table.Remove(Key((n - 2048) * stride)));
      }
    }
    // Tombstones survive only where a live key's chain runs over them: a
    // few percent of the live count at a quarter load, not 38,000.
    EXPECT_LT(table.CountTombstones(), 2048u / 10) << "stride " << stride;
    for (uint64_t n = 40000 - 2048; n < 40000; ++n) {
      ASSERT_EQ(PortOf(table, Key(n * stride)), 1) << "stride " << stride << " key " << n;
    }
  }
}

}  // namespace
}  // namespace dpbridge
