// SPDX-License-Identifier: Apache-2.0
//
// Logger: one line per event, for people and journald.
//
// Each component has its own Logger ("port", "fdb", "pmd", "ctl", ...) whose
// level can be changed at run time. A line reads
//   2026-12-03T14:02:11Z INFO  port: port tap0: link up
// and names its object first. Events that traffic can trigger (MAC moves, a
// full FDB) go through a RateLimit so that a flood of them costs a few lines
// and a count of what was suppressed, never a line per packet.
//
// Thread-safety: any thread; lines are written whole.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace dpbridge {

enum class LogLevel : uint8_t { kError, kWarning, kInfo, kDebug };

[[nodiscard]] std::string_view LogLevelName(LogLevel level);

class Logger {
 public:
  explicit constexpr Logger(std::string_view component) : component_(component) {}

  void SetLevel(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  [[nodiscard]] bool Enabled(LogLevel level) const {
    return level <= level_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::string_view component() const { return component_; }

  void Log(LogLevel level, const char* format, ...) const __attribute__((format(printf, 3, 4)));

  // Sets the level of every logger in the process (e.g. from --log-level).
  static void SetGlobalLevel(LogLevel level);

 private:
  std::string_view component_;
  std::atomic<LogLevel> level_{LogLevel::kInfo};
};

// Allows `burst` events per `interval_ms`; counts the rest.
class RateLimit {
 public:
  constexpr RateLimit(uint32_t burst, uint32_t interval_ms)
      : burst_(burst), interval_ms_(interval_ms) {}
  // True if this event may be logged. `suppressed` receives how many were
  // dropped since the last allowed one.
  [[nodiscard]] bool Allow(uint64_t* suppressed);

 private:
  uint32_t burst_;
  uint32_t interval_ms_;
  uint64_t window_start_ms_ = 0;
  uint32_t in_window_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace dpbridge
