// SPDX-License-Identifier: Apache-2.0
//
// MacTable: the forwarding database (FDB), keyed by (VLAN, MAC).
//
// Design: a fixed-size open-addressing table of 64-byte buckets, four 16-byte
// entries each, probed linearly from the bucket the key hashes to. It is sized
// at construction to twice `max_entries` slots so that probe chains stay short,
// and it never grows or rehashes: memory is allocated once and the dataplane
// never waits for a resize.
//
// Thread-safety: exactly one writer thread (the control thread, which owns the
// table) calls the writer methods. Any number of dataplane threads call the
// Lookup* methods concurrently, without locks: they read each entry's key,
// then its port, then the key again, and treat a key that changed in between
// as a miss (the frame is flooded, never misdelivered). Readers write only the
// entry's last-seen stamp, and only when it changes, at most once a second per
// address. A deleted slot becomes a tombstone, which keeps the probe chains of
// the keys stored past it intact; it turns back into an empty slot (which ends
// a miss early) as soon as no live key's chain runs over its bucket. A reader
// that still holds the old key in a reused slot sees the key change and
// reports a miss.
//
// Stats() may be called from any thread.
//
// Limitations: the table holds at most `max_entries` addresses; past that, new
// addresses are rejected (the caller floods their frames) and nothing is
// evicted. A key whose probe window of kMaxProbeBuckets buckets is full is
// rejected the same way, which at the load of at most 50% that the sizing
// gives does not happen (a full 1,048,576-entry table is tested). Tombstones
// that a live chain still runs over lengthen misses until that key leaves.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dpbridge/mac_address.h"

namespace dpbridge {

// Port numbers in the FDB are dpbridge's own dense port indices, not DPDK ids.
inline constexpr uint16_t kMaxPorts = 64;
inline constexpr uint16_t kNoPort = 0xffff;

struct MacTableConfig {
  uint32_t max_entries = 1u << 20;
  uint32_t aging_time_s = 300;
  // Learned addresses allowed per port; 0 means no limit.
  uint32_t default_port_limit = 0;
};

enum class LearnResult : uint8_t {
  kLearned,      // new address
  kRefreshed,    // already known on that port
  kMoved,        // was known on another port; now on this one
  kStaticKept,   // a static entry exists; learning does not change it
  kTableFull,    // rejected: max_entries reached or no free slot nearby
  kPortLimit,    // rejected: the port's learned-address limit is reached
  kInvalid,      // rejected: zero or multicast MAC, or port out of range
};

struct FdbEntry {
  FdbKey key;
  uint16_t port = kNoPort;
  bool is_static = false;
  uint32_t last_seen_s = 0;
};

// Monotonic totals and current sizes; readable from any thread.
struct MacTableStats {
  uint64_t learned_entries = 0;
  uint64_t static_entries = 0;
  uint64_t capacity = 0;
  uint64_t learned_total = 0;
  uint64_t moved_total = 0;
  uint64_t aged_total = 0;
  uint64_t flushed_total = 0;
  uint64_t rejected_full_total = 0;
  uint64_t rejected_limit_total = 0;
};

class MacTable {
 public:
  static constexpr uint32_t kEntriesPerBucket = 4;
  static constexpr uint32_t kMaxProbeBuckets = 16;

  explicit MacTable(const MacTableConfig& config);
  ~MacTable();
  MacTable(const MacTable&) = delete;
  MacTable& operator=(const MacTable&) = delete;

  // --- Reader side: any thread, lock-free, never allocates. ---

  // Writes, for each of `count` keys, the port it is on or kNoPort.
  void LookupDestinations(const FdbKey* keys, uint32_t count,
                          uint16_t* ports_out) const noexcept;

  // As LookupDestinations, and for each hit on `in_port` refreshes the
  // entry's last-seen stamp to `now_s`. A hit on another port is reported
  // as that port (the caller asks the writer to move it).
  void LookupSources(const FdbKey* keys, uint32_t count, uint16_t in_port,
                     uint32_t now_s, uint16_t* ports_out) noexcept;

  // Both lookups of a burst at once: LookupSources() of `sources` and
  // LookupDestinations() of `destinations`, with every bucket prefetched
  // before the first is read.
  void LookupBurst(const FdbKey* sources, const FdbKey* destinations, uint32_t count,
                   uint16_t in_port, uint32_t now_s, uint16_t* source_ports_out,
                   uint16_t* destination_ports_out) noexcept;

  // --- Writer side: the owning thread only. ---

  // Learns `key` on `port`, moving it if it was learned elsewhere. On kMoved,
  // `moved_from` (if given) receives the port the address was on.
  LearnResult Learn(FdbKey key, uint16_t port, uint32_t now_s, uint16_t* moved_from = nullptr);

  // Adds or replaces a static entry (never aged, never moved by learning).
  // Returns kLearned, kMoved (replaced an entry on another port), kTableFull
  // or kInvalid.
  LearnResult AddStatic(FdbKey key, uint16_t port);

  // Removes one entry, static or learned. Returns whether it existed.
  bool Remove(FdbKey key);

  // Removes the learned entries of `port` (and its static ones if asked).
  // Returns how many were removed.
  size_t FlushPort(uint16_t port, bool include_static);
  // Removes every learned entry (and static ones if asked).
  size_t FlushAll(bool include_static);

  // Ages out learned entries not seen for aging_time_s, visiting at most
  // `max_buckets` buckets from where the previous call stopped, so that a
  // large table is swept in bounded slices. Returns how many were removed.
  size_t Age(uint32_t now_s, uint32_t max_buckets);

  void SetAgingTime(uint32_t seconds) { aging_time_s_ = seconds; }
  [[nodiscard]] uint32_t aging_time_s() const { return aging_time_s_; }
  // Sets the learned-address limit of one port (0: none). Existing entries
  // above the new limit stay until they age or are flushed.
  void SetPortLimit(uint16_t port, uint32_t limit);
  void SetDefaultPortLimit(uint32_t limit);
  [[nodiscard]] uint32_t PortLimit(uint16_t port) const;
  [[nodiscard]] uint32_t PortLearnedCount(uint16_t port) const;

  // Snapshot of all entries, for display. Owner thread only.
  [[nodiscard]] std::vector<FdbEntry> Dump() const;
  [[nodiscard]] std::optional<FdbEntry> Find(FdbKey key) const;

  // Deleted slots still marked as tombstones (a full scan; owner thread).
  [[nodiscard]] size_t CountTombstones() const;

  [[nodiscard]] MacTableStats Stats() const noexcept;
  [[nodiscard]] uint32_t max_entries() const { return max_entries_; }
  [[nodiscard]] size_t bucket_count() const { return bucket_mask_ + 1; }
  [[nodiscard]] size_t memory_size() const;

 private:
  struct Entry;
  struct Bucket;

  [[nodiscard]] size_t BucketOf(uint64_t key_bits) const noexcept;
  // Finds the entry holding `key_bits`; writer side.
  [[nodiscard]] Entry* FindEntry(uint64_t key_bits) const noexcept;
  // Finds a slot to insert into (first tombstone or empty in the window).
  [[nodiscard]] Entry* FindFreeSlot(uint64_t key_bits) const noexcept;
  void Insert(Entry* slot, uint64_t key_bits, uint16_t port, bool is_static,
              uint32_t now_s);
  void Erase(Bucket* bucket, Entry* entry);
  void ReclaimTombstones(size_t index);
  // The reader's probe for `want` from bucket `home`: the port, or kNoPort.
  // Probe() checks the home bucket's first slot, ProbeFurther() the rest of
  // the chain; Hit() reads a matching entry. With kTouch, a hit on `in_port`
  // refreshes the entry's last-seen stamp.
  template <bool kTouch>
  [[nodiscard, gnu::always_inline]] inline uint16_t Probe(size_t home, uint64_t want,
                                                          uint16_t in_port,
                                                          uint32_t now_s) const noexcept;
  template <bool kTouch>
  [[nodiscard, gnu::noinline]] uint16_t ProbeFurther(size_t home, uint64_t want, uint16_t in_port,
                                                     uint32_t now_s) const noexcept;
  template <bool kTouch>
  [[nodiscard, gnu::always_inline]] inline uint16_t Hit(Entry& entry, uint64_t want,
                                                        uint16_t in_port,
                                                        uint32_t now_s) const noexcept;
  template <bool kTouch>
  void Lookup(const FdbKey* keys, uint32_t count, uint16_t in_port, uint32_t now_s,
              uint16_t* ports_out) const noexcept;

  Bucket* buckets_ = nullptr;
  size_t bucket_mask_ = 0;
  int hash_shift_ = 0;
  uint32_t max_entries_ = 0;
  uint32_t aging_time_s_ = 0;
  size_t age_cursor_ = 0;
  uint32_t default_port_limit_ = 0;
  std::vector<uint32_t> port_limit_;        // per port; 0 means "use default"
  std::vector<uint32_t> port_learned_;      // learned entries per port

  // Written by the owner, read by anyone (metrics).
  std::atomic<uint64_t> learned_entries_{0};
  std::atomic<uint64_t> static_entries_{0};
  std::atomic<uint64_t> learned_total_{0};
  std::atomic<uint64_t> moved_total_{0};
  std::atomic<uint64_t> aged_total_{0};
  std::atomic<uint64_t> flushed_total_{0};
  std::atomic<uint64_t> rejected_full_total_{0};
  std::atomic<uint64_t> rejected_limit_total_{0};
};

[[nodiscard]] std::string_view LearnResultName(LearnResult result);

}  // namespace dpbridge
