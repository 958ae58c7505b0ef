#pragma once
// MemcachedScan: one blocking text-protocol connection to ONE memcached
// server, for tools that must see every key a server holds rather than the
// key one hash picks (route::MemcachedCache): zmproxyctl throttle lists the
// throttle counters of every server and deletes a block on each server that
// holds it, so a block a Zimbra proxy wrote with its own hashing is found too.
//
// The server lists its keys with `lru_crawler metadump hash` (a walk of its
// hash table), or `lru_crawler metadump all` (a walk of its LRUs, which may
// miss a key moved meanwhile) where it does not know "hash"
// (memcached_metadump.hpp). A server may refuse: started with
// -X (--disable-dumping), or with its LRU crawler off (-o no_lru_crawler);
// the error then says which and how to allow it.
//
// Bounds: every send and receive waits at most `timeout`, every operation
// at most its deadline (ScanLimits), a reply line at most max_line_bytes, a
// dump at most max_dump_lines lines and max_kept kept keys, a value at most
// max_value_bytes; past any of them the operation fails with one line and
// the connection is closed.
//
// Thread affinity: one thread at a time; BLOCKING (tools only, never an I/O
// thread of a daemon).

#include "lib/core/result.hpp"
#include "lib/route/memcached_cache.hpp"
#include "lib/route/memcached_metadump.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::route {

struct ScanLimits {
  std::size_t max_line_bytes = 4096;          // one line of a reply
  std::uint64_t max_dump_lines = 10'000'000;  // keys a dump may list
  std::size_t max_kept = 100'000;             // keys a dump may keep
  std::size_t max_value_bytes = 1024;         // a value `get` answers
  std::chrono::seconds dump_deadline{120};    // the whole dump
  std::chrono::seconds command_deadline{10};  // any other command
};

class MemcachedScan {
 public:
  // Connects to `server` (a name is resolved here, blocking). Errors are
  // Errc::unavailable and name the server.
  static Result<MemcachedScan> open(const MemcachedServer& server,
                                    std::chrono::milliseconds timeout,
                                    ScanLimits limits = {});

  MemcachedScan(MemcachedScan&& other) noexcept;
  MemcachedScan& operator=(MemcachedScan&& other) noexcept;
  MemcachedScan(const MemcachedScan&) = delete;
  MemcachedScan& operator=(const MemcachedScan&) = delete;
  ~MemcachedScan();

  // "host:port" ("[v6]:port"), as errors name it.
  const std::string& name() const noexcept { return m_name; }

  // The server's keys that `keep` accepts, with their expiry. A dump line
  // that does not parse fails the dump (the server is not speaking the
  // protocol we know). Errc::permission_denied when the server does not
  // allow dumps, with the fix in the message.
  Result<std::vector<MetadumpEntry>> dump_keys(const std::function<bool(std::string_view)>& keep);

  // The server's clock, unix seconds (`stats`: STAT time); dump expiries
  // are on this clock.
  Result<std::int64_t> clock();

  // The values of those of `keys` (wire-safe) the server holds; a key it
  // does not hold is absent from the map.
  Result<std::map<std::string, std::string>> get(const std::vector<std::string>& keys);

  // Deletes `key` (wire-safe): true when it was there, false when not.
  Result<bool> remove(std::string_view key);

 private:
  MemcachedScan(int fd,
                MemcachedServer server,
                std::chrono::milliseconds timeout,
                ScanLimits limits);

  Result<void> send(std::string_view command, std::chrono::steady_clock::time_point deadline);
  // One reply line without its "\r\n" (or "\n").
  Result<std::string> read_line(std::chrono::steady_clock::time_point deadline);
  Result<std::string> read_bytes(std::size_t n, std::chrono::steady_clock::time_point deadline);
  Result<void> fill(std::chrono::steady_clock::time_point deadline);
  tl::unexpected<Error> broken(std::string why);
  std::chrono::steady_clock::time_point command_deadline() const;

  int m_fd = -1;
  MemcachedServer m_server;
  std::string m_name;
  std::chrono::milliseconds m_timeout;
  ScanLimits m_limits;
  std::string m_buffer;     // bytes received, not yet consumed
  std::size_t m_start = 0;  // where the unconsumed bytes begin
};

}  // namespace zmproxy::route
