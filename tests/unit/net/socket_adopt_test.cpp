#include "lib/net/socket_adopt.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

using namespace zmproxy;

namespace {

// A listening socket on 127.0.0.1 (an ephemeral port), with TCP_NODELAY or not.
struct Listener {
  int fd = -1;
  sockaddr_in address{};

  explicit Listener(bool nodelay) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    const int one = 1;
    if (nodelay) {
      REQUIRE(::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    }
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t len = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) == 0);
    REQUIRE(::listen(fd, 8) == 0);
  }
  ~Listener() { ::close(fd); }

  // A connected client descriptor (blocking).
  int connect_client() const {
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(c >= 0);
    REQUIRE(::connect(c, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    return c;
  }

  // The next connection, as the accept loop takes it.
  int accept_nonblocking() const {
    const int a = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    REQUIRE(a >= 0);
    return a;
  }
};

int nodelay_of(int fd) {
  int on = -1;
  socklen_t len = sizeof on;
  REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0);
  return on;
}

}  // namespace

// lib/server/listeners.cpp sets TCP_NODELAY on the listener only; the
// sessions rely on this.
TEST_CASE("an accepted socket has its listener's TCP_NODELAY", "[net][socket_adopt]") {
  for (const bool nodelay : {true, false}) {
    const Listener l(nodelay);
    const int client = l.connect_client();
    const int accepted = l.accept_nonblocking();
    CHECK((nodelay_of(accepted) != 0) == nodelay);
    ::close(accepted);
    ::close(client);
  }
}

TEST_CASE("an adopted socket is known non-blocking and works", "[net][socket_adopt]") {
  const Listener l(true);
  const int client = l.connect_client();
  const int fd = l.accept_nonblocking();
  net::asio::io_context io(1);
  boost::system::error_code ec;
  net::tcp::socket socket = net::adopt_socket(io.get_executor(), fd, false, ec);
  REQUIRE_FALSE(ec);
  CHECK(socket.is_open());
  CHECK(socket.native_handle() == fd);
  CHECK(socket.native_non_blocking());  // Asio will not set O_NONBLOCK again
  CHECK_FALSE(socket.non_blocking());   // synchronous calls still wait, as Asio's default

  // An asynchronous read and write through the reactor.
  REQUIRE(::send(client, "ping", 4, 0) == 4);
  char buf[8] = {};
  std::size_t got = 0;
  socket.async_read_some(net::asio::buffer(buf), [&](boost::system::error_code rec, std::size_t n) {
    CHECK_FALSE(rec);
    got = n;
  });
  io.run();
  CHECK(std::string(buf, got) == "ping");

  // As the relay uses it: a read with nothing there says so at once.
  net::set_user_non_blocking(socket, ec);
  REQUIRE_FALSE(ec);
  CHECK(socket.non_blocking());
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  socket.read_some(net::asio::buffer(buf), ec);
  CHECK(ec == net::asio::error::would_block);
  ::close(client);
}

TEST_CASE("set_user_non_blocking makes a blocking socket non-blocking", "[net][socket_adopt]") {
  const Listener l(false);
  net::asio::io_context io(1);
  net::tcp::socket socket(io);
  socket.open(net::tcp::v4());
  socket.connect(net::tcp::endpoint(net::asio::ip::address_v4::loopback(), ntohs(l.address.sin_port)));
  const int accepted = ::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(accepted >= 0);
  REQUIRE((::fcntl(socket.native_handle(), F_GETFL) & O_NONBLOCK) == 0);
  boost::system::error_code ec;
  net::set_user_non_blocking(socket, ec);
  REQUIRE_FALSE(ec);
  CHECK((::fcntl(socket.native_handle(), F_GETFL) & O_NONBLOCK) != 0);
  char buf[8];
  socket.read_some(net::asio::buffer(buf), ec);
  CHECK(ec == net::asio::error::would_block);
  ::close(accepted);
}
