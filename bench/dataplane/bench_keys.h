// SPDX-License-Identifier: Apache-2.0
//
// BenchKey: the n-th of a sequence of distinct, well-spread FDB keys, so that
// benchmarks can name "address n" without storing a table of them.
//
// The low 40 bits of the MAC are a bijection of n (an odd multiply, an
// xor-shift and another odd multiply, all modulo 2^40), so keys 0..2^40-1 are
// pairwise distinct and look random to the table's hash; the first octet is
// 0x02 (locally administered unicast), so every key is learnable.
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>

#include "dpbridge/mac_address.h"

namespace dpbridge::bench {

[[nodiscard]] constexpr FdbKey BenchKey(uint64_t n) noexcept {
  constexpr uint64_t kMask = (uint64_t{1} << 40) - 1;
  uint64_t x = (n * 0x9E3779B97Full) & kMask;
  x ^= x >> 20;
  x = (x * 0xBF58476D1Dull) & kMask;
  return FdbKey(0, MacAddress(0x020000000000ull | x));
}

}  // namespace dpbridge::bench
