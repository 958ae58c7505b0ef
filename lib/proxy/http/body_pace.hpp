#pragma once
// The pace a request body must keep (a client trickling an upload holds a
// connection, a worker's buffers and an upstream connection): after `grace`,
// it must have averaged `min_rate` bytes a second since `start`, i.e. a body
// of N bytes is due by start + grace + N / min_rate. Apache's mod_reqtimeout
// `body=...,MinRate=...` works the same way. Pure.

#include <chrono>
#include <cstdint>

namespace zmproxy::proxy::http {

struct BodyPace {
  std::chrono::steady_clock::time_point start;
  std::chrono::milliseconds grace{0};
  std::int64_t min_rate = 0;  // bytes a second; 0 = none

  // How long the next read may wait, `received` body bytes in, at `now`
  // (zero or less: the body is already too slow).
  std::chrono::milliseconds allowance(std::uint64_t received,
                                      std::chrono::steady_clock::time_point now) const {
    if (min_rate <= 0) {
      return std::chrono::milliseconds::max();
    }
    const auto earned = std::chrono::milliseconds(
        static_cast<std::int64_t>(received / static_cast<std::uint64_t>(min_rate) * 1000 +
                                  received % static_cast<std::uint64_t>(min_rate) * 1000 /
                                      static_cast<std::uint64_t>(min_rate)));
    return std::chrono::duration_cast<std::chrono::milliseconds>(start + grace + earned - now);
  }
};

}  // namespace zmproxy::proxy::http
