#include "lib/route/lookup_server.hpp"

#include <catch2/catch.hpp>

using zmproxy::route::check_listen_policy;

TEST_CASE("zmlookupd listens beyond loopback only with a caller secret", "[route][lookup]") {
  for (const char* loopback : {"127.0.0.1:7072", "127.5.6.7:0", "[::1]:7072", "[::ffff:127.0.0.1]:1"}) {
    CHECK(check_listen_policy(loopback, false));
  }
  for (const char* open : {"0.0.0.0:7072", "[::]:7072", "192.0.2.10:7072", ":7072"}) {
    const auto r = check_listen_policy(open, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("zmlookupd_secret") != std::string::npos);
    CHECK(r.error().message.find('\n') == std::string::npos);
    CHECK(check_listen_policy(open, true));
  }
  CHECK_FALSE(check_listen_policy("not-an-address:1", true));
}
