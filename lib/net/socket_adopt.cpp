#include "lib/net/socket_adopt.hpp"

#include "lib/net/asio_socket_impl.hpp"

#include <unistd.h>

namespace zmproxy::net {

#if ZMPROXY_ASIO_IMPL_KNOWN
namespace ops = boost::asio::detail::socket_ops;
#endif

tcp::socket adopt_socket(const asio::any_io_executor& ex, int fd, bool v6, boost::system::error_code& ec) {
  tcp::socket socket(ex);
  socket.assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);  // epoll_ctl ADD
  if (ec) {
    ::close(fd);
    return socket;
  }
#if ZMPROXY_ASIO_IMPL_KNOWN
  ops::state_type& state = detail::SocketImpl::of(socket).state_;
  state = static_cast<ops::state_type>((state | ops::internal_non_blocking) & ~ops::possible_dup);
#endif
  return socket;
}

void set_user_non_blocking(tcp::socket& socket, boost::system::error_code& ec) {
  ec = {};
#if ZMPROXY_ASIO_IMPL_KNOWN
  ops::state_type& state = detail::SocketImpl::of(socket).state_;
  if ((state & ops::internal_non_blocking) != 0) {
    state |= ops::user_set_non_blocking;
    return;
  }
#endif
  socket.non_blocking(true, ec);
}

}  // namespace zmproxy::net
