// SPDX-License-Identifier: Apache-2.0
// MacTable: the lock-free-read, single-writer forwarding database.
#include "dpbridge/mac_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>

namespace dpbridge {

namespace {

constexpr uint64_t kEmptyKey = 0;
// Keys use 60 bits, so bit 63 never appears in a real key.
constexpr uint64_t kTombstoneKey = uint64_t{1} << 63;
constexpr uint32_t kUseDefaultLimit = 0xffffffff;

constexpr uint32_t kStaticFlag = 1u << 16;

constexpr uint32_t PackMeta(uint16_t port, bool is_static) {
  return port | (is_static ? kStaticFlag : 0);
}
constexpr uint16_t MetaPort(uint32_t meta) { return static_cast<uint16_t>(meta); }
constexpr bool MetaStatic(uint32_t meta) { return meta & kStaticFlag; }

// A reader that prefetches the home bucket of every key in the burst before
// touching any of them keeps a miss to memory per key in flight at once.
inline void Prefetch(const void* address) { __builtin_prefetch(address, 0, 3); }

// The home bucket of a key in a table of 2^(64 - shift) buckets: multiplicative
// hashing of the folded key. The fold brings the OUI and the VLAN into the low
// bits, the multiply spreads every bit into the high bits kept by the shift.
// The constant is not the golden ratio, so that addresses numbered in
// golden-ratio steps (a common way to scatter test keys) do not cluster. A
// table has at least kMaxProbeBuckets buckets, so the shift is below 64.
inline size_t HomeBucket(uint64_t key_bits, int shift) noexcept {
  return static_cast<size_t>(((key_bits ^ (key_bits >> 24)) * 0xd6e8feb86659fd93ull) >> shift);
}

constexpr size_t kHugePageSize = size_t{2} << 20;

// Buckets live in 2 MB-aligned memory that asks for transparent huge pages: a
// lookup lands on a random bucket, and with 4 KB pages a table of tens of MB
// misses the TLB on nearly every packet (twice as costly under a hypervisor's
// nested paging). Measured: see docs/performance.md, many-flow rows.
void* AllocateBuckets(size_t bytes) {
  const size_t rounded = (bytes + kHugePageSize - 1) / kHugePageSize * kHugePageSize;
  void* memory = nullptr;
  if (posix_memalign(&memory, kHugePageSize, rounded) != 0) throw std::bad_alloc();
  (void)madvise(memory, rounded, MADV_HUGEPAGE);
  return memory;
}

void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}
void Drop(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) - by, std::memory_order_relaxed);
}

}  // namespace

struct MacTable::Entry {
  std::atomic<uint64_t> key{kEmptyKey};
  std::atomic<uint32_t> meta{0};
  std::atomic<uint32_t> last_seen_s{0};
};

struct alignas(64) MacTable::Bucket {
  Entry entries[kEntriesPerBucket];
};

MacTable::MacTable(const MacTableConfig& config)
    : max_entries_(std::max<uint32_t>(config.max_entries, 1)),
      aging_time_s_(config.aging_time_s),
      default_port_limit_(config.default_port_limit),
      port_limit_(kMaxPorts, kUseDefaultLimit),
      port_learned_(kMaxPorts, 0) {
  // Twice as many slots as entries: at most half full, so a probe rarely
  // leaves the home bucket.
  const uint64_t slots = uint64_t{max_entries_} * 2;
  const uint64_t buckets =
      std::bit_ceil(std::max<uint64_t>(slots / kEntriesPerBucket, kMaxProbeBuckets));
  bucket_mask_ = buckets - 1;
  hash_shift_ = 64 - std::countr_zero(buckets);
  buckets_ = new (AllocateBuckets(buckets * sizeof(Bucket))) Bucket[buckets];
}

MacTable::~MacTable() {
  // Bucket is trivially destructible apart from its atomics, which need no
  // destruction; the memory came from posix_memalign.
  std::free(buckets_);
}

size_t MacTable::memory_size() const { return bucket_count() * sizeof(Bucket); }

size_t MacTable::BucketOf(uint64_t key_bits) const noexcept {
  return HomeBucket(key_bits, hash_shift_);
}

template <bool kTouch>
uint16_t MacTable::Hit(Entry& entry, uint64_t want, uint16_t in_port,
                       uint32_t now_s) const noexcept {
  const uint32_t meta = entry.meta.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (entry.key.load(std::memory_order_relaxed) != want) return kNoPort;
  const uint16_t port = MetaPort(meta);
  if constexpr (kTouch) {
    if (port == in_port && entry.last_seen_s.load(std::memory_order_relaxed) != now_s) {
      entry.last_seen_s.store(now_s, std::memory_order_relaxed);
    }
  }
  return port;
}

template <bool kTouch>
uint16_t MacTable::Probe(size_t home, uint64_t want, uint16_t in_port,
                         uint32_t now_s) const noexcept {
  // Most keys sit in the first slot of their home bucket (the first free slot
  // is taken on insertion): that case is checked here, inline in the callers,
  // the rest of the probe out of line.
  Entry& first = buckets_[home].entries[0];
  if (first.key.load(std::memory_order_acquire) == want && want != kEmptyKey) {
    return Hit<kTouch>(first, want, in_port, now_s);
  }
  return ProbeFurther<kTouch>(home, want, in_port, now_s);
}

template <bool kTouch>
uint16_t MacTable::ProbeFurther(size_t home, uint64_t want, uint16_t in_port,
                                uint32_t now_s) const noexcept {
  // The zero key (VLAN 0, all-zero MAC) is never stored; without this test it
  // would match the first never-used slot and read its stale port.
  if (want == kEmptyKey) return kNoPort;
  for (uint32_t probe = 0; probe < kMaxProbeBuckets; ++probe) {
    Bucket& bucket = buckets_[(home + probe) & bucket_mask_];
    bool chain_ends = false;
    for (Entry& e : bucket.entries) {
      const uint64_t seen = e.key.load(std::memory_order_acquire);
      if (seen == want) return Hit<kTouch>(e, want, in_port, now_s);
      chain_ends |= seen == kEmptyKey;
    }
    if (chain_ends) return kNoPort;
  }
  return kNoPort;
}

template <bool kTouch>
void MacTable::Lookup(const FdbKey* keys, uint32_t count, uint16_t in_port, uint32_t now_s,
                      uint16_t* ports_out) const noexcept {
  constexpr uint32_t kChunk = 64;
  size_t home[kChunk];
  for (uint32_t base = 0; base < count; base += kChunk) {
    const uint32_t n = std::min(kChunk, count - base);
    // Hash every key and prefetch its home bucket, then probe: most keys end
    // in their home bucket, by then on its way from memory.
    for (uint32_t i = 0; i < n; ++i) {
      home[i] = BucketOf(keys[base + i].bits());
      Prefetch(&buckets_[home[i]]);
    }
    for (uint32_t i = 0; i < n; ++i) {
      ports_out[base + i] = Probe<kTouch>(home[i], keys[base + i].bits(), in_port, now_s);
    }
  }
}

void MacTable::LookupBurst(const FdbKey* sources, const FdbKey* destinations, uint32_t count,
                           uint16_t in_port, uint32_t now_s, uint16_t* source_ports_out,
                           uint16_t* destination_ports_out) noexcept {
  // Both keys of every frame are in flight before the first probe: with many
  // addresses each lookup misses the cache, and the misses overlap. A key equal
  // to the previous frame's (a burst of one conversation, the common case) takes
  // the previous answer instead of a second hash and probe; kRepeat marks it.
  constexpr uint32_t kChunk = 32;
  constexpr size_t kRepeat = ~size_t{0};
  const Bucket* const buckets = buckets_;
  const int shift = hash_shift_;
  size_t source_home[kChunk];
  size_t destination_home[kChunk];
  for (uint32_t base = 0; base < count; base += kChunk) {
    const uint32_t n = std::min(kChunk, count - base);
    const FdbKey* src = sources + base;
    const FdbKey* dst = destinations + base;
    for (uint32_t i = 0; i < n; ++i) {
      if (i > 0 && dst[i].bits() == dst[i - 1].bits()) {
        destination_home[i] = kRepeat;
      } else {
        destination_home[i] = HomeBucket(dst[i].bits(), shift);
        Prefetch(&buckets[destination_home[i]]);
      }
      if (i > 0 && src[i].bits() == src[i - 1].bits()) {
        source_home[i] = kRepeat;
      } else {
        source_home[i] = HomeBucket(src[i].bits(), shift);
        Prefetch(&buckets[source_home[i]]);
      }
    }
    uint16_t* src_out = source_ports_out + base;
    uint16_t* dst_out = destination_ports_out + base;
    for (uint32_t i = 0; i < n; ++i) {
      src_out[i] = source_home[i] == kRepeat
                       ? src_out[i - 1]
                       : Probe<true>(source_home[i], src[i].bits(), in_port, now_s);
    }
    for (uint32_t i = 0; i < n; ++i) {
      dst_out[i] = destination_home[i] == kRepeat
                       ? dst_out[i - 1]
                       : Probe<false>(destination_home[i], dst[i].bits(), kNoPort, 0);
    }
  }
}

void MacTable::LookupDestinations(const FdbKey* keys, uint32_t count,
                                  uint16_t* ports_out) const noexcept {
  Lookup<false>(keys, count, kNoPort, 0, ports_out);
}

void MacTable::LookupSources(const FdbKey* keys, uint32_t count, uint16_t in_port,
                             uint32_t now_s, uint16_t* ports_out) noexcept {
  Lookup<true>(keys, count, in_port, now_s, ports_out);
}

MacTable::Entry* MacTable::FindEntry(uint64_t key_bits) const noexcept {
  // As in Lookup: the empty-slot marker is not a key.
  if (key_bits == kEmptyKey) return nullptr;
  const size_t home = BucketOf(key_bits);
  for (uint32_t probe = 0; probe < kMaxProbeBuckets; ++probe) {
    Bucket& bucket = buckets_[(home + probe) & bucket_mask_];
    bool chain_ends = false;
    for (Entry& e : bucket.entries) {
      const uint64_t seen = e.key.load(std::memory_order_relaxed);
      if (seen == key_bits) return &e;
      chain_ends |= seen == kEmptyKey;
    }
    if (chain_ends) return nullptr;
  }
  return nullptr;
}

MacTable::Entry* MacTable::FindFreeSlot(uint64_t key_bits) const noexcept {
  const size_t home = BucketOf(key_bits);
  for (uint32_t probe = 0; probe < kMaxProbeBuckets; ++probe) {
    Bucket& bucket = buckets_[(home + probe) & bucket_mask_];
    for (Entry& e : bucket.entries) {
      const uint64_t seen = e.key.load(std::memory_order_relaxed);
      if (seen == kEmptyKey || seen == kTombstoneKey) return &e;
    }
  }
  return nullptr;
}

void MacTable::Insert(Entry* slot, uint64_t key_bits, uint16_t port, bool is_static,
                      uint32_t now_s) {
  // Publish the port and stamp before the key: a reader that sees the key
  // sees the data that belongs to it. The fence keeps an earlier tombstone in
  // this slot visible before the new data, so a reader still holding the old
  // key sees the key change when it checks again.
  std::atomic_thread_fence(std::memory_order_release);
  slot->meta.store(PackMeta(port, is_static), std::memory_order_relaxed);
  slot->last_seen_s.store(now_s, std::memory_order_relaxed);
  slot->key.store(key_bits, std::memory_order_release);
  if (is_static) {
    Bump(static_entries_);
  } else {
    Bump(learned_entries_);
    ++port_learned_[port];
  }
}

void MacTable::Erase(Bucket* bucket, Entry* entry) {
  const uint32_t meta = entry->meta.load(std::memory_order_relaxed);
  if (MetaStatic(meta)) {
    Drop(static_entries_);
  } else {
    Drop(learned_entries_);
    --port_learned_[MetaPort(meta)];
  }
  const uint64_t key_bits = entry->key.load(std::memory_order_relaxed);
  entry->key.store(kTombstoneKey, std::memory_order_release);

  // The erased key's probe chain ran from its home bucket to this one; each
  // of those buckets may now lie on no live key's chain, and its tombstones
  // can become empty slots again (which ends misses early).
  const size_t here = static_cast<size_t>(bucket - buckets_);
  const size_t home = BucketOf(key_bits);
  for (size_t distance = 0;; ++distance) {
    ReclaimTombstones((here - distance) & bucket_mask_);
    if (((here - distance) & bucket_mask_) == home || distance + 1 >= kMaxProbeBuckets) break;
  }
}

void MacTable::ReclaimTombstones(size_t index) {
  // Invariant: no live key's chain (home bucket up to its own bucket) passes
  // over a bucket with an empty slot, because insertion takes the first free
  // slot. So the tombstones of `index` may be emptied when no live key in the
  // following buckets has its home at or before `index`; the scan stops at a
  // bucket with an empty slot, beyond which no chain reaches back.
  for (uint32_t distance = 1; distance < kMaxProbeBuckets; ++distance) {
    const Bucket& next = buckets_[(index + distance) & bucket_mask_];
    bool has_empty = false;
    for (const Entry& e : next.entries) {
      const uint64_t key = e.key.load(std::memory_order_relaxed);
      if (key == kEmptyKey) {
        has_empty = true;
      } else if (key != kTombstoneKey &&
                 ((index + distance - BucketOf(key)) & bucket_mask_) >= distance) {
        return;  // this key's chain passes over `index`
      }
    }
    if (has_empty) break;
  }
  for (Entry& e : buckets_[index].entries) {
    if (e.key.load(std::memory_order_relaxed) == kTombstoneKey) {
      e.key.store(kEmptyKey, std::memory_order_release);
    }
  }
}

LearnResult MacTable::Learn(FdbKey key, uint16_t port, uint32_t now_s, uint16_t* moved_from) {
  const MacAddress mac = key.mac();
  if (!mac.IsStation() || port >= kMaxPorts) return LearnResult::kInvalid;

  if (Entry* e = FindEntry(key.bits())) {
    const uint32_t meta = e->meta.load(std::memory_order_relaxed);
    if (MetaStatic(meta)) return LearnResult::kStaticKept;
    const uint16_t old_port = MetaPort(meta);
    if (old_port == port) {
      e->last_seen_s.store(now_s, std::memory_order_relaxed);
      return LearnResult::kRefreshed;
    }
    // A refused move leaves the entry as it was, stamp included, so that it
    // ages on its old port.
    if (PortLimit(port) != 0 && port_learned_[port] >= PortLimit(port)) {
      Bump(rejected_limit_total_);
      return LearnResult::kPortLimit;
    }
    e->last_seen_s.store(now_s, std::memory_order_relaxed);
    --port_learned_[old_port];
    ++port_learned_[port];
    e->meta.store(PackMeta(port, false), std::memory_order_release);
    Bump(moved_total_);
    if (moved_from != nullptr) *moved_from = old_port;
    return LearnResult::kMoved;
  }

  if (learned_entries_.load(std::memory_order_relaxed) +
          static_entries_.load(std::memory_order_relaxed) >= max_entries_) {
    Bump(rejected_full_total_);
    return LearnResult::kTableFull;
  }
  if (PortLimit(port) != 0 && port_learned_[port] >= PortLimit(port)) {
    Bump(rejected_limit_total_);
    return LearnResult::kPortLimit;
  }
  Entry* slot = FindFreeSlot(key.bits());
  if (slot == nullptr) {
    Bump(rejected_full_total_);
    return LearnResult::kTableFull;
  }
  Insert(slot, key.bits(), port, false, now_s);
  Bump(learned_total_);
  return LearnResult::kLearned;
}

LearnResult MacTable::AddStatic(FdbKey key, uint16_t port) {
  const MacAddress mac = key.mac();
  if (mac.IsZero() || port >= kMaxPorts) return LearnResult::kInvalid;

  if (Entry* e = FindEntry(key.bits())) {
    const uint32_t meta = e->meta.load(std::memory_order_relaxed);
    if (!MetaStatic(meta)) {
      Drop(learned_entries_);
      --port_learned_[MetaPort(meta)];
      Bump(static_entries_);
    }
    e->meta.store(PackMeta(port, true), std::memory_order_release);
    return MetaPort(meta) == port ? LearnResult::kLearned : LearnResult::kMoved;
  }
  // Static entries may take the last slots: an operator's explicit request
  // wins over the capacity that bounds learning.
  Entry* slot = FindFreeSlot(key.bits());
  if (slot == nullptr) return LearnResult::kTableFull;
  Insert(slot, key.bits(), port, true, 0);
  return LearnResult::kLearned;
}

bool MacTable::Remove(FdbKey key) {
  Entry* e = FindEntry(key.bits());
  if (e == nullptr) return false;
  const size_t index = static_cast<size_t>(e - &buckets_[0].entries[0]) / kEntriesPerBucket;
  Erase(&buckets_[index], e);
  Bump(flushed_total_);
  return true;
}

size_t MacTable::FlushPort(uint16_t port, bool include_static) {
  size_t removed = 0;
  for (size_t b = 0; b <= bucket_mask_; ++b) {
    for (Entry& e : buckets_[b].entries) {
      const uint64_t key = e.key.load(std::memory_order_relaxed);
      if (key == kEmptyKey || key == kTombstoneKey) continue;
      const uint32_t meta = e.meta.load(std::memory_order_relaxed);
      if (port != kNoPort && MetaPort(meta) != port) continue;
      if (MetaStatic(meta) && !include_static) continue;
      Erase(&buckets_[b], &e);
      ++removed;
    }
  }
  Bump(flushed_total_, removed);
  return removed;
}

size_t MacTable::FlushAll(bool include_static) { return FlushPort(kNoPort, include_static); }

size_t MacTable::Age(uint32_t now_s, uint32_t max_buckets) {
  size_t removed = 0;
  const size_t visits = std::min<size_t>(max_buckets, bucket_mask_ + 1);
  for (size_t i = 0; i < visits; ++i) {
    Bucket& bucket = buckets_[age_cursor_];
    age_cursor_ = (age_cursor_ + 1) & bucket_mask_;
    for (Entry& e : bucket.entries) {
      const uint64_t key = e.key.load(std::memory_order_relaxed);
      if (key == kEmptyKey || key == kTombstoneKey) continue;
      if (MetaStatic(e.meta.load(std::memory_order_relaxed))) continue;
      const uint32_t seen = e.last_seen_s.load(std::memory_order_relaxed);
      if (now_s >= seen && now_s - seen >= aging_time_s_) {
        Erase(&bucket, &e);
        ++removed;
      }
    }
  }
  Bump(aged_total_, removed);
  return removed;
}

void MacTable::SetPortLimit(uint16_t port, uint32_t limit) {
  if (port < kMaxPorts) port_limit_[port] = limit;
}

void MacTable::SetDefaultPortLimit(uint32_t limit) { default_port_limit_ = limit; }

uint32_t MacTable::PortLimit(uint16_t port) const {
  if (port >= kMaxPorts) return 0;
  return port_limit_[port] == kUseDefaultLimit ? default_port_limit_ : port_limit_[port];
}

uint32_t MacTable::PortLearnedCount(uint16_t port) const {
  return port < kMaxPorts ? port_learned_[port] : 0;
}

std::vector<FdbEntry> MacTable::Dump() const {
  std::vector<FdbEntry> out;
  out.reserve(learned_entries_.load() + static_entries_.load());
  for (size_t b = 0; b <= bucket_mask_; ++b) {
    for (const Entry& e : buckets_[b].entries) {
      const uint64_t key = e.key.load(std::memory_order_relaxed);
      if (key == kEmptyKey || key == kTombstoneKey) continue;
      const uint32_t meta = e.meta.load(std::memory_order_relaxed);
      out.push_back({FdbKey::FromBits(key), MetaPort(meta), MetaStatic(meta),
                     e.last_seen_s.load(std::memory_order_relaxed)});
    }
  }
  return out;
}

std::optional<FdbEntry> MacTable::Find(FdbKey key) const {
  const Entry* e = FindEntry(key.bits());
  if (e == nullptr) return std::nullopt;
  const uint32_t meta = e->meta.load(std::memory_order_relaxed);
  return FdbEntry{key, MetaPort(meta), MetaStatic(meta),
                  e->last_seen_s.load(std::memory_order_relaxed)};
}

size_t MacTable::CountTombstones() const {
  size_t count = 0;
  for (size_t b = 0; b <= bucket_mask_; ++b) {
    for (const Entry& e : buckets_[b].entries) {
      count += e.key.load(std::memory_order_relaxed) == kTombstoneKey;
    }
  }
  return count;
}

MacTableStats MacTable::Stats() const noexcept {
  constexpr auto r = std::memory_order_relaxed;
  return {learned_entries_.load(r),     static_entries_.load(r),
          max_entries_,                 learned_total_.load(r),
          moved_total_.load(r),         aged_total_.load(r),
          flushed_total_.load(r),       rejected_full_total_.load(r),
          rejected_limit_total_.load(r)};
}

std::string_view LearnResultName(LearnResult result) {
  switch (result) {
    case LearnResult::kLearned: return "learned";
    case LearnResult::kRefreshed: return "refreshed";
    case LearnResult::kMoved: return "moved";
    case LearnResult::kStaticKept: return "static_kept";
    case LearnResult::kTableFull: return "table_full";
    case LearnResult::kPortLimit: return "port_limit";
    case LearnResult::kInvalid: return "invalid";
  }
  return "unknown";
}

}  // namespace dpbridge
