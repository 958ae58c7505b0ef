#include "lib/route/route_purge.hpp"

#include "lib/log/logger.hpp"
#include "lib/route/memcached_scan.hpp"
#include "lib/route/purge.hpp"

#include <algorithm>
#include <utility>

namespace zmproxy::route {

RoutePurger::RoutePurger(std::string handler_server, std::size_t max_accounts,
                         std::chrono::milliseconds timeout)
    : m_handler_server(std::move(handler_server)), m_max_accounts(max_accounts), m_timeout(timeout) {}

PurgeBatch RoutePurger::after_rebuild(const std::shared_ptr<const RouteIndex>& index) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<AccountPrint> prints = account_prints(*index, m_handler_server);
  std::shared_ptr<const RouteIndex> previous = std::exchange(m_index, index);
  std::vector<AccountPrint> previous_prints = std::exchange(m_prints, std::move(prints));
  if (!previous) {
    return {};
  }
  const RouteChanges changes = diff_prints(previous_prints, m_prints);
  if (changes.accounts == 0) {
    ZMPROXY_LOG(info, "zmlookupd", "routes purged for 0 accounts: no account's route changed");
    return {};
  }
  if (changes.accounts > m_max_accounts) {
    ++m_counters.skipped;
    ZMPROXY_LOG(warn, "zmlookupd",
                "too many changes: {} accounts; routes expire by TTL (zimbraReverseProxyCacheEntryTTL), "
                "or run zmproxypurge for the accounts that moved",
                changes.accounts);
    return {};
  }
  PurgeBatch batch;
  for (const std::uint32_t at : changes.before) {
    auto keys = purge_keys(previous->accounts()[at], *previous, {});
    batch.keys.insert(batch.keys.end(), keys.begin(), keys.end());
  }
  for (const std::uint32_t at : changes.after) {
    auto keys = purge_keys(index->accounts()[at], *index, {});
    batch.keys.insert(batch.keys.end(), keys.begin(), keys.end());
  }
  std::sort(batch.keys.begin(), batch.keys.end());
  batch.keys.erase(std::unique(batch.keys.begin(), batch.keys.end()), batch.keys.end());
  batch.servers = memcached_servers(*index, m_handler_server);
  if (batch.servers.empty()) {
    ZMPROXY_LOG(info, "zmlookupd",
                "routes purged for 0 accounts: {} accounts changed but the store lists no memcached server",
                changes.accounts);
    return {};
  }
  const std::uint64_t deleted = remove(batch);
  m_counters.accounts += changes.accounts;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started).count();
  ZMPROXY_LOG(info, "zmlookupd",
              "routes purged for {} accounts: {} cached entries deleted ({} keys on {} memcached servers) in {} ms",
              changes.accounts, deleted, batch.keys.size(), batch.servers.size(), ms);
  return batch;
}

void RoutePurger::again(const PurgeBatch& batch) {
  remove(batch);
}

std::uint64_t RoutePurger::remove(const PurgeBatch& batch) {
  std::uint64_t deleted = 0;
  for (const std::string& entry : batch.servers) {
    auto server = parse_memcached_server(entry);
    if (!server) {
      ++m_counters.failures;
      ZMPROXY_LOG(warn, "zmlookupd", "cannot purge routes on memcached {}: {}", entry, server.error().message);
      continue;
    }
    auto scan = MemcachedScan::open(*server, m_timeout);
    if (!scan) {
      ++m_counters.failures;
      ZMPROXY_LOG(warn, "zmlookupd", "cannot purge routes on memcached {}: {}; its routes expire by TTL", entry,
                  scan.error().message);
      continue;
    }
    for (const std::string& key : batch.keys) {
      auto removed = scan->remove(key);
      if (!removed) {
        ++m_counters.failures;
        ZMPROXY_LOG(warn, "zmlookupd", "purging routes on memcached {} stopped: {}; its routes expire by TTL",
                    entry, removed.error().message);
        break;
      }
      deleted += *removed ? 1 : 0;
    }
  }
  m_counters.deleted += deleted;
  return deleted;
}

}  // namespace zmproxy::route
