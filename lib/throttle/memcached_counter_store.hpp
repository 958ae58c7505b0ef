#pragma once
// MemcachedCounterStore: the fleet's memcached as login throttling's
// CounterStore, over route::MemcachedCache's counter calls (incr, counter,
// erase). The keys are throttle_keys.hpp's, sent as they are, so a Zimbra
// proxy sharing the memcached counts into the same counters.
//
// Fail open: when memcached cannot be asked, incr/get answer nullopt and
// remove false; the cause is in the cache's last_error() (this class logs
// nothing).
//
// Thread affinity: thread-safe and BLOCKING, as MemcachedCache: run it on the
// offload pool, never on an I/O thread.

#include "lib/throttle/counter_store.hpp"

#include "lib/route/memcached_cache.hpp"

namespace zmproxy::throttle {

class MemcachedCounterStore final : public CounterStore {
 public:
  // `cache` must outlive this object.
  explicit MemcachedCounterStore(route::MemcachedCache& cache) noexcept : m_cache(cache) {}

  std::optional<std::uint64_t> incr(std::string_view key, std::chrono::seconds window) override;
  std::optional<std::uint64_t> get(std::string_view key) override;
  bool remove(std::string_view key) override;

 private:
  route::MemcachedCache& m_cache;
};

}  // namespace zmproxy::throttle
