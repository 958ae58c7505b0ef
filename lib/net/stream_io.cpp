#include "lib/net/stream_io.hpp"

#include "lib/net/socket_adopt.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace zmproxy::net {

namespace {

// A connection to `endpoint` on a socket of our own: made non-blocking and
// close-on-exec by socket(2) itself and TCP_NODELAY before the connect, then
// readiness for writing and SO_ERROR. Asio's async_connect made the same
// connection with an ioctl FIONBIO before it and a poll(2) after the wait
// (bench/RESULTS.md, issue 18).
awaitable<std::optional<tcp::socket>> connect_address(const asio::any_io_executor& ex, const tcp::endpoint& endpoint,
                                                      std::chrono::milliseconds timeout) {
  const int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    co_return std::nullopt;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const bool connected = ::connect(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0;
  if (!connected && errno != EINPROGRESS && errno != EINTR) {
    ::close(fd);
    co_return std::nullopt;
  }
  boost::system::error_code ec;
  tcp::socket socket = adopt_socket(ex, fd, endpoint.protocol() == tcp::v6(), ec);
  if (ec) {
    co_return std::nullopt;
  }
  if (!connected) {
    {
      const DeadlineScope deadline(ex, socket, timeout);
      auto [wec] = co_await socket.async_wait(tcp::socket::wait_write, net::use_nothrow);
      if (wec) {
        co_return std::nullopt;  // the deadline passed (cancelled), or the socket closed
      }
    }
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      co_return std::nullopt;
    }
  }
  co_return std::optional<tcp::socket>(std::move(socket));
}

}  // namespace

awaitable<std::optional<tcp::socket>> connect_upstream(std::string host, int port,
                                                       std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    // An address (the usual route): no resolver, which would run
    // getaddrinfo on a thread of its own.
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    co_return co_await connect_address(ex, endpoint, timeout);
  }
  // A name: Asio resolves it and tries each address in turn.
  tcp::socket socket(ex);
  tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), net::use_nothrow);
  if (rec || results.empty()) {
    co_return std::nullopt;
  }
  {
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
