#include "lib/net/stream_io.hpp"

namespace zmproxy::net {

awaitable<std::optional<tcp::socket>> connect_upstream(std::string host, int port,
                                                       std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket socket(ex);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    // An address (the usual route): no resolver, which would run
    // getaddrinfo on a thread of its own.
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    const DeadlineScope deadline(ex, socket, timeout);
    auto [cec] = co_await socket.async_connect(endpoint, net::use_nothrow);
    if (cec) {
      co_return std::nullopt;
    }
  } else {
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), net::use_nothrow);
    if (rec || results.empty()) {
      co_return std::nullopt;
    }
    const DeadlineScope deadline(ex, socket, timeout);
    auto [cec, ep] = co_await asio::async_connect(socket, results, net::use_nothrow);
    if (cec) {
      co_return std::nullopt;
    }
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return std::optional<tcp::socket>(std::move(socket));
}

awaitable<bool> handshake(TlsStream& s, asio::ssl::stream_base::handshake_type type,
                          std::chrono::milliseconds timeout) {
  const DeadlineScope deadline(s.get_executor(), s.next_layer(), timeout);
  auto [ec] = co_await s.async_handshake(type, net::use_nothrow);
  co_return !ec;
}

awaitable<void> pause_for(std::chrono::milliseconds d) {
  if (d.count() <= 0) {
    co_return;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(net::use_nothrow);
}

}  // namespace zmproxy::net
