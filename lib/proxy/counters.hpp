#pragma once
// Every counter zmproxyd keeps, declared once (Envoy's stats shape): a
// counter only grows, a gauge goes up and down. Kept per listener protocol,
// shared by every worker (relaxed atomics), carried from one configuration
// generation to the next. STATUS (zmproxyctl status) walks the list, so a
// counter added here is reported without another line anywhere.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "lib/core/assert.hpp"

namespace zmproxy::proxy {

enum class Protocol { imap, imaps, pop3, pop3s, http, https, admin, certauth };
inline constexpr std::size_t k_protocol_count = 8;
const char* protocol_name(Protocol p) noexcept;

// COUNTER(name, help) / GAUGE(name, help)
#define ZMPROXY_PROTOCOL_COUNTERS(COUNTER, GAUGE)                                   \
  COUNTER(accepted, "connections accepted")                                         \
  GAUGE(active, "connections open now (before and after login)")                    \
  COUNTER(logins, "logins the mailbox accepted (mail)")                             \
  COUNTER(login_failures, "logins refused (mail)")                                  \
  COUNTER(throttled, "connections and logins refused by login throttling")          \
  COUNTER(proxy_refused,                                                            \
          "connections a PROXY protocol listener closed: no header, a bad one, "    \
          "or a peer not in http.trusted_proxies")                                  \
  COUNTER(ktls_send,                                                                \
          "TLS connections, client or mailbox side, whose records the kernel "      \
          "sends (kTLS, tls.ktls)")                                                 \
  COUNTER(ktls_recv,                                                                \
          "TLS connections, client or mailbox side, whose records the kernel "      \
          "receives (kTLS, TLS 1.2 only with OpenSSL 3.0)")                         \
  COUNTER(worker_refused,                                                           \
          "connections refused because their worker held server.worker_connections" \
          " (zimbraReverseProxyWorkerConnections)")

struct ProtocolCounters {
#define ZMPROXY_DECLARE_COUNTER(name, help) std::atomic<std::uint64_t> name{0};
#define ZMPROXY_DECLARE_GAUGE(name, help) std::atomic<std::int64_t> name{0};
  ZMPROXY_PROTOCOL_COUNTERS(ZMPROXY_DECLARE_COUNTER, ZMPROXY_DECLARE_GAUGE)
#undef ZMPROXY_DECLARE_COUNTER
#undef ZMPROXY_DECLARE_GAUGE

  // f(name, help, value) for every counter and gauge, in declaration order.
  template <class F>
  void each(F&& f) const {
#define ZMPROXY_VISIT(name, help) f(#name, help, static_cast<std::int64_t>(name.load(std::memory_order_relaxed)));
    ZMPROXY_PROTOCOL_COUNTERS(ZMPROXY_VISIT, ZMPROXY_VISIT)
#undef ZMPROXY_VISIT
  }
};

class Counters {
 public:
  ProtocolCounters& of(Protocol p) noexcept {
    ZMPROXY_ASSERT(static_cast<std::size_t>(p) < k_protocol_count, "a protocol without counters");
    return m_by_protocol[static_cast<std::size_t>(p)];
  }
  const ProtocolCounters& of(Protocol p) const noexcept {
    ZMPROXY_ASSERT(static_cast<std::size_t>(p) < k_protocol_count, "a protocol without counters");
    return m_by_protocol[static_cast<std::size_t>(p)];
  }

  // Sums over every protocol (idle memory trimming, the drain at stop).
  std::uint64_t accepted() const noexcept;
  std::int64_t active() const noexcept;

 private:
  std::array<ProtocolCounters, k_protocol_count> m_by_protocol;
};

}  // namespace zmproxy::proxy
