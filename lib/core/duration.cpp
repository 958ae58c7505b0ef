#include "lib/core/duration.hpp"

#include <cstdint>
#include <limits>

namespace zmproxy::core {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept {
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) {
      return std::nullopt;
    }
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  const std::string_view unit = text.substr(i);
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "s") {
    mult = 1000;
  } else if (unit == "ms") {
    mult = 1;
  } else if (unit == "m") {
    mult = 60'000;
  } else if (unit == "h") {
    mult = 3'600'000;
  } else if (unit == "d") {
    mult = 86'400'000;
  } else {
    return std::nullopt;
  }
  // Keep well inside int64 milliseconds (about 292 million years).
  if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / mult) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(n * mult));
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms == 0) {
    return "0s";
  }
  struct Unit {
    std::int64_t size;
    const char* name;
  };
  for (const Unit u :
       {Unit{86'400'000, "d"}, Unit{3'600'000, "h"}, Unit{60'000, "m"}, Unit{1000, "s"}}) {
    if (ms % u.size == 0) {
      return std::to_string(ms / u.size) + u.name;
    }
  }
  return std::to_string(ms) + "ms";
}

}  // namespace zmproxy::core
