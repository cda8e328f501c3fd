// SPDX-License-Identifier: Apache-2.0
// Entry point of reliability_test: EAL on lcores 0 and 1, then every reliability test.
#include "../common/eal_main.h"

int main(int argc, char** argv) {
  return dpbridge::testing::RunTestsWithEal(argc, argv, "dpb_reliability", 512, {"--no-pci"});
}
