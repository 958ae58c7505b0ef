#pragma once
// LocalRouteCache: the resolver's in-process route cache, in front of
// memcached. A bounded LRU with a TTL, keyed on normalised query values
// (local_route_key), with an index from user names to entries so that a
// failed login forgets a user's routes without scanning the cache.
//
// Why each part: the key is normalised so that a client cannot multiply one
// user's entries by varying the case of a name or adding a port to its Host
// header; the LRU bound (capacity) keeps memory fixed whatever the clients
// send, evicting the least recently used entry, never the whole cache; the
// name index makes invalidate() cost what the user has cached, not what
// everyone has.
//
// Thread affinity: thread-safe (one mutex; every operation is O(1) expected
// plus the user's own entries for invalidate()).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "lib/route/route_resolver.hpp"

namespace zmproxy::route {

// The cache key of a query: protocol, user and Host lower-cased, the Host
// without its port ("Mail.Example.com:443" -> "mail.example.com", "[::1]:80"
// -> "::1"), a trailing dot dropped.
std::string local_route_key(const RouteQuery& q);
// A Host header value without port, lower-cased (what local_route_key uses).
std::string normalise_host(std::string_view host);

class LocalRouteCache {
 public:
  using Clock = std::chrono::steady_clock;

  // capacity 0 or ttl 0: the cache is off (get misses, put does nothing).
  LocalRouteCache(std::size_t capacity, std::chrono::seconds ttl);

  std::optional<Route> get(const std::string& key, Clock::time_point now = Clock::now());
  // Store `route` under `key`, findable by invalidate(user) for `login` (the
  // name as typed, or the zimbraId) and for route.user (the account name).
  void put(const std::string& key, std::string_view login, const Route& route,
           Clock::time_point now = Clock::now());
  // Forget every entry stored for `user` (either name); returns how many.
  std::size_t invalidate(std::string_view user);

  // FORGET (RouteResolver::forget): as invalidate(), and until
  // `quiet_until` put() keeps nothing for `user`, so that a route read
  // meanwhile from a cache not yet purged is not held here for a whole TTL.
  // At most k_max_quiet names are kept quiet; past that, everyone is.
  std::size_t forget(std::string_view user, Clock::time_point quiet_until, Clock::time_point now = Clock::now());
  // Every entry, and everyone quiet until `quiet_until`.
  std::size_t forget_all(Clock::time_point quiet_until);
  static constexpr std::size_t k_max_quiet = 10000;

  std::size_t size() const;
  std::uint64_t evictions() const;

 private:
  struct Node {
    std::string key;
    Route route;
    Clock::time_point expires;
    std::string names[2];  // lower-cased; names[1] empty when the same as names[0]
  };
  using List = std::list<Node>;

  void erase(List::iterator it);  // with m_mutex held
  void unindex(const std::string& name, const Node* node);
  bool quiet(const std::string& name, Clock::time_point now) const;  // with m_mutex held

  const std::size_t m_capacity;
  const std::chrono::seconds m_ttl;
  mutable std::mutex m_mutex;
  List m_lru;  // front: most recently used
  std::unordered_map<std::string, List::iterator> m_by_key;
  std::unordered_map<std::string, std::unordered_set<const Node*>> m_by_name;
  std::uint64_t m_evictions = 0;
  // FORGET's quiet names (lower-cased) and the time each may be kept again.
  std::unordered_map<std::string, Clock::time_point> m_quiet;
  Clock::time_point m_all_quiet_until{};
};

}  // namespace zmproxy::route
