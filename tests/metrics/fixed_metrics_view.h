// SPDX-License-Identifier: Apache-2.0
//
// FixedMetricsView: a MetricsView with known, distinct numbers, for the
// exporter's tests and for exporter_fixture (a process that serves it).
//
// Every value differs from every other, so a test that reads a number from
// the wrong field or the wrong port fails.
//
// Thread-safety: returns a new value each call.
#pragma once

#include "switch.h"

namespace dpbridge {

// Ports "tap0" (tap, link up) and "vhost1" (vhost-user, link down); PMDs 0
// and 1 (PMD 1 has received nothing); an FDB with learned and static entries.
[[nodiscard]] MetricsView FixedMetricsView();

}  // namespace dpbridge
