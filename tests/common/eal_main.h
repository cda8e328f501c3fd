// SPDX-License-Identifier: Apache-2.0
//
// RunTestsWithEal: the main() of a test program whose tests need a real PMD lcore.
// Brings up EAL without hugepages or shared config on lcores 0 (the test's thread and the
// Switch's control thread) and 1 (a PMD thread), with a file prefix made from `program`
// and the pid so that programs may run side by side; runs every test; cleans EAL up.
// Programs that need no PMD lcore use EalEnvironment (eal_environment.h) instead.
#pragma once

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace dpbridge::testing {

// `memory_mb`: EAL memory (-m); `extra`: further EAL arguments.
inline int RunTestsWithEal(int argc, char** argv, const std::string& program,
                           unsigned memory_mb, const std::vector<std::string>& extra = {}) {
  ::testing::InitGoogleTest(&argc, argv);
  std::vector<std::string> args = {program,
                                   "--no-huge",
                                   "--no-shconf",
                                   "-l",
                                   "0,1",
                                   "-m",
                                   std::to_string(memory_mb),
                                   "--log-level=*:warning",
                                   "--file-prefix=" + program + "_" + std::to_string(getpid())};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> eal_argv;
  for (auto& arg : args) eal_argv.push_back(arg.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "%s: EAL initialisation failed\n", program.c_str());
    return 1;
  }
  const int result = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return result;
}

}  // namespace dpbridge::testing
