#pragma once
// PeerConnections: how many connections each client address holds open, for
// the per-address cap (server.max_connections_per_ip). One table for the
// whole proxy, shared by every worker: sharded, each shard a mutex and a
// map holding only addresses with open connections (so it is bounded by the
// connections themselves). An accept costs one short lock.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace zmproxy::proxy {

class PeerConnections {
 public:
  // An address as 16 bytes (IPv4 as IPv4-mapped IPv6: one address, one key).
  using Key = std::array<std::uint8_t, 16>;

  // What a client is counted under: an IPv4 address (IPv4-mapped) as it is,
  // an IPv6 address by its /64, the block one subscriber is given (counting
  // each of its 2^64 addresses would bound nothing).
  static Key client_key(Key address) noexcept {
    static constexpr std::uint8_t k_v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(address.data(), k_v4_mapped, sizeof k_v4_mapped) != 0) {
      std::memset(address.data() + 8, 0, 8);
    }
    return address;
  }

  // Count one more connection from `peer` unless it holds `limit` already.
  bool try_add(const Key& peer, int limit) {
    Shard& s = shard(peer);
    std::lock_guard lock(s.mutex);
    int& n = s.counts[peer];
    if (n >= limit) {
      if (n == 0) {
        s.counts.erase(peer);
      }
      return false;
    }
    ++n;
    return true;
  }

  void remove(const Key& peer) noexcept {
    Shard& s = shard(peer);
    std::lock_guard lock(s.mutex);
    const auto it = s.counts.find(peer);
    if (it != s.counts.end() && --it->second <= 0) {
      s.counts.erase(it);
    }
  }

  int count(const Key& peer) {
    Shard& s = shard(peer);
    std::lock_guard lock(s.mutex);
    const auto it = s.counts.find(peer);
    return it == s.counts.end() ? 0 : it->second;
  }

 private:
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      std::uint64_t a = 0;
      std::uint64_t b = 0;
      std::memcpy(&a, k.data(), 8);
      std::memcpy(&b, k.data() + 8, 8);
      return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ull) ^ (b + (a >> 29)));
    }
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<Key, int, KeyHash> counts;
  };
  static constexpr std::size_t k_shards = 16;

  Shard& shard(const Key& k) noexcept { return m_shards[(k[15] ^ k[13]) % k_shards]; }

  std::array<Shard, k_shards> m_shards;
};

}  // namespace zmproxy::proxy
