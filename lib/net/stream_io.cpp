#include "lib/net/stream_io.hpp"

#include <unistd.h>

#include "lib/net/socket_adopt.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>

namespace zmproxy::net {

namespace {

// A connection to `endpoint` on a socket of our own: made non-blocking and
// close-on-exec by socket(2) itself and TCP_NODELAY before the connect, then
// readiness for writing and SO_ERROR. Asio's async_connect made the same
// connection with an ioctl FIONBIO before it and a poll(2) after the wait
// (bench/RESULTS.md, issue 18).
awaitable<std::optional<tcp::socket>> connect_address(const asio::any_io_executor& ex,
                                                      const tcp::endpoint& endpoint,
                                                      std::chrono::milliseconds timeout,
                                                      std::string& why) {
  const int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    why = std::strerror(errno);
    co_return std::nullopt;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const bool connected = ::connect(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0;
  if (!connected && errno != EINPROGRESS && errno != EINTR) {
    why = std::strerror(errno);
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
        why = deadline.expired() ? "no connection within " + std::to_string(timeout.count()) + " ms"
                                 : wec.message();
        co_return std::nullopt;  // the deadline passed (cancelled), or the socket closed
      }
    }
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      why = std::strerror(error != 0 ? error : errno);
      co_return std::nullopt;
    }
  }
  co_return std::optional<tcp::socket>(std::move(socket));
}

}  // namespace

awaitable<std::optional<tcp::socket>> connect_upstream(std::string host,
                                                       int port,
                                                       std::chrono::milliseconds timeout,
                                                       std::string* why_out) {
  std::string ignored_why;
  std::string& why = why_out != nullptr ? *why_out : ignored_why;
  auto ex = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    // An address (the usual route): no resolver, which would run
    // getaddrinfo on a thread of its own.
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    co_return co_await connect_address(ex, endpoint, timeout, why);
  }
  // A name: Asio resolves it (getaddrinfo on a thread of its own, given up
  // at the timeout: a DNS server that does not answer holds no login
  // longer) and tries each address in turn.
  tcp::socket socket(ex);
  auto resolver = std::make_shared<tcp::resolver>(ex);
  asio::steady_timer resolve_deadline(ex);
  resolve_deadline.expires_after(timeout);
  resolve_deadline.async_wait([resolver](const boost::system::error_code& tec) {
    if (!tec) {
      resolver->cancel();
    }
  });
  auto [rec, results] =
      co_await resolver->async_resolve(host, std::to_string(port), net::use_nothrow);
  resolve_deadline.cancel();
  if (rec == asio::error::operation_aborted) {
    why = "the name did not resolve within " + std::to_string(timeout.count()) + " ms";
    co_return std::nullopt;
  }
  if (rec || results.empty()) {
    why = "the name does not resolve (" + (rec ? rec.message() : std::string("no address")) + ")";
    co_return std::nullopt;
  }
  {
    const DeadlineScope deadline(ex, socket, timeout);
    auto [cec, ep] = co_await asio::async_connect(socket, results, net::use_nothrow);
    if (cec) {
      why = deadline.expired() ? "no connection within " + std::to_string(timeout.count()) + " ms"
                               : cec.message();
      co_return std::nullopt;
    }
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return std::optional<tcp::socket>(std::move(socket));
}

awaitable<bool> handshake(TlsStream& s,
                          asio::ssl::stream_base::handshake_type type,
                          std::chrono::milliseconds timeout,
                          std::string* why) {
  const DeadlineScope deadline(s.get_executor(), s.next_layer(), timeout);
  auto [ec] = co_await s.async_handshake(type, net::use_nothrow);
  if (ec && why != nullptr) {
    *why = deadline.expired() ? "no TLS handshake within " + std::to_string(timeout.count()) + " ms"
                              : "the TLS handshake failed (" + ec.message() + ")";
  }
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
