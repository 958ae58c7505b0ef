#include "lib/proxy/http/upstream_pool.hpp"

#include <cerrno>
#include <sys/socket.h>

namespace zmproxy::proxy::http {

namespace {

net::tcp::socket& lowest_of(UpstreamConn& c) {
  if (auto* p = std::get_if<std::unique_ptr<net::tcp::socket>>(&c.stream)) {
    return **p;
  }
  return std::get<std::unique_ptr<mail::TlsStream>>(c.stream)->next_layer();
}

}  // namespace

bool nothing_read_ahead(UpstreamConn& c) {
  if (c.buffer.size() != 0) {
    return false;
  }
  if (auto* t = std::get_if<std::unique_ptr<mail::TlsStream>>(&c.stream)) {
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

std::unique_ptr<UpstreamConn> UpstreamPool::take(const std::string& key) {
  const auto it = m_idle.find(key);
  if (it == m_idle.end()) {
    return nullptr;
  }
  auto& v = it->second;
  while (!v.empty()) {
    auto c = std::move(v.back());
    v.pop_back();
    if (idle_connection_usable(*c)) {
      return c;
    }
    // Dropped here: closing the socket is all a dead connection needs.
  }
  return nullptr;
}

void UpstreamPool::give(const std::string& key, std::unique_ptr<UpstreamConn> c) {
  // Bytes already read past the response are refused here; the socket
  // itself is looked at when the connection is taken (one system call a
  // request, not two).
  if (!nothing_read_ahead(*c)) {
    return;
  }
  auto& v = m_idle[key];
  if (v.size() < k_idle_per_upstream) {
    v.push_back(std::move(c));
  }
}

UpstreamPool& UpstreamPool::of_this_thread() {
  thread_local UpstreamPool pool;
  return pool;
}

}  // namespace zmproxy::proxy::http
