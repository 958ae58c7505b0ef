#include "lib/net/proxy_header_read.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "lib/net/deadline.hpp"
#include "lib/net/proxy_header.hpp"

namespace zmproxy::net {

namespace {

tcp::endpoint endpoint_of(const ProxyEndpoint& e) {
  if (e.ipv6) {
    const asio::ip::address_v6 a6(e.address);
    return {unmapped(asio::ip::address(a6)), e.port};
  }
  const asio::ip::address_v4 a4({e.address[0], e.address[1], e.address[2], e.address[3]});
  return {a4, e.port};
}

ProxyEndpoint proxy_endpoint(const tcp::endpoint& e) {
  ProxyEndpoint out;
  const asio::ip::address a = unmapped(e.address());
  out.ipv6 = a.is_v6();
  if (out.ipv6) {
    out.address = a.to_v6().to_bytes();
  } else {
    const auto v4 = a.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), out.address.begin());
  }
  out.port = e.port();
  return out;
}

// recv() of what is already queued: peek, or take exactly what was peeked.
std::ptrdiff_t receive(tcp::socket& socket, char* into, std::size_t size, int flags) {
  while (true) {
    const auto n = ::recv(socket.native_handle(), into, size, flags | MSG_DONTWAIT);
    if (n >= 0 || errno != EINTR) {
      return n;
    }
  }
}

}  // namespace

asio::awaitable<ProxiedPeer> read_proxy_header(tcp::socket& socket,
                                               std::chrono::milliseconds timeout) {
  ProxiedPeer out;
  boost::system::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) {
    out.failure = "the connection is gone";
    co_return out;
  }
  // The whole header fits; only its bytes are ever taken from the kernel.
  std::array<char, k_proxy_header_max> buffer;
  std::size_t have = 0;
  DeadlineScope deadline(co_await asio::this_coro::executor, socket, timeout);
  while (true) {
    auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
    if (deadline.expired()) {
      out.failure = have == 0 ? "no PROXY protocol header in time" : "PROXY protocol header not complete in time";
      co_return out;
    }
    if (wait_ec) {
      out.failure = "the connection failed before its PROXY protocol header";
      co_return out;
    }
    const auto peeked = receive(socket, buffer.data() + have, buffer.size() - have, MSG_PEEK);
    if (peeked < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      out.failure = "the connection failed before its PROXY protocol header";
      co_return out;
    }
    if (peeked == 0) {
      out.failure = have == 0 ? "closed before a PROXY protocol header" : "closed within its PROXY protocol header";
      co_return out;
    }
    const auto seen = have + static_cast<std::size_t>(peeked);
    const ProxyHeader h = parse_proxy_header(std::string_view(buffer.data(), seen));
    out.version = h.version;
    if (h.status == ProxyParse::invalid) {
      out.failure = h.reason;
      co_return out;
    }
    // need_more: every byte seen is header, take them all; complete: take
    // the header's and leave the rest queued.
    const std::size_t take = h.status == ProxyParse::complete ? h.length - have : static_cast<std::size_t>(peeked);
    if (receive(socket, buffer.data() + have, take, 0) != static_cast<std::ptrdiff_t>(take)) {
      out.failure = "the connection failed within its PROXY protocol header";
      co_return out;
    }
    have += take;
    if (h.status == ProxyParse::complete) {
      out.ok = true;
      out.carried = h.source == ProxySource::proxied;
      out.client = out.carried ? endpoint_of(h.client) : tcp::endpoint(unmapped(peer.address()), peer.port());
      co_return out;
    }
    if (have >= buffer.size()) {
      out.failure = "PROXY protocol header too long";  // parse_proxy_header's bound makes this unreachable
      co_return out;
    }
  }
}

std::string proxy_v2_header(const tcp::endpoint& client, const tcp::endpoint& reached) {
  return proxy_v2_header(proxy_endpoint(client), proxy_endpoint(reached));
}

}  // namespace zmproxy::net
