#include "lib/throttle/memcached_counter_store.hpp"

namespace zmproxy::throttle {

std::optional<std::uint64_t> MemcachedCounterStore::incr(std::string_view key,
                                                         std::chrono::seconds window) {
  return m_cache.incr(key, window);
}

std::optional<std::uint64_t> MemcachedCounterStore::get(std::string_view key) {
  return m_cache.counter(key);
}

bool MemcachedCounterStore::remove(std::string_view key) {
  // Deleted or not there: either way the key is gone.
  return m_cache.erase(key).has_value();
}

}  // namespace zmproxy::throttle
