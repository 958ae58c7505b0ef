// KetamaContinuum against libmemcached itself: a handle configured as
// MemcachedCache configures its own (consistent ketama, unweighted, default
// key hash) must pick the same server for every key. No server is contacted:
// memcached_generate_hash only hashes.

#include "lib/route/ketama.hpp"

#include "lib/route/cache_key.hpp"

#include <libmemcached-1.0/memcached.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace zmproxy::route;

namespace {

// libmemcached's choice for `key` over `servers`, configured as in memcached_cache.cpp.
struct Libmemcached {
  std::unique_ptr<memcached_st, void (*)(memcached_st*)> mc{memcached_create(nullptr), &memcached_free};

  explicit Libmemcached(const std::vector<MemcachedServer>& servers) {
    REQUIRE(mc);
    REQUIRE(memcached_behavior_set(mc.get(), MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                   MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA) == MEMCACHED_SUCCESS);
    REQUIRE(memcached_behavior_set(mc.get(), MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 0) == MEMCACHED_SUCCESS);
    REQUIRE(memcached_behavior_set(mc.get(), MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1) ==
            MEMCACHED_SUCCESS);
    for (const MemcachedServer& s : servers) {
      REQUIRE(memcached_server_add(mc.get(), s.host.c_str(), s.port) == MEMCACHED_SUCCESS);
    }
  }
  std::size_t server_for(const std::string& key) {
    return memcached_generate_hash(mc.get(), key.data(), key.size());
  }
};

std::vector<std::string> sample_keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) {
    const std::string user = "user" + std::to_string(i) + "@example.com";
    keys.push_back(route_key(i % 2 ? "imap" : "pop3", user));
    keys.push_back(alias_key(user, "10.0.0." + std::to_string(i % 7)));
  }
  keys.push_back(std::string("k\x80\xff\x01", 4));  // bytes >= 0x80: signed in libhashkit
  return keys;
}

}  // namespace

TEST_CASE("one-at-a-time hash of known inputs", "[route][ketama]") {
  CHECK(one_at_a_time_hash("") == 0u);
  // Jenkins' one-at-a-time, as published (e.g. "a" -> 0xca2e9442).
  CHECK(one_at_a_time_hash("a") == 0xca2e9442u);
  CHECK(one_at_a_time_hash("The quick brown fox jumps over the lazy dog") == 0x519e91f5u);
}

TEST_CASE("every key goes where libmemcached sends it", "[route][ketama]") {
  const std::vector<std::vector<MemcachedServer>> layouts = {
      {{"127.0.0.1", 11211}},
      {{"127.0.0.1", 11211}, {"127.0.0.2", 11211}},
      {{"10.0.0.1", 11211}, {"10.0.0.2", 11212}, {"10.0.0.3", 11211}},
      {{"memcached1.example.com", 11211}, {"memcached2.example.com", 11211},
       {"memcached3.example.com", 22122}, {"127.0.0.1", 40001}, {"::1", 11211}, {"fe80::1", 11300}},
  };
  const std::vector<std::string> keys = sample_keys();
  for (const auto& servers : layouts) {
    KetamaContinuum ours(servers);
    Libmemcached theirs(servers);
    std::vector<std::size_t> used(servers.size(), 0);
    std::size_t differ = 0;
    for (const std::string& key : keys) {
      const std::size_t pick = ours.server_for(key);
      differ += pick != theirs.server_for(key) ? 1 : 0;
      ++used[pick];
    }
    INFO(servers.size() << " servers, first " << servers.front().host);
    CHECK(differ == 0);
    for (std::size_t n : used) {
      CHECK(n > 0);  // the keys spread: a continuum that sent all to one would pass the rest
    }
  }
}

TEST_CASE("no servers and one server need no hashing", "[route][ketama]") {
  CHECK(KetamaContinuum({}).server_for("anything") == 0);
  CHECK(KetamaContinuum({{"127.0.0.1", 11211}}).server_for("anything") == 0);
}
