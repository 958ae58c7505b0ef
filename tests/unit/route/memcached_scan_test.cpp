// MemcachedScan against real memcached processes (tests/support/memcached_process.hpp).

#include "lib/route/memcached_scan.hpp"

#include "tests/support/memcached_process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <string>

using namespace zmproxy;
using namespace zmproxy::route;
using namespace std::chrono_literals;
using zmproxy::test::memcached_raw;
using zmproxy::test::MemcachedProcess;
using zmproxy::test::raw_get;
using zmproxy::test::raw_set;

namespace {

MemcachedScan open_scan(const MemcachedProcess& mc, ScanLimits limits = {}) {
  auto scan = MemcachedScan::open(MemcachedServer{"127.0.0.1", mc.port()}, 500ms, limits);
  REQUIRE(scan);
  return std::move(*scan);
}

bool starts_with_throttle(std::string_view key) {
  return key.substr(0, 9) == "throttle:";
}

}  // namespace

TEST_CASE("MemcachedScan lists the keys it is asked for, with their expiry",
          "[route][scan][memcached]") {
  MemcachedProcess mc;
  REQUIRE(memcached_raw(mc.port(), "add throttle:proto=i,ip=127.0.0.7 0 60 1\r\n1\r\n", "\r\n") ==
          "STORED\r\n");
  REQUIRE(raw_set(mc.port(), "throttle:user=a%20b@example.com", "3"));
  REQUIRE(raw_set(mc.port(), "route:proto=imap;user=a@example.com", "127.0.0.2:143"));
  MemcachedScan scan = open_scan(mc);
  CHECK(scan.name() == "127.0.0.1:" + std::to_string(mc.port()));
  auto keys = scan.dump_keys(starts_with_throttle);
  REQUIRE(keys);
  REQUIRE(keys->size() == 2);
  auto clock = scan.clock();
  REQUIRE(clock);
  CHECK(std::abs(*clock - static_cast<std::int64_t>(std::time(nullptr))) < 5);
  for (const MetadumpEntry& e : *keys) {
    if (e.key == "throttle:proto=i,ip=127.0.0.7") {
      REQUIRE(e.expires);
      CHECK(*e.expires - *clock > 50);
      CHECK(*e.expires - *clock <= 60);
    } else {
      CHECK(e.key == "throttle:user=a%20b@example.com");
      CHECK_FALSE(e.expires);
    }
  }
  auto values = scan.get(
      {"throttle:proto=i,ip=127.0.0.7", "throttle:user=a%20b@example.com", "throttle:none"});
  REQUIRE(values);
  CHECK(values->size() == 2);
  CHECK(values->at("throttle:proto=i,ip=127.0.0.7") == "1");
  CHECK(values->at("throttle:user=a%20b@example.com") == "3");
  // The same connection serves the next commands.
  auto removed = scan.remove("throttle:user=a%20b@example.com");
  REQUIRE(removed);
  CHECK(*removed);
  auto again = scan.remove("throttle:user=a%20b@example.com");
  REQUIRE(again);
  CHECK_FALSE(*again);
  CHECK_FALSE(raw_get(mc.port(), "throttle:user=a%20b@example.com"));
  CHECK(raw_get(mc.port(), "route:proto=imap;user=a@example.com"));
}

TEST_CASE("MemcachedScan gets many keys in batches", "[route][scan][memcached]") {
  MemcachedProcess mc;
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("throttle:user=user" + std::to_string(i) +
                   "@a-rather-long-domain-name.example.com");
    REQUIRE(raw_set(mc.port(), keys.back(), std::to_string(i)));
  }
  MemcachedScan scan = open_scan(mc);
  auto values = scan.get(keys);
  REQUIRE(values);
  CHECK(values->size() == 300);
  CHECK(values->at(keys[299]) == "299");
  auto dumped = scan.dump_keys(starts_with_throttle);
  REQUIRE(dumped);
  CHECK(dumped->size() == 300);
}

TEST_CASE("MemcachedScan keeps to its bounds", "[route][scan][memcached]") {
  MemcachedProcess mc;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(raw_set(mc.port(), "throttle:user=u" + std::to_string(i), "1"));
  }
  REQUIRE(raw_set(mc.port(), "throttle:user=big", std::string(2000, '7')));
  ScanLimits limits;
  limits.max_kept = 3;
  limits.max_value_bytes = 100;
  MemcachedScan scan = open_scan(mc, limits);
  auto dumped = scan.dump_keys(starts_with_throttle);
  REQUIRE_FALSE(dumped);
  CHECK(dumped.error().message.find("more than 3 keys") != std::string::npos);
  MemcachedScan other = open_scan(mc, limits);
  auto values = other.get({"throttle:user=big"});
  REQUIRE_FALSE(values);
  CHECK(values.error().message.find("2000 bytes") != std::string::npos);
  // A key that is not wire-safe never reaches the server.
  MemcachedScan third = open_scan(mc);
  CHECK_FALSE(third.remove("a\r\nflush_all"));
  CHECK_FALSE(third.get({"a b"}));
  CHECK(raw_get(mc.port(), "throttle:user=u0"));
}

TEST_CASE("MemcachedScan fails within its timeout when the server is gone or hangs",
          "[route][scan][memcached]") {
  MemcachedProcess mc;
  const std::uint16_t port = mc.port();
  mc.pause();
  auto start = std::chrono::steady_clock::now();
  {
    auto scan = MemcachedScan::open(MemcachedServer{"127.0.0.1", port}, 300ms);
    // The kernel accepts the connection for a stopped process; the dump then waits.
    if (scan) {
      auto dumped = scan->dump_keys(starts_with_throttle);
      REQUIRE_FALSE(dumped);
      CHECK(dumped.error().message.find("no answer within 300 ms") != std::string::npos);
    }
  }
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  mc.resume();
  mc.stop();
  start = std::chrono::steady_clock::now();
  auto scan = MemcachedScan::open(MemcachedServer{"127.0.0.1", port}, 300ms);
  REQUIRE_FALSE(scan);
  CHECK(scan.error().code == Errc::unavailable);
  CHECK(scan.error().message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}
