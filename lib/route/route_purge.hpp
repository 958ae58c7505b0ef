#pragma once
// RoutePurger: what zmlookupd does after each rebuild of its index that
// follows the first. The accounts whose routes may differ from the previous
// index (route_diff.hpp: moved, renamed, deleted, aliases added or removed,
// their domain's or mail host's routing values changed) have every key
// zmproxypurge would delete for them (purge.hpp purge_keys, over the old
// index and the new) deleted from each memcached server the store lists
// (purge.hpp memcached_servers), so that the next login of each, through any
// proxy, asks a lookup handler instead of reading the old route for up to
// zimbraReverseProxyCacheEntryTTL.
//
// Bounds: at most max_accounts accounts a rebuild; past that nothing is
// deleted ("too many changes", the routes expire by TTL). Each memcached
// server is asked over one connection with a `timeout` per command; a server
// that fails is skipped for this purge (counted, logged once per purge).
// Idempotent: several zmlookupds following the same store delete the same
// keys. Deleting makes a key absent; a proxy that asked a handler before the
// rebuild may still write the old route back after it, which is why
// lookup_server.cpp calls again() a little later with the same keys.
//
// Thread affinity: one thread at a time (zmlookupd's builder thread);
// BLOCKING (memcached). The counters may be read from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/route/route_diff.hpp"
#include "lib/route/route_index.hpp"

namespace zmproxy::route {

struct PurgeCounters {
  std::atomic<std::uint64_t> accounts{0};  // accounts whose routes were purged
  std::atomic<std::uint64_t> deleted{0};   // cached entries found and deleted
  std::atomic<std::uint64_t> skipped{0};   // rebuilds with too many changes to purge
  std::atomic<std::uint64_t> failures{0};  // memcached servers that could not be purged
};

// One purge's keys and the servers they were deleted from (for again()).
struct PurgeBatch {
  std::vector<std::string> keys;
  std::vector<std::string> servers;  // host:port
  bool empty() const noexcept { return keys.empty() || servers.empty(); }
};

class RoutePurger {
 public:
  RoutePurger(std::string handler_server, std::size_t max_accounts, std::chrono::milliseconds timeout);

  // The index just published. The first call only records it; each later
  // one purges what changed since the previous call and logs one line.
  // Returns what was deleted (empty when nothing was).
  PurgeBatch after_rebuild(const std::shared_ptr<const RouteIndex>& index);
  // Delete `batch` once more (no log line unless a server fails).
  void again(const PurgeBatch& batch);

  const PurgeCounters& counters() const noexcept { return m_counters; }

 private:
  // Deletes every key on every server; the entries that were there.
  std::uint64_t remove(const PurgeBatch& batch);

  std::string m_handler_server;
  std::size_t m_max_accounts;
  std::chrono::milliseconds m_timeout;
  std::shared_ptr<const RouteIndex> m_index;  // the previous index
  std::vector<AccountPrint> m_prints;         // its accounts' prints
  PurgeCounters m_counters;
};

}  // namespace zmproxy::route
