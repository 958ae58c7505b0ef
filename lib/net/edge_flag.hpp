#pragma once
// What Asio's reactor knows about a socket's read side, read and set without
// a system call: its try_speculative_ flag for reads, which every readiness
// event sets (impl/epoll_reactor.ipp, perform_io, line 770) and which
// async_wait_readable (edge_wait.hpp) clears when it completes.
//
// - mark_read_drained: the caller has just seen the socket empty (a recv that
//   returned EAGAIN, or one shorter than its buffer), on the thread that runs
//   the socket's io_context, with no scheduler pass in between: no event
//   harvested after that read can be lost, and every byte, FIN or reset that
//   arrives later sets the flag again. After EAGAIN it is exact; after a
//   short read a FIN that came in the same edge as the last bytes is not
//   seen (nothing is pending otherwise), so only callers that read before
//   they wait (never a wait-first Asio read) may rely on it.
// - mark_read_unknown: undoes it (Asio's reads try first again).
// - read_ready_since_drained: whether any readiness event came since.
//
// Only for sockets on an io_context run by one thread (zmproxyd's workers).
// With another Asio (ZMPROXY_ASIO_IMPL_KNOWN 0) nothing is known: marking
// does nothing and readiness is always "may be". Asio heavy: session units
// only.

#include "lib/net/asio_socket_impl.hpp"

#if ZMPROXY_ASIO_IMPL_KNOWN
#include <boost/asio/detail/conditionally_enabled_mutex.hpp>
#include <boost/asio/detail/epoll_reactor.hpp>
#endif

namespace zmproxy::net {

#if ZMPROXY_ASIO_IMPL_KNOWN
namespace detail {

using DescriptorState = boost::asio::detail::epoll_reactor::descriptor_state;
using DescriptorMutex = boost::asio::detail::conditionally_enabled_mutex;

// The reactor's per-descriptor fields are private; an explicit
// instantiation may name them (access is not checked there, [temp.spec]),
// and the friend it defines hands out the member pointer.
template <class Tag, typename Tag::type Member>
struct ReactorMember {
  friend typename Tag::type member_of(Tag) { return Member; }
};
struct TrySpeculativeTag {
  using type = bool (DescriptorState::*)[boost::asio::detail::epoll_reactor::max_ops];
  friend type member_of(TrySpeculativeTag);
};
struct DescriptorMutexTag {
  using type = DescriptorMutex DescriptorState::*;
  friend type member_of(DescriptorMutexTag);
};
template struct ReactorMember<TrySpeculativeTag, &DescriptorState::try_speculative_>;
template struct ReactorMember<DescriptorMutexTag, &DescriptorState::mutex_>;

inline bool* read_flag(tcp::socket& s, DescriptorMutex*& mutex) noexcept {
  DescriptorState* d = SocketImpl::of(s).reactor_data_;
  if (d == nullptr) {
    return nullptr;
  }
  mutex = &(d->*member_of(DescriptorMutexTag{}));
  return &(d->*member_of(TrySpeculativeTag{}))[boost::asio::detail::epoll_reactor::read_op];
}

}  // namespace detail

inline void mark_read_drained(tcp::socket& s) noexcept {
  detail::DescriptorMutex* mutex = nullptr;
  if (bool* flag = detail::read_flag(s, mutex)) {
    detail::DescriptorMutex::scoped_lock lock(*mutex);
    *flag = false;
  }
}

// Back to "may have bytes" (Asio's own reads try before they wait): before
// handing a socket marked after a short read to a wait-first reader.
inline void mark_read_unknown(tcp::socket& s) noexcept {
  detail::DescriptorMutex* mutex = nullptr;
  if (bool* flag = detail::read_flag(s, mutex)) {
    detail::DescriptorMutex::scoped_lock lock(*mutex);
    *flag = true;
  }
}

inline bool read_ready_since_drained(tcp::socket& s) noexcept {
  detail::DescriptorMutex* mutex = nullptr;
  if (bool* flag = detail::read_flag(s, mutex)) {
    detail::DescriptorMutex::scoped_lock lock(*mutex);
    return *flag;
  }
  return true;
}
#else
inline void mark_read_drained(tcp::socket&) noexcept {}
inline void mark_read_unknown(tcp::socket&) noexcept {}
inline bool read_ready_since_drained(tcp::socket&) noexcept { return true; }
#endif

}  // namespace zmproxy::net
