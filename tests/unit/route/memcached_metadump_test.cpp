#include "lib/route/memcached_metadump.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::route;

TEST_CASE("a metadump line as memcached 1.6 prints it", "[route][metadump]") {
  const auto entry = parse_metadump_line(
      "key=throttle%3Aproto%3Di%2Cip%3D127.0.0.7 exp=1796628465 la=1796628405 cas=2 fetch=no cls=1 "
      "size=89");
  REQUIRE(entry);
  CHECK(entry->key == "throttle:proto=i,ip=127.0.0.7");
  REQUIRE(entry->expires);
  CHECK(*entry->expires == 1796628465);
}

TEST_CASE("a key's own %XX escapes survive the dump's encoding", "[route][metadump]") {
  const auto entry = parse_metadump_line(
      "key=throttle%3Auser%3Da%2520b%2525c%40x exp=-1 la=1 cas=3 fetch=no cls=1 size=85");
  REQUIRE(entry);
  CHECK(entry->key == "throttle:user=a%20b%25c@x");
  CHECK_FALSE(entry->expires);
}

TEST_CASE("UTF-8 in a key is kept", "[route][metadump]") {
  const auto entry = parse_metadump_line("key=k%C3%A9y exp=-1 la=1 cas=4 fetch=no cls=1 size=64");
  REQUIRE(entry);
  CHECK(entry->key == "k\xc3\xa9y");
}

TEST_CASE("lines that are not dump lines are refused", "[route][metadump]") {
  for (const char* line :
       {"", "END", "ERROR", "key=", "key=a", "key=a exp=", "key=a exp=x", "key=a exp=12x",
        "key=a exp=-2", "key=a%2 exp=1", "exp=1 key=a", " key=a exp=1"}) {
    CAPTURE(line);
    CHECK_FALSE(parse_metadump_line(line));
  }
}

TEST_CASE("a key that would smuggle a command is refused", "[route][metadump]") {
  // Decoded, these carry CR LF, a space or a control byte: a `delete` built
  // from them would run a second command on the server.
  for (const char* line :
       {"key=a%0D%0Aflush_all exp=1", "key=a%20b exp=1", "key=a%00 exp=1", "key=a%7F exp=1"}) {
    CAPTURE(line);
    CHECK_FALSE(parse_metadump_line(line));
  }
  const std::string long_key = "key=" + std::string(251, 'a') + " exp=1";
  CHECK_FALSE(parse_metadump_line(long_key));
}
