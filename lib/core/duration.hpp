#pragma once
// Zimbra durations: digits with an optional unit d, h, m, s or ms; no unit
// means seconds (as Zimbra's DateUtil.getTimeInterval). Pure functions.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::core {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept;

// The shortest exact text for a duration: 3600000ms -> "1h", 1500ms -> "1500ms".
std::string format_duration(std::chrono::milliseconds d);

// The steady clock in milliseconds, for deadlines kept as plain integers
// (atomics, idle stamps of pooled connections).
inline std::int64_t steady_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace zmproxy::core
