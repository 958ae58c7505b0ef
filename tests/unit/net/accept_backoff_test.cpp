#include "lib/net/accept_backoff.hpp"

#include <catch2/catch.hpp>

using zmproxy::net::AcceptBackoff;
using std::chrono::milliseconds;

TEST_CASE("accept failures for want of descriptors pause, doubling up to 1 s", "[net][accept]") {
  AcceptBackoff b;
  CHECK(b.after_failure(EMFILE) == milliseconds(10));
  CHECK(b.first_failure());
  CHECK(b.after_failure(ENFILE) == milliseconds(20));
  CHECK_FALSE(b.first_failure());
  CHECK(b.after_failure(EMFILE) == milliseconds(40));
  for (int i = 0; i < 20; ++i) {
    CHECK(b.after_failure(EMFILE) <= milliseconds(1000));
  }
  CHECK(b.after_failure(EMFILE) == milliseconds(1000));
  CHECK(b.after_success());  // a recovery to log
  CHECK_FALSE(b.after_success());
  CHECK(b.after_failure(EMFILE) == milliseconds(10));
}

TEST_CASE("other accept failures pause briefly and never grow", "[net][accept]") {
  AcceptBackoff b;
  CHECK(b.after_failure(ECONNABORTED) == milliseconds(10));
  CHECK(b.after_failure(ECONNABORTED) == milliseconds(10));
  CHECK_FALSE(b.after_success());
}
