#pragma once
// MemcachedHung: the memcached servers that stopped answering, for
// MemcachedCache (libmemcached). A call that timed out marks its server for
// retry_after; calls for keys on it are not sent meanwhile (a miss, a write
// not made: the lookup handlers answer instead), then one goes through again
// and marks it anew if it still times out.
//
// Why: libmemcached ejects a server (SERVER_FAILURE_LIMIT,
// REMOVE_FAILED_SERVERS) only when connecting to it fails. A host that
// accepts connections and never answers (hung, stopped, a full accept
// queue) is never ejected: every call for its keys waits the whole timeout,
// several times a login (route get and add, throttle counters), for as long
// as it hangs (found by the fault drill, tests/drill, `--faults memcached-hung`).
//
// Pure and thread-safe: the caller passes the server's index and the time.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace zmproxy::route {

class MemcachedHung {
 public:
  MemcachedHung(std::size_t servers, std::chrono::seconds retry_after);

  // True while `server` (an index into the server list) is to be skipped.
  bool skip(std::size_t server, std::int64_t now_ms) const noexcept;
  // A call to `server` timed out at now_ms.
  void timed_out(std::size_t server, std::int64_t now_ms) noexcept;

 private:
  const std::size_t m_servers;
  const std::int64_t m_retry_ms;
  std::unique_ptr<std::atomic<std::int64_t>[]> m_until;  // steady ms; 0 = never marked
};

}  // namespace zmproxy::route
