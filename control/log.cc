// SPDX-License-Identifier: Apache-2.0
// Logger and RateLimit.
#include "log.h"

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace dpbridge {

namespace {

std::atomic<int> global_level{-1};

uint64_t MonotonicMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "ERROR";
    case LogLevel::kWarning: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kDebug: return "DEBUG";
  }
  return "?";
}

void Logger::SetGlobalLevel(LogLevel level) {
  global_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void Logger::Log(LogLevel level, const char* format, ...) const {
  const int global = global_level.load(std::memory_order_relaxed);
  if (global >= 0 ? static_cast<int>(level) > global : !Enabled(level)) return;

  char message[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);

  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &utc);
  // One fprintf per line: stdio locks the stream, so lines never interleave.
  std::fprintf(stderr, "%s %-5.*s %.*s: %s\n", stamp,
               static_cast<int>(LogLevelName(level).size()), LogLevelName(level).data(),
               static_cast<int>(component_.size()), component_.data(), message);
}

bool RateLimit::Allow(uint64_t* suppressed) {
  const uint64_t now = MonotonicMs();
  if (now - window_start_ms_ >= interval_ms_) {
    window_start_ms_ = now;
    in_window_ = 0;
  }
  if (in_window_ < burst_) {
    ++in_window_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }
  ++suppressed_;
  return false;
}

}  // namespace dpbridge
