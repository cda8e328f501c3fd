// SPDX-License-Identifier: Apache-2.0
//
// EalEnvironment: a GoogleTest global environment that brings up DPDK's EAL
// once for the whole test program and owns one shared packet-buffer pool.
//
// EAL cannot be initialised twice in a process, so a test binary that needs
// DPDK registers this environment once (RegisterEalEnvironment() from a
// namespace-scope initialiser) and every test uses the same EAL and pool.
// EAL runs with --no-huge --no-shconf and a file prefix made from the pid, so
// that any number of test programs can run at the same time without
// hugepages and without leaving runtime files behind.
//
// Thread-safety: SetUp/TearDown run on the main thread (GoogleTest calls
// them); Pool() may be called from any thread once SetUp has run.
//
// Limitations: the EAL main lcore is core 0, so parallel test programs share
// that core; they are functional tests, never timed.
#pragma once

#include <gtest/gtest.h>
#include <rte_mempool.h>

namespace dpbridge::testing {

class EalEnvironment : public ::testing::Environment {
 public:
  // Mbufs in the shared pool; enough for every test's in-flight frames.
  static constexpr unsigned kPoolSize = 4095;

  void SetUp() override;
  void TearDown() override;

  // The shared pool; nullptr before SetUp or if EAL failed to start.
  [[nodiscard]] static rte_mempool* Pool();
};

// Registers the environment with GoogleTest (once; later calls do nothing).
// Returns true so that it can initialise a namespace-scope constant.
bool RegisterEalEnvironment();

}  // namespace dpbridge::testing
