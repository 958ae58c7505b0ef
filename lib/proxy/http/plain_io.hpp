#pragma once
// The web session's reads and writes on a plain socket without Asio's
// composed operations: a recv or a sendmsg made at once, and a wait only
// when the kernel said EAGAIN. A read that found the socket empty marks it
// drained (lib/net/edge_flag.hpp) and waits on the reactor's edge
// (lib/net/edge_wait.hpp) without re-arming anything; a write that fitted
// goes on without a trip through the scheduler (Asio's async_write posts
// its completion). Other streams (TLS, an HTTP/2 stream) take Asio's calls.
// Templates; included by session.cpp only (see message_io.hpp).
//
// Thread affinity: the connection's worker.

#include "lib/net/asio.hpp"
#include "lib/net/edge_flag.hpp"
#include "lib/net/edge_wait.hpp"

#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <type_traits>

namespace zmproxy::proxy::http {

template <class Stream>
inline constexpr bool k_plain_socket = std::is_same_v<Stream, net::tcp::socket>;

// One recv into `buf`'s free room (at least `room` bytes of it).
struct RecvNow {
  std::size_t n = 0;
  boost::system::error_code ec;  // eof on the peer's FIN
  bool would_block = false;      // nothing there: wait, then try again
  bool drained = false;          // fewer bytes than the room: the socket was empty after it
};

inline RecvNow recv_now(net::tcp::socket& s, boost::beast::flat_buffer& buf, std::size_t room) {
  RecvNow r;
  const std::size_t free_room = buf.capacity() - buf.size();
  auto mb = buf.prepare(free_room > room ? free_room : room);
  while (true) {
    const ssize_t n = ::recv(s.native_handle(), mb.data(), mb.size(), MSG_DONTWAIT);
    if (n > 0) {
      buf.commit(static_cast<std::size_t>(n));
      r.n = static_cast<std::size_t>(n);
      r.drained = r.n < mb.size();
      return r;
    }
    if (n == 0) {
      r.ec = net::asio::error::eof;
      return r;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // Empty, not even a FIN pending: the next event is news.
      net::mark_read_drained(s);
      r.would_block = true;
      return r;
    }
    r.ec = boost::system::error_code(errno, boost::system::system_category());
    return r;
  }
}

// As much of `pieces` as the socket takes now (one sendmsg).
// would_block with n < total: the rest must wait.
template <class Buffers>
std::size_t send_now(net::tcp::socket& s, const Buffers& pieces, boost::system::error_code& ec) {
  std::array<iovec, 8> iov{};
  std::size_t count = 0;
  for (auto it = net::asio::buffer_sequence_begin(pieces); it != net::asio::buffer_sequence_end(pieces); ++it) {
    const net::asio::const_buffer b(*it);
    if (b.size() == 0) {
      continue;
    }
    if (count == iov.size()) {
      break;  // the rest goes with the next write
    }
    iov[count].iov_base = const_cast<void*>(b.data());  // NOLINT: sendmsg does not write
    iov[count].iov_len = b.size();
    ++count;
  }
  if (count == 0) {
    return 0;
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = count;
  while (true) {
    const ssize_t n = ::sendmsg(s.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = boost::system::error_code(errno, boost::system::system_category());
    }
    return 0;
  }
}

}  // namespace zmproxy::proxy::http
