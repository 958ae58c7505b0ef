#include "lib/throttle/pair_hints.hpp"

#include <catch2/catch.hpp>

#include <string>

using zmproxy::throttle::PairHints;
using namespace std::chrono_literals;

TEST_CASE("a pair is suspected from its failure until the note expires or it logs in",
          "[throttle][hints]") {
  PairHints hints;
  const auto now = PairHints::Clock::now();
  CHECK_FALSE(hints.suspect("john@example.com", "127.0.0.7", now));
  hints.note_failure("john@example.com", "127.0.0.7", now + 900s);
  CHECK(hints.suspect("john@example.com", "127.0.0.7", now));
  CHECK(hints.suspect("JOHN@Example.COM", "127.0.0.7", now));  // names count lower-cased
  CHECK_FALSE(hints.suspect("john@example.com", "127.0.0.8", now));
  CHECK_FALSE(hints.suspect("jane@example.com", "127.0.0.7", now));
  CHECK_FALSE(hints.suspect("john@example.com", "127.0.0.7", now + 900s));
  hints.forget("John@example.com", "127.0.0.7");
  CHECK_FALSE(hints.suspect("john@example.com", "127.0.0.7", now));
}

TEST_CASE("the hints stay within their capacity", "[throttle][hints]") {
  PairHints hints(8);
  const auto now = PairHints::Clock::now();
  for (int i = 0; i < 100; ++i) {
    hints.note_failure("user" + std::to_string(i), "127.0.0.7", now + 60s);
    CHECK(hints.size() <= 8);
  }
  // The newest is always kept.
  CHECK(hints.suspect("user99", "127.0.0.7", now));
}
