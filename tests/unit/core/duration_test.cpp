#include "lib/core/duration.hpp"

#include <catch2/catch.hpp>

using zmproxy::core::format_duration;
using zmproxy::core::parse_duration;
using namespace std::chrono_literals;

TEST_CASE("durations parse with every unit", "[core][duration]") {
  CHECK(parse_duration("10") == std::chrono::milliseconds(10s));
  CHECK(parse_duration("10s") == std::chrono::milliseconds(10s));
  CHECK(parse_duration("120000ms") == std::chrono::milliseconds(120s));
  CHECK(parse_duration("1m") == std::chrono::milliseconds(1min));
  CHECK(parse_duration("1h") == std::chrono::milliseconds(1h));
  CHECK(parse_duration("2d") == std::chrono::milliseconds(48h));
  CHECK(parse_duration("0") == std::chrono::milliseconds(0));
}

TEST_CASE("durations reject malformed text", "[core][duration]") {
  for (const char* bad :
       {"", "s", "1x", "1 h", "-1s", "1.5h", "1hh", "h1", "99999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad));
  }
}

TEST_CASE("durations format to the largest exact unit", "[core][duration]") {
  CHECK(format_duration(1h) == "1h");
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_duration(std::chrono::milliseconds(parse_duration("120000ms").value())) == "2m");
}
