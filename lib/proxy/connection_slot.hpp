#pragma once
// ConnectionSlot: a live connection's place in the counters it was accepted
// under (the worker's connection count, the protocol's active count). The
// counters go down when the slot's last owner drops it — the session, or the
// relay the session hands its connections to after login. Move-only, no
// allocation.

#include <atomic>
#include <cstdint>
#include <utility>

namespace zmproxy::proxy {

class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(std::atomic<std::int64_t>* worker, std::atomic<std::int64_t>* protocol) noexcept
      : m_worker(worker), m_protocol(protocol) {}
  ConnectionSlot(ConnectionSlot&& o) noexcept
      : m_worker(std::exchange(o.m_worker, nullptr)),
        m_protocol(std::exchange(o.m_protocol, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      release();
      m_worker = std::exchange(o.m_worker, nullptr);
      m_protocol = std::exchange(o.m_protocol, nullptr);
    }
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { release(); }

 private:
  void release() noexcept {
    if (m_worker != nullptr) {
      m_worker->fetch_sub(1, std::memory_order_relaxed);
    }
    if (m_protocol != nullptr) {
      m_protocol->fetch_sub(1, std::memory_order_relaxed);
    }
    m_worker = m_protocol = nullptr;
  }

  std::atomic<std::int64_t>* m_worker = nullptr;
  std::atomic<std::int64_t>* m_protocol = nullptr;
};

}  // namespace zmproxy::proxy
