#pragma once
// async_wait_readable: wait until a socket may have bytes to read, without
// the system call Asio's own waits make. Asio's reactor registers each
// socket once, edge-triggered, for EPOLLIN; but socket.async_wait re-arms it
// with EPOLL_CTL_MOD every time (impl/epoll_reactor.ipp, start_op, the
// branch for operations not allowed to try first: lines 299-316), and
// async_read_some tries a recv first, which finds nothing when the peer has
// not answered yet (lines 254-269). This wait is an operation that may "try
// first" but tries nothing: the reactor completes it at once when an edge
// may be unread (its try_speculative_ flag, set by every readiness event
// that found no operation waiting: perform_io, line 770) and otherwise queues
// it without any call (lines 271-298: only a write wait may add EPOLLOUT);
// completing it reports the edge consumed (done_and_exhausted, lines 262-264
// and 777-779), so after reading the socket dry the next wait costs nothing
// until the kernel reports new bytes.
//
// Only for sockets Asio knows non-blocking (adopt_socket, or after an Asio
// operation); otherwise, and with another Asio, socket.async_wait. The
// caller reads until would_block (or the EOF) before it waits again; a read
// shorter than its buffer is not enough: a FIN that arrived with the last
// bytes, in the same edge, is returned only by the next read and brings no
// edge of its own (nginx knows it from EPOLLRDHUP, which Asio does not ask
// for). A completion may be spurious (read, find nothing,
// wait again). Cancelled by socket.cancel() and close() (operation_aborted),
// not by per-operation cancellation slots. Asio heavy: session units only.

#include "lib/net/asio_socket_impl.hpp"

#include <type_traits>
#include <utility>

#if ZMPROXY_ASIO_IMPL_KNOWN
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/memory.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#endif

namespace zmproxy::net {

namespace detail {

#if ZMPROXY_ASIO_IMPL_KNOWN
// Asio's reactive_wait_op (detail/reactive_wait_op.hpp) but for what its
// perform reports.
template <class Handler, class IoExecutor>
class EdgeWaitOp : public boost::asio::detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(EdgeWaitOp);

  EdgeWaitOp(Handler& handler, const IoExecutor& io_ex)
      : reactor_op(boost::system::error_code(), &EdgeWaitOp::do_perform, &EdgeWaitOp::do_complete),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(reactor_op*) { return done_and_exhausted; }

  static void do_complete(void* owner, boost::asio::detail::operation* base, const boost::system::error_code&,
                          std::size_t) {
    namespace ad = boost::asio::detail;
    EdgeWaitOp* o = static_cast<EdgeWaitOp*>(base);
    ptr p = {ad::addressof(o->handler_), o, o};
    ad::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    ad::binder1<Handler, boost::system::error_code> handler(o->handler_, o->ec_);
    p.h = ad::addressof(handler.handler_);
    p.reset();
    if (owner != nullptr) {
      ad::fenced_block b(ad::fenced_block::half);
      w.complete(handler, handler.handler_);
    }
  }

 private:
  Handler handler_;
  boost::asio::detail::handler_work<Handler, IoExecutor> work_;
};
#endif

struct InitiateWaitReadable {
  template <class Handler>
  void operator()(Handler&& handler, tcp::socket* socket) const {
    using H = std::decay_t<Handler>;
#if ZMPROXY_ASIO_IMPL_KNOWN
    namespace ad = boost::asio::detail;
    SocketImpl::Impl& impl = SocketImpl::of(*socket);
    if (impl.socket_ != ad::invalid_socket && impl.reactor_data_ != nullptr &&
        (impl.state_ & ad::socket_ops::internal_non_blocking) != 0) {
      H h(std::forward<Handler>(handler));
      auto& reactor = boost::asio::use_service<ad::reactor>(
          boost::asio::query(socket->get_executor(), boost::asio::execution::context));
      using Op = EdgeWaitOp<H, tcp::socket::executor_type>;
      typename Op::ptr p = {ad::addressof(h), Op::ptr::allocate(h), nullptr};
      p.p = new (p.v) Op(h, socket->get_executor());
      reactor.start_op(ad::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, false, true);
      p.v = p.p = nullptr;
      return;
    }
#endif
    socket->async_wait(tcp::socket::wait_read, std::forward<Handler>(handler));
  }
};

}  // namespace detail

template <class Token>
auto async_wait_readable(tcp::socket& socket, Token&& token) {
  return asio::async_initiate<Token, void(boost::system::error_code)>(detail::InitiateWaitReadable{}, token,
                                                                       &socket);
}

}  // namespace zmproxy::net
