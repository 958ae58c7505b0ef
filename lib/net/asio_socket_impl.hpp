#pragma once
// The inside of an Asio tcp::socket (its descriptor, Asio's flags about it,
// its reactor entry), for the few places that tell Asio what it would
// otherwise ask the kernel (socket_adopt.*) or wait on the reactor without
// re-arming it (edge_wait.hpp). Only for the Asio these were read against:
// Boost 1.81's Asio 1.26 with the epoll reactor; elsewhere
// ZMPROXY_ASIO_IMPL_KNOWN is 0 and the callers use Asio's public calls.
//
// Read in /usr/include/boost/asio/detail/: socket_ops.hpp (the state bits),
// reactive_socket_service_base.hpp (base_implementation_type: socket_,
// state_, reactor_data_), impl/reactive_socket_service_base.ipp (do_assign
// sets possible_dup; start_op issues FIONBIO unless the state has
// non_blocking; close passes "closing" to deregister_descriptor, which then
// skips EPOLL_CTL_DEL, only without possible_dup), impl/epoll_reactor.ipp
// (start_op, perform_io).

#include "lib/net/asio.hpp"

#include <boost/asio/version.hpp>

#if BOOST_ASIO_VERSION == 102600 && defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#define ZMPROXY_ASIO_IMPL_KNOWN 1
#else
#define ZMPROXY_ASIO_IMPL_KNOWN 0
#endif

#if ZMPROXY_ASIO_IMPL_KNOWN
namespace zmproxy::net::detail {

// The implementation is a protected member of basic_socket; a member
// pointer taken through a derived class reaches it on any socket
// (standard C++, no cast of the object).
struct SocketImpl : tcp::socket {
  using Impl = boost::asio::detail::reactive_socket_service_base::base_implementation_type;
  static Impl& of(tcp::socket& s) noexcept { return (s.*(&SocketImpl::impl_)).get_implementation(); }
};

}  // namespace zmproxy::net::detail
#endif
