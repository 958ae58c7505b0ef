#include "lib/route/refusal_drops.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::route;
using Clock = RefusalDrops::Clock;

TEST_CASE("a refused login drops a user's route at most once per interval", "[route]") {
  RefusalDrops drops(std::chrono::seconds(60), 100);
  const auto now = Clock::now();
  CHECK(drops.allow("john@example.com", now));
  CHECK_FALSE(drops.allow("JOHN@example.com", now + std::chrono::seconds(1)));
  CHECK_FALSE(drops.allow("john@example.com", now + std::chrono::seconds(59)));
  CHECK(drops.allow("mary@example.com", now + std::chrono::seconds(1)));  // per user
  CHECK(drops.allow("john@example.com", now + std::chrono::seconds(60)));
  CHECK_FALSE(drops.allow("john@example.com", now + std::chrono::seconds(61)));
}

TEST_CASE("refusal drops remember at most their capacity", "[route]") {
  RefusalDrops drops(std::chrono::seconds(60), 3);
  const auto now = Clock::now();
  for (const char* user : {"a", "b", "c"}) {
    CHECK(drops.allow(user, now));
  }
  CHECK_FALSE(drops.allow("d", now + std::chrono::seconds(1)));  // full: nothing dropped
  CHECK(drops.size() == 3);
  CHECK(drops.allow("d", now + std::chrono::seconds(60)));  // the expired ones swept
  CHECK(drops.size() == 1);
}
