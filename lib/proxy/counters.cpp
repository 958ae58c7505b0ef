#include "lib/proxy/counters.hpp"

namespace zmproxy::proxy {

const char* protocol_name(Protocol p) noexcept {
  static constexpr const char* k_names[k_protocol_count] = {"imap",  "imaps", "pop3", "pop3s",
                                                            "http",  "https", "admin", "certauth"};
  return k_names[static_cast<std::size_t>(p)];
}

std::uint64_t Counters::accepted() const noexcept {
  std::uint64_t n = 0;
  for (const ProtocolCounters& c : m_by_protocol) {
    n += c.accepted.load(std::memory_order_relaxed);
  }
  return n;
}

std::int64_t Counters::active() const noexcept {
  std::int64_t n = 0;
  for (const ProtocolCounters& c : m_by_protocol) {
    n += c.active.load(std::memory_order_relaxed);
  }
  return n;
}

}  // namespace zmproxy::proxy
