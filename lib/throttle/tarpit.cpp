#include "lib/throttle/tarpit.hpp"

#include <algorithm>

namespace zmproxy::throttle {

std::chrono::milliseconds tarpit_delay(std::uint64_t failures, const TarpitSettings& settings) noexcept {
  if (failures <= settings.free_failures || settings.max_delay.count() <= 0) {
    return std::chrono::milliseconds{0};
  }
  const std::uint64_t doublings = failures - settings.free_failures - 1;
  std::chrono::milliseconds delay = std::max(settings.first_delay, std::chrono::milliseconds{1});
  // Doubling stops at the bound, so a huge failure count cannot overflow.
  for (std::uint64_t i = 0; i < doublings && delay < settings.max_delay; ++i) {
    delay *= 2;
  }
  return std::min(delay, settings.max_delay);
}

}  // namespace zmproxy::throttle
