// SPDX-License-Identifier: Apache-2.0
// EalEnvironment: one EAL and one mbuf pool per test program.
#include "eal_environment.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace dpbridge::testing {

namespace {

rte_mempool* pool = nullptr;
bool eal_started = false;

}  // namespace

void EalEnvironment::SetUp() {
  // --no-shconf and a per-process prefix: no runtime files, no clash with
  // other test programs that meson runs in parallel.
  const std::string prefix = "--file-prefix=dpbridge-test-" + std::to_string(getpid());
  std::vector<std::string> args = {
      "dpbridge-test", "--no-huge", "--no-shconf", "--no-pci", "-l", "0", "-m", "512",
      "--log-level=*:warning", prefix,
  };
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    GTEST_FAIL() << "rte_eal_init failed: " << rte_strerror(rte_errno);
  }
  eal_started = true;

  pool = rte_pktmbuf_pool_create("test_pool", kPoolSize, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                 SOCKET_ID_ANY);
  if (pool == nullptr) {
    GTEST_FAIL() << "rte_pktmbuf_pool_create failed: " << rte_strerror(rte_errno);
  }
}

void EalEnvironment::TearDown() {
  if (pool != nullptr) rte_mempool_free(pool);
  pool = nullptr;
  if (eal_started) rte_eal_cleanup();
  eal_started = false;
}

rte_mempool* EalEnvironment::Pool() { return pool; }

bool RegisterEalEnvironment() {
  static const bool registered = [] {
    ::testing::AddGlobalTestEnvironment(new EalEnvironment());
    return true;
  }();
  return registered;
}

}  // namespace dpbridge::testing
