// MemcachedHung: a server whose call timed out is skipped for retry_after,
// then tried again; other servers and out-of-range indexes are never skipped.

#include "lib/route/memcached_hung.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::route;

TEST_CASE("a memcached server that timed out is skipped for retry_after, then tried again",
          "[route][memcached]") {
  MemcachedHung hung(3, std::chrono::seconds(60));
  REQUIRE_FALSE(hung.skip(1, 1000));
  hung.timed_out(1, 1000);
  CHECK(hung.skip(1, 1000));
  CHECK(hung.skip(1, 60'999));
  CHECK_FALSE(hung.skip(1, 61'000));  // one call goes through again
  CHECK_FALSE(hung.skip(0, 2000));    // the others were never skipped
  CHECK_FALSE(hung.skip(2, 2000));
  hung.timed_out(1, 61'000);  // it timed out again: another interval
  CHECK(hung.skip(1, 120'999));
}

TEST_CASE("memcached server indexes beyond the list are never skipped", "[route][memcached]") {
  MemcachedHung hung(2, std::chrono::seconds(1));
  hung.timed_out(7, 0);
  CHECK_FALSE(hung.skip(7, 1));
  MemcachedHung none(0, std::chrono::seconds(1));
  CHECK_FALSE(none.skip(0, 0));
}
