#pragma once
// MemcachedCache: the route cache's memcached client, a thin wrapper over
// libmemcached 1.1 and its libmemcachedutil connection pool. It speaks the
// ASCII protocol (as Zimbra), spreads keys with ketama consistent hashing,
// skips a dead server (its keys re-hash to the others) and tries it again
// after `retry_after`.
//
// Failure policy (REFERENCE-zimbra §2.3): a cache error is a miss and never
// fails a login. get() returns nullopt for a miss, a timeout or a dead server
// alike; writes return false. The cause is counted (stats().errors) and kept
// in last_error() for the caller to log once; this class logs nothing.
//
// Thread affinity: thread-safe and BLOCKING. A call may block its thread for
// up to `timeout` waiting for a pooled connection, plus the connect/poll
// timeout of each server it talks to (DNS, if a server is named by host
// name, also runs synchronously inside connect). Run it on a blocking pool
// (the offload pool of net/), never on an I/O worker thread.
//
// Known limits: a server that accepts connections but never answers (hung,
// SIGSTOPped) is not ejected by libmemcached, since only connect failures
// count; every call that hashes to it costs `timeout`. Each pooled handle
// keeps its own view of dead servers, so each learns of a dead server on its
// own, through a few failed calls (typically three: the broken connection,
// the refused reconnect, the ejection).

#include "lib/core/result.hpp"
#include "lib/route/memcached_hung.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct memcached_st;
struct memcached_pool_st;

namespace zmproxy::route {

struct MemcachedSettings {
  std::vector<std::string> servers;        // "host:port", "[v6]:port"; the port defaults to 11211
  std::chrono::milliseconds timeout{500};  // connect, poll, send, receive; and the pool wait
  std::chrono::seconds retry_after{60};    // how long a dead server is skipped
  std::size_t pool_size = 4;               // connections (memcached_st handles) at most
};

struct MemcachedStats {
  std::uint64_t hits = 0;    // get() found the key
  std::uint64_t misses = 0;  // get() did not find it (no error)
  std::uint64_t errors = 0;  // any call that failed (timeout, dead server, bad key...)
};

struct MemcachedServer {
  std::string host;  // a name, an IPv4 address or an IPv6 address without brackets
  std::uint16_t port = 11211;
};

// Parses one "host", "host:port", "[v6]" or "[v6]:port" entry. Errors are
// Errc::invalid_argument with a one-line message naming the entry.
Result<MemcachedServer> parse_memcached_server(std::string_view entry);

class MemcachedCache {
 public:
  // Checks the settings and parses every server (no connection is made yet).
  // An empty server list is valid: every get is a miss, every write a no-op.
  static Result<std::unique_ptr<MemcachedCache>> create(MemcachedSettings settings);

  ~MemcachedCache();
  MemcachedCache(const MemcachedCache&) = delete;
  MemcachedCache& operator=(const MemcachedCache&) = delete;

  // Keys must be wire-safe (route::is_safe_key); build them with
  // lib/route/cache_key.hpp. Other keys are refused and count as errors.
  std::optional<std::string> get(std::string_view key);

  // memcached `add`: stores only if the key is absent (Zimbra never
  // overwrites a route). True if stored. A TTL of 0 never expires; TTLs over
  // 30 days are sent as absolute times, as memcached requires.
  bool add(std::string_view key, std::string_view value, std::chrono::seconds ttl);
  // memcached `set` (overwrites), for tests and tools. True if stored.
  bool set(std::string_view key, std::string_view value, std::chrono::seconds ttl);
  // Deletes the key on the server hashing puts it on. True if it was deleted.
  bool remove(std::string_view key);
  // Deletes the key on every configured server, each over its own
  // connection, whatever the hashing or the dead-server state says. Returns
  // how many servers confirmed (deleted, or did not have it). For purge tools.
  std::size_t remove_everywhere(std::string_view key);

  // Counters (login throttling, lib/throttle/memcached_counter_store.hpp).
  // Unlike the calls above these tell "absent" from "failed": nullopt means
  // the server could not be asked (or answered nonsense), and the cause is in
  // last_error(). With no servers configured every one answers nullopt.
  // They leave hits/misses alone; failures count in errors.
  //
  // memcached `incr` by one; the new count. A key that does not exist is
  // `add`ed as "1" with `window` as its TTL (1 s to 30 days), so the window
  // runs from the first hit and later hits never extend it, as Zimbra does.
  // If another client adds it first (NOT_STORED), incr once more.
  std::optional<std::uint64_t> incr(std::string_view key, std::chrono::seconds window);
  // The counter under `key`: 0 if absent. A value that is not a decimal
  // count is an error (nullopt).
  std::optional<std::uint64_t> counter(std::string_view key);
  // memcached `delete`: true deleted, false it was not there.
  std::optional<bool> erase(std::string_view key);

  const std::vector<MemcachedServer>& servers() const noexcept { return m_servers; }
  MemcachedStats stats() const noexcept;
  // The most recent error as one line ("" if none yet).
  std::string last_error() const;

 private:
  class Lease;
  enum class StoreMode { add, set };
  // One memcached get, for get() and counter(): the value, an absent key,
  // or a failure (already noted in last_error).
  struct Fetched {
    enum class Outcome { found, absent, failed } outcome = Outcome::failed;
    std::string value;
  };

  MemcachedCache(MemcachedSettings settings, std::vector<MemcachedServer> servers);
  bool store(StoreMode mode,
             std::string_view key,
             std::string_view value,
             std::chrono::seconds ttl);
  bool check_key(std::string_view op, std::string_view key);
  Fetched fetch(std::string_view key);
  void note_error(std::string message);
  void note_error(std::string_view op, std::string_view key, memcached_st* mc, int rc);
  bool acquire_slot();
  void release_slot();

  struct MemcachedFree {
    void operator()(memcached_st* mc) const noexcept;
  };
  struct PoolDestroy {
    void operator()(memcached_pool_st* pool) const noexcept;
  };

  const MemcachedSettings m_settings;
  const std::vector<MemcachedServer> m_servers;
  // Declared before m_pool: the pool must go first, it clones from the master.
  std::unique_ptr<memcached_st, MemcachedFree> m_master;
  std::unique_ptr<memcached_pool_st, PoolDestroy> m_pool;

  // Bounds the callers holding a pooled handle to pool_size, with a precise
  // steady-clock wait (the pool's own wait has whole-second granularity).
  std::mutex m_slots_mutex;
  std::condition_variable m_slots_cv;
  std::size_t m_free_slots;

  std::atomic<std::uint64_t> m_hits{0};
  std::atomic<std::uint64_t> m_misses{0};
  std::atomic<std::uint64_t> m_errors{0};

  mutable std::mutex m_error_mutex;
  std::string m_last_error;

  MemcachedHung m_hung;  // servers whose calls timed out, skipped for retry_after
};

}  // namespace zmproxy::route
