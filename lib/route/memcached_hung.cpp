#include "lib/route/memcached_hung.hpp"

namespace zmproxy::route {

MemcachedHung::MemcachedHung(std::size_t servers, std::chrono::seconds retry_after)
    : m_servers(servers),
      m_retry_ms(std::chrono::duration_cast<std::chrono::milliseconds>(retry_after).count()),
      m_until(std::make_unique<std::atomic<std::int64_t>[]>(servers)) {}

bool MemcachedHung::skip(std::size_t server, std::int64_t now_ms) const noexcept {
  if (server >= m_servers) {
    return false;
  }
  const std::int64_t until = m_until[server].load(std::memory_order_relaxed);
  return until != 0 && now_ms < until;
}

void MemcachedHung::timed_out(std::size_t server, std::int64_t now_ms) noexcept {
  if (server < m_servers) {
    m_until[server].store(now_ms + m_retry_ms, std::memory_order_relaxed);
  }
}

}  // namespace zmproxy::route
