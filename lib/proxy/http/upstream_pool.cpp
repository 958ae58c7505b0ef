#include "lib/proxy/http/upstream_pool.hpp"

#include "lib/net/edge_flag.hpp"

#include <cerrno>
#include <sys/socket.h>

namespace zmproxy::proxy::http {

namespace {

net::tcp::socket& lowest_of(UpstreamConn& c) {
  if (auto* p = std::get_if<std::unique_ptr<net::tcp::socket>>(&c.stream)) {
    return **p;
  }
  return std::get<std::unique_ptr<net::TlsStream>>(c.stream)->next_layer();
}

}  // namespace

bool nothing_read_ahead(UpstreamConn& c) {
  if (c.buffer.size() != 0) {
    return false;
  }
  if (auto* t = std::get_if<std::unique_ptr<net::TlsStream>>(&c.stream)) {
    if (SSL_pending((*t)->native_handle()) > 0) {
      return false;
    }
  }
  return lowest_of(c).is_open();
}

bool idle_connection_usable(UpstreamConn& c) {
  if (!nothing_read_ahead(c)) {
    return false;
  }
  net::tcp::socket& s = lowest_of(c);
  char byte = 0;
  const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // 0: the server closed; > 0: bytes nobody asked for (an error page, a TLS
  // alert or close_notify); < 0 other than "nothing yet": a reset.
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool idle_connection_quiet(UpstreamConn& c) {
  auto* p = std::get_if<std::unique_ptr<net::tcp::socket>>(&c.stream);
  return p != nullptr && nothing_read_ahead(c) && !net::read_ready_since_drained(**p);
}

namespace {

// The oldest idle connections are at the front: those past k_idle_max go.
void close_expired(std::vector<std::unique_ptr<UpstreamConn>>& v, std::chrono::steady_clock::time_point now) {
  std::size_t n = 0;
  while (n < v.size() && now - v[n]->idle_since > UpstreamPool::k_idle_max) {
    ++n;
  }
  if (n > 0) {
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
  }
}

}  // namespace

std::unique_ptr<UpstreamConn> UpstreamPool::take(const std::string& key, std::chrono::steady_clock::time_point now,
                                                 bool trust_quiet) {
  const auto it = m_idle.find(key);
  if (it == m_idle.end()) {
    return nullptr;
  }
  auto& v = it->second;
  close_expired(v, now);
  while (!v.empty()) {
    auto c = std::move(v.back());
    v.pop_back();
    if ((trust_quiet && idle_connection_quiet(*c)) || idle_connection_usable(*c)) {
      return c;
    }
    // Dropped here: closing the socket is all a dead connection needs.
  }
  return nullptr;
}

void UpstreamPool::give(const std::string& key, std::unique_ptr<UpstreamConn> c,
                        std::chrono::steady_clock::time_point now) {
  // Bytes already read past the response are refused here; the socket
  // itself is looked at when the connection is taken (one system call a
  // request, not two).
  if (!nothing_read_ahead(*c)) {
    return;
  }
  auto& v = m_idle[key];
  close_expired(v, now);
  if (v.size() < k_idle_per_upstream) {
    c->idle_since = now;
    v.push_back(std::move(c));
  }
}

std::size_t UpstreamPool::idle_count(const std::string& key) const {
  const auto it = m_idle.find(key);
  return it == m_idle.end() ? 0 : it->second.size();
}

UpstreamPool& UpstreamPool::of_this_thread() {
  thread_local UpstreamPool pool;
  return pool;
}

}  // namespace zmproxy::proxy::http
