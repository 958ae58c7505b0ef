#pragma once
// CounterStore: what login throttling needs from the shared counters, and
// nothing more. The fleet's memcached implements it (ASCII incr, and on
// NOT_FOUND add "1" with the window as TTL, as Zimbra does); the unit tests
// use a map. Every call answers nullopt/false when the store cannot be
// reached, and throttling then lets the login through (fail open, §2.5).
//
// Thread affinity: an implementation over memcached blocks (see
// route::MemcachedCache); call it from the offload pool, never an I/O thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace zmproxy::throttle {

class CounterStore {
 public:
  virtual ~CounterStore() = default;

  // Adds one to `key` and returns the new count. A key that does not exist
  // starts at 1 and expires `window` later: a fixed window from the first hit,
  // never extended by later hits. nullopt: the store is down.
  virtual std::optional<std::uint64_t> incr(std::string_view key, std::chrono::seconds window) = 0;

  // The count under `key`, 0 if there is none. nullopt: the store is down.
  virtual std::optional<std::uint64_t> get(std::string_view key) = 0;

  // Deletes `key` (lifts a block). False only when the store is down; a key
  // that was not there is removed already.
  virtual bool remove(std::string_view key) = 0;

 protected:
  CounterStore() = default;
  CounterStore(const CounterStore&) = default;
  CounterStore& operator=(const CounterStore&) = default;
};

}  // namespace zmproxy::throttle
