#pragma once
// MemcachedReader: the route cache's reads on the session's own worker: a
// memcached text-protocol `get` over Asio, non-blocking, with no thread hop
// and no libmemcached call, for the one lookup every login makes when the
// in-process cache misses. Writes, deletes and everything else stay with
// libmemcached (MemcachedCache) on the resolver's blocking pool.
//
// It picks the server libmemcached would (KetamaContinuum, ketama.hpp), keeps
// up to k_max_idle connections per server per io_context (an Asio service, so
// they close with their context), sends one `get` with every key of a server
// at once, reads the reply into a bounded buffer within the memcached timeout
// (the worker's deadline sweeper, no timer of its own) and believes it only
// when memcached_reply.hpp does.
//
// On any doubt the answer is `fallback`, and the caller asks libmemcached
// instead, as before this reader: a server it cannot connect to (marked down
// for retry_after; libmemcached ejects it and re-hashes its keys, which this
// reader does not model), a reply it does not believe (the connection is
// closed), a context run by more than one thread. A timeout is `failed` (a
// miss, as libmemcached's would be; the server is marked down so that the
// next logins go to libmemcached, not to the same wait). A reused connection
// the server had closed is retried once on a fresh one.
//
// Thread affinity: get() runs on the caller's io_context, which must be run
// by one thread (zmproxyd's workers are); the shared state (servers marked
// down, counters) is atomic. Include only from .cpp files (Asio).

#include "lib/net/asio.hpp"
#include "lib/route/ketama.hpp"
#include "lib/route/memcached_cache.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace zmproxy::route {

struct ReaderStats {
  std::uint64_t gets = 0;       // requests answered by a reply believed
  std::uint64_t fallbacks = 0;  // get() calls handed back to libmemcached
  std::uint64_t errors = 0;     // timeouts, replies not believed, unusable keys
};

class MemcachedReader {
 public:
  static constexpr std::size_t k_max_idle = 4;       // idle connections per server per context
  static constexpr std::size_t k_max_value = 4096;   // bytes of one value believed
  static constexpr std::size_t k_max_keys = 4;       // keys of one get()

  struct Reply {
    enum class Outcome { ok, fallback, failed } outcome = Outcome::fallback;
    std::vector<std::optional<std::string>> values;  // per key when ok
  };

  // `servers` in the order MemcachedCache added them (its servers()).
  MemcachedReader(std::vector<MemcachedServer> servers,
                  std::chrono::milliseconds timeout,
                  std::chrono::seconds retry_after);
  ~MemcachedReader();
  MemcachedReader(const MemcachedReader&) = delete;
  MemcachedReader& operator=(const MemcachedReader&) = delete;

  net::asio::awaitable<Reply> get(std::vector<std::string> keys);

  ReaderStats stats() const noexcept;
  std::string last_error() const;
  // Where `key` is read from (an index into the servers), for tests.
  std::size_t server_for(std::string_view key) const noexcept { return m_continuum.server_for(key); }

 private:
  enum class Exchange { ok, stale, timed_out, bad };
  net::asio::awaitable<Reply::Outcome> ask_server(std::size_t server,
                                                  std::vector<std::string> keys,
                                                  std::vector<std::optional<std::string>>& values);
  net::asio::awaitable<Exchange> exchange(net::tcp::socket& socket,
                                          const std::string& request,
                                          const std::vector<std::string>& keys,
                                          std::vector<std::optional<std::string>>& values);
  bool down(std::size_t server) const noexcept;
  void mark_down(std::size_t server) noexcept;
  void note_error(std::string message);

  const std::vector<MemcachedServer> m_servers;
  const KetamaContinuum m_continuum;
  const std::chrono::milliseconds m_timeout;
  const std::chrono::seconds m_retry_after;
  const std::uint64_t m_id;                    // this reader's connections in the per-context pool
  const std::shared_ptr<const int> m_alive;    // expires with the reader: its idle connections go
  std::unique_ptr<std::atomic<std::int64_t>[]> m_down_until;  // steady ms, per server
  std::atomic<std::uint64_t> m_gets{0};
  std::atomic<std::uint64_t> m_fallbacks{0};
  std::atomic<std::uint64_t> m_errors{0};
  mutable std::mutex m_error_mutex;
  std::string m_last_error;
};

}  // namespace zmproxy::route
