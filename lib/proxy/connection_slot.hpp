#pragma once
// ConnectionSlot: a live connection's place in the counters it was accepted
// under (the worker's connection count, the protocol's active count). The
// counters go down when the slot's last owner drops it — the session, or the
// relay the session hands its connections to after login. Move-only, no
// allocation. A slot may also hold its client address's place in the
// per-address count (PeerConnections), given back the same way.

#include <atomic>
#include <cstdint>
#include <utility>

#include "lib/proxy/peer_connections.hpp"

namespace zmproxy::proxy {

class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(std::atomic<std::int64_t>* worker, std::atomic<std::int64_t>* protocol) noexcept
      : m_worker(worker), m_protocol(protocol) {}
  ConnectionSlot(ConnectionSlot&& o) noexcept
      : m_worker(std::exchange(o.m_worker, nullptr)),
        m_protocol(std::exchange(o.m_protocol, nullptr)),
        m_peers(std::exchange(o.m_peers, nullptr)),
        m_peer(o.m_peer) {}
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      release();
      m_worker = std::exchange(o.m_worker, nullptr);
      m_protocol = std::exchange(o.m_protocol, nullptr);
      m_peers = std::exchange(o.m_peers, nullptr);
      m_peer = o.m_peer;
    }
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { release(); }

  // Also give `peer`'s place in `peers` back (counted already by try_add).
  void hold_peer(PeerConnections* peers, const PeerConnections::Key& peer) noexcept {
    m_peers = peers;
    m_peer = peer;
  }

 private:
  void release() noexcept {
    if (m_worker != nullptr) {
      m_worker->fetch_sub(1, std::memory_order_relaxed);
    }
    if (m_protocol != nullptr) {
      m_protocol->fetch_sub(1, std::memory_order_relaxed);
    }
    if (m_peers != nullptr) {
      m_peers->remove(m_peer);
    }
    m_worker = m_protocol = nullptr;
    m_peers = nullptr;
  }

  std::atomic<std::int64_t>* m_worker = nullptr;
  std::atomic<std::int64_t>* m_protocol = nullptr;
  PeerConnections* m_peers = nullptr;
  PeerConnections::Key m_peer{};
};

}  // namespace zmproxy::proxy
