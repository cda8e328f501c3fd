// SPDX-License-Identifier: Apache-2.0
//
// The switch's coarse clock: whole seconds since the process started, read
// from the TSC. The FDB stamps entries with it; the dataplane reads it once
// per loop iteration and the control thread uses it to age entries, so both
// sides agree on what "now" is.
//
// Thread-safety: any thread, after EAL initialisation (which calibrates the TSC).
#pragma once

#include <cstdint>

namespace dpbridge {

// Seconds since the first call in this process.
[[nodiscard]] uint32_t NowSeconds() noexcept;

}  // namespace dpbridge
