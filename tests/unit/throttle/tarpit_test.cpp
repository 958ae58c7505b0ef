#include "lib/throttle/tarpit.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

using namespace zmproxy::throttle;
using std::chrono::milliseconds;

TEST_CASE("the tarpit is free at first, then doubles, then stays at its bound", "[throttle][tarpit]") {
  const TarpitSettings s{3, milliseconds{1000}, milliseconds{30000}};
  CHECK(tarpit_delay(0, s) == milliseconds{0});
  CHECK(tarpit_delay(3, s) == milliseconds{0});
  CHECK(tarpit_delay(4, s) == milliseconds{1000});
  CHECK(tarpit_delay(5, s) == milliseconds{2000});
  CHECK(tarpit_delay(6, s) == milliseconds{4000});
  CHECK(tarpit_delay(8, s) == milliseconds{16000});
  CHECK(tarpit_delay(9, s) == milliseconds{30000});
  CHECK(tarpit_delay(1000, s) == milliseconds{30000});
  CHECK(tarpit_delay(std::numeric_limits<std::uint64_t>::max(), s) == milliseconds{30000});
}

TEST_CASE("the tarpit grows monotonically", "[throttle][tarpit]") {
  const TarpitSettings s{0, milliseconds{300}, milliseconds{10000}};
  milliseconds last{0};
  for (std::uint64_t failures = 0; failures < 100; ++failures) {
    const milliseconds now = tarpit_delay(failures, s);
    CHECK(now >= last);
    CHECK(now <= s.max_delay);
    last = now;
  }
  CHECK(last == s.max_delay);
}

TEST_CASE("a zero bound turns the tarpit off", "[throttle][tarpit]") {
  CHECK(tarpit_delay(50, TarpitSettings{0, milliseconds{1000}, milliseconds{0}}) == milliseconds{0});
}
