// MemcachedCounterStore (and MemcachedCache's counter calls under it) against
// a real memcached (tests/support/memcached_process.hpp), with the byte-exact
// Zimbra keys of throttle_keys.hpp.

#include "lib/throttle/memcached_counter_store.hpp"

#include "lib/throttle/login_throttle.hpp"
#include "lib/throttle/throttle_keys.hpp"

#include "tests/support/memcached_process.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::throttle;
using namespace std::chrono_literals;
using zmproxy::test::MemcachedProcess;
using zmproxy::test::raw_get;
using zmproxy::test::raw_set;

namespace {

std::unique_ptr<route::MemcachedCache> make_cache(const MemcachedProcess& server) {
  auto cache = route::MemcachedCache::create(route::MemcachedSettings{{server.address()}, 500ms});
  REQUIRE(cache);
  return std::move(*cache);
}

// Polls `done` until it holds or `limit` passes; true if it held.
template <typename Fn>
bool eventually(Fn&& done, std::chrono::steady_clock::duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

}  // namespace

TEST_CASE("the first incr is 1 and the key expires after the window", "[throttle][memcached]") {
  MemcachedProcess server;
  auto cache = make_cache(server);
  MemcachedCounterStore store(*cache);
  const std::string key = ip_counter_key(MailProtocol::imap, "127.0.0.7");
  REQUIRE(key == "throttle:proto=i,ip=127.0.0.7");

  const auto start = std::chrono::steady_clock::now();
  CHECK(store.incr(key, 2s) == 1u);
  CHECK(raw_get(server.port(), key) == "1");  // the key as Zimbra's nginx writes it
  CHECK(store.get(key) == 1u);
  // memcached's clock ticks in whole seconds: a 2 s TTL lapses after two
  // ticks, so between 1 s and ~3 s from the add.
  REQUIRE(eventually([&] { return store.get(key) == 0u; }, 6s));
  CHECK(std::chrono::steady_clock::now() - start >= 900ms);
  CHECK_FALSE(raw_get(server.port(), key));
  // A new window starts at 1 again.
  CHECK(store.incr(key, 1s) == 1u);
  CHECK(cache->last_error().empty());
}

TEST_CASE("successive incr count up, and later hits do not extend the window", "[throttle][memcached]") {
  MemcachedProcess server;
  auto cache = make_cache(server);
  MemcachedCounterStore store(*cache);
  const std::string key = user_counter_key("john@example.com");
  REQUIRE(key == "throttle:user=john@example.com");
  for (std::uint64_t i = 1; i <= 12; ++i) {
    CHECK(store.incr(key, 2s) == i);
  }
  CHECK(store.get(key) == 12u);
  CHECK(raw_get(server.port(), key) == "12");
  // Hits keep coming while the window runs out: a sliding TTL would never lapse.
  bool reset = false;
  const auto deadline = std::chrono::steady_clock::now() + 6s;
  while (!reset && std::chrono::steady_clock::now() < deadline) {
    reset = store.incr(key, 2s) == 1u;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(reset);
}

TEST_CASE("get of a missing key is 0, and remove lifts a counter", "[throttle][memcached]") {
  MemcachedProcess server;
  auto cache = make_cache(server);
  MemcachedCounterStore store(*cache);
  const std::string key = failed_login_key("john@example.com", "::1");
  CHECK(store.get(key) == 0u);
  CHECK(store.remove(key));  // not there: removed already
  CHECK(store.incr(key, 60s) == 1u);
  CHECK(store.incr(key, 60s) == 2u);
  CHECK(store.remove(key));
  CHECK(store.get(key) == 0u);
  CHECK_FALSE(raw_get(server.port(), key));
  CHECK(cache->last_error().empty());
}

TEST_CASE("concurrent first hits on one key all count (the add race)", "[throttle][memcached]") {
  MemcachedProcess server;
  auto cache = make_cache(server);
  MemcachedCounterStore store(*cache);
  constexpr int k_threads = 4;
  constexpr int k_keys = 200;
  // Every thread hits every key once, in the same order, so first hits on a
  // fresh key often meet: the losers of the add must incr, not fail.
  std::vector<std::vector<std::uint64_t>> seen(k_threads, std::vector<std::uint64_t>(k_keys));
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < k_keys; ++k) {
        const auto n = store.incr(ip_counter_key(MailProtocol::imap,
                                                 "127.0.1." + std::to_string(k)), 60s);
        seen[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)] = n.value_or(0);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int k = 0; k < k_keys; ++k) {
    std::vector<std::uint64_t> counts;
    for (int t = 0; t < k_threads; ++t) {
      counts.push_back(seen[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)]);
    }
    std::sort(counts.begin(), counts.end());
    CHECK(counts == std::vector<std::uint64_t>{1, 2, 3, 4});
  }
  CHECK(cache->last_error().empty());
}

TEST_CASE("a value that is not a counter is an error, not a count", "[throttle][memcached]") {
  MemcachedProcess server;
  auto cache = make_cache(server);
  MemcachedCounterStore store(*cache);
  const std::string key = user_counter_key("mallory@example.com");
  REQUIRE(raw_set(server.port(), key, "many"));
  CHECK_FALSE(store.get(key));
  CHECK_FALSE(cache->last_error().empty());
  CHECK_FALSE(store.incr(key, 60s));
}

TEST_CASE("memcached stopped: incr and get answer nullopt, remove false", "[throttle][memcached]") {
  MemcachedProcess server;
  auto cache = make_cache(server);
  MemcachedCounterStore store(*cache);
  const std::string key = ip_counter_key(MailProtocol::pop3, "192.0.2.7");
  REQUIRE(store.incr(key, 60s) == 1u);
  server.stop();
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(store.incr(key, 60s));
  CHECK_FALSE(store.get(key));
  CHECK_FALSE(store.remove(key));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(cache->stats().errors >= 3);
  CHECK_FALSE(cache->last_error().empty());
}

TEST_CASE("no memcached configured: every counter call fails open", "[throttle][memcached]") {
  auto cache = route::MemcachedCache::create(route::MemcachedSettings{});
  REQUIRE(cache);
  MemcachedCounterStore store(**cache);
  CHECK_FALSE(store.incr("throttle:user=a@b", 60s));
  CHECK_FALSE(store.get("throttle:user=a@b"));
  CHECK_FALSE(store.remove("throttle:user=a@b"));
}

TEST_CASE("LoginThrottle over real memcached refuses the (limit+1)th connection",
          "[throttle][memcached][login]") {
  MemcachedProcess server;
  auto cache = make_cache(server);
  MemcachedCounterStore store(*cache);
  ThrottleSettings settings;
  settings.imap = IpLimit{3, 60s};
  LoginThrottle throttle(settings, store);
  for (std::uint64_t i = 1; i <= 3; ++i) {
    const Decision d = throttle.on_connection(MailProtocol::imap, "127.0.0.9");
    CHECK(d.allowed());
    CHECK(d.count == i);
  }
  const Decision fourth = throttle.on_connection(MailProtocol::imap, "127.0.0.9");
  CHECK_FALSE(fourth.allowed());
  CHECK(fourth.reason == Reason::ip_limit);
  CHECK(raw_get(server.port(), "throttle:proto=i,ip=127.0.0.9") == "4");
  // Another address counts apart.
  CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.10").allowed());
  // Lifting the block lets it in again.
  CHECK(throttle.clear(ip_counter_key(MailProtocol::imap, "127.0.0.9")));
  CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.9").allowed());
  // memcached gone: fail open.
  server.stop();
  CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.9").allowed());
}
