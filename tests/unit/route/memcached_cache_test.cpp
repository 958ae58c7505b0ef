// MemcachedCache against real memcached processes (tests/support/memcached_process.hpp).

#include "lib/route/memcached_cache.hpp"

#include "lib/route/cache_key.hpp"

#include "tests/support/memcached_process.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
using namespace std::chrono_literals;
using zmproxy::test::MemcachedProcess;
using zmproxy::test::raw_get;
using zmproxy::test::raw_set;
using zmproxy::test::raw_stat;

namespace {

// Every call in these tests must return well within this, whatever the servers do.
constexpr auto k_call_bound = 2s;

std::unique_ptr<MemcachedCache> make_cache(std::vector<std::string> servers,
                                           std::chrono::milliseconds timeout = 500ms,
                                           std::chrono::seconds retry_after = 60s,
                                           std::size_t pool_size = 4) {
  auto cache = MemcachedCache::create(
      MemcachedSettings{std::move(servers), timeout, retry_after, pool_size});
  REQUIRE(cache);
  return std::move(*cache);
}

// Runs fn() and returns how long it took.
template <typename Fn>
std::chrono::steady_clock::duration timed(Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::steady_clock::now() - start;
}

std::string user_key(int i) {
  return route_key("imap", "user" + std::to_string(i) + "@example.com");
}

std::uint64_t items(const MemcachedProcess& server) {
  const auto n = raw_stat(server.port(), "curr_items");
  REQUIRE(n);
  return *n;
}

}  // namespace

TEST_CASE("get of an absent key is a miss", "[memcached]") {
  MemcachedProcess server;
  auto cache = make_cache({server.address()});
  CHECK_FALSE(cache->get(route_key("imap", "nobody@example.com")));
  const MemcachedStats stats = cache->stats();
  CHECK(stats.misses == 1);
  CHECK(stats.hits == 0);
  CHECK(stats.errors == 0);
  CHECK(cache->last_error().empty());
}

TEST_CASE("add stores once, set overwrites, remove deletes", "[memcached]") {
  MemcachedProcess server;
  auto cache = make_cache({server.address()});
  const std::string key = route_key("imap", "john@example.com");

  REQUIRE(cache->add(key, "10.0.0.1:7143", 3600s));
  CHECK(cache->get(key) == "10.0.0.1:7143");
  CHECK(raw_get(server.port(), key) == "10.0.0.1:7143");

  SECTION("add does not overwrite") {
    CHECK_FALSE(cache->add(key, "10.0.0.2:7143", 3600s));
    CHECK(cache->get(key) == "10.0.0.1:7143");
    CHECK(cache->stats().errors == 0);  // "exists" is not an error
  }
  SECTION("set overwrites") {
    CHECK(cache->set(key, "10.0.0.2:7143", 3600s));
    CHECK(cache->get(key) == "10.0.0.2:7143");
  }
  SECTION("remove deletes, and a second remove finds nothing") {
    CHECK(cache->remove(key));
    CHECK_FALSE(cache->get(key));
    CHECK_FALSE(raw_get(server.port(), key));
    CHECK_FALSE(cache->remove(key));
    CHECK(cache->stats().errors == 0);
  }
  SECTION("TTLs of 0 and over 30 days store a live entry") {
    // Over 30 days memcached reads the number as a Unix time; sent raw,
    // 31 days would be a moment in 1970 and the entry would be gone at once.
    const std::string forever = route_key("imap", "forever@example.com");
    const std::string long_lived = route_key("imap", "long@example.com");
    CHECK(cache->add(forever, "a", 0s));
    CHECK(cache->add(long_lived, "b", std::chrono::hours(24 * 31)));
    CHECK(cache->get(forever) == "a");
    CHECK(cache->get(long_lived) == "b");
    CHECK_FALSE(cache->add(route_key("imap", "neg@example.com"), "c", -1s));
  }
  SECTION("an empty value is a hit") {
    const std::string empty = route_key("imap", "empty@example.com");
    CHECK(cache->set(empty, "", 60s));
    CHECK(cache->get(empty) == "");
  }
  CHECK(cache->last_error().find('\n') == std::string::npos);
}

TEST_CASE("keys that are not wire-safe are refused before the wire", "[memcached]") {
  MemcachedProcess server;
  REQUIRE(raw_set(server.port(), "sentinel", "1"));
  auto cache = make_cache({server.address()});

  CHECK_FALSE(cache->get("a b"));
  CHECK_FALSE(cache->add("x\r\nflush_all\r\n", "1", 60s));
  CHECK_FALSE(cache->set(std::string(251, 'k'), "1", 60s));
  CHECK_FALSE(cache->remove(""));
  CHECK(cache->stats().errors == 4);
  CHECK(cache->stats().misses == 0);
  const std::string error = cache->last_error();
  CHECK(error.find("refused a key") != std::string::npos);
  CHECK(error.find_first_of("\r\n") == std::string::npos);
  // Nothing reached the server: the sentinel survived, nothing else was stored.
  CHECK(raw_get(server.port(), "sentinel") == "1");
  CHECK(items(server) == 1);
}

TEST_CASE("keys spread over two servers, and a dead one is skipped promptly", "[memcached]") {
  MemcachedProcess a;
  MemcachedProcess b;
  auto cache = make_cache({a.address(), b.address()});

  constexpr int k_keys = 200;
  for (int i = 0; i < k_keys; ++i) {
    REQUIRE(cache->set(user_key(i), "10.0.0." + std::to_string(i % 250) + ":7143", 3600s));
  }
  const std::uint64_t on_a = items(a);
  const std::uint64_t on_b = items(b);
  CHECK(on_a > 0);
  CHECK(on_b > 0);
  CHECK(on_a + on_b == k_keys);

  std::vector<bool> lives_on_a(k_keys);
  for (int i = 0; i < k_keys; ++i) {
    lives_on_a[i] = raw_get(a.port(), user_key(i)).has_value();
  }

  b.stop();

  int hits = 0;
  for (int i = 0; i < k_keys; ++i) {
    std::optional<std::string> value;
    const auto took = timed([&] { value = cache->get(user_key(i)); });
    REQUIRE(took < k_call_bound);
    if (value) {
      CHECK(*value == "10.0.0." + std::to_string(i % 250) + ":7143");
      ++hits;
    }
    if (lives_on_a[i]) {
      CHECK(value);  // keys on the live server are unaffected
    }
  }
  CHECK(hits == static_cast<int>(on_a));

  // New routes all land on the live server once the dead one is ejected;
  // each pooled handle learns it on its own, through a few failed calls.
  int stored = 0;
  for (int i = k_keys; i < 2 * k_keys; ++i) {
    bool ok = false;
    const auto took = timed([&] { ok = cache->add(user_key(i), "10.0.0.9:7143", 3600s); });
    REQUIRE(took < k_call_bound);
    stored += ok ? 1 : 0;
  }
  CHECK(stored >= k_keys - 8);
  CHECK(cache->stats().errors >= 1);
  CHECK(cache->stats().errors <= 8);
  const std::string error = cache->last_error();
  CHECK(error.find(std::to_string(b.port())) != std::string::npos);
  CHECK(error.find('\n') == std::string::npos);
}

TEST_CASE("a dead server is used again after retry_after", "[memcached]") {
  MemcachedProcess a;
  MemcachedProcess b;
  auto cache = make_cache({a.address(), b.address()}, 500ms, 1s);
  b.stop();
  for (int i = 0; i < 50; ++i) {
    cache->set(user_key(i), "x", 60s);  // ejects b
  }
  b.restart();
  REQUIRE(items(b) == 0);

  // libmemcached counts retry times in whole seconds, so allow a few.
  const auto deadline = std::chrono::steady_clock::now() + 6s;
  int batch = 0;
  while (items(b) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
    ++batch;
    for (int i = 0; i < 20; ++i) {
      cache->set(user_key(1000 * batch + i), "x", 60s);
    }
  }
  CHECK(items(b) > 0);
}

TEST_CASE("a hung server costs one timeout a call and its late replies are never read",
          "[memcached]") {
  MemcachedProcess server;
  auto cache = make_cache({server.address()}, 200ms, 1s);
  const std::string first = route_key("imap", "first@example.com");
  const std::string second = route_key("imap", "second@example.com");
  REQUIRE(cache->set(first, "10.0.0.1:7143", 60s));
  REQUIRE(cache->set(second, "10.0.0.2:7143", 60s));

  server.pause();
  for (int i = 0; i < 3; ++i) {
    std::optional<std::string> value;
    const auto took = timed([&] { value = cache->get(first); });
    REQUIRE(took < k_call_bound);
    CHECK_FALSE(value);
  }
  // The first call timed out; the next two were not sent (MemcachedHung).
  CHECK(cache->stats().errors == 3);
  server.resume();

  // The frozen server now answers the old `get first`; that reply must not
  // be taken for the answer to `get second`. The server is skipped until
  // its retry interval (1 s) has passed: poll until it is asked again.
  std::optional<std::string> value;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!(value = cache->get(second)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);  // a poll interval
  }
  CHECK(value == "10.0.0.2:7143");
  CHECK(cache->get(first) == "10.0.0.1:7143");
}

TEST_CASE("with one of two servers hung, every call still returns promptly", "[memcached]") {
  MemcachedProcess a;
  MemcachedProcess b;
  auto cache = make_cache({a.address(), b.address()}, 200ms);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(cache->set(user_key(i), "v", 60s));
  }
  b.pause();
  for (int i = 0; i < 10; ++i) {
    std::optional<std::string> value;
    const auto took = timed([&] { value = cache->get(user_key(i)); });
    REQUIRE(took < k_call_bound);
    CHECK((!value || *value == "v"));
    const auto add_took = timed([&] { cache->add(user_key(100 + i), "w", 60s); });
    REQUIRE(add_took < k_call_bound);
  }
  b.resume();
}

TEST_CASE("remove_everywhere deletes a key on every server", "[memcached]") {
  MemcachedProcess a;
  MemcachedProcess b;
  auto cache = make_cache({a.address(), b.address()});
  const std::string key = route_key("imap", "moved@example.com");
  REQUIRE(raw_set(a.port(), key, "10.0.0.1:7143"));
  REQUIRE(raw_set(b.port(), key, "10.0.0.2:7143"));

  CHECK(cache->remove_everywhere(key) == 2);
  CHECK_FALSE(raw_get(a.port(), key));
  CHECK_FALSE(raw_get(b.port(), key));

  SECTION("a key that is nowhere is confirmed too") {
    CHECK(cache->remove_everywhere(key) == 2);
    CHECK(cache->stats().errors == 0);
  }
  SECTION("a dead server is not counted, and does not stall the purge") {
    REQUIRE(raw_set(a.port(), key, "10.0.0.1:7143"));
    b.stop();
    std::size_t confirmed = 0;
    const auto took = timed([&] { confirmed = cache->remove_everywhere(key); });
    CHECK(took < k_call_bound);
    CHECK(confirmed == 1);
    CHECK_FALSE(raw_get(a.port(), key));
    CHECK(cache->stats().errors == 1);
  }
}

TEST_CASE("an empty server list makes a cache that always misses", "[memcached]") {
  auto cache = make_cache({});
  const std::string key = route_key("imap", "john@example.com");
  CHECK_FALSE(cache->get(key));
  CHECK_FALSE(cache->add(key, "v", 60s));
  CHECK_FALSE(cache->set(key, "v", 60s));
  CHECK_FALSE(cache->remove(key));
  CHECK(cache->remove_everywhere(key) == 0);
  CHECK(cache->servers().empty());
  CHECK(cache->stats().misses == 1);
  CHECK(cache->stats().errors == 0);
}

TEST_CASE("server entries parse, and a bad one gives a one-line error naming it", "[memcached]") {
  SECTION("good entries") {
    auto plain = parse_memcached_server("cache1.example.com");
    REQUIRE(plain);
    CHECK(plain->host == "cache1.example.com");
    CHECK(plain->port == 11211);
    auto with_port = parse_memcached_server("10.0.0.5:11311");
    REQUIRE(with_port);
    CHECK(with_port->host == "10.0.0.5");
    CHECK(with_port->port == 11311);
    auto v6 = parse_memcached_server("[2001:db8::1]:11212");
    REQUIRE(v6);
    CHECK(v6->host == "2001:db8::1");
    CHECK(v6->port == 11212);
    auto v6_default = parse_memcached_server("[::1]");
    REQUIRE(v6_default);
    CHECK(v6_default->host == "::1");
    CHECK(v6_default->port == 11211);
  }
  SECTION("bad entries") {
    const std::string entry =
        GENERATE(as<std::string>{}, "", "host:", "host:0", "host:65536", "host:12ab", "host:-1",
                 "::1", "2001:db8::1:11211", "[::1", "[::1]x", "[::1]:", "[cache1]:11211", ":11211",
                 "ho st:11211", "/run/memcached.sock", "a\r\nb:11211");
    auto cache = MemcachedCache::create(MemcachedSettings{{"127.0.0.1:11211", entry}});
    REQUIRE_FALSE(cache);
    CHECK(cache.error().code == Errc::invalid_argument);
    const std::string& message = cache.error().message;
    CHECK(message.find("invalid memcached server") != std::string::npos);
    CHECK(message.find_first_of("\r\n") == std::string::npos);
    if (entry.find_first_of("\r\n") == std::string::npos) {
      CHECK(message.find("\"" + entry + "\"") != std::string::npos);
    }
  }
  SECTION("a server listed twice") {
    auto cache = MemcachedCache::create(MemcachedSettings{{"10.0.0.1", "10.0.0.1:11211"}});
    REQUIRE_FALSE(cache);
    CHECK(cache.error().message.find("listed twice") != std::string::npos);
  }
  SECTION("bad settings") {
    CHECK_FALSE(MemcachedCache::create(MemcachedSettings{{}, 0ms}));
    CHECK_FALSE(MemcachedCache::create(MemcachedSettings{{}, 500ms, 0s}));
    CHECK_FALSE(MemcachedCache::create(MemcachedSettings{{}, 500ms, 60s, 0}));
  }
}

TEST_CASE("many threads share a small pool", "[memcached]") {
  MemcachedProcess server;
  auto cache = make_cache({server.address()}, 500ms, 60s, 2);
  std::atomic<int> wrong{0};
  constexpr int k_threads = 8;
  std::vector<std::thread> threads;
  threads.reserve(k_threads);
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const std::string key = user_key(t * 1000 + i);
        const std::string value = std::to_string(t) + ":" + std::to_string(i);
        if (!cache->add(key, value, 60s) || cache->get(key) != value) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  CHECK(wrong == 0);
  CHECK(cache->stats().hits == 800);
  CHECK(cache->stats().errors == 0);
  CHECK(items(server) == 800);
}
