#pragma once
// A TLS connection whose handshake is done counts in its listener's
// ktls_send / ktls_recv when the kernel took its records over (kTLS,
// lib/tls/ktls.hpp), so STATUS shows whether tls.ktls takes effect.

#include "lib/net/tls_stream.hpp"
#include "lib/proxy/counters.hpp"

namespace zmproxy::proxy {

inline void count_ktls(const net::TlsStream& s, ProtocolCounters& c) {
  if (s.ktls_send()) {
    c.ktls_send.fetch_add(1, std::memory_order_relaxed);
  }
  if (s.ktls_recv()) {
    c.ktls_recv.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace zmproxy::proxy
