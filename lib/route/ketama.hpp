#pragma once
// KetamaContinuum: which memcached server holds a key, chosen exactly as
// libmemcached 1.1 chooses it for MemcachedCache (memcached_cache.cpp:
// MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA, KETAMA_WEIGHTED off, the default
// key hash), so that a reader of our own finds what libmemcached wrote:
//  - 100 points per server, each the hash of "host-i" (port 11211) or
//    "host:port-i", i from 0 to 99, host as given to memcached_server_add;
//  - the key and point hash is Jenkins' one-at-a-time over the bytes read as
//    signed char (libhashkit's hashkit_one_at_a_time);
//  - a key goes to the first point whose value is >= its hash, wrapping to
//    the first point; with one server, always to it (no hashing).
// The points are sorted by value; ties (two equal 32-bit hashes) keep the
// order libmemcached's qsort would not guarantee either, so a test compares
// with libmemcached itself (tests/unit/route/ketama_test.cpp).
//
// What it does not model: libmemcached's auto-eject (a server it found dead
// is left out of its continuum for retry_after). The caller hands keys of a
// server it cannot reach back to libmemcached (memcached_reader.hpp).
//
// Thread affinity: immutable after construction; any thread.

#include "lib/route/memcached_cache.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace zmproxy::route {

std::uint32_t one_at_a_time_hash(std::string_view bytes) noexcept;

class KetamaContinuum {
 public:
  static constexpr std::size_t k_points_per_server = 100;

  explicit KetamaContinuum(const std::vector<MemcachedServer>& servers);

  // The index in `servers` of the server holding `key`; 0 with no servers.
  std::size_t server_for(std::string_view key) const noexcept;
  std::size_t servers() const noexcept { return m_servers; }

 private:
  struct Point {
    std::uint32_t value;
    std::uint32_t server;
  };
  std::vector<Point> m_points;
  std::size_t m_servers = 0;
};

}  // namespace zmproxy::route
