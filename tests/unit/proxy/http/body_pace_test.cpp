#include "lib/proxy/http/body_pace.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::proxy::http;
using namespace std::chrono_literals;

TEST_CASE("a body's allowance grows with what it sent", "[http][body_pace]") {
  const auto t0 = std::chrono::steady_clock::time_point(100s);
  const BodyPace pace{t0, 60s, 500};
  CHECK(pace.allowance(0, t0) == 60s);
  CHECK(pace.allowance(0, t0 + 59s) == 1s);
  CHECK(pace.allowance(0, t0 + 61s) == -1s);
  CHECK(pace.allowance(5000, t0 + 65s) == 5s);  // 10 s earned
  CHECK(pace.allowance(250, t0) == 60500ms);
  CHECK(pace.allowance(10'485'760, t0).count() > 0);
}

TEST_CASE("no minimum rate: no limit", "[http][body_pace]") {
  const BodyPace pace{std::chrono::steady_clock::time_point(0s), 1s, 0};
  CHECK(pace.allowance(0, std::chrono::steady_clock::time_point(1000h)) ==
        std::chrono::milliseconds::max());
}
